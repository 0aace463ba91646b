//! Jing open platform: POST token endpoints with JSON bodies, a refresh
//! token, and the access token in the `access-token` header.

use hyper::Method;
use serde_json::{json, Value};

use crate::gate::{self, call, limits, reject, Auth, Fail, Kind};
use crate::http::{Reply, Req};
use crate::state::{bump, now_ms, Cred, Platform, RefreshToken, Sim, State};

const P: Platform = Platform::Jing;
const REFRESH_LIFE_MS: u64 = 30 * 86_400 * 1000;

pub fn handle(sim: &Sim, req: &Req) -> Reply {
    match req.path.as_str() {
        "/jing/token" | "/jing/refresh" => token(sim, req),
        path if path.starts_with("/jing/api/") => {
            let token = req.header("access-token").filter(|t| !t.is_empty());
            call(
                sim,
                req,
                P,
                None,
                Auth::Token(token),
                Kind::Business,
                |_, app| {
                    Ok(Reply::ok(json!({
                        "code": 0,
                        "msg": "success",
                        "data": {"path": req.path, "app_id": app},
                    })))
                },
            )
        }
        path => gate::not_found(path),
    }
}

fn token(sim: &Sim, req: &Req) -> Reply {
    let mut st = sim.lock();
    let now = now_ms();
    if req.method != Method::POST {
        return reject(&mut st, P, None, Fail::jing(40002, "请求方法必须为POST"));
    }
    let body = req.json().unwrap_or(Value::Null);
    let s = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let app_id = s("app_id");
    if app_id.is_empty() {
        return reject(&mut st, P, None, Fail::jing(40001, "缺少必选参数 app_id"));
    }
    bump(&mut st.counters.token_fetches, &app_id);
    let refreshing = req.path == "/jing/refresh";
    let checked = if refreshing {
        match st.refresh.get(&s("refresh_token")) {
            Some(r) if r.app == app_id && now < r.expires_ms => Ok(()),
            _ => Err(Fail::jing(20001, "无效的刷新令牌")),
        }
    } else {
        match st.check_secret(&app_id, &s("secret"), false) {
            Cred::Ok(_) => Ok(()),
            Cred::Missing => Err(Fail::jing(40001, "缺少必选参数 secret")),
            Cred::Wrong => Err(Fail::jing(40002, "无效的应用密钥")),
        }
    };
    if let Err(f) = checked.and_then(|_| limits(&mut st, P, &app_id, &req.path, now)) {
        return reject(&mut st, P, Some(&app_id), f);
    }
    if refreshing {
        // Refresh tokens are single use; the old access token simply runs out.
        st.refresh.remove(&s("refresh_token"));
    }
    issue(&mut st, &app_id, now)
}

fn issue(st: &mut State, app: &str, now: u64) -> Reply {
    let access = st.issue_token(P, app, "jg_", now);
    let refresh = st.mint("jr_");
    st.refresh.insert(
        refresh.clone(),
        RefreshToken {
            app: app.to_string(),
            expires_ms: now + REFRESH_LIFE_MS,
        },
    );
    Reply::ok(json!({
        "code": 0,
        "msg": "success",
        "data": {
            "access_token": access,
            "expires_in": st.config.token_ttl_s,
            "refresh_token": refresh,
        },
    }))
}
