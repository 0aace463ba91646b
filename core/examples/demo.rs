//! A working day with wxcore, against canned platform answers (the local
//! simulator replaces them later). Run with `make demo`.
//!
//! The host side is what every driver does: submit, drain outputs, send
//! each request, feed the answer back, sleep until `wake_at_ms`.

use std::collections::HashMap;
use wxcore::{Call, Config, Engine, Event, HttpRequest, HttpResponse, Output, TransportErrorKind};

/// A pretend WeChat platform: enough behaviour to show the engine at work.
struct Platform {
    token_seq: u32,
    valid: Vec<String>,
    primary_down: bool,
    calls: HashMap<String, u32>,
    fetches: u32,
    mass_sends: u32,
}

enum Answer {
    Http(HttpResponse),
    Down(TransportErrorKind),
}

impl Platform {
    fn answer(&mut self, req: &HttpRequest) -> Answer {
        let path = req
            .url_without_query()
            .splitn(4, '/')
            .nth(3)
            .map(|p| format!("/{p}"))
            .unwrap_or_default();
        let host = req.url.split('/').nth(2).unwrap_or("");
        if self.primary_down && host == "api.weixin.qq.com" {
            return Answer::Down(TransportErrorKind::Connect);
        }
        *self.calls.entry(path.clone()).or_default() += 1;
        let json = |s: String| Answer::Http(HttpResponse::json(s));
        if path == "/cgi-bin/stable_token" {
            self.fetches += 1;
            let forced = String::from_utf8_lossy(&req.body).contains("\"force_refresh\":true");
            if forced || self.valid.is_empty() {
                self.token_seq += 1;
                self.valid = vec![format!("TOKEN-{}", self.token_seq)];
            }
            return json(format!(
                r#"{{"access_token":"{}","expires_in":7200}}"#,
                self.valid[0]
            ));
        }
        let token = req
            .url
            .split("access_token=")
            .nth(1)
            .and_then(|t| t.split('&').next())
            .unwrap_or("");
        if !self.valid.iter().any(|v| v == token) {
            return json(r#"{"errcode":40001,"errmsg":"invalid credential, access_token is invalid or not latest"}"#.into());
        }
        match path.as_str() {
            "/cgi-bin/user/info" => {
                json(r#"{"subscribe":1,"openid":"o1","nickname":"Ann","city":"Shanghai"}"#.into())
            }
            "/cgi-bin/tags/get" => {
                json(r#"{"tags":[{"id":2,"name":"starred","count":12}]}"#.into())
            }
            "/cgi-bin/message/mass/sendall" => {
                self.mass_sends += 1;
                if self.mass_sends > 3 {
                    json(r#"{"errcode":45009,"errmsg":"reach max api daily quota limit"}"#.into())
                } else {
                    json(
                        r#"{"errcode":0,"errmsg":"send job submission success","msg_id":34182}"#
                            .into(),
                    )
                }
            }
            "/cgi-bin/menu/create" => json(
                r#"{"errcode":89503,"errmsg":"risky operation, waiting for admin confirmation"}"#
                    .into(),
            ),
            "/cgi-bin/media/get" => Answer::Http(HttpResponse {
                status: 200,
                headers: vec![("content-type".into(), "image/jpeg".into())],
                body: vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F'],
            }),
            _ => json(r#"{"errcode":0,"errmsg":"ok"}"#.into()),
        }
    }

    /// The platform rotates its token early (as WeCom and OA may).
    fn invalidate(&mut self) {
        self.valid.clear();
    }
}

fn clock(now: u64) -> String {
    // Shanghai wall-clock time of a Unix-millisecond instant.
    let s = (now / 1000 + 8 * 3600) % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn describe(e: &Event) -> String {
    match e {
        Event::TokenFetched {
            app,
            source,
            forced,
            ..
        } => {
            format!(
                "token fetched for `{app}` ({source}{})",
                if *forced { ", forced" } else { "" }
            )
        }
        Event::TokenInvalidated { app, code } => format!(
            "`{app}`: platform rejected the token ({}); refreshing once",
            code.as_ref().map(|c| c.to_string()).unwrap_or_default()
        ),
        Event::CircuitOpened { host, .. } => {
            format!("circuit opened for {host}: routing to the next host")
        }
        Event::CircuitClosed { host } => format!("circuit closed: {host} answers again"),
        Event::Failover { from, to, .. } => format!("failover {from} -> {to}"),
        Event::RetryScheduled {
            call_id,
            attempt,
            delay_ms,
            reason,
            ..
        } => {
            format!("call {call_id}: attempt {attempt} in {delay_ms} ms after {reason}")
        }
        Event::QuotaWarning {
            path,
            used,
            limit,
            percent,
            ..
        } => format!("quota warning: {path} at {percent}% ({used}/{limit})"),
        Event::QuotaExhausted { path, .. } => {
            format!("quota exhausted: {path} refused locally until 00:00 Asia/Shanghai")
        }
        Event::AdminConfirmationRequired { path, .. } => {
            format!("{path} needs the administrator's confirmation")
        }
        other => format!("{other:?}"),
    }
}

/// The driver: what Node, Python and Kotlin do over real HTTP.
fn run(engine: &mut Engine, platform: &mut Platform, now: &mut u64, calls: Vec<(&str, Call)>) {
    let mut labels = HashMap::new();
    for (label, call) in calls {
        let id = engine.submit(call, *now);
        labels.insert(id, label);
    }
    let mut pending = labels.len();
    loop {
        match engine.poll_output(*now) {
            Output::Send(req) => {
                *now += 40; // the network
                match platform.answer(&req) {
                    Answer::Http(resp) => engine.handle_response(req.id, resp, *now),
                    Answer::Down(kind) => {
                        println!(
                            "{}   ! {} {} failed: {}",
                            clock(*now),
                            req.method,
                            req.url_without_query(),
                            kind.as_str()
                        );
                        engine.handle_transport_error(req.id, kind, *now)
                    }
                }
            }
            Output::Done(done) => {
                pending -= 1;
                let label = labels.get(&done.call_id).copied().unwrap_or("?");
                match done.result {
                    Ok(reply) if reply.json => println!(
                        "{}   ✓ {label}: {}",
                        clock(*now),
                        String::from_utf8_lossy(&reply.body)
                    ),
                    Ok(reply) => println!(
                        "{}   ✓ {label}: {} bytes of binary media",
                        clock(*now),
                        reply.body.len()
                    ),
                    Err(e) => println!("{}   ✗ {label}: {} — {}", clock(*now), e.kind, e.message),
                }
            }
            Output::Event(e) => println!("{}   · {}", clock(*now), describe(&e)),
            Output::Store(_) => unreachable!("this demo keeps state in memory"),
            Output::Idle { wake_at_ms } => {
                if pending == 0 {
                    return;
                }
                // Calls still waiting (a backoff, a rate limit): sleep until the engine's timer.
                *now = wake_at_ms
                    .expect("pending calls always have a timer")
                    .max(*now);
            }
        }
    }
}

fn main() {
    let config = Config::from_json(
        r#"{
        "apps": [{"id": "oa", "platform": "wechat-oa", "app_id": "wx5823bf96d3bd56c7", "secret": "demo-secret"}],
        "quota": {"mode": "enforce", "limits": {"/cgi-bin/tags/get": 5}},
        "failover": {"threshold": 2, "cooldown_ms": 60000},
        "retry": {"jitter": false},
        "seed": 42
    }"#,
    )
    .expect("config");
    // 2026-11-23 08:59:00 in Shanghai.
    let mut now: u64 = 1_763_859_540_000;
    let mut engine = Engine::new(config, now).expect("engine");
    let mut platform = Platform {
        token_seq: 0,
        valid: Vec::new(),
        primary_down: false,
        calls: HashMap::new(),
        fetches: 0,
        mass_sends: 0,
    };
    let user = || Call::get("oa", "/cgi-bin/user/info").query("openid", "o1");
    let tags = || vec![("tags", Call::get("oa", "/cgi-bin/tags/get"))];

    println!(
        "— 08:59 the office opens: three requests at once need a token (one fetch serves all)"
    );
    run(
        &mut engine,
        &mut platform,
        &mut now,
        vec![
            ("user info A", user()),
            ("user info B", user()),
            ("tags", Call::get("oa", "/cgi-bin/tags/get")),
        ],
    );

    now += 1_800_000;
    println!(
        "\n— 09:29 the platform invalidates the token early; the next call recovers by itself"
    );
    platform.invalidate();
    run(
        &mut engine,
        &mut platform,
        &mut now,
        vec![("user info", user())],
    );

    now += 600_000;
    println!("\n— 09:39 api.weixin.qq.com stops answering: calls move to api2, the circuit opens");
    platform.primary_down = true;
    run(
        &mut engine,
        &mut platform,
        &mut now,
        vec![("user info", user())],
    );
    run(
        &mut engine,
        &mut platform,
        &mut now,
        vec![("user info", user())],
    );
    run(&mut engine, &mut platform, &mut now, tags());

    now += 120_000;
    println!("\n— after the cool-down the primary is probed again");
    platform.primary_down = false;
    run(&mut engine, &mut platform, &mut now, tags());

    println!(
        "\n— tags/get nears its daily quota (5 in this demo); the sixth call is refused locally"
    );
    run(&mut engine, &mut platform, &mut now, tags());
    run(&mut engine, &mut platform, &mut now, tags());

    println!(
        "\n— mass sends until the platform says 45009; the engine stops sending until midnight"
    );
    for _ in 0..5 {
        let body = br#"{"filter":{"is_to_all":true},"text":{"content":"hello"},"msgtype":"text"}"#
            .to_vec();
        run(
            &mut engine,
            &mut platform,
            &mut now,
            vec![(
                "mass send",
                Call::post_json("oa", "/cgi-bin/message/mass/sendall", body),
            )],
        );
    }

    println!("\n— a risky call needs the administrator: reported once, never resent");
    run(
        &mut engine,
        &mut platform,
        &mut now,
        vec![(
            "menu create",
            Call::post_json("oa", "/cgi-bin/menu/create", b"{\"button\":[]}".to_vec()).idempotent(),
        )],
    );

    println!("\n— a media download returns bytes, not JSON");
    run(
        &mut engine,
        &mut platform,
        &mut now,
        vec![(
            "media",
            Call::get("oa", "/cgi-bin/media/get").query("media_id", "M1"),
        )],
    );

    println!("\n— the process restarts: token and counters survive");
    let state = engine.export_state();
    let config = Config::from_json(r#"{"apps":[{"id":"oa","platform":"wechat-oa","app_id":"wx5823bf96d3bd56c7","secret":"demo-secret"}],"quota":{"limits":{"/cgi-bin/tags/get":5}}}"#).unwrap();
    engine = Engine::restore(config, &state, now).expect("restore");
    run(
        &mut engine,
        &mut platform,
        &mut now,
        vec![
            ("user info", user()),
            ("tags", Call::get("oa", "/cgi-bin/tags/get")),
        ],
    );

    println!("\n— the platform's side of the day");
    println!("  token fetches: {}", platform.fetches);
    let mut calls: Vec<_> = platform
        .calls
        .iter()
        .filter(|(p, _)| !p.contains("token"))
        .collect();
    calls.sort();
    for (path, n) in calls {
        println!("  {path}: {n} requests");
    }
}
