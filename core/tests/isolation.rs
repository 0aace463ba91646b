//! What must never cross between engines, accounts or logs: two engines
//! sharing a store never both hold the lease; `Debug` of anything that can
//! carry a secret, token, ticket or body shows lengths and digests only.

use std::collections::HashMap;
use wxcore::{
    Body, Call, Config, Engine, HttpRequest, HttpResponse, Output, Reply, StoreCommand, StoreOp,
    StoreResult,
};

const SECRET: &str = "APP-SECRET-5f1e";
const TOKEN: &str = "ACCESS-TOKEN-9c2d";
const T0: u64 = 1_700_000_000_000;

fn fleet_config(entropy: &str) -> Config {
    Config::from_json(&format!(
        r#"{{"apps": [{{"id": "oa", "platform": "wechat-oa", "app_id": "wxA", "secret": "{SECRET}"}}],
            "store": "external", "instance_id": "web", "entropy": "{entropy}"}}"#
    ))
    .unwrap()
}

/// A store like Redis: values with expiry, SET NX, compare-and-delete.
#[derive(Default)]
struct Kv(HashMap<String, (String, u64)>);

impl Kv {
    fn run(&mut self, cmd: &StoreCommand, now: u64) -> StoreResult {
        self.0.retain(|_, (_, exp)| *exp > now);
        match cmd {
            StoreCommand::Get { key } => {
                StoreResult::Value(self.0.get(key).map(|(v, _)| v.clone()))
            }
            StoreCommand::Set { key, value, ttl_ms } => {
                self.0.insert(key.clone(), (value.clone(), now + ttl_ms));
                StoreResult::Ok
            }
            StoreCommand::Lock { key, owner, ttl_ms } => {
                if self.0.contains_key(key) {
                    StoreResult::Locked(false)
                } else {
                    self.0.insert(key.clone(), (owner.clone(), now + ttl_ms));
                    StoreResult::Locked(true)
                }
            }
            StoreCommand::Unlock { key, owner } => {
                if self.0.get(key).map(|(v, _)| v) == Some(owner) {
                    self.0.remove(key);
                }
                StoreResult::Ok
            }
            StoreCommand::IncrBy { key, delta, ttl_ms } => {
                let n = self
                    .0
                    .get(key)
                    .and_then(|(v, _)| v.parse::<i64>().ok())
                    .unwrap_or(0)
                    + delta;
                self.0.insert(key.clone(), (n.to_string(), now + ttl_ms));
                StoreResult::Count(n)
            }
        }
    }
}

#[test]
fn two_engines_from_one_config_never_share_the_lease_and_fetch_once() {
    // Same config, as a fleet deploys it; each driver draws its own entropy.
    let mut engines = [
        Engine::new(
            fleet_config("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
            T0,
        )
        .unwrap(),
        Engine::new(
            fleet_config("HxwdGxoZGBcWFRQTEhEQDw4NDAsKCQgHBgUEAwIBAAA="),
            T0,
        )
        .unwrap(),
    ];
    let mut kv = Kv::default();
    let mut owners = Vec::new();
    let mut token_fetches = 0;
    let mut done = 0;
    let mut now = T0;
    for e in engines.iter_mut() {
        e.submit(Call::get("oa", "/cgi-bin/user/info"), now);
    }
    // Step both engines in lockstep: each store operation runs in the order
    // emitted, so both reach `lock` before either publishes.
    for _ in 0..200 {
        now += 10;
        let mut outs: Vec<(usize, Output)> = Vec::new();
        for (i, e) in engines.iter_mut().enumerate() {
            let mut v = Vec::new();
            e.poll_outputs(now, &mut v);
            outs.extend(v.into_iter().map(|o| (i, o)));
        }
        if outs.is_empty() && done == 2 {
            break;
        }
        for (i, o) in outs {
            match o {
                Output::Store(StoreOp { id, command }) => {
                    if let StoreCommand::Lock { owner, .. } = &command {
                        owners.push((i, owner.clone()));
                    }
                    let r = kv.run(&command, now);
                    engines[i].handle_store_result(id, r, now);
                }
                Output::Send(r) if r.url.contains("stable_token") => {
                    token_fetches += 1;
                    let body = format!(r#"{{"access_token":"{TOKEN}","expires_in":7200}}"#);
                    engines[i].handle_response(r.id, HttpResponse::json(body), now);
                }
                Output::Send(r) => engines[i].handle_response(r.id, HttpResponse::json("{}"), now),
                Output::Done(c) => {
                    assert!(c.result.is_ok(), "{:?}", c.result);
                    done += 1;
                }
                _ => {}
            }
        }
    }
    assert_eq!(done, 2, "both calls complete");
    assert_eq!(token_fetches, 1, "one token fetch for the fleet");
    let by: HashMap<usize, &String> = owners.iter().map(|(i, o)| (*i, o)).collect();
    assert_eq!(by.len(), 2, "both engines asked for the lease: {owners:?}");
    assert_ne!(by[&0], by[&1], "each engine presents its own owner");
    assert!(by[&0].starts_with("web-") && by[&1].starts_with("web-"));
}

#[test]
fn an_engine_never_releases_another_engines_lease() {
    let mut e = Engine::new(
        fleet_config("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
        T0,
    )
    .unwrap();
    let mut kv = Kv::default();
    // Another process holds the lease.
    kv.0.insert(
        "wxcore:lock:wechat-oa:wxA:stable".into(),
        ("web-other".into(), T0 + 60_000),
    );
    e.submit(Call::get("oa", "/cgi-bin/user/info"), T0);
    let mut unlocks = 0;
    for step in 0..20 {
        let now = T0 + step * 300;
        let mut v = Vec::new();
        e.poll_outputs(now, &mut v);
        for o in v {
            if let Output::Store(StoreOp { id, command }) = o {
                if let StoreCommand::Unlock { owner, .. } = &command {
                    assert_ne!(owner, "web-other");
                    unlocks += 1;
                }
                let r = kv.run(&command, now);
                e.handle_store_result(id, r, now);
            }
        }
    }
    assert_eq!(unlocks, 0, "it never held the lease, so it never unlocks");
    assert_eq!(kv.0["wxcore:lock:wechat-oa:wxA:stable"].0, "web-other");
}

fn assert_redacted(what: &str, text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!text.contains(s), "{what} shows `{s}`: {text}");
    }
}

#[test]
fn debug_of_everything_that_can_hold_a_secret_shows_no_secret() {
    let token_body =
        format!(r#"{{"access_token":"{TOKEN}","ticket":"{TOKEN}","expires_in":7200}}"#);
    let reply = Reply {
        status: 200,
        headers: vec![("x-token".into(), TOKEN.into())],
        body: token_body.clone().into_bytes(),
        json: true,
    };
    let response = HttpResponse {
        status: 200,
        headers: vec![("set-cookie".into(), TOKEN.into())],
        body: token_body.clone().into_bytes(),
    };
    let request = HttpRequest {
        id: 1,
        method: "POST",
        url: format!("https://api.weixin.qq.com/cgi-bin/token?appid=wxA&secret={SECRET}"),
        headers: vec![("access-token".into(), TOKEN.into())],
        body: format!(r#"{{"secret":"{SECRET}"}}"#).into_bytes().into(),
        timeout_ms: 5000,
    };
    let op = StoreOp {
        id: 7,
        command: StoreCommand::Set {
            key: "wxcore:token:wechat-oa:wxA:stable".into(),
            value: token_body.clone(),
            ttl_ms: 1000,
        },
    };
    let mut call = Call::post_json("oa", "/cgi-bin/message/custom/send", token_body.clone())
        .query("access_token", TOKEN);
    call.body = Some(Body {
        content_type: "application/json".into(),
        bytes: format!(r#"{{"secret":"{SECRET}"}}"#).into_bytes().into(),
    });
    let done = Output::Done(wxcore::Completion {
        call_id: 1,
        result: Ok(reply.clone()),
    });
    let items: Vec<(&str, String, String)> = vec![
        ("Reply", format!("{reply:?}"), format!("{reply:#?}")),
        (
            "HttpResponse",
            format!("{response:?}"),
            format!("{response:#?}"),
        ),
        (
            "HttpRequest",
            format!("{request:?}"),
            format!("{request:#?}"),
        ),
        ("StoreOp", format!("{op:?}"), format!("{op:#?}")),
        (
            "StoreCommand",
            format!("{:?}", op.command),
            format!("{:#?}", op.command),
        ),
        ("Call", format!("{call:?}"), format!("{call:#?}")),
        ("Output::Done", format!("{done:?}"), format!("{done:#?}")),
        (
            "Output::Send",
            format!("{:?}", Output::Send(request.clone())),
            String::new(),
        ),
    ];
    for (what, plain, pretty) in &items {
        assert_redacted(what, plain, &[SECRET, TOKEN]);
        assert_redacted(what, pretty, &[SECRET, TOKEN]);
    }
    // Lengths and digests tell bodies apart without showing them.
    assert!(
        items[0].1.contains(&format!("{} bytes", token_body.len())),
        "{}",
        items[0].1
    );

    // An engine holding a token, and its state's owner: the engine's Debug.
    let config = Config::from_json(&format!(
        r#"{{"apps": [{{"id": "oa", "platform": "wechat-oa", "app_id": "wxA", "secret": "{SECRET}"}}]}}"#
    ))
    .unwrap();
    let state = format!(
        r#"{{"version": 2, "apps": {{"oa": {{"platform": "wechat-oa", "account": "wxA",
            "token": {{"value": "{TOKEN}", "expires_at_ms": {}, "refresh_at_ms": null}}}}}}, "circuits": {{}}}}"#,
        T0 + 7_200_000
    );
    let engine = Engine::restore(config, &state, T0).unwrap();
    assert_redacted(
        "Engine",
        &format!("{engine:?} {engine:#?}"),
        &[SECRET, TOKEN],
    );
}
