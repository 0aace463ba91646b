//! The boundary every binding crosses, so that bindings only convert.
//!
//! Inputs are JSON text or bytes (a call spec, response headers, a store
//! result); outputs come back as one JSON document per poll:
//! `{"outputs": [<canonical output>…], "wake_at_ms": n | null}` (see
//! [`Output::write_json`]). One boundary crossing per poll, and a JSON
//! reply is embedded as JSON, so the host language parses it once.
//!
//! [`frame`] is the same boundary in a compact binary form, for hosts
//! where a JSON document per crossing costs more than the engine's work.
//!
//! Nothing here fails a call silently: a malformed call spec completes the
//! call with `invalid_request`; an unknown transport kind counts as `reset`
//! (the conservative reading: the request may have left); an unreadable
//! store result counts as a store failure.

use crate::call::{Body, Call, CallId};
use crate::engine::Engine;
use crate::error::{ApiError, ErrorKind, TransportErrorKind};
use crate::http::HttpResponse;
use crate::output::{Output, StoreResult};
use serde::Deserialize;
use serde_json::Value;

pub mod frame;

/// A call as the bindings pass it: `{"app", "method", "path", "query":
/// [[name, value], …], "idempotent", "content_type"}`; the body travels
/// beside it as bytes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallSpec {
    app: String,
    #[serde(default = "get")]
    method: String,
    #[serde(default)]
    path: String,
    /// A JS-SDK ticket request (`jsapi`, …) instead of an API call.
    #[serde(default)]
    ticket: Option<String>,
    #[serde(default)]
    query: Vec<(String, String)>,
    #[serde(default)]
    idempotent: bool,
    #[serde(default)]
    content_type: Option<String>,
    /// The call's deadline, overriding the config's `call_timeout_ms`.
    #[serde(default)]
    timeout_ms: Option<u64>,
}

fn get() -> String {
    "GET".into()
}

fn headers_from(json: &[u8]) -> Vec<(String, String)> {
    match serde_json::from_slice::<Value>(json) {
        Ok(Value::Object(m)) => m
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_string())))
            .collect(),
        Ok(Value::Array(pairs)) => pairs
            .iter()
            .filter_map(|p| {
                Some((
                    p.get(0)?.as_str()?.to_string(),
                    p.get(1)?.as_str()?.to_string(),
                ))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Reads a store result: `{"value": s | null}`, `{"ok": true}`,
/// `{"locked": b}`, `{"count": n}` or `{"error": s}`.
pub fn store_result_from_json(json: &[u8]) -> StoreResult {
    let Ok(v) = serde_json::from_slice::<Value>(json) else {
        return StoreResult::Failed("unreadable store result".into());
    };
    if let Some(e) = v.get("error") {
        StoreResult::Failed(e.as_str().unwrap_or("store error").to_string())
    } else if let Some(l) = v.get("locked").and_then(Value::as_bool) {
        StoreResult::Locked(l)
    } else if let Some(c) = v.get("count").and_then(Value::as_i64) {
        StoreResult::Count(c)
    } else if v.get("ok").is_some() {
        StoreResult::Ok
    } else if let Some(value) = v.get("value") {
        StoreResult::Value(value.as_str().map(str::to_string))
    } else {
        StoreResult::Failed("unreadable store result".into())
    }
}

impl Engine {
    /// [`Engine::handle_push`] with the query as JSON (`{"name": "value"}`
    /// or pairs, as for callbacks); the answer as [`crate::Push::to_json`].
    pub fn handle_push_json(
        &mut self,
        app: &str,
        method: &str,
        query_json: &[u8],
        body: &[u8],
        now_ms: u64,
    ) -> Result<String, crate::callback::CallbackError> {
        let query = crate::callback::query_from_json(query_json)?;
        self.handle_push(app, method, &query, body, now_ms)
            .map(|p| p.to_json())
    }

    /// [`Engine::submit`] from a JSON call spec and an optional body.
    pub fn submit_json(&mut self, spec: &[u8], body: Option<&[u8]>, now_ms: u64) -> CallId {
        self.submit_json_owned(spec, body.map(<[u8]>::to_vec), now_ms)
    }

    /// [`Engine::submit_json`] with a body the engine may keep as it is (a
    /// host that already copied it into the engine's memory: no second copy).
    pub fn submit_json_owned(&mut self, spec: &[u8], body: Option<Vec<u8>>, now_ms: u64) -> CallId {
        match serde_json::from_slice::<CallSpec>(spec) {
            Ok(CallSpec {
                app,
                ticket: Some(kind),
                ..
            }) => self.submit_ticket(&app, &kind, now_ms),
            Ok(s) => {
                let body = body.map(|bytes| Body {
                    content_type: s
                        .content_type
                        .clone()
                        .unwrap_or_else(|| "application/json".into()),
                    bytes: bytes.into(),
                });
                let call = Call {
                    app: s.app,
                    method: s.method,
                    path: s.path,
                    query: s.query,
                    body,
                    idempotent: s.idempotent,
                    timeout_ms: s.timeout_ms,
                };
                self.submit(call, now_ms)
            }
            Err(e) => {
                let app = serde_json::from_slice::<Value>(spec)
                    .ok()
                    .and_then(|v| v.get("app").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_default();
                self.complete_now(
                    app,
                    ApiError::new(ErrorKind::InvalidRequest, format!("bad call: {e}")),
                    now_ms,
                )
            }
        }
    }

    /// [`Engine::handle_response`] with headers as JSON (`{"name": "value"}`
    /// or `[["name", "value"], …]`).
    pub fn handle_response_json(
        &mut self,
        request_id: u64,
        status: u16,
        headers: &[u8],
        body: &[u8],
        now_ms: u64,
    ) {
        let response = HttpResponse {
            status,
            headers: headers_from(headers),
            body: body.to_vec(),
        };
        self.handle_response(request_id, response, now_ms);
    }

    /// [`Engine::handle_transport_error`] by kind name; an unknown name counts as `reset`.
    pub fn handle_transport_error_named(&mut self, request_id: u64, kind: &str, now_ms: u64) {
        let kind = TransportErrorKind::from_name(kind).unwrap_or(TransportErrorKind::Reset);
        self.handle_transport_error(request_id, kind, now_ms);
    }

    /// [`Engine::handle_store_result`] from JSON (see [`store_result_from_json`]).
    pub fn handle_store_result_json(&mut self, op_id: u64, result: &[u8], now_ms: u64) {
        self.handle_store_result(op_id, store_result_from_json(result), now_ms);
    }

    /// Drains every output into one JSON document:
    /// `{"outputs": […], "wake_at_ms": n | null}`.
    pub fn poll_json(&mut self, now_ms: u64) -> String {
        let mut out = String::with_capacity(512);
        out.push('{');
        self.write_outputs(&mut out, now_ms);
        out
    }

    /// [`Engine::submit_json`] and [`Engine::poll_json`] in one crossing:
    /// `{"call_id": n, "outputs": […], "wake_at_ms": …}`.
    pub fn submit_poll_json(&mut self, spec: &[u8], body: Option<&[u8]>, now_ms: u64) -> String {
        let id = self.submit_json(spec, body, now_ms);
        let mut out = String::with_capacity(512);
        out.push_str("{\"call_id\":");
        out.push_str(&id.to_string());
        out.push(',');
        self.write_outputs(&mut out, now_ms);
        out
    }

    /// [`Engine::handle_response_json`] and [`Engine::poll_json`] in one crossing.
    pub fn respond_poll_json(
        &mut self,
        request_id: u64,
        status: u16,
        headers: &[u8],
        body: &[u8],
        now_ms: u64,
    ) -> String {
        self.handle_response_json(request_id, status, headers, body, now_ms);
        self.poll_json(now_ms)
    }

    fn write_outputs(&mut self, out: &mut String, now_ms: u64) {
        out.push_str("\"outputs\":[");
        let mut first = true;
        let wake = loop {
            match self.poll_output(now_ms) {
                Output::Idle { wake_at_ms } => break wake_at_ms,
                o => {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    o.write_json(out);
                }
            }
        };
        out.push_str("],\"wake_at_ms\":");
        match wake {
            Some(w) => out.push_str(&w.to_string()),
            None => out.push_str("null"),
        }
        out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn engine() -> Engine {
        let c = Config::from_json(
            r#"{"apps":[{"id":"r","platform":"result","base_url":"https://r.example","secret":"T",
            "token_placement":{"in":"header","name":"token_id"}}]}"#,
        )
        .unwrap();
        Engine::new(c, 0).unwrap()
    }

    #[test]
    fn a_bad_spec_completes_the_call_with_invalid_request() {
        let mut e = engine();
        let id = e.submit_json(br#"{"app":"r","pth":"/x"}"#, None, 0);
        let polled: Value = serde_json::from_str(&e.poll_json(0)).unwrap();
        let done = &polled["outputs"][0]["done"];
        assert_eq!(done["call_id"], id);
        assert_eq!(done["error"]["kind"], "invalid_request");
        assert_eq!(done["error"]["app"], "r");
    }

    #[test]
    fn a_json_reply_is_embedded_as_json() {
        let mut e = engine();
        e.submit_json(br#"{"app":"r","path":"/x","query":[["a","1"]]}"#, None, 0);
        let polled: Value = serde_json::from_str(&e.poll_json(0)).unwrap();
        let send = &polled["outputs"][0]["send"];
        assert_eq!(send["url"], "https://r.example/x?a=1");
        e.handle_response_json(
            1,
            200,
            br#"{"Content-Type":"application/json"}"#,
            br#"{"result":"success","n":[1,2]}"#,
            1,
        );
        let polled: Value = serde_json::from_str(&e.poll_json(1)).unwrap();
        assert_eq!(polled["outputs"][0]["done"]["json"]["n"][1], 2);
        assert_eq!(polled["wake_at_ms"], Value::Null);
    }

    #[test]
    fn submit_poll_returns_the_id_and_the_send() {
        let mut e = engine();
        let doc: Value =
            serde_json::from_str(&e.submit_poll_json(br#"{"app":"r","path":"/x"}"#, None, 0))
                .unwrap();
        assert_eq!(doc["call_id"], 1);
        let id = doc["outputs"][0]["send"]["id"].as_u64().unwrap();
        let doc: Value = serde_json::from_str(&e.respond_poll_json(
            id,
            200,
            b"{}",
            br#"{"result":"success"}"#,
            1,
        ))
        .unwrap();
        assert_eq!(doc["outputs"][0]["done"]["call_id"], 1);
    }

    #[test]
    fn store_results_parse_and_garbage_is_a_failure() {
        assert_eq!(
            store_result_from_json(br#"{"value":null}"#),
            StoreResult::Value(None)
        );
        assert_eq!(
            store_result_from_json(br#"{"locked":true}"#),
            StoreResult::Locked(true)
        );
        assert_eq!(
            store_result_from_json(br#"{"count":3}"#),
            StoreResult::Count(3)
        );
        assert_eq!(store_result_from_json(br#"{"ok":true}"#), StoreResult::Ok);
        assert!(matches!(
            store_result_from_json(b"nope"),
            StoreResult::Failed(_)
        ));
    }
}
