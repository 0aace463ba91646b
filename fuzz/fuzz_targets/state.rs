//! `Engine::restore(config, state, now)` with arbitrary and structured state
//! JSON: never panics; errors name a field; a restored engine never sends a
//! call with a token whose restored `expires_at_ms` has passed, never sends
//! inside a restored IP block, never sends past a restored exhausted quota,
//! never asks to be woken beyond its clamp; and export → restore → export
//! is stable.
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use wxcore::{Call, Config, Engine, HttpResponse, Output, StoreCommand, StoreResult};
use wxcore_fuzz::{engine::config_json, leaks, shanghai_day, MAX_TIME_MS};

const T0: u64 = 1_700_000_000_000;
const APPS: [&str; 4] = ["oa", "oc", "hr", "gone"];
const PATHS: [&str; 4] = ["/cgi-bin/tags/get", "/cgi-bin/user/get", "/cgi-bin/user/info", "/x"];

#[derive(Arbitrary, Debug)]
enum Input {
    Raw { config: u8, now: u64, state: Vec<u8> },
    Structured { config: u8, now: Time, state: St, steps: Vec<u16> },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Time {
    Past(u32),
    Now,
    Future(u32),
    Abs(u64),
    Neg,
    Str,
    Float,
}

#[derive(Arbitrary, Debug)]
struct St {
    version: Option<u8>,
    apps: Vec<AppSt>,
    circuits: Vec<(u8, Option<u32>, Option<Time>)>,
}

#[derive(Arbitrary, Debug)]
struct AppSt {
    name: u8,
    token: Option<(Time, Option<Time>, bool)>,
    refresh_token: bool,
    quota: Option<(Option<Time>, Vec<(u8, Option<u64>, u8, bool)>)>,
    blocked: Option<(Time, Option<i16>)>,
    forced: Option<(Option<u64>, Option<u32>, Option<Time>)>,
    /// Which platform and account the entry names (state version 2 binds
    /// entries to them): 0..=4 the app's own, 5 another account, 6 another
    /// platform, 7 neither.
    bound: u8,
}

fn time_json(t: Time, now: u64) -> Value {
    match t {
        Time::Past(d) => json!(now.saturating_sub(d as u64)),
        Time::Now => json!(now),
        Time::Future(d) => json!(now.saturating_add(d as u64)),
        Time::Abs(a) => json!(a),
        Time::Neg => json!(-5),
        Time::Str => json!("123"),
        Time::Float => json!(1.5),
    }
}

fn now_of(t: Time) -> u64 {
    match t {
        Time::Past(d) => T0 - d as u64,
        Time::Future(d) => T0 + d as u64 * 1000,
        // Anywhere, and near and past the clamp (where every call ends).
        Time::Abs(a) => match a % 4 {
            0 => a,
            1 => MAX_TIME_MS - (a >> 2) % 10_000_000,
            2 => MAX_TIME_MS + (a >> 2) % 10_000_000,
            _ => (a >> 2) % MAX_TIME_MS,
        },
        _ => T0,
    }
}

/// The state JSON, and the restored tokens: value -> (app, expires_at_ms).
fn build(st: &St, now: u64, bindings: &Value) -> (String, HashMap<String, (usize, u64)>) {
    let mut tokens = HashMap::new();
    let mut apps = Map::new();
    for (i, a) in st.apps.iter().enumerate() {
        let name = APPS[a.name as usize % APPS.len()];
        let mut o = Map::new();
        let own = &bindings["apps"][name];
        match a.bound % 8 {
            0..=4 => {
                o.insert("platform".into(), own["platform"].clone());
                o.insert("account".into(), own["account"].clone());
            }
            5 => {
                o.insert("platform".into(), own["platform"].clone());
                o.insert("account".into(), json!("wxOTHER"));
            }
            6 => {
                o.insert("platform".into(), json!("jing"));
                o.insert("account".into(), own["account"].clone());
            }
            _ => {}
        }
        // Only an entry bound to the app's own platform and account is restored.
        let kept = a.bound % 8 <= 4;
        if let Some((exp, refresh, valid_value)) = a.token {
            let value = format!("TKa{i}z");
            let e = time_json(exp, now);
            if let (Some(x), Some(idx), true) = (e.as_u64(), APPS[..3].iter().position(|n| *n == name), kept) {
                tokens.insert(value.clone(), (idx, x));
            }
            o.insert(
                "token".into(),
                json!({"value": if valid_value { json!(value) } else { json!(7) },
                       "expires_at_ms": e, "refresh_at_ms": refresh.map(|r| time_json(r, now))}),
            );
        }
        if a.refresh_token {
            o.insert("refresh_token".into(), json!(format!("TKa-rt{i}z")));
        }
        if let Some((day, paths)) = &a.quota {
            let paths: Map<String, Value> = paths
                .iter()
                .map(|(p, used, warned, ex)| {
                    (PATHS[*p as usize % PATHS.len()].to_string(),
                     json!({"used": used, "warned": warned, "exhausted": ex}))
                })
                .collect();
            let day = day.map(|d| match d {
                Time::Now => json!(shanghai_day(now)),
                Time::Past(x) => json!(shanghai_day(now).saturating_sub(x as u64 % 3)),
                other => time_json(other, now),
            });
            o.insert("quota".into(), json!({"day": day, "paths": paths}));
        }
        if let Some((until, code)) = a.blocked {
            o.insert("blocked".into(), json!({"until_ms": time_json(until, now), "code": code}));
        }
        if let Some((day, count, last)) = a.forced {
            o.insert("forced".into(), json!({"day": day, "count": count, "last_ms": last.map(|l| time_json(l, now))}));
        }
        apps.insert(name.into(), Value::Object(o));
    }
    let circuits: Map<String, Value> = st
        .circuits
        .iter()
        .map(|(h, f, u)| {
            let host = ["https://api.weixin.qq.com", "https://api2.weixin.qq.com", "https://qyapi.weixin.qq.com"][*h as usize % 3];
            (host.to_string(), json!({"failures": f, "open_until_ms": u.map(|u| time_json(u, now))}))
        })
        .collect();
    let mut root = json!({"apps": apps, "circuits": circuits});
    if let Some(v) = st.version {
        root["version"] = json!(v % 3);
    }
    (root.to_string(), tokens)
}

fn limit_of(path: &str) -> Option<u64> {
    wxcore_fuzz::engine::LIMITS.iter().find(|(p, _)| *p == path).map(|(_, n)| *n)
}

fn restore(config: u8, state: &str, now: u64) -> Option<Engine> {
    let cfg = Config::from_json(&config_json(config % 8)).unwrap();
    match Engine::restore(cfg, state, now) {
        Ok(e) => Some(e),
        Err(e) => {
            assert!(!e.field.is_empty(), "a state error must name a field: {e:?}");
            assert!(!leaks(&format!("{e} {e:?}")), "state error echoes a token: {e}");
            None
        }
    }
}

fuzz_target!(|input: Input| match input {
    Input::Raw { config, now, state } => {
        let _ = restore(config, &String::from_utf8_lossy(&state), now);
    }
    Input::Structured { config, now, state, steps } => {
        let now = now_of(now);
        // The platform and account each app's entry must name: as a fresh
        // engine of the same config exports them.
        let cfg = Config::from_json(&config_json(config % 8)).unwrap();
        let bindings: Value = serde_json::from_str(&Engine::new(cfg, now).unwrap().export_state()).unwrap();
        let (text, tokens) = build(&state, now, &bindings);
        let Some(mut engine) = restore(config, &text, now) else { return };
        let v: Value = serde_json::from_str(&text).unwrap();
        // export -> restore -> export is stable.
        // (The first restore of an export may normalise: a quota section
        // without one before is rolled to today. After that, a fixed point.)
        let first = engine.export_state();
        let second = restore(config, &first, now).expect("an exported state restores").export_state();
        let third = restore(config, &second, now).expect("an exported state restores").export_state();
        assert_eq!(
            serde_json::from_str::<Value>(&second).unwrap(),
            serde_json::from_str::<Value>(&third).unwrap(),
            "export -> restore -> export is not stable\nstate: {text}"
        );
        let clamp = |t: u64| t.min(MAX_TIME_MS);
        // Restored blocks and exhausted quotas, as the state says them.
        // An app's entry counts only if restored: version 2, and bound to
        // the app's own platform and account.
        let kept = |app: usize| -> bool {
            let (e, own) = (&v["apps"][APPS[app]], &bindings["apps"][APPS[app]]);
            v["version"].as_u64() == Some(2)
                && e["platform"] == own["platform"]
                && e["account"] == own["account"]
        };
        let blocked_until = |app: usize| -> u64 {
            if !kept(app) {
                return 0;
            }
            v["apps"][APPS[app]]["blocked"]["until_ms"].as_u64().unwrap_or(0)
        };
        let exhausted = |app: usize, path: &str, t: u64| -> bool {
            if !kept(app) {
                return false;
            }
            let q = &v["apps"][APPS[app]]["quota"];
            let Some(p) = q["paths"].get(path) else { return false };
            if q["day"].as_u64() != Some(shanghai_day(t)) {
                return false;
            }
            p["exhausted"].as_bool() == Some(true)
                || limit_of(path).is_some_and(|l| p["used"].as_u64().is_some_and(|u| u >= l))
        };
        let mut t = now;
        let mut pending: Vec<(u64, Option<usize>)> = Vec::new();
        let mut tokens = tokens;
        let mut stores: Vec<(u64, StoreCommand)> = Vec::new();
        let mut issued = 0u64;
        let mut first_round = true;
        for (round, s) in std::iter::once(&0u16).chain(steps.iter().take(12)).enumerate() {
            if round > 0 {
                t = t.saturating_add(*s as u64 * 997);
            }
            for (a, app) in APPS[..3].iter().enumerate() {
                let path = PATHS[(round + a) % PATHS.len()];
                engine.submit(Call::get(*app, path), t);
            }
            // Drain, answer at the same time, drain again: the run-loop contract.
            for inner in 0..6 {
                loop {
                    match engine.poll_output(t) {
                        Output::Idle { wake_at_ms } => {
                            if let Some(w) = wake_at_ms {
                                assert!(
                                    w <= MAX_TIME_MS || wxcore_fuzz::engine::skip("wake"),
                                    "restored engine at now={t} asks to be woken at {w}, beyond its clamp\nstate: {text}"
                                );
                            }
                            break;
                        }
                        Output::Send(r) => {
                            let path = wxcore_fuzz::engine::url_path_of(&r.url);
                            let token_app = ["/cgi-bin/stable_token", "/cgi-bin/token", "/cgi-bin/gettoken"]
                                .iter()
                                .position(|p| *p == path);
                            for (tok, &(app, exp)) in &tokens {
                                if r.url.contains(tok.as_str()) {
                                    assert!(
                                        clamp(t) < exp,
                                        "restored at now={now}, at now={t} a call is sent with restored token {tok} whose expires_at_ms={exp} has passed ({first_round})\nstate: {text}"
                                    );
                                    assert!(
                                        clamp(t) >= blocked_until(app),
                                        "call for `{}` sent at {t} inside the restored IP block (until {})\nstate: {text}",
                                        APPS[app], blocked_until(app)
                                    );
                                    assert!(
                                        !exhausted(app, path, clamp(t)),
                                        "call for `{}` to {path} sent at {t} past the restored exhausted quota\nstate: {text}",
                                        APPS[app]
                                    );
                                }
                            }
                            pending.push((r.id, token_app));
                        }
                        Output::Store(op) => stores.push((op.id, op.command)),
                        Output::Done(_) | Output::Event(_) => {}
                    }
                }
                if inner == 5 {
                    break; // the last round only drains; what is pending waits for the next time step
                }
                // Answer: fresh tokens, plain successes; the store is empty.
                for (id, token_app) in pending.drain(..) {
                    issued += 1;
                    let body = if let Some(app) = token_app {
                        tokens.insert(format!("FRESH{issued}z"), (app, clamp(t).saturating_add(7_200_000)));
                        format!(r#"{{"access_token":"FRESH{issued}z","expires_in":7200}}"#)
                    } else {
                        r#"{"errcode":0}"#.to_string()
                    };
                    engine.handle_response(id, HttpResponse::json(body), t);
                }
                for (id, cmd) in stores.drain(..) {
                    let r = match cmd {
                        StoreCommand::Get { .. } => StoreResult::Value(None),
                        StoreCommand::Lock { .. } => StoreResult::Locked(true),
                        StoreCommand::IncrBy { delta, .. } => StoreResult::Count(delta),
                        _ => StoreResult::Ok,
                    };
                    engine.handle_store_result(id, r, t);
                }
            }
            first_round = false;
        }
    }
});
