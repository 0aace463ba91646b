//! The compact form of the boundary, for hosts where building and parsing a
//! JSON document per crossing is most of a call's cost (the JVM through
//! JNA, CPython through ctypes, JavaScript through wasm): the same inputs
//! and outputs as the JSON form in [`super`], as length-prefixed fields.
//!
//! A frame, little-endian: `u64 call_id` (0 but for a submit), `i64
//! wake_at_ms` (-1: none), `u32 count`, then `count` outputs, each a tag byte:
//!
//! - 1, a send: `u64 id, u64 timeout_ms, str method, str url, headers, bytes body`;
//! - 2, a successful done: `u64 call_id, u32 status, u8 body kind (0 JSON,
//!   1 other UTF-8 text, 2 other bytes), headers, bytes body`;
//! - 3, anything else (a failed done, an event, a store operation): `bytes`
//!   of its canonical JSON ([`Output::write_json`]), rare enough that its
//!   readers keep one parser for them.
//!
//! `str` and `bytes` are a `u32` length then the bytes; `headers` a `u32`
//! count then each name and value as `str`. A host that can take bytes out
//! of the engine's memory on its own ([`Engine::poll_frame_detached`]: wasm,
//! where a frame is one more copy of every body in memory that never
//! shrinks) gets bodies of [`DETACH_AT`] bytes or more beside the frame: such
//! a `bytes` is `u32 0xFFFF_FFFF, u32 index` into the detached list. Response headers come in the
//! same `headers` form. Nothing here decides anything: the frames carry
//! exactly what the JSON form carries.

use bytes::Bytes;

use crate::engine::Engine;
use crate::http::HttpResponse;
use crate::output::{Completion, Output};

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    // Lengths fit: every host's byte arrays (JVM, wasm, the frame readers) hold under 2^32 bytes.
    put_u32(out, b.len() as u32);
    out.extend_from_slice(b);
}

fn put_headers(out: &mut Vec<u8>, headers: &[(String, String)]) {
    put_u32(out, headers.len() as u32);
    for (k, v) in headers {
        put_bytes(out, k.as_bytes());
        put_bytes(out, v.as_bytes());
    }
}

/// Bodies at least this long travel beside a detached frame.
pub const DETACH_AT: usize = 64 * 1024;

/// A body in the frame, or moved to `detached` (then its index in the frame).
fn put_body(out: &mut Vec<u8>, body: Bytes, detached: &mut Option<&mut Vec<Bytes>>) {
    match detached {
        Some(list) if body.len() >= DETACH_AT => {
            put_u32(out, u32::MAX);
            put_u32(out, list.len() as u32);
            list.push(body);
        }
        _ => put_bytes(out, &body),
    }
}

fn put_output(out: &mut Vec<u8>, o: Output, detached: &mut Option<&mut Vec<Bytes>>) {
    match o {
        Output::Send(r) => {
            out.push(1);
            put_u64(out, r.id);
            put_u64(out, r.timeout_ms);
            put_bytes(out, r.method.as_bytes());
            put_bytes(out, r.url.as_bytes());
            put_headers(out, &r.headers);
            put_body(out, r.body, detached);
        }
        Output::Done(Completion {
            call_id,
            result: Ok(reply),
        }) => {
            out.push(2);
            put_u64(out, call_id);
            put_u32(out, u32::from(reply.status));
            // As the JSON form: a JSON reply as JSON, other UTF-8 as text, the rest as bytes.
            let text = std::str::from_utf8(&reply.body).is_ok();
            out.push(match (reply.json, text) {
                (true, true) => 0,
                (_, true) => 1,
                _ => 2,
            });
            put_headers(out, &reply.headers);
            put_body(out, reply.body.into(), detached);
        }
        other => {
            out.push(3);
            let mut json = String::with_capacity(256);
            other.write_json(&mut json);
            put_bytes(out, json.as_bytes());
        }
    }
}

/// The next `u32` from `b`.
fn take_u32(b: &mut &[u8]) -> Option<u32> {
    let (n, rest) = b.split_first_chunk::<4>()?;
    *b = rest;
    Some(u32::from_le_bytes(*n))
}

/// The next length-prefixed byte string from `b`.
fn take_bytes<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = take_u32(b)? as usize;
    if b.len() < len {
        return None;
    }
    let (s, rest) = b.split_at(len);
    *b = rest;
    Some(s)
}

/// Header pairs in the frame form. What cannot be read ends the list, as
/// unreadable JSON headers do in the JSON form.
pub fn headers_from_frame(mut b: &[u8]) -> Vec<(String, String)> {
    let n = take_u32(&mut b).unwrap_or(0) as usize;
    let mut headers = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let (Some(k), Some(v)) = (take_bytes(&mut b), take_bytes(&mut b)) else {
            break;
        };
        headers.push((
            String::from_utf8_lossy(k).into_owned(),
            String::from_utf8_lossy(v).into_owned(),
        ));
    }
    headers
}

impl Engine {
    /// Drains every output into a frame (`call_id` heads it).
    pub fn poll_frame(&mut self, call_id: u64, now_ms: u64) -> Vec<u8> {
        self.frame(call_id, now_ms, None)
    }

    /// [`Engine::poll_frame`], bodies of [`DETACH_AT`] bytes or more moved
    /// to `detached` rather than copied into the frame (a request's body
    /// shared with its call, not copied).
    pub fn poll_frame_detached(
        &mut self,
        call_id: u64,
        now_ms: u64,
        detached: &mut Vec<Bytes>,
    ) -> Vec<u8> {
        self.frame(call_id, now_ms, Some(detached))
    }

    fn frame(
        &mut self,
        call_id: u64,
        now_ms: u64,
        mut detached: Option<&mut Vec<Bytes>>,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(2048);
        put_u64(&mut out, call_id);
        put_u64(&mut out, 0); // wake_at_ms, written below
        put_u32(&mut out, 0); // count, written below
        let mut count: u32 = 0;
        let wake = loop {
            match self.poll_output(now_ms) {
                Output::Idle { wake_at_ms } => break wake_at_ms,
                o => {
                    put_output(&mut out, o, &mut detached);
                    count += 1;
                }
            }
        };
        let wake = wake.map_or(-1, |w| i64::try_from(w).unwrap_or(i64::MAX));
        out[8..16].copy_from_slice(&wake.to_le_bytes());
        out[16..20].copy_from_slice(&count.to_le_bytes());
        out
    }

    /// [`Engine::submit_json`], then every output as a frame headed by the call's id.
    pub fn submit_poll_frame(&mut self, spec: &[u8], body: Option<&[u8]>, now_ms: u64) -> Vec<u8> {
        let id = self.submit_json(spec, body, now_ms);
        self.poll_frame(id, now_ms)
    }

    /// [`Engine::handle_response`] with headers in the frame form.
    pub fn handle_response_frame(
        &mut self,
        request_id: u64,
        status: u16,
        headers: &[u8],
        body: Vec<u8>,
        now_ms: u64,
    ) {
        let response = HttpResponse {
            status,
            headers: headers_from_frame(headers),
            body,
        };
        self.handle_response(request_id, response, now_ms);
    }

    /// [`Engine::handle_response`] with headers in the frame form, then every output as a frame.
    pub fn respond_poll_frame(
        &mut self,
        request_id: u64,
        status: u16,
        headers: &[u8],
        body: Vec<u8>,
        now_ms: u64,
    ) -> Vec<u8> {
        self.handle_response_frame(request_id, status, headers, body, now_ms);
        self.poll_frame(0, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const CONFIG: &str = r#"{"apps":[{"id":"oa","platform":"wechat-oa","app_id":"wxA","secret":"S"}],
        "quota":{"mode":"off"}}"#;

    /// A frame read back into the JSON form's shapes (send, done with
    /// `json`/`body`/`body_base64`, the rest as it is).
    fn read(mut b: &[u8]) -> (u64, Value) {
        let u64_ = |b: &mut &[u8]| {
            let (n, rest) = b.split_first_chunk::<8>().unwrap();
            *b = rest;
            u64::from_le_bytes(*n)
        };
        let str_ = |b: &mut &[u8]| String::from_utf8(take_bytes(b).unwrap().to_vec()).unwrap();
        let pairs = |b: &mut &[u8]| -> Vec<(String, String)> {
            (0..take_u32(b).unwrap())
                .map(|_| (str_(b), str_(b)))
                .collect()
        };
        let call_id = u64_(&mut b);
        let wake = u64_(&mut b) as i64;
        let mut outputs = Vec::new();
        for _ in 0..take_u32(&mut b).unwrap() {
            let (tag, rest) = b.split_first().unwrap();
            b = rest;
            outputs.push(match tag {
                1 => {
                    let (id, timeout_ms) = (u64_(&mut b), u64_(&mut b));
                    let (method, url) = (str_(&mut b), str_(&mut b));
                    let headers: serde_json::Map<String, Value> = pairs(&mut b)
                        .into_iter()
                        .map(|(k, v)| (k, json!(v)))
                        .collect();
                    let body = if b.starts_with(&u32::MAX.to_le_bytes()) {
                        let index = u32::from_le_bytes(b[4..8].try_into().unwrap());
                        b = &b[8..];
                        json!({ "detached": index })
                    } else {
                        json!(str_(&mut b))
                    };
                    json!({"send": {"id": id, "method": method, "url": url, "headers": headers,
                        "body": body, "timeout_ms": timeout_ms}})
                }
                2 => {
                    let id = u64_(&mut b);
                    let status = take_u32(&mut b).unwrap();
                    let (kind, rest) = b.split_first().unwrap();
                    b = rest;
                    let headers: Vec<Value> = pairs(&mut b)
                        .into_iter()
                        .map(|(k, v)| json!([k, v]))
                        .collect();
                    let body = take_bytes(&mut b).unwrap();
                    let mut d =
                        json!({"call_id": id, "ok": true, "status": status, "is_json": *kind == 0, "headers": headers});
                    match kind {
                        0 => d["json"] = serde_json::from_slice(body).unwrap(),
                        1 => d["body"] = json!(std::str::from_utf8(body).unwrap()),
                        _ => d["body_base64"] = json!("(bytes)"),
                    }
                    json!({ "done": d })
                }
                _ => serde_json::from_slice(take_bytes(&mut b).unwrap()).unwrap(),
            });
        }
        assert!(b.is_empty(), "nothing after the last output");
        let wake = if wake < 0 { Value::Null } else { json!(wake) };
        (call_id, json!({"outputs": outputs, "wake_at_ms": wake}))
    }

    /// The fields the JSON form has and the frame form reads back; `ok`,
    /// `status` and the rest of each done are compared as they are.
    fn comparable(mut doc: Value) -> Value {
        doc.as_object_mut().unwrap().remove("call_id");
        doc
    }

    #[test]
    fn frames_carry_what_the_json_form_carries() {
        let engine = || Engine::new(crate::config::Config::from_json(CONFIG).unwrap(), 0).unwrap();
        let (mut by_json, mut by_frame) = (engine(), engine());
        let spec = br#"{"app":"oa","method":"POST","path":"/cgi-bin/message/custom/send","query":[["a","1 2"]]}"#;
        let body: &[u8] = br#"{"touser":"o1"}"#;

        let json_doc: Value =
            serde_json::from_str(&by_json.submit_poll_json(spec, Some(body), 5)).unwrap();
        let (id, frame_doc) = read(&by_frame.submit_poll_frame(spec, Some(body), 5));
        assert_eq!(json!(id), json_doc["call_id"]);
        assert_eq!(frame_doc, comparable(json_doc.clone()), "the token fetch");
        let token_req = json_doc["outputs"][0]["send"]["id"].as_u64().unwrap();

        let token = br#"{"access_token":"T1","expires_in":7200}"#.to_vec();
        let json_doc: Value = serde_json::from_str(&by_json.respond_poll_json(
            token_req,
            200,
            br#"{"Content-Type":"application/json"}"#,
            &token,
            6,
        ))
        .unwrap();
        let mut headers = Vec::new();
        headers.extend_from_slice(&1u32.to_le_bytes());
        put_bytes(&mut headers, b"Content-Type");
        put_bytes(&mut headers, b"application/json");
        let (_, frame_doc) = read(&by_frame.respond_poll_frame(token_req, 200, &headers, token, 6));
        assert_eq!(frame_doc, json_doc, "the call, sent with the token");
        let sent = |doc: &Value| {
            doc["outputs"]
                .as_array()
                .unwrap()
                .iter()
                .find_map(|o| o["send"]["id"].as_u64())
                .unwrap()
        };
        let mut call_req = sent(&json_doc);

        // A JSON reply, then a refusal by the platform (a failed done: canonical JSON in both).
        for (status, reply) in [
            (200, r#"{"errcode":0,"errmsg":"ok","n":[1,2]}"#),
            (200, r#"{"errcode":40003,"errmsg":"invalid openid"}"#),
        ] {
            let json_doc: Value = serde_json::from_str(&by_json.respond_poll_json(
                call_req,
                status,
                br#"{"Content-Type":"application/json"}"#,
                reply.as_bytes(),
                7,
            ))
            .unwrap();
            let (_, frame_doc) = read(&by_frame.respond_poll_frame(
                call_req,
                status,
                &headers,
                reply.as_bytes().to_vec(),
                7,
            ));
            assert_eq!(frame_doc, json_doc);
            assert!(json_doc["outputs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o.get("done").is_some()));
            // The second reply goes to a new call.
            let json_doc: Value =
                serde_json::from_str(&by_json.submit_poll_json(spec, Some(body), 7)).unwrap();
            let (_, frame_doc) = read(&by_frame.submit_poll_frame(spec, Some(body), 7));
            assert_eq!(frame_doc, comparable(json_doc.clone()));
            call_req = sent(&json_doc);
        }
        assert_eq!(
            headers_from_frame(&headers),
            vec![("Content-Type".into(), "application/json".into())]
        );
        assert_eq!(
            headers_from_frame(&[9, 0, 0, 0, 1]),
            vec![],
            "a truncated list ends"
        );
    }

    #[test]
    fn large_bodies_travel_beside_a_detached_frame_and_small_ones_inside() {
        let mut e = Engine::new(crate::config::Config::from_json(CONFIG).unwrap(), 0).unwrap();
        let big = vec![0xA5u8; DETACH_AT];
        let spec = br#"{"app":"oa","method":"POST","path":"/cgi-bin/media/upload","content_type":"image/jpeg"}"#;
        e.submit_json(spec, Some(&big), 0);
        let mut detached = Vec::new();
        let f = e.poll_frame_detached(0, 0, &mut detached);
        // The token fetch first: a small body, inline.
        assert!(detached.is_empty());
        let (_, doc) = read(&f);
        let token_req = doc["outputs"][0]["send"]["id"].as_u64().unwrap();
        e.handle_response_frame(
            token_req,
            200,
            &[0; 4],
            br#"{"access_token":"T","expires_in":7200}"#.to_vec(),
            1,
        );
        let f = e.poll_frame_detached(0, 1, &mut detached);
        assert_eq!(detached, vec![big.clone()], "the upload's body, moved out");
        let marker = [u32::MAX.to_le_bytes(), 0u32.to_le_bytes()].concat();
        assert!(
            f.ends_with(&marker),
            "the send's body is the last field: the marker and index 0"
        );
        assert!(f.len() < 1024);
        // A reply one byte short of the threshold stays inside.
        let (_, doc) = read(&f);
        let send = doc["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|o| o.get("send"))
            .unwrap();
        assert_eq!(send["body"], json!({ "detached": 0 }));
        let send_id = send["id"].as_u64().unwrap();
        let reply = vec![b'x'; DETACH_AT - 1];
        let mut more = Vec::new();
        let mut jpeg = 1u32.to_le_bytes().to_vec();
        put_bytes(&mut jpeg, b"Content-Type");
        put_bytes(&mut jpeg, b"image/jpeg");
        e.handle_response_frame(send_id, 200, &jpeg, reply.clone(), 2);
        let f = e.poll_frame_detached(0, 2, &mut more);
        assert!(more.is_empty(), "{:?}", read(&f).1);
        assert!(f.ends_with(&reply), "{:?}", read(&f).1);
    }
}
