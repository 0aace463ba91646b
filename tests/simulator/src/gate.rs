//! The checks every business call passes, in the platforms' order: token,
//! daily quota, minute limit, concurrency, injected faults. Each platform
//! words the same failure in its own envelope.

use serde_json::{json, Value};

use crate::http::Reply;
use crate::state::{bump2, now_ms, FaultKind, Platform, Sim, State, TokenStatus};

/// Rejected answers of a token nobody can attribute are counted here.
pub const UNKNOWN_APP: &str = "unknown";

pub struct Fail {
    /// Only the result-style platform answers errors with an HTTP status.
    pub status: u16,
    pub code: Value,
    pub msg: String,
    pub sub_msg: Option<String>,
}

impl Fail {
    pub fn new(code: i64, msg: &str) -> Fail {
        Fail {
            status: 200,
            code: json!(code),
            msg: msg.to_string(),
            sub_msg: None,
        }
    }

    pub fn jing(code: i64, sub_msg: &str) -> Fail {
        Fail {
            sub_msg: Some(sub_msg.to_string()),
            ..Fail::new(code, jing_msg(code))
        }
    }

    pub fn result(status: u16, code: &str, desp: &str) -> Fail {
        Fail {
            status,
            code: json!(code),
            msg: desp.to_string(),
            sub_msg: None,
        }
    }

    pub fn key(&self) -> String {
        match &self.code {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        }
    }
}

pub fn render(platform: Platform, f: &Fail) -> Reply {
    match platform {
        Platform::Oa | Platform::WeCom | Platform::Component | Platform::Suite => {
            Reply::ok(json!({"errcode": f.code, "errmsg": f.msg}))
        }
        Platform::Jing => Reply::ok(json!({
            "code": f.code,
            "msg": f.msg,
            "sub_msg": f.sub_msg.clone().unwrap_or_default(),
        })),
        Platform::Cj => Reply::ok(json!({"code": f.code, "message": f.msg})),
        Platform::Result => Reply::json(
            if f.status == 200 { 500 } else { f.status },
            &json!({
                "result": "error",
                "errorCode": f.key(),
                "desp": f.msg,
                "server_time": now_ms() / 1000,
            }),
        ),
    }
}

/// Counts the rejection against `app` and renders it.
pub fn reject(st: &mut State, platform: Platform, app: Option<&str>, f: Fail) -> Reply {
    bump2(
        &mut st.counters.rejected,
        app.unwrap_or(UNKNOWN_APP),
        &f.key(),
    );
    render(platform, &f)
}

pub fn oa_msg(code: i64) -> &'static str {
    match code {
        -1 => "system error",
        0 => "ok",
        40001 => "invalid credential, access_token is invalid or not latest",
        40002 => "invalid grant_type",
        40003 => "invalid openid",
        40013 => "invalid appid",
        40014 => "invalid access_token",
        40125 => "invalid appsecret",
        40164 => "invalid ip, not in whitelist",
        40243 => "AppSecret is frozen",
        41001 => "access_token missing",
        41002 => "appid missing",
        41004 => "appsecret missing",
        42001 => "access_token expired",
        42007 => "access_token and refresh_token exception",
        43002 => "require POST method",
        44002 => "empty post data",
        45009 => "reach max api daily quota limit",
        45011 => "api minute-quota reach limit  mustslower  retry next minute",
        45033 => "api concurrent out of limit",
        48001 => "api unauthorized",
        50005 => "user not fllow",
        60020 => "not allow to access from your ip",
        61004 => "access clientip is not registered",
        89501 => "this IP is pending confirmation by the administrator",
        89503 => "this call requires confirmation by the administrator",
        89506 => "this IP was refused by the administrator, retry in 24 hours",
        89507 => "this IP was refused by the administrator, retry in 1 hour",
        _ => "injected error",
    }
}

pub fn jing_msg(code: i64) -> &'static str {
    match code {
        0 => "success",
        20000 => "服务不可用",
        20001 => "授权权限不足",
        20002 => "调用频次超限",
        40001 => "缺少必选参数",
        40002 => "非法的参数",
        40004 => "业务处理失败",
        40005 => "调用服务失败",
        40006 => "权限不足",
        _ => "injected error",
    }
}

fn jing_sub_msg(code: i64) -> &'static str {
    match code {
        20000 => "服务暂不可用",
        20001 => "无效的访问令牌",
        20002 => "超出每分钟请求数量限制",
        _ => "",
    }
}

enum TokenProblem {
    Missing,
    Invalid,
    Expired,
}

fn token_fail(platform: Platform, p: TokenProblem) -> Fail {
    match (platform, p) {
        (Platform::Jing, TokenProblem::Expired) => Fail::jing(20001, "访问令牌已过期"),
        (Platform::Jing, _) => Fail::jing(20001, "无效的访问令牌"),
        (Platform::Suite, TokenProblem::Invalid) => Fail::new(40082, "invalid suite_token"),
        (Platform::Suite, TokenProblem::Expired) => Fail::new(42009, "suite_access_token expired"),
        (_, TokenProblem::Missing) => Fail::new(41001, oa_msg(41001)),
        (_, TokenProblem::Expired) => Fail::new(42001, oa_msg(42001)),
        (Platform::Oa | Platform::Component, TokenProblem::Invalid) => {
            Fail::new(40001, oa_msg(40001))
        }
        (_, TokenProblem::Invalid) => Fail::new(40014, oa_msg(40014)),
    }
}

fn daily_fail(platform: Platform) -> Fail {
    match platform {
        Platform::Jing => Fail::jing(20002, "超出当天请求数量限制"),
        Platform::WeCom => Fail::new(45009, "api freq out of limit"),
        Platform::Result => Fail::result(429, "quota_exceeded", "daily request quota exceeded"),
        _ => Fail::new(45009, oa_msg(45009)),
    }
}

fn minute_fail(platform: Platform) -> Fail {
    match platform {
        Platform::Jing => Fail::jing(20002, "超出每分钟请求数量限制"),
        // WeCom has no separate minute code: its frequency limits all say 45009.
        Platform::WeCom => Fail::new(45009, "api freq out of limit"),
        Platform::Result => Fail::result(429, "request_too_fast", "too many requests, slow down"),
        _ => Fail::new(45011, oa_msg(45011)),
    }
}

/// An injected error code in the platform's envelope.
fn injected(
    platform: Platform,
    code: &Value,
    msg: Option<&str>,
    sub: Option<&str>,
    status: Option<u16>,
) -> Fail {
    let num = match code {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    let code = match (platform, num) {
        (Platform::Result, _) => json!(match code {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        }),
        (_, Some(n)) => json!(n),
        _ => code.clone(),
    };
    let n = num.unwrap_or(-1);
    let default_msg = match platform {
        Platform::Jing => jing_msg(n),
        Platform::Result => "injected error",
        _ => oa_msg(n),
    };
    let status = status.unwrap_or(match (platform, code.as_str()) {
        (Platform::Result, Some("invalid_api_key")) => 401,
        (Platform::Result, Some("request_too_fast")) => 429,
        (Platform::Result, _) => 500,
        _ => 200,
    });
    Fail {
        status: if platform == Platform::Result {
            status
        } else {
            200
        },
        code,
        msg: msg.unwrap_or(default_msg).to_string(),
        sub_msg: (platform == Platform::Jing).then(|| sub.unwrap_or(jing_sub_msg(n)).to_string()),
    }
}

pub enum Auth<'a> {
    Token(Option<&'a str>),
    /// Credentials already checked by the handler (result-style).
    Static(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Business,
    /// Counted as a ticket fetch, not a call; hit only by faults naming it.
    Ticket,
}

pub struct Admitted {
    pub app: String,
    pub guard: Option<crate::state::InflightGuard>,
}

impl Admitted {
    pub fn answer(self, mut reply: Reply) -> Reply {
        reply.guard = self.guard;
        reply
    }
}

pub fn admit(
    sim: &Sim,
    st: &mut State,
    platform: Platform,
    path: &str,
    auth: Auth,
    kind: Kind,
) -> Result<Admitted, Reply> {
    let now = now_ms();
    let count = |st: &mut State, app: &str| match kind {
        Kind::Business => bump2(&mut st.counters.calls, app, path),
        Kind::Ticket => crate::state::bump(&mut st.counters.ticket_fetches, app),
    };
    let app = match auth {
        Auth::Static(app) => app,
        Auth::Token(None) => {
            return Err(reject(
                st,
                platform,
                None,
                token_fail(platform, TokenProblem::Missing),
            ))
        }
        Auth::Token(Some(token)) => match st.token_status(token, platform, now) {
            TokenStatus::Valid(app) => app,
            TokenStatus::Invalid(app) => {
                if let Some(app) = &app {
                    count(st, app);
                }
                return Err(reject(
                    st,
                    platform,
                    app.as_deref(),
                    token_fail(platform, TokenProblem::Invalid),
                ));
            }
            TokenStatus::Expired(app) => {
                count(st, &app);
                return Err(reject(
                    st,
                    platform,
                    Some(&app),
                    token_fail(platform, TokenProblem::Expired),
                ));
            }
        },
    };
    count(st, &app);
    limits(st, platform, &app, path, now).map_err(|f| reject(st, platform, Some(&app), f))?;
    let (mut slot, in_flight) = sim.track(&app);
    let peak = st.counters.max_in_flight.entry(app.clone()).or_insert(0);
    *peak = (*peak).max(in_flight);
    if platform == Platform::WeCom {
        let corp = app.split('/').next().unwrap_or(&app);
        match sim.enter(corp, st.config.concurrency_limit) {
            Some(g) => slot.absorb(g),
            None => {
                return Err(reject(
                    st,
                    platform,
                    Some(&app),
                    Fail::new(45033, oa_msg(45033)),
                ));
            }
        }
    }
    let guard = Some(slot);
    match st.take_fault(path, &app, kind == Kind::Business) {
        Some(FaultKind::Errcode {
            code,
            msg,
            sub_msg,
            status,
        }) => {
            let f = injected(platform, &code, msg.as_deref(), sub_msg.as_deref(), status);
            let mut reply = reject(st, platform, Some(&app), f);
            reply.guard = guard;
            Err(reply)
        }
        Some(FaultKind::Malformed { status }) => {
            let mut reply = Reply::html(status);
            reply.guard = guard;
            Err(reply)
        }
        None => Ok(Admitted { app, guard }),
    }
}

/// Daily quota then minute limit; token endpoints pass these too.
pub fn limits(
    st: &mut State,
    platform: Platform,
    app: &str,
    path: &str,
    now: u64,
) -> Result<(), Fail> {
    if !st.take_daily(platform, app, path, now) {
        return Err(daily_fail(platform));
    }
    if !st.take_minute(app, path, now) {
        return Err(minute_fail(platform));
    }
    Ok(())
}

/// The README's one code for a wrong method on every business endpoint.
/// Not counted: no app is known before the token is read.
pub fn wrong_method(platform: Platform, want_post: bool) -> Reply {
    let msg = if want_post {
        "require POST method"
    } else {
        "require GET method"
    };
    render(platform, &Fail::new(43002, msg))
}

/// A whole business call: method, admission, then the endpoint's own work,
/// whose failures are counted and rendered like the gate's.
pub fn call(
    sim: &Sim,
    req: &crate::http::Req,
    platform: Platform,
    want_post: Option<bool>,
    auth: Auth,
    kind: Kind,
    work: impl FnOnce(&mut State, &str) -> Result<Reply, Fail>,
) -> Reply {
    if let Some(post) = want_post {
        let want = if post {
            hyper::Method::POST
        } else {
            hyper::Method::GET
        };
        if req.method != want {
            return wrong_method(platform, post);
        }
    }
    let mut st = sim.lock();
    let adm = match admit(sim, &mut st, platform, &req.path, auth, kind) {
        Ok(adm) => adm,
        Err(reply) => return reply,
    };
    let reply = match work(&mut st, &adm.app) {
        Ok(reply) => reply,
        Err(f) => reject(&mut st, platform, Some(&adm.app), f),
    };
    adm.answer(reply)
}

pub fn not_found(path: &str) -> Reply {
    Reply::json(
        404,
        &json!({"errcode": 404, "errmsg": format!("no such endpoint: {path}")}),
    )
}
