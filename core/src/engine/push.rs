//! Pushed tickets: the open platform's `component_verify_ticket` and a WeCom
//! suite's `suite_ticket`, which the platform pushes to the app's callback
//! URL about every 10 minutes and whose token endpoint needs the latest one.
//!
//! A push is verified and decrypted with the app's own callback keys, and
//! must name the app (`AppId` / `SuiteId`): two platforms sharing one URL,
//! or one whose keys leaked into another's config, cannot overwrite each
//! other's tickets. Only a push created later than the held ticket replaces
//! it (the previous one is kept beside it); a push never fetches a token by
//! itself, since a component token fetch kills the previous token after five
//! minutes and the platform pushes 144 times a day. A ticket serves for the
//! profile's `valid_ms` after it arrived (12 h, WeCom 30 min); without one
//! the token fetch fails at once with `ticket_unavailable`, no request sent.
//!
//! Fleet mode: a kept ticket is written to the store (TTL its validity), and
//! a process about to fetch without a ticket of its own reads it from there,
//! so pushes may land on any process.

use crate::config::{Secret, StoreMode};
use crate::crypto::callback::{CallbackError, CallbackMessage, Inbound};
use crate::engine::credential::{Fetch, TicketFor};
use crate::engine::{Engine, StorePurpose};
use crate::error::{ApiError, ErrorKind};
use crate::output::{Event, StoreCommand, StoreResult};
use serde_json::{json, Value};

/// One pushed ticket.
#[derive(Clone, Debug)]
pub(crate) struct Pushed {
    pub(crate) value: Secret,
    /// The push's own time (platform seconds): orders pushes.
    pub(crate) created_s: u64,
    /// When it arrived (host clock): bounds its use.
    pub(crate) received_ms: u64,
}

/// The held ticket and the one before it.
#[derive(Clone, Debug, Default)]
pub(crate) struct PushSlot {
    pub(crate) current: Option<Pushed>,
    pub(crate) previous: Option<Pushed>,
}

impl PushSlot {
    /// Keeps `p` if it is newer than the held ticket.
    fn offer(&mut self, p: Pushed) -> bool {
        if self
            .current
            .as_ref()
            .is_some_and(|c| p.created_s <= c.created_s)
        {
            return false;
        }
        self.previous = self.current.replace(p);
        true
    }

    /// The ticket to send, while it is valid.
    pub(crate) fn usable(&self, now: u64, valid_ms: u64) -> Option<&Pushed> {
        self.current
            .as_ref()
            .filter(|p| now < p.received_ms.saturating_add(valid_ms))
    }
}

/// What a push to an app's callback URL came to ([`Engine::handle_push`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Push {
    /// The body to answer the platform with (`success`, or the echo of a URL check).
    pub reply: String,
    /// The push's `InfoType` (empty for a URL check).
    pub info_type: String,
    /// For a ticket push: whether it replaced the held ticket (false: not
    /// newer than it, ignored).
    pub ticket_kept: Option<bool>,
    /// Any other push (authorizations, suite events), verified and
    /// decrypted, for the host to act on.
    pub message: Option<CallbackMessage>,
    /// For an authorization push (`authorized`, `updateauthorized`,
    /// `unauthorized`): the authorizer's app name,
    /// `{component}/{authorizer_appid}`, already acted on.
    pub authorizer: Option<String>,
}

impl Push {
    /// `{"reply", "info_type", "ticket_kept", "message"}`, the message as
    /// [`CallbackMessage::to_json`] writes it (what the bindings hand over).
    pub fn to_json(&self) -> String {
        let message = self
            .message
            .as_ref()
            .map(|m| serde_json::from_str::<Value>(&m.to_json()).unwrap_or(Value::Null));
        json!({
            "reply": self.reply,
            "info_type": self.info_type,
            "ticket_kept": self.ticket_kept,
            "message": message,
            "authorizer": self.authorizer,
        })
        .to_string()
    }
}

fn refused(kind: ErrorKind, reason: &'static str, message: String) -> CallbackError {
    CallbackError::new(kind, reason, message)
}

impl Engine {
    fn pushed_key(&self, a: usize) -> String {
        format!("{}pushed:{}", self.cfg.store_prefix, self.apps[a].store_id)
    }

    /// A request to app `app`'s callback URL (its method, query parameters
    /// and body): verified, decrypted and, for a ticket push, kept if newer.
    /// Answer the platform with `reply` at once. Refused (nothing changed):
    /// an unknown app or one without `callback` (`config`), a bad signature
    /// or a push for another app (`signature_invalid`), a body that is not
    /// a well-formed push (`invalid_request`); `reason` says which.
    pub fn handle_push(
        &mut self,
        app: &str,
        method: &str,
        query: &[(String, String)],
        body: &[u8],
        now_ms: u64,
    ) -> Result<Push, CallbackError> {
        let now = crate::engine::clamp(now_ms);
        self.advance(now);
        let Some(&a) = self.by_name.get(app) else {
            return Err(refused(
                ErrorKind::Config,
                "unknown_app",
                format!("no app `{app}` is configured"),
            ));
        };
        let (Some(crypto), Some(spec)) = (
            self.apps[a].callback.as_ref(),
            self.apps[a].rt.profile.pushed_ticket.clone(),
        ) else {
            return Err(refused(
                ErrorKind::Config,
                "no_callback",
                format!("app `{app}` has no `callback` keys (only platforms with pushed tickets take pushes)"),
            ));
        };
        let body = std::str::from_utf8(body).map_err(|_| {
            refused(
                ErrorKind::InvalidRequest,
                "not_utf8",
                "the body is not UTF-8".into(),
            )
        })?;
        let message = match crypto.handle_request(method, query, body, Some(now / 1000))? {
            Inbound::Echo(echo) => {
                return Ok(Push {
                    reply: echo,
                    info_type: String::new(),
                    ticket_kept: None,
                    message: None,
                    authorizer: None,
                })
            }
            Inbound::Message { message, .. } => message,
        };
        let own = self.apps[a].app_id.as_deref().unwrap_or_default();
        match message.get(&spec.id_field) {
            Some(id) if id == own => {}
            other => {
                return Err(refused(
                    ErrorKind::SignatureInvalid,
                    "foreign_app",
                    format!(
                        "the push's `{}` is {}, not this app's `{own}`",
                        spec.id_field,
                        other.map_or("missing".into(), |id| format!("`{id}`"))
                    ),
                ))
            }
        }
        let info_type = message.get("InfoType").unwrap_or_default().to_string();
        if info_type != spec.info_type {
            let authorizer = match self.authorizer_push(a, &info_type, &message, now) {
                Some(Err(field)) => {
                    return Err(refused(
                        ErrorKind::InvalidRequest,
                        "missing_field",
                        format!("the `{info_type}` push has no `{field}`"),
                    ))
                }
                Some(Ok(name)) => (Some(true), name),
                None => (None, None),
            };
            let (acted, authorizer) = authorizer;
            let mut message = message;
            if acted.is_some() {
                // Spent by the engine's exchange: a second use fails, and a
                // code is a credential, so it is not handed on.
                for code in ["AuthorizationCode", "AuthCode"] {
                    message.fields.remove(code);
                    message.value.remove(code);
                }
            }
            return Ok(Push {
                reply: "success".into(),
                info_type,
                ticket_kept: None,
                message: Some(message),
                authorizer,
            });
        }
        let field = |name: &str| {
            message.get(name).filter(|s| !s.is_empty()).ok_or_else(|| {
                refused(
                    ErrorKind::InvalidRequest,
                    "missing_field",
                    format!("the `{info_type}` push has no `{name}`"),
                )
            })
        };
        let ticket = field(&spec.ticket_field)?;
        let created_s: u64 = field(&spec.time_field)?.trim().parse().map_err(|_| {
            refused(
                ErrorKind::InvalidRequest,
                "malformed_body",
                format!(
                    "the push's `{}` is not a number of seconds",
                    spec.time_field
                ),
            )
        })?;
        let pushed = Pushed {
            value: Secret::new(ticket),
            created_s,
            received_ms: now,
        };
        let kept = self.apps[a].pushed.offer(pushed);
        if kept {
            let name = self.apps[a].name.clone();
            self.event(Event::TicketPushed {
                app: name,
                info_type: info_type.clone(),
                created_s,
            });
            if self.cfg.store == StoreMode::External {
                let value = json!({
                    "v": 1,
                    "account": self.apps[a].store_id,
                    "ticket": ticket,
                    "created_s": created_s,
                    "received_at_ms": now,
                })
                .to_string();
                let key = self.pushed_key(a);
                self.store(
                    StoreCommand::Set {
                        key,
                        value,
                        ttl_ms: spec.valid_ms,
                    },
                    StorePurpose::Write(a, "set"),
                );
            }
        }
        Ok(Push {
            reply: "success".into(),
            info_type,
            ticket_kept: Some(kept),
            message: None,
            authorizer: None,
        })
    }

    /// The `{ticket}` a token fetch of app `a` sends. Without a usable one,
    /// fleet mode first reads the store (unless `looked` already), the
    /// fetch going on in `on_pushed_read`; then it is missing.
    pub(crate) fn ticket_for_fetch(
        &mut self,
        a: usize,
        now: u64,
        forced: bool,
        looked: bool,
    ) -> TicketFor {
        let Some(spec) = self.apps[a].rt.profile.pushed_ticket.as_ref() else {
            return TicketFor::Ready(None);
        };
        if let Some(p) = self.apps[a].pushed.usable(now, spec.valid_ms) {
            return TicketFor::Ready(Some(p.value.expose().to_string()));
        }
        if !looked && self.cfg.store == StoreMode::External {
            self.apps[a].cred.fetch = Fetch::Store;
            let key = self.pushed_key(a);
            self.store(
                StoreCommand::Get { key },
                StorePurpose::PushedRead(a, forced),
            );
            return TicketFor::Looking;
        }
        TicketFor::Missing(ApiError::new(
            ErrorKind::TicketUnavailable,
            format!(
                "no `{}` pushed within its validity ({} min): the platform pushes one every 10 minutes to \
                 the callback URL; if pushes stopped, restart them (api_start_push_ticket)",
                spec.info_type,
                spec.valid_ms / 60_000
            ),
        ))
    }

    /// The store's ticket, adopted if newer; then the fetch goes on.
    pub(crate) fn on_pushed_read(&mut self, a: usize, forced: bool, r: StoreResult, now: u64) {
        self.apps[a].cred.fetch = Fetch::Idle;
        let read = self.own_value(a, r, "ticket").and_then(|v| {
            Some(Pushed {
                value: Secret::new(v.get("ticket")?.as_str()?),
                created_s: v.get("created_s")?.as_u64()?,
                // Never later than now: a skewed writer cannot extend a ticket.
                received_ms: v.get("received_at_ms")?.as_u64()?.min(now),
            })
        });
        if let Some(p) = read {
            self.apps[a].pushed.offer(p);
        }
        self.http_fetch_with(a, now, forced, true);
    }
}
