//! API security (`core/src/api_security.rs`): the public functions on
//! arbitrary input never panic; seal → open round-trips and a tampered
//! body never opens; and through the engine, a sealed call's reply is
//! accepted only when it is the platform's signed, sealed answer: any edit
//! of its headers or body, or an arbitrary reply, never completes the call
//! with success.
#![no_main]
use arbitrary::Arbitrary;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use std::sync::OnceLock;
use wxcore::api_security::{open, public_key, seal, sign, sym_key, verify};
use wxcore::{Call, Config, Engine, HttpResponse, Output};

const APP: &str = "wxba6223c06417af7b";
const HOST: &str = "https://api.weixin.qq.com";
const PATH: &str = "/wxa/getuserriskrank";
const T0: u64 = 1_700_000_000_000;
const PLAIN: &str = r#"{"errcode":0,"errmsg":"ok","risk_rank":0}"#;

struct Fixture {
    sym_key: String,
    sym_sn: String,
    pem: String,
    /// The platform's signed, sealed reply to the call, at T0 (seconds).
    reply: HttpResponse,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let all: Value = serde_json::from_str(include_str!("../../tests/vectors/crypto-official.json")).unwrap();
        let v = &all["api_security_request"][0];
        let s = |k: &str| v[k].as_str().unwrap().to_string();
        let (sym, sn, pem) = (s("sym_key"), s("sym_sn"), s("rsa_private_key_pem"));
        let key = sym_key(&sym).unwrap();
        let url = format!("{HOST}{PATH}");
        let ts = T0 / 1000;
        let body = seal(&key, &sn, APP, &url, ts, &[3; 12], PLAIN.as_bytes());
        let sig = sign(&pem, &url, APP, ts, body.as_bytes(), [5; 32]).unwrap();
        let reply = HttpResponse {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("Wechatmp-Appid".into(), APP.into()),
                ("Wechatmp-TimeStamp".into(), ts.to_string()),
                ("Wechatmp-Serial".into(), "PLATFORM-SN".into()),
                ("Wechatmp-Signature".into(), sig),
            ],
            body: body.into_bytes(),
        };
        Fixture { sym_key: sym, sym_sn: sn, pem, reply }
    })
}

#[derive(Arbitrary, Debug)]
enum Input {
    SymKey(String),
    PublicKey { label: u8, der: Vec<u8>, raw: Option<String> },
    Open { ts: u64, url: String, appid: String, body: Vec<u8> },
    Verify { ts: u64, data: Vec<u8>, signature: String, pem: Option<String> },
    RoundTrip { plain: Vec<u8>, iv: [u8; 12], ts: u64, url: String, appid: String, sn: String, flip: u16 },
    /// The platform's genuine reply, edited (or not).
    Reply { edits: Vec<ReplyEdit>, now_delta_s: i16 },
    /// An arbitrary reply.
    Arbitrary { status: u16, headers: Vec<(u8, String)>, body: Vec<u8> },
}

#[derive(Arbitrary, Debug)]
enum ReplyEdit {
    FlipBody(u16, u8),
    SetHeader(u8, String),
    DropHeader(u8),
    Status(u16),
}

const HEADERS: [&str; 8] = [
    "Wechatmp-Appid",
    "Wechatmp-TimeStamp",
    "Wechatmp-Serial",
    "Wechatmp-Signature",
    "Wechatmp-Serial-Deprecated",
    "Wechatmp-Signature-Deprecated",
    "Content-Type",
    "wechatmp-signature",
];

fn primary(name: &str) -> bool {
    ["wechatmp-appid", "wechatmp-timestamp", "wechatmp-serial", "wechatmp-signature"]
        .contains(&name.to_ascii_lowercase().as_str())
}

fn engine_and_call() -> (Engine, u64) {
    let f = fixture();
    let cfg = Config::from_value(json!({
        "apps": [{
            "id": "mp", "platform": "wechat-oa", "app_id": APP, "secret": "S",
            "api_security": {
                "sym_key": f.sym_key, "sym_sn": f.sym_sn, "private_key": f.pem,
                "platform_keys": {"PLATFORM-SN": f.pem}, "paths": [PATH]
            }
        }],
        "entropy": STANDARD.encode([7u8; 32]),
        // The genuine reply is answered up to 300 s late (the signed
        // timestamp's window): no call deadline or request backstop here
        // (with the default 120 s and 5 s + 5 s it would rightly time out).
        "call_timeout_ms": null,
        "quota": {"mode": "off"},
        "retry": {"max_attempts": 1}
    }))
    .unwrap();
    let mut e = Engine::new(cfg, T0).unwrap();
    e.submit(Call::post_json("mp", PATH, br#"{"openid":"o1","scene":0}"#.to_vec()), T0);
    let mut token_req = None;
    loop {
        match e.poll_output(T0) {
            Output::Idle { .. } => break,
            Output::Send(r) => token_req = Some(r.id),
            _ => {}
        }
    }
    e.handle_response(
        token_req.expect("token fetch"),
        HttpResponse::json(r#"{"access_token":"TOK","expires_in":7200}"#),
        T0,
    );
    let mut call_req = None;
    loop {
        match e.poll_output(T0) {
            Output::Idle { .. } => break,
            Output::Send(r) => call_req = Some(r.id),
            _ => {}
        }
    }
    (e, call_req.expect("the sealed call is sent"))
}

/// Feeds `resp` to the sealed call; its result.
fn complete(resp: HttpResponse, now: u64) -> Result<Vec<u8>, String> {
    let (mut e, id) = engine_and_call();
    e.handle_response(id, resp, now);
    loop {
        match e.poll_output(now) {
            Output::Done(c) => {
                return c.result.map(|r| r.body).map_err(|e| {
                    let text = format!("{e} {e:?}");
                    assert!(!text.contains("TOK"), "error shows the token: {text}");
                    e.kind.as_str().to_string()
                })
            }
            Output::Idle { .. } => return Err("no Done".into()),
            _ => {}
        }
    }
}

fuzz_target!(|input: Input| {
    let f = fixture();
    match input {
        Input::SymKey(s) => {
            let _ = sym_key(&s);
        }
        Input::PublicKey { label, der, raw } => {
            let label = ["CERTIFICATE", "PUBLIC KEY", "RSA PUBLIC KEY", "PRIVATE KEY", "RSA PRIVATE KEY"][label as usize % 5];
            let pem = format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", STANDARD.encode(&der));
            let _ = public_key(&pem);
            if let Some(raw) = raw {
                let _ = public_key(&raw);
            }
        }
        Input::Open { ts, url, appid, body } => {
            let key = sym_key(&f.sym_key).unwrap();
            let _ = open(&key, &f.sym_sn, &appid, &url, ts, &body);
        }
        Input::Verify { ts, data, signature, pem } => {
            let url = format!("{HOST}{PATH}");
            let ok = verify(&f.pem, &url, APP, ts, &data, &signature);
            assert!(!matches!(ok, Ok(true)), "an arbitrary signature verified");
            if let Some(p) = pem {
                let _ = verify(&p, &url, APP, ts, &data, &signature);
            }
        }
        Input::RoundTrip { plain, iv, ts, url, appid, sn, flip } => {
            let key = sym_key(&f.sym_key).unwrap();
            let sealed = seal(&key, &sn, &appid, &url, ts, &iv, &plain);
            assert_eq!(open(&key, &sn, &appid, &url, ts, sealed.as_bytes()).as_deref(), Ok(&plain[..]));
            // Another AAD (timestamp) never opens.
            assert!(open(&key, &sn, &appid, &url, ts ^ 1, sealed.as_bytes()).is_err());
            // A flipped byte of the ciphertext or tag never opens to the same text.
            let mut v: Value = serde_json::from_str(&sealed).unwrap();
            let field = if flip & 1 == 0 { "data" } else { "authtag" };
            let mut bytes = STANDARD.decode(v[field].as_str().unwrap()).unwrap();
            if !bytes.is_empty() {
                let i = (flip as usize >> 1) % bytes.len();
                bytes[i] ^= 0x01;
                v[field] = json!(STANDARD.encode(&bytes));
                assert!(open(&key, &sn, &appid, &url, ts, v.to_string().as_bytes()).is_err(), "tampered {field} opened");
            }
        }
        Input::Reply { edits, now_delta_s } => {
            let mut r = f.reply.clone();
            let mut changed = false;
            let mut touched = false;
            for e in edits.iter().take(4) {
                match e {
                    ReplyEdit::FlipBody(at, x) if !r.body.is_empty() && *x != 0 => {
                        let i = *at as usize % r.body.len();
                        r.body[i] ^= x; // (two equal flips cancel: compared below)
                    }
                    ReplyEdit::SetHeader(h, v) => {
                        touched = true;
                        let name = HEADERS[*h as usize % HEADERS.len()];
                        let old = r.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
                        r.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
                        r.headers.push((name.to_string(), v.clone()));
                        // Only the primary four carry the proof; the same value
                        // (as the engine reads it) is no change.
                        let same = match (name.to_ascii_lowercase().as_str(), old.as_deref()) {
                            ("wechatmp-timestamp", Some(o)) => {
                                o.trim().parse::<u64>().ok() == v.trim().parse::<u64>().ok()
                            }
                            (_, Some(o)) => o.trim() == v.trim(),
                            _ => false,
                        };
                        if primary(name) && !same {
                            changed = true;
                        }
                    }
                    ReplyEdit::DropHeader(h) => {
                        let name = HEADERS[*h as usize % HEADERS.len()];
                        let before = r.headers.len();
                        r.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
                        if r.headers.len() != before && primary(name) {
                            changed = true;
                        }
                    }
                    ReplyEdit::Status(s) => r.status = *s,
                    _ => {}
                }
            }
            if r.body != f.reply.body {
                changed = true;
            }
            let status = r.status;
            let now = (T0 as i64 + now_delta_s as i64 * 1000) as u64;
            let result = complete(r, now);
            if let Ok(body) = &result {
                assert!(!changed, "an edited reply was accepted: {:?}", String::from_utf8_lossy(body));
                assert_eq!(body, PLAIN.as_bytes(), "accepted reply opened to something else");
            } else if !changed && !touched && (200..300).contains(&status) && now_delta_s.unsigned_abs() <= 300 {
                panic!("the genuine reply was refused: {result:?}");
            }
        }
        Input::Arbitrary { status, headers, body } => {
            let headers = headers
                .into_iter()
                .map(|(h, v)| (HEADERS[h as usize % HEADERS.len()].to_string(), v))
                .collect();
            if let Ok(b) = complete(HttpResponse { status, headers, body }, T0) {
                // Only an unsigned platform *error* passes unopened, and it is an error.
                panic!("an arbitrary reply completed the sealed call with success: {:?}", String::from_utf8_lossy(&b));
            }
        }
    }
});
