//! Result-style API: static credentials in the query, HTTP status on
//! failure, `{result, errorCode, desp}` bodies.

use serde_json::json;

use crate::gate::{call, reject, Auth, Fail, Kind};
use crate::http::{Reply, Req};
use crate::state::{bump2, now_ms, Cred, Platform, Sim};

const P: Platform = Platform::Result;

pub fn handle(sim: &Sim, req: &Req) -> Reply {
    let Some(account) = req.q("account_key") else {
        let mut st = sim.lock();
        return reject(
            &mut st,
            P,
            None,
            Fail::result(400, "missing_account_key", "account_key is required"),
        );
    };
    let cred = sim
        .lock()
        .check_secret(account, req.q("token_id").unwrap_or(""), false);
    if !matches!(cred, Cred::Ok(_)) {
        let mut st = sim.lock();
        bump2(&mut st.counters.calls, account, &req.path);
        let f = Fail::result(
            401,
            "invalid_api_key",
            "invalid token_id for this account_key",
        );
        return reject(&mut st, P, Some(account), f);
    }
    call(
        sim,
        req,
        P,
        None,
        Auth::Static(account.to_string()),
        Kind::Business,
        |_, app| {
            Ok(Reply::ok(json!({
                "result": "success",
                "data": {"path": req.path, "account_key": app},
                "server_time": now_ms() / 1000,
            })))
        },
    )
}
