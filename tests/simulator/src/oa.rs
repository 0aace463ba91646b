//! WeChat Official Account endpoints, and the media endpoints it shares with
//! WeCom.

use hyper::Method;
use serde_json::{json, Value};

use crate::gate::{self, call, limits, oa_msg, reject, Auth, Fail, Kind};
use crate::http::{multipart_part, Reply, Req};
use crate::state::{bump, now_ms, secs_left, shanghai_day, Cred, Media, Platform, Sim, State};

const P: Platform = Platform::Oa;

/// Three pages of `PAGE` openids (the last one short).
const USERS: usize = 25;
const PAGE: usize = 10;

pub fn handle(sim: &Sim, req: &Req) -> Reply {
    let token = || Auth::Token(req.q("access_token"));
    match req.path.as_str() {
        "/cgi-bin/token" => classic_token(sim, req),
        "/cgi-bin/stable_token" => stable_token(sim, req),
        "/cgi-bin/ticket/getticket" => call(
            sim,
            req,
            P,
            Some(false),
            token(),
            Kind::Ticket,
            |st, app| ticket(st, app, req),
        ),
        "/wxa/getuserriskrank" => call(
            sim,
            req,
            P,
            Some(true),
            token(),
            Kind::Business,
            |st, app| match st.secure.get(app).cloned() {
                Some(s) => s.handle(app, req, now_ms() / 1000),
                None => Err(Fail::new(40238, "api security is not set up for this app")),
            },
        ),
        "/cgi-bin/user/info" => call(sim, req, P, Some(false), token(), Kind::Business, |_, _| {
            user_info(req)
        }),
        "/cgi-bin/user/get" => call(sim, req, P, Some(false), token(), Kind::Business, |_, _| {
            user_list(req)
        }),
        "/cgi-bin/message/custom/send" => {
            call(sim, req, P, Some(true), token(), Kind::Business, |_, _| {
                if req.body_is_blank() {
                    return Err(Fail::new(44002, oa_msg(44002)));
                }
                Ok(ok())
            })
        }
        "/cgi-bin/tags/create" => call(
            sim,
            req,
            P,
            Some(true),
            token(),
            Kind::Business,
            |st, app| tag_create(st, app, req),
        ),
        "/cgi-bin/tags/get" => call(
            sim,
            req,
            P,
            Some(false),
            token(),
            Kind::Business,
            |st, app| {
                let tags: Vec<Value> = st
                    .app(app)
                    .tags
                    .iter()
                    .map(|(id, name)| json!({"id": id, "name": name, "count": 0}))
                    .collect();
                Ok(Reply::ok(json!({ "tags": tags })))
            },
        ),
        "/cgi-bin/menu/create" => call(
            sim,
            req,
            P,
            Some(true),
            token(),
            Kind::Business,
            |st, app| {
                if req.body_is_blank() {
                    return Err(Fail::new(44002, oa_msg(44002)));
                }
                match req.json() {
                    Some(menu @ Value::Object(_)) => {
                        st.app(app).menu = Some(menu);
                        Ok(ok())
                    }
                    _ => Err(Fail::new(47001, "data format error")),
                }
            },
        ),
        "/cgi-bin/menu/get" => call(
            sim,
            req,
            P,
            Some(false),
            token(),
            Kind::Business,
            |st, app| match &st.app(app).menu {
                Some(menu) => Ok(Reply::ok(json!({ "menu": menu }))),
                None => Err(Fail::new(46003, "menu no exist")),
            },
        ),
        "/cgi-bin/menu/delete" => call(
            sim,
            req,
            P,
            Some(false),
            token(),
            Kind::Business,
            |st, app| {
                st.app(app).menu = None;
                Ok(ok())
            },
        ),
        "/cgi-bin/media/upload" | "/cgi-bin/media/get" => media(sim, req, P),
        "/cgi-bin/clear_quota" => call(
            sim,
            req,
            P,
            Some(true),
            token(),
            Kind::Business,
            |st, app| {
                let appid = req
                    .json()
                    .and_then(|b| b.get("appid").and_then(Value::as_str).map(str::to_string));
                match appid {
                    None => Err(Fail::new(41002, oa_msg(41002))),
                    Some(id) if id != app => Err(Fail::new(40013, oa_msg(40013))),
                    Some(id) => {
                        st.app(&id).daily.clear();
                        Ok(ok())
                    }
                }
            },
        ),
        path => gate::not_found(path),
    }
}

fn ok() -> Reply {
    Reply::ok(json!({"errcode": 0, "errmsg": "ok"}))
}

fn token_reply(token: &str, expires_in: u64) -> Reply {
    Reply::ok(json!({"access_token": token, "expires_in": expires_in}))
}

/// The credential checks both OA token endpoints share; Ok is the app key.
fn oa_credentials(
    st: &mut State,
    grant_type: Option<&str>,
    appid: &str,
    secret: &str,
) -> Result<String, Fail> {
    if grant_type != Some("client_credential") {
        return Err(Fail::new(40002, oa_msg(40002)));
    }
    if appid.is_empty() {
        return Err(Fail::new(41002, oa_msg(41002)));
    }
    match st.check_secret(appid, secret, false) {
        Cred::Ok(app) => Ok(app),
        Cred::Missing => Err(Fail::new(41004, oa_msg(41004))),
        Cred::Wrong => Err(Fail::new(40125, oa_msg(40125))),
    }
}

/// Every fetch issues a new token; the one it replaces keeps working for
/// `overlap_s`, as the platform promises during a refresh.
fn classic_token(sim: &Sim, req: &Req) -> Reply {
    let mut st = sim.lock();
    let now = now_ms();
    let appid = req.q("appid").unwrap_or("");
    if !appid.is_empty() {
        bump(&mut st.counters.token_fetches, appid);
    }
    let app = match oa_credentials(
        &mut st,
        req.q("grant_type"),
        appid,
        req.q("secret").unwrap_or(""),
    ) {
        Ok(app) => app,
        Err(f) => return reject(&mut st, P, Some(appid).filter(|a| !a.is_empty()), f),
    };
    if let Err(f) = limits(&mut st, P, &app, &req.path, now) {
        return reject(&mut st, P, Some(&app), f);
    }
    if let Some(prev) = st.app(&app).classic.clone() {
        if st.token_expired(&prev, now) {
            bump(&mut st.counters.renewals, &app);
        }
        let until = now + st.config.overlap_s * 1000;
        st.cap_token(&prev, until);
    }
    let token = st.issue_token(P, &app, "oa_", now);
    st.app(&app).classic = Some(token.clone());
    token_reply(&token, st.config.token_ttl_s)
}

fn stable_token(sim: &Sim, req: &Req) -> Reply {
    if req.method != Method::POST {
        return gate::wrong_method(P, true);
    }
    let mut st = sim.lock();
    let now = now_ms();
    if req.body_is_blank() {
        return reject(&mut st, P, None, Fail::new(44002, oa_msg(44002)));
    }
    let Some(body) = req.json() else {
        return reject(&mut st, P, None, Fail::new(47001, "data format error"));
    };
    let s = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let appid = s("appid");
    if !appid.is_empty() {
        bump(&mut st.counters.token_fetches, &appid);
    }
    let grant_type = body.get("grant_type").and_then(Value::as_str);
    let app = match oa_credentials(&mut st, grant_type, &appid, &s("secret")) {
        Ok(app) => app,
        Err(f) => {
            return reject(
                &mut st,
                P,
                Some(&appid).filter(|a| !a.is_empty()).map(|a| a.as_str()),
                f,
            )
        }
    };
    if let Err(f) = limits(&mut st, P, &app, &req.path, now) {
        return reject(&mut st, P, Some(&app), f);
    }
    let force = body
        .get("force_refresh")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let previous = st.app(&app).stable.clone();
    let current = previous.clone().filter(|t| st.token_valid(t, now));
    if force {
        // A forced refresh within 30 s of the previous one does nothing.
        if let (Some(t), Some(last)) = (&current, st.app(&app).last_forced_ms) {
            if now < last + 30_000 {
                let left = st.token_left_s(t, now);
                return token_reply(t, left);
            }
        }
        let today = shanghai_day(now);
        let d = st.app(&app);
        if d.forced_day != today {
            d.forced_day = today;
            d.forced_count = 0;
        }
        if d.forced_count >= 20 {
            return reject(&mut st, P, Some(&app), Fail::new(45009, oa_msg(45009)));
        }
        d.forced_count += 1;
        d.last_forced_ms = Some(now);
        if let Some(t) = &current {
            st.cap_token(t, now);
        }
    } else if let Some(t) = &current {
        let left_ms = st
            .tokens
            .get(t)
            .map_or(0, |t| t.expires_ms.min(t.valid_until_ms) - now);
        if left_ms >= st.config.stable_renew_s * 1000 {
            return token_reply(t, secs_left(now + left_ms, now));
        }
        // Renewal: the old token keeps its own expiry, so both overlap.
    }
    // Invalidation clears `previous`, and a forced refresh either returned
    // above or replaced a valid token: what is left is a predecessor at the
    // end of its life.
    if previous.is_some() && !force {
        bump(&mut st.counters.renewals, &app);
    }
    let token = st.issue_token(P, &app, "st_", now);
    st.app(&app).stable = Some(token.clone());
    token_reply(&token, st.config.token_ttl_s)
}

fn ticket(st: &mut State, app: &str, req: &Req) -> Result<Reply, Fail> {
    let kind = req.q("type").unwrap_or("jsapi");
    if kind != "jsapi" && kind != "wx_card" {
        return Err(Fail::new(40097, "invalid args"));
    }
    let now = now_ms();
    let (ticket, until) = match st.app(app).tickets.get(kind) {
        Some((t, until)) if now < *until => (t.clone(), *until),
        _ => {
            let t = st.mint("tk_");
            let until = now + st.config.token_ttl_s * 1000;
            st.app(app)
                .tickets
                .insert(kind.to_string(), (t.clone(), until));
            (t, until)
        }
    };
    Ok(Reply::ok(json!({
        "errcode": 0,
        "errmsg": "ok",
        "ticket": ticket,
        "expires_in": secs_left(until, now),
    })))
}

fn openid(i: usize) -> String {
    format!("oSimU{i:023}")
}

fn user_info(req: &Req) -> Result<Reply, Fail> {
    let Some(openid) = req.q("openid") else {
        return Err(Fail::new(40003, oa_msg(40003)));
    };
    let tail: String = openid
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Ok(Reply::ok(json!({
        "subscribe": 1,
        "openid": openid,
        "nickname": format!("Sim User {tail}"),
        "sex": 0,
        "language": "zh_CN",
        "city": "",
        "province": "",
        "country": "",
        "headimgurl": "",
        "subscribe_time": 1_700_000_000u64,
        "remark": "",
        "groupid": 0,
        "tagid_list": [],
        "subscribe_scene": "ADD_SCENE_QR_CODE",
        "qr_scene": 0,
        "qr_scene_str": "",
    })))
}

fn user_list(req: &Req) -> Result<Reply, Fail> {
    let start = match req.q("next_openid") {
        None => 0,
        Some(next) => match (0..USERS).find(|i| openid(*i) == next) {
            Some(i) => i + 1,
            None => return Err(Fail::new(40003, oa_msg(40003))),
        },
    };
    let end = (start + PAGE).min(USERS);
    let page: Vec<String> = (start..end).map(openid).collect();
    let next = if end < USERS {
        openid(end - 1)
    } else {
        String::new()
    };
    Ok(Reply::ok(json!({
        "total": USERS,
        "count": page.len(),
        "data": {"openid": page},
        "next_openid": next,
    })))
}

fn tag_create(st: &mut State, app: &str, req: &Req) -> Result<Reply, Fail> {
    let name = req.json().and_then(|b| {
        b.pointer("/tag/name")
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return Err(Fail::new(47001, "data format error"));
    };
    let d = st.app(app);
    if d.tags.iter().any(|(_, n)| *n == name) {
        return Err(Fail::new(45157, "invalid tag name"));
    }
    let id = d.next_tag;
    d.next_tag += 1;
    d.tags.push((id, name.clone()));
    Ok(Reply::ok(json!({"tag": {"id": id, "name": name}})))
}

/// Upload and download for either platform; the envelope differs only in
/// WeCom's explicit `errcode: 0` and string `created_at`.
pub fn media(sim: &Sim, req: &Req, platform: Platform) -> Reply {
    let token = Auth::Token(req.q("access_token"));
    if req.path == "/cgi-bin/media/get" {
        return call(
            sim,
            req,
            platform,
            Some(false),
            token,
            Kind::Business,
            |st, app| match req
                .q("media_id")
                .and_then(|id| st.media.get(id))
                .filter(|m| m.app == app)
            {
                Some(m) => Ok(Reply::bytes(&m.content_type, &m.filename, m.data.clone())),
                None => Err(Fail::new(40007, "invalid media_id")),
            },
        );
    }
    call(
        sim,
        req,
        platform,
        Some(true),
        token,
        Kind::Business,
        |st, app| {
            let kind = req.q("type").unwrap_or("");
            let kinds: &[&str] = match platform {
                Platform::WeCom => &["image", "voice", "video", "file"],
                _ => &["image", "voice", "video", "thumb"],
            };
            if !kinds.contains(&kind) {
                return Err(Fail::new(40004, "invalid media type"));
            }
            let part = req
                .header("content-type")
                .and_then(|ct| multipart_part(ct, &req.body, "media"));
            let Some(part) = part.filter(|p| !p.data.is_empty()) else {
                return Err(Fail::new(41005, "media data missing"));
            };
            let id = st.mint("m_");
            let created_at = now_ms() / 1000;
            st.media.insert(
                id.clone(),
                Media {
                    app: app.to_string(),
                    content_type: part
                        .content_type
                        .unwrap_or_else(|| "application/octet-stream".into()),
                    filename: part.filename.unwrap_or_else(|| id.clone()),
                    data: part.data,
                },
            );
            Ok(Reply::ok(match platform {
                Platform::WeCom => json!({
                    "errcode": 0, "errmsg": "ok", "type": kind, "media_id": id,
                    "created_at": created_at.to_string(),
                }),
                _ => json!({"type": kind, "media_id": id, "created_at": created_at}),
            }))
        },
    )
}
