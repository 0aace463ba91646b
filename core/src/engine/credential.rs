//! Credentials: one cached token per app, fetched once for any number of
//! waiting calls (single flight), refreshed `refresh_margin_ms` before expiry
//! while calls keep using it, and invalidated only by a call that failed with
//! the very token still cached (compare-and-invalidate).
//!
//! Expiry is counted from when the fetch was *sent*, so a slow answer can
//! only make the engine refresh early, never use a token too long.

use crate::call::CallId;
use crate::config::{QuotaMode, Secret, StoreMode};
use crate::engine::{Engine, Purpose, Timer};
use crate::error::{ApiError, Code, ErrorKind, TransportErrorKind};
use crate::http::{HttpRequest, HttpResponse};
use crate::output::Event;
use crate::platform::envelope::{self, Verdict};
use crate::platform::request;
use crate::policy::quota;
use crate::policy::retry;

/// A cached token.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub(crate) value: Secret,
    pub(crate) expires_at: u64,
    pub(crate) refresh_at: Option<u64>,
}

/// What the credential is doing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Fetch {
    #[default]
    Idle,
    /// A token request is in flight.
    Http,
    /// A store operation of the fleet protocol is outstanding.
    Store,
    /// Lost the lease: re-read the store at `until`.
    Polling { until: u64 },
    /// The token endpoint failed: try again at `until` (forced again if it was).
    Backoff { until: u64, forced: bool },
}

/// One app's credential state.
#[derive(Clone, Debug, Default)]
pub(crate) struct Cred {
    pub(crate) token: Option<Token>,
    /// Bumped whenever the cached token's value changes: requests remember
    /// it, so a failure can tell whether it concerns the cached token.
    pub(crate) gen: u64,
    pub(crate) fetch: Fetch,
    pub(crate) waiting: Vec<CallId>,
    /// The token a call reported invalid (stable token: a non-forced fetch
    /// returning it again calls for `force_refresh`).
    pub(crate) failed: Option<Secret>,
    /// The platform's code for it (a token server is told).
    pub(crate) failed_code: Option<Code>,
    /// Host requests for the token itself (`Engine::submit_token`).
    pub(crate) token_requests: Vec<CallId>,
    pub(crate) refresh_token: Option<Secret>,
    /// Consecutive failed fetch attempts.
    pub(crate) attempts: u32,
    pub(crate) forced_day: u64,
    pub(crate) forced_count: u32,
    pub(crate) last_forced_ms: Option<u64>,
    /// `last_forced_ms` before the forced fetch in flight (given back if it never left).
    pub(crate) prev_forced_ms: Option<u64>,
    /// Fleet mode: this process holds the lease.
    pub(crate) lock_held: bool,
    /// A bit per host that failed the current fetch at the transport level.
    pub(crate) failed_hosts: u64,
}

impl Cred {
    pub(crate) fn valid(&self, now: u64) -> Option<&Token> {
        self.token.as_ref().filter(|t| now < t.expires_at)
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.fetch == Fetch::Idle
    }

    pub(crate) fn waits_until(&self) -> Option<u64> {
        match self.fetch {
            Fetch::Polling { until } | Fetch::Backoff { until, .. } => Some(until),
            _ => None,
        }
    }

    /// Drops the cached token, whichever it is (a revocation, a new
    /// authorization that killed it).
    pub(crate) fn drop_token(&mut self) {
        if self.token.take().is_some() {
            self.gen += 1;
        }
    }

    /// Drops the cached token if it is the one generation `gen` used.
    pub(crate) fn invalidate(&mut self, gen: u64, code: Option<Code>) -> bool {
        if gen != self.gen || self.token.is_none() {
            return false;
        }
        self.failed = self.token.take().map(|t| t.value);
        self.failed_code = code;
        true
    }

    /// Whether a forced refresh is allowed now; `Err` holds the wait.
    fn force_allowed(&mut self, now: u64, per_day: u32, min_interval_ms: u64) -> Result<(), u64> {
        let day = quota::day_of(now);
        if self.forced_day != day {
            self.forced_day = day;
            self.forced_count = 0;
        }
        if self.forced_count >= per_day {
            return Err(quota::next_reset(now) - now);
        }
        match self.last_forced_ms {
            Some(last) if now < last.saturating_add(min_interval_ms) => {
                Err(last.saturating_add(min_interval_ms) - now)
            }
            _ => Ok(()),
        }
    }
}

/// What a token fetch sends as `{ticket}` (`Engine::ticket_for_fetch`, for
/// platforms whose token needs a pushed ticket).
pub(crate) enum TicketFor {
    /// This ticket (None: the platform needs none).
    Ready(Option<String>),
    /// The store is being read; the fetch goes on when it answers.
    Looking,
    /// None usable: the fetch fails with this.
    Missing(ApiError),
}

/// Where a token came from (events).
#[derive(Clone, Copy)]
pub(crate) enum Source {
    Http { forced: bool },
    Store,
    Server,
}

impl Engine {
    /// Starts obtaining a token for app `a` unless that is under way.
    pub(crate) fn start_fetch(&mut self, a: usize, now: u64) {
        let app = &self.apps[a];
        if app.token.is_none() || !app.cred.is_idle() {
            return;
        }
        if self.cfg.store == StoreMode::External && app.source.is_none() {
            self.fleet_read(a, now);
        } else {
            self.http_fetch(a, now, false);
        }
    }

    /// A `Fetch` timer: the end of a backoff or of a poll interval.
    pub(crate) fn resume_fetch(&mut self, a: usize, now: u64) {
        match std::mem::take(&mut self.apps[a].cred.fetch) {
            Fetch::Polling { .. } => self.fleet_read(a, now),
            Fetch::Backoff { forced, .. } => self.http_fetch(a, now, forced),
            _ => {}
        }
    }

    /// Sends a request to the token endpoint (or, with a refresh token, the refresh endpoint).
    pub(crate) fn http_fetch(&mut self, a: usize, now: u64, forced: bool) {
        self.http_fetch_with(a, now, forced, false)
    }

    /// [`Engine::http_fetch`]; `looked`: the store was already searched for a pushed ticket.
    pub(crate) fn http_fetch_with(&mut self, a: usize, now: u64, forced: bool, looked: bool) {
        let app = &self.apps[a];
        if app.source.is_some() {
            return self.server_fetch(a, now);
        }
        if app.authorizer.is_some() {
            return self.authorizer_fetch(a, now, looked);
        }
        self.endpoint_fetch(a, now, forced, looked)
    }

    /// A request to the app's own token endpoint (or refresh endpoint).
    pub(crate) fn endpoint_fetch(&mut self, a: usize, now: u64, forced: bool, looked: bool) {
        let Some(ep) = self.apps[a].token.clone() else {
            return;
        };
        let ticket = match self.ticket_for_fetch(a, now, forced, looked) {
            TicketFor::Ready(t) => t,
            TicketFor::Looking => return,
            TicketFor::Missing(e) => {
                return self.token_fetch_failed(a, e, false, None, forced, now)
            }
        };
        let app = &self.apps[a];
        let via_refresh = !forced && app.cred.refresh_token.is_some() && app.refresh.is_some();
        let (ep, refresh_token) = if via_refresh {
            (
                app.refresh.clone().expect("refresh endpoint"),
                app.cred
                    .refresh_token
                    .as_ref()
                    .map(|s| s.expose().to_string()),
            )
        } else {
            (ep, None)
        };
        if app.quota_mode == QuotaMode::Enforce {
            let path = ep.path.to_string();
            if let Some(e) = {
                let app = &mut self.apps[a];
                app.quota.roll(now);
                app.quota.refused(&path, app.limit(&path)).then(|| {
                    ApiError::new(
                        ErrorKind::QuotaExhausted,
                        format!("daily quota of the token endpoint `{path}` is used up"),
                    )
                })
            } {
                let mut e = e;
                e.retry_after_ms = Some(quota::next_reset(now) - now);
                return self.token_fetch_failed(a, e, false, None, forced, now);
            }
        }
        let app = &self.apps[a];
        let host = self.circuits.choose(&app.hosts, now, app.cred.failed_hosts);
        let held = crate::platform::account::Held {
            refresh_token: refresh_token.as_deref(),
            ticket: ticket.as_deref(),
        };
        let (url, headers, body) = request::token_request(app, &ep, &app.hosts[host], forced, held);
        let method = ep.spec.method.as_str();
        let host_name = app.hosts[host].clone();
        let id = self.next_request_id();
        let cred = &mut self.apps[a].cred;
        cred.fetch = Fetch::Http;
        if forced {
            cred.forced_count += 1;
            cred.prev_forced_ms = cred.last_forced_ms;
            cred.last_forced_ms = Some(now);
        }
        self.circuits.on_send(&host_name, now);
        self.requests.insert(
            id,
            Purpose::Token {
                app: a,
                host,
                sent_at: now,
                forced,
                via_refresh,
            },
        );
        self.count_quota(a, &ep.path, now);
        let timeout_ms = self.cfg.timeout_ms;
        self.send(
            HttpRequest {
                id,
                method,
                url,
                headers,
                body: body.into(),
                timeout_ms,
            },
            now,
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_token_response(
        &mut self,
        a: usize,
        host: usize,
        sent_at: u64,
        forced: bool,
        via_refresh: bool,
        resp: HttpResponse,
        now: u64,
    ) {
        let name = self.apps[a].hosts[host].clone();
        if let Some(e) = self.circuits.on_answer(&name) {
            self.event(e);
        }
        self.apps[a].cred.fetch = Fetch::Idle;
        let rt = self.apps[a].rt.clone();
        let ep = if via_refresh {
            self.apps[a].refresh.clone()
        } else {
            self.apps[a].token.clone()
        }
        .expect("endpoint");
        let verdict = envelope::classify(rt.profile.dialect, &rt.fields, &resp);
        self.monitor.note(&verdict, resp.status);
        let parsed = match verdict {
            Verdict::Success { json: true } => {
                serde_json::from_slice::<serde_json::Value>(&resp.body)
                    .ok()
                    .and_then(|v| {
                        let token = envelope::field(&v, &ep.spec.token_field)?
                            .as_str()?
                            .to_string();
                        if token.is_empty() {
                            return None;
                        }
                        let expires_in = envelope::field(&v, &ep.spec.expires_in_field)
                            .and_then(|x| {
                                x.as_u64()
                                    .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
                            })
                            .unwrap_or(ep.spec.default_expires_in_s);
                        let refresh = ep
                            .spec
                            .refresh_token_field
                            .as_deref()
                            .and_then(|f| envelope::field(&v, f))
                            .and_then(|x| x.as_str())
                            .map(Secret::new);
                        Some((Secret::new(token), expires_in, refresh))
                    })
            }
            _ => None,
        };
        match (parsed, verdict) {
            (Some((value, expires_in, refresh)), _) => {
                let cred = &mut self.apps[a].cred;
                if refresh.is_some() {
                    cred.refresh_token = refresh;
                }
                // Stable token: the platform handed back the token a call just
                // reported invalid, so only a forced refresh can replace it.
                if let (false, Some(limit)) = (forced, ep.spec.force_limit.as_ref()) {
                    if cred.failed.as_ref() == Some(&value) {
                        match cred.force_allowed(now, limit.per_day, limit.min_interval_ms) {
                            Ok(()) => return self.http_fetch(a, now, true),
                            Err(wait) => {
                                let app = self.apps[a].name.clone();
                                self.event(Event::ForceRefreshRefused {
                                    app,
                                    retry_after_ms: wait,
                                });
                            }
                        }
                    }
                }
                // `expires_in` comes from the wire: saturate rather than trust it.
                let expires_at = sent_at.saturating_add(
                    expires_in
                        .saturating_mul(1000)
                        .min(crate::engine::MAX_DURATION_MS),
                );
                if expires_at <= now {
                    // Handing it out would send every waiting call straight
                    // back for another fetch: a loop, not a token.
                    let mut e = ApiError::new(
                        ErrorKind::MalformedResponse,
                        format!("token endpoint answered an already expired token (expires_in {expires_in})"),
                    );
                    e.http_status = Some(resp.status);
                    return self.token_fetch_failed(a, e, false, None, forced, now);
                }
                self.adopt(
                    a,
                    value,
                    expires_at,
                    None,
                    Source::Http { forced },
                    now,
                    sent_at,
                );
                if self.apps[a].cred.lock_held {
                    self.fleet_publish(a, now);
                }
            }
            (None, Verdict::Success { .. }) | (None, Verdict::Malformed { .. }) => {
                let mut e = ApiError::new(
                    ErrorKind::MalformedResponse,
                    format!("token endpoint answer lacks `{}`", ep.spec.token_field),
                );
                e.http_status = Some(resp.status);
                self.token_fetch_failed(a, e, false, None, forced, now);
            }
            (None, failure) => {
                let (e, _) = self.platform_error(
                    &rt.profile,
                    &[&rt.profile.token_errors, &rt.profile.errors],
                    failure,
                    &resp,
                    now,
                );
                if e.kind == ErrorKind::TicketUnavailable {
                    // The platform refused the pushed ticket (expired, or not
                    // this component's): sending it again cannot help, so
                    // fetches fail locally until the next push.
                    self.apps[a].pushed.current = None;
                }
                if via_refresh {
                    // The refresh token is spent or refused: authenticate afresh, once.
                    self.apps[a].cred.refresh_token = None;
                    return self.http_fetch(a, now, false);
                }
                let retryable = matches!(e.kind, ErrorKind::Busy | ErrorKind::RateLimited);
                let wait = e.retry_after_ms;
                self.token_fetch_failed(a, e, retryable, wait, forced, now);
            }
        }
    }

    pub(crate) fn on_token_transport_error(
        &mut self,
        a: usize,
        host: usize,
        kind: TransportErrorKind,
        forced: bool,
        now: u64,
    ) {
        self.host_failed(a, host, kind, now);
        self.apps[a].cred.fetch = Fetch::Idle;
        if kind.counts_for_circuit() && host < 64 {
            self.apps[a].cred.failed_hosts |= 1 << host;
        }
        let mut e = ApiError::new(
            ErrorKind::Transport,
            format!(
                "{} failure fetching a token from {}",
                kind.as_str(),
                self.apps[a].hosts[host]
            ),
        );
        e.code = Some(crate::error::Code::Str(kind.as_str().to_string()));
        // An unforced token fetch is harmless to repeat. A forced one that
        // provably never left did not count with the platform: give the
        // day's allowance back and repeat it. One that may have arrived is
        // not repeated.
        if forced && kind.never_left() {
            let cred = &mut self.apps[a].cred;
            cred.forced_count = cred.forced_count.saturating_sub(1);
            cred.last_forced_ms = cred.prev_forced_ms;
        }
        let retryable = !forced || kind.never_left();
        let wait = (kind.counts_for_circuit() && self.apps[a].hosts.len() > 1).then_some(0);
        self.token_fetch_failed(a, e, retryable, wait, forced, now);
    }

    /// The token endpoint failed: retry with backoff, or give up and fail
    /// the waiting calls (never looping on a configuration error).
    pub(crate) fn token_fetch_failed(
        &mut self,
        a: usize,
        e: ApiError,
        retryable: bool,
        wait: Option<u64>,
        forced: bool,
        now: u64,
    ) {
        let cred = &mut self.apps[a].cred;
        if retryable && cred.attempts + 1 < self.cfg.retry.max_attempts {
            // Fleet mode keeps the lease across retries, so no other process
            // fetches meanwhile and the result is still published.
            cred.attempts += 1;
            let next = cred.attempts + 1;
            let delay =
                wait.unwrap_or_else(|| retry::backoff_ms(&self.cfg.retry, next, &mut self.rng));
            if delay == 0 {
                return self.http_fetch(a, now, forced);
            }
            let until = now + delay;
            self.apps[a].cred.fetch = Fetch::Backoff { until, forced };
            return self.timer(until, Timer::Fetch(a));
        }
        if self.apps[a].cred.lock_held {
            self.fleet_unlock(a);
        }
        let cred = &mut self.apps[a].cred;
        cred.attempts = 0;
        cred.failed_hosts = 0;
        // A still-valid token keeps serving; try again later only for
        // passing failures, never for a configuration error.
        let retry_at = retryable.then_some(now + self.cfg.retry.max_delay_ms);
        if let Some(t) = cred.token.as_mut().filter(|t| now < t.expires_at) {
            t.refresh_at = retry_at;
            if let Some(at) = retry_at {
                self.timer(at, Timer::Refresh(a));
            }
        }
        let app = self.apps[a].name.clone();
        self.event(Event::TokenFetchFailed {
            app,
            kind: e.kind,
            code: e.code.clone(),
        });
        for id in std::mem::take(&mut self.apps[a].cred.waiting) {
            if self.still_waiting(id) {
                self.fail(id, e.clone());
            }
        }
        self.answer_token_requests(a, Err(e), now);
    }

    /// Whether call `id` is still waiting for a token (a call may complete
    /// or move on while its id sits in the waiting list, or sit there twice).
    fn still_waiting(&self, id: CallId) -> bool {
        self.calls
            .get(&id)
            .is_some_and(|c| c.phase == crate::engine::Phase::NeedToken)
    }

    /// When to refresh a token expiring at `expires_at`.
    fn refresh_at(
        &mut self,
        a: usize,
        expires_at: u64,
        sent_at: u64,
        same_as_before: bool,
        now: u64,
    ) -> u64 {
        let ep = &self.apps[a].token.as_ref().expect("token endpoint").spec;
        if same_as_before && ep.same_while_valid {
            // The platform hands out the same token until it renews it: asking
            // again before then only yields a shorter life (a fetch storm).
            return expires_at
                .saturating_sub(ep.renew_window_ms)
                .max(now + 1000);
        }
        let lifetime = expires_at.saturating_sub(sent_at);
        let margin = self.cfg.refresh_margin_ms.min(lifetime / 2);
        let jitter = match &self.apps[a].authorizer {
            // Thousands of authorizers authorized in one batch would refresh
            // in one minute, forever: theirs spread over a quarter lifetime,
            // at a phase of their own that every process of a fleet agrees on.
            Some(au) => au.phase() % (lifetime / 4 + 1),
            None => match self.cfg.refresh_jitter_ms.min(lifetime / 4) {
                0 => 0,
                j => self.rng.next_u64() % (j + 1),
            },
        };
        // Never in the past: a slow answer must not start refresh after refresh.
        (expires_at - margin - jitter).max(now + 1000)
    }

    /// Caches a token and releases the calls waiting for it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn adopt(
        &mut self,
        a: usize,
        value: Secret,
        expires_at: u64,
        refresh_at: Option<u64>,
        source: Source,
        now: u64,
        sent_at: u64,
    ) {
        let cred = &self.apps[a].cred;
        let same = cred
            .token
            .as_ref()
            .map(|t| &t.value)
            .or(cred.failed.as_ref())
            == Some(&value);
        let refresh_at =
            refresh_at.unwrap_or_else(|| self.refresh_at(a, expires_at, sent_at, same, now));
        let cred = &mut self.apps[a].cred;
        if cred.token.as_ref().map(|t| &t.value) != Some(&value) {
            cred.gen += 1;
        }
        cred.token = Some(Token {
            value,
            expires_at,
            refresh_at: Some(refresh_at),
        });
        cred.failed = None;
        cred.failed_code = None;
        cred.attempts = 0;
        cred.failed_hosts = 0;
        cred.fetch = Fetch::Idle;
        let (source, forced) = match source {
            Source::Http { forced } => ("http", forced),
            Source::Store => ("store", false),
            Source::Server => ("server", false),
        };
        let app = self.apps[a].name.clone();
        self.event(Event::TokenFetched {
            app,
            expires_at_ms: expires_at,
            refresh_at_ms: Some(refresh_at),
            source,
            forced,
        });
        self.timer(refresh_at, Timer::Refresh(a));
        for id in std::mem::take(&mut self.apps[a].cred.waiting) {
            if self.still_waiting(id) {
                self.calls.get_mut(&id).expect("call").phase = crate::engine::Phase::New;
                self.dispatch(id, now);
            }
        }
        let reply = self.token_reply(a, now);
        self.answer_token_requests(a, Ok(reply), now);
    }
}
