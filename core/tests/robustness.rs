//! Properties over many random runs: the engine never panics, every
//! submitted call completes exactly once, and no secret or token ever
//! shows in Debug/Display output, errors or events.

use std::collections::{HashMap, HashSet};
use wxcore::{
    Call, Config, Engine, HttpResponse, Output, StoreCommand, StoreResult, TransportErrorKind,
};

const SECRET: &str = "S3CR3T-never-print-me";

/// A small deterministic generator for the test's own choices.
struct Gen(u64);
impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

fn config(store: &str, seed: u64) -> Config {
    Config::from_json(&format!(
        r#"{{
        "apps": [
            {{"id": "oa", "platform": "wechat-oa", "app_id": "wxA", "secret": "{SECRET}", "regions": ["sh"]}},
            {{"id": "oc", "platform": "wechat-oa", "app_id": "wxB", "secret": "{SECRET}", "token_endpoint": "classic",
              "rate_limit": {{"per_minute": 120, "burst": 3, "concurrency": 2}}}},
            {{"id": "hr", "platform": "wecom", "corp_id": "wwC", "agent_id": "1", "secret": "{SECRET}"}},
            {{"id": "jing", "platform": "jing", "base_url": "https://jing.example", "app_id": "JA", "secret": "{SECRET}",
              "token_path": "/oauth/token", "refresh_path": "/oauth/refresh"}},
            {{"id": "cj", "platform": "cj", "base_url": "https://cj.example", "app_id": "CA", "secret": "{SECRET}", "token_path": "/t"}},
            {{"id": "res", "platform": "result", "base_url": "https://r.example", "app_id": "AK", "secret": "{SECRET}",
              "token_placement": {{"in": "header", "name": "token_id"}}}}
        ],
        "store": "{store}",
        "seed": {seed},
        "quota": {{"limits": {{"/cgi-bin/tags/get": 7}}}},
        "failover": {{"threshold": 2, "cooldown_ms": 5000}},
        "entropy": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
    }}"#
    ))
    .unwrap()
}

const BODIES: &[&str] = &[
    r#"{"errcode":0,"errmsg":"ok","access_token":"TOKEN-A","expires_in":7200}"#,
    r#"{"errcode":40001,"errmsg":"invalid credential"}"#,
    r#"{"errcode":40014,"errmsg":"invalid access_token"}"#,
    r#"{"errcode":42001,"errmsg":"expired"}"#,
    r#"{"errcode":-1,"errmsg":"busy"}"#,
    r#"{"errcode":45009,"errmsg":"quota"}"#,
    r#"{"errcode":45011,"errmsg":"minute"}"#,
    r#"{"errcode":45033,"errmsg":"concurrent"}"#,
    r#"{"errcode":89503,"errmsg":"confirm"}"#,
    r#"{"errcode":89507,"errmsg":"blocked"}"#,
    r#"{"errcode":40243,"errmsg":"frozen"}"#,
    r#"{"code":0,"msg":"success","data":{"access_token":"J","expires_in":60,"refresh_token":"R"}}"#,
    r#"{"code":20001,"msg":"x","sub_msg":"访问令牌已过期"}"#,
    r#"{"code":20002,"msg":"x","sub_msg":"超出请求并发限制"}"#,
    r#"{"result":"error","errorCode":"permission_denied_force_log_off","desp":"x"}"#,
    r#"{"result":"success","access_token":"X","expires_in":"30"}"#,
    r#"{"access_token":"","expires_in":-5}"#,
    r#"{"errcode":"40001"}"#,
    r#"{"errcode":1e400}"#,
    "<html>502</html>",
    "",
    "[1,2,3]",
    "{\"errcode\":",
    "\u{0}\u{1}\u{2}binary",
];

const PATHS: &[&str] = &[
    "/cgi-bin/user/info",
    "/cgi-bin/tags/get",
    "/cgi-bin/message/custom/send",
    "/cgi-bin/clear_quota",
    "/v1/users",
    "bad-path",
];

/// A success answer every dialect and token endpoint accepts.
fn universal_ok(n: u64) -> HttpResponse {
    HttpResponse::json(format!(
        r#"{{"errcode":0,"code":0,"result":"success","access_token":"TOK{n}","token_id":"TOK{n}","expires_in":7200,
            "data":{{"access_token":"TOK{n}","expires_in":7200,"refresh_token":"RT{n}"}}}}"#
    ))
}

struct Run {
    engine: Engine,
    now: u64,
    submitted: HashSet<u64>,
    done: HashSet<u64>,
    /// API calls (not ticket requests) by id: when their deadline passes.
    deadlines: HashMap<u64, u64>,
    sends: Vec<u64>,
    stores: HashMap<u64, StoreCommand>,
    /// The fake store: value and expiry, like Redis with PX.
    kv: HashMap<String, (String, u64)>,
    wake: Option<u64>,
}

impl Run {
    fn drain(&mut self) {
        for _ in 0..100_000 {
            match self.engine.poll_output(self.now) {
                Output::Send(r) => {
                    let dbg = format!("{r:?}");
                    assert!(
                        !dbg.contains(SECRET) && !dbg.contains("TOK"),
                        "request Debug leaks: {dbg}"
                    );
                    self.sends.push(r.id);
                }
                Output::Store(op) => {
                    let dbg = format!("{op:?}");
                    assert!(!dbg.contains("TOK"), "store Debug leaks: {dbg}");
                    self.stores.insert(op.id, op.command);
                }
                Output::Done(c) => {
                    assert!(
                        self.submitted.contains(&c.call_id),
                        "Done for unknown call {}",
                        c.call_id
                    );
                    assert!(
                        self.done.insert(c.call_id),
                        "call {} completed twice",
                        c.call_id
                    );
                    if let Err(e) = &c.result {
                        for text in [format!("{e}"), format!("{e:?}")] {
                            assert!(
                                !text.contains(SECRET) && !text.contains("TOK"),
                                "error leaks: {text}"
                            );
                        }
                    }
                }
                Output::Event(e) => {
                    let text = format!("{e:?} {}", serde_json::to_string(&e).unwrap());
                    assert!(
                        !text.contains(SECRET) && !text.contains("TOK"),
                        "event leaks: {text}"
                    );
                }
                Output::Idle { wake_at_ms } => {
                    self.wake = wake_at_ms;
                    // Every call whose deadline has passed has completed:
                    // the input that reached it fired it.
                    for (id, at) in &self.deadlines {
                        assert!(
                            *at > self.now || self.done.contains(id),
                            "call {id} outlived its deadline {at} (now {})",
                            self.now
                        );
                    }
                    return;
                }
            }
        }
        panic!("outputs never reached Idle");
    }

    fn answer_store(&mut self, id: u64, cmd: StoreCommand, fail: bool) {
        let now = self.now;
        self.kv.retain(|_, (_, exp)| *exp > now);
        let r = if fail {
            StoreResult::Failed("down".into())
        } else {
            match cmd {
                StoreCommand::Get { key } => {
                    StoreResult::Value(self.kv.get(&key).map(|(v, _)| v.clone()))
                }
                StoreCommand::Set { key, value, ttl_ms } => {
                    self.kv.insert(key, (value, now + ttl_ms));
                    StoreResult::Ok
                }
                StoreCommand::Lock { key, owner, ttl_ms } => {
                    let won = !self.kv.contains_key(&key);
                    if won {
                        self.kv.insert(key, (owner, now + ttl_ms));
                    }
                    StoreResult::Locked(won)
                }
                StoreCommand::Unlock { key, owner } => {
                    if self.kv.get(&key).map(|(v, _)| v) == Some(&owner) {
                        self.kv.remove(&key);
                    }
                    StoreResult::Ok
                }
                StoreCommand::IncrBy { key, delta, ttl_ms } => {
                    let n = self
                        .kv
                        .get(&key)
                        .and_then(|(v, _)| v.parse::<i64>().ok())
                        .unwrap_or(0)
                        + delta;
                    self.kv.insert(key, (n.to_string(), now + ttl_ms));
                    StoreResult::Count(n)
                }
            }
        };
        self.engine.handle_store_result(id, r, self.now);
    }
}

fn random_run(store: &str, seed: u64, steps: usize) {
    let mut g = Gen(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut run = Run {
        engine: Engine::new(config(store, seed), 1_700_000_000_000).unwrap(),
        now: 1_700_000_000_000,
        submitted: HashSet::new(),
        done: HashSet::new(),
        deadlines: HashMap::new(),
        sends: Vec::new(),
        stores: HashMap::new(),
        kv: HashMap::new(),
        wake: None,
    };
    let apps = ["oa", "oc", "hr", "jing", "cj", "res", "nope"];
    let methods = ["GET", "POST", "DELETE", "BREW"];
    for _ in 0..steps {
        run.now += g.below(3) * g.below(20_000);
        match g.below(10) {
            0..=2 => {
                let mut call = Call::get(*g.pick(&apps), *g.pick(PATHS));
                call.method = g.pick(&methods).to_string();
                call.idempotent = g.below(2) == 0;
                if g.below(2) == 0 {
                    call = call.query("k", "v é&");
                }
                // Now and then a JS-SDK ticket instead (some kinds unknown).
                let id = if g.below(6) == 0 {
                    let kind = *g.pick(&["jsapi", "wx_card", "agent_config", "nope"]);
                    run.engine.submit_ticket(&call.app, kind, run.now)
                } else {
                    let id = run.engine.submit(call, run.now);
                    run.deadlines.insert(id, run.now + 120_000);
                    id
                };
                run.submitted.insert(id);
            }
            3..=5 if !run.sends.is_empty() => {
                let i = g.below(run.sends.len() as u64) as usize;
                let id = run.sends.swap_remove(i);
                let status = *g.pick(&[200u16, 200, 200, 401, 429, 500, 502]);
                let ct = *g.pick(&["application/json", "text/plain", "image/jpeg", ""]);
                let body = g.pick(BODIES).as_bytes().to_vec();
                let resp = HttpResponse {
                    status,
                    headers: vec![("Content-Type".into(), ct.into())],
                    body,
                };
                run.engine.handle_response(id, resp, run.now);
            }
            6 if !run.sends.is_empty() => {
                let i = g.below(run.sends.len() as u64) as usize;
                let id = run.sends.swap_remove(i);
                let kind = *g.pick(&[
                    TransportErrorKind::Dns,
                    TransportErrorKind::Connect,
                    TransportErrorKind::Timeout,
                    TransportErrorKind::Reset,
                    TransportErrorKind::Tls,
                ]);
                run.engine.handle_transport_error(id, kind, run.now);
            }
            7 if !run.stores.is_empty() => {
                let id = *run.stores.keys().next().unwrap();
                let cmd = run.stores.remove(&id).unwrap();
                let fail = g.below(4) == 0;
                run.answer_store(id, cmd, fail);
            }
            8 if g.below(2) == 0 && !run.submitted.is_empty() => {
                // Withdraw a call: true exactly when it had not completed,
                // and then its `Done` follows at once.
                let ids: Vec<u64> = run.submitted.iter().copied().collect();
                let id = ids[g.below(ids.len() as u64) as usize];
                let was_done = run.done.contains(&id);
                let cancelled = run.engine.cancel(id, run.now);
                assert!(!(cancelled && was_done), "cancel of completed call {id}");
                run.drain();
                assert!(
                    !cancelled || run.done.contains(&id),
                    "cancelled call {id} has no Done"
                );
            }
            8 => {
                // Answers for ids that do not exist must be ignored.
                run.engine
                    .handle_response(g.below(1000) + 10_000, universal_ok(0), run.now);
                run.engine.handle_store_result(
                    g.below(1000) + 10_000,
                    StoreResult::Locked(true),
                    run.now,
                );
            }
            _ => {
                if let Some(w) = run.wake {
                    run.now = run.now.max(w);
                }
            }
        }
        run.drain();
    }
    // Settle: answer everything with success and follow the timers; every
    // call must then have completed, exactly once.
    let mut n = 0;
    for _ in 0..20_000 {
        if run.done.len() == run.submitted.len() {
            break;
        }
        if let Some(id) = run.sends.pop() {
            n += 1;
            run.engine.handle_response(id, universal_ok(n), run.now);
        } else if let Some(&id) = run.stores.keys().next() {
            let cmd = run.stores.remove(&id).unwrap();
            run.answer_store(id, cmd, false);
        } else if let Some(w) = run.wake {
            run.now = run.now.max(w);
        } else {
            run.now += 3_600_000;
        }
        run.drain();
    }
    let lost: Vec<_> = run.submitted.difference(&run.done).collect();
    assert!(
        lost.is_empty(),
        "seed {seed} ({store}): calls never completed: {lost:?}"
    );
    let engine_dbg = format!("{:?}", run.engine);
    assert!(!engine_dbg.contains(SECRET));
}

#[test]
fn random_runs_never_panic_and_complete_every_call_once() {
    for seed in 1..=150 {
        random_run("memory", seed, 400);
    }
}

#[test]
fn random_fleet_runs_never_panic_and_complete_every_call_once() {
    for seed in 1..=150 {
        random_run("external", seed, 400);
    }
}

#[test]
fn config_errors_do_not_echo_secrets() {
    for bad in [
        r#"{"apps":[{"id":"a","platform":"wechat-oa","app_id":"wx","secret":12345678901}]}"#,
        r#"{"apps":[{"id":"a","platform":"wechat-oa","app_id":"wx","secret":"S3CR3T","bogus":1}]}"#,
        r#"{"apps":[{"id":"a","platform":"wechat-oa","app_id":"wx","secrte":"S3CR3T"}]}"#,
        // Found by the config fuzzer: a mistyped entropy was quoted back.
        r#"{"apps":[{"id":"a","platform":"wechat-oa","app_id":"wx"}],"entropy":12345678901}"#,
    ] {
        let e = Config::from_json(bad).unwrap_err();
        let text = format!("{e} {e:?}");
        assert!(
            !text.contains("S3CR3T") && !text.contains("12345678901"),
            "{text}"
        );
    }
}
