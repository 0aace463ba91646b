//! Authorizers of an open-platform component (THIRD-PARTY.md §1): the
//! accounts that authorized it, their tokens and refresh tokens.
//!
//! - `POST /cgi-bin/component/api_query_auth?component_access_token=`
//!   `{component_appid, authorization_code}`: a code issued by an
//!   authorization (within the hour, once) → `authorization_info` with the
//!   authorizer's access token and refresh token. A new authorization kills
//!   the authorizer's live token.
//! - `POST /cgi-bin/component/api_authorizer_token?component_access_token=`
//!   `{component_appid, authorizer_appid, authorizer_refresh_token}`: the
//!   current refresh token (else 61023), an authorizer that has not revoked
//!   (else 61003) → a new access token, and a new refresh token when the
//!   authorizer is set to rotate.
//! - `POST /cgi-bin/component/api_get_authorizer_list?component_access_token=`
//!   `{component_appid, offset, count ≤ 500}` → `{total_count, list:
//!   [{authorizer_appid, refresh_token, auth_time}]}`, in authorization order.
//!
//! Control:
//! - `POST /component/authorize {component_appid, authorizer_appid}`: an
//!   authorization; its code is answered (the redirect's `auth_code`) and
//!   pushed as `authorized` (or `updateauthorized` if authorized before),
//!   unless `push: false` (the redirect flow: the host takes the code).
//! - `POST /component/unauthorize {component_appid, authorizer_appid}`:
//!   revoked, its tokens dead, `unauthorized` pushed.
//! - `POST /component/authorizer {component_appid, authorizer_appid,
//!   refresh_invalid?, rotate?}`: `refresh_invalid` replaces its refresh
//!   token (the held one then answers 61023; the list has the new one);
//!   `rotate` makes every refresh issue a new refresh token.
//! - `GET /component/authorizers?component_appid=`: per authorizer its
//!   authorizations, refreshes and standing.

use serde_json::{json, Value};

use crate::gate::{call, Auth, Fail, Kind};
use crate::http::{Reply, Req};
use crate::state::{now_ms, Platform, Sim, State};

const CODE_LIFE_MS: u64 = 3600 * 1000;

/// One authorizer, as the platform knows it.
#[derive(Default)]
pub struct Authorizer {
    pub refresh: String,
    pub access: Option<String>,
    pub revoked: bool,
    pub rotate: bool,
    pub auth_time: u64,
    /// Order of first authorization (the list's order).
    pub order: u64,
    pub authorizations: u64,
    pub refreshes: u64,
    pub refused_refreshes: u64,
}

fn field<'a>(body: &'a Value, name: &str) -> &'a str {
    body.get(name).and_then(Value::as_str).unwrap_or("")
}

pub fn handle(sim: &Sim, req: &Req) -> Reply {
    let path = req.path.clone();
    call(
        sim,
        req,
        Platform::Component,
        Some(true),
        Auth::Token(req.q("component_access_token")),
        Kind::Business,
        move |st, _component| {
            let body = req.json().unwrap_or(Value::Null);
            let comp = field(&body, "component_appid").to_string();
            match path.as_str() {
                "/cgi-bin/component/api_query_auth" => query_auth(st, &comp, &body),
                "/cgi-bin/component/api_authorizer_token" => refresh(st, &comp, &body),
                _ => list(st, &comp, &body),
            }
        },
    )
}

fn query_auth(st: &mut State, comp: &str, body: &Value) -> Result<Reply, Fail> {
    let now = now_ms();
    let code = field(body, "authorization_code");
    let taken = st
        .components
        .get_mut(comp)
        .and_then(|c| c.codes.remove(code));
    let appid = match taken {
        Some((appid, at)) if now < at + CODE_LIFE_MS => appid,
        _ => return Err(Fail::new(61010, "code is expired or invalid")),
    };
    let access = st.issue_token(Platform::Oa, &appid, "authorizer_at_", now);
    let refresh = st.mint("refreshtoken@@@");
    let expires_in = st.config.token_ttl_s;
    let c = st.components.get_mut(comp).expect("component");
    let n = c.authorizers.len() as u64;
    let a = c.authorizers.entry(appid.clone()).or_default();
    if a.authorizations == 0 {
        a.order = n;
    }
    a.authorizations += 1;
    a.revoked = false;
    a.auth_time = now / 1000;
    a.refresh = refresh.clone();
    let old = a.access.replace(access.clone());
    // A new authorization kills the authorizer's live token.
    if let Some(old) = old {
        st.cap_token(&old, now);
    }
    Ok(Reply::ok(json!({"authorization_info": {
        "authorizer_appid": appid,
        "authorizer_access_token": access,
        "expires_in": expires_in,
        "authorizer_refresh_token": refresh,
        "func_info": [{"funcscope_category": {"id": 1}}],
    }})))
}

fn refresh(st: &mut State, comp: &str, body: &Value) -> Result<Reply, Fail> {
    let now = now_ms();
    let appid = field(body, "authorizer_appid").to_string();
    let held = field(body, "authorizer_refresh_token");
    let Some(a) = st
        .components
        .get_mut(comp)
        .and_then(|c| c.authorizers.get_mut(&appid))
    else {
        return Err(Fail::new(
            61003,
            "component is not authorized by this account",
        ));
    };
    if a.revoked {
        return Err(Fail::new(
            61003,
            "component is not authorized by this account",
        ));
    }
    if held != a.refresh {
        a.refused_refreshes += 1;
        return Err(Fail::new(61023, "refresh_token is invalid"));
    }
    a.refreshes += 1;
    let rotate = a.rotate;
    let access = st.issue_token(Platform::Oa, &appid, "authorizer_at_", now);
    let new_refresh = if rotate {
        st.mint("refreshtoken@@@")
    } else {
        held.to_string()
    };
    let expires_in = st.config.token_ttl_s;
    let a = st
        .components
        .get_mut(comp)
        .and_then(|c| c.authorizers.get_mut(&appid))
        .expect("authorizer");
    a.refresh = new_refresh.clone();
    a.access = Some(access.clone());
    Ok(Reply::ok(json!({
        "authorizer_access_token": access,
        "expires_in": expires_in,
        "authorizer_refresh_token": new_refresh,
    })))
}

fn list(st: &mut State, comp: &str, body: &Value) -> Result<Reply, Fail> {
    let offset = body.get("offset").and_then(Value::as_u64).unwrap_or(0) as usize;
    let count = body.get("count").and_then(Value::as_u64).unwrap_or(0);
    if count == 0 || count > 500 {
        return Err(Fail::new(40097, "invalid args: count must be 1 to 500"));
    }
    let mut all: Vec<_> = st
        .components
        .get(comp)
        .map(|c| c.authorizers.iter().filter(|(_, a)| !a.revoked).collect())
        .unwrap_or_default();
    all.sort_by_key(|(_, a)| a.order);
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(count as usize)
        .map(|(id, a)| json!({"authorizer_appid": id, "refresh_token": a.refresh, "auth_time": a.auth_time}))
        .collect();
    Ok(Reply::ok(json!({"total_count": all.len(), "list": page})))
}

fn names(b: &serde_json::Map<String, Value>) -> Result<(String, String), String> {
    let s = |k: &str| {
        b.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or(format!("{k} must be a non-empty string"))
    };
    Ok((s("component_appid")?, s("authorizer_appid")?))
}

/// An authorization or its revocation, pushed to the component's URL.
async fn push_event(sim: &Sim, comp: &str, xml_fields: String) -> Result<bool, String> {
    let sealed = {
        let mut st = sim.lock();
        let Some(target) = st.components.get(comp).and_then(|c| c.push.clone()) else {
            return Err(format!(
                "component {comp} is not configured (POST /component first)"
            ));
        };
        let created = now_ms() / 1000;
        let xml = format!(
            "<xml><AppId><![CDATA[{comp}]]></AppId><CreateTime>{created}</CreateTime>{xml_fields}</xml>"
        );
        crate::component::seal_push(&mut st, comp, &target, &xml, created)
    };
    Ok(crate::component::post(&sealed.0, &sealed.1).await)
}

/// `POST /component/authorize`.
pub async fn authorize(sim: &Sim, b: &serde_json::Map<String, Value>) -> Result<Reply, String> {
    let (comp, appid) = names(b)?;
    let (code, info_type) = {
        let mut st = sim.lock();
        let code = st.mint("queryauthcode@@@");
        let c = st.components.entry(comp.clone()).or_default();
        let again = c
            .authorizers
            .get(&appid)
            .is_some_and(|a| a.authorizations > 0 && !a.revoked);
        c.codes.insert(code.clone(), (appid.clone(), now_ms()));
        (
            code,
            if again {
                "updateauthorized"
            } else {
                "authorized"
            },
        )
    };
    if b.get("push").and_then(Value::as_bool) == Some(false) {
        return Ok(Reply::ok(
            json!({"auth_code": code, "info_type": info_type, "pushed": false}),
        ));
    }
    let expires = now_ms() / 1000 + 3600;
    let answered = push_event(
        sim,
        &comp,
        format!(
            "<InfoType><![CDATA[{info_type}]]></InfoType><AuthorizerAppid><![CDATA[{appid}]]></AuthorizerAppid><AuthorizationCode><![CDATA[{code}]]></AuthorizationCode><AuthorizationCodeExpiredTime>{expires}</AuthorizationCodeExpiredTime><PreAuthCode><![CDATA[preauthcode@@@sim]]></PreAuthCode>"
        ),
    )
    .await?;
    Ok(Reply::ok(
        json!({"auth_code": code, "info_type": info_type, "pushed": answered}),
    ))
}

/// `POST /component/unauthorize`.
pub async fn unauthorize(sim: &Sim, b: &serde_json::Map<String, Value>) -> Result<Reply, String> {
    let (comp, appid) = names(b)?;
    {
        let mut st = sim.lock();
        let now = now_ms();
        let a = st
            .components
            .get_mut(&comp)
            .and_then(|c| c.authorizers.get_mut(&appid))
            .ok_or(format!("{appid} never authorized {comp}"))?;
        a.revoked = true;
        let access = a.access.take();
        if let Some(t) = access {
            st.cap_token(&t, now);
        }
    }
    let answered = push_event(
        sim,
        &comp,
        format!("<InfoType><![CDATA[unauthorized]]></InfoType><AuthorizerAppid><![CDATA[{appid}]]></AuthorizerAppid>"),
    )
    .await?;
    Ok(Reply::ok(json!({"pushed": answered})))
}

/// `POST /component/authorizer`: faults for one authorizer.
pub fn set(sim: &Sim, b: &serde_json::Map<String, Value>) -> Result<Reply, String> {
    let (comp, appid) = names(b)?;
    let mut st = sim.lock();
    let fresh = st.mint("refreshtoken@@@");
    let a = st
        .components
        .get_mut(&comp)
        .and_then(|c| c.authorizers.get_mut(&appid))
        .ok_or(format!("{appid} never authorized {comp}"))?;
    if b.get("refresh_invalid").and_then(Value::as_bool) == Some(true) {
        a.refresh = fresh;
    }
    if let Some(r) = b.get("rotate").and_then(Value::as_bool) {
        a.rotate = r;
    }
    Ok(Reply::ok(json!({"ok": true})))
}

/// `GET /component/authorizers?component_appid=`.
pub fn report(sim: &Sim, req: &Req) -> Reply {
    let comp = req.q("component_appid").unwrap_or("");
    let st = sim.lock();
    let rows: serde_json::Map<String, Value> = st
        .components
        .get(comp)
        .map(|c| {
            c.authorizers
                .iter()
                .map(|(id, a)| {
                    (
                        id.clone(),
                        json!({
                            "authorizations": a.authorizations,
                            "refreshes": a.refreshes,
                            "refused_refreshes": a.refused_refreshes,
                            "revoked": a.revoked,
                        }),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Reply::ok(Value::Object(rows))
}

// ---- WeCom suites: authorized corps -------------------------------------
//
// - `POST /cgi-bin/service/get_permanent_code?suite_access_token` `{auth_code}`:
//   a code from `POST /suite/authorize` (10 minutes, once; 40029 otherwise)
//   → `{access_token, expires_in, permanent_code, auth_corp_info: {corpid},
//   auth_info: {agent: [{agentid}]}}`; for a 代开发 corp no access token and
//   `is_customized_app: true`, its permanent code registered as the corp's
//   secret (`gettoken` takes it).
// - `POST /cgi-bin/service/get_corp_token?suite_access_token` `{auth_corpid,
//   permanent_code}` → `{access_token, expires_in}` (a WeCom token); 40084
//   for a permanent code that is not the corp's current one, 40084 too for
//   a cancelled authorization.
//
// Control: `POST /suite/authorize {suite_id, corpid, customized?}` pushes
// `create_auth` with a fresh AuthCode; `POST /suite/unauthorize {suite_id,
// corpid}` pushes `cancel_auth`; `POST /suite/corp {suite_id, corpid,
// permanent_invalid}` replaces the corp's permanent code (the held one then
// answers 40084). `GET /component/authorizers?component_appid={suite_id}`
// reports corps as it reports authorizers.

const SUITE_CODE_LIFE_MS: u64 = 10 * 60 * 1000;

pub fn handle_suite(sim: &Sim, req: &Req) -> Reply {
    let path = req.path.clone();
    call(
        sim,
        req,
        Platform::Suite,
        Some(true),
        Auth::Token(req.q("suite_access_token")),
        Kind::Business,
        move |st, suite| {
            let body = req.json().unwrap_or(Value::Null);
            let suite = suite.to_string();
            match path.as_str() {
                "/cgi-bin/service/get_permanent_code" => permanent_code(st, &suite, &body),
                _ => corp_token(st, &suite, &body),
            }
        },
    )
}

fn permanent_code(st: &mut State, suite: &str, body: &Value) -> Result<Reply, Fail> {
    let now = now_ms();
    let code = field(body, "auth_code");
    let taken = st
        .components
        .get_mut(suite)
        .and_then(|c| c.codes.remove(code));
    let corpid = match taken {
        Some((corpid, at)) if now < at + SUITE_CODE_LIFE_MS => corpid,
        _ => return Err(Fail::new(40029, "invalid code")),
    };
    let permanent = st.mint("permanentcode@@@");
    let c = st.components.get_mut(suite).expect("suite");
    let n = c.authorizers.len() as u64;
    let a = c.authorizers.entry(corpid.clone()).or_default();
    if a.authorizations == 0 {
        a.order = n;
    }
    a.authorizations += 1;
    a.revoked = false;
    a.refresh = permanent.clone();
    let customized = a.rotate; // `rotate` marks a 代开发 corp here
    let mut answer = json!({
        "permanent_code": permanent,
        "auth_corp_info": {"corpid": corpid, "corp_name": format!("Corp {corpid}")},
        "auth_info": {"agent": [{"agentid": 1000002, "name": "app"}]},
    });
    if customized {
        answer["is_customized_app"] = json!(true);
        st.apps.insert(
            corpid.clone(),
            vec![crate::state::Registration {
                secret: permanent,
                agent_id: None,
            }],
        );
    } else {
        let token = st.issue_token(Platform::WeCom, &corpid, "corp_at_", now);
        answer["access_token"] = json!(token);
        answer["expires_in"] = json!(st.config.token_ttl_s);
    }
    Ok(Reply::ok(answer))
}

fn corp_token(st: &mut State, suite: &str, body: &Value) -> Result<Reply, Fail> {
    let now = now_ms();
    let corpid = field(body, "auth_corpid").to_string();
    let held = field(body, "permanent_code");
    let Some(a) = st
        .components
        .get_mut(suite)
        .and_then(|c| c.authorizers.get_mut(&corpid))
    else {
        return Err(Fail::new(40084, "invalid permanent_code"));
    };
    if a.revoked || held != a.refresh {
        a.refused_refreshes += 1;
        return Err(Fail::new(40084, "invalid permanent_code"));
    }
    a.refreshes += 1;
    let token = st.issue_token(Platform::WeCom, &corpid, "corp_at_", now);
    let expires_in = st.config.token_ttl_s;
    Ok(Reply::ok(
        json!({"access_token": token, "expires_in": expires_in}),
    ))
}

fn suite_names(b: &serde_json::Map<String, Value>) -> Result<(String, String), String> {
    let s = |k: &str| {
        b.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or(format!("{k} must be a non-empty string"))
    };
    Ok((s("suite_id")?, s("corpid")?))
}

/// A suite event pushed to the suite's command URL.
async fn push_suite_event(sim: &Sim, suite: &str, xml_fields: String) -> Result<bool, String> {
    let sealed = {
        let mut st = sim.lock();
        let Some(target) = st.components.get(suite).and_then(|c| c.push.clone()) else {
            return Err(format!(
                "suite {suite} is not configured (POST /suite first)"
            ));
        };
        let ts = now_ms() / 1000;
        let xml = format!(
            "<xml><SuiteId><![CDATA[{suite}]]></SuiteId>{xml_fields}<TimeStamp>{ts}</TimeStamp></xml>"
        );
        crate::component::seal_push(&mut st, suite, &target, &xml, ts)
    };
    Ok(crate::component::post(&sealed.0, &sealed.1).await)
}

/// `POST /suite/authorize`.
pub async fn suite_authorize(
    sim: &Sim,
    b: &serde_json::Map<String, Value>,
) -> Result<Reply, String> {
    let (suite, corpid) = suite_names(b)?;
    let customized = b.get("customized").and_then(Value::as_bool) == Some(true);
    let code = {
        let mut st = sim.lock();
        let code = st.mint("suiteauthcode@@@");
        let c = st.components.entry(suite.clone()).or_default();
        c.codes.insert(code.clone(), (corpid.clone(), now_ms()));
        c.authorizers.entry(corpid.clone()).or_default().rotate = customized;
        code
    };
    let answered = push_suite_event(
        sim,
        &suite,
        format!("<InfoType><![CDATA[create_auth]]></InfoType><AuthCode><![CDATA[{code}]]></AuthCode><State><![CDATA[]]></State>"),
    )
    .await?;
    Ok(Reply::ok(json!({"auth_code": code, "pushed": answered})))
}

/// `POST /suite/unauthorize`.
pub async fn suite_unauthorize(
    sim: &Sim,
    b: &serde_json::Map<String, Value>,
) -> Result<Reply, String> {
    let (suite, corpid) = suite_names(b)?;
    sim.lock()
        .components
        .get_mut(&suite)
        .and_then(|c| c.authorizers.get_mut(&corpid))
        .ok_or(format!("{corpid} never authorized {suite}"))?
        .revoked = true;
    let answered = push_suite_event(
        sim,
        &suite,
        format!("<InfoType><![CDATA[cancel_auth]]></InfoType><AuthCorpId><![CDATA[{corpid}]]></AuthCorpId>"),
    )
    .await?;
    Ok(Reply::ok(json!({"pushed": answered})))
}

/// `POST /suite/corp`: faults for one corp.
pub fn suite_corp(sim: &Sim, b: &serde_json::Map<String, Value>) -> Result<Reply, String> {
    let (suite, corpid) = suite_names(b)?;
    let mut st = sim.lock();
    let fresh = st.mint("permanentcode@@@");
    let a = st
        .components
        .get_mut(&suite)
        .and_then(|c| c.authorizers.get_mut(&corpid))
        .ok_or(format!("{corpid} never authorized {suite}"))?;
    if b.get("permanent_invalid").and_then(Value::as_bool) == Some(true) {
        a.refresh = fresh;
    }
    Ok(Reply::ok(json!({"ok": true})))
}
