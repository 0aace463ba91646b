//! The engine's runtime state for one configured app: its credential, quota
//! counts, rate-limit buckets and queue, IP block and tickets. The resolved
//! configuration it belongs to is the [`Account`] it derefs to.

use crate::engine::credential::Cred;
use crate::engine::push::PushSlot;
use crate::engine::queue::RateQueue;
use crate::engine::ticket::TicketSlot;
use crate::error::Code;
use crate::platform::account::Account;
use crate::policy::quota::QuotaState;
use crate::policy::ratelimit::Bucket;
use std::collections::HashMap;
use std::ops::Deref;

/// One app: what the config fixed, and what the engine learned since.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) account: Account,
    pub(crate) cred: Cred,
    pub(crate) quota: QuotaState,
    pub(crate) buckets: HashMap<String, Bucket>,
    pub(crate) inflight: u32,
    pub(crate) queue: RateQueue,
    pub(crate) queue_wake: Option<u64>,
    pub(crate) blocked: Option<(u64, Option<Code>)>,
    /// JS-SDK tickets by kind (created on first use).
    pub(crate) tickets: HashMap<String, TicketSlot>,
    /// The pushed ticket its token needs (component, suite), if any.
    pub(crate) pushed: PushSlot,
    /// A component: what its authorizers are made from.
    pub(crate) template: Option<Box<Account>>,
    /// An authorizer: its component and standing.
    pub(crate) authorizer: Option<Authorizer>,
}

impl App {
    pub(crate) fn new(account: Account) -> App {
        App {
            account,
            cred: Cred::default(),
            quota: QuotaState::default(),
            buckets: HashMap::new(),
            inflight: 0,
            queue: RateQueue::default(),
            queue_wake: None,
            blocked: None,
            tickets: HashMap::new(),
            pushed: PushSlot::default(),
            template: None,
            authorizer: None,
        }
    }
}

// The engine reads an app's configuration far more often than its state;
// deref keeps `app.hosts` and `app.cred` side by side without a hop.
impl Deref for App {
    type Target = Account;
    fn deref(&self) -> &Account {
        &self.account
    }
}

/// Whether an authorizer can be called for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Standing {
    Active,
    Revoked,
    NeedsReauthorization,
}

impl Standing {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Standing::Active => "active",
            Standing::Revoked => "revoked",
            Standing::NeedsReauthorization => "needs_reauthorization",
        }
    }

    pub(crate) fn from_name(s: &str) -> Option<Standing> {
        [
            Standing::Active,
            Standing::Revoked,
            Standing::NeedsReauthorization,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// An authorizer app's link to its component.
#[derive(Debug)]
pub(crate) struct Authorizer {
    pub(crate) component: usize,
    pub(crate) appid: String,
    pub(crate) standing: Standing,
    /// The refresh token in use came from the authorizer list during this
    /// fetch: refused again, nothing is left to try.
    pub(crate) recovered: bool,
    /// A 代开发 app: its permanent code is the corp secret, its token comes
    /// from the corp's own `gettoken`.
    pub(crate) direct: bool,
}

impl Authorizer {
    pub(crate) fn new(component: usize, appid: &str) -> Authorizer {
        Authorizer {
            component,
            appid: appid.to_string(),
            standing: Standing::Active,
            recovered: false,
            direct: false,
        }
    }

    /// Its refresh phase: the first 8 bytes of SHA-256 of its appid,
    /// big-endian (uniform over appids, the same in every process).
    pub(crate) fn phase(&self) -> u64 {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(self.appid.as_bytes());
        u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
    }
}
