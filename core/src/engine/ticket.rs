//! JS-SDK tickets (OA `jsapi` and `wx_card`, WeCom corp `jsapi` and agent
//! `agent_config`): credentials derived from the access token.
//!
//! A ticket request (`Engine::submit_ticket`) is answered from the cache
//! while the ticket is fresh; otherwise every request for that ticket waits
//! on one fetch, an ordinary API call made by the engine itself, so the
//! token it needs, its retries and its failover are the calls' own. Past
//! its refresh point a ticket is still handed out while one fetch renews it
//! in the background. In fleet mode the ticket is read from the store before
//! fetching and published after (no lease: a ticket fetch does not void the
//! other processes' tickets, so a rare double fetch costs one quota unit).

use crate::call::{Call, CallId, Reply};
use crate::config::{Secret, StoreMode};
use crate::engine::{Engine, StorePurpose};
use crate::error::{ApiError, ErrorKind};
use crate::output::{Event, Output, StoreCommand, StoreResult};
use serde_json::{json, Value};

/// One ticket's cache and waiters.
#[derive(Debug, Default)]
pub(crate) struct TicketSlot {
    value: Option<(Secret, u64, u64)>, // ticket, expires_at, refresh_at
    /// The engine's own call fetching it, or a store read in flight.
    fetching: bool,
    waiting: Vec<CallId>,
}

impl TicketSlot {
    /// Hands over the waiting requests; the slot fetches nothing more.
    pub(crate) fn abandon(&mut self, into: &mut Vec<CallId>) {
        into.append(&mut self.waiting);
        self.fetching = false;
    }

    fn fresh(&self, now: u64) -> Option<&(Secret, u64, u64)> {
        self.value.as_ref().filter(|(_, expires, _)| now < *expires)
    }
}

/// What an internal call is for.
#[derive(Debug, Clone)]
pub(crate) struct TicketFetch {
    pub(crate) app: usize,
    pub(crate) kind: String,
    pub(crate) sent_at: u64,
}

impl Engine {
    /// Asks for a JS-SDK ticket (`jsapi`, `wx_card`, `agent_config`, as the
    /// app's profile names them). It completes like a call: `Done` with a JSON
    /// reply `{"ticket": …, "expires_at_ms": …}`, or an error.
    pub fn submit_ticket(&mut self, app: &str, kind: &str, now_ms: u64) -> CallId {
        let (id, a, now) = match self.host_request(app, now_ms) {
            Ok(started) => started,
            Err(done) => return done,
        };
        if !self.apps[a].rt.profile.tickets.contains_key(kind) {
            let known: Vec<_> = self.apps[a].rt.profile.tickets.keys().cloned().collect();
            let e = ApiError::new(
                ErrorKind::Config,
                format!(
                    "platform `{}` has no ticket `{kind}` (it has: {})",
                    self.apps[a].rt.profile.name,
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ),
            );
            return self.complete(id, app.to_string(), Err(e));
        }
        let page_id = page_app_id(&self.apps[a]);
        let slot = self.apps[a].tickets.entry(kind.to_string()).or_default();
        if let Some((ticket, expires, refresh)) = slot.fresh(now) {
            let reply = ticket_reply(&page_id, ticket, *expires);
            let due = now >= *refresh && !slot.fetching;
            let name = self.apps[a].name.clone();
            self.complete(id, name, Ok(reply));
            if due {
                self.start_ticket_fetch(a, kind, now);
            }
            return id;
        }
        slot.waiting.push(id);
        if !slot.fetching {
            self.start_ticket_fetch(a, kind, now);
        }
        id
    }

    fn ticket_key(&self, a: usize, kind: &str) -> String {
        format!(
            "{}ticket:{}:{}",
            self.cfg.store_prefix,
            self.apps[a].store_id,
            crate::platform::account::key_part(kind)
        )
    }

    fn start_ticket_fetch(&mut self, a: usize, kind: &str, now: u64) {
        self.apps[a].tickets.get_mut(kind).expect("slot").fetching = true;
        if self.cfg.store == StoreMode::External {
            let key = self.ticket_key(a, kind);
            self.store(
                StoreCommand::Get { key },
                StorePurpose::TicketRead(a, kind.to_string()),
            );
            return;
        }
        self.ticket_http(a, kind, now);
    }

    fn ticket_http(&mut self, a: usize, kind: &str, now: u64) {
        let ep = self.apps[a].rt.profile.tickets[kind].clone();
        let mut call = Call::get(self.apps[a].name.clone(), ep.path);
        call.query = ep.query;
        call.idempotent = true;
        let fetch = TicketFetch {
            app: a,
            kind: kind.to_string(),
            sent_at: now,
        };
        self.submit_internal(call, crate::engine::Internal::Ticket(fetch), now);
    }

    /// A store read for a ticket: adopt a fresh one, or fetch.
    pub(crate) fn on_ticket_read(&mut self, a: usize, kind: String, r: StoreResult, now: u64) {
        let stored = self.own_value(a, r, "ticket");
        let fresh = stored.and_then(|v| {
            let t = v.get("ticket")?.as_str()?.to_string();
            let exp = v.get("expires_at_ms")?.as_u64()?;
            let refresh = v.get("refresh_at_ms")?.as_u64()?;
            // Never past its expiry, whatever refresh point the value claims.
            (now < refresh && now < exp).then_some((t, exp, refresh))
        });
        match fresh {
            Some((t, exp, refresh)) => {
                self.ticket_ready(a, &kind, Secret::new(t), exp, refresh, "store")
            }
            None => self.ticket_http(a, &kind, now),
        }
    }

    /// The engine's own ticket call completed.
    pub(crate) fn on_ticket_call(
        &mut self,
        f: TicketFetch,
        result: Result<Reply, ApiError>,
        now: u64,
    ) {
        let parsed = match result {
            Ok(r) => match parse_ticket(&r) {
                Some(t) => Ok(t),
                None => {
                    let mut e = ApiError::new(
                        ErrorKind::MalformedResponse,
                        "the ticket endpoint's answer has no `ticket`",
                    );
                    e.raw_body = Some(r.body);
                    Err(e)
                }
            },
            Err(e) => Err(e),
        };
        // Expiry counts from when the fetch started: retries and a slow
        // answer can use up a short-lived ticket before it arrives, and one
        // already expired must not be handed out.
        let parsed = match parsed {
            Ok((ticket, expires_in)) => {
                let expires = f.sent_at.saturating_add(
                    expires_in
                        .saturating_mul(1000)
                        .min(crate::engine::MAX_DURATION_MS),
                );
                if expires <= now {
                    Err(ApiError::new(
                        ErrorKind::MalformedResponse,
                        format!("ticket already expired on arrival (expires_in {expires_in})"),
                    ))
                } else {
                    Ok((ticket, expires))
                }
            }
            Err(e) => Err(e),
        };
        match parsed {
            Ok((ticket, expires)) => {
                let life = expires.saturating_sub(f.sent_at);
                let refresh = (expires - self.cfg.refresh_margin_ms.min(life / 2))
                    .max(now + 1000)
                    .min(expires);
                if self.cfg.store == StoreMode::External {
                    let key = self.ticket_key(f.app, &f.kind);
                    let value = json!({"v": 1, "account": self.apps[f.app].store_id, "ticket": ticket, "expires_at_ms": expires, "refresh_at_ms": refresh}).to_string();
                    self.store(
                        StoreCommand::Set {
                            key,
                            value,
                            ttl_ms: expires.saturating_sub(now).max(1),
                        },
                        StorePurpose::Write(f.app, "set"),
                    );
                }
                self.ticket_ready(
                    f.app,
                    &f.kind,
                    Secret::new(ticket),
                    expires,
                    refresh,
                    "http",
                );
            }
            Err(e) => {
                let slot = self.apps[f.app].tickets.get_mut(&f.kind).expect("slot");
                slot.fetching = false;
                let waiting = std::mem::take(&mut slot.waiting);
                let name = self.apps[f.app].name.clone();
                for id in waiting {
                    self.complete(id, name.clone(), Err(e.clone()));
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn ticket_ready(
        &mut self,
        a: usize,
        kind: &str,
        ticket: Secret,
        expires: u64,
        refresh: u64,
        source: &'static str,
    ) {
        let reply = ticket_reply(&page_app_id(&self.apps[a]), &ticket, expires);
        let slot = self.apps[a].tickets.get_mut(kind).expect("slot");
        slot.fetching = false;
        let waiting = std::mem::take(&mut slot.waiting);
        slot.value = Some((ticket, expires, refresh));
        let name = self.apps[a].name.clone();
        self.event(Event::TicketFetched {
            app: name.clone(),
            kind: kind.to_string(),
            expires_at_ms: expires,
            source,
        });
        for id in waiting {
            self.complete(id, name.clone(), Ok(reply.clone()));
        }
    }

    /// Withdraws a ticket request still waiting on a fetch; the fetch goes
    /// on for the others (and the cache). False if no such request waits.
    pub(crate) fn cancel_ticket_request(&mut self, id: CallId) -> bool {
        for a in 0..self.apps.len() {
            let found = self.apps[a].tickets.values_mut().any(|slot| {
                let before = slot.waiting.len();
                slot.waiting.retain(|w| *w != id);
                slot.waiting.len() != before
            });
            if found {
                let name = self.apps[a].name.clone();
                let e = ApiError::new(ErrorKind::Cancelled, "cancelled by the caller");
                self.complete(id, name, Err(e));
                return true;
            }
        }
        false
    }

    /// Emits `Done` for a ticket request.
    pub(crate) fn complete(
        &mut self,
        id: CallId,
        app: String,
        result: Result<Reply, ApiError>,
    ) -> CallId {
        let result = result.map_err(|mut e| {
            e.app = app;
            e.call_id = id;
            e
        });
        self.out.push_back(Output::Done(crate::output::Completion {
            call_id: id,
            result,
        }));
        id
    }
}

/// `{ticket, expires_in}` (7200 s when the platform leaves it out).
fn parse_ticket(r: &Reply) -> Option<(String, u64)> {
    let v = r.json_value()?;
    let ticket = v.get("ticket")?.as_str().filter(|t| !t.is_empty())?;
    let expires_in = v.get("expires_in").and_then(Value::as_u64).unwrap_or(7200);
    (expires_in > 0).then(|| (ticket.to_string(), expires_in))
}

/// The id a page's `wx.config` names: the AppID, or WeCom's corp id.
fn page_app_id(app: &crate::platform::account::Account) -> String {
    app.app_id
        .as_deref()
        .or(app.corp_id.as_deref())
        .unwrap_or_default()
        .to_string()
}

/// `{ticket, expires_at_ms, app_id}`: the page's app id comes with the
/// ticket, so hosts building `wx.config` need not repeat it.
fn ticket_reply(app_id: &str, ticket: &Secret, expires_at: u64) -> Reply {
    Reply {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: json!({"ticket": ticket.expose(), "expires_at_ms": expires_at, "app_id": app_id})
            .to_string()
            .into_bytes(),
        json: true,
    }
}
