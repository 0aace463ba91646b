//! Authorizers: the accounts that granted an open-platform component their
//! APIs. Each is an app of its own, named `{component}/{authorizer_appid}`
//! and made on first use (a call, a push, a stored state), so the host
//! calls for it with the ordinary call API and every language gets it.
//!
//! Its token is a credential like any other (single flight, refreshed
//! before expiry, fleet lease, compare-and-invalidate), except that the
//! fetch is the component's own call: `api_query_auth` after an
//! authorization (a push, or the host's call with a redirect's code) and
//! `api_authorizer_token` with the refresh token after that, so the
//! component token, its retries and failover are the calls' own.
//!
//! The refresh token is the one thing that cannot be fetched again: every
//! value an answer carries replaces the held one and, in fleet mode, is
//! written to the store without expiry. A lost or refused one (61023) is
//! first recovered from `api_get_authorizer_list`; only an authorizer the
//! list does not hold `needs_reauthorization`. `unauthorized` (and 61003)
//! revokes: tokens dropped, calls refused at once without a request, until
//! the next authorization.
//!
//! A WeCom suite's authorized corps (`{suite}/{corpid}`) follow the same
//! course with the suite's protocol: `create_auth` and
//! `reset_permanent_code` pushes (or the host's `get_permanent_code`) bring
//! the permanent code, held where the refresh token is and as durably; the
//! corp token comes from `get_corp_token`, or, for a 代开发 app (whose
//! answer carries no token: the permanent code is its secret), from the
//! corp's own `gettoken`. No list recovers a permanent code: 40084 means
//! the corp must authorize again. `cancel_auth` revokes.

use crate::call::{Call, Reply};
use crate::config::{Secret, StoreMode};
use crate::crypto::callback::CallbackMessage;
use crate::engine::app::{App, Authorizer, Standing};
use crate::engine::credential::{Fetch, Source};
use crate::engine::{Engine, Internal, StorePurpose};
use crate::error::{ApiError, Code, ErrorKind};
use crate::output::{Event, StoreCommand, StoreResult};
use crate::platform::profile::Flavor;
use serde_json::{json, Value};

pub(crate) const QUERY_AUTH: &str = "/cgi-bin/component/api_query_auth";
pub(crate) const AUTHORIZER_TOKEN: &str = "/cgi-bin/component/api_authorizer_token";
pub(crate) const AUTHORIZER_LIST: &str = "/cgi-bin/component/api_get_authorizer_list";
/// The largest page `api_get_authorizer_list` returns.
const PAGE: u64 = 500;
pub(crate) const PERMANENT_CODE: &str = "/cgi-bin/service/get_permanent_code";
pub(crate) const CORP_TOKEN: &str = "/cgi-bin/service/get_corp_token";

/// What one of the engine's own component calls is for.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// `api_query_auth` (`get_permanent_code`) of component `c` after a
    /// push; for authorizer `a` when the push named it.
    Exchange {
        c: usize,
        a: Option<usize>,
        sent_at: u64,
    },
    /// `api_authorizer_token` for authorizer `a`.
    Refresh { a: usize, sent_at: u64 },
    /// A page of `api_get_authorizer_list`, looking for `a`'s refresh token.
    List { a: usize, offset: u64 },
}

impl Engine {
    /// The app called `name`: a configured one, or an authorizer
    /// `{component}/{authorizer_appid}` of a configured component (made on
    /// first use).
    pub(crate) fn app_index(&mut self, name: &str) -> Option<usize> {
        if let Some(&a) = self.by_name.get(name) {
            return Some(a);
        }
        let (component, appid) = name.rsplit_once('/')?;
        let c = *self.by_name.get(component)?;
        self.apps[c].template.as_ref()?;
        let plausible = !appid.is_empty()
            && appid.len() <= 64
            && appid
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
        plausible.then(|| self.authorizer_app(c, appid))
    }

    /// Authorizer `appid` of component `c`, made if new.
    pub(crate) fn authorizer_app(&mut self, c: usize, appid: &str) -> usize {
        let name = format!("{}/{appid}", self.apps[c].name);
        if let Some(&a) = self.by_name.get(&name) {
            return a;
        }
        let corp = self.flavor(c) == Flavor::Suite;
        let template = self.apps[c].template.as_ref().expect("a component");
        let account = template.authorizer(name.clone(), appid, &self.apps[c].store_id, corp);
        let mut app = App::new(account);
        app.authorizer = Some(Authorizer::new(c, appid));
        let a = self.apps.len();
        self.apps.push(app);
        self.by_name.insert(name, a);
        self.monitor.tokens.push(Default::default());
        a
    }

    /// Component (or suite) `c`'s protocol.
    fn flavor(&self, c: usize) -> Flavor {
        self.apps[c]
            .rt
            .profile
            .authorizers
            .as_ref()
            .map(|s| s.flavor)
            .unwrap_or_default()
    }

    /// Why a call for app `a` must not go: an authorizer not authorized.
    pub(crate) fn authorizer_refusal(&self, a: usize) -> Option<ApiError> {
        let au = self.apps[a].authorizer.as_ref()?;
        (au.standing != Standing::Active).then(|| not_authorized(au.standing, &au.appid))
    }

    fn authorizer_key(&self, a: usize) -> String {
        format!(
            "{}authorizer:{}",
            self.cfg.store_prefix, self.apps[a].store_id
        )
    }

    /// Fleet mode: the refresh token and standing, written without expiry.
    fn persist_authorizer(&mut self, a: usize) {
        if self.cfg.store != StoreMode::External {
            return;
        }
        let Some(au) = self.apps[a].authorizer.as_ref() else {
            return;
        };
        let value = json!({
            "v": 1,
            "account": self.apps[a].store_id,
            "standing": au.standing.as_str(),
            "direct": au.direct,
            "refresh_token": self.apps[a].cred.refresh_token.as_ref().map(Secret::expose),
        })
        .to_string();
        let key = self.authorizer_key(a);
        self.store(
            StoreCommand::Set {
                key,
                value,
                ttl_ms: 0,
            },
            StorePurpose::Write(a, "set"),
        );
    }

    /// Obtains authorizer `a`'s token through its component. `looked`: the
    /// store was already read for its refresh token during this fetch.
    pub(crate) fn authorizer_fetch(&mut self, a: usize, now: u64, looked: bool) {
        if let Some(e) = self.authorizer_refusal(a) {
            // A refresh point of a revoked authorizer passes quietly.
            let cred = &self.apps[a].cred;
            if cred.waiting.is_empty() && cred.token_requests.is_empty() && !cred.lock_held {
                return;
            }
            return self.token_fetch_failed(a, e, false, None, false, now);
        }
        // In a fleet another process may have rotated the refresh token:
        // the store's is the newest.
        if !looked && self.cfg.store == StoreMode::External {
            self.apps[a].cred.fetch = Fetch::Store;
            let key = self.authorizer_key(a);
            self.store(StoreCommand::Get { key }, StorePurpose::AuthorizerRead(a));
            return;
        }
        let au = self.apps[a].authorizer.as_ref().expect("authorizer");
        let (c, direct) = (au.component, au.direct);
        match (self.apps[a].cred.refresh_token.clone(), self.flavor(c)) {
            // 代开发: the corp's own gettoken, the permanent code its secret.
            (Some(_), _) if direct => self.endpoint_fetch(a, now, false, true),
            (Some(rt), _) => self.refresh_authorizer(a, &rt, now),
            (None, Flavor::Component) => self.list_page(a, 0, now),
            // No list holds permanent codes.
            (None, Flavor::Suite) => self.set_standing(a, Standing::NeedsReauthorization, now),
        }
    }

    /// The store's record of authorizer `a`; then the fetch goes on.
    pub(crate) fn on_authorizer_read(&mut self, a: usize, r: StoreResult, now: u64) {
        self.apps[a].cred.fetch = Fetch::Idle;
        if let Some(v) = self.own_value(a, r, "authorizer") {
            let standing = v
                .get("standing")
                .and_then(Value::as_str)
                .and_then(Standing::from_name);
            let au = self.apps[a].authorizer.as_mut().expect("authorizer");
            if let Some(s) = standing.filter(|s| *s != au.standing) {
                au.standing = s;
                let app = self.apps[a].name.clone();
                self.event(Event::AuthorizerChanged {
                    app,
                    standing: s.as_str(),
                });
            }
            if let Some(t) = v.get("refresh_token").and_then(Value::as_str) {
                self.apps[a].cred.refresh_token = Some(Secret::new(t));
            }
            if v.get("direct").and_then(Value::as_bool) == Some(true) {
                self.make_direct(a);
            }
        }
        self.authorizer_fetch(a, now, true)
    }

    /// A 代开发 corp: the held permanent code becomes its secret.
    pub(crate) fn make_direct(&mut self, a: usize) {
        let code = self.apps[a].cred.refresh_token.clone();
        let app = &mut self.apps[a];
        app.authorizer.as_mut().expect("authorizer").direct = true;
        if let Some(code) = code {
            app.account.secret = code;
        }
    }

    fn component_call(&mut self, a: usize, path: &str, body: Value, step: Step, now: u64) {
        let c = self.apps[a]
            .authorizer
            .as_ref()
            .expect("authorizer")
            .component;
        self.apps[a].cred.fetch = Fetch::Http;
        self.own_call(c, path, body, step, now);
    }

    /// The engine's own call of component (suite) `c`.
    fn own_call(&mut self, c: usize, path: &str, body: Value, step: Step, now: u64) {
        let mut body = body;
        if self.flavor(c) == Flavor::Component {
            body["component_appid"] = json!(self.apps[c].app_id);
        }
        let mut call = Call::post_json(self.apps[c].name.clone(), path, body.to_string());
        // Each asks for a credential: repeating one is harmless.
        call.idempotent = true;
        self.submit_internal(call, Internal::Authorizer(step), now);
    }

    fn refresh_authorizer(&mut self, a: usize, refresh_token: &Secret, now: u64) {
        let appid = self.apps[a]
            .authorizer
            .as_ref()
            .expect("authorizer")
            .appid
            .clone();
        let c = self.apps[a]
            .authorizer
            .as_ref()
            .expect("authorizer")
            .component;
        let (path, body) = match self.flavor(c) {
            Flavor::Component => (
                AUTHORIZER_TOKEN,
                json!({
                    "authorizer_appid": appid,
                    "authorizer_refresh_token": refresh_token.expose(),
                }),
            ),
            Flavor::Suite => (
                CORP_TOKEN,
                json!({"auth_corpid": appid, "permanent_code": refresh_token.expose()}),
            ),
        };
        // Counted against the authorizer, whose token it is.
        self.count_quota(a, path, now);
        self.component_call(a, path, body, Step::Refresh { a, sent_at: now }, now);
    }

    fn list_page(&mut self, a: usize, offset: u64, now: u64) {
        let body = json!({"offset": offset, "count": PAGE});
        self.component_call(a, AUTHORIZER_LIST, body, Step::List { a, offset }, now);
    }

    /// One of the engine's own component calls completed.
    pub(crate) fn on_authorizer_call(
        &mut self,
        step: Step,
        result: Result<Reply, ApiError>,
        now: u64,
    ) {
        let a = match step {
            Step::Exchange { a, .. } => a,
            Step::Refresh { a, .. } | Step::List { a, .. } => Some(a),
        };
        if let Some(a) = a {
            self.apps[a].cred.fetch = Fetch::Idle;
        }
        match (step, result) {
            (Step::Exchange { c, sent_at, .. }, Ok(r)) => {
                let got = self.on_authorization(c, r.json_value().as_ref(), sent_at, now);
                // The answer named another authorizer than the push did:
                // what waits for the push's one is not left waiting.
                if let (Some(a), Some(b)) = (a, got) {
                    if a != b && !self.apps[a].cred.waiting.is_empty() {
                        self.start_fetch(a, now);
                    }
                }
                if got.is_none() {
                    let e = match self.flavor(c) {
                        Flavor::Component => malformed("api_query_auth", "authorization_info"),
                        Flavor::Suite => malformed("get_permanent_code", "permanent_code"),
                    };
                    self.exchange_failed(c, a, e, now);
                }
            }
            (Step::Exchange { c, .. }, Err(e)) => self.exchange_failed(c, a, e, now),
            (Step::Refresh { a, sent_at }, Ok(r)) => {
                let flavor = self.flavor(
                    self.apps[a]
                        .authorizer
                        .as_ref()
                        .expect("authorizer")
                        .component,
                );
                match r.json_value().as_ref().and_then(|v| tokens_in(v, flavor)) {
                    Some(t) => self.adopt_authorizer(a, t, sent_at, now),
                    None => {
                        let e = malformed("the authorizer token endpoint", "access_token");
                        self.token_fetch_failed(a, e, false, None, false, now)
                    }
                }
            }
            (Step::List { a, offset }, Ok(r)) => self.on_list_page(a, offset, r, now),
            (Step::Refresh { a, .. }, Err(e)) if e.code == Some(Code::Num(61023)) => {
                self.apps[a].cred.refresh_token = None;
                if self.apps[a]
                    .authorizer
                    .as_ref()
                    .expect("authorizer")
                    .recovered
                {
                    self.set_standing(a, Standing::NeedsReauthorization, now);
                } else {
                    self.list_page(a, 0, now);
                }
            }
            // WeCom: the permanent code is no longer valid.
            (Step::Refresh { a, .. }, Err(e)) if e.code == Some(Code::Num(40084)) => {
                self.apps[a].cred.refresh_token = None;
                self.set_standing(a, Standing::NeedsReauthorization, now)
            }
            (Step::Refresh { a, .. } | Step::List { a, .. }, Err(e))
                if e.kind == ErrorKind::NotAuthorized =>
            {
                self.set_standing(a, Standing::Revoked, now)
            }
            (Step::Refresh { a, .. } | Step::List { a, .. }, Err(e)) => {
                // The component call has had its own retries already.
                self.token_fetch_failed(a, e.clone(), passing(&e), None, false, now)
            }
        }
    }

    /// An authorization's exchange failed: the authorizer it named (if
    /// any) fails what waits for it; otherwise the component's event says so.
    fn exchange_failed(&mut self, c: usize, a: Option<usize>, e: ApiError, now: u64) {
        match a {
            Some(a) => self.token_fetch_failed(a, e.clone(), passing(&e), None, false, now),
            None => {
                let app = self.apps[c].name.clone();
                self.event(Event::TokenFetchFailed {
                    app,
                    kind: e.kind,
                    code: e.code,
                });
            }
        }
    }

    fn on_list_page(&mut self, a: usize, offset: u64, r: Reply, now: u64) {
        let v = r.json_value().unwrap_or(Value::Null);
        let list = v
            .get("list")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let total = v.get("total_count").and_then(Value::as_u64).unwrap_or(0);
        let c = self.apps[a]
            .authorizer
            .as_ref()
            .expect("authorizer")
            .component;
        let mut found = None;
        for item in &list {
            let (Some(id), Some(rt)) = (
                item.get("authorizer_appid").and_then(Value::as_str),
                item.get("refresh_token").and_then(Value::as_str),
            ) else {
                continue;
            };
            let name = format!("{}/{id}", self.apps[c].name);
            match self.by_name.get(&name).copied() {
                Some(b) if b == a => found = Some(rt.to_string()),
                // Another authorizer that lost its refresh token (a flushed
                // store), or that this process has not met yet, gets it on
                // the way: one page serves 500 of them.
                Some(b)
                    if self.apps[b].cred.refresh_token.is_none()
                        && self.authorizer_refusal(b).is_none() =>
                {
                    self.apps[b].cred.refresh_token = Some(Secret::new(rt));
                    self.persist_authorizer(b);
                }
                Some(_) => {}
                None => {
                    let b = self.authorizer_app(c, id);
                    self.apps[b].cred.refresh_token = Some(Secret::new(rt));
                    self.persist_authorizer(b);
                }
            }
        }
        if let Some(rt) = found {
            let rt = Secret::new(rt);
            self.apps[a].cred.refresh_token = Some(rt.clone());
            self.apps[a]
                .authorizer
                .as_mut()
                .expect("authorizer")
                .recovered = true;
            self.persist_authorizer(a);
            return self.refresh_authorizer(a, &rt, now);
        }
        let next = offset + list.len() as u64;
        if !list.is_empty() && next < total {
            return self.list_page(a, next, now);
        }
        self.set_standing(a, Standing::NeedsReauthorization, now);
    }

    /// Changes authorizer `a`'s standing. Anything but `active` drops its
    /// tokens and fails what waits for them.
    fn set_standing(&mut self, a: usize, standing: Standing, now: u64) {
        let au = self.apps[a].authorizer.as_mut().expect("authorizer");
        let changed = au.standing != standing;
        au.standing = standing;
        au.recovered = false;
        if standing != Standing::Active {
            self.apps[a].cred.drop_token();
            self.apps[a].cred.refresh_token = None;
        }
        if changed {
            let app = self.apps[a].name.clone();
            self.event(Event::AuthorizerChanged {
                app,
                standing: standing.as_str(),
            });
            // Active without a refresh token in hand (a push on a process
            // that never held it) must not blank the fleet's record: the
            // authorization's answer writes it.
            if standing != Standing::Active || self.apps[a].cred.refresh_token.is_some() {
                self.persist_authorizer(a);
            }
        }
        let cred = &self.apps[a].cred;
        let waited_on =
            !cred.waiting.is_empty() || !cred.token_requests.is_empty() || cred.lock_held;
        if standing != Standing::Active && cred.is_idle() && waited_on {
            let e = not_authorized(
                standing,
                &self.apps[a].authorizer.as_ref().expect("authorizer").appid,
            );
            self.token_fetch_failed(a, e, false, None, false, now);
        }
    }

    /// An authorization's answer (`api_query_auth`; a suite's
    /// `get_permanent_code`), the engine's or the host's: the authorizer is
    /// active and holds what it brings. Returns its app index.
    pub(crate) fn on_authorization(
        &mut self,
        c: usize,
        v: Option<&Value>,
        sent_at: u64,
        now: u64,
    ) -> Option<usize> {
        let v = v?;
        let flavor = self.flavor(c);
        let (appid, tokens) = match flavor {
            Flavor::Component => {
                let info = v.get("authorization_info")?;
                (
                    info.get("authorizer_appid")?.as_str()?,
                    tokens_in(info, flavor),
                )
            }
            Flavor::Suite => {
                v.get("permanent_code")?
                    .as_str()
                    .filter(|s| !s.is_empty())?;
                (
                    v.pointer("/auth_corp_info/corpid")?.as_str()?,
                    tokens_in(v, flavor),
                )
            }
        };
        if appid.is_empty() {
            return None;
        }
        let a = self.authorizer_app(c, appid);
        self.set_standing(a, Standing::Active, now);
        match (flavor, tokens) {
            (_, Some(t)) => self.adopt_authorizer(a, t, sent_at, now),
            (Flavor::Suite, None) => {
                // 代开发: no token, the permanent code is the corp's secret.
                let code = v
                    .get("permanent_code")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                self.apps[a].cred.refresh_token = Some(Secret::new(code));
                self.make_direct(a);
                self.apps[a].cred.drop_token();
                self.persist_authorizer(a);
                // Calls that waited on the authorization fetch it now.
                if !self.apps[a].cred.waiting.is_empty() {
                    self.start_fetch(a, now);
                }
            }
            (Flavor::Component, None) => return None,
        }
        Some(a)
    }

    fn adopt_authorizer(&mut self, a: usize, t: Tokens, sent_at: u64, now: u64) {
        // Revoked while the refresh was out: its answer is not kept.
        if let Some(e) = self.authorizer_refusal(a) {
            return self.token_fetch_failed(a, e, false, None, false, now);
        }
        if let Some(rt) = t.refresh {
            if self.apps[a].cred.refresh_token.as_ref() != Some(&rt) {
                self.apps[a].cred.refresh_token = Some(rt);
                self.persist_authorizer(a);
            }
        }
        self.apps[a]
            .authorizer
            .as_mut()
            .expect("authorizer")
            .recovered = false;
        let expires_at = sent_at.saturating_add(
            t.expires_in_s
                .saturating_mul(1000)
                .min(crate::engine::MAX_DURATION_MS),
        );
        if expires_at <= now {
            let e = ApiError::new(
                ErrorKind::MalformedResponse,
                format!(
                    "authorizer token already expired on arrival (expires_in {})",
                    t.expires_in_s
                ),
            );
            return self.token_fetch_failed(a, e, false, None, false, now);
        }
        self.adopt(
            a,
            t.access,
            expires_at,
            None,
            Source::Http { forced: false },
            now,
            sent_at,
        );
        if self.apps[a].cred.lock_held {
            self.fleet_publish(a, now);
        } else if self.cfg.store == StoreMode::External {
            // From an authorization, outside the lease: the other processes
            // take it from the store instead of refreshing.
            self.fleet_store_token(a, now);
        }
    }

    /// A push to component (suite) `c`'s URL about an authorizer: `Ok` with
    /// the authorizer's app name when the push names one, `Err` with a
    /// missing field, None for a push that is not about authorizers.
    pub(crate) fn authorizer_push(
        &mut self,
        c: usize,
        info_type: &str,
        message: &CallbackMessage,
        now: u64,
    ) -> Option<Result<Option<String>, &'static str>> {
        self.apps[c].template.as_ref()?;
        let field = |name: &'static str| message.get(name).filter(|s| !s.is_empty()).ok_or(name);
        match (self.flavor(c), info_type) {
            (Flavor::Component, "unauthorized") | (Flavor::Suite, "cancel_auth") => {
                let id_field = match info_type {
                    "unauthorized" => "AuthorizerAppid",
                    _ => "AuthCorpId",
                };
                let a = match field(id_field) {
                    Ok(id) => self.authorizer_app(c, id),
                    Err(f) => return Some(Err(f)),
                };
                self.set_standing(a, Standing::Revoked, now);
                Some(Ok(Some(self.apps[a].name.clone())))
            }
            (Flavor::Component, "authorized" | "updateauthorized") => {
                let (appid, code) = match (field("AuthorizerAppid"), field("AuthorizationCode")) {
                    (Ok(id), Ok(code)) => (id, code),
                    (Err(f), _) | (_, Err(f)) => return Some(Err(f)),
                };
                let a = self.authorizer_app(c, appid);
                // The push itself says it is authorized (again). A new
                // authorization kills its live token: drop it, so calls
                // wait for the one api_query_auth brings.
                self.set_standing(a, Standing::Active, now);
                self.apps[a].cred.drop_token();
                self.apps[a].cred.fetch = Fetch::Http;
                let step = Step::Exchange {
                    c,
                    a: Some(a),
                    sent_at: now,
                };
                self.own_call(
                    c,
                    QUERY_AUTH,
                    json!({"authorization_code": code}),
                    step,
                    now,
                );
                Some(Ok(Some(self.apps[a].name.clone())))
            }
            // The corp is named only by the exchange's answer.
            (Flavor::Suite, "create_auth" | "reset_permanent_code") => {
                let code = match field("AuthCode") {
                    Ok(code) => code,
                    Err(f) => return Some(Err(f)),
                };
                let step = Step::Exchange {
                    c,
                    a: None,
                    sent_at: now,
                };
                self.own_call(c, PERMANENT_CODE, json!({"auth_code": code}), step, now);
                Some(Ok(None))
            }
            // The host re-reads what changed (get_auth_info).
            (Flavor::Suite, "change_auth") => match field("AuthCorpId") {
                Ok(id) => {
                    let a = self.authorizer_app(c, id);
                    Some(Ok(Some(self.apps[a].name.clone())))
                }
                Err(f) => Some(Err(f)),
            },
            _ => None,
        }
    }

    /// The answer to the host's own call of component `c`: an
    /// authorization it carries is taken in, and its tokens leave the reply
    /// (the engine holds them; a caller never needs them).
    pub(crate) fn component_reply(
        &mut self,
        c: usize,
        path: &str,
        mut reply: Reply,
        now: u64,
    ) -> Reply {
        let exchange = match self.flavor(c) {
            Flavor::Component => QUERY_AUTH,
            Flavor::Suite => PERMANENT_CODE,
        };
        if path != exchange || self.apps[c].template.is_none() {
            return reply;
        }
        let Some(mut v) = reply.json_value() else {
            return reply;
        };
        if self.on_authorization(c, Some(&v), now, now).is_some() {
            if let Some(info) = v
                .get_mut("authorization_info")
                .and_then(Value::as_object_mut)
            {
                info.remove("authorizer_access_token");
                info.remove("authorizer_refresh_token");
            }
            if let (Flavor::Suite, Some(m)) = (self.flavor(c), v.as_object_mut()) {
                m.remove("permanent_code");
                m.remove("access_token");
            }
            reply.body = v.to_string().into_bytes();
        }
        reply
    }
}

/// What a token answer carries.
struct Tokens {
    access: Secret,
    expires_in_s: u64,
    refresh: Option<Secret>,
}

/// The access token, its life and the refresh token (WeCom: the permanent
/// code) an answer carries.
fn tokens_in(v: &Value, flavor: Flavor) -> Option<Tokens> {
    let (access, refresh) = match flavor {
        Flavor::Component => ("authorizer_access_token", "authorizer_refresh_token"),
        Flavor::Suite => ("access_token", "permanent_code"),
    };
    let access = v.get(access)?.as_str().filter(|s| !s.is_empty())?;
    let expires_in_s = v.get("expires_in").and_then(Value::as_u64).unwrap_or(7200);
    let refresh = v
        .get(refresh)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(Secret::new);
    Some(Tokens {
        access: Secret::new(access),
        expires_in_s,
        refresh,
    })
}

/// A failure that passes (the transport, a busy platform): worth a retry later.
fn passing(e: &ApiError) -> bool {
    matches!(
        e.kind,
        ErrorKind::Transport | ErrorKind::Busy | ErrorKind::RateLimited | ErrorKind::Timeout
    )
}

fn malformed(api: &str, field: &str) -> ApiError {
    ApiError::new(
        ErrorKind::MalformedResponse,
        format!("{api} answered without `{field}`"),
    )
}

fn not_authorized(standing: Standing, appid: &str) -> ApiError {
    let why = match standing {
        Standing::Revoked => "revoked its authorization",
        _ => "needs to authorize again (its refresh token or permanent code is gone for good)",
    };
    let mut e = ApiError::new(
        ErrorKind::NotAuthorized,
        format!("authorizer `{appid}` {why}"),
    );
    e.code = Some(Code::Str(standing.as_str().into()));
    e
}
