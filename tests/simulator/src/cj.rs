//! CJ-style API: `{code, message}` envelope, token in the query, classic
//! rotation with overlap like the Official Account's.

use serde_json::json;

use crate::gate::{self, call, limits, reject, Auth, Fail, Kind};
use crate::http::{Reply, Req};
use crate::state::{bump, now_ms, Cred, Platform, Sim};

const P: Platform = Platform::Cj;

pub fn handle(sim: &Sim, req: &Req) -> Reply {
    match req.path.as_str() {
        "/cj/token" => token(sim, req),
        path if path.starts_with("/cj/api/") => call(
            sim,
            req,
            P,
            None,
            Auth::Token(req.q("access_token")),
            Kind::Business,
            |_, app| {
                Ok(Reply::ok(json!({
                    "code": 0,
                    "message": "ok",
                    "data": {"path": req.path, "appid": app},
                })))
            },
        ),
        path => gate::not_found(path),
    }
}

fn token(sim: &Sim, req: &Req) -> Reply {
    let mut st = sim.lock();
    let now = now_ms();
    let Some(appid) = req.q("appid") else {
        return reject(&mut st, P, None, Fail::new(41002, "appid missing"));
    };
    bump(&mut st.counters.token_fetches, appid);
    let app = match st.check_secret(appid, req.q("secret").unwrap_or(""), false) {
        Cred::Ok(app) => app,
        Cred::Missing => {
            return reject(&mut st, P, Some(appid), Fail::new(41004, "secret missing"))
        }
        Cred::Wrong => {
            return reject(
                &mut st,
                P,
                Some(appid),
                Fail::new(40013, "invalid appid or secret"),
            )
        }
    };
    if let Err(f) = limits(&mut st, P, &app, &req.path, now) {
        return reject(&mut st, P, Some(&app), f);
    }
    if let Some(prev) = st.app(&app).cj.clone() {
        if st.token_expired(&prev, now) {
            bump(&mut st.counters.renewals, &app);
        }
        let until = now + st.config.overlap_s * 1000;
        st.cap_token(&prev, until);
    }
    let token = st.issue_token(P, &app, "cj_", now);
    st.app(&app).cj = Some(token.clone());
    Reply::ok(json!({"access_token": token, "expires_in": st.config.token_ttl_s}))
}
