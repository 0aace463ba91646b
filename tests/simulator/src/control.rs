//! The control endpoint: reset, configuration, app registration, fault
//! injection and counters. Never delayed, never faulted.

use std::time::Duration;

use hyper::Method;
use serde_json::{json, Map, Value};

use crate::http::{Reply, Req};
use crate::state::{now_ms, Config, Fault, FaultKind, Host, Mode, Registration, Sim};

pub async fn handle(sim: &std::sync::Arc<Sim>, req: Req) -> Reply {
    let result = match (&req.method, req.path.as_str()) {
        (&Method::POST, "/component") => object(&req).and_then(|b| {
            crate::component::configure(sim, crate::component::PushKind::Component, &b).map_err(bad)
        }),
        (&Method::POST, "/suite") => object(&req).and_then(|b| {
            crate::component::configure(sim, crate::component::PushKind::Suite, &b).map_err(bad)
        }),
        (&Method::POST, "/component/stop") => {
            object(&req).and_then(|b| crate::component::stop(sim, &b).map_err(bad))
        }
        (&Method::GET, "/component") => Ok(crate::component::report(sim, &req)),
        (&Method::POST, "/component/authorize") => match object(&req) {
            Ok(b) => crate::authorizer::authorize(sim, &b).await.map_err(bad),
            Err(e) => Err(e),
        },
        (&Method::POST, "/component/unauthorize") => match object(&req) {
            Ok(b) => crate::authorizer::unauthorize(sim, &b).await.map_err(bad),
            Err(e) => Err(e),
        },
        (&Method::POST, "/component/authorizer") => {
            object(&req).and_then(|b| crate::authorizer::set(sim, &b).map_err(bad))
        }
        (&Method::GET, "/component/authorizers") => Ok(crate::authorizer::report(sim, &req)),
        (&Method::POST, "/suite/authorize") => match object(&req) {
            Ok(b) => crate::authorizer::suite_authorize(sim, &b)
                .await
                .map_err(bad),
            Err(e) => Err(e),
        },
        (&Method::POST, "/suite/unauthorize") => match object(&req) {
            Ok(b) => crate::authorizer::suite_unauthorize(sim, &b)
                .await
                .map_err(bad),
            Err(e) => Err(e),
        },
        (&Method::POST, "/suite/corp") => {
            object(&req).and_then(|b| crate::authorizer::suite_corp(sim, &b).map_err(bad))
        }
        (&Method::GET, "/counters") => Ok(Reply::ok(sim.lock().counters.to_json())),
        (&Method::GET, "/config") => Ok(Reply::ok(sim.lock().config.to_json())),
        (&Method::POST, "/reset") => {
            sim.lock().reset();
            set_all_up(sim).await.map(|_| done())
        }
        (&Method::POST, "/config") => object(&req).and_then(|b| config(sim, &b)),
        (&Method::POST, "/apps") => object(&req).and_then(|b| register(sim, &b)),
        (&Method::POST, "/fault") => match object(&req) {
            Ok(b) => fault(sim, &b).await,
            Err(e) => Err(e),
        },
        (_, "/counters" | "/config" | "/reset" | "/apps" | "/fault") => {
            Err((405, "wrong method".into()))
        }
        (_, path) => Err((404, format!("no such control endpoint: {path}"))),
    };
    result.unwrap_or_else(|(status, error)| Reply::json(status, &json!({ "error": error })))
}

type Answer = Result<Reply, (u16, String)>;

fn done() -> Reply {
    Reply::ok(json!({"ok": true}))
}

fn bad(msg: impl Into<String>) -> (u16, String) {
    (400, msg.into())
}

fn object(req: &Req) -> Result<Map<String, Value>, (u16, String)> {
    if req.body_is_blank() {
        return Ok(Map::new());
    }
    match serde_json::from_slice(&req.body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(bad("body must be a JSON object")),
    }
}

fn uint(v: &Value, key: &str) -> Result<u64, (u16, String)> {
    v.as_u64()
        .ok_or_else(|| bad(format!("{key} must be a non-negative integer")))
}

fn limits_map(
    v: &Value,
    key: &str,
    into: &mut std::collections::BTreeMap<String, u64>,
) -> Result<(), (u16, String)> {
    let Value::Object(m) = v else {
        return Err(bad(format!("{key} must be an object of path to count")));
    };
    for (path, n) in m {
        // null lifts an override (OA paths fall back to the seed's table).
        if n.is_null() {
            into.remove(path);
        } else {
            into.insert(path.clone(), uint(n, key)?);
        }
    }
    Ok(())
}

/// All or nothing: a bad field leaves the configuration as it was.
fn config(sim: &Sim, body: &Map<String, Value>) -> Answer {
    let mut st = sim.lock();
    let mut c: Config = st.config.clone();
    for (k, v) in body {
        match k.as_str() {
            "token_ttl_s" => {
                c.token_ttl_s = uint(v, k)?;
                if c.token_ttl_s == 0 {
                    return Err(bad("token_ttl_s must be at least 1"));
                }
            }
            "overlap_s" => c.overlap_s = uint(v, k)?,
            "stable_renew_s" => c.stable_renew_s = uint(v, k)?,
            "latency_ms" => c.latency_ms = uint(v, k)?,
            "token_latency_ms" => c.token_latency_ms = uint(v, k)?,
            "concurrency_limit" => c.concurrency_limit = uint(v, k)?,
            "daily_limits" => limits_map(v, k, &mut c.daily_limits)?,
            "minute_limits" => limits_map(v, k, &mut c.minute_limits)?,
            _ => return Err(bad(format!("unknown config key {k}"))),
        }
    }
    st.config = c;
    Ok(Reply::ok(
        json!({"ok": true, "config": st.config.to_json()}),
    ))
}

fn string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn register(sim: &Sim, body: &Map<String, Value>) -> Answer {
    let app_id = string(body.get("app_id")).ok_or_else(|| bad("app_id is required"))?;
    let secret = match body.get("secret") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(bad("secret must be a non-empty string")),
    };
    let agent_id = match body.get("agent_id") {
        None | Some(Value::Null) => None,
        v => Some(string(v).ok_or_else(|| bad("agent_id must be a string or number"))?),
    };
    let secure = match body.get("api_security") {
        None | Some(Value::Null) => None,
        Some(v) => Some(std::sync::Arc::new(
            crate::secure::SecureApp::from_json(v).map_err(bad)?,
        )),
    };
    let mut st = sim.lock();
    if let Some(s) = secure {
        st.secure.insert(app_id.clone(), s);
    }
    let regs = st.apps.entry(app_id).or_default();
    regs.retain(|r| r.agent_id != agent_id);
    regs.push(Registration { secret, agent_id });
    Ok(done())
}

fn count(body: &Map<String, Value>) -> Result<u64, (u16, String)> {
    match body.get("count") {
        None => Ok(1),
        Some(v) => match uint(v, "count")? {
            0 => Err(bad("count must be at least 1")),
            n => Ok(n),
        },
    }
}

fn opt_str(body: &Map<String, Value>, key: &str) -> Result<Option<String>, (u16, String)> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!("{key} must be a string"))),
    }
}

fn status(body: &Map<String, Value>, default: Option<u16>) -> Result<Option<u16>, (u16, String)> {
    match body.get("status") {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_u64() {
            Some(s @ 100..=599) => Ok(Some(s as u16)),
            _ => Err(bad("status must be an HTTP status code")),
        },
    }
}

async fn fault(sim: &Sim, body: &Map<String, Value>) -> Answer {
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or("");
    let pending = |kind: FaultKind| -> Answer {
        let f = Fault {
            kind,
            remaining: count(body)?,
            path: opt_str(body, "path")?,
            app: opt_str(body, "app")?,
        };
        sim.lock().faults.push(f);
        Ok(done())
    };
    match kind {
        "invalidate" => {
            let app = string(body.get("app")).ok_or_else(|| bad("app is required"))?;
            sim.lock().invalidate(&app, now_ms());
            Ok(done())
        }
        "errcode" => {
            let code = match body.get("code") {
                Some(c @ (Value::Number(_) | Value::String(_))) => c.clone(),
                _ => return Err(bad("code must be a number (or a string for result-style)")),
            };
            pending(FaultKind::Errcode {
                code,
                msg: opt_str(body, "msg")?,
                sub_msg: opt_str(body, "sub_msg")?,
                status: status(body, None)?,
            })
        }
        "malformed" => pending(FaultKind::Malformed {
            status: status(body, Some(502))?.unwrap_or(502),
        }),
        "host" => {
            let host = match body.get("host").and_then(Value::as_str) {
                Some("primary") => Host::Primary,
                Some("dr") => Host::Dr,
                _ => return Err(bad("host must be \"primary\" or \"dr\"")),
            };
            let mode = match body.get("mode").and_then(Value::as_str) {
                Some("up") => Mode::Up,
                Some("down") => Mode::Down,
                Some("stall") => Mode::Stall,
                _ => return Err(bad("mode must be \"up\", \"down\" or \"stall\"")),
            };
            set_mode(sim, host, mode).await.map(|_| done())
        }
        "clear" => {
            sim.lock().faults.clear();
            set_all_up(sim).await.map(|_| done())
        }
        _ => Err(bad(
            "kind must be invalidate, errcode, malformed, host or clear",
        )),
    }
}

/// Answers once the host's listener really is in the new mode.
async fn set_mode(sim: &Sim, host: Host, mode: Mode) -> Result<(), (u16, String)> {
    let h = sim.host(host);
    h.mode.send_replace(mode);
    let mut applied = h.applied.clone();
    let reached = tokio::time::timeout(Duration::from_secs(10), applied.wait_for(|m| *m == mode))
        .await
        .is_ok_and(|r| r.is_ok());
    if reached {
        Ok(())
    } else {
        Err((500, format!("{} did not reach mode {mode:?}", host.name())))
    }
}

async fn set_all_up(sim: &Sim) -> Result<(), (u16, String)> {
    set_mode(sim, Host::Primary, Mode::Up).await?;
    set_mode(sim, Host::Dr, Mode::Up).await
}
