//! The token server's side of the engine (`submit_token`,
//! `submit_invalidate`, `prefetch_tokens`): what a host answering token
//! requests relies on. The client side (credential sources) is in the
//! conformance vectors, run in every language.

use sha2::{Digest, Sha256};
use wxcore::{Code, Config, Engine, HttpResponse, Output, Reply};

const T0: u64 = 1_700_000_000_000;

fn engine(prefetch: bool) -> Engine {
    let cfg = Config::from_json(&format!(
        r#"{{"apps": [{{"id": "oa", "platform": "wechat-oa", "app_id": "wxA", "secret": "S"}}],
            "prefetch_tokens": {prefetch}, "retry": {{"jitter": false}}}}"#
    ))
    .unwrap();
    Engine::new(cfg, T0).unwrap()
}

fn drain(e: &mut Engine, now: u64) -> Vec<Output> {
    let mut out = Vec::new();
    e.poll_outputs(now, &mut out);
    out
}

fn sends(outs: &[Output]) -> Vec<u64> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send(r) => Some(r.id),
            _ => None,
        })
        .collect()
}

fn done(outs: &[Output]) -> Vec<(u64, Result<Reply, String>)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Done(c) => Some((
                c.call_id,
                c.result.clone().map_err(|e| e.kind.as_str().to_string()),
            )),
            _ => None,
        })
        .collect()
}

fn token_answer(token: &str) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![],
        body: format!(r#"{{"access_token": "{token}", "expires_in": 7200}}"#).into_bytes(),
    }
}

fn doc(r: &Reply) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap()
}

/// Written independently of the engine: 16 hex digits of SHA-256.
fn id_of(token: &str) -> String {
    let d = Sha256::digest(format!("wxcore token id:{token}").as_bytes());
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn token_requests_share_one_fetch_and_get_the_token_document() {
    let mut e = engine(false);
    let a = e.submit_token("oa", T0);
    let b = e.submit_token("oa", T0 + 1);
    let outs = drain(&mut e, T0 + 1);
    let fetches = sends(&outs);
    assert_eq!(fetches.len(), 1, "one fetch for both requests");
    assert!(done(&outs).is_empty());
    e.handle_response(fetches[0], token_answer("TK1"), T0 + 50);
    let outs = drain(&mut e, T0 + 50);
    let d = done(&outs);
    assert_eq!(d.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![a, b]);
    let body = doc(d[0].1.as_ref().unwrap());
    assert_eq!(body["token"], "TK1");
    assert_eq!(body["token_id"], id_of("TK1"));
    assert_eq!(wxcore::token_id("TK1"), id_of("TK1"));
    // Expiry counted from the send; the server's clock stamps the document.
    assert_eq!(body["expires_at_ms"], T0 + 7_200_000);
    assert_eq!(body["server_time_ms"], T0 + 50);
    assert_eq!(body["refresh_after_ms"], T0 + 3_600_000);
    // Afterwards the cache answers at once.
    let c = e.submit_token("oa", T0 + 100);
    let outs = drain(&mut e, T0 + 100);
    assert!(sends(&outs).is_empty());
    assert_eq!(done(&outs)[0].0, c);
}

#[test]
fn invalidating_the_current_token_refreshes_once_for_every_reporter() {
    let mut e = engine(true);
    // prefetch_tokens: the fetch starts with the first poll, before any request.
    let outs = drain(&mut e, T0);
    let first = sends(&outs);
    assert_eq!(first.len(), 1);
    e.handle_response(first[0], token_answer("TK1"), T0 + 10);
    drain(&mut e, T0 + 10);
    let stale = e.submit_invalidate("oa", "0000000000000000", Some(Code::Num(40001)), T0 + 20);
    let outs = drain(&mut e, T0 + 20);
    assert!(sends(&outs).is_empty(), "a stale id costs no fetch");
    let d = done(&outs);
    assert_eq!(d[0].0, stale);
    assert_eq!(doc(d[0].1.as_ref().unwrap())["token"], "TK1");
    // Three clients report the same token: one fetch, and all get the new one.
    let ids: Vec<u64> = (0..3)
        .map(|i| e.submit_invalidate("oa", &id_of("TK1"), Some(Code::Num(40001)), T0 + 30 + i))
        .collect();
    let outs = drain(&mut e, T0 + 40);
    let fetches = sends(&outs);
    assert_eq!(fetches.len(), 1, "one refresh fleet-wide");
    e.handle_response(fetches[0], token_answer("TK2"), T0 + 60);
    let outs = drain(&mut e, T0 + 60);
    let d = done(&outs);
    assert_eq!(d.iter().map(|(id, _)| *id).collect::<Vec<_>>(), ids);
    for (_, r) in &d {
        let body = doc(r.as_ref().unwrap());
        assert_eq!(body["token"], "TK2");
        assert_eq!(body["generation"], 2);
    }
}

#[test]
fn a_failed_fetch_fails_the_waiting_token_requests_and_unknown_apps_are_config_errors() {
    let mut e = engine(false);
    let a = e.submit_token("oa", T0);
    let outs = drain(&mut e, T0);
    let f = sends(&outs)[0];
    e.handle_response(
        f,
        HttpResponse {
            status: 200,
            headers: vec![],
            body: br#"{"errcode": 40125, "errmsg": "invalid appsecret"}"#.to_vec(),
        },
        T0 + 10,
    );
    let outs = drain(&mut e, T0 + 10);
    assert_eq!(
        done(&outs),
        vec![(a, Err("credential_invalid".to_string()))]
    );
    let b = e.submit_token("nope", T0 + 20);
    assert_eq!(
        done(&drain(&mut e, T0 + 20)),
        vec![(b, Err("config".to_string()))]
    );
    assert_eq!(e.token_apps(), vec!["oa".to_string()]);
}
