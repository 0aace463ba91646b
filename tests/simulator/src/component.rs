//! The open platform's third-party component (开放平台第三方平台): the
//! component_verify_ticket the platform pushes, encrypted, to the
//! component's authorization event URL, and the component token fetched
//! with it (THIRD-PARTY.md §1).
//!
//! - `POST /cgi-bin/component/api_component_token` `{component_appid,
//!   component_appsecret, component_verify_ticket}`: the ticket must be one
//!   pushed to this component (else 61006) within 12 h (else 61005). Every
//!   fetch issues a new token; the previous one keeps working for
//!   `overlap_s` (300) more, then answers 40001: two servers fetching in
//!   turn break each other, as on the platform.
//! - `POST /cgi-bin/component/api_create_preauthcode?component_access_token=`
//!   `{component_appid}` → `{pre_auth_code, expires_in: 600}`.
//! - `POST /cgi-bin/component/api_start_push_ticket` `{component_appid,
//!   component_secret}` → a push now, and pushes resume.
//!
//! A WeCom suite (第三方应用, 代开发 template) works alike (W/90628, W/97162):
//!
//! - `POST /cgi-bin/service/get_suite_token` `{suite_id, suite_secret,
//!   suite_ticket}`: a ticket pushed to this suite within 30 min (else
//!   40085); the same token while it is valid; no `errcode` on success.
//! - `GET /cgi-bin/service/get_pre_auth_code?suite_access_token` →
//!   `{errcode: 0, errmsg: "ok", pre_auth_code, expires_in: 1200}`; an
//!   invalid suite token answers 40082, an expired one 42009.
//!
//! Pushes go to the URL the control side configured (`POST /component`, `POST /suite`),
//! every `period_ms`, sealed with WXBizMsgCrypt written here from its
//! published description (AES-256-CBC, IV = key[..16], PKCS#7 to 32 bytes,
//! `random(16) ‖ len(4, big endian) ‖ xml ‖ appid`; msg_signature =
//! sha1(sort(token, timestamp, nonce, encrypt))).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aes::cipher::{BlockEncrypt, KeyInit};
use base64::Engine as _;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::gate::{self, call, reject, Auth, Fail, Kind};
use crate::http::{Reply, Req};
use crate::state::{bump, now_ms, Cred, Platform, Sim, State};

const P: Platform = Platform::Component;
const TICKET_LIFE_MS: u64 = 12 * 3600 * 1000;

/// What the simulator knows of one component.
#[derive(Default)]
pub struct Component {
    pub push: Option<PushTarget>,
    /// Tickets pushed, with when.
    pub tickets: HashMap<String, u64>,
    /// The token the last fetch issued (the previous one dies after the overlap).
    pub current: Option<String>,
    pub pushes_sent: u64,
    pub pushes_answered: u64,
    /// Bumped by every `POST /component`: a pusher of an older configuration stops.
    pub generation: u64,
    /// `api_start_push_ticket` asked for a push now.
    pub push_now: bool,
    /// Accounts that authorized this component, by appid.
    pub authorizers: HashMap<String, crate::authorizer::Authorizer>,
    /// Authorization codes not yet used: the authorizer and when issued.
    pub codes: HashMap<String, (String, u64)>,
}

/// Which platform's pushes: the XML and the ticket's life differ.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PushKind {
    Component,
    Suite,
}

const SUITE_TICKET_LIFE_MS: u64 = 30 * 60 * 1000;

#[derive(Clone)]
pub struct PushTarget {
    pub kind: PushKind,
    pub url: String,
    pub token: String,
    pub key: [u8; 32],
    pub period_ms: u64,
    pub stopped: bool,
}

pub fn handle(sim: &Sim, req: &Req) -> Reply {
    match req.path.as_str() {
        "/cgi-bin/component/api_component_token" => component_token(sim, req),
        "/cgi-bin/component/api_create_preauthcode" => call(
            sim,
            req,
            P,
            Some(true),
            Auth::Token(req.q("component_access_token")),
            Kind::Business,
            |st, _| {
                let code = st.mint("preauthcode@@@");
                Ok(Reply::ok(json!({"pre_auth_code": code, "expires_in": 600})))
            },
        ),
        "/cgi-bin/component/api_start_push_ticket" => start_push(sim, req),
        "/cgi-bin/component/api_query_auth"
        | "/cgi-bin/component/api_authorizer_token"
        | "/cgi-bin/component/api_get_authorizer_list" => crate::authorizer::handle(sim, req),
        "/cgi-bin/service/get_permanent_code" | "/cgi-bin/service/get_corp_token" => {
            crate::authorizer::handle_suite(sim, req)
        }
        "/cgi-bin/service/get_suite_token" => suite_token(sim, req),
        "/cgi-bin/service/get_pre_auth_code" => call(
            sim,
            req,
            Platform::Suite,
            Some(false),
            Auth::Token(req.q("suite_access_token")),
            Kind::Business,
            |st, _| {
                let code = st.mint("suitepreauth@@@");
                Ok(Reply::ok(
                    json!({"errcode": 0, "errmsg": "ok", "pre_auth_code": code, "expires_in": 1200}),
                ))
            },
        ),
        path => gate::not_found(path),
    }
}

fn suite_token(sim: &Sim, req: &Req) -> Reply {
    const S: Platform = Platform::Suite;
    let mut st = sim.lock();
    let now = now_ms();
    let body = req.json().unwrap_or(Value::Null);
    let suite = field(&body, "suite_id").to_string();
    if suite.is_empty() {
        return reject(&mut st, S, None, Fail::new(40086, "invalid suite id"));
    }
    bump(&mut st.counters.token_fetches, &suite);
    if !matches!(
        st.check_secret(&suite, field(&body, "suite_secret"), false),
        Cred::Ok(_)
    ) {
        return reject(
            &mut st,
            S,
            Some(&suite),
            Fail::new(40013, "invalid suite secret"),
        );
    }
    let ticket = field(&body, "suite_ticket");
    let fresh = st
        .components
        .get(&suite)
        .and_then(|c| c.tickets.get(ticket).copied())
        .is_some_and(|at| now < at + SUITE_TICKET_LIFE_MS);
    if !fresh {
        return reject(
            &mut st,
            S,
            Some(&suite),
            Fail::new(40085, "invalid suite ticket"),
        );
    }
    // The same token while it is valid, with what is left of its life.
    let current = st.components.get(&suite).and_then(|c| c.current.clone());
    if let Some(t) = current.filter(|t| st.token_valid(t, now)) {
        let left = st.token_left_s(&t, now);
        return Reply::ok(json!({"suite_access_token": t, "expires_in": left}));
    }
    let token = st.issue_token(S, &suite, "st_", now);
    st.components.entry(suite).or_default().current = Some(token.clone());
    let expires_in = st.config.token_ttl_s;
    Reply::ok(json!({"suite_access_token": token, "expires_in": expires_in}))
}

fn field<'a>(body: &'a Value, name: &str) -> &'a str {
    body.get(name).and_then(Value::as_str).unwrap_or("")
}

fn component_token(sim: &Sim, req: &Req) -> Reply {
    let mut st = sim.lock();
    let now = now_ms();
    let body = req.json().unwrap_or(Value::Null);
    let appid = field(&body, "component_appid").to_string();
    if appid.is_empty() {
        return reject(&mut st, P, None, Fail::new(41002, "appid missing"));
    }
    bump(&mut st.counters.token_fetches, &appid);
    match st.check_secret(&appid, field(&body, "component_appsecret"), false) {
        Cred::Ok(_) => {}
        Cred::Missing => {
            return reject(
                &mut st,
                P,
                Some(&appid),
                Fail::new(41004, "appsecret missing"),
            )
        }
        Cred::Wrong => {
            return reject(
                &mut st,
                P,
                Some(&appid),
                Fail::new(40125, "invalid appsecret"),
            )
        }
    }
    let ticket = field(&body, "component_verify_ticket");
    let issued = st
        .components
        .get(&appid)
        .and_then(|c| c.tickets.get(ticket).copied());
    match issued {
        None => {
            return reject(
                &mut st,
                P,
                Some(&appid),
                Fail::new(61006, "component ticket is invalid"),
            )
        }
        Some(at) if now >= at + TICKET_LIFE_MS => {
            return reject(
                &mut st,
                P,
                Some(&appid),
                Fail::new(61005, "component ticket is expired"),
            )
        }
        Some(_) => {}
    }
    if let Err(f) = gate::limits(&mut st, P, &appid, &req.path, now) {
        return reject(&mut st, P, Some(&appid), f);
    }
    let token = st.issue_token(P, &appid, "ct_", now);
    let overlap_until = now + st.config.overlap_s * 1000;
    let previous = st
        .components
        .entry(appid.clone())
        .or_default()
        .current
        .replace(token.clone());
    if let Some(old) = previous {
        st.cap_token(&old, overlap_until);
    }
    let expires_in = st.config.token_ttl_s;
    Reply::ok(json!({"component_access_token": token, "expires_in": expires_in}))
}

fn start_push(sim: &Sim, req: &Req) -> Reply {
    let mut st = sim.lock();
    let body = req.json().unwrap_or(Value::Null);
    let appid = field(&body, "component_appid").to_string();
    match st.check_secret(&appid, field(&body, "component_secret"), false) {
        Cred::Ok(_) => {}
        _ => {
            return reject(
                &mut st,
                P,
                Some(&appid),
                Fail::new(40125, "invalid appsecret"),
            )
        }
    }
    match st.components.get_mut(&appid).and_then(|c| c.push.as_mut()) {
        Some(p) => p.stopped = false,
        None => {
            return reject(
                &mut st,
                P,
                Some(&appid),
                Fail::new(61011, "invalid component"),
            )
        }
    }
    st.components.get_mut(&appid).expect("configured").push_now = true;
    Reply::ok(json!({"errcode": 0, "errmsg": "ok"}))
}

/// `POST /component` (control): `{component_appid, token, encoding_aes_key,
/// url, period_ms}` starts pushing tickets to `url`, the first one at once;
/// `POST /suite` the same with `suite_id` for a WeCom suite.
pub fn configure(
    sim: &Arc<Sim>,
    kind: PushKind,
    b: &serde_json::Map<String, Value>,
) -> Result<Reply, String> {
    let s = |k: &str| {
        b.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or(format!("{k} must be a non-empty string"))
    };
    let appid = s(match kind {
        PushKind::Component => "component_appid",
        PushKind::Suite => "suite_id",
    })?;
    let key_text = s("encoding_aes_key")?;
    // The console's keys end in a character whose low bits base64 would call padding.
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    let raw = lenient
        .decode(format!("{key_text}="))
        .map_err(|_| "encoding_aes_key is not base64".to_string())?;
    let key: [u8; 32] = raw
        .try_into()
        .map_err(|_| "encoding_aes_key must be 43 characters".to_string())?;
    let target = PushTarget {
        kind,
        url: s("url")?,
        token: s("token")?,
        key,
        period_ms: b
            .get("period_ms")
            .and_then(Value::as_u64)
            .unwrap_or(600_000)
            .max(10),
        stopped: false,
    };
    if !target.url.starts_with("http://") {
        return Err("url must be http://host:port/path".into());
    }
    let generation = {
        let mut st = sim.lock();
        let c = st.components.entry(appid.clone()).or_default();
        c.push = Some(target);
        c.generation += 1;
        c.generation
    };
    tokio::spawn(pusher(sim.clone(), appid, generation));
    Ok(Reply::ok(json!({"ok": true})))
}

/// `POST /component/stop` (control): pushes stop until `api_start_push_ticket`.
pub fn stop(sim: &Sim, b: &serde_json::Map<String, Value>) -> Result<Reply, String> {
    let appid = b
        .get("component_appid")
        .or_else(|| b.get("suite_id"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut st = sim.lock();
    match st.components.get_mut(appid).and_then(|c| c.push.as_mut()) {
        Some(p) => {
            p.stopped = true;
            Ok(Reply::ok(json!({"ok": true})))
        }
        None => Err(format!("component {appid} is not configured")),
    }
}

/// `GET /component?component_appid=` (control): pushes and tickets so far.
pub fn report(sim: &Sim, req: &Req) -> Reply {
    let appid = req
        .q("component_appid")
        .or_else(|| req.q("suite_id"))
        .unwrap_or("");
    let st = sim.lock();
    match st.components.get(appid) {
        Some(c) => Reply::ok(json!({
            "pushes_sent": c.pushes_sent,
            "pushes_answered": c.pushes_answered,
            "tickets": c.tickets.len(),
            "stopped": c.push.as_ref().is_some_and(|p| p.stopped),
        })),
        None => Reply::json(404, &json!({"error": "no such component"})),
    }
}

/// Pushes a ticket every period while this configuration stands.
async fn pusher(sim: Arc<Sim>, appid: String, generation: u64) {
    let mut next = now_ms();
    loop {
        let due = {
            let mut st = sim.lock();
            let Some(c) = st.components.get(&appid) else {
                return;
            };
            if c.generation != generation {
                return;
            }
            let target = c.push.clone().expect("configured");
            let asked = c.push_now;
            if target.stopped {
                next = now_ms() + target.period_ms;
                None
            } else if asked || now_ms() >= next {
                next = now_ms() + target.period_ms;
                if let Some(c) = st.components.get_mut(&appid) {
                    c.push_now = false;
                }
                Some(seal_ticket(&mut st, &appid, &target))
            } else {
                None
            }
        };
        if let Some((url, body)) = due {
            let answered = post(&url, &body).await;
            let mut st = sim.lock();
            if let Some(c) = st.components.get_mut(&appid) {
                c.pushes_sent += 1;
                if answered {
                    c.pushes_answered += 1;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A new ticket, recorded as pushed, sealed into the push's URL and body.
fn seal_ticket(st: &mut State, appid: &str, target: &PushTarget) -> (String, String) {
    let now = now_ms();
    let ticket = st.mint("ticket@@@");
    st.components
        .entry(appid.to_string())
        .or_default()
        .tickets
        .insert(ticket.clone(), now);
    let created = now / 1000;
    let xml = match target.kind {
        PushKind::Component => format!(
            "<xml><AppId><![CDATA[{appid}]]></AppId><CreateTime>{created}</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[{ticket}]]></ComponentVerifyTicket></xml>"
        ),
        PushKind::Suite => format!(
            "<xml><SuiteId><![CDATA[{appid}]]></SuiteId><InfoType><![CDATA[suite_ticket]]></InfoType><TimeStamp>{created}</TimeStamp><SuiteTicket><![CDATA[{ticket}]]></SuiteTicket></xml>"
        ),
    };
    seal_push(st, appid, target, &xml, created)
}

/// A push's plaintext `xml`, sealed into the URL and body the platform posts.
pub fn seal_push(
    st: &mut State,
    appid: &str,
    target: &PushTarget,
    xml: &str,
    created: u64,
) -> (String, String) {
    let prefix = st.mint("");
    let nonce = st.mint("");
    let nonce = &nonce[..10];
    let encrypt = seal(&target.key, &prefix.as_bytes()[..16], xml.as_bytes(), appid);
    let timestamp = created.to_string();
    let mut parts = [target.token.as_str(), &timestamp, nonce, &encrypt];
    parts.sort_unstable();
    let signature: String = Sha1::digest(parts.concat().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let sep = if target.url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{}{sep}timestamp={timestamp}&nonce={nonce}&encrypt_type=aes&msg_signature={signature}",
        target.url
    );
    let outer = match target.kind {
        PushKind::Component => "AppId",
        PushKind::Suite => "ToUserName",
    };
    let body = format!(
        "<xml><{outer}><![CDATA[{appid}]]></{outer}><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    );
    (url, body)
}

/// AES-256-CBC with IV = key[..16] over the framed message, PKCS#7 to 32 bytes, base64.
fn seal(key: &[u8; 32], random16: &[u8], msg: &[u8], appid: &str) -> String {
    let mut raw = Vec::with_capacity(msg.len() + 64);
    raw.extend_from_slice(random16);
    raw.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    raw.extend_from_slice(msg);
    raw.extend_from_slice(appid.as_bytes());
    let pad = 32 - raw.len() % 32;
    raw.extend(std::iter::repeat_n(pad as u8, pad));
    let cipher = aes::Aes256::new(key.into());
    let mut prev: [u8; 16] = key[..16].try_into().expect("16 bytes");
    for chunk in raw.chunks_mut(16) {
        for (b, p) in chunk.iter_mut().zip(prev.iter()) {
            *b ^= p;
        }
        let block = aes::Block::from_mut_slice(chunk);
        cipher.encrypt_block(block);
        prev.copy_from_slice(chunk);
    }
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// One HTTP/1.1 POST over a fresh connection; whether the answer was `success`.
pub async fn post(url: &str, body: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(authority).await.ok()?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.ok()?;
        stream.write_all(body.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        let text = String::from_utf8_lossy(&answer);
        let (status_line, rest) = text.split_once("\r\n")?;
        let (_, payload) = rest.split_once("\r\n\r\n")?;
        // A chunked answer carries the word on a line of its own.
        let success = payload.trim() == "success" || payload.split("\r\n").any(|l| l == "success");
        Some(status_line.contains(" 200 ") && success)
    };
    // The platform gives the URL a few seconds, then counts the push as failed.
    tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}
