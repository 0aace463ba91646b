//! End-to-end checks of the built `wxsim` binary over plain HTTP/1.1, one
//! simulator process per test so tests share no state.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Sim {
    child: Child,
    stdin: Option<ChildStdin>,
    primary: String,
    dr: String,
    control: String,
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn hostport(url: &str) -> String {
    url.trim_start_matches("http://").to_string()
}

fn request(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Resp {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

impl Sim {
    fn start() -> Sim {
        Sim::start_with(&[])
    }

    fn start_with(args: &[&str]) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wxsim"))
            .arg("--watch-stdin")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn wxsim");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: Value = serde_json::from_str(&line).expect("address line is JSON");
        let get = |k: &str| hostport(v[k].as_str().expect("address"));
        Sim {
            stdin: child.stdin.take(),
            primary: get("primary"),
            dr: get("dr"),
            control: get("control"),
            child,
        }
    }

    fn get(&self, target: &str) -> Resp {
        request(&self.primary, "GET", target, &[], b"").unwrap()
    }

    fn post(&self, target: &str, body: Value) -> Resp {
        let body = body.to_string();
        request(
            &self.primary,
            "POST",
            target,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .unwrap()
    }

    fn ctl(&self, path: &str, body: Value) -> Value {
        let body = body.to_string();
        let r = request(
            &self.control,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!(
            r.status,
            200,
            "{path} {body}: {}",
            String::from_utf8_lossy(&r.body)
        );
        r.json()
    }

    fn counters(&self) -> Value {
        request(&self.control, "GET", "/counters", &[], b"")
            .unwrap()
            .json()
    }

    fn oa_token(&self, app: &str) -> String {
        let v = self
            .get(&format!(
                "/cgi-bin/token?grant_type=client_credential&appid={app}&secret=s"
            ))
            .json();
        v["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_string()
    }

    fn stable(&self, app: &str, force: bool) -> Value {
        self.post(
            "/cgi-bin/stable_token",
            json!({"grant_type": "client_credential", "appid": app, "secret": "s", "force_refresh": force}),
        )
        .json()
    }

    fn user_info(&self, token: &str) -> Value {
        self.get(&format!(
            "/cgi-bin/user/info?access_token={token}&openid=o1"
        ))
        .json()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn errcode(v: &Value) -> i64 {
    v["errcode"].as_i64().unwrap_or(0)
}

#[test]
fn oa_classic_rotation_overlap_and_expiry() {
    let sim = Sim::start();
    let t1 = sim.oa_token("wx1");
    let t2 = sim.oa_token("wx1");
    assert_ne!(t1, t2);
    assert!(t1.len() >= 32);
    assert_eq!(
        sim.user_info(&t1)["subscribe"],
        1,
        "previous token works during the overlap"
    );
    assert_eq!(errcode(&sim.user_info(&t2)), 0);

    sim.ctl("/config", json!({"overlap_s": 1, "token_ttl_s": 2}));
    let t3 = sim.oa_token("wx1");
    assert_eq!(errcode(&sim.user_info(&t2)), 0);
    sleep(Duration::from_millis(1100));
    assert_eq!(
        errcode(&sim.user_info(&t2)),
        40001,
        "past the overlap the old token is not the latest"
    );
    assert_eq!(errcode(&sim.user_info(&t3)), 0);
    sleep(Duration::from_millis(1000));
    assert_eq!(
        errcode(&sim.user_info(&t3)),
        42001,
        "past its life the token has expired"
    );

    assert_eq!(errcode(&sim.user_info("nonsense")), 40001);
    assert_eq!(
        errcode(&sim.get("/cgi-bin/user/info?openid=o1").json()),
        41001
    );
    let c = sim.counters();
    assert_eq!(c["token_fetches"]["wx1"], 3);
    assert_eq!(c["tokens_issued"]["wx1"], 3);
}

#[test]
fn oa_token_errors_and_registered_secret() {
    let sim = Sim::start();
    sim.ctl("/apps", json!({"app_id": "wxreg", "secret": "right"}));
    let bad = sim
        .get("/cgi-bin/token?grant_type=client_credential&appid=wxreg&secret=wrong")
        .json();
    assert_eq!(errcode(&bad), 40125);
    let good = sim
        .get("/cgi-bin/token?grant_type=client_credential&appid=wxreg&secret=right")
        .json();
    assert_eq!(good["expires_in"], 7200);
    assert_eq!(
        errcode(
            &sim.get("/cgi-bin/token?grant_type=client_credential&appid=wxany")
                .json()
        ),
        41004
    );
    assert_eq!(
        errcode(
            &sim.get("/cgi-bin/token?grant_type=x&appid=a&secret=b")
                .json()
        ),
        40002
    );
    let token = good["access_token"].as_str().unwrap();
    assert_eq!(
        errcode(
            &sim.get(&format!(
                "/cgi-bin/message/custom/send?access_token={token}"
            ))
            .json()
        ),
        43002
    );
    let empty = request(
        &sim.primary,
        "POST",
        &format!("/cgi-bin/message/custom/send?access_token={token}"),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(errcode(&empty.json()), 44002);
    assert_eq!(
        errcode(
            &sim.post(
                &format!("/cgi-bin/message/custom/send?access_token={token}"),
                json!({"touser": "o1"})
            )
            .json()
        ),
        0
    );
}

#[test]
fn oa_stable_token() {
    let sim = Sim::start();
    let s1 = sim.stable("wx1", false);
    let s2 = sim.stable("wx1", false);
    assert_eq!(s1["access_token"], s2["access_token"], "same while valid");
    let old = s1["access_token"].as_str().unwrap().to_string();

    let f1 = sim.stable("wx1", true);
    assert_ne!(f1["access_token"], s1["access_token"]);
    assert_eq!(
        errcode(&sim.user_info(&old)),
        40001,
        "a forced refresh voids the old token"
    );
    let f2 = sim.stable("wx1", true);
    assert_eq!(
        f1["access_token"], f2["access_token"],
        "no second forced refresh within 30 s"
    );

    // Renewal shortly before expiry: a new token, the old one still works.
    sim.ctl("/config", json!({"token_ttl_s": 10, "stable_renew_s": 9}));
    let a = sim.stable("wx2", false)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(sim.stable("wx2", false)["access_token"], a.as_str());
    sleep(Duration::from_millis(1100));
    let b = sim.stable("wx2", false)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(a, b);
    assert_eq!(errcode(&sim.user_info(&a)), 0);
    assert_eq!(errcode(&sim.user_info(&b)), 0);
    let c = sim.counters();
    assert_eq!(
        c["renewals"],
        json!({"wx2": 1}),
        "only the renewal counts, not the first fetch nor the forced one"
    );
}

#[test]
fn token_latency_delays_only_token_endpoints() {
    let sim = Sim::start();
    sim.ctl("/config", json!({"token_latency_ms": 300}));
    let t0 = Instant::now();
    let t = sim.oa_token("wx1");
    assert!(t0.elapsed() >= Duration::from_millis(300));
    let t1 = Instant::now();
    assert_eq!(errcode(&sim.user_info(&t)), 0);
    assert!(t1.elapsed() < Duration::from_millis(300));
}

#[test]
fn expired_token_fetch_counts_a_renewal() {
    let sim = Sim::start_with(&["--token-ttl-s", "1"]);
    let a = sim.get("/cgi-bin/gettoken?corpid=ww1&corpsecret=s").json();
    sleep(Duration::from_millis(1100));
    let b = sim.get("/cgi-bin/gettoken?corpid=ww1&corpsecret=s").json();
    assert_ne!(a["access_token"], b["access_token"]);
    sim.ctl("/fault", json!({"kind": "invalidate", "app": "ww1"}));
    let c = sim.get("/cgi-bin/gettoken?corpid=ww1&corpsecret=s").json();
    assert_ne!(b["access_token"], c["access_token"]);
    assert_eq!(
        sim.counters()["renewals"],
        json!({"ww1": 1}),
        "a fetch after invalidation is no renewal"
    );
}

#[test]
fn oa_ticket_same_while_valid() {
    let sim = Sim::start();
    let t = sim.oa_token("wx1");
    let a = sim
        .get(&format!(
            "/cgi-bin/ticket/getticket?access_token={t}&type=jsapi"
        ))
        .json();
    let b = sim
        .get(&format!(
            "/cgi-bin/ticket/getticket?access_token={t}&type=jsapi"
        ))
        .json();
    assert_eq!(errcode(&a), 0);
    assert_eq!(a["ticket"], b["ticket"]);
    assert_eq!(sim.counters()["ticket_fetches"]["wx1"], 2);
}

#[test]
fn errcode_burst_and_malformed() {
    let sim = Sim::start();
    let t = sim.oa_token("wx1");
    sim.ctl(
        "/fault",
        json!({"kind": "errcode", "code": -1, "count": 3, "path": "/cgi-bin/user/info"}),
    );
    assert_eq!(
        errcode(
            &sim.get(&format!("/cgi-bin/menu/delete?access_token={t}"))
                .json()
        ),
        0,
        "other paths untouched"
    );
    for _ in 0..3 {
        let v = sim.user_info(&t);
        assert_eq!(errcode(&v), -1);
        assert_eq!(v["errmsg"], "system error");
    }
    assert_eq!(errcode(&sim.user_info(&t)), 0);
    assert_eq!(sim.counters()["rejected"]["wx1"]["-1"], 3);

    sim.ctl(
        "/fault",
        json!({"kind": "malformed", "count": 1, "status": 502}),
    );
    let r = sim.get(&format!("/cgi-bin/user/info?access_token={t}&openid=o1"));
    assert_eq!(r.status, 502);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert_eq!(errcode(&sim.user_info(&t)), 0);

    sim.ctl(
        "/fault",
        json!({"kind": "errcode", "code": 45009, "count": 5}),
    );
    sim.ctl("/fault", json!({"kind": "clear"}));
    assert_eq!(errcode(&sim.user_info(&t)), 0);
    assert_eq!(
        sim.oa_token("wx1").len(),
        t.len(),
        "token endpoints are never faulted"
    );
}

#[test]
fn daily_limit_and_clear_quota() {
    let sim = Sim::start();
    let t = sim.oa_token("wx1");
    sim.ctl(
        "/config",
        json!({"daily_limits": {"/cgi-bin/user/info": 2}}),
    );
    assert_eq!(errcode(&sim.user_info(&t)), 0);
    assert_eq!(errcode(&sim.user_info(&t)), 0);
    let v = sim.user_info(&t);
    assert_eq!(errcode(&v), 45009);
    assert_eq!(v["errmsg"], "reach max api daily quota limit");
    let cleared = sim.post(
        &format!("/cgi-bin/clear_quota?access_token={t}"),
        json!({"appid": "wx1"}),
    );
    assert_eq!(errcode(&cleared.json()), 0);
    assert_eq!(errcode(&sim.user_info(&t)), 0);

    sim.ctl(
        "/config",
        json!({"minute_limits": {"/cgi-bin/tags/get": 1}}),
    );
    assert_eq!(
        errcode(
            &sim.get(&format!("/cgi-bin/tags/get?access_token={t}"))
                .json()
        ),
        0
    );
    assert_eq!(
        errcode(
            &sim.get(&format!("/cgi-bin/tags/get?access_token={t}"))
                .json()
        ),
        45011
    );
    let c = sim.counters();
    assert_eq!(c["rejected"]["wx1"]["45009"], 1);
    assert_eq!(c["calls"]["wx1"]["/cgi-bin/user/info"], 4);
}

#[test]
fn invalidate_then_fresh_token() {
    let sim = Sim::start();
    let t = sim.oa_token("wx1");
    let s = sim.stable("wx1", false)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    sim.ctl("/fault", json!({"kind": "invalidate", "app": "wx1"}));
    assert_eq!(errcode(&sim.user_info(&t)), 40001);
    assert_eq!(errcode(&sim.user_info(&s)), 40001);
    let s2 = sim.stable("wx1", false)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(s, s2);
    assert_eq!(errcode(&sim.user_info(&s2)), 0);
}

#[test]
fn host_down_stall_up_and_dr_shares_state() {
    let sim = Sim::start();
    let t = sim.oa_token("wx1");
    let on_dr = request(
        &sim.dr,
        "GET",
        &format!("/cgi-bin/user/info?access_token={t}&openid=o1"),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(
        errcode(&on_dr.json()),
        0,
        "a token from primary works on dr"
    );

    sim.ctl(
        "/fault",
        json!({"kind": "host", "host": "primary", "mode": "down"}),
    );
    let err = TcpStream::connect(&sim.primary).expect_err("primary is down");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    assert_eq!(sim.counters()["requests"]["primary"], 1, "control stays up");

    sim.ctl(
        "/fault",
        json!({"kind": "host", "host": "primary", "mode": "stall"}),
    );
    let mut s = TcpStream::connect(&sim.primary).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s.write_all(b"GET /cgi-bin/user/info HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 64];
    let e = s.read(&mut buf).expect_err("a stalled host never answers");
    assert!(matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ));

    sim.ctl(
        "/fault",
        json!({"kind": "host", "host": "primary", "mode": "up"}),
    );
    assert_eq!(errcode(&sim.user_info(&t)), 0);
    let c = sim.counters();
    assert_eq!(c["requests"]["dr"], 1);
    assert_eq!(c["requests"]["primary"], 3);
}

#[test]
fn counters_shape_and_reset() {
    let sim = Sim::start();
    let empty = sim.counters();
    for k in [
        "token_fetches",
        "tokens_issued",
        "renewals",
        "ticket_fetches",
        "calls",
        "rejected",
    ] {
        assert_eq!(empty[k], json!({}), "{k}");
    }
    assert_eq!(empty["requests"], json!({"primary": 0, "dr": 0}));
    let t = sim.oa_token("wx1");
    sim.user_info(&t);
    let c = sim.counters();
    assert_eq!(c["token_fetches"], json!({"wx1": 1}));
    assert_eq!(c["tokens_issued"], json!({"wx1": 1}));
    assert_eq!(c["calls"], json!({"wx1": {"/cgi-bin/user/info": 1}}));
    assert_eq!(c["requests"]["primary"], 2);
    sim.ctl("/reset", json!({}));
    assert_eq!(sim.counters(), empty);
    assert_eq!(errcode(&sim.user_info(&t)), 40001, "reset forgets tokens");
    let bad = request(&sim.control, "POST", "/config", &[], b"{\"nope\":1}").unwrap();
    assert_eq!(bad.status, 400);
}

#[test]
fn media_upload_then_get() {
    let sim = Sim::start();
    let t = sim.oa_token("wx1");
    let data: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let mut body = Vec::new();
    body.extend_from_slice(b"--BOUNDARY42\r\nContent-Disposition: form-data; name=\"media\"; filename=\"pic.png\"\r\nContent-Type: image/png\r\n\r\n");
    body.extend_from_slice(&data);
    body.extend_from_slice(b"\r\n--BOUNDARY42--\r\n");
    let up = request(
        &sim.primary,
        "POST",
        &format!("/cgi-bin/media/upload?access_token={t}&type=image"),
        &[("Content-Type", "multipart/form-data; boundary=BOUNDARY42")],
        &body,
    )
    .unwrap()
    .json();
    assert_eq!(up["type"], "image");
    assert!(up["created_at"].is_u64());
    let id = up["media_id"].as_str().unwrap();
    let got = sim.get(&format!(
        "/cgi-bin/media/get?access_token={t}&media_id={id}"
    ));
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some("image/png"));
    assert_eq!(
        got.header("content-disposition"),
        Some("attachment; filename=\"pic.png\"")
    );
    assert_eq!(got.body, data);
    assert_eq!(
        errcode(
            &sim.get(&format!(
                "/cgi-bin/media/get?access_token={t}&media_id=nope"
            ))
            .json()
        ),
        40007
    );
}

#[test]
fn oa_menu_tags_users() {
    let sim = Sim::start();
    let t = sim.oa_token("wx1");
    assert_eq!(
        errcode(
            &sim.get(&format!("/cgi-bin/menu/get?access_token={t}"))
                .json()
        ),
        46003
    );
    let menu = json!({"button": [{"type": "click", "name": "A", "key": "a"}]});
    assert_eq!(
        errcode(
            &sim.post(
                &format!("/cgi-bin/menu/create?access_token={t}"),
                menu.clone()
            )
            .json()
        ),
        0
    );
    assert_eq!(
        sim.get(&format!("/cgi-bin/menu/get?access_token={t}"))
            .json()["menu"],
        menu
    );
    let tag = sim
        .post(
            &format!("/cgi-bin/tags/create?access_token={t}"),
            json!({"tag": {"name": "vip"}}),
        )
        .json();
    assert_eq!(tag["tag"], json!({"id": 100, "name": "vip"}));
    let tags = sim
        .get(&format!("/cgi-bin/tags/get?access_token={t}"))
        .json();
    assert_eq!(
        tags["tags"],
        json!([{"id": 100, "name": "vip", "count": 0}])
    );

    let mut next = String::new();
    let mut pages = 0;
    let mut seen = 0;
    loop {
        let v = sim
            .get(&format!(
                "/cgi-bin/user/get?access_token={t}&next_openid={next}"
            ))
            .json();
        pages += 1;
        seen += v["count"].as_u64().unwrap();
        assert_eq!(
            v["data"]["openid"].as_array().unwrap().len() as u64,
            v["count"].as_u64().unwrap()
        );
        next = v["next_openid"].as_str().unwrap().to_string();
        if next.is_empty() {
            break;
        }
    }
    assert_eq!((pages, seen), (3, 25));
}

#[test]
fn wecom_same_token_users_and_concurrency() {
    let sim = Sim::start();
    sim.ctl(
        "/apps",
        json!({"app_id": "ww1", "secret": "sec", "agent_id": 1000002}),
    );
    let bad = sim
        .get("/cgi-bin/gettoken?corpid=ww1&corpsecret=nope")
        .json();
    assert_eq!(errcode(&bad), 40001);
    let a = sim
        .get("/cgi-bin/gettoken?corpid=ww1&corpsecret=sec")
        .json();
    let b = sim
        .get("/cgi-bin/gettoken?corpid=ww1&corpsecret=sec")
        .json();
    assert_eq!(errcode(&a), 0);
    assert_eq!(a["access_token"], b["access_token"]);
    let t = a["access_token"].as_str().unwrap().to_string();
    let u = sim
        .get(&format!(
            "/cgi-bin/user/get?access_token={t}&userid=zhangsan"
        ))
        .json();
    assert_eq!(u["userid"], "zhangsan");
    assert_eq!(u["department"], json!([1]));
    assert_eq!(
        errcode(
            &sim.get(&format!("/cgi-bin/user/get?access_token={t}&userid=nobody"))
                .json()
        ),
        60111
    );
    assert_eq!(
        errcode(
            &sim.get("/cgi-bin/user/get?access_token=junk&userid=x")
                .json()
        ),
        40014
    );
    let sent = sim
        .post(
            &format!("/cgi-bin/message/send?access_token={t}"),
            json!({"touser": "@all"}),
        )
        .json();
    assert_eq!(sent["invaliduser"], "");
    assert!(sent["msgid"].is_string());

    sim.ctl(
        "/config",
        json!({"latency_ms": 400, "concurrency_limit": 2}),
    );
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let addr = sim.primary.clone();
            let t = t.clone();
            std::thread::spawn(move || {
                let r = request(
                    &addr,
                    "GET",
                    &format!("/cgi-bin/user/get?access_token={t}&userid=u"),
                    &[],
                    b"",
                )
                .unwrap();
                errcode(&r.json())
            })
        })
        .collect();
    let mut codes: Vec<i64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    codes.sort();
    assert_eq!(codes, vec![0, 0, 45033, 45033]);
    let c = sim.counters();
    assert_eq!(c["rejected"]["ww1/1000002"]["45033"], 2);
    assert_eq!(c["token_fetches"]["ww1/1000002"], 2);
}

#[test]
fn jing_token_refresh_and_header_auth() {
    let sim = Sim::start();
    let v = sim
        .post("/jing/token", json!({"app_id": "j1", "secret": "s"}))
        .json();
    assert_eq!(v["code"], 0);
    let a1 = v["data"]["access_token"].as_str().unwrap().to_string();
    let r1 = v["data"]["refresh_token"].as_str().unwrap().to_string();
    let api = |token: &str| {
        request(
            &sim.primary,
            "POST",
            "/jing/api/order/list",
            &[("access-token", token)],
            b"{}",
        )
        .unwrap()
        .json()
    };
    let ok = api(&a1);
    assert_eq!(
        ok["data"],
        json!({"path": "/jing/api/order/list", "app_id": "j1"})
    );
    let bad = api("junk");
    assert_eq!(bad["code"], 20001);
    assert_eq!(bad["sub_msg"], "无效的访问令牌");
    let missing = sim.get("/jing/api/x").json();
    assert_eq!(missing["code"], 20001);

    let v2 = sim
        .post(
            "/jing/refresh",
            json!({"app_id": "j1", "refresh_token": r1}),
        )
        .json();
    let a2 = v2["data"]["access_token"].as_str().unwrap().to_string();
    assert_ne!(a1, a2);
    assert_eq!(
        api(&a1)["code"],
        0,
        "old access token stays valid until expiry"
    );
    assert_eq!(api(&a2)["code"], 0);
    let again = sim
        .post(
            "/jing/refresh",
            json!({"app_id": "j1", "refresh_token": r1}),
        )
        .json();
    assert_eq!(again["code"], 20001);

    sim.ctl(
        "/config",
        json!({"minute_limits": {"/jing/api/order/list": 0}}),
    );
    let limited = api(&a2);
    assert_eq!(limited["code"], 20002);
    assert_eq!(limited["sub_msg"], "超出每分钟请求数量限制");
    assert_eq!(sim.counters()["token_fetches"]["j1"], 3);
}

#[test]
fn jing_expired_token() {
    let sim = Sim::start_with(&["--token-ttl-s", "1"]);
    let v = sim
        .post("/jing/token", json!({"app_id": "j1", "secret": "s"}))
        .json();
    assert_eq!(v["data"]["expires_in"], 1);
    let t = v["data"]["access_token"].as_str().unwrap();
    sleep(Duration::from_millis(1100));
    let r = request(
        &sim.primary,
        "GET",
        "/jing/api/x",
        &[("access-token", t)],
        b"",
    )
    .unwrap()
    .json();
    assert_eq!(r["sub_msg"], "访问令牌已过期");
}

#[test]
fn cj_and_result_style() {
    let sim = Sim::start();
    let v = sim.get("/cj/token?appid=c1&secret=s").json();
    let t = v["access_token"].as_str().unwrap().to_string();
    assert_eq!(v["expires_in"], 7200);
    let ok = sim.get(&format!("/cj/api/things?access_token={t}")).json();
    assert_eq!(
        ok,
        json!({"code": 0, "message": "ok", "data": {"path": "/cj/api/things", "appid": "c1"}})
    );
    assert_eq!(
        sim.get("/cj/api/things?access_token=junk").json()["code"],
        40014
    );
    sim.ctl("/apps", json!({"app_id": "c2", "secret": "right"}));
    assert_eq!(
        sim.get("/cj/token?appid=c2&secret=wrong").json()["code"],
        40013
    );
    sim.ctl(
        "/fault",
        json!({"kind": "errcode", "code": 50001, "path": "/cj/api/things"}),
    );
    assert_eq!(
        sim.get(&format!("/cj/api/things?access_token={t}")).json()["code"],
        50001
    );

    let r = sim.get("/result/report?token_id=k&account_key=acc");
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["result"], "success");
    assert_eq!(
        v["data"],
        json!({"path": "/result/report", "account_key": "acc"})
    );
    let r = sim.get("/result/report?account_key=acc");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["errorCode"], "invalid_api_key");
    sim.ctl("/config", json!({"minute_limits": {"/result/report": 0}}));
    let r = sim.get("/result/report?token_id=k&account_key=acc");
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["errorCode"], "request_too_fast");
    sim.ctl(
        "/fault",
        json!({"kind": "errcode", "code": "server_busy", "path": "/result/other"}),
    );
    let r = sim.get("/result/other?token_id=k&account_key=acc");
    assert_eq!(
        (r.status, r.json()["errorCode"].clone()),
        (500, json!("server_busy"))
    );
    let c = sim.counters();
    assert_eq!(
        c["rejected"]["acc"],
        json!({"invalid_api_key": 1, "request_too_fast": 1, "server_busy": 1})
    );
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "wxsim did not exit");
        sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_exits_zero() {
    let mut sim = Sim::start();
    let pid = sim.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    assert_eq!(wait_exit(&mut sim.child).code(), Some(0));
}

#[test]
fn stdin_eof_exits_zero() {
    let mut sim = Sim::start();
    drop(sim.stdin.take());
    assert_eq!(wait_exit(&mut sim.child).code(), Some(0));
}
