//! The HTTP surface: the native API (`/v1/…`, caller key and
//! `X-Wxcore-Request: 1`), the relay, the WeChat-compatible facade, and the
//! health endpoints, and the monitoring surface (`/metrics`, `/status`,
//! `/status.json`; action `status`). Each answer of the server's own carries
//! `X-Wxcore-Error: <kind>` and `{"error": {"kind", "message"}}`, so a
//! client tells it from the platform's verbatim answer.

use crate::audit::Audit;
use crate::monitor::{Sessions, Stats, SESSION_TTL};
use crate::settings::{key_hash, Action, Caller, Settings};
use crate::status_page;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, REFERRER_POLICY,
    RETRY_AFTER, SET_COOKIE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wxcore::{ApiError, Call, Code, ErrorKind, Event, Reply};
use wxcore_client::Client;

type Resp = Response<Full<Bytes>>;

/// The status page's session cookie.
const SESSION_COOKIE: &str = "wxcore_status";

tokio::task_local! {
    /// The configured caller a request turned out to come from. Handlers
    /// learn it at different points (a header, the facade's query or body,
    /// the sign-in form, a cookie), so they note it here and `handle`
    /// counts the request under it.
    static CALLER: RefCell<Option<String>>;
}

/// A refusal before it is written: JSON for the API, HTML for the page.
struct Denial {
    status: StatusCode,
    kind: ErrorKind,
    message: String,
    retry_after_s: Option<u64>,
}

impl Denial {
    fn new(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> Denial {
        Denial {
            status,
            kind,
            message: message.into(),
            retry_after_s: None,
        }
    }

    fn json(&self) -> Resp {
        let mut r = refuse(self.status, self.kind, &self.message);
        if let Some(s) = self.retry_after_s {
            r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

pub struct Server {
    pub client: Client,
    pub audit: Audit,
    stats: Stats,
    sessions: Sessions,
    callers: HashMap<[u8; 32], Caller>,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    /// (id, platform, app_id or corp_id) per app.
    identities: Vec<(String, String, Option<String>)>,
    /// Apps that fetch a token, and those with a token or a known failure.
    token_apps: Vec<String>,
    settled: Arc<Mutex<HashSet<String>>>,
    max_body: usize,
    header_timeout: Duration,
    body_timeout: Duration,
}

impl Server {
    pub async fn start(settings: Settings, audit: Audit) -> Result<Server, String> {
        let settled = Arc::new(Mutex::new(HashSet::new()));
        let seen = settled.clone();
        let mut builder = Client::builder(settings.engine).on_event(move |e| {
            if let Event::TokenFetched { app, .. } | Event::TokenFetchFailed { app, .. } = e {
                seen.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(app.clone());
            }
            // Events name apps, hosts and paths, never a token or secret.
            if let Ok(line) = serde_json::to_string(e) {
                eprintln!("{{\"event\":{line}}}");
            }
        });
        if settings.server.store != "memory" {
            let store = wxcore_client::RedisStore::connect(&settings.server.store)
                .await
                .map_err(|e| format!("cannot reach the store: {:?}", e.kind()))?;
            builder = builder.store(store);
        }
        let client = builder
            .build()
            .map_err(|e| format!("config error: {}: {}", e.field, e.message))?;
        let token_apps = client.with_engine(|e, _| e.token_apps());
        let stats = Stats::new(
            wxcore_client::now_ms(),
            settings.callers.values().map(|c| c.name.as_str()),
        );
        Ok(Server {
            client,
            audit,
            stats,
            sessions: Sessions::default(),
            callers: settings.callers,
            buckets: Mutex::new(HashMap::new()),
            identities: settings.identities,
            token_apps,
            settled,
            max_body: settings.server.max_body_bytes,
            header_timeout: Duration::from_millis(settings.server.header_timeout_ms),
            body_timeout: Duration::from_millis(settings.server.body_timeout_ms),
        })
    }
}

/// Accepts connections until the listener fails.
pub async fn serve(server: Arc<Server>, listener: tokio::net::TcpListener) -> Result<(), String> {
    loop {
        let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        let s = server.clone();
        let header_timeout = server.header_timeout;
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let s = s.clone();
                async move { Ok::<_, std::convert::Infallible>(s.handle(req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn respond(status: StatusCode, body: Vec<u8>) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A page of the server's own: no caching, no framing, no referrer (the
/// URL never holds a key, but the page's own address is nobody's business),
/// and a policy that runs only the page's own script.
fn html(status: StatusCode, body: String, csp: &'static str) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

/// 303 to the status page, setting or clearing the session cookie.
fn to_status_page(cookie: String) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SEE_OTHER;
    let h = r.headers_mut();
    h.insert(LOCATION, HeaderValue::from_static("/status"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        h.insert(SET_COOKIE, v);
    }
    r
}

/// A cookie's value from the request's `Cookie` headers.
fn cookie<'r>(req: &'r Request<Incoming>, name: &str) -> Option<&'r str> {
    req.headers()
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The key of `Authorization: Bearer <key>`.
fn bearer(req: &Request<Incoming>) -> Option<&str> {
    req.headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// The route template of a request, for the `endpoint` label: a bounded
/// set, never the raw path (which holds app ids and relayed API paths).
fn endpoint_of(path: &str) -> &'static str {
    match path {
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        "/cgi-bin/token" | "/cgi-bin/gettoken" | "/cgi-bin/stable_token" => "facade",
        "/metrics" => "metrics",
        "/status" => "status",
        "/status.json" => "status_json",
        "/status/login" => "status_login",
        "/status/logout" => "status_logout",
        _ => {
            let segs: Vec<&str> = path.trim_start_matches('/').splitn(4, '/').collect();
            match segs.as_slice() {
                ["v1", "apps", _, "token"] => "token",
                ["v1", "apps", _, "token/invalidate"] => "invalidate",
                ["v1", "apps", _, "jssdk-config"] => "jssdk_config",
                ["v1", "apps", _, r] if r.starts_with("ticket/") => "ticket",
                ["v1", "relay", _, _] => "relay",
                _ => "not_found",
            }
        }
    }
}

/// An answer of the server's own: a typed error.
fn refuse(status: StatusCode, kind: ErrorKind, message: &str) -> Resp {
    let body = serde_json::json!({"error": {"kind": kind.as_str(), "message": message}});
    let mut r = respond(status, body.to_string().into_bytes());
    r.headers_mut()
        .insert("x-wxcore-error", HeaderValue::from_static(kind.as_str()));
    r
}

/// The engine could not give what was asked: the status says whose problem it is.
fn engine_error(e: &ApiError) -> Resp {
    let status = match e.kind {
        ErrorKind::Config => StatusCode::NOT_FOUND,
        ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorKind::RateLimited | ErrorKind::QuotaExhausted => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    let mut r = refuse(status, e.kind, &e.message);
    if let Some(ms) = e.retry_after_ms {
        if let Ok(v) = HeaderValue::from_str(&ms.div_ceil(1000).to_string()) {
            r.headers_mut().insert(RETRY_AFTER, v);
        }
    }
    r
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn query_pairs(q: Option<&str>) -> Option<Vec<(String, String)>> {
    let Some(q) = q.filter(|q| !q.is_empty()) else {
        return Some(Vec::new());
    };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `token_id` of a token document (the engine's reply), for the audit:
/// read without building the whole document (the hot path).
fn token_id_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Doc<'a> {
        #[serde(borrow)]
        token_id: &'a str,
    }
    serde_json::from_slice::<Doc>(body)
        .ok()
        .map(|d| d.token_id.to_string())
}

/// A string field of a JSON document.
fn doc_field(body: &[u8], field: &str) -> Option<String> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()?
        .get(field)?
        .as_str()
        .map(str::to_string)
}

impl Server {
    /// Routes the request, then counts it under its caller, route and result.
    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Resp {
        let endpoint = endpoint_of(req.uri().path());
        let (resp, who) = CALLER
            .scope(RefCell::new(None), async {
                let r = self.clone().route(req).await;
                (r, CALLER.with(|c| c.borrow_mut().take()))
            })
            .await;
        // The server's refusals by kind; everything else (the platform's
        // verbatim answers included) by status class.
        let result = resp
            .headers()
            .get("x-wxcore-error")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}xx", resp.status().as_u16() / 100));
        self.stats.request(who.as_deref(), endpoint, &result);
        resp
    }

    /// A configured caller's key matched: counted under its name from here on.
    fn identified(&self, caller: &Caller) {
        let _ = CALLER.try_with(|c| *c.borrow_mut() = Some(caller.name.clone()));
        self.stats.touch(&caller.name, wxcore_client::now_ms());
    }

    async fn route(self: Arc<Self>, req: Request<Incoming>) -> Resp {
        let path = req.uri().path().to_string();
        let method = req.method().clone();
        match (method.clone(), path.as_str()) {
            (Method::GET, "/healthz") => respond(StatusCode::OK, br#"{"status":"ok"}"#.to_vec()),
            (Method::GET, "/readyz") => self.readyz(),
            (Method::GET, "/metrics") => self.metrics(&req),
            (Method::GET, "/status") => self.status_page(&req),
            (Method::GET, "/status.json") => match self.status_caller(&req) {
                Ok(_) => respond(StatusCode::OK, self.status_doc().to_string().into_bytes()),
                Err(d) => d.json(),
            },
            (Method::POST, "/status/login") => self.status_login(req).await,
            (Method::POST, "/status/logout") => {
                if let Some(id) = cookie(&req, SESSION_COOKIE) {
                    self.sessions.close(id);
                }
                to_status_page(format!(
                    "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
                ))
            }
            (Method::GET, "/cgi-bin/token")
            | (Method::GET, "/cgi-bin/gettoken")
            | (Method::POST, "/cgi-bin/stable_token") => self.facade(req).await,
            _ => {
                let segs: Vec<&str> = path.trim_start_matches('/').splitn(4, '/').collect();
                match segs.as_slice() {
                    ["v1", "apps", app, rest] => {
                        let Some(app) = percent_decode(app) else {
                            return refuse(
                                StatusCode::BAD_REQUEST,
                                ErrorKind::InvalidRequest,
                                "malformed app id",
                            );
                        };
                        self.native(req, method, app, rest.to_string()).await
                    }
                    ["v1", "relay", app, _] => {
                        let Some(app) = percent_decode(app) else {
                            return refuse(
                                StatusCode::BAD_REQUEST,
                                ErrorKind::InvalidRequest,
                                "malformed app id",
                            );
                        };
                        let prefix = format!("/v1/relay/{}", segs[2]);
                        let api_path = path[prefix.len()..].to_string();
                        self.relay(req, app, api_path).await
                    }
                    _ => refuse(
                        StatusCode::NOT_FOUND,
                        ErrorKind::InvalidRequest,
                        "no such endpoint",
                    ),
                }
            }
        }
    }

    fn readyz(&self) -> Resp {
        let settled = self.settled.lock().unwrap_or_else(|p| p.into_inner());
        let waiting: Vec<&String> = self
            .token_apps
            .iter()
            .filter(|a| !settled.contains(*a))
            .collect();
        let body =
            serde_json::json!({"ready": waiting.is_empty(), "waiting_for": waiting}).to_string();
        let status = if waiting.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        respond(status, body.into_bytes())
    }

    /// The caller behind a native request, after the anti-SSRF header, its key and its rate.
    fn authenticate(&self, req: &Request<Incoming>) -> Result<&Caller, Resp> {
        if req.headers().get("x-wxcore-request").map(|v| v.as_bytes()) != Some(b"1") {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                ErrorKind::PermissionDenied,
                "the native API needs the header `X-Wxcore-Request: 1`",
            ));
        }
        let Some(key) = bearer(req) else {
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                ErrorKind::CredentialInvalid,
                "no caller key (Authorization: Bearer …)",
            ));
        };
        let Some(caller) = self.callers.get(&key_hash(key)) else {
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                ErrorKind::CredentialInvalid,
                "unknown caller key",
            ));
        };
        self.identified(caller);
        self.admit(caller)?;
        Ok(caller)
    }

    fn admit(&self, caller: &Caller) -> Result<(), Resp> {
        self.rate(caller).map_err(|d| d.json())
    }

    /// The caller's rate: a bucket of a sixth of a minute's allowance.
    fn rate(&self, caller: &Caller) -> Result<(), Denial> {
        let rate = caller.rate_per_minute as f64 / 60_000.0; // per ms
        let burst = (caller.rate_per_minute as f64 / 6.0).max(1.0);
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let (tokens, last) = b.entry(caller.name.clone()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * 1000.0 * rate).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return Ok(());
        }
        let wait_s = ((1.0 - *tokens) / rate / 1000.0).ceil().max(1.0) as u64;
        let mut d = Denial::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::RateLimited,
            "this caller is over its rate",
        );
        d.retry_after_s = Some(wait_s);
        Err(d)
    }

    fn scope(&self, caller: &Caller, action: Action, app: &str) -> Result<(), Resp> {
        if caller.may(action, app) {
            return Ok(());
        }
        self.audit
            .log(&caller.name, app, action.as_str(), None, "forbidden");
        Err(refuse(
            StatusCode::FORBIDDEN,
            ErrorKind::PermissionDenied,
            &format!(
                "caller `{}` may not `{}` on app `{app}`",
                caller.name,
                action.as_str()
            ),
        ))
    }

    async fn body(&self, req: Request<Incoming>) -> Result<Bytes, Resp> {
        let too_big = || {
            refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorKind::InvalidRequest,
                &format!("the body is over {} bytes", self.max_body),
            )
        };
        let declared = req
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > self.max_body) {
            return Err(too_big());
        }
        let limited = Limited::new(req.into_body(), self.max_body);
        match tokio::time::timeout(self.body_timeout, limited.collect()).await {
            Err(_) => Err(refuse(
                StatusCode::REQUEST_TIMEOUT,
                ErrorKind::Timeout,
                "the body did not arrive in time",
            )),
            Ok(Err(e))
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                Err(too_big())
            }
            Ok(Err(_)) => Err(refuse(
                StatusCode::BAD_REQUEST,
                ErrorKind::InvalidRequest,
                "the body could not be read",
            )),
            Ok(Ok(c)) => Ok(c.to_bytes()),
        }
    }

    async fn native(
        &self,
        req: Request<Incoming>,
        method: Method,
        app: String,
        rest: String,
    ) -> Resp {
        let caller = match self.authenticate(&req) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let query = match query_pairs(req.uri().query()) {
            Some(q) => q,
            None => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    ErrorKind::InvalidRequest,
                    "malformed query",
                )
            }
        };
        let (action, result) = match (method, rest.as_str()) {
            (Method::GET, "token") => (
                Action::Token,
                self.scope(caller, Action::Token, &app).map(|_| None),
            ),
            (Method::POST, "token/invalidate") => (
                Action::Token,
                self.scope(caller, Action::Token, &app).map(|_| None),
            ),
            (Method::GET, "jssdk-config") => (
                Action::Ticket,
                self.scope(caller, Action::Ticket, &app).map(|_| None),
            ),
            (Method::GET, r) if r.starts_with("ticket/") => (
                Action::Ticket,
                self.scope(caller, Action::Ticket, &app)
                    .map(|_| Some(r["ticket/".len()..].to_string())),
            ),
            _ => {
                return refuse(
                    StatusCode::NOT_FOUND,
                    ErrorKind::InvalidRequest,
                    "no such endpoint",
                )
            }
        };
        let ticket_kind = match result {
            Ok(k) => k,
            Err(r) => return r,
        };
        let who = caller.name.clone();
        match (action, rest.as_str()) {
            (Action::Token, "token") => {
                let r = self.client.token(&app).await;
                self.token_answer(&who, &app, "token", r)
            }
            (Action::Token, _) => {
                let body = match self.body(req).await {
                    Ok(b) => b,
                    Err(r) => return r,
                };
                #[derive(serde::Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Invalidate {
                    token_id: String,
                    #[serde(default)]
                    errcode: Option<Code>,
                }
                let inv: Invalidate = match serde_json::from_slice(&body) {
                    Ok(v) => v,
                    Err(e) => {
                        let msg = format!("body must be {{\"token_id\", \"errcode\"}}: {e}");
                        return refuse(StatusCode::BAD_REQUEST, ErrorKind::InvalidRequest, &msg);
                    }
                };
                let r = self
                    .client
                    .invalidate(&app, &inv.token_id, inv.errcode)
                    .await;
                self.token_answer(&who, &app, "invalidate", r)
            }
            (_, "jssdk-config") => {
                let Some(url) = param(&query, "url") else {
                    return refuse(
                        StatusCode::BAD_REQUEST,
                        ErrorKind::InvalidRequest,
                        "`url` is required",
                    );
                };
                let kind = param(&query, "kind").unwrap_or("jsapi").to_string();
                match self.client.ticket(&app, &kind).await {
                    Ok(reply) => {
                        let (Some(ticket), Some(app_id)) = (
                            doc_field(&reply.body, "ticket"),
                            doc_field(&reply.body, "app_id"),
                        ) else {
                            return refuse(
                                StatusCode::SERVICE_UNAVAILABLE,
                                ErrorKind::MalformedResponse,
                                "no ticket",
                            );
                        };
                        let nonce = nonce();
                        let ts = (wxcore_client::now_ms() / 1000).to_string();
                        let cfg =
                            wxcore::callback::jssdk_config(&app_id, &ticket, &nonce, &ts, url);
                        self.audit.log(
                            &who,
                            &app,
                            "jssdk_config",
                            Some(&wxcore::token_id(&ticket)),
                            "ok",
                        );
                        respond(StatusCode::OK, cfg.to_json().into_bytes())
                    }
                    Err(e) => {
                        self.audit
                            .log(&who, &app, "jssdk_config", None, e.kind.as_str());
                        engine_error(&e)
                    }
                }
            }
            _ => {
                let kind = ticket_kind.unwrap_or_default();
                match self.client.ticket(&app, &kind).await {
                    Ok(reply) => {
                        let id = doc_field(&reply.body, "ticket").map(|t| wxcore::token_id(&t));
                        self.audit.log(&who, &app, "ticket", id.as_deref(), "ok");
                        respond(StatusCode::OK, reply.body)
                    }
                    Err(e) => {
                        self.audit.log(&who, &app, "ticket", None, e.kind.as_str());
                        engine_error(&e)
                    }
                }
            }
        }
    }

    fn token_answer(&self, who: &str, app: &str, action: &str, r: Result<Reply, ApiError>) -> Resp {
        match r {
            Ok(reply) => {
                let id = token_id_of(&reply.body);
                self.audit.log(who, app, action, id.as_deref(), "ok");
                respond(StatusCode::OK, reply.body)
            }
            Err(e) => {
                self.audit.log(who, app, action, None, e.kind.as_str());
                engine_error(&e)
            }
        }
    }

    async fn relay(&self, req: Request<Incoming>, app: String, api_path: String) -> Resp {
        let caller = match self.authenticate(&req) {
            Ok(c) => c,
            Err(r) => return r,
        };
        if let Err(r) = self.scope(caller, Action::Relay, &app) {
            return r;
        }
        let who = caller.name.clone();
        // A path that could climb out of its prefix is never relayed.
        let unsafe_path = !api_path.starts_with('/')
            || api_path.contains('%')
            || api_path.contains("//")
            || api_path.split('/').any(|s| s == "." || s == "..");
        if unsafe_path || !caller.may_relay(&api_path) {
            self.audit.log(&who, &app, "relay", None, "forbidden");
            let msg = format!("path `{api_path}` is outside this caller's allowlist");
            return refuse(StatusCode::FORBIDDEN, ErrorKind::PermissionDenied, &msg);
        }
        let Some(query) = query_pairs(req.uri().query()) else {
            return refuse(
                StatusCode::BAD_REQUEST,
                ErrorKind::InvalidRequest,
                "malformed query",
            );
        };
        let method = req.method().as_str().to_string();
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_string();
        let body = match self.body(req).await {
            Ok(b) => b,
            Err(r) => return r,
        };
        let call = Call {
            app: app.clone(),
            method,
            path: api_path.clone(),
            query,
            body: (!body.is_empty()).then(|| wxcore::Body {
                content_type,
                bytes: body,
            }),
            idempotent: false,
            timeout_ms: None,
        };
        match self.client.call(call).await {
            Ok(reply) => {
                self.audit
                    .log(&who, &app, "relay", None, &reply.status.to_string());
                let mut r = respond(
                    StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK),
                    reply.body,
                );
                if let Some((_, ct)) = reply
                    .headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    if let Ok(v) = HeaderValue::from_str(ct) {
                        r.headers_mut().insert(CONTENT_TYPE, v);
                    }
                }
                r
            }
            // The platform answered: its answer, verbatim.
            Err(ApiError {
                http_status: Some(status),
                raw_body: Some(body),
                kind,
                ..
            }) => {
                self.audit.log(&who, &app, "relay", None, kind.as_str());
                respond(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), body)
            }
            Err(e) => {
                self.audit.log(&who, &app, "relay", None, e.kind.as_str());
                engine_error(&e)
            }
        }
    }

    /// The platform's own token endpoints, with the caller key in the
    /// secret's slot: an unmodified SDK gets its token without the secret.
    async fn facade(&self, req: Request<Incoming>) -> Resp {
        let wecom = req.uri().path() == "/cgi-bin/gettoken";
        let query = query_pairs(req.uri().query()).unwrap_or_default();
        let (id, key, force) = if req.method() == Method::POST {
            let body = match self.body(req).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
            (
                s("appid"),
                s("secret"),
                v.get("force_refresh")
                    .and_then(|x| x.as_bool())
                    .unwrap_or(false),
            )
        } else if wecom {
            (
                param(&query, "corpid").map(str::to_string),
                param(&query, "corpsecret").map(str::to_string),
                false,
            )
        } else {
            (
                param(&query, "appid").map(str::to_string),
                param(&query, "secret").map(str::to_string),
                false,
            )
        };
        let platform_error = |status: StatusCode, code: i64, msg: &str| {
            respond(
                status,
                serde_json::json!({"errcode": code, "errmsg": msg})
                    .to_string()
                    .into_bytes(),
            )
        };
        let bad_key = if wecom {
            (40001, "invalid credential")
        } else {
            (40125, "invalid appsecret")
        };
        let Some(caller) = key.as_deref().and_then(|k| self.callers.get(&key_hash(k))) else {
            return platform_error(StatusCode::UNAUTHORIZED, bad_key.0, bad_key.1);
        };
        self.identified(caller);
        if let Err(r) = self.admit(caller) {
            return r;
        }
        let id = id.unwrap_or_default();
        // The app this id names that the caller may use (WeCom: one per corp for a facade key).
        let app = self
            .identities
            .iter()
            .filter(|(_, p, ident)| {
                ident.as_deref() == Some(id.as_str()) && (p == "wecom") == wecom
            })
            .map(|(name, _, _)| name.clone())
            .find(|name| caller.may(Action::Facade, name));
        let Some(app) = app else {
            self.audit
                .log(&caller.name, &id, "facade", None, "forbidden");
            return platform_error(StatusCode::FORBIDDEN, 48001, "api unauthorized");
        };
        let mut r = self.client.token(&app).await;
        if force {
            if let Some(tid) = r
                .as_ref()
                .ok()
                .and_then(|reply| doc_field(&reply.body, "token_id"))
            {
                r = self.client.invalidate(&app, &tid, None).await;
            }
        }
        match r {
            Ok(reply) => {
                let doc: serde_json::Value =
                    serde_json::from_slice(&reply.body).unwrap_or_default();
                let n = |k: &str| doc.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
                let expires_in = n("expires_at_ms").saturating_sub(n("server_time_ms")) / 1000;
                let token = doc.get("token").cloned().unwrap_or_default();
                self.audit.log(
                    &caller.name,
                    &app,
                    "facade",
                    doc.get("token_id").and_then(|v| v.as_str()),
                    "ok",
                );
                let body = if wecom {
                    serde_json::json!({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": expires_in})
                } else {
                    serde_json::json!({"access_token": token, "expires_in": expires_in})
                };
                respond(StatusCode::OK, body.to_string().into_bytes())
            }
            Err(e) => {
                self.audit
                    .log(&caller.name, &app, "facade", None, e.kind.as_str());
                platform_error(StatusCode::OK, -1, "system error")
            }
        }
    }
}

/// The monitoring surface. `status` is a server-wide view (settings
/// require `apps = ["*"]` with it): every app's state, no secret in any of it.
impl Server {
    /// The caller behind a monitoring request: a Bearer key (curl,
    /// Prometheus) or the status page's session cookie (a browser). The
    /// anti-SSRF header is not asked for: these are read-only GETs that
    /// return no credential, and a stock Prometheus scrape cannot add it.
    fn status_caller(&self, req: &Request<Incoming>) -> Result<&Caller, Denial> {
        let unauthorized =
            |m: &str| Denial::new(StatusCode::UNAUTHORIZED, ErrorKind::CredentialInvalid, m);
        let caller = if let Some(key) = bearer(req) {
            self.callers
                .get(&key_hash(key))
                .ok_or_else(|| unauthorized("unknown caller key"))?
        } else if let Some(id) = cookie(req, SESSION_COOKIE) {
            self.sessions
                .get(id)
                .and_then(|h| self.callers.get(&h))
                .ok_or_else(|| unauthorized("the session has ended: sign in again at /status"))?
        } else {
            return Err(unauthorized(
                "no caller key (Authorization: Bearer …) and no session (sign in at /status)",
            ));
        };
        self.identified(caller);
        self.rate(caller)?;
        if !caller.actions.contains(&Action::Status) {
            return Err(Denial::new(
                StatusCode::FORBIDDEN,
                ErrorKind::PermissionDenied,
                format!("caller `{}` may not `status`", caller.name),
            ));
        }
        Ok(caller)
    }

    /// The engine's snapshot plus the server's part: callers and itself.
    fn status_doc(&self) -> serde_json::Value {
        let mut doc = self.client.with_engine(|e, now| e.status(now));
        let callers: Vec<serde_json::Value> = self
            .stats
            .callers()
            .into_iter()
            .map(|c| {
                serde_json::json!({
                    "name": c.name,
                    "last_seen_ms": c.last_seen_ms,
                    "requests": c.requests,
                })
            })
            .collect();
        if let Some(m) = doc.as_object_mut() {
            m.insert("callers".into(), callers.into());
            m.insert(
                "server".into(),
                serde_json::json!({
                    "started_at_ms": self.stats.started_at_ms,
                    "version": env!("CARGO_PKG_VERSION"),
                }),
            );
        }
        doc
    }

    fn metrics(&self, req: &Request<Incoming>) -> Resp {
        if let Err(d) = self.status_caller(req) {
            return d.json();
        }
        let mut text = self.client.with_engine(|e, now| e.metrics_text(now));
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        self.stats.render(&mut text, &self.audit.counts());
        let mut r = respond(StatusCode::OK, text.into_bytes());
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        r
    }

    fn status_page(&self, req: &Request<Incoming>) -> Resp {
        match self.status_caller(req) {
            Ok(c) => html(
                StatusCode::OK,
                status_page::page(&self.status_doc(), &c.name),
                status_page::script_csp(),
            ),
            // No credentials at all: the sign-in form, without scolding.
            Err(d)
                if d.status == StatusCode::UNAUTHORIZED
                    && bearer(req).is_none()
                    && cookie(req, SESSION_COOKIE).is_none() =>
            {
                html(d.status, status_page::login(None), status_page::LOGIN_CSP)
            }
            Err(d) => login_refused(d),
        }
    }

    /// The sign-in form's POST: a caller key with `status` becomes a
    /// session cookie (HttpOnly, SameSite=Strict), so the key is typed once
    /// and never sits in a URL, the history, a proxy's access log or the
    /// page's refresh requests.
    async fn status_login(&self, req: Request<Incoming>) -> Resp {
        let secure = req
            .headers()
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
        let form = match self.body(req).await {
            Ok(b) => b,
            Err(r) => return r,
        };
        let denied = login_refused;
        // application/x-www-form-urlencoded: `+` is a space, `%2B` a plus.
        let pairs = std::str::from_utf8(&form)
            .ok()
            .and_then(|f| query_pairs(Some(&f.replace('+', " "))));
        let Some(pairs) = pairs else {
            return denied(Denial::new(
                StatusCode::BAD_REQUEST,
                ErrorKind::InvalidRequest,
                "the form could not be read",
            ));
        };
        let Some(key) = param(&pairs, "key").filter(|k| !k.is_empty()) else {
            return denied(Denial::new(
                StatusCode::BAD_REQUEST,
                ErrorKind::InvalidRequest,
                "enter a caller key",
            ));
        };
        let hash = key_hash(key);
        let Some(caller) = self.callers.get(&hash) else {
            return denied(Denial::new(
                StatusCode::UNAUTHORIZED,
                ErrorKind::CredentialInvalid,
                "unknown caller key",
            ));
        };
        self.identified(caller);
        if let Err(d) = self.rate(caller) {
            return denied(d);
        }
        if !caller.actions.contains(&Action::Status) {
            self.audit
                .log(&caller.name, "*", "status_login", None, "forbidden");
            return denied(Denial::new(
                StatusCode::FORBIDDEN,
                ErrorKind::PermissionDenied,
                format!("caller `{}` may not `status`", caller.name),
            ));
        }
        self.audit
            .log(&caller.name, "*", "status_login", None, "ok");
        let id = self.sessions.open(hash);
        to_status_page(format!(
            "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
            SESSION_TTL.as_secs(),
            if secure { "; Secure" } else { "" }
        ))
    }
}

/// 16 letters and digits from the OS generator (a `wx.config` nonce).
/// The sign-in form again, saying why: the refusal's kind in
/// `X-Wxcore-Error` and its wait in `Retry-After`, as on every endpoint.
fn login_refused(d: Denial) -> Resp {
    let mut r = html(
        d.status,
        status_page::login(Some(&d.message)),
        status_page::LOGIN_CSP,
    );
    r.headers_mut()
        .insert("x-wxcore-error", HeaderValue::from_static(d.kind.as_str()));
    if let Some(s) = d.retry_after_s {
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(s));
    }
    r
}

fn nonce() -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).expect("the OS random generator");
    b.iter()
        .map(|x| ABC[(*x as usize) % ABC.len()] as char)
        .collect()
}
