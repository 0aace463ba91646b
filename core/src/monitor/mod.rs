//! Monitoring: what an operator watches (seed 004 §7). Every upstream
//! exchange is classified into the seed's alert categories
//! ([`category`]); failures are aggregated per app and category in
//! 5-minute windows ([`alerts`]); counts and durations feed the
//! Prometheus text ([`metrics`]). The engine reads its own state and these
//! into the status snapshot and the metrics (`engine::report`). Nothing
//! here decides what the
//! engine does next: it only watches, so a host that never asks for a
//! snapshot pays for a few counter updates per request.
//!
//! Durations are differences of the `now_ms` the host passes with the send
//! (the `poll_output` that handed it out) and with the answer: the host's
//! clock, as for everything else.

pub(crate) mod alerts;
pub(crate) mod category;
pub(crate) mod metrics;

use crate::output::Event;
use crate::platform::envelope::Verdict;
use alerts::{Alerts, Sample};
use category::{Category, Outcome};
use metrics::Counters;

/// A request handed to the host and not yet answered.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub(crate) app: usize,
    pub(crate) api: String,
    pub(crate) host: String,
    pub(crate) sent_at: u64,
}

/// What the monitor remembers of one app's credential.
#[derive(Debug, Default, Clone)]
pub(crate) struct TokenWatch {
    pub(crate) obtained_at: Option<u64>,
    pub(crate) expires_at: Option<u64>,
    /// A call reported the cached token invalid since the last fetch.
    pub(crate) invalidated: bool,
    pub(crate) last: Option<Refresh>,
    pub(crate) refreshes: u64,
}

/// The latest token fetch: when, why, and how it ended.
#[derive(Debug, Clone)]
pub(crate) struct Refresh {
    pub(crate) at: u64,
    pub(crate) trigger: &'static str,
    /// `ok` or an error kind.
    pub(crate) result: &'static str,
    pub(crate) code: Option<crate::error::Code>,
}

#[derive(Debug, Default)]
pub(crate) struct Monitor {
    sent: crate::call::IdMap<Exchange>,
    /// The exchange whose failure is being handled: a circuit it opens is
    /// that app's MarkFail, with that exchange as the sample.
    context: Option<(usize, String, String)>,
    /// The envelope's reading of the answer being handled, set by the
    /// handler that classified it (so the body is parsed once).
    verdict: Option<(Outcome, Option<&'static str>)>,
    pub(crate) alerts: Alerts,
    pub(crate) counters: Counters,
    pub(crate) tokens: Vec<TokenWatch>,
}

impl Monitor {
    pub(crate) fn new(apps: usize) -> Monitor {
        Monitor {
            tokens: vec![TokenWatch::default(); apps],
            ..Monitor::default()
        }
    }

    pub(crate) fn sent(&mut self, id: u64, ex: Exchange) {
        self.sent.insert(id, ex);
    }

    /// The exchange of request `id`, now answered or failed.
    pub(crate) fn take(&mut self, id: u64) -> Option<Exchange> {
        self.verdict = None;
        self.sent.remove(&id)
    }

    /// The envelope's verdict on the answer being handled.
    pub(crate) fn note(&mut self, verdict: &Verdict, status: u16) {
        let reason = match verdict {
            Verdict::Malformed { reason } => Some(*reason),
            _ => None,
        };
        self.verdict = Some((Outcome::of_verdict(verdict, status), reason));
    }

    /// An HTTP answer arrived for `ex`.
    pub(crate) fn answered(&mut self, ex: Exchange, status: u16, len: usize, now: u64) {
        let (outcome, reason) = match self.verdict.take() {
            Some(v) => v,
            None => (Outcome::from_status(status), None),
        };
        if let Outcome::Failed(c) = outcome {
            // The seed's sample: what came back and how long it was.
            let error = match reason {
                Some(r) => format!("HTTP {status}, {len} bytes: {r}"),
                None => format!("HTTP {status}, {len} bytes"),
            };
            self.alert(&ex, c, error, now);
        }
        self.counters.exchange(&ex, outcome, now);
    }

    /// Starts handling a transport failure of `ex` (see `context`).
    pub(crate) fn failing(&mut self, ex: &Exchange) {
        self.context = Some((ex.app, ex.api.clone(), ex.host.clone()));
    }

    /// The transport failure of `ex` has been handled.
    pub(crate) fn failed(&mut self, ex: Exchange, c: Category, timeout_ms: u64, now: u64) {
        self.context = None;
        let error = c.describe(timeout_ms);
        self.alert(&ex, c, error, now);
        self.counters.exchange(&ex, Outcome::Failed(c), now);
    }

    fn alert(&mut self, ex: &Exchange, c: Category, error: String, now: u64) {
        let sample = Sample {
            host: ex.host.clone(),
            api: ex.api.clone(),
            error,
        };
        self.alerts.record(ex.app, c, sample, now);
    }

    /// Every event passes here on its way to the host.
    pub(crate) fn observe(&mut self, app: Option<usize>, e: &Event, now: u64) {
        match (e, app) {
            (Event::TokenFetched { expires_at_ms, .. }, Some(a)) => {
                let t = &mut self.tokens[a];
                let trigger = trigger(t, now);
                t.obtained_at = Some(now);
                t.expires_at = Some(*expires_at_ms);
                t.invalidated = false;
                t.refreshes += 1;
                t.last = Some(Refresh {
                    at: now,
                    trigger,
                    result: "ok",
                    code: None,
                });
                self.counters.refresh(a, trigger, "ok");
            }
            (Event::TokenFetchFailed { kind, code, .. }, Some(a)) => {
                let t = &mut self.tokens[a];
                let trigger = trigger(t, now);
                t.last = Some(Refresh {
                    at: now,
                    trigger,
                    result: kind.as_str(),
                    code: code.clone(),
                });
                self.counters.refresh(a, trigger, kind.as_str());
            }
            (Event::TokenInvalidated { .. }, Some(a)) => self.tokens[a].invalidated = true,
            (Event::RetryScheduled { reason, .. }, Some(a)) => {
                self.counters.retry(a, reason.as_str())
            }
            (Event::CircuitOpened { host, until_ms }, _) => {
                if let Some((a, api, _)) = self.context.clone() {
                    let ex = Exchange {
                        app: a,
                        api,
                        host: host.clone(),
                        sent_at: now,
                    };
                    let error = format!(
                        "host blocked after repeated failures until {}",
                        alerts::utc(*until_ms)
                    );
                    self.alert(&ex, Category::MarkFail, error, now);
                }
            }
            _ => {}
        }
    }
}

/// Why a token is being fetched, as far as the monitor can tell.
fn trigger(t: &TokenWatch, now: u64) -> &'static str {
    match t.expires_at {
        _ if t.invalidated => "invalidated",
        None => "initial",
        Some(exp) if now >= exp => "expired",
        Some(_) => "refresh",
    }
}
