//! WeCom endpoints (same host as the Official Account, same envelope, its
//! own token rules: one token per app secret, reused while valid).

use serde_json::json;

use crate::gate::{self, call, limits, oa_msg, reject, Auth, Fail, Kind};
use crate::http::{Reply, Req};
use crate::state::{bump, now_ms, Cred, Platform, Sim};

const P: Platform = Platform::WeCom;

pub fn handle(sim: &Sim, req: &Req) -> Reply {
    let token = || Auth::Token(req.q("access_token"));
    match req.path.as_str() {
        "/cgi-bin/gettoken" => gettoken(sim, req),
        "/cgi-bin/message/send" => {
            call(sim, req, P, Some(true), token(), Kind::Business, |st, _| {
                if req.body_is_blank() {
                    return Err(Fail::new(44002, oa_msg(44002)));
                }
                let msgid = st.mint("");
                Ok(Reply::ok(
                    json!({"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": msgid}),
                ))
            })
        }
        "/cgi-bin/user/get" => {
            call(
                sim,
                req,
                P,
                Some(false),
                token(),
                Kind::Business,
                |_, _| match req.q("userid") {
                    Some(userid) if userid != "nobody" => Ok(Reply::ok(json!({
                        "errcode": 0,
                        "errmsg": "ok",
                        "userid": userid,
                        "name": format!("Sim {userid}"),
                        "department": [1],
                    }))),
                    _ => Err(Fail::new(60111, "userid not found")),
                },
            )
        }
        path => gate::not_found(path),
    }
}

/// Whether a request to a path both platforms serve belongs to WeCom: the
/// token says so, or, for a token nobody knows, a WeCom-only parameter.
pub fn owns(sim: &Sim, req: &Req) -> bool {
    match req
        .q("access_token")
        .and_then(|t| sim.lock().token_platform(t))
    {
        Some(p) => p == P,
        None => req.path == "/cgi-bin/user/get" && req.q("userid").is_some(),
    }
}

fn gettoken(sim: &Sim, req: &Req) -> Reply {
    let mut st = sim.lock();
    let now = now_ms();
    let corpid = req.q("corpid").unwrap_or("");
    if corpid.is_empty() {
        return reject(&mut st, P, None, Fail::new(41002, "corpid missing"));
    }
    let app = match st.check_secret(corpid, req.q("corpsecret").unwrap_or(""), true) {
        Cred::Ok(app) => app,
        Cred::Missing => {
            bump(&mut st.counters.token_fetches, corpid);
            return reject(
                &mut st,
                P,
                Some(corpid),
                Fail::new(41004, "corpsecret missing"),
            );
        }
        Cred::Wrong => {
            bump(&mut st.counters.token_fetches, corpid);
            return reject(
                &mut st,
                P,
                Some(corpid),
                Fail::new(40001, "invalid credential"),
            );
        }
    };
    bump(&mut st.counters.token_fetches, &app);
    if let Err(f) = limits(&mut st, P, &app, &req.path, now) {
        return reject(&mut st, P, Some(&app), f);
    }
    let previous = st.app(&app).wecom.clone();
    let current = previous.clone().filter(|t| st.token_valid(t, now));
    let (token, expires_in) = match current {
        Some(t) => {
            let left = st.token_left_s(&t, now);
            (t, left)
        }
        None => {
            if previous.is_some() {
                bump(&mut st.counters.renewals, &app);
            }
            let t = st.issue_token(P, &app, "wc_", now);
            st.app(&app).wecom = Some(t.clone());
            (t, st.config.token_ttl_s)
        }
    };
    Reply::ok(
        json!({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": expires_in}),
    )
}
