//! Open-platform authorizers: authorization by push and by the host's own
//! `api_query_auth`, refresh through the component with the held refresh
//! token (rotated when the platform rotates it), 61023 recovered from the
//! authorizer list, revocation and re-authorization, the fleet's durable
//! record, refreshes spread over time, and no token or refresh token in
//! any output.

use wxcore::callback::CallbackCrypto;
use wxcore::{Call, Config, Engine, HttpRequest, HttpResponse, Output, StoreResult};

const T0: u64 = 1_700_000_000_000;
const APPID: &str = "wx5823bf96d3bd56c7";
const SECRET: &str = "COMPONENT-SECRET-4711";
const CB_TOKEN: &str = "CallbackToken-0815";
const AES_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const AUTH: &str = "wxauthorizer0001";

fn config(extra: &str) -> Config {
    Config::from_json(&format!(
        r#"{{"apps": [{{"id": "cp", "platform": "wechat-component", "app_id": "{APPID}", "secret": "{SECRET}",
              "callback": {{"token": "{CB_TOKEN}", "encoding_aes_key": "{AES_KEY}"}}}}], "seed": 3{extra}}}"#
    ))
    .unwrap()
}

/// A push to the component's URL, sealed with its keys.
fn push(fields: &str, created_s: u64) -> (Vec<(String, String)>, String) {
    let crypto = CallbackCrypto::new(CB_TOKEN, AES_KEY, APPID).unwrap();
    let xml =
        format!("<xml><AppId>{APPID}</AppId><CreateTime>{created_s}</CreateTime>{fields}</xml>");
    let sealed = crypto.encrypt(&xml, &created_s.to_string(), "4242", [7; 16]);
    let query = vec![
        ("timestamp".to_string(), sealed.timestamp.clone()),
        ("nonce".to_string(), sealed.nonce.clone()),
        ("encrypt_type".to_string(), "aes".to_string()),
        ("msg_signature".to_string(), sealed.msg_signature.clone()),
    ];
    let body = format!(
        "<xml><AppId><![CDATA[{APPID}]]></AppId><Encrypt><![CDATA[{}]]></Encrypt></xml>",
        sealed.encrypt
    );
    (query, body)
}

fn ticket(e: &mut Engine, now: u64) {
    let (q, b) = push(
        "<InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>ticket@@@T1</ComponentVerifyTicket>",
        now / 1000,
    );
    e.handle_push("cp", "POST", &q, b.as_bytes(), now).unwrap();
}

fn authorized(e: &mut Engine, appid: &str, code: &str, now: u64) -> wxcore::Push {
    let (q, b) = push(
        &format!("<InfoType>authorized</InfoType><AuthorizerAppid>{appid}</AuthorizerAppid><AuthorizationCode>{code}</AuthorizationCode><AuthorizationCodeExpiredTime>1</AuthorizationCodeExpiredTime>"),
        now / 1000,
    );
    e.handle_push("cp", "POST", &q, b.as_bytes(), now).unwrap()
}

fn unauthorized(e: &mut Engine, appid: &str, now: u64) {
    let (q, b) = push(
        &format!("<InfoType>unauthorized</InfoType><AuthorizerAppid>{appid}</AuthorizerAppid>"),
        now / 1000,
    );
    let p = e.handle_push("cp", "POST", &q, b.as_bytes(), now).unwrap();
    assert_eq!(
        p.authorizer.as_deref(),
        Some(format!("cp/{appid}").as_str())
    );
}

fn path(r: &HttpRequest) -> String {
    let no_scheme = &r.url[r.url.find("://").unwrap() + 3..];
    let p = &no_scheme[no_scheme.find('/').unwrap()..];
    p.split('?').next().unwrap().to_string()
}

fn query(r: &HttpRequest, name: &str) -> Option<String> {
    let q = r.url.split_once('?')?.1;
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn body(r: &HttpRequest) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null)
}

/// A completion: the reply's body, or the error's kind and code.
type Outcome = Result<String, (String, String)>;

/// What the loop saw: every request, every output's text, the completions.
#[derive(Default)]
struct Seen {
    requests: Vec<(String, serde_json::Value, Option<String>)>,
    text: Vec<String>,
    done: Vec<(u64, Outcome)>,
    events: Vec<serde_json::Value>,
    stores: Vec<serde_json::Value>,
}

/// Runs the engine at `now` until idle, answering requests with `platform`
/// and store operations with `store` (None: no store).
fn run(
    e: &mut Engine,
    now: u64,
    seen: &mut Seen,
    platform: &mut dyn FnMut(&str, &serde_json::Value, &HttpRequest) -> String,
) {
    loop {
        let mut outs = Vec::new();
        e.poll_outputs(now, &mut outs);
        if outs.is_empty() {
            return;
        }
        for o in outs {
            seen.text.push(format!("{o:?}"));
            match o {
                Output::Send(r) => {
                    let p = path(&r);
                    let b = body(&r);
                    let token = query(&r, "access_token").or(query(&r, "component_access_token"));
                    seen.requests.push((p.clone(), b.clone(), token));
                    let answer = platform(&p, &b, &r);
                    e.handle_response(r.id, HttpResponse::json(answer), now);
                }
                Output::Done(c) => {
                    let v = Output::Done(c.clone()).to_json();
                    seen.text.push(v.to_string());
                    let r = match c.result {
                        Ok(reply) => Ok(String::from_utf8(reply.body).unwrap()),
                        Err(err) => Err((
                            err.kind.as_str().to_string(),
                            err.code.map(|c| c.to_string()).unwrap_or_default(),
                        )),
                    };
                    seen.done.push((c.call_id, r));
                }
                Output::Event(ev) => {
                    let v = Output::Event(ev).to_json();
                    seen.text.push(v.to_string());
                    seen.events.push(v["event"].clone());
                }
                Output::Store(op) => {
                    let v = Output::Store(op.clone()).to_json();
                    seen.text.push(v.to_string());
                    seen.stores.push(v["store"].clone());
                    e.handle_store_result(op.id, StoreResult::Ok, now);
                }
                Output::Idle { .. } => {}
            }
        }
    }
}

/// The platform: component token, authorizations by code, refreshes with a
/// rotating refresh token, a list, and one API.
struct Platform {
    refresh: String,
    access_n: u32,
    refresh_error: Option<i64>,
    listed: Vec<(String, String)>,
    page_seen: Vec<u64>,
}

impl Platform {
    fn new() -> Platform {
        Platform {
            refresh: "RT-Secret-1".into(),
            access_n: 0,
            refresh_error: None,
            listed: Vec::new(),
            page_seen: Vec::new(),
        }
    }

    fn answer(&mut self, p: &str, b: &serde_json::Value) -> String {
        match p {
            "/cgi-bin/component/api_component_token" => {
                r#"{"component_access_token": "CT-Secret-1", "expires_in": 7200}"#.into()
            }
            "/cgi-bin/component/api_query_auth" => {
                self.access_n += 1;
                let appid = match b["authorization_code"].as_str().unwrap() {
                    c if c.starts_with("code-") => c.trim_start_matches("code-").to_string(),
                    _ => return r#"{"errcode": 61010, "errmsg": "code expired"}"#.into(),
                };
                format!(
                    r#"{{"authorization_info": {{"authorizer_appid": "{appid}", "authorizer_access_token": "AT-Secret-{}", "expires_in": 7200, "authorizer_refresh_token": "{}", "func_info": []}}}}"#,
                    self.access_n, self.refresh
                )
            }
            "/cgi-bin/component/api_authorizer_token" => {
                if let Some(code) = self.refresh_error.take() {
                    return format!(r#"{{"errcode": {code}, "errmsg": "refused"}}"#);
                }
                assert_eq!(
                    b["authorizer_refresh_token"],
                    self.refresh.as_str(),
                    "the held refresh token"
                );
                self.access_n += 1;
                // The platform may rotate the refresh token on a refresh.
                self.refresh = format!("RT-Secret-{}", self.access_n);
                format!(
                    r#"{{"authorizer_access_token": "AT-Secret-{}", "expires_in": 7200, "authorizer_refresh_token": "{}"}}"#,
                    self.access_n, self.refresh
                )
            }
            "/cgi-bin/component/api_get_authorizer_list" => {
                let offset = b["offset"].as_u64().unwrap();
                assert_eq!(b["count"], 500);
                self.page_seen.push(offset);
                let page: Vec<String> = self
                    .listed
                    .iter()
                    .skip(offset as usize)
                    .take(2) // a short page, so paging is exercised
                    .map(|(id, rt)| format!(r#"{{"authorizer_appid": "{id}", "refresh_token": "{rt}", "auth_time": 1}}"#))
                    .collect();
                format!(
                    r#"{{"total_count": {}, "list": [{}]}}"#,
                    self.listed.len(),
                    page.join(",")
                )
            }
            "/cgi-bin/user/info" => r#"{"openid": "o1", "subscribe": 1}"#.into(),
            other => panic!("unexpected request {other}"),
        }
    }
}

fn user_info(e: &mut Engine, app: &str, now: u64) -> u64 {
    e.submit(
        Call::get(app, "/cgi-bin/user/info").query("openid", "o1"),
        now,
    )
}

fn result_of(seen: &Seen, id: u64) -> &Outcome {
    &seen
        .done
        .iter()
        .find(|(i, _)| *i == id)
        .expect("completed")
        .1
}

#[test]
fn an_authorized_push_brings_tokens_the_authorizers_calls_use_and_refreshes_go_through_the_component(
) {
    let mut e = Engine::new(config(""), T0).unwrap();
    let mut plat = Platform::new();
    let mut seen = Seen::default();
    ticket(&mut e, T0);
    let p = authorized(&mut e, AUTH, &format!("code-{AUTH}"), T0);
    assert_eq!(p.reply, "success");
    assert_eq!(p.authorizer.as_deref(), Some("cp/wxauthorizer0001"));
    let message = p.message.expect("the push, verified");
    assert_eq!(message.get("AuthorizerAppid"), Some(AUTH));
    assert_eq!(
        message.get("AuthorizationCode"),
        None,
        "the spent code is not handed on"
    );
    let id = user_info(&mut e, "cp/wxauthorizer0001", T0);
    run(&mut e, T0, &mut seen, &mut |p, b, _| plat.answer(p, b));
    assert!(result_of(&seen, id).is_ok());
    let paths: Vec<&str> = seen.requests.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/cgi-bin/component/api_component_token",
            "/cgi-bin/component/api_query_auth",
            "/cgi-bin/user/info"
        ]
    );
    // The component's calls carry the component token; the authorizer's its own.
    assert_eq!(seen.requests[1].2.as_deref(), Some("CT-Secret-1"));
    assert_eq!(seen.requests[1].1["component_appid"], APPID);
    assert_eq!(seen.requests[2].2.as_deref(), Some("AT-Secret-1"));

    // Past its expiry the token is refreshed through the component with the
    // held refresh token, and the rotated one is used the next time.
    let later = T0 + 7_200_000;
    let id = user_info(&mut e, "cp/wxauthorizer0001", later);
    run(&mut e, later, &mut seen, &mut |p, b, _| plat.answer(p, b));
    assert!(result_of(&seen, id).is_ok());
    let last: Vec<_> = seen.requests[3..]
        .iter()
        .map(|r| (r.0.as_str(), r.2.as_deref()))
        .collect();
    assert_eq!(
        last,
        [
            ("/cgi-bin/component/api_component_token", None),
            (
                "/cgi-bin/component/api_authorizer_token",
                Some("CT-Secret-1")
            ),
            ("/cgi-bin/user/info", Some("AT-Secret-2")),
        ]
    );
    let later2 = later + 7_200_000;
    let id = user_info(&mut e, "cp/wxauthorizer0001", later2);
    run(&mut e, later2, &mut seen, &mut |p, b, _| plat.answer(p, b));
    assert!(
        result_of(&seen, id).is_ok(),
        "the rotated refresh token was sent"
    );
}

/// An engine with the component token and authorizer `AUTH` in hand.
fn authorized_engine(extra: &str, plat: &mut Platform, seen: &mut Seen) -> Engine {
    let mut e = Engine::new(config(extra), T0).unwrap();
    ticket(&mut e, T0);
    authorized(&mut e, AUTH, &format!("code-{AUTH}"), T0);
    run(&mut e, T0, seen, &mut |p, b, _| plat.answer(p, b));
    e
}

#[test]
fn a_refused_refresh_token_is_recovered_from_the_paged_authorizer_list() {
    let mut plat = Platform::new();
    let mut seen = Seen::default();
    let mut e = authorized_engine("", &mut plat, &mut seen);
    // The platform no longer takes the held refresh token (61023); the
    // list holds the current one, on its second page.
    plat.refresh_error = Some(61023);
    plat.refresh = "RT-Secret-Listed".into();
    plat.listed = vec![
        ("wxother00000001".into(), "RT-other-1".into()),
        ("wxother00000002".into(), "RT-other-2".into()),
        (AUTH.into(), "RT-Secret-Listed".into()),
    ];
    let later = T0 + 7_200_000;
    let id = user_info(&mut e, "cp/wxauthorizer0001", later);
    run(&mut e, later, &mut seen, &mut |p, b, _| plat.answer(p, b));
    assert!(result_of(&seen, id).is_ok(), "{:?}", seen.done);
    assert_eq!(plat.page_seen, [0, 2]);
    let refreshes = seen
        .requests
        .iter()
        .filter(|r| r.0 == "/cgi-bin/component/api_authorizer_token")
        .count();
    assert_eq!(refreshes, 2, "refused once, then with the listed token");
    assert!(!seen
        .events
        .iter()
        .any(|e| e["type"] == "authorizer_changed"));
}

#[test]
fn an_authorizer_the_list_does_not_hold_needs_reauthorization_and_its_calls_fail_fast() {
    let mut plat = Platform::new();
    let mut seen = Seen::default();
    let mut e = authorized_engine("", &mut plat, &mut seen);
    plat.refresh_error = Some(61023);
    plat.listed = vec![("wxother00000001".into(), "RT-other-1".into())];
    let later = T0 + 7_200_000;
    let id = user_info(&mut e, "cp/wxauthorizer0001", later);
    run(&mut e, later, &mut seen, &mut |p, b, _| plat.answer(p, b));
    assert_eq!(
        result_of(&seen, id),
        &Err(("not_authorized".into(), "needs_reauthorization".into()))
    );
    assert!(seen.events.iter().any(|e| e["type"] == "authorizer_changed"
        && e["app"] == "cp/wxauthorizer0001"
        && e["standing"] == "needs_reauthorization"));
    // From now on without a request.
    let before = seen.requests.len();
    let id = user_info(&mut e, "cp/wxauthorizer0001", later + 1);
    run(&mut e, later + 1, &mut seen, &mut |p, b, _| {
        plat.answer(p, b)
    });
    assert_eq!(seen.requests.len(), before);
    assert_eq!(
        result_of(&seen, id).as_ref().unwrap_err().0,
        "not_authorized"
    );
    let status = e.status(later + 1);
    let row = status["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["app"] == "cp/wxauthorizer0001")
        .unwrap();
    assert_eq!(row["authorizer"]["standing"], "needs_reauthorization");
    assert_eq!(row["authorizer"]["refresh_token_held"], false);
    let metrics = e.metrics_text(later + 1);
    assert!(
        metrics.contains(r#"wxcore_authorizer_active{app="cp/wxauthorizer0001",standing="needs_reauthorization"} 0"#),
        "{metrics}"
    );
    assert!(metrics
        .contains(r#"wxcore_authorizer_active{app="cp/wxother00000001",standing="active"} 1"#));
    // A new authorization brings it back.
    authorized(&mut e, AUTH, &format!("code-{AUTH}"), later + 2);
    let id = user_info(&mut e, "cp/wxauthorizer0001", later + 2);
    run(&mut e, later + 2, &mut seen, &mut |p, b, _| {
        plat.answer(p, b)
    });
    assert!(result_of(&seen, id).is_ok());
}

#[test]
fn a_revoked_authorizer_fails_fast_without_a_request_until_it_authorizes_again() {
    let mut plat = Platform::new();
    let mut seen = Seen::default();
    let mut e = authorized_engine("", &mut plat, &mut seen);
    unauthorized(&mut e, AUTH, T0 + 10);
    let before = seen.requests.len();
    let id = user_info(&mut e, "cp/wxauthorizer0001", T0 + 20);
    run(&mut e, T0 + 20, &mut seen, &mut |p, b, _| plat.answer(p, b));
    assert_eq!(seen.requests.len(), before, "no platform request");
    assert_eq!(
        result_of(&seen, id),
        &Err(("not_authorized".into(), "revoked".into()))
    );
    assert!(seen
        .events
        .iter()
        .any(|e| e["type"] == "authorizer_changed" && e["standing"] == "revoked"));
    authorized(&mut e, AUTH, &format!("code-{AUTH}"), T0 + 30);
    let id = user_info(&mut e, "cp/wxauthorizer0001", T0 + 30);
    run(&mut e, T0 + 30, &mut seen, &mut |p, b, _| plat.answer(p, b));
    assert!(result_of(&seen, id).is_ok());
    assert_eq!(
        seen.requests.last().unwrap().2.as_deref(),
        Some("AT-Secret-2")
    );
    assert!(seen
        .events
        .iter()
        .any(|e| e["type"] == "authorizer_changed" && e["standing"] == "active"));
}

#[test]
fn a_61003_from_the_refresh_revokes_the_authorizer() {
    let mut plat = Platform::new();
    let mut seen = Seen::default();
    let mut e = authorized_engine("", &mut plat, &mut seen);
    plat.refresh_error = Some(61003);
    let later = T0 + 7_200_000;
    let id = user_info(&mut e, "cp/wxauthorizer0001", later);
    run(&mut e, later, &mut seen, &mut |p, b, _| plat.answer(p, b));
    assert_eq!(
        result_of(&seen, id),
        &Err(("not_authorized".into(), "revoked".into()))
    );
}

#[test]
fn the_hosts_own_query_auth_is_taken_in_and_its_reply_holds_no_token() {
    let mut plat = Platform::new();
    let mut seen = Seen::default();
    let mut e = Engine::new(config(""), T0).unwrap();
    ticket(&mut e, T0);
    let q = e.submit(
        Call::post_json(
            "cp",
            "/cgi-bin/component/api_query_auth",
            format!(r#"{{"component_appid": "{APPID}", "authorization_code": "code-wxredirected00001"}}"#),
        ),
        T0,
    );
    run(&mut e, T0, &mut seen, &mut |p, b, _| plat.answer(p, b));
    let reply = result_of(&seen, q).clone().unwrap();
    let v: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(
        v["authorization_info"]["authorizer_appid"],
        "wxredirected00001"
    );
    assert!(v["authorization_info"]
        .get("authorizer_access_token")
        .is_none());
    assert!(v["authorization_info"]
        .get("authorizer_refresh_token")
        .is_none());
    let id = user_info(&mut e, "cp/wxredirected00001", T0);
    run(&mut e, T0, &mut seen, &mut |p, b, _| plat.answer(p, b));
    assert!(result_of(&seen, id).is_ok());
    assert_eq!(
        seen.requests.last().unwrap().2.as_deref(),
        Some("AT-Secret-1")
    );
    assert_eq!(
        seen.requests
            .iter()
            .filter(|r| r.0 == "/cgi-bin/component/api_query_auth")
            .count(),
        1,
        "the authorizer's first call needs no fetch"
    );
}

#[test]
fn an_unknown_authorizer_is_looked_up_in_the_list_once_and_refused() {
    let mut plat = Platform::new();
    let mut seen = Seen::default();
    let mut e = Engine::new(config(""), T0).unwrap();
    ticket(&mut e, T0);
    let id = user_info(&mut e, "cp/wxnobody0000001", T0);
    run(&mut e, T0, &mut seen, &mut |p, b, _| plat.answer(p, b));
    assert_eq!(
        result_of(&seen, id).as_ref().unwrap_err().0,
        "not_authorized"
    );
    assert_eq!(plat.page_seen, [0]);
    // Not a component's authorizer name: an unknown app.
    let id = user_info(&mut e, "cp/not an appid", T0);
    let id2 = user_info(&mut e, "nocomponent/wx1", T0);
    run(&mut e, T0, &mut seen, &mut |p, b, _| plat.answer(p, b));
    assert_eq!(result_of(&seen, id).as_ref().unwrap_err().0, "config");
    assert_eq!(result_of(&seen, id2).as_ref().unwrap_err().0, "config");
}

#[test]
fn fleet_mode_keeps_the_refresh_token_durably_and_reads_it_before_a_refresh() {
    let mut plat = Platform::new();
    let mut seen = Seen::default();
    let extra = r#", "store": "external", "store_prefix": "t:", "entropy": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=""#;
    let mut e = authorized_engine(extra, &mut plat, &mut seen);
    let durable: Vec<_> = seen
        .stores
        .iter()
        .filter(|s| s["op"] == "set" && s["key"].as_str().unwrap().starts_with("t:authorizer:"))
        .collect();
    assert_eq!(durable.len(), 1, "{:?}", seen.stores);
    assert_eq!(durable[0]["ttl_ms"], 0, "no expiry");
    let key = durable[0]["key"].as_str().unwrap().to_string();
    let value: serde_json::Value =
        serde_json::from_str(durable[0]["value"].as_str().unwrap()).unwrap();
    assert_eq!(value["refresh_token"], "RT-Secret-1");
    assert_eq!(value["standing"], "active");
    // A refresh reads it first (another process may have rotated it).
    let later = T0 + 7_200_000;
    user_info(&mut e, "cp/wxauthorizer0001", later);
    run(&mut e, later, &mut seen, &mut |p, b, _| plat.answer(p, b));
    assert!(seen
        .stores
        .iter()
        .any(|s| s["op"] == "get" && s["key"] == key.as_str()));
    let rotated = seen
        .stores
        .iter()
        .rfind(|s| s["op"] == "set" && s["key"] == key.as_str())
        .unwrap();
    assert!(rotated["value"].as_str().unwrap().contains("RT-Secret-2"));
}

#[test]
fn a_thousand_authorizers_authorized_at_once_refresh_spread_over_time() {
    let mut plat = Platform::new();
    let mut seen = Seen::default();
    let mut e = Engine::new(config(r#", "call_timeout_ms": null"#), T0).unwrap();
    ticket(&mut e, T0);
    for i in 0..1000 {
        authorized(
            &mut e,
            &format!("wxa{i:013}"),
            &format!("code-wxa{i:013}"),
            T0,
        );
    }
    run(&mut e, T0, &mut seen, &mut |p, b, _| plat.answer(p, b));
    let status = e.status(T0);
    let mut minutes = std::collections::BTreeMap::new();
    for row in status["apps"].as_array().unwrap() {
        if row.get("authorizer").is_some() {
            let at = row["token"]["refresh_at_ms"].as_u64().unwrap();
            *minutes.entry((at - T0) / 60_000).or_insert(0u32) += 1;
        }
    }
    let total: u32 = minutes.values().sum();
    assert_eq!(total, 1000);
    // Spread over a quarter of the 2 h lifetime: 30 one-minute buckets.
    assert!(minutes.len() >= 28, "{minutes:?}");
    let max = *minutes.values().max().unwrap();
    assert!(max <= 2 * 1000 / 30, "busiest minute {max}: {minutes:?}");
}

#[test]
fn no_token_or_refresh_token_appears_in_any_output_status_or_state_error() {
    let mut plat = Platform::new();
    let mut seen = Seen::default();
    let mut e = authorized_engine("", &mut plat, &mut seen);
    unauthorized(&mut e, AUTH, T0 + 1);
    let id = user_info(&mut e, "cp/wxauthorizer0001", T0 + 2);
    run(&mut e, T0 + 2, &mut seen, &mut |p, b, _| plat.answer(p, b));
    assert!(result_of(&seen, id).is_err());
    seen.text.push(e.status_json(T0 + 2));
    seen.text.push(e.metrics_text(T0 + 2));
    seen.text.push(format!("{e:?}"));
    let all = seen.text.join("\n");
    for secret in [
        "AT-Secret",
        "RT-Secret",
        "CT-Secret",
        SECRET,
        AES_KEY,
        "ticket@@@T1",
        "code-wx",
    ] {
        assert!(!all.contains(secret), "`{secret}` leaked");
    }
}

// ---- WeCom suites ---------------------------------------------------------

const SUITE: &str = "wwsuite000000001";

fn suite_engine() -> Engine {
    let cfg = Config::from_json(&format!(
        r#"{{"apps": [{{"id": "st", "platform": "wecom-suite", "app_id": "{SUITE}", "secret": "SUITE-SECRET-77",
              "callback": {{"token": "{CB_TOKEN}", "encoding_aes_key": "{AES_KEY}"}}}}], "seed": 3}}"#
    ))
    .unwrap();
    Engine::new(cfg, T0).unwrap()
}

fn suite_push(e: &mut Engine, fields: &str, now: u64) -> wxcore::Push {
    let crypto = CallbackCrypto::new(CB_TOKEN, AES_KEY, SUITE).unwrap();
    let ts = now / 1000;
    let xml = format!("<xml><SuiteId>{SUITE}</SuiteId>{fields}<TimeStamp>{ts}</TimeStamp></xml>");
    let sealed = crypto.encrypt(&xml, &ts.to_string(), "4242", [7; 16]);
    let query = vec![
        ("timestamp".to_string(), sealed.timestamp.clone()),
        ("nonce".to_string(), sealed.nonce.clone()),
        ("msg_signature".to_string(), sealed.msg_signature.clone()),
    ];
    let body = format!(
        "<xml><ToUserName>{SUITE}</ToUserName><Encrypt><![CDATA[{}]]></Encrypt></xml>",
        sealed.encrypt
    );
    e.handle_push("st", "POST", &query, body.as_bytes(), now)
        .unwrap()
}

/// WeCom's side: suite token, permanent codes by auth code, corp tokens.
fn wecom(
    p: &str,
    b: &serde_json::Value,
    r: &HttpRequest,
    corp_token_error: &mut Option<i64>,
) -> String {
    match p {
        "/cgi-bin/service/get_suite_token" => r#"{"suite_access_token": "ST-Secret-1", "expires_in": 7200}"#.into(),
        "/cgi-bin/service/get_permanent_code" => match b["auth_code"].as_str().unwrap() {
            "authcode-corp" => r#"{"access_token": "CORP-AT-Secret-1", "expires_in": 7200, "permanent_code": "PERM-Secret-1",
                                  "auth_corp_info": {"corpid": "wwcorp0001"}, "auth_info": {"agent": [{"agentid": 1000002}]}}"#.into(),
            "authcode-dk" => r#"{"permanent_code": "PERM-Secret-DK", "is_customized_app": true,
                                "auth_corp_info": {"corpid": "wwdk0001"}, "auth_info": {"agent": [{"agentid": 1000003}]}}"#.into(),
            _ => r#"{"errcode": 40029, "errmsg": "invalid code"}"#.into(),
        },
        "/cgi-bin/service/get_corp_token" => {
            if let Some(code) = corp_token_error.take() {
                return format!(r#"{{"errcode": {code}, "errmsg": "invalid permanent_code"}}"#);
            }
            assert_eq!(b["auth_corpid"], "wwcorp0001");
            assert_eq!(b["permanent_code"], "PERM-Secret-1");
            r#"{"access_token": "CORP-AT-Secret-2", "expires_in": 7200}"#.into()
        }
        "/cgi-bin/gettoken" => {
            assert_eq!(query(r, "corpid").as_deref(), Some("wwdk0001"));
            assert_eq!(query(r, "corpsecret").as_deref(), Some("PERM-Secret-DK"));
            r#"{"errcode": 0, "errmsg": "ok", "access_token": "DK-AT-Secret-1", "expires_in": 7200}"#.into()
        }
        "/cgi-bin/user/get" => r#"{"errcode": 0, "errmsg": "ok", "userid": "u1"}"#.into(),
        other => panic!("unexpected request {other}"),
    }
}

fn user_get(e: &mut Engine, app: &str, now: u64) -> u64 {
    e.submit(
        Call::get(app, "/cgi-bin/user/get").query("userid", "u1"),
        now,
    )
}

#[test]
fn a_suites_create_auth_brings_a_corp_whose_token_comes_from_get_corp_token_and_40084_needs_reauthorization(
) {
    let mut e = suite_engine();
    let mut seen = Seen::default();
    let mut fault = None;
    suite_push(
        &mut e,
        "<InfoType>suite_ticket</InfoType><SuiteTicket>ticket@@@S1</SuiteTicket>",
        T0,
    );
    let p = suite_push(
        &mut e,
        "<InfoType>create_auth</InfoType><AuthCode>authcode-corp</AuthCode>",
        T0,
    );
    assert_eq!(
        p.authorizer, None,
        "the corp is known from the exchange's answer"
    );
    assert_eq!(
        p.message.unwrap().get("AuthCode"),
        None,
        "the spent code is not handed on"
    );
    run(&mut e, T0, &mut seen, &mut |p, b, r| {
        wecom(p, b, r, &mut fault)
    });
    let id = user_get(&mut e, "st/wwcorp0001", T0 + 1);
    run(&mut e, T0 + 1, &mut seen, &mut |p, b, r| {
        wecom(p, b, r, &mut fault)
    });
    assert!(result_of(&seen, id).is_ok());
    assert_eq!(
        seen.requests.last().unwrap().2.as_deref(),
        Some("CORP-AT-Secret-1")
    );
    let paths: Vec<&str> = seen.requests.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/cgi-bin/service/get_suite_token",
            "/cgi-bin/service/get_permanent_code",
            "/cgi-bin/user/get"
        ]
    );

    // Past its refresh point: get_corp_token with the permanent code.
    let later = T0 + 7_200_000;
    // (A suite ticket serves 30 minutes: a fresh one for the suite token.)
    suite_push(
        &mut e,
        "<InfoType>suite_ticket</InfoType><SuiteTicket>ticket@@@S2</SuiteTicket>",
        later,
    );
    let id = user_get(&mut e, "st/wwcorp0001", later);
    run(&mut e, later, &mut seen, &mut |p, b, r| {
        wecom(p, b, r, &mut fault)
    });
    assert!(result_of(&seen, id).is_ok());
    assert_eq!(
        seen.requests.last().unwrap().2.as_deref(),
        Some("CORP-AT-Secret-2")
    );

    // The permanent code refused: the corp must authorize again; calls fail fast.
    fault = Some(40084);
    let much_later = later + 7_200_000;
    suite_push(
        &mut e,
        "<InfoType>suite_ticket</InfoType><SuiteTicket>ticket@@@S3</SuiteTicket>",
        much_later,
    );
    let id = user_get(&mut e, "st/wwcorp0001", much_later);
    run(&mut e, much_later, &mut seen, &mut |p, b, r| {
        wecom(p, b, r, &mut fault)
    });
    assert_eq!(
        result_of(&seen, id),
        &Err(("not_authorized".into(), "needs_reauthorization".into()))
    );
    let n = seen.requests.len();
    let id = user_get(&mut e, "st/wwcorp0001", much_later + 1);
    run(&mut e, much_later + 1, &mut seen, &mut |p, b, r| {
        wecom(p, b, r, &mut fault)
    });
    assert_eq!(seen.requests.len(), n);
    assert_eq!(
        result_of(&seen, id).as_ref().unwrap_err().0,
        "not_authorized"
    );
}

#[test]
fn a_daikaifa_corps_token_comes_from_gettoken_with_its_permanent_code_and_cancel_auth_revokes() {
    let mut e = suite_engine();
    let mut seen = Seen::default();
    let mut fault = None;
    suite_push(
        &mut e,
        "<InfoType>suite_ticket</InfoType><SuiteTicket>ticket@@@S1</SuiteTicket>",
        T0,
    );
    suite_push(
        &mut e,
        "<InfoType>create_auth</InfoType><AuthCode>authcode-dk</AuthCode>",
        T0,
    );
    run(&mut e, T0, &mut seen, &mut |p, b, r| {
        wecom(p, b, r, &mut fault)
    });
    let id = user_get(&mut e, "st/wwdk0001", T0 + 1);
    run(&mut e, T0 + 1, &mut seen, &mut |p, b, r| {
        wecom(p, b, r, &mut fault)
    });
    assert!(result_of(&seen, id).is_ok(), "{:?}", seen.done);
    assert_eq!(
        seen.requests.last().unwrap().2.as_deref(),
        Some("DK-AT-Secret-1")
    );
    assert!(seen.requests.iter().any(|r| r.0 == "/cgi-bin/gettoken"));

    // The state survives a restart: still 代开发, still its permanent code.
    let state = e.export_state();
    let mut restored = Engine::restore(
        Config::from_json(&format!(
            r#"{{"apps": [{{"id": "st", "platform": "wecom-suite", "app_id": "{SUITE}", "secret": "SUITE-SECRET-77",
                  "callback": {{"token": "{CB_TOKEN}", "encoding_aes_key": "{AES_KEY}"}}}}]}}"#
        ))
        .unwrap(),
        &state,
        T0 + 7_200_000,
    )
    .unwrap();
    let id = user_get(&mut restored, "st/wwdk0001", T0 + 7_200_000);
    run(&mut restored, T0 + 7_200_000, &mut seen, &mut |p, b, r| {
        wecom(p, b, r, &mut fault)
    });
    assert!(result_of(&seen, id).is_ok(), "{:?}", seen.done);

    let p = suite_push(
        &mut e,
        "<InfoType>cancel_auth</InfoType><AuthCorpId>wwdk0001</AuthCorpId>",
        T0 + 2,
    );
    assert_eq!(p.authorizer.as_deref(), Some("st/wwdk0001"));
    let n = seen.requests.len();
    let id = user_get(&mut e, "st/wwdk0001", T0 + 3);
    run(&mut e, T0 + 3, &mut seen, &mut |p, b, r| {
        wecom(p, b, r, &mut fault)
    });
    assert_eq!(seen.requests.len(), n);
    assert_eq!(
        result_of(&seen, id),
        &Err(("not_authorized".into(), "revoked".into()))
    );
    seen.text.push(e.status_json(T0 + 3));
    let all = seen.text.join("\n");
    for secret in [
        "PERM-Secret",
        "CORP-AT-Secret",
        "DK-AT-Secret",
        "ST-Secret",
        "SUITE-SECRET",
        "authcode-",
    ] {
        assert!(!all.contains(secret), "`{secret}` leaked");
    }
}

#[test]
fn a_revocation_landing_while_a_refresh_is_out_keeps_nothing_the_refresh_brings() {
    let mut plat = Platform::new();
    let mut seen = Seen::default();
    let mut e = authorized_engine("", &mut plat, &mut seen);
    let later = T0 + 7_200_000;
    let id = user_info(&mut e, "cp/wxauthorizer0001", later);
    // Answer the component token, hold the refresh.
    let mut held = None;
    for _ in 0..4 {
        let mut outs = Vec::new();
        e.poll_outputs(later, &mut outs);
        for o in outs {
            if let Output::Send(r) = o {
                let p = path(&r);
                if p == "/cgi-bin/component/api_authorizer_token" {
                    held = Some(r);
                } else {
                    let answer = plat.answer(&p, &body(&r));
                    e.handle_response(r.id, HttpResponse::json(answer), later);
                }
            }
        }
    }
    let refresh = held.expect("a refresh went out");
    unauthorized(&mut e, AUTH, later + 1);
    let answer = plat.answer("/cgi-bin/component/api_authorizer_token", &body(&refresh));
    e.handle_response(refresh.id, HttpResponse::json(answer), later + 2);
    run(&mut e, later + 2, &mut seen, &mut |p, b, _| {
        plat.answer(p, b)
    });
    assert_eq!(
        result_of(&seen, id),
        &Err(("not_authorized".into(), "revoked".into()))
    );
    let status = e.status(later + 2);
    let row = status["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["app"] == "cp/wxauthorizer0001")
        .unwrap();
    assert!(row["token"].is_null(), "the refresh's token was not kept");
    assert_eq!(row["authorizer"]["refresh_token_held"], false);
}
