//! What the engine reports of itself: the status snapshot (one JSON
//! document, the same in every language, for an operator or a status page
//! to read at a glance) and the Prometheus text (the monitor's counters
//! and the engine's gauges). Tokens appear by their id (a short one-way
//! hash), never by value.

use crate::engine::source::token_id;
use crate::engine::{Engine, Phase, MAX_TIME_MS};
use crate::monitor::alerts::{self, WINDOW_MS};
use crate::monitor::metrics::{family, sample, seconds, write_counters};
use crate::policy::quota;
use serde_json::{json, Value};

/// The snapshot's layout version: bumped when a field changes meaning.
pub(crate) const VERSION: u32 = 1;

pub(crate) struct QuotaRow<'e> {
    pub(crate) app: &'e str,
    pub(crate) api: &'e str,
    pub(crate) used: u64,
    pub(crate) limit: Option<u64>,
    pub(crate) exhausted: bool,
}

/// Today's counts of APIs with a quota, by app in config order, then path.
pub(crate) fn quotas(e: &Engine, now: u64) -> Vec<QuotaRow<'_>> {
    let today = quota::day_of(now);
    let mut rows = Vec::new();
    for app in &e.apps {
        // Counters from an earlier day are reset lazily on the next count.
        if app.quota.day != today {
            continue;
        }
        let mut paths: Vec<_> = app
            .quota
            .paths
            .iter()
            // An API with a quota: a daily limit, or one the platform said is used up.
            .filter(|(path, p)| (p.used > 0 && app.limit(path).is_some()) || p.exhausted)
            .collect();
        paths.sort_by(|a, b| a.0.cmp(b.0));
        for (path, p) in paths {
            rows.push(QuotaRow {
                app: &app.name,
                api: path,
                used: p.used,
                limit: app.limit(path),
                exhausted: p.exhausted,
            });
        }
    }
    rows
}

pub(crate) struct HostRow<'e> {
    pub(crate) host: &'e str,
    pub(crate) state: &'static str,
    pub(crate) until: Option<u64>,
    pub(crate) failures: u32,
}

/// Every configured host, once, in config order.
pub(crate) fn hosts(e: &Engine, now: u64) -> Vec<HostRow<'_>> {
    let mut rows: Vec<HostRow<'_>> = Vec::new();
    for app in &e.apps {
        for h in app.hosts.iter() {
            if rows.iter().any(|r| r.host == h) {
                continue;
            }
            let c = e.circuits.hosts.get(h.as_str());
            let (state, until, failures) = match c {
                None => ("closed", None, 0),
                Some(c) => match c.open_until {
                    None => ("closed", None, c.failures),
                    // Past the cool-down the next request probes the host.
                    Some(u) if c.probing || now >= u => ("half_open", Some(u), c.failures),
                    Some(u) => ("open", Some(u), c.failures),
                },
            };
            rows.push(HostRow {
                host: h,
                state,
                until,
                failures,
            });
        }
    }
    rows
}

#[derive(Default, Clone, Copy)]
pub(crate) struct Load {
    pub(crate) queued: u64,
    pub(crate) waiting_for_token: u64,
}

/// Per app: calls queued behind a rate limit and calls waiting for a token.
pub(crate) fn loads(e: &Engine) -> Vec<Load> {
    let mut loads = vec![Load::default(); e.apps.len()];
    for c in e.calls.values() {
        match c.phase {
            Phase::Queued => loads[c.app].queued += 1,
            Phase::NeedToken => loads[c.app].waiting_for_token += 1,
            _ => {}
        }
    }
    loads
}

/// The whole snapshot.
fn build(e: &Engine, now: u64) -> Value {
    let loads = loads(e);
    let apps: Vec<Value> = e
        .apps
        .iter()
        .enumerate()
        .map(|(a, app)| {
            let watch = &e.monitor.tokens[a];
            let credential = match &app.source {
                Some(_) if app.relayed() => "relay",
                Some(_) => "server",
                None if app.token.is_some() => "secret",
                None => "static",
            };
            let token = app.cred.token.as_ref().map(|t| {
                json!({
                    "id": token_id(t.value.expose()),
                    "obtained_at_ms": watch.obtained_at,
                    "age_ms": watch.obtained_at.map(|o| now.saturating_sub(o)),
                    "expires_at_ms": t.expires_at,
                    "remaining_ms": t.expires_at.saturating_sub(now),
                    "refresh_at_ms": t.refresh_at,
                })
            });
            let last = watch.last.as_ref().map(|r| {
                json!({
                    "at_ms": r.at,
                    "trigger": r.trigger,
                    "result": r.result,
                    "code": r.code,
                })
            });
            // For a component or suite only: the pushed ticket's age, never its value.
            let pushed = app.rt.profile.pushed_ticket.as_ref().map(|spec| {
                app.pushed.current.as_ref().map(|p| {
                    let until = p.received_ms.saturating_add(spec.valid_ms);
                    json!({
                        "created_s": p.created_s,
                        "received_at_ms": p.received_ms,
                        "age_ms": now.saturating_sub(p.received_ms),
                        "valid_until_ms": until,
                        "usable": now < until,
                    })
                })
            });
            let mut row = json!({
                "app": app.name,
                "platform": app.platform,
                "credential": credential,
                "token": token,
                "fetching": !app.cred.is_idle(),
                "last_refresh": last,
                "refreshes": watch.refreshes,
                "queued": loads[a].queued,
                "in_flight": app.inflight,
                "waiting_for_token": loads[a].waiting_for_token,
                "blocked_until_ms": app.blocked.as_ref().map(|b| b.0).filter(|&u| now < u),
            });
            if let Some(pushed) = pushed {
                row["pushed_ticket"] = pushed.unwrap_or(Value::Null);
            }
            // For an authorizer: whether it can be called for, and whether
            // its refresh token is held (never the token).
            if let Some(au) = &app.authorizer {
                row["authorizer"] = json!({
                    "component": e.apps[au.component].name,
                    "appid": au.appid,
                    "standing": au.standing.as_str(),
                    "refresh_token_held": app.cred.refresh_token.is_some(),
                });
            }
            row
        })
        .collect();
    let resets = quota::next_reset(now);
    let quotas: Vec<Value> = quotas(e, now)
        .into_iter()
        .map(|q| {
            let percent = q
                .limit
                .filter(|&l| l > 0)
                .map(|l| (u128::from(q.used) * 100 / u128::from(l)) as u64);
            json!({
                "app": q.app,
                "api": q.api,
                "used": q.used,
                "limit": q.limit,
                "percent": percent,
                "exhausted": q.exhausted,
                "resets_at_ms": resets,
            })
        })
        .collect();
    let hosts: Vec<Value> = hosts(e, now)
        .into_iter()
        .map(|h| {
            json!({
                "host": h.host,
                "state": h.state,
                "until_ms": h.until,
                "failures": h.failures,
            })
        })
        .collect();
    let alerts: Vec<Value> = e
        .monitor
        .alerts
        .by_key
        .iter()
        .map(|((a, c), x)| {
            json!({
                "app": e.apps[*a].name,
                "category": c.as_str(),
                "open": x.open(now),
                "first_seen_ms": x.first_seen,
                "first_seen": alerts::utc(x.first_seen),
                "last_seen_ms": x.last_seen,
                "window_start_ms": x.window_start,
                "window_ms": WINDOW_MS,
                "count_window": x.in_window(now),
                "count_total": x.count_total,
                "sample": {
                    "host": x.sample.host,
                    "api": x.sample.api,
                    "error": x.sample.error,
                },
            })
        })
        .collect();
    json!({
        "version": VERSION,
        "now_ms": now,
        "apps": apps,
        "quotas": quotas,
        "hosts": hosts,
        "alerts": alerts,
    })
}

/// The whole metrics text.
fn render(e: &Engine, now: u64) -> String {
    let mut out = String::with_capacity(4096);
    write_counters(&e.monitor, &|a| e.apps[a].name.clone(), &mut out);
    let name = |a: usize| e.apps[a].name.as_str();

    family(
        &mut out,
        "wxcore_token_expiry_timestamp_seconds",
        "gauge",
        "When each app's cached access token expires (Unix seconds).",
    );
    for (a, app) in e.apps.iter().enumerate() {
        if let Some(t) = &app.cred.token {
            let l = [("app", name(a))];
            sample(
                &mut out,
                "wxcore_token_expiry_timestamp_seconds",
                &l,
                seconds(t.expires_at),
            );
        }
    }

    // Only with authorizers (a component's accounts, a suite's corps).
    if e.apps.iter().any(|app| app.authorizer.is_some()) {
        family(
            &mut out,
            "wxcore_authorizer_active",
            "gauge",
            "1 while an authorizer can be called for; 0 when it revoked (standing revoked) or must authorize again (needs_reauthorization).",
        );
        for (a, app) in e.apps.iter().enumerate() {
            if let Some(au) = &app.authorizer {
                let l = [("app", name(a)), ("standing", au.standing.as_str())];
                let active = u8::from(au.standing == crate::engine::app::Standing::Active);
                sample(&mut out, "wxcore_authorizer_active", &l, active);
            }
        }
    }

    let quotas = quotas(e, now);
    family(
        &mut out,
        "wxcore_quota_used",
        "gauge",
        "Calls counted today against an API's daily quota (resets 00:00 Asia/Shanghai).",
    );
    for q in &quotas {
        sample(
            &mut out,
            "wxcore_quota_used",
            &[("app", q.app), ("api", q.api)],
            q.used,
        );
    }
    family(
        &mut out,
        "wxcore_quota_limit",
        "gauge",
        "An API's daily quota.",
    );
    for q in &quotas {
        if let Some(limit) = q.limit {
            sample(
                &mut out,
                "wxcore_quota_limit",
                &[("app", q.app), ("api", q.api)],
                limit,
            );
        }
    }

    family(
        &mut out,
        "wxcore_circuit_open",
        "gauge",
        "1 while calls avoid a host after repeated failures (MarkFail), else 0.",
    );
    for h in hosts(e, now) {
        let open = u8::from(h.state != "closed");
        sample(&mut out, "wxcore_circuit_open", &[("host", h.host)], open);
    }

    family(
        &mut out,
        "wxcore_queued_calls",
        "gauge",
        "Calls waiting for a rate-limit slot or a token.",
    );
    let loads = loads(e);
    for (a, l) in loads.iter().enumerate() {
        let n = l.queued + l.waiting_for_token;
        sample(&mut out, "wxcore_queued_calls", &[("app", name(a))], n);
    }
    family(
        &mut out,
        "wxcore_in_flight_calls",
        "gauge",
        "Calls sent and not yet answered.",
    );
    for (a, app) in e.apps.iter().enumerate() {
        sample(
            &mut out,
            "wxcore_in_flight_calls",
            &[("app", name(a))],
            app.inflight,
        );
    }
    out
}

impl Engine {
    /// The status snapshot as a JSON value: per app the credential source,
    /// token id (never the token), age, expiry, next refresh and last
    /// refresh; per API with a daily quota its use today; per host its
    /// circuit; per app and category the alerts (seed 004 §7.3). The same
    /// document in every language (`client.status()`).
    pub fn status(&self, now_ms: u64) -> Value {
        build(self, now_ms.min(MAX_TIME_MS))
    }

    /// [`Engine::status`] as JSON text.
    pub fn status_json(&self, now_ms: u64) -> String {
        self.status(now_ms).to_string()
    }

    /// The Prometheus text exposition (format 0.0.4) of the engine's
    /// counters and gauges, identical in every language
    /// (`client.metrics()`). Serve it on a `/metrics` endpoint.
    pub fn metrics_text(&self, now_ms: u64) -> String {
        render(self, now_ms.min(MAX_TIME_MS))
    }
}
