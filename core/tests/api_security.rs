//! WeChat server API security: the published request example byte for byte,
//! and the engine sealing calls and opening replies end to end (a reply
//! "from the platform" is sealed and signed here with the vector's keys).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use wxcore::api_security::{open, seal, sign, sym_key, verify};
use wxcore::{Call, Config, Engine, ErrorKind, HttpResponse, Output};

fn vector() -> Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/crypto-official.json");
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    all["api_security_request"][0].clone()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("missing {k}"))
}

#[test]
fn the_published_request_seals_byte_for_byte_and_its_signature_verifies() {
    let v = vector();
    let key = sym_key(s(&v, "sym_key")).unwrap();
    let iv: [u8; 12] = STANDARD.decode(s(&v, "iv")).unwrap().try_into().unwrap();
    let ts = v["timestamp"].as_u64().unwrap();
    let (url, appid, sn) = (s(&v, "url"), s(&v, "appid"), s(&v, "sym_sn"));
    let body = seal(&key, sn, appid, url, ts, &iv, s(&v, "plaintext").as_bytes());
    let sealed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(sealed["iv"], v["iv"]);
    assert_eq!(sealed["data"], v["data"]);
    assert_eq!(sealed["authtag"], v["authtag"]);
    // The published signature is over exactly this body.
    let pem = s(&v, "rsa_private_key_pem");
    assert!(verify(pem, url, appid, ts, body.as_bytes(), s(&v, "signature")).unwrap());
    // It opens again, and a signature over anything else does not verify.
    assert_eq!(
        open(&key, sn, appid, url, ts, body.as_bytes()).unwrap(),
        s(&v, "plaintext").as_bytes()
    );
    assert!(!verify(pem, url, appid, ts + 1, body.as_bytes(), s(&v, "signature")).unwrap());
    assert!(!verify(
        pem,
        &format!("{url}?x=1"),
        appid,
        ts,
        body.as_bytes(),
        s(&v, "signature")
    )
    .unwrap());
    // Our own signature verifies, and the key number is not in the string.
    let ours = sign(pem, url, appid, ts, body.as_bytes(), [9; 32]).unwrap();
    assert!(verify(pem, url, appid, ts, body.as_bytes(), &ours).unwrap());
    let with_sn = format!("{url}\n{appid}\n{ts}\n{}\n{}", s(&v, "rsa_sn"), body);
    assert!(!verify(pem, url, appid, ts, with_sn.as_bytes(), &ours).unwrap());
}

const APP: &str = "wxba6223c06417af7b";
const HOST: &str = "https://api.weixin.qq.com";
const PATH: &str = "/wxa/getuserriskrank";
const T0: u64 = 1_700_000_000_000;

fn config(extra: Value) -> Config {
    let v = vector();
    let mut c = json!({
        "apps": [{
            "id": "mp", "platform": "wechat-oa", "app_id": APP, "secret": "S",
            "api_security": {
                "sym_key": s(&v, "sym_key"), "sym_sn": s(&v, "sym_sn"),
                "private_key": s(&v, "rsa_private_key_pem"),
                // The test plays the platform with the same key pair.
                "platform_keys": {"PLATFORM-SN": s(&v, "rsa_private_key_pem")},
                "paths": [PATH]
            }
        }],
        "entropy": STANDARD.encode([7u8; 32]),
        "quota": {"mode": "off"}
    });
    if let (Value::Object(c), Value::Object(e)) = (&mut c, extra) {
        c.extend(e);
    }
    Config::from_value(c).unwrap()
}

fn drain(e: &mut Engine, now: u64) -> Vec<Output> {
    let mut out = Vec::new();
    loop {
        match e.poll_output(now) {
            Output::Idle { .. } => return out,
            o => out.push(o),
        }
    }
}

fn json_response(body: &str) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

/// An engine with a token, and the sealed request of one risk-rank call.
fn sealed_call(cfg: Config) -> (Engine, wxcore::HttpRequest) {
    let mut e = Engine::new(cfg, T0).unwrap();
    let call = Call::post_json(
        "mp",
        PATH,
        br#"{"appid":"wxba6223c06417af7b","openid":"oEWzBfmdLqhFS2mTXCo2E4Y9gJAM","scene":0,"client_ip":"127.0.0.1"}"#.to_vec(),
    );
    e.submit(call, T0);
    let Output::Send(token) = drain(&mut e, T0).remove(0) else {
        panic!("token fetch")
    };
    e.handle_response(
        token.id,
        json_response(r#"{"access_token":"TOK","expires_in":7200}"#),
        T0 + 10,
    );
    let outs = drain(&mut e, T0 + 10);
    let req = outs
        .into_iter()
        .find_map(|o| match o {
            Output::Send(r) => Some(r),
            _ => None,
        })
        .expect("the call is sent");
    (e, req)
}

fn header<'a>(r: &'a wxcore::HttpRequest, name: &str) -> &'a str {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} header"))
}

/// The platform's reply: `plain` sealed and signed, with these serial headers.
fn platform_reply(
    ts: u64,
    plain: &str,
    serial_headers: &[(&str, &str)],
    sign_over: Option<&[u8]>,
) -> HttpResponse {
    let v = vector();
    let key = sym_key(s(&v, "sym_key")).unwrap();
    let url = format!("{HOST}{PATH}");
    let body = seal(
        &key,
        s(&v, "sym_sn"),
        APP,
        &url,
        ts,
        &[3; 12],
        plain.as_bytes(),
    );
    let sig = sign(
        s(&v, "rsa_private_key_pem"),
        &url,
        APP,
        ts,
        sign_over.unwrap_or(body.as_bytes()),
        [5; 32],
    )
    .unwrap();
    let mut headers = vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        ("Wechatmp-Appid".to_string(), APP.to_string()),
        ("Wechatmp-TimeStamp".to_string(), ts.to_string()),
    ];
    for (k, val) in serial_headers {
        let val = if *val == "SIG" {
            sig.clone()
        } else {
            val.to_string()
        };
        headers.push((k.to_string(), val));
    }
    HttpResponse {
        status: 200,
        headers,
        body: body.into_bytes(),
    }
}

#[allow(clippy::result_large_err)]
fn done(e: &mut Engine, now: u64) -> Result<Value, wxcore::ApiError> {
    drain(e, now)
        .into_iter()
        .find_map(|o| match o {
            Output::Done(c) => Some(c.result.map(|r| serde_json::from_slice(&r.body).unwrap())),
            _ => None,
        })
        .expect("the call completes")
}

#[test]
fn the_engine_seals_signs_and_opens_transparently() {
    let v = vector();
    let (mut e, req) = sealed_call(config(json!({})));
    let ts = (T0 + 10) / 1000;
    let url = format!("{HOST}{PATH}");
    assert_eq!(req.url, format!("{url}?access_token=TOK"));
    assert_eq!(header(&req, "Wechatmp-Appid"), APP);
    assert_eq!(header(&req, "Wechatmp-TimeStamp"), ts.to_string());
    assert_eq!(header(&req, "content-type"), "application/json");
    let pem = s(&v, "rsa_private_key_pem");
    assert!(verify(
        pem,
        &url,
        APP,
        ts,
        &req.body,
        header(&req, "Wechatmp-Signature")
    )
    .unwrap());
    let key = sym_key(s(&v, "sym_key")).unwrap();
    let plain = open(&key, s(&v, "sym_sn"), APP, &url, ts, &req.body).unwrap();
    let text = String::from_utf8(plain).unwrap();
    // The platform's order: _n, _appid, _timestamp, then the parameters.
    assert!(text.starts_with(r#"{"_n":""#), "{text}");
    let p: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(p["_n"].as_str().unwrap().len(), 22);
    assert_eq!(p["_appid"], APP);
    assert_eq!(p["_timestamp"], ts);
    assert_eq!(p["openid"], "oEWzBfmdLqhFS2mTXCo2E4Y9gJAM");
    assert_eq!(p["scene"], 0);
    assert!(
        !text.contains("TOK"),
        "the token stays out of the sealed body"
    );

    let reply = platform_reply(
        ts,
        r#"{"errcode":0,"errmsg":"getuserriskrank succ","risk_rank":0}"#,
        &[
            ("Wechatmp-Serial", "PLATFORM-SN"),
            ("Wechatmp-Signature", "SIG"),
        ],
        None,
    );
    e.handle_response(req.id, reply, T0 + 20);
    assert_eq!(done(&mut e, T0 + 20).unwrap()["risk_rank"], 0);
}

#[test]
fn each_request_has_its_own_nonce_and_iv() {
    let (_, a) = sealed_call(config(json!({})));
    let (_, b) = sealed_call(config(json!({"entropy": STANDARD.encode([8u8; 32])})));
    let ia: Value = serde_json::from_slice(&a.body).unwrap();
    let ib: Value = serde_json::from_slice(&b.body).unwrap();
    assert_ne!(ia["iv"], ib["iv"]);
}

#[test]
fn a_reply_with_a_bad_signature_or_an_unknown_serial_is_refused() {
    let ts = (T0 + 10) / 1000;
    let plain = r#"{"errcode":0,"risk_rank":0}"#;
    let (mut e, req) = sealed_call(config(json!({})));
    let forged = platform_reply(
        ts,
        plain,
        &[
            ("Wechatmp-Serial", "PLATFORM-SN"),
            ("Wechatmp-Signature", "SIG"),
        ],
        Some(b"other"),
    );
    e.handle_response(req.id, forged, T0 + 20);
    let err = done(&mut e, T0 + 20).unwrap_err();
    assert_eq!(err.kind, ErrorKind::SignatureInvalid);
    assert_eq!(err.code, Some(wxcore::Code::Str("bad_signature".into())));

    let (mut e, req) = sealed_call(config(json!({})));
    let unknown = platform_reply(
        ts,
        plain,
        &[("Wechatmp-Serial", "NEW-SN"), ("Wechatmp-Signature", "SIG")],
        None,
    );
    e.handle_response(req.id, unknown, T0 + 20);
    let err = done(&mut e, T0 + 20).unwrap_err();
    assert_eq!(err.code, Some(wxcore::Code::Str("unknown_serial".into())));
}

#[test]
fn during_a_rotation_the_deprecated_pair_verifies() {
    let ts = (T0 + 10) / 1000;
    let (mut e, req) = sealed_call(config(json!({})));
    let reply = platform_reply(
        ts,
        r#"{"errcode":0,"risk_rank":2}"#,
        &[
            ("Wechatmp-Serial", "NEW-SN"),
            (
                "Wechatmp-Signature",
                "c2lnbmVkIHdpdGggYSBrZXkgd2UgZG8gbm90IGhhdmUgeWV0",
            ),
            ("Wechatmp-Serial-Deprecated", "PLATFORM-SN"),
            ("Wechatmp-Signature-Deprecated", "SIG"),
        ],
        None,
    );
    e.handle_response(req.id, reply, T0 + 20);
    assert_eq!(done(&mut e, T0 + 20).unwrap()["risk_rank"], 2);
}

#[test]
fn the_platforms_plain_errors_are_typed() {
    for (code, kind) in [
        (40234, ErrorKind::SignatureInvalid),
        (40230, ErrorKind::InvalidRequest),
        (40237, ErrorKind::CredentialInvalid),
        (40239, ErrorKind::Config),
    ] {
        let (mut e, req) = sealed_call(config(json!({})));
        e.handle_response(
            req.id,
            json_response(&format!(r#"{{"errcode":{code},"errmsg":"x"}}"#)),
            T0 + 20,
        );
        let err = done(&mut e, T0 + 20).unwrap_err();
        assert_eq!((err.kind, err.code), (kind, Some(wxcore::Code::Num(code))));
    }
}

#[test]
fn other_paths_stay_plain() {
    let mut e = Engine::new(config(json!({})), T0).unwrap();
    e.submit(
        Call::post_json(
            "mp",
            "/cgi-bin/message/custom/send",
            b"{\"touser\":\"o\"}".to_vec(),
        ),
        T0,
    );
    let Output::Send(t) = drain(&mut e, T0).remove(0) else {
        panic!()
    };
    e.handle_response(
        t.id,
        json_response(r#"{"access_token":"TOK","expires_in":7200}"#),
        T0 + 10,
    );
    let req = drain(&mut e, T0 + 10)
        .into_iter()
        .find_map(|o| match o {
            Output::Send(r) => Some(r),
            _ => None,
        })
        .unwrap();
    assert_eq!(&req.body[..], b"{\"touser\":\"o\"}");
    assert!(!req.headers.iter().any(|(k, _)| k.starts_with("wechatmp")));
}

#[test]
fn a_non_object_body_on_a_sealed_path_fails_clearly() {
    let mut e = Engine::new(config(json!({})), T0).unwrap();
    e.submit(Call::post_json("mp", PATH, b"[1,2]".to_vec()), T0);
    let Output::Send(t) = drain(&mut e, T0).remove(0) else {
        panic!()
    };
    e.handle_response(
        t.id,
        json_response(r#"{"access_token":"TOK","expires_in":7200}"#),
        T0 + 10,
    );
    let err = done(&mut e, T0 + 10).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest);
    assert_eq!(err.code, Some(wxcore::Code::Str("not_json_object".into())));
}

#[test]
fn bad_settings_name_their_field_and_never_echo_secrets() {
    let v = vector();
    let base = |f: &str, val: Value| {
        let mut c = serde_json::to_value(json!({
            "apps": [{"id": "mp", "platform": "wechat-oa", "app_id": APP, "secret": "S",
                      "api_security": {"sym_key": s(&v, "sym_key"), "sym_sn": "sn",
                                       "private_key": s(&v, "rsa_private_key_pem"),
                                       "platform_keys": {"P": s(&v, "rsa_private_key_pem")}, "paths": [PATH]}}],
            "entropy": STANDARD.encode([1u8; 32])
        })).unwrap();
        if f == "entropy" {
            c.as_object_mut().unwrap().remove("entropy");
        } else {
            c["apps"][0]["api_security"][f] = val;
        }
        Engine::new(Config::from_value(c).unwrap(), T0).unwrap_err()
    };
    assert_eq!(base("entropy", Value::Null).field, "entropy");
    let e = base("sym_key", json!("c2hvcnQ="));
    assert_eq!(e.field, "apps[0].api_security.sym_key");
    let e = base(
        "private_key",
        json!("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----"),
    );
    assert_eq!(e.field, "apps[0].api_security.private_key");
    assert!(!e.to_string().contains("AAAA"));
    assert_eq!(
        base("platform_keys", json!({"P": "junk"})).field,
        "apps[0].api_security.platform_keys.P"
    );
    assert_eq!(base("paths", json!([])).field, "apps[0].api_security.paths");
    let engine = Engine::new(config(json!({})), T0).unwrap();
    let dbg = format!("{engine:?}");
    assert!(!dbg.contains(&s(&v, "sym_key")[..12]) && !dbg.contains("PRIVATE"));
}

/// A self-signed X.509 certificate for the published example's key, made
/// with `openssl req -new -x509 -key <the vector's key> -subj "/CN=…"`.
const CERT: &str = include_str!("data/platform-cert.pem");

#[test]
fn a_platform_certificate_verifies_like_its_key() {
    let v = vector();
    let key = sym_key(s(&v, "sym_key")).unwrap();
    let iv: [u8; 12] = STANDARD.decode(s(&v, "iv")).unwrap().try_into().unwrap();
    let ts = v["timestamp"].as_u64().unwrap();
    let (url, appid) = (s(&v, "url"), s(&v, "appid"));
    let body = seal(
        &key,
        s(&v, "sym_sn"),
        appid,
        url,
        ts,
        &iv,
        s(&v, "plaintext").as_bytes(),
    );
    assert!(verify(CERT, url, appid, ts, body.as_bytes(), s(&v, "signature")).unwrap());
    assert!(!verify(
        CERT,
        url,
        appid,
        ts + 1,
        body.as_bytes(),
        s(&v, "signature")
    )
    .unwrap());
    let broken = CERT.replace("MIID", "MIIE");
    assert_eq!(
        verify(&broken, url, appid, ts, body.as_bytes(), "x")
            .unwrap_err()
            .reason,
        "bad_key"
    );
}

#[test]
fn an_unsigned_success_a_stale_reply_or_one_without_appid_is_refused() {
    let ts = (T0 + 10) / 1000;
    let plain = r#"{"errcode":0,"risk_rank":0}"#;
    // Unsigned: only a platform error may come so.
    let (mut e, req) = sealed_call(config(json!({})));
    e.handle_response(
        req.id,
        json_response(r#"{"errcode":0,"risk_rank":0}"#),
        T0 + 20,
    );
    let err = done(&mut e, T0 + 20).unwrap_err();
    assert_eq!(
        err.code,
        Some(wxcore::Code::Str("missing_signature".into()))
    );
    // A genuine reply replayed ten minutes later.
    let (mut e, req) = sealed_call(config(json!({})));
    let old = platform_reply(
        ts - 600,
        plain,
        &[
            ("Wechatmp-Serial", "PLATFORM-SN"),
            ("Wechatmp-Signature", "SIG"),
        ],
        None,
    );
    e.handle_response(req.id, old, T0 + 20);
    let err = done(&mut e, T0 + 20).unwrap_err();
    assert_eq!(err.code, Some(wxcore::Code::Str("stale_timestamp".into())));
    // No Wechatmp-Appid.
    let (mut e, req) = sealed_call(config(json!({})));
    let mut reply = platform_reply(
        ts,
        plain,
        &[
            ("Wechatmp-Serial", "PLATFORM-SN"),
            ("Wechatmp-Signature", "SIG"),
        ],
        None,
    );
    reply.headers.retain(|(k, _)| k != "Wechatmp-Appid");
    e.handle_response(req.id, reply, T0 + 20);
    let err = done(&mut e, T0 + 20).unwrap_err();
    assert_eq!(err.code, Some(wxcore::Code::Str("appid_mismatch".into())));
}
