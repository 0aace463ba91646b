//! Durable state across restarts: tokens, quota counters, IP blocks, forced
//! refresh counts and open circuits, as versioned JSON. Calls in flight are
//! not state: the host completes or resubmits them.
//!
//! Each app's entry names the platform and account it was exported for; on
//! restore, an entry whose app is now configured for another platform or
//! account is dropped (with a `state_dropped` event), and so is an expired
//! token: state is keyed by the app's local name, which a config can reuse.

use crate::config::{Config, Secret};
use crate::engine::credential::Token;
use crate::engine::{Engine, Timer};
use crate::error::{Code, ConfigError};
use crate::output::Event;
use crate::policy::circuit::Circuit;
use crate::policy::quota::PathCount;
use serde_json::{json, Map, Value};

/// The state format this engine writes and reads.
pub const STATE_VERSION: u64 = 2;

impl Engine {
    /// The engine's durable state as JSON (holds tokens: store it like a secret).
    pub fn export_state(&self) -> String {
        let mut apps = Map::new();
        for app in &self.apps {
            let c = &app.cred;
            let paths: Map<String, Value> = app
                .quota
                .paths
                .iter()
                .map(|(p, n)| {
                    (
                        p.clone(),
                        json!({"used": n.used, "warned": n.warned, "exhausted": n.exhausted}),
                    )
                })
                .collect();
            let mut entry = json!({
                    "platform": app.platform,
                    "account": app.account_id,
                    "token": c.token.as_ref().map(|t| json!({
                        "value": t.value.expose(),
                        "expires_at_ms": t.expires_at,
                        "refresh_at_ms": t.refresh_at,
                    })),
                    "refresh_token": c.refresh_token.as_ref().map(Secret::expose),
                    "pushed_ticket": app.pushed.current.as_ref().map(|p| json!({
                        "value": p.value.expose(),
                        "created_s": p.created_s,
                        "received_at_ms": p.received_ms,
                    })),
                    "quota": {"day": app.quota.day, "paths": paths},
                    "blocked": app.blocked.as_ref().map(|(until, code)| json!({"until_ms": until, "code": code})),
                    "forced": {"day": c.forced_day, "count": c.forced_count, "last_ms": c.last_forced_ms},
            });
            if let Some(au) = &app.authorizer {
                entry["authorizer"] =
                    json!({"standing": au.standing.as_str(), "direct": au.direct});
            }
            apps.insert(app.name.clone(), entry);
        }
        let circuits: Map<String, Value> = self
            .circuits
            .hosts
            .iter()
            .map(|(h, c)| {
                (
                    h.clone(),
                    json!({"failures": c.failures, "open_until_ms": c.open_until}),
                )
            })
            .collect();
        json!({"version": STATE_VERSION, "apps": apps, "circuits": circuits}).to_string()
    }

    /// A new engine from `config` carrying on from an exported state. State
    /// of apps no longer configured is dropped.
    pub fn restore(config: Config, state: &str, now_ms: u64) -> Result<Engine, ConfigError> {
        let v: Value = serde_json::from_str(state)
            .map_err(|e| ConfigError::new("state", format!("not JSON: {e}")))?;
        let version = v.get("version").and_then(Value::as_u64);
        match version {
            // Version 1 did not say which account an entry is for: its apps'
            // entries are dropped below, its circuits kept.
            Some(1) | Some(STATE_VERSION) => {}
            Some(other) => {
                return Err(ConfigError::new(
                    "state.version",
                    format!(
                    "unsupported state version {other} (this engine reads version {STATE_VERSION})"
                ),
                ))
            }
            None => return Err(ConfigError::new("state.version", "missing")),
        }
        let mut e = Engine::new(config, now_ms)?;
        let bad = |f: String| ConfigError::new(f, "malformed");
        if let Some(apps) = v.get("apps").and_then(Value::as_object) {
            for (name, s) in apps {
                // An authorizer is made again from its component.
                let Some(a) = e.app_index(name) else {
                    continue;
                };
                let platform = s.get("platform").and_then(Value::as_str);
                let account = s.get("account").and_then(Value::as_str);
                let app = &e.apps[a];
                if platform != Some(app.platform.as_str())
                    || account != Some(app.account_id.as_str())
                {
                    let reason = match (platform, account) {
                        (Some(p), Some(acc)) => format!(
                            "exported for {p} account {acc}; the app is now {} account {}",
                            app.platform, app.account_id
                        ),
                        _ => "names no account".into(),
                    };
                    e.dropped(a, "app", reason);
                    continue;
                }
                let at = |f: &str| format!("state.apps.{name}.{f}");
                if let Some(t) = s.get("token").filter(|t| !t.is_null()) {
                    let value = t
                        .get("value")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad(at("token.value")))?;
                    let expires_at = t
                        .get("expires_at_ms")
                        .and_then(Value::as_u64)
                        .ok_or_else(|| bad(at("token.expires_at_ms")))?;
                    let refresh_at = t.get("refresh_at_ms").and_then(Value::as_u64);
                    if expires_at <= now_ms {
                        e.dropped(a, "token", "expired".into());
                    } else {
                        let cred = &mut e.apps[a].cred;
                        cred.token = Some(Token {
                            value: Secret::new(value),
                            expires_at,
                            refresh_at,
                        });
                        cred.gen += 1;
                        if let Some(r) = refresh_at {
                            e.timer(r, Timer::Refresh(a));
                        }
                    }
                }
                if let Some(r) = s.get("refresh_token").and_then(Value::as_str) {
                    e.apps[a].cred.refresh_token = Some(Secret::new(r));
                }
                let standing = s
                    .pointer("/authorizer/standing")
                    .and_then(Value::as_str)
                    .and_then(crate::engine::app::Standing::from_name);
                if let (Some(st), Some(au)) = (standing, e.apps[a].authorizer.as_mut()) {
                    au.standing = st;
                }
                if s.pointer("/authorizer/direct").and_then(Value::as_bool) == Some(true) {
                    e.make_direct(a);
                }
                if let Some(p) = s.get("pushed_ticket").filter(|p| !p.is_null()) {
                    let field = |f: &str| {
                        p.get(f)
                            .ok_or_else(|| bad(at(&format!("pushed_ticket.{f}"))))
                    };
                    let value = field("value")?
                        .as_str()
                        .ok_or_else(|| bad(at("pushed_ticket.value")))?;
                    let created_s = field("created_s")?
                        .as_u64()
                        .ok_or_else(|| bad(at("pushed_ticket.created_s")))?;
                    let received_ms = field("received_at_ms")?
                        .as_u64()
                        .ok_or_else(|| bad(at("pushed_ticket.received_at_ms")))?
                        .min(now_ms);
                    let valid_ms = e.apps[a]
                        .rt
                        .profile
                        .pushed_ticket
                        .as_ref()
                        .map(|t| t.valid_ms);
                    match valid_ms {
                        Some(v) if now_ms < received_ms.saturating_add(v) => {
                            e.apps[a].pushed.current = Some(crate::engine::push::Pushed {
                                value: Secret::new(value),
                                created_s,
                                received_ms,
                            });
                        }
                        Some(_) => e.dropped(a, "pushed_ticket", "expired".into()),
                        None => {}
                    }
                }
                if let Some(q) = s.get("quota") {
                    let app = &mut e.apps[a];
                    app.quota.day = q.get("day").and_then(Value::as_u64).unwrap_or(0);
                    if let Some(paths) = q.get("paths").and_then(Value::as_object) {
                        for (p, n) in paths {
                            app.quota.paths.insert(
                                p.clone(),
                                PathCount {
                                    used: n
                                        .get("used")
                                        .and_then(Value::as_u64)
                                        .ok_or_else(|| bad(at("quota")))?,
                                    warned: n
                                        .get("warned")
                                        .and_then(Value::as_u64)
                                        .map_or(0, |w| u8::try_from(w).unwrap_or(u8::MAX)),
                                    exhausted: n
                                        .get("exhausted")
                                        .and_then(Value::as_bool)
                                        .unwrap_or(false),
                                    owed: 0,
                                },
                            );
                        }
                    }
                    app.quota.roll(now_ms);
                }
                if let Some(b) = s.get("blocked").filter(|b| !b.is_null()) {
                    let until = b
                        .get("until_ms")
                        .and_then(Value::as_u64)
                        .ok_or_else(|| bad(at("blocked.until_ms")))?;
                    let code = b
                        .get("code")
                        .cloned()
                        .and_then(|c| serde_json::from_value::<Code>(c).ok());
                    e.apps[a].blocked = Some((until, code));
                }
                if let Some(f) = s.get("forced") {
                    let cred = &mut e.apps[a].cred;
                    cred.forced_day = f.get("day").and_then(Value::as_u64).unwrap_or(0);
                    cred.forced_count = f
                        .get("count")
                        .and_then(Value::as_u64)
                        .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
                    cred.last_forced_ms = f.get("last_ms").and_then(Value::as_u64);
                }
            }
        }
        if let Some(circuits) = v.get("circuits").and_then(Value::as_object) {
            for (host, c) in circuits {
                e.circuits.hosts.insert(
                    host.clone(),
                    Circuit {
                        failures: c
                            .get("failures")
                            .and_then(Value::as_u64)
                            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
                        open_until: c.get("open_until_ms").and_then(Value::as_u64),
                        probing: false,
                    },
                );
            }
        }
        Ok(e)
    }

    fn dropped(&mut self, a: usize, what: &'static str, reason: String) {
        let app = self.apps[a].name.clone();
        self.event(Event::StateDropped { app, what, reason });
    }
}
