//! Credential sources: an app whose token comes from a wxcore token server
//! (`server`), and the token server's own side of that exchange (the
//! requests a host answers with the token, and compare-and-invalidate).
//!
//! A relayed app (`relay`) needs nothing here: it has no token endpoint, so
//! it never fetches, and its calls go to the relay (`platform::request`).
//!
//! The client keeps a server's token until the server's `refresh_after`,
//! renews it in the background while still valid, and never uses it past
//! `expires_at`: both are converted from the server's clock to the time the
//! request was sent, so clock skew and a slow answer only shorten the life.

use crate::call::{CallId, Reply};
use crate::config::Secret;
use crate::engine::credential::{Fetch, Source};
use crate::engine::{Engine, Purpose, MAX_DURATION_MS};
use crate::error::{ApiError, Code, ErrorKind, TransportErrorKind};
use crate::http::{HttpRequest, HttpResponse};
use crate::output::Event;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A token's public name: 16 hex digits of a SHA-256 of it. Logs, audits,
/// status pages and invalidations name a token by this, never by its value.
pub fn token_id(token: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"wxcore token id:")
        .chain_update(token.as_bytes())
        .finalize();
    crate::http::hex(&digest[..8])
}

/// The error a token server (or its relay) answered with, if the answer is
/// the server's own (`X-Wxcore-Error`) rather than the platform's.
pub(crate) fn server_error(resp: &HttpResponse) -> Option<ApiError> {
    let named = resp.header("x-wxcore-error")?;
    let body: Option<Value> = serde_json::from_slice(&resp.body).ok();
    let message = body
        .as_ref()
        .and_then(|v| v.pointer("/error/message"))
        .and_then(Value::as_str)
        .unwrap_or("no message");
    let kind = ErrorKind::from_name(named).unwrap_or(ErrorKind::Unknown);
    let mut e = ApiError::new(
        kind,
        format!("token server answered {} ({named}): {message}", resp.status),
    );
    e.http_status = Some(resp.status);
    e.retry_after_ms = resp
        .header("retry-after")
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(|s| s.saturating_mul(1000).min(86_400_000));
    Some(e)
}

impl Engine {
    /// Asks the token server for app `a`'s token, or, when a call reported
    /// the cached one invalid, asks it to compare-and-invalidate that one.
    pub(crate) fn server_fetch(&mut self, a: usize, now: u64) {
        let app = &self.apps[a];
        let src = app.source.clone().expect("a credential source");
        let host = self.circuits.choose(&src.urls, now, app.cred.failed_hosts);
        let base = &src.urls[host];
        let mut headers = src.headers();
        let (method, url, body) = match &app.cred.failed {
            Some(failed) => {
                headers.push(("content-type".into(), "application/json".into()));
                let code = json!(app.cred.failed_code);
                let body = json!({"token_id": token_id(failed.expose()), "errcode": code});
                (
                    "POST",
                    format!("{base}/v1/apps/{}/token/invalidate", src.remote),
                    body.to_string().into_bytes(),
                )
            }
            None => (
                "GET",
                format!("{base}/v1/apps/{}/token", src.remote),
                Vec::new(),
            ),
        };
        let id = self.next_request_id();
        self.apps[a].cred.fetch = Fetch::Http;
        self.requests.insert(
            id,
            Purpose::ServerToken {
                app: a,
                host,
                sent_at: now,
            },
        );
        let timeout_ms = self.cfg.timeout_ms;
        self.send(
            HttpRequest {
                id,
                method,
                url,
                headers,
                body: body.into(),
                timeout_ms,
            },
            now,
        );
    }

    pub(crate) fn on_server_token_response(
        &mut self,
        a: usize,
        sent_at: u64,
        resp: HttpResponse,
        now: u64,
    ) {
        self.apps[a].cred.fetch = Fetch::Idle;
        if let Some(e) = server_error(&resp) {
            // The server's own refusal (key, scope) will not change by asking again.
            let retryable = resp.status >= 500 || resp.status == 429;
            let wait = e.retry_after_ms;
            return self.token_fetch_failed(a, e, retryable, wait, false, now);
        }
        let parsed = (resp.status == 200)
            .then(|| serde_json::from_slice::<Value>(&resp.body).ok())
            .flatten()
            .and_then(|v| {
                let token = v.get("token")?.as_str().filter(|t| !t.is_empty())?;
                let server_now = v.get("server_time_ms")?.as_u64()?;
                let expires = v.get("expires_at_ms")?.as_u64()?;
                let refresh = v.get("refresh_after_ms")?.as_u64()?;
                Some((Secret::new(token), server_now, expires, refresh))
            });
        let Some((token, server_now, expires, refresh)) = parsed else {
            let mut e = ApiError::new(
                ErrorKind::MalformedResponse,
                format!(
                    "token server answered {} without a token document",
                    resp.status
                ),
            );
            e.http_status = Some(resp.status);
            return self.token_fetch_failed(a, e, resp.status >= 500, None, false, now);
        };
        let life = expires.saturating_sub(server_now).min(MAX_DURATION_MS);
        let expires_at = sent_at.saturating_add(life);
        if expires_at <= now {
            let e = ApiError::new(
                ErrorKind::MalformedResponse,
                "token server answered an already expired token",
            );
            return self.token_fetch_failed(a, e, true, None, false, now);
        }
        let refresh_at = sent_at
            .saturating_add(refresh.saturating_sub(server_now))
            .max(now + 1000)
            .min(expires_at);
        self.adopt(
            a,
            token,
            expires_at,
            Some(refresh_at),
            Source::Server,
            now,
            sent_at,
        );
    }

    pub(crate) fn on_server_transport_error(
        &mut self,
        a: usize,
        host: usize,
        kind: TransportErrorKind,
        now: u64,
    ) {
        let cred = &mut self.apps[a].cred;
        cred.fetch = Fetch::Idle;
        if host < 64 {
            cred.failed_hosts |= 1 << host;
        }
        let replicas = self.apps[a].source.as_ref().map_or(1, |s| s.urls.len());
        let mut e = ApiError::new(
            ErrorKind::Transport,
            format!("{} failure reaching the token server", kind.as_str()),
        );
        e.code = Some(Code::Str(kind.as_str().to_string()));
        // Asking for a token, or to invalidate one by its id, is harmless
        // to repeat: at once on the next replica, if there is one.
        let wait = (replicas > 1).then_some(0);
        self.token_fetch_failed(a, e, true, wait, false, now);
    }

    /// The token server's side: asks for app `app`'s current token. It
    /// completes like a call, with a JSON reply `{token, token_id,
    /// generation, expires_at_ms, refresh_after_ms, server_time_ms}`, at once
    /// from the cache or after the one fetch under way.
    pub fn submit_token(&mut self, app: &str, now_ms: u64) -> CallId {
        self.submit_credential(app, None, now_ms)
    }

    /// The token server's side of compare-and-invalidate: if `token_id`
    /// names the current token, it is dropped and one fetch replaces it for
    /// every caller; either way the reply is the token callers should use
    /// now (as [`Engine::submit_token`]).
    pub fn submit_invalidate(
        &mut self,
        app: &str,
        token_id: &str,
        code: Option<Code>,
        now_ms: u64,
    ) -> CallId {
        self.submit_credential(app, Some((token_id, code)), now_ms)
    }

    fn submit_credential(
        &mut self,
        app: &str,
        invalidate: Option<(&str, Option<Code>)>,
        now_ms: u64,
    ) -> CallId {
        let (id, a, now) = match self.host_request(app, now_ms) {
            Ok(started) => started,
            Err(done) => return done,
        };
        if self.apps[a].token.is_none() {
            let e = ApiError::new(
                ErrorKind::Config,
                format!("app `{app}` fetches no token (a static credential, or relayed)"),
            );
            return self.complete(id, app.to_string(), Err(e));
        }
        if let Some((named, code)) = invalidate {
            let cred = &mut self.apps[a].cred;
            let current = cred.valid(now).map(|t| token_id(t.value.expose()));
            let gen = cred.gen;
            if current.as_deref() == Some(named) && cred.invalidate(gen, code.clone()) {
                let app = self.apps[a].name.clone();
                self.event(Event::TokenInvalidated { app, code });
            }
        }
        if self.apps[a].cred.valid(now).is_some() {
            let reply = self.token_reply(a, now);
            let name = self.apps[a].name.clone();
            return self.complete(id, name, Ok(reply));
        }
        self.apps[a].cred.token_requests.push(id);
        self.start_fetch(a, now);
        id
    }

    /// The apps whose token this engine fetches (a token server is ready
    /// once each has a token or a known failure).
    pub fn token_apps(&self) -> Vec<String> {
        self.apps
            .iter()
            .filter(|a| a.token.is_some())
            .map(|a| a.name.clone())
            .collect()
    }

    /// The reply to a token request: the cached token and when to ask again.
    pub(crate) fn token_reply(&self, a: usize, now: u64) -> Reply {
        let cred = &self.apps[a].cred;
        let t = cred.token.as_ref().expect("a cached token");
        let refresh = t.refresh_at.unwrap_or(t.expires_at).max(now + 1000);
        let body = json!({
            "token": t.value.expose(),
            "token_id": token_id(t.value.expose()),
            "generation": cred.gen,
            "expires_at_ms": t.expires_at,
            "refresh_after_ms": refresh.min(t.expires_at),
            "server_time_ms": now,
        });
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            json: true,
        }
    }

    /// Completes every waiting token request with a fetch's outcome.
    pub(crate) fn answer_token_requests(
        &mut self,
        a: usize,
        result: Result<Reply, ApiError>,
        _now: u64,
    ) {
        let name = self.apps[a].name.clone();
        for id in std::mem::take(&mut self.apps[a].cred.token_requests) {
            self.complete(id, name.clone(), result.clone());
        }
    }
}
