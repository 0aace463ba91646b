//! The engine: inputs (`submit`, `handle_*`) change state and queue outputs;
//! `poll_output` hands them out and fires due timers. Calls move through
//! phases: waiting for a credential, queued behind a rate limit, in flight,
//! waiting out a backoff, and end in exactly one `Done`.

mod app;
pub(crate) mod authorizer;
pub(crate) mod credential;
mod fleet;
pub(crate) mod push;
mod queue;
mod report;
pub(crate) mod source;
pub(crate) mod state;
pub(crate) mod ticket;

use crate::call::{Call, CallId, IdMap, Reply};
use crate::config::{Config, QuotaMode, StoreMode};
use crate::engine::ticket::TicketFetch;
use crate::error::{ApiError, Code, ConfigError, ErrorKind, TransportErrorKind};
use crate::http::{HttpRequest, HttpResponse};
use crate::monitor::category::Category;
use crate::monitor::{Exchange, Monitor};
use crate::output::{Completion, Event, Output, StoreCommand, StoreOp, StoreResult};
use crate::platform::account;
use crate::platform::envelope::{self, Verdict};
use crate::platform::profile::{ErrorRule, Method, Profile, RetryAfter};
use crate::platform::request;
use crate::policy::circuit::Circuits;
use crate::policy::quota::{self, Crossing};
use crate::policy::ratelimit::Bucket;
use crate::policy::retry;
use crate::policy::rng::Rng;
use app::App;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    New,
    NeedToken,
    Queued,
    Waiting {
        until: u64,
    },
    /// Fleet mode: waiting for the shared quota counter before sending.
    Reserving,
    InFlight {
        req: u64,
    },
}

#[derive(Debug)]
pub(crate) struct CallState {
    pub(crate) app: usize,
    pub(crate) method: Method,
    pub(crate) call: Call,
    pub(crate) attempts: u32,
    pub(crate) token_resent: bool,
    pub(crate) rate_retries: u32,
    pub(crate) last_host: Option<usize>,
    /// A bit per host index that failed this call at the transport level.
    pub(crate) failed_hosts: u64,
    pub(crate) phase: Phase,
    /// The next send is already counted against the shared daily quota.
    pub(crate) reserved: bool,
    /// When the call completes with `timeout` if it has not completed before.
    pub(crate) deadline: Option<u64>,
    /// The shared quota count out for this call was taken before a
    /// `clear_quota`: whatever it says, the call counts again.
    pub(crate) recount: bool,
}

#[derive(Debug)]
pub(crate) enum Purpose {
    Call {
        call: CallId,
        /// The call's app: its answer still counts after the call itself
        /// has completed (cancelled, timed out).
        app: usize,
        host: usize,
        gen: u64,
    },
    Token {
        app: usize,
        host: usize,
        sent_at: u64,
        forced: bool,
        via_refresh: bool,
    },
    /// A token server asked for an app's token (credential source `server`).
    ServerToken {
        app: usize,
        host: usize,
        sent_at: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    Refresh(usize),
    /// `prefetch_tokens`: the first fetch, before any call asks.
    Prefetch(usize),
    Call(CallId),
    Queue(usize),
    Fetch(usize),
    /// A call's deadline.
    Deadline(CallId),
    /// A request the host has not answered within its timeout and a grace:
    /// taken as a transport timeout, so a host that loses a request cannot
    /// hold a token fetch (and every call waiting on it) forever.
    Request(u64),
    /// A store operation not answered within `store_timeout_ms`.
    StoreOp(u64),
}

#[derive(Debug)]
pub(crate) enum StorePurpose {
    Read(usize),
    Lock(usize),
    Recheck(usize),
    Write(usize, &'static str),
    QuotaIncr(usize, String),
    /// A call's count before sending: the call, its app, the counter's key.
    /// The delta also carries counts owed from earlier failed counts.
    /// Call, app, counter key, API path, delta.
    QuotaReserve(CallId, usize, String, String, i64),
    TicketRead(usize, String),
    /// A pushed ticket looked up before a token fetch (forced or not).
    PushedRead(usize, bool),
    /// An authorizer's refresh token and standing, read before a fetch.
    AuthorizerRead(usize),
}

/// What one of the engine's own calls is for.
#[derive(Debug, Clone)]
pub(crate) enum Internal {
    Ticket(TicketFetch),
    Authorizer(authorizer::Step),
}

/// Times beyond this (about the year 287,000) are taken as this, so that no
/// sum of a time and a (bounded) duration can overflow.
pub(crate) const MAX_TIME_MS: u64 = 1 << 53;
/// The longest duration a configuration or profile may set (about 35 years).
pub(crate) const MAX_DURATION_MS: u64 = 1 << 40;
/// The longest wait a platform's `Retry-After` may impose.
const MAX_RETRY_AFTER_MS: u64 = 86_400_000;
/// The longest deadline a call may ask for (a day).
const MAX_CALL_TIMEOUT_MS: u64 = 86_400_000;
/// How long past its `timeout_ms` a request may stay unanswered before the
/// engine takes it as timed out (the host's own timeout should come first).
const REQUEST_GRACE_MS: u64 = 5_000;

/// A local refusal: the daily quota of `path` is used up.
fn quota_error(path: &str, now: u64) -> ApiError {
    let mut e = ApiError::new(
        ErrorKind::QuotaExhausted,
        format!("daily quota of `{path}` is used up; refused locally until 00:00 Asia/Shanghai"),
    );
    e.retry_after_ms = Some(quota::next_reset(now) - now);
    e
}

/// The lease owner's unique part: a one-way digest of the host's entropy
/// (the entropy itself also seeds API security's CSPRNG and must stay
/// unseen), 16 hex digits.
fn owner_suffix(entropy: &crate::config::Secret) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"wxcore lease owner:")
        .chain_update(entropy.expose().as_bytes())
        .finalize();
    crate::http::hex(&digest[..8])
}

fn clock_error() -> ApiError {
    let mut e = ApiError::new(
        ErrorKind::InvalidRequest,
        format!("the host's clock is past {MAX_TIME_MS} ms: nothing can be timed"),
    );
    e.code = Some(Code::Str("clock".into()));
    e
}

pub(crate) fn clamp(now_ms: u64) -> u64 {
    now_ms.min(MAX_TIME_MS)
}

/// The sans-IO engine. See the crate documentation for the run loop.
pub struct Engine {
    pub(crate) cfg: Config,
    pub(crate) apps: Vec<App>,
    pub(crate) by_name: HashMap<String, usize>,
    pub(crate) calls: IdMap<CallState>,
    pub(crate) requests: IdMap<Purpose>,
    pub(crate) store_ops: IdMap<StorePurpose>,
    /// The engine's own calls fetching tickets.
    pub(crate) ticket_calls: IdMap<Internal>,
    /// The time of the latest input (for completions reached without one).
    pub(crate) last_now: u64,
    pub(crate) circuits: Circuits,
    pub(crate) timers: BinaryHeap<Reverse<(u64, Timer)>>,
    /// Deadlines from `call_timeout_ms`: every call gets the same one from a
    /// time that never goes back, so they fall due in submission order and
    /// a FIFO holds them; completed calls leave it from the front. (A heap
    /// would keep every completed call's entry until its deadline.)
    deadlines: VecDeque<(u64, Timer)>,
    /// `Timer::Request` backstops, likewise in send order; apart because
    /// they never set the wake time.
    backstops: VecDeque<(u64, Timer)>,
    pub(crate) out: VecDeque<Output>,
    pub(crate) rng: Rng,
    /// Seeded with the host's entropy; only for API security.
    pub(crate) csprng: Option<crate::crypto::api_security::Csprng>,
    pub(crate) owner: String,
    /// Watches exchanges and events for the status snapshot and metrics.
    pub(crate) monitor: Monitor,
    next_call: CallId,
    next_req: u64,
    next_op: u64,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field(
                "apps",
                &self
                    .apps
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("calls", &self.calls.len())
            .field("requests", &self.requests.len())
            .field("queued_outputs", &self.out.len())
            .finish()
    }
}

impl Engine {
    /// Builds an engine. Fails with a [`ConfigError`] naming the field.
    pub fn new(config: Config, now_ms: u64) -> Result<Engine, ConfigError> {
        config.check_bounds()?;
        let profiles = account::load_profiles(&config)?;
        let mut apps = Vec::with_capacity(config.apps.len());
        let mut by_name = HashMap::with_capacity(config.apps.len());
        let mut limit_cache = HashMap::new();
        for (i, a) in config.apps.iter().enumerate() {
            let resolved = account::resolve(&config, i, a, &profiles, &mut limit_cache)?;
            if by_name.insert(a.id.clone(), i).is_some() {
                return Err(ConfigError::new(
                    format!("apps[{i}].id"),
                    format!("duplicate app id `{}`", a.id),
                ));
            }
            let mut app = App::new(resolved);
            if let Some(spec) = app.rt.profile.authorizers.clone() {
                // What its authorizers are made from: the profile their
                // calls follow, on the component's hosts.
                let like = crate::config::AppConfig {
                    id: a.id.clone(),
                    platform: spec.platform,
                    app_id: a.app_id.clone(),
                    // Stand-ins for what each authorizer brings (a WeCom
                    // profile requires them to resolve).
                    corp_id: Some("-".into()),
                    agent_id: Some("-".into()),
                    secret: Some(crate::config::Secret::new("-")),
                    base_url: a.base_url.clone(),
                    hosts: a.hosts.clone(),
                    regions: a.regions.clone(),
                    ..Default::default()
                };
                let t = account::resolve(&config, i, &like, &profiles, &mut limit_cache)?;
                app.template = Some(Box::new(t));
            }
            apps.push(app);
        }
        if config.store == StoreMode::External && config.store_prefix.is_empty() {
            return Err(ConfigError::new(
                "store_prefix",
                "must not be empty in external store mode",
            ));
        }
        let csprng =
            match &config.entropy {
                Some(e) => Some(crate::crypto::api_security::csprng(e)?),
                None if apps.iter().any(|a| a.security.is_some()) => return Err(ConfigError::new(
                    "entropy",
                    "API security needs 32 random bytes from the host (the drivers supply them)",
                )),
                None => None,
            };
        let rng = Rng::new(config.seed);
        let name = config.instance_id.as_deref().unwrap_or("wxcore");
        let owner = match (&config.entropy, config.store) {
            (Some(e), _) => format!("{name}-{}", owner_suffix(e)),
            (None, StoreMode::Memory) => name.to_string(), // no lease to hold
            (None, StoreMode::External) => {
                return Err(ConfigError::new(
                    "entropy",
                    "fleet mode needs the host's 32 random bytes for a unique lease owner (drivers supply them)",
                ))
            }
        };
        let mut timers = BinaryHeap::new();
        if config.prefetch_tokens {
            for (a, app) in apps.iter().enumerate() {
                if app.token.is_some() {
                    timers.push(Reverse((clamp(now_ms), Timer::Prefetch(a))));
                }
            }
        }
        let mut cfg = config;
        cfg.apps = Vec::new(); // resolved into `apps`; drop the secrets' second copy
        cfg.profiles = Default::default();
        let monitor = Monitor::new(apps.len());
        Ok(Engine {
            cfg,
            monitor,
            apps,
            by_name,
            calls: IdMap::default(),
            requests: IdMap::default(),
            store_ops: IdMap::default(),
            ticket_calls: IdMap::default(),
            last_now: 0,
            circuits: Circuits::default(),
            timers,
            deadlines: VecDeque::new(),
            backstops: VecDeque::new(),
            out: VecDeque::new(),
            rng,
            csprng,
            owner,
            next_call: 1,
            next_req: 1,
            next_op: 1,
        })
    }

    /// Submits a call. Never fails: a bad call completes with an error `Done`.
    pub fn submit(&mut self, call: Call, now_ms: u64) -> CallId {
        let now_ms = clamp(now_ms);
        self.advance(now_ms);
        let id = self.next_call;
        self.next_call += 1;
        self.start_call(id, call, now_ms);
        id
    }

    /// The next call id, for a request the engine answers itself (tickets).
    pub(crate) fn reserve_call_id(&mut self) -> CallId {
        let id = self.next_call;
        self.next_call += 1;
        id
    }

    /// A call the engine makes for itself (a ticket fetch): its completion
    /// goes to `ticket_calls`' owner, never to the host.
    pub(crate) fn submit_internal(&mut self, call: Call, fetch: Internal, now: u64) {
        let id = self.reserve_call_id();
        self.ticket_calls.insert(id, fetch);
        self.start_call(id, call, now);
    }

    fn start_call(&mut self, id: CallId, call: Call, now_ms: u64) {
        if now_ms >= MAX_TIME_MS {
            let mut e = clock_error();
            e.app = call.app;
            e.call_id = id;
            if let Some(f) = self.ticket_calls.remove(&id) {
                return self.on_internal(f, Err(e), now_ms);
            }
            self.out.push_back(Output::Done(Completion {
                call_id: id,
                result: Err(e),
            }));
            return;
        }
        let Some(a) = self.app_index(&call.app) else {
            let mut e = ApiError::new(
                ErrorKind::Config,
                format!("no app `{}` is configured", call.app),
            );
            e.app = call.app;
            e.call_id = id;
            self.out.push_back(Output::Done(Completion {
                call_id: id,
                result: Err(e),
            }));
            return;
        };
        let problem = match call.parsed_method() {
            None => Some(format!("unsupported HTTP method `{}`", call.method)),
            Some(_) if !call.path.starts_with('/') => {
                Some(format!("path `{}` must start with `/`", call.path))
            }
            Some(_) if call.path.contains(['?', '#']) => Some(format!(
                "path `{}` must not carry a query or fragment: pass `query`",
                call.path
            )),
            Some(_)
                if call
                    .timeout_ms
                    .is_some_and(|t| !(1..=MAX_CALL_TIMEOUT_MS).contains(&t)) =>
            {
                Some(format!(
                    "timeout_ms {} is out of range (1 to {MAX_CALL_TIMEOUT_MS})",
                    call.timeout_ms.unwrap_or_default()
                ))
            }
            Some(_) => None,
        };
        // From the latest time seen, so config deadlines stay in order even
        // if the host's clock steps back.
        let base = self.last_now.max(now_ms);
        let deadline = call
            .timeout_ms
            .or(self.cfg.call_timeout_ms)
            .map(|d| base + d.min(MAX_CALL_TIMEOUT_MS));
        let method = call.parsed_method().unwrap_or(Method::Get);
        self.calls.insert(
            id,
            CallState {
                app: a,
                method,
                call,
                attempts: 0,
                token_resent: false,
                rate_retries: 0,
                last_host: None,
                failed_hosts: 0,
                phase: Phase::New,
                reserved: false,
                deadline,
                recount: false,
            },
        );
        if let (Some(at), None) = (deadline, &problem) {
            match self.calls[&id].call.timeout_ms {
                Some(_) => self.timer(at, Timer::Deadline(id)),
                None => self.deadlines.push_back((at, Timer::Deadline(id))),
            }
        }
        match problem {
            Some(msg) => self.fail(id, ApiError::new(ErrorKind::InvalidRequest, msg)),
            None => self.dispatch(id, now_ms),
        }
    }

    /// The next output. Drain until [`Output::Idle`], then call again at
    /// `wake_at_ms` or after the next input.
    pub fn poll_output(&mut self, now_ms: u64) -> Output {
        let now_ms = clamp(now_ms);
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        self.advance(now_ms);
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        Output::Idle {
            wake_at_ms: self.next_wake(),
        }
    }

    /// Drains every output into `out` in one call (one boundary crossing for
    /// bindings) and returns the `Idle` wake time.
    pub fn poll_outputs(&mut self, now_ms: u64, out: &mut Vec<Output>) -> Option<u64> {
        loop {
            match self.poll_output(now_ms) {
                Output::Idle { wake_at_ms } => return wake_at_ms,
                o => out.push(o),
            }
        }
    }

    /// Feeds the answer to a `Send`. Unknown ids are ignored.
    pub fn handle_response(&mut self, request_id: u64, response: HttpResponse, now_ms: u64) {
        let now_ms = clamp(now_ms);
        self.advance(now_ms);
        let watched = self.monitor.take(request_id);
        let (status, len) = (response.status, response.body.len());
        match self.requests.remove(&request_id) {
            Some(Purpose::Call {
                call,
                app,
                host,
                gen,
            }) => self.on_call_response(call, app, host, gen, response, now_ms),
            Some(Purpose::Token {
                app,
                host,
                sent_at,
                forced,
                via_refresh,
            }) => self.on_token_response(app, host, sent_at, forced, via_refresh, response, now_ms),
            Some(Purpose::ServerToken { app, sent_at, .. }) => {
                self.on_server_token_response(app, sent_at, response, now_ms)
            }
            None => {}
        }
        if let Some(ex) = watched {
            self.monitor.answered(ex, status, len, now_ms);
        }
    }

    /// Feeds a transport failure of a `Send`. Unknown ids are ignored.
    pub fn handle_transport_error(
        &mut self,
        request_id: u64,
        kind: TransportErrorKind,
        now_ms: u64,
    ) {
        let now_ms = clamp(now_ms);
        self.advance(now_ms);
        self.on_transport_error(request_id, kind, now_ms);
    }

    fn on_transport_error(&mut self, request_id: u64, kind: TransportErrorKind, now_ms: u64) {
        let watched = self.monitor.take(request_id);
        if let Some(ex) = &watched {
            self.monitor.failing(ex);
        }
        self.dispatch_transport_error(request_id, kind, now_ms);
        if let Some(ex) = watched {
            let category = Category::of_transport(kind);
            self.monitor
                .failed(ex, category, self.cfg.timeout_ms, now_ms);
        }
    }

    fn dispatch_transport_error(&mut self, request_id: u64, kind: TransportErrorKind, now_ms: u64) {
        match self.requests.remove(&request_id) {
            Some(Purpose::Call {
                call, app, host, ..
            }) => self.on_call_transport_error(call, app, host, kind, now_ms),
            Some(Purpose::Token {
                app, host, forced, ..
            }) => self.on_token_transport_error(app, host, kind, forced, now_ms),
            Some(Purpose::ServerToken { app, host, .. }) => {
                self.on_server_transport_error(app, host, kind, now_ms)
            }
            None => {}
        }
    }

    /// Feeds the result of a `Store` operation. Unknown ids are ignored.
    pub fn handle_store_result(&mut self, op_id: u64, result: StoreResult, now_ms: u64) {
        let now_ms = clamp(now_ms);
        self.advance(now_ms);
        if let Some(p) = self.store_ops.remove(&op_id) {
            self.on_store_result(p, result, now_ms);
        }
    }

    /// Withdraws a call. One not yet sent is never sent and not counted
    /// against a quota; one in flight completes now, and the platform's
    /// late answer still serves the engine's bookkeeping (host health, the
    /// token's validity). Either way its `Done` (`cancelled`) is the next
    /// output for it. Returns false when the call had already completed
    /// (or never existed): nothing changes then.
    pub fn cancel(&mut self, call_id: CallId, now_ms: u64) -> bool {
        let now_ms = clamp(now_ms);
        self.advance(now_ms);
        if self.ticket_calls.contains_key(&call_id) {
            return false; // the engine's own; its waiters cancel themselves
        }
        if self.calls.contains_key(&call_id) {
            let e = ApiError::new(ErrorKind::Cancelled, "cancelled by the caller");
            self.fail(call_id, e);
            return true;
        }
        self.cancel_ticket_request(call_id)
    }

    /// A call's deadline passed: it completes with `timeout`, naming the
    /// phase that ran out.
    fn expire(&mut self, id: CallId) {
        let Some(c) = self.calls.get(&id) else { return };
        let (phase, what) = match c.phase {
            Phase::New | Phase::Queued => ("queue", "queued"),
            Phase::NeedToken => ("token", "awaiting a token"),
            Phase::Waiting { .. } => ("backoff", "awaiting a resend"),
            Phase::Reserving => ("store", "awaiting the quota count"),
            Phase::InFlight { .. } => ("send", "awaiting the answer"),
        };
        let ms = c
            .call
            .timeout_ms
            .or(self.cfg.call_timeout_ms)
            .unwrap_or_default();
        let mut e = ApiError::new(
            ErrorKind::Timeout,
            format!("the call's deadline ({ms} ms) passed while {what}"),
        );
        e.code = Some(Code::Str(phase.into()));
        self.fail(id, e);
    }

    // ---- internals shared by the modules ----

    pub(crate) fn next_request_id(&mut self) -> u64 {
        let id = self.next_req;
        self.next_req += 1;
        id
    }

    pub(crate) fn store(&mut self, command: StoreCommand, purpose: StorePurpose) -> u64 {
        let id = self.next_op;
        self.next_op += 1;
        self.store_ops.insert(id, purpose);
        self.out.push_back(Output::Store(StoreOp { id, command }));
        if let Some(ms) = self.cfg.store_timeout_ms {
            self.timer(self.last_now + ms, Timer::StoreOp(id));
        }
        id
    }

    /// Arms the engine's own limit on request `req` (see `Timer::Request`);
    /// with `call_timeout_ms: null` the engine keeps no deadlines and the
    /// host bounds everything itself.
    /// Emits a request with its backstop (a host that never answers it
    /// cannot hold what waits on it).
    pub(crate) fn send(&mut self, req: HttpRequest, now: u64) {
        self.backstop(req.id, now);
        self.watch(&req, None, now);
        self.out.push_back(Output::Send(req));
    }

    /// Starts watching request `req` (its purpose already recorded): the
    /// monitor times it and classifies its end. `api` is the call's path;
    /// the engine's own requests are named by their URL's path.
    fn watch(&mut self, req: &HttpRequest, api: Option<&str>, now: u64) {
        let app = match self.requests.get(&req.id) {
            Some(Purpose::Call { app, .. })
            | Some(Purpose::Token { app, .. })
            | Some(Purpose::ServerToken { app, .. }) => *app,
            None => return,
        };
        let url = req.url_without_query();
        // `scheme://authority` and the path after it.
        let split = url
            .find("://")
            .and_then(|i| url[i + 3..].find('/').map(|j| i + 3 + j))
            .unwrap_or(url.len());
        let api = api.unwrap_or(&url[split..]);
        let ex = Exchange {
            app,
            api: if api.is_empty() { "/" } else { api }.to_string(),
            host: url[..split].to_string(),
            sent_at: now,
        };
        self.monitor.sent(req.id, ex);
    }

    /// Starts a request the host makes of the engine itself (a ticket, a
    /// token): its call id and app, or the id already completed with a
    /// config error for an unknown app.
    pub(crate) fn host_request(
        &mut self,
        app: &str,
        now_ms: u64,
    ) -> Result<(CallId, usize, u64), CallId> {
        let now = now_ms.min(MAX_TIME_MS);
        self.advance(now);
        let id = self.reserve_call_id();
        match self.app_index(app) {
            Some(a) => Ok((id, a, now)),
            None => {
                let e = ApiError::new(ErrorKind::Config, format!("no app `{app}` is configured"));
                Err(self.complete(id, app.to_string(), Err(e)))
            }
        }
    }

    pub(crate) fn backstop(&mut self, req: u64, now: u64) {
        if self.cfg.call_timeout_ms.is_some() {
            let at = self.last_now.max(now) + self.cfg.timeout_ms + REQUEST_GRACE_MS;
            self.timer(at, Timer::Request(req));
        }
    }

    pub(crate) fn event(&mut self, e: Event) {
        let app = e.app().and_then(|name| self.by_name.get(name)).copied();
        self.monitor.observe(app, &e, self.last_now);
        self.out.push_back(Output::Event(e));
    }

    pub(crate) fn timer(&mut self, at: u64, t: Timer) {
        match t {
            Timer::Request(_) => self.backstops.push_back((at, t)),
            _ => self.timers.push(Reverse((at, t))),
        }
    }

    /// Drops completed entries from the front of a FIFO of timers and
    /// returns the live front.
    fn fifo_front(&mut self, backstops: bool) -> Option<(u64, Timer)> {
        loop {
            let q = if backstops {
                &self.backstops
            } else {
                &self.deadlines
            };
            let &(at, t) = q.front()?;
            if self.timer_live(at, t) {
                return Some((at, t));
            }
            if backstops {
                self.backstops.pop_front();
            } else {
                self.deadlines.pop_front();
            }
        }
    }

    fn timer_live(&self, at: u64, t: Timer) -> bool {
        match t {
            Timer::Refresh(a) => {
                let c = &self.apps[a].cred;
                c.is_idle() && c.token.as_ref().and_then(|t| t.refresh_at) == Some(at)
            }
            Timer::Call(id) => self
                .calls
                .get(&id)
                .is_some_and(|c| c.phase == Phase::Waiting { until: at }),
            Timer::Prefetch(a) => self.apps[a].cred.token.is_none(),
            Timer::Queue(a) => self.apps[a].queue_wake == Some(at),
            Timer::Fetch(a) => self.apps[a].cred.waits_until() == Some(at),
            Timer::Deadline(id) => self.calls.get(&id).is_some_and(|c| c.deadline == Some(at)),
            Timer::Request(req) => self.requests.contains_key(&req),
            Timer::StoreOp(op) => self.store_ops.contains_key(&op),
        }
    }

    fn next_wake(&mut self) -> Option<u64> {
        while let Some(&Reverse((at, t))) = self.timers.peek() {
            if self.timer_live(at, t) {
                break;
            }
            self.timers.pop();
        }
        // Request backstops do not wake the host: anything waiting on a
        // request has a deadline of its own that does, and a backstop fires
        // on whatever input comes first after it is due.
        let heap = self.timers.peek().map(|Reverse((at, _))| *at);
        let fifo = self.fifo_front(false).map(|(at, _)| at);
        let at = match (heap, fifo) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // Never beyond the last time the engine counts, where every call ends
        // (see `clock_out_of_range`); once there, nothing is ever due again.
        if self.last_now >= MAX_TIME_MS {
            return None;
        }
        at.map(|at| at.min(MAX_TIME_MS))
    }

    /// Fires every timer due at `now`.
    pub(crate) fn advance(&mut self, now: u64) {
        self.last_now = self.last_now.max(now);
        if now >= MAX_TIME_MS {
            return self.clock_out_of_range();
        }
        loop {
            // The earliest of the heap's and the two FIFOs' fronts, if due.
            let heap = self.timers.peek().map(|r| r.0);
            let deadline = self.fifo_front(false);
            let backstop = self.fifo_front(true);
            let Some((at, t)) = [heap, deadline, backstop].into_iter().flatten().min() else {
                break;
            };
            if at > now {
                break;
            }
            if heap == Some((at, t)) {
                self.timers.pop();
            } else if deadline == Some((at, t)) {
                self.deadlines.pop_front();
            } else {
                self.backstops.pop_front();
            }
            if self.timer_live(at, t) {
                self.fire(t, now);
            }
        }
    }

    /// The host's clock has reached the end of what the engine counts (2^53
    /// ms, the year 287,000): a broken clock. Nothing can be timed any more,
    /// so every call completes now with `invalid_request` (code `clock`), and
    /// so does every call submitted while it stays there.
    fn clock_out_of_range(&mut self) {
        let mut ids: Vec<CallId> = self
            .calls
            .keys()
            .filter(|id| !self.ticket_calls.contains_key(id))
            .copied()
            .collect();
        ids.extend(self.ticket_calls.keys().copied());
        ids.sort_unstable();
        for id in ids {
            self.fail(id, clock_error());
        }
        // Ticket requests still waiting on a store read.
        for a in 0..self.apps.len() {
            let name = self.apps[a].name.clone();
            let mut waiting = Vec::new();
            for slot in self.apps[a].tickets.values_mut() {
                slot.abandon(&mut waiting);
            }
            waiting.sort_unstable();
            for id in waiting {
                let mut e = clock_error();
                e.app = name.clone();
                e.call_id = id;
                self.out.push_back(Output::Done(Completion {
                    call_id: id,
                    result: Err(e),
                }));
            }
        }
    }

    fn fire(&mut self, t: Timer, now: u64) {
        match t {
            Timer::Refresh(a) | Timer::Prefetch(a) => self.start_fetch(a, now),
            Timer::Call(id) => {
                if let Some(c) = self.calls.get_mut(&id) {
                    c.phase = Phase::New;
                }
                self.dispatch(id, now)
            }
            Timer::Queue(a) => {
                self.apps[a].queue_wake = None;
                self.pump_queue(a, now)
            }
            Timer::Fetch(a) => self.resume_fetch(a, now),
            Timer::Deadline(id) => self.expire(id),
            Timer::Request(req) => self.on_transport_error(req, TransportErrorKind::Timeout, now),
            Timer::StoreOp(op) => {
                if let Some(p) = self.store_ops.remove(&op) {
                    let ms = self.cfg.store_timeout_ms.unwrap_or_default();
                    let r = StoreResult::Failed(format!("no answer within {ms} ms"));
                    self.on_store_result(p, r, now);
                }
            }
        }
    }

    /// A call that ends at once (a malformed call spec): it gets an id and its `Done`.
    pub(crate) fn complete_now(&mut self, app: String, mut e: ApiError, now: u64) -> CallId {
        self.advance(now);
        let id = self.next_call;
        self.next_call += 1;
        e.app = app;
        e.call_id = id;
        self.out.push_back(Output::Done(Completion {
            call_id: id,
            result: Err(e),
        }));
        id
    }

    /// Completes a call with an error.
    pub(crate) fn fail(&mut self, id: CallId, mut e: ApiError) {
        if let Some(c) = self.calls.remove(&id) {
            e.app = self.apps[c.app].name.clone();
            e.call_id = id;
            if let Some(f) = self.ticket_calls.remove(&id) {
                return self.on_internal(f, Err(e), self.last_now);
            }
            self.out.push_back(Output::Done(Completion {
                call_id: id,
                result: Err(e),
            }));
        }
    }

    fn succeed(&mut self, id: CallId, reply: Reply) {
        if let Some(c) = self.calls.remove(&id) {
            if let Some(f) = self.ticket_calls.remove(&id) {
                return self.on_internal(f, Ok(reply), self.last_now);
            }
            let reply = self.component_reply(c.app, &c.call.path, reply, self.last_now);
            self.out.push_back(Output::Done(Completion {
                call_id: id,
                result: Ok(reply),
            }));
        }
    }

    /// One of the engine's own calls completed.
    fn on_internal(&mut self, f: Internal, result: Result<Reply, ApiError>, now: u64) {
        match f {
            Internal::Ticket(t) => self.on_ticket_call(t, result, now),
            Internal::Authorizer(step) => self.on_authorizer_call(step, result, now),
        }
    }

    /// Moves a call forward: local refusals, credential, rate limits, send.
    pub(crate) fn dispatch(&mut self, id: CallId, now: u64) {
        let Some(c) = self.calls.get(&id) else { return };
        let a = c.app;
        if let Some(e) = self.local_refusal(id, now) {
            return self.fail(id, e);
        }
        if self.apps[a].needs_token(&self.calls[&id].call.path)
            && self.apps[a].cred.valid(now).is_none()
        {
            self.calls.get_mut(&id).expect("call").phase = Phase::NeedToken;
            self.apps[a].cred.waiting.push(id);
            return self.start_fetch(a, now);
        }
        let app = &mut self.apps[a];
        let limited = app.rates.per_minute.is_some()
            || app.rates.concurrency.is_some()
            || !app.buckets.is_empty();
        if limited || !app.queue.is_empty() {
            app.queue.push(&self.calls[&id].call.path, id);
            self.calls.get_mut(&id).expect("call").phase = Phase::Queued;
            return self.pump_queue(a, now);
        }
        self.send_call(id, now);
    }

    /// Why call `id` must not go now: an IP block, or its daily quota used
    /// up. Checked when a call is dispatched and again when it leaves the
    /// rate-limit queue, since either can arrive while it waits.
    fn local_refusal(&mut self, id: CallId, now: u64) -> Option<ApiError> {
        let c = &self.calls[&id];
        let a = c.app;
        if let Some(e) = self.authorizer_refusal(a) {
            return Some(e);
        }
        let app = &mut self.apps[a];
        if let Some((until, code)) = app.blocked.clone() {
            if now < until {
                let mut e = ApiError::new(
                    ErrorKind::IpBlocked,
                    "the administrator refused this IP; refused locally until the block ends",
                );
                e.code = code;
                e.retry_after_ms = Some(until - now);
                return Some(e);
            }
            app.blocked = None;
        }
        // A call already counted in the shared store is within the limit,
        // even if later counts have since reached it.
        if c.reserved {
            return None;
        }
        let path = c.call.path.clone();
        self.quota_refusal(a, &path, now)
    }

    fn quota_refusal(&mut self, a: usize, path: &str, now: u64) -> Option<ApiError> {
        let app = &mut self.apps[a];
        if app.quota_mode != QuotaMode::Enforce {
            return None;
        }
        app.quota.roll(now);
        if !app.quota.refused(path, app.limit(path)) {
            return None;
        }
        Some(quota_error(path, now))
    }

    /// Sends queued calls that the rate limits now admit, oldest first. A
    /// path whose bucket is empty is passed over whole and a full
    /// concurrency cap ends the pump, so each step is one send, one stale
    /// entry dropped, or one path set aside: linear in the calls sent.
    pub(crate) fn pump_queue(&mut self, a: usize, now: u64) {
        let mut blocked: Vec<String> = Vec::new();
        let mut wake: Option<u64> = None;
        while let Some((id, path)) = self.apps[a].queue.oldest(&blocked) {
            if !self
                .calls
                .get(&id)
                .is_some_and(|c| c.phase == Phase::Queued)
            {
                self.apps[a].queue.pop(&path);
                continue;
            }
            if self.apps[a].token.is_some() && self.apps[a].cred.valid(now).is_none() {
                self.apps[a].queue.pop(&path);
                self.calls.get_mut(&id).expect("call").phase = Phase::New;
                self.dispatch(id, now);
                continue;
            }
            if let Some(e) = self.local_refusal(id, now) {
                self.apps[a].queue.pop(&path);
                self.fail(id, e);
                continue;
            }
            match self.admit(a, id, now) {
                Ok(()) => {
                    self.apps[a].queue.pop(&path);
                    self.send_call(id, now);
                }
                // The concurrency cap: nothing goes until a call completes.
                Err(None) => break,
                Err(Some(at)) => {
                    wake = Some(wake.map_or(at, |w| w.min(at)));
                    blocked.push(path);
                }
            }
        }
        let app = &mut self.apps[a];
        if let Some(at) = wake {
            if app.queue_wake.is_none_or(|w| at < w || w <= now) {
                app.queue_wake = Some(at);
                self.timer(at, Timer::Queue(a));
            }
        }
    }

    /// Takes a slot for call `id`, or says when to try again (`None`: when a
    /// call in flight completes).
    fn admit(&mut self, a: usize, id: CallId, now: u64) -> Result<(), Option<u64>> {
        let app = &mut self.apps[a];
        if app.rates.concurrency.is_some_and(|cap| app.inflight >= cap) {
            return Err(None);
        }
        let path = &self.calls[&id].call.path;
        let rates = app.rates;
        if let Some(b) = app.buckets.get_mut(path.as_str()) {
            return match rates.per_minute {
                Some(pm) => b.take(pm, rates.burst, now).map_err(Some),
                None if now < b.blocked_until => Err(Some(b.blocked_until)),
                None => Ok(()),
            };
        }
        if let Some(pm) = rates.per_minute {
            let mut b = Bucket::new(rates.burst, now);
            let r = b.take(pm, rates.burst, now).map_err(Some);
            app.buckets.insert(path.clone(), b);
            return r;
        }
        Ok(())
    }

    /// Builds and emits the request of a call that may go now.
    fn send_call(&mut self, id: CallId, now: u64) {
        let a = self.calls[&id].app;
        // A call the profile sends without the token, its body the engine's.
        let tokenless = self.apps[a]
            .rt
            .profile
            .tokenless_calls
            .contains_key(&self.calls[&id].call.path);
        if !tokenless && self.apps[a].token.is_some() && self.apps[a].cred.valid(now).is_none() {
            // Callers check first; this keeps the secret out of a token's place regardless.
            self.calls.get_mut(&id).expect("call").phase = Phase::NeedToken;
            self.apps[a].cred.waiting.push(id);
            return self.start_fetch(a, now);
        }
        if self.reserve_quota(id, now) {
            return;
        }
        let req = self.next_request_id();
        let c = self.calls.get_mut(&id).expect("call");
        let reserved = std::mem::take(&mut c.reserved);
        let a = c.app;
        let app = &mut self.apps[a];
        let host = self.circuits.choose(&app.hosts, now, c.failed_hosts);
        let (gen, token) = match (&app.token, app.cred.valid(now)) {
            (Some(_), Some(t)) => (app.cred.gen, t.value.expose().to_string()),
            _ => (0, app.secret.expose().to_string()), // a static credential
        };
        let mut headers = Vec::with_capacity(2);
        if let Some(b) = &c.call.body {
            headers.push(("content-type".to_string(), b.content_type.clone()));
        }
        let tokenless_body = tokenless.then(|| {
            // No token, and the body is the engine's: it holds the secret.
            let params = &app.rt.profile.tokenless_calls[&c.call.path];
            let held = crate::platform::account::Held::default();
            let m: serde_json::Map<String, serde_json::Value> = params
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(app.render(v, held))))
                .collect();
            serde_json::Value::Object(m).to_string()
        });
        let url = match tokenless_body {
            Some(_) => request::plain_url(&app.hosts[host], &c.call.path, &c.call.query),
            None => request::call_request(
                app,
                &app.hosts[host],
                &c.call.path,
                &c.call.query,
                &token,
                &mut headers,
            ),
        };
        let mut body = match tokenless_body {
            Some(json) => {
                headers.retain(|(k, _)| k != "content-type");
                headers.push(("content-type".into(), "application/json".into()));
                bytes::Bytes::from(json.into_bytes())
            }
            None => c
                .call
                .body
                .as_ref()
                .map(|b| b.bytes.clone())
                .unwrap_or_default(),
        };
        if let Some(sec) = app.security.as_deref().filter(|s| s.covers(&c.call.path)) {
            let rng = self.csprng.as_mut().expect("checked at construction");
            let url_path = &url[..url.find('?').unwrap_or(url.len())];
            let params = c.call.body.as_ref().map(|b| &b.bytes[..]);
            let app_id = app.app_id.as_deref().unwrap_or_default();
            match sec.seal_request(app_id, url_path, now / 1000, params, rng) {
                Ok(sealed) => {
                    body = sealed.body.into();
                    headers.retain(|(k, _)| k != "content-type");
                    headers.extend(sealed.headers);
                }
                Err(e) => {
                    let mut err = ApiError::new(e.kind, e.message);
                    err.code = Some(Code::Str(e.reason.to_string()));
                    return self.fail(id, err);
                }
            }
        }
        let failover = match c.last_host {
            Some(prev) if prev != host => Some(Event::Failover {
                app: app.name.clone(),
                call_id: id,
                from: app.hosts[prev].clone(),
                to: app.hosts[host].clone(),
            }),
            _ => None,
        };
        c.last_host = Some(host);
        c.attempts += 1;
        c.phase = Phase::InFlight { req };
        let method = c.method.as_str();
        let path = c.call.path.clone();
        app.inflight += 1;
        let host_name = app.hosts[host].clone();
        self.circuits.on_send(&host_name, now);
        if let Some(e) = failover {
            self.event(e);
        }
        self.requests.insert(
            req,
            Purpose::Call {
                call: id,
                app: a,
                host,
                gen,
            },
        );
        self.backstop(req, now);
        if !reserved {
            self.count_quota(a, &path, now);
        }
        let request = HttpRequest {
            id: req,
            method,
            url,
            headers,
            body,
            timeout_ms: self.cfg.timeout_ms,
        };
        self.watch(&request, Some(&path), now);
        self.out.push_back(Output::Send(request));
    }

    /// Fleet mode, enforcing a daily limit: counts the call in the shared
    /// store *before* it is sent, so the fleet together never exceeds the
    /// limit (counting alongside the send would let every process's calls in
    /// flight overshoot it). Returns whether the call now waits for the count.
    fn reserve_quota(&mut self, id: CallId, now: u64) -> bool {
        let c = &self.calls[&id];
        let a = c.app;
        let app = &self.apps[a];
        if c.reserved
            || self.cfg.store != StoreMode::External
            || app.quota_mode != QuotaMode::Enforce
            || app.limit(&c.call.path).is_none()
        {
            return false;
        }
        let key = self.quota_key(a, &c.call.path, now);
        let ttl_ms = quota::next_reset(now) - now;
        // Calls this engine sent on local counting while the store failed
        // are added now, so the shared total learns of them.
        let app = &mut self.apps[a];
        app.quota.roll(now);
        let owed = app.quota.take_owed(&self.calls[&id].call.path);
        let delta = i64::try_from(owed).unwrap_or(i64::MAX - 1) + 1;
        let path = self.calls[&id].call.path.clone();
        let purpose = StorePurpose::QuotaReserve(id, a, key.clone(), path, delta);
        // The concurrency slot is held while the count is out.
        self.apps[a].inflight += 1;
        self.calls.get_mut(&id).expect("call").phase = Phase::Reserving;
        self.store(StoreCommand::IncrBy { key, delta, ttl_ms }, purpose);
        true
    }

    /// The shared count for a reserving call: send it if it is within the
    /// limit, refuse it otherwise; a failed store falls back to local counting.
    pub(crate) fn on_reservation(
        &mut self,
        id: CallId,
        a: usize,
        (key, path): (String, String),
        delta: i64,
        count: Option<i64>,
        now: u64,
    ) {
        if !self
            .calls
            .get(&id)
            .is_some_and(|c| c.phase == Phase::Reserving)
        {
            // The call completed while its count was out (cancelled, timed
            // out): give back the concurrency slot and the count it took.
            self.apps[a].inflight = self.apps[a].inflight.saturating_sub(1);
            if count.is_none() && delta > 1 {
                // The earlier calls' counts are still owed; this one was never sent.
                self.apps[a].quota.owe(&path, (delta - 1).unsigned_abs());
            }
            if count.is_some() {
                let ttl_ms = quota::next_reset(now) - now;
                self.store(
                    StoreCommand::IncrBy {
                        key,
                        delta: -1,
                        ttl_ms,
                    },
                    StorePurpose::Write(a, "incr_by"),
                );
            }
            if !self.apps[a].queue.is_empty() {
                self.pump_queue(a, now);
            }
            return;
        }
        let c = self.calls.get_mut(&id).expect("call");
        c.phase = Phase::New;
        if std::mem::take(&mut c.recount) {
            self.apps[a].inflight = self.apps[a].inflight.saturating_sub(1);
            return self.dispatch(id, now);
        }
        c.reserved = true;
        let path = c.call.path.clone();
        self.apps[a].inflight = self.apps[a].inflight.saturating_sub(1);
        match count {
            Some(n) => {
                let app = &mut self.apps[a];
                app.quota.roll(now);
                let limit = app.limit(&path);
                // Calls sent on local counting are not in the shared total yet.
                let owed = app.quota.owed(&path);
                let n = u64::try_from(n).unwrap_or(0).saturating_add(owed);
                let crossings = app.quota.record(&path, n, limit);
                self.quota_events(a, &path, crossings, now);
                if limit.is_some_and(|l| n > l) {
                    self.fail(id, quota_error(&path, now));
                    if !self.apps[a].queue.is_empty() {
                        self.pump_queue(a, now);
                    }
                    return;
                }
            }
            None => {
                // The shared count is unknown: the local one decides, and
                // the store is told at the next count.
                self.apps[a].quota.owe(&path, delta.unsigned_abs());
                if let Some(e) = self.quota_refusal(a, &path, now) {
                    self.fail(id, e);
                    if !self.apps[a].queue.is_empty() {
                        self.pump_queue(a, now);
                    }
                    return;
                }
                self.count_quota_locally(a, &path, now)
            }
        }
        // Through dispatch again: what may have changed while the count was
        // out (an IP block, the token) is checked before the call goes, and
        // the concurrency slot given back above is taken again.
        self.dispatch(id, now);
        if !self.apps[a].queue.is_empty() {
            self.pump_queue(a, now);
        }
    }

    /// Counts one request against the app's daily quota for `path`.
    pub(crate) fn count_quota(&mut self, a: usize, path: &str, now: u64) {
        let app = &mut self.apps[a];
        if app.quota_mode == QuotaMode::Off {
            return;
        }
        let limit = app.limit(path);
        self.count_quota_locally(a, path, now);
        if self.cfg.store == StoreMode::External && limit.is_some() {
            let key = self.quota_key(a, path, now);
            let ttl_ms = quota::next_reset(now) - now;
            self.store(
                StoreCommand::IncrBy {
                    key,
                    delta: 1,
                    ttl_ms,
                },
                StorePurpose::QuotaIncr(a, path.to_string()),
            );
        }
    }

    fn count_quota_locally(&mut self, a: usize, path: &str, now: u64) {
        let app = &mut self.apps[a];
        app.quota.roll(now);
        let used = app.quota.used(path) + 1;
        let limit = app.limit(path);
        let crossings = app.quota.record(path, used, limit);
        self.quota_events(a, path, crossings, now);
    }

    fn quota_key(&self, a: usize, path: &str, now: u64) -> String {
        let day = quota::day_of(now);
        format!(
            "{}quota:{}:{day}:{}",
            self.cfg.store_prefix,
            self.apps[a].store_id,
            account::key_part(path)
        )
    }

    pub(crate) fn quota_events(
        &mut self,
        a: usize,
        path: &str,
        crossings: Vec<Crossing>,
        now: u64,
    ) {
        let app = &self.apps[a];
        let used = app.quota.used(path);
        let limit = app.limit(path).unwrap_or(0);
        let name = app.name.clone();
        for c in crossings {
            let e = match c {
                Crossing::Warn(percent) => Event::QuotaWarning {
                    app: name.clone(),
                    path: path.into(),
                    used,
                    limit,
                    percent,
                },
                Crossing::Exhausted => Event::QuotaExhausted {
                    app: name.clone(),
                    path: path.into(),
                    until_ms: quota::next_reset(now),
                },
            };
            self.event(e);
        }
    }

    fn host_answered(&mut self, a: usize, host: usize) {
        let name = self.apps[a].hosts[host].clone();
        if let Some(e) = self.circuits.on_answer(&name) {
            self.event(e);
        }
    }

    pub(crate) fn host_failed(
        &mut self,
        a: usize,
        host: usize,
        kind: TransportErrorKind,
        now: u64,
    ) {
        let name = self.apps[a].hosts[host].clone();
        if !kind.counts_for_circuit() {
            // Not a reachability failure, but a probe it ended must not stay
            // "in flight", or the host would never be tried again.
            self.circuits.end_probe(&name);
            return;
        }
        if let Some(e) = self.circuits.on_failure(&name, now, &self.cfg.failover) {
            self.event(e);
        }
    }

    /// Turns a classified failure into an [`ApiError`] with its rule.
    pub(crate) fn platform_error<'p>(
        &self,
        profile: &'p Profile,
        rules: &[&'p [ErrorRule]],
        verdict: Verdict,
        resp: &HttpResponse,
        now: u64,
    ) -> (ApiError, Option<&'p ErrorRule>) {
        match verdict {
            Verdict::Failure {
                code,
                message,
                sub_message,
            } => {
                let rule = code.as_ref().and_then(|c| {
                    rules
                        .iter()
                        .find_map(|r| Profile::rule(r, c, sub_message.as_deref()))
                });
                let kind = match (rule, code.is_some()) {
                    (Some(r), _) => r.kind,
                    (None, _) if resp.status >= 500 => ErrorKind::Busy,
                    (None, _) if resp.status == 429 => ErrorKind::RateLimited,
                    (None, false) if resp.status == 401 || resp.status == 403 => {
                        ErrorKind::PermissionDenied
                    }
                    (None, false) if resp.status >= 400 => ErrorKind::InvalidRequest,
                    // A redirect is never followed (it could carry a header
                    // credential to another origin): an answer, and not one
                    // an API gives.
                    (None, false) if (300..400).contains(&resp.status) => {
                        ErrorKind::MalformedResponse
                    }
                    (None, _) => ErrorKind::Unknown,
                };
                let mut e = ApiError::new(kind, message);
                e.code = code;
                e.sub_message = sub_message;
                e.http_status = Some(resp.status);
                if kind == ErrorKind::RateLimited {
                    let header = resp
                        .header("retry-after")
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(|s| s.saturating_mul(1000).min(MAX_RETRY_AFTER_MS));
                    e.retry_after_ms = Some(match rule {
                        Some(ErrorRule {
                            retry_after: Some(RetryAfter::NextMinute),
                            ..
                        }) => 60_000 - now % 60_000,
                        Some(ErrorRule {
                            retry_after_ms: Some(ms),
                            ..
                        }) => *ms,
                        _ => header.unwrap_or(1000),
                    });
                }
                let _ = profile;
                (e, rule)
            }
            Verdict::Malformed { reason } => {
                let mut e = ApiError::new(ErrorKind::MalformedResponse, reason);
                e.http_status = Some(resp.status);
                (e, None)
            }
            Verdict::Success { .. } => unreachable!("platform_error is only called on failures"),
        }
    }

    fn on_call_response(
        &mut self,
        id: CallId,
        a: usize,
        host: usize,
        gen: u64,
        resp: HttpResponse,
        now: u64,
    ) {
        self.host_answered(a, host);
        self.apps[a].inflight = self.apps[a].inflight.saturating_sub(1);
        if !self.calls.contains_key(&id) {
            return self.on_late_answer(a, gen, &resp, now);
        }
        let mut resp = resp;
        // The relay's own refusal (key, scope, its limits), not the platform's answer.
        let refused = match self.apps[a].relayed() {
            true => source::server_error(&resp),
            false => None,
        };
        if let Some(e) = refused {
            self.on_call_failure(id, e, gen, None, now);
            if !self.apps[a].queue.is_empty() {
                self.pump_queue(a, now);
            }
            return;
        }
        if let Some(e) = self.open_reply(a, host, id, &mut resp) {
            self.fail(id, e);
            if !self.apps[a].queue.is_empty() {
                self.pump_queue(a, now);
            }
            return;
        }
        let rt = self.apps[a].rt.clone();
        let verdict = envelope::classify(rt.profile.dialect, &rt.fields, &resp);
        self.monitor.note(&verdict, resp.status);
        if let Verdict::Success { json } = verdict {
            let path = &self.calls[&id].call.path;
            if rt.profile.clear_quota_paths.iter().any(|p| p == path) {
                if self.cfg.store == StoreMode::External {
                    // The shared counters too, or the next incr_by brings the old totals back.
                    let app = &self.apps[a];
                    let mut paths: Vec<String> = app
                        .quota
                        .paths
                        .keys()
                        .filter(|p| app.limit(p).is_some())
                        .cloned()
                        .collect();
                    paths.sort();
                    for p in paths {
                        let key = self.quota_key(a, &p, now);
                        let ttl_ms = quota::next_reset(now) - now;
                        let purpose = StorePurpose::Write(a, "set");
                        self.store(
                            StoreCommand::Set {
                                key,
                                value: "0".into(),
                                ttl_ms,
                            },
                            purpose,
                        );
                    }
                }
                self.apps[a].quota.paths.clear();
                // Calls counted before the clear and not yet sent (or whose
                // count is still out) count again after it, or the fleet
                // overshoots the fresh limit; at worst one counts twice.
                for c in self.calls.values_mut().filter(|c| c.app == a) {
                    c.reserved = false;
                    c.recount = c.phase == Phase::Reserving;
                }
                let name = self.apps[a].name.clone();
                self.event(Event::QuotaCleared { app: name });
            }
            self.succeed(
                id,
                Reply {
                    status: resp.status,
                    headers: resp.headers,
                    body: resp.body,
                    json,
                },
            );
        } else {
            let (mut e, rule) =
                self.platform_error(&rt.profile, &[&rt.profile.errors], verdict, &resp, now);
            e.raw_body = Some(resp.body);
            let block_ms = rule.and_then(|r| r.block_ms);
            self.on_call_failure(id, e, gen, block_ms, now);
        }
        if !self.apps[a].queue.is_empty() {
            self.pump_queue(a, now);
        }
    }

    /// The answer to a call that completed while in flight (cancelled, timed
    /// out): nobody gets it, but what it says about the token still counts.
    fn on_late_answer(&mut self, a: usize, gen: u64, resp: &HttpResponse, now: u64) {
        let rt = self.apps[a].rt.clone();
        let verdict = envelope::classify(rt.profile.dialect, &rt.fields, resp);
        self.monitor.note(&verdict, resp.status);
        if !matches!(verdict, Verdict::Success { .. }) {
            let (e, _) =
                self.platform_error(&rt.profile, &[&rt.profile.errors], verdict, resp, now);
            if e.kind == ErrorKind::TokenInvalid
                && self.apps[a].token.is_some()
                && self.apps[a].cred.invalidate(gen, e.code.clone())
            {
                let app = self.apps[a].name.clone();
                self.event(Event::TokenInvalidated { app, code: e.code });
            }
        }
        if !self.apps[a].queue.is_empty() {
            self.pump_queue(a, now);
        }
    }

    /// API security: a sealed call's reply is verified and opened in place,
    /// so the envelope is read from the plaintext; the refusal, if any.
    fn open_reply(
        &self,
        a: usize,
        host: usize,
        id: CallId,
        resp: &mut HttpResponse,
    ) -> Option<ApiError> {
        let app = &self.apps[a];
        let path = &self.calls[&id].call.path;
        // Not a sealed path: nothing to open, nothing to refuse.
        let sec = app.security.as_deref().filter(|s| s.covers(path))?;
        let url_path = format!("{}{}", app.hosts[host], path);
        let app_id = app.app_id.as_deref().unwrap_or_default();
        match sec.open_reply(
            app_id,
            &url_path,
            |h| resp.header(h).map(str::to_string),
            &resp.body,
            self.last_now / 1000,
        ) {
            Ok(Some(plain)) => {
                resp.body = plain;
                None
            }
            Ok(None) => None,
            Err(e) => {
                let mut err = ApiError::new(e.kind, e.message);
                err.code = Some(Code::Str(e.reason.to_string()));
                err.http_status = Some(resp.status);
                Some(err)
            }
        }
    }

    fn on_call_failure(
        &mut self,
        id: CallId,
        mut e: ApiError,
        gen: u64,
        block_ms: Option<u64>,
        now: u64,
    ) {
        let c = self.calls.get_mut(&id).expect("call");
        let a = c.app;
        let path = c.call.path.clone();
        let name = self.apps[a].name.clone();
        match e.kind {
            ErrorKind::TokenInvalid if !self.apps[a].needs_token(&path) => {
                // A static credential is wrong; a relay already refreshed and resent.
                if !self.apps[a].relayed() {
                    e.kind = ErrorKind::CredentialInvalid;
                }
                self.fail(id, e)
            }
            ErrorKind::TokenInvalid => {
                // Compare-and-invalidate: only the token this request used.
                let code = e.code.clone();
                if self.apps[a].cred.invalidate(gen, code.clone()) {
                    self.event(Event::TokenInvalidated { app: name, code });
                }
                let c = self.calls.get_mut(&id).expect("call");
                if c.token_resent {
                    return self.fail(id, e);
                }
                c.token_resent = true;
                c.phase = Phase::New;
                self.dispatch(id, now)
            }
            ErrorKind::Busy if retry::safe_to_resend(c.method, c.call.idempotent, None) => {
                self.retry_later(id, ErrorKind::Busy, None, now, e)
            }
            ErrorKind::RateLimited => {
                let wait = e.retry_after_ms.unwrap_or(1000);
                self.event(Event::RateLimited {
                    app: name,
                    path: path.clone(),
                    retry_after_ms: wait,
                    code: e.code.clone(),
                });
                let c = self.calls.get_mut(&id).expect("call");
                if c.rate_retries >= self.cfg.retry.max_rate_limit_retries {
                    return self.fail(id, e);
                }
                c.rate_retries += 1;
                c.phase = Phase::Queued;
                let app = &mut self.apps[a];
                let rates = app.rates;
                let b = app
                    .buckets
                    .entry(path)
                    .or_insert_with(|| Bucket::new(rates.burst, now));
                b.blocked_until = b.blocked_until.max(now + wait);
                app.queue.push(&self.calls[&id].call.path, id);
                self.pump_queue(a, now)
            }
            ErrorKind::QuotaExhausted => {
                let until = quota::next_reset(now);
                e.retry_after_ms = Some(until - now);
                let app = &mut self.apps[a];
                if app.quota_mode != QuotaMode::Off {
                    app.quota.roll(now);
                    if app.quota.exhaust(&path) {
                        let share = (self.cfg.store == StoreMode::External
                            && app.quota_mode == QuotaMode::Enforce)
                            .then(|| app.limit(&path))
                            .flatten();
                        self.event(Event::QuotaExhausted {
                            app: name,
                            path: path.clone(),
                            until_ms: until,
                        });
                        if let Some(limit) = share {
                            // What one process learned, the fleet learns: the
                            // shared count is pushed to the limit, so the
                            // others' next counts are refused before sending.
                            let key = self.quota_key(a, &path, now);
                            self.store(
                                StoreCommand::IncrBy {
                                    key,
                                    delta: i64::try_from(limit).unwrap_or(i64::MAX),
                                    ttl_ms: until - now,
                                },
                                StorePurpose::QuotaIncr(a, path),
                            );
                        }
                    }
                }
                self.fail(id, e)
            }
            ErrorKind::AdminConfirmationRequired => {
                self.event(Event::AdminConfirmationRequired {
                    app: name,
                    path,
                    code: e.code.clone(),
                });
                self.fail(id, e)
            }
            ErrorKind::IpBlocked => {
                let ms = block_ms.unwrap_or(3_600_000);
                let until = now + ms;
                e.retry_after_ms = Some(ms);
                self.apps[a].blocked = Some((until, e.code.clone()));
                self.event(Event::IpBlocked {
                    app: name,
                    until_ms: until,
                    code: e.code.clone(),
                });
                self.fail(id, e)
            }
            _ => self.fail(id, e),
        }
    }

    /// Schedules a resend after backoff, or fails the call when attempts are used up.
    fn retry_later(
        &mut self,
        id: CallId,
        reason: ErrorKind,
        delay: Option<u64>,
        now: u64,
        e: ApiError,
    ) {
        let c = self.calls.get_mut(&id).expect("call");
        if c.attempts >= self.cfg.retry.max_attempts {
            return self.fail(id, e);
        }
        let next = c.attempts + 1;
        let delay =
            delay.unwrap_or_else(|| retry::backoff_ms(&self.cfg.retry, next, &mut self.rng));
        let until = now + delay;
        let c = self.calls.get_mut(&id).expect("call");
        c.phase = Phase::Waiting { until };
        let app = self.apps[c.app].name.clone();
        self.event(Event::RetryScheduled {
            app,
            call_id: id,
            attempt: next,
            delay_ms: delay,
            reason,
        });
        if delay == 0 {
            self.calls.get_mut(&id).expect("call").phase = Phase::New;
            self.dispatch(id, now);
        } else {
            self.timer(until, Timer::Call(id));
        }
    }

    fn on_call_transport_error(
        &mut self,
        id: CallId,
        a: usize,
        host: usize,
        kind: TransportErrorKind,
        now: u64,
    ) {
        self.apps[a].inflight = self.apps[a].inflight.saturating_sub(1);
        self.host_failed(a, host, kind, now);
        let Some(c) = self.calls.get_mut(&id) else {
            if !self.apps[a].queue.is_empty() {
                self.pump_queue(a, now);
            }
            return;
        };
        let mut e = ApiError::new(
            ErrorKind::Transport,
            format!(
                "{} failure talking to {}",
                kind.as_str(),
                self.apps[a].hosts[host]
            ),
        );
        e.code = Some(Code::Str(kind.as_str().to_string()));
        if retry::safe_to_resend(c.method, c.call.idempotent, Some(kind)) {
            // Another host is tried at once; the same host only after backoff.
            let other = kind.counts_for_circuit() && self.apps[a].hosts.len() > 1;
            if kind.counts_for_circuit() && host < 64 {
                c.failed_hosts |= 1 << host;
            }
            self.retry_later(id, ErrorKind::Transport, other.then_some(0), now, e);
        } else {
            self.fail(id, e);
        }
        if !self.apps[a].queue.is_empty() {
            self.pump_queue(a, now);
        }
    }
}
