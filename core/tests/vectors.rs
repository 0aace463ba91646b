//! Runs the language-neutral conformance scenarios in `tests/vectors/*.json`.
//! The Node, Python and Kotlin runners execute the same files the same way:
//! apply each step's input at its `now_ms`, drain outputs until `Idle`
//! (recording the `Idle` too), and compare the whole recording with
//! `expect`, each expected entry a subset of the actual one.

use base64::Engine as _;
use serde_json::{json, Value};
use std::path::PathBuf;
use wxcore::{Body, Call, Config, Engine, HttpResponse, Output, StoreResult, TransportErrorKind};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn call_from(v: &Value) -> Call {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let query = v
        .get("query")
        .and_then(Value::as_array)
        .map(|pairs| {
            pairs
                .iter()
                .map(|p| {
                    (
                        p[0].as_str().unwrap().to_string(),
                        p[1].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let body = if let Some(j) = v.get("json") {
        Some(Body {
            content_type: "application/json".into(),
            bytes: serde_json::to_vec(j).unwrap().into(),
        })
    } else {
        s("body").map(|b| Body {
            content_type: s("content_type").unwrap_or_else(|| "application/octet-stream".into()),
            bytes: b.into_bytes().into(),
        })
    };
    Call {
        app: s("app").unwrap(),
        method: s("method").unwrap_or_else(|| "GET".into()),
        path: s("path").unwrap(),
        query,
        body,
        idempotent: v
            .get("idempotent")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        timeout_ms: v.get("timeout_ms").and_then(Value::as_u64),
    }
}

fn response_from(v: &Value) -> HttpResponse {
    let mut headers: Vec<(String, String)> = v
        .get("headers")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let body = if let Some(j) = v.get("json") {
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("content-type".into(), "application/json".into()));
        }
        serde_json::to_vec(j).unwrap()
    } else if let Some(b) = v.get("body_base64").and_then(Value::as_str) {
        base64::engine::general_purpose::STANDARD.decode(b).unwrap()
    } else {
        v.get("body")
            .and_then(Value::as_str)
            .unwrap_or("")
            .as_bytes()
            .to_vec()
    };
    HttpResponse {
        status: v.get("status").and_then(Value::as_u64).unwrap_or(200) as u16,
        headers,
        body,
    }
}

fn store_result_from(v: &Value) -> StoreResult {
    if let Some(e) = v.get("error") {
        StoreResult::Failed(e.as_str().unwrap().to_string())
    } else if let Some(l) = v.get("locked") {
        StoreResult::Locked(l.as_bool().unwrap())
    } else if let Some(c) = v.get("count") {
        StoreResult::Count(c.as_i64().unwrap())
    } else if v.get("ok").is_some() {
        StoreResult::Ok
    } else {
        StoreResult::Value(v.get("value").and_then(Value::as_str).map(str::to_string))
    }
}

/// `expected` is a subset of `actual`; `json` compares a parsed `body`.
fn matches(expected: &Value, actual: &Value) -> bool {
    match expected {
        Value::Object(m) => m.iter().all(|(k, v)| {
            if k == "json" && actual.get("json").is_some() {
                actual.get("json") == Some(v)
            } else if k == "json" || k == "value_json" {
                // `json` compares the parsed `body` (or the embedded reply);
                // `value_json` the parsed store `value`.
                let field = if k == "json" { "body" } else { "value" };
                let text = actual.get(field).and_then(Value::as_str).unwrap_or("");
                serde_json::from_str::<Value>(text).is_ok_and(|parsed| &parsed == v)
            } else {
                match actual.get(k) {
                    Some(a) => matches(v, a),
                    None => v.is_null(),
                }
            }
        }),
        other => other == actual,
    }
}

/// The metrics text as the vectors compare it: each sample line split at
/// its last space into the series and the value, both as written.
fn samples(text: &str) -> Value {
    let mut m = serde_json::Map::new();
    for line in text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let (series, value) = line.rsplit_once(' ').expect("a sample line has a value");
        m.insert(series.to_string(), json!(value));
    }
    Value::Object(m)
}

struct Outcome {
    recorded: Vec<Value>,
}

fn run(scenario: &Value) -> Result<Outcome, String> {
    let config_value = scenario["config"].clone();
    let mut recorded = Vec::new();
    let config = match Config::from_value(config_value.clone()) {
        Ok(c) => c,
        Err(e) => {
            recorded.push(json!({"config_error": {"field": e.field, "message": e.message}}));
            return Ok(Outcome { recorded });
        }
    };
    let start = scenario["steps"]
        .get(0)
        .and_then(|s| s["now_ms"].as_u64())
        .unwrap_or(0);
    let mut engine = match Engine::new(config, start) {
        Ok(e) => e,
        Err(e) => {
            recorded.push(json!({"config_error": {"field": e.field, "message": e.message}}));
            return Ok(Outcome { recorded });
        }
    };
    let mut done_ids = std::collections::HashSet::new();
    for (i, step) in scenario["steps"]
        .as_array()
        .ok_or("steps")?
        .iter()
        .enumerate()
    {
        let now = step["now_ms"].as_u64().ok_or(format!("step {i}: now_ms"))?;
        let input = step["input"]
            .as_object()
            .ok_or(format!("step {i}: input"))?;
        let (kind, v) = input
            .iter()
            .next()
            .ok_or(format!("step {i}: empty input"))?;
        match kind.as_str() {
            "submit" => match v.get("ticket").and_then(Value::as_str) {
                Some(kind) => {
                    engine.submit_ticket(v["app"].as_str().unwrap(), kind, now);
                }
                None => {
                    engine.submit(call_from(v), now);
                }
            },
            "response" => engine.handle_response(v["id"].as_u64().unwrap(), response_from(v), now),
            "transport_error" => engine.handle_transport_error(
                v["id"].as_u64().unwrap(),
                TransportErrorKind::from_name(v["kind"].as_str().unwrap())
                    .ok_or("transport kind")?,
                now,
            ),
            "store_result" => {
                engine.handle_store_result(v["id"].as_u64().unwrap(), store_result_from(v), now)
            }
            "cancel" => {
                engine.cancel(v["id"].as_u64().unwrap(), now);
            }
            "push" => {
                let query: Vec<(String, String)> = v["query"]
                    .as_object()
                    .ok_or("push query")?
                    .iter()
                    .map(|(k, x)| (k.clone(), x.as_str().unwrap_or_default().to_string()))
                    .collect();
                let body = v["body"].as_str().unwrap_or_default().as_bytes();
                let method = v["method"].as_str().unwrap_or("POST");
                recorded.push(
                    match engine.handle_push(v["app"].as_str().unwrap(), method, &query, body, now) {
                        Ok(p) => json!({"push": serde_json::from_str::<Value>(&p.to_json()).unwrap()}),
                        Err(e) => json!({"push_error": {"kind": e.kind.as_str(), "reason": e.reason, "message": e.message}}),
                    },
                );
            }
            "poll" => {}
            // Recorded before the step's drain, like an input's answer.
            "status" => recorded.push(json!({ "status": engine.status(now) })),
            "metrics" => recorded
                .push(json!({ "metrics": { "samples": samples(&engine.metrics_text(now)) } })),
            "restart" | "restore" => {
                let state = if kind == "restart" {
                    engine.export_state()
                } else {
                    v["state"].to_string()
                };
                let config = Config::from_value(config_value.clone()).unwrap();
                match Engine::restore(config, &state, now) {
                    Ok(e) => {
                        engine = e;
                        // A new engine numbers its calls afresh.
                        done_ids.clear();
                    }
                    Err(e) => recorded
                        .push(json!({"config_error": {"field": e.field, "message": e.message}})),
                }
            }
            other => return Err(format!("step {i}: unknown input `{other}`")),
        }
        for _ in 0..10_000 {
            let o = engine.poll_output(now);
            let idle = matches!(o, Output::Idle { .. });
            if let Output::Done(c) = &o {
                if !done_ids.insert(c.call_id) {
                    return Err(format!("call {} completed twice", c.call_id));
                }
            }
            recorded.push(o.to_json());
            if idle {
                break;
            }
        }
    }
    Ok(Outcome { recorded })
}

fn check(scenario: &Value) -> Result<(), String> {
    let outcome = run(scenario)?;
    let expect = scenario["expect"].as_array().ok_or("expect")?;
    let got = &outcome.recorded;
    for (i, e) in expect.iter().enumerate() {
        match got.get(i) {
            Some(a) if matches(e, a) => {}
            Some(a) => {
                return Err(format!(
                    "output {i} differs\n  expected: {e}\n  actual:   {a}\n  all actual:\n    {}",
                    got.iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join("\n    ")
                ))
            }
            None => return Err(format!("output {i} missing: expected {e}")),
        }
    }
    if got.len() > expect.len() {
        return Err(format!(
            "{} unexpected extra outputs, first: {}\n  all actual:\n    {}",
            got.len() - expect.len(),
            got[expect.len()],
            got.iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join("\n    ")
        ));
    }
    Ok(())
}

#[test]
fn conformance_vectors() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(vectors_dir())
        .expect("tests/vectors")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut total = 0;
    let mut failures = Vec::new();
    let mut platforms = std::collections::BTreeSet::new();
    for f in &files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let Some(scenarios) = doc.get("scenarios").and_then(Value::as_array) else {
            continue;
        };
        for s in scenarios {
            total += 1;
            if let Some(apps) = s["config"]["apps"].as_array() {
                for a in apps {
                    platforms.insert(a["platform"].as_str().unwrap_or("").to_string());
                }
            }
            if let Err(e) = check(s) {
                failures.push(format!(
                    "{} / {}: {e}",
                    f.file_name().unwrap().to_string_lossy(),
                    s["name"]
                ));
            }
        }
    }
    println!("{total} scenarios across platforms {platforms:?}");
    assert!(
        failures.is_empty(),
        "{} of {total} scenarios failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(total >= 60, "only {total} scenarios");
    for p in [
        "wechat-oa",
        "wecom",
        "jing",
        "cj",
        "result",
        "wechat-component",
        "wecom-suite",
    ] {
        assert!(platforms.contains(p), "no scenario for {p}");
    }
}

/// The runner must reject a scenario whose expectations are wrong: a
/// corrupted wake time, URL or error kind, or an output left out.
#[test]
fn runner_rejects_corrupted_expectations() {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(vectors_dir().join("oa-tokens.json")).unwrap(),
    )
    .unwrap();
    let scenarios = doc["scenarios"].as_array().unwrap();
    let single_flight = &scenarios[0];
    let endpoint_error = scenarios
        .iter()
        .find(|s| {
            s["name"]
                .as_str()
                .unwrap()
                .starts_with("token endpoint 40001")
        })
        .unwrap();
    assert!(check(single_flight).is_ok() && check(endpoint_error).is_ok());

    let corrupt = |s: &Value, f: &dyn Fn(&mut Vec<Value>)| {
        let mut s = s.clone();
        f(s["expect"].as_array_mut().unwrap());
        check(&s)
    };
    let wake = corrupt(single_flight, &|e| {
        let idle = e
            .iter_mut()
            .rev()
            .find(|o| o["idle"]["wake_at_ms"].is_u64())
            .unwrap();
        let w = idle["idle"]["wake_at_ms"].as_u64().unwrap();
        idle["idle"]["wake_at_ms"] = json!(w + 1);
    });
    assert!(wake.is_err(), "a wrong wake time passed");
    let url = corrupt(single_flight, &|e| {
        let send = e.iter_mut().find(|o| o["send"]["url"].is_string()).unwrap();
        let u = format!("{}x", send["send"]["url"].as_str().unwrap());
        send["send"]["url"] = json!(u);
    });
    assert!(url.is_err(), "a wrong URL passed");
    let missing = corrupt(single_flight, &|e| {
        e.pop();
    });
    assert!(missing.is_err(), "an unexpected extra output passed");
    let kind = corrupt(endpoint_error, &|e| {
        let done = e
            .iter_mut()
            .find(|o| o["done"]["error"]["kind"].is_string())
            .unwrap();
        done["done"]["error"]["kind"] = json!("busy");
    });
    assert!(kind.is_err(), "a wrong error kind passed");
}
