//! uniffi glue for wxcore: the engine as an object behind a mutex, JSON
//! and bytes across the boundary (see `wxcore::wire`). Conversion only: a
//! decision taken here would be a bug.

use std::sync::{Arc, Mutex, MutexGuard};

uniffi::setup_scaffolding!();

/// Errors raised to the host. Call failures are not raised here: they come
/// back as `done` outputs with a kind (`wxcore::ErrorKind` names).
#[derive(Debug, uniffi::Error)]
pub enum WxError {
    /// The configuration (or restored state) is unusable; `field` names the culprit.
    Config { field: String, detail: String },
    /// A callback was refused: `kind` is the stable kind, `reason` exactly why.
    Callback {
        kind: String,
        reason: String,
        detail: String,
    },
}

impl std::fmt::Display for WxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WxError::Config { field, detail } => write!(f, "config error at `{field}`: {detail}"),
            WxError::Callback {
                kind,
                reason,
                detail,
            } => write!(f, "{kind} ({reason}): {detail}"),
        }
    }
}

impl From<wxcore::ConfigError> for WxError {
    fn from(e: wxcore::ConfigError) -> Self {
        WxError::Config {
            field: e.field,
            detail: e.message,
        }
    }
}

impl From<wxcore::callback::CallbackError> for WxError {
    fn from(e: wxcore::callback::CallbackError) -> Self {
        WxError::Callback {
            kind: e.kind.as_str().into(),
            reason: e.reason.into(),
            detail: e.message,
        }
    }
}

/// WXBizMsgCrypt for one app (see `wxcore::callback`).
/// What a callback request asks for.
#[derive(uniffi::Enum)]
pub enum Inbound {
    /// A URL check: answer with `body` as it is.
    Echo { body: String },
    /// A verified (and decrypted) message; `message_json` is the message as
    /// one JSON object (nested elements as objects, repeated ones as arrays).
    Message {
        plaintext: String,
        message_json: String,
    },
}

#[derive(uniffi::Object)]
pub struct CallbackCrypto {
    inner: wxcore::callback::CallbackCrypto,
}

#[uniffi::export]
impl CallbackCrypto {
    /// Fails when the EncodingAESKey is not 43 base64 characters. `accept_receive_ids`
    /// replaces the strict receive-id check; `max_age_s` turns on the replay window;
    /// `url_check` (`signature`, `msg_signature`, `either`) says which URL check
    /// this receiver accepts (see `wxcore::callback::UrlCheck`).
    #[uniffi::constructor]
    pub fn new(
        token: String,
        encoding_aes_key: String,
        receive_id: String,
        accept_receive_ids: Option<Vec<String>>,
        max_age_s: Option<u64>,
        url_check: Option<String>,
    ) -> Result<Arc<Self>, WxError> {
        let mut inner =
            wxcore::callback::CallbackCrypto::new(&token, &encoding_aes_key, &receive_id)?;
        if let Some(style) = url_check {
            inner = inner.url_check(wxcore::callback::UrlCheck::parse(&style)?);
        }
        if let Some(ids) = accept_receive_ids {
            inner = inner.accept_receive_ids(ids);
        }
        if let Some(s) = max_age_s {
            inner = inner.max_age(s);
        }
        Ok(Arc::new(CallbackCrypto { inner }))
    }

    /// URL verification, the style as the receiver's `url_check` says.
    pub fn verify_url(
        &self,
        signature: String,
        timestamp: String,
        nonce: String,
        echostr: String,
        now_s: Option<u64>,
    ) -> Result<String, WxError> {
        Ok(self
            .inner
            .verify_url_at(&signature, &timestamp, &nonce, &echostr, now_s)?)
    }

    /// URL verification with the name of the parameter that carried the
    /// signature (`signature` or `msg_signature`): the core decides the style.
    pub fn verify_url_param(
        &self,
        param: String,
        signature: String,
        timestamp: String,
        nonce: String,
        echostr: String,
        now_s: Option<u64>,
    ) -> Result<String, WxError> {
        Ok(self
            .inner
            .verify_url_param_at(&param, &signature, &timestamp, &nonce, &echostr, now_s)?)
    }

    /// Verifies and decrypts a callback body (XML or JSON).
    pub fn decrypt(
        &self,
        msg_signature: String,
        timestamp: String,
        nonce: String,
        body: String,
        now_s: Option<u64>,
    ) -> Result<String, WxError> {
        Ok(self
            .inner
            .decrypt_at(&msg_signature, &timestamp, &nonce, &body, now_s)?)
    }

    /// `decrypt` with every argument in one buffer (`msg_signature`,
    /// `timestamp`, `nonce`, `body`, NUL-separated) and the plaintext as
    /// bytes: at the Python boundary each string argument costs its own
    /// allocation round trips, so one buffer in and one out is about half
    /// the time. `now_s` is checked only when `check_age` is set.
    pub fn decrypt_packed(
        &self,
        packed: &[u8],
        check_age: bool,
        now_s: u64,
    ) -> Result<Vec<u8>, WxError> {
        let mut parts = packed.splitn(4, |b| *b == 0).map(std::str::from_utf8);
        let mut next = |name: &str| match parts.next() {
            Some(Ok(s)) => Ok(s),
            _ => Err(WxError::Callback {
                kind: "invalid_request".into(),
                reason: "malformed_body".into(),
                detail: format!("packed arguments: `{name}` is missing or not UTF-8"),
            }),
        };
        let (sig, ts, nonce, body) = (
            next("msg_signature")?,
            next("timestamp")?,
            next("nonce")?,
            next("body")?,
        );
        Ok(self
            .inner
            .decrypt_at(sig, ts, nonce, body, check_age.then_some(now_s))?
            .into_bytes())
    }

    /// Verifies and decrypts into the message as one JSON object (nested
    /// elements as objects, repeated ones as arrays); `body` as sent.
    pub fn decrypt_message(
        &self,
        msg_signature: String,
        timestamp: String,
        nonce: String,
        body: Vec<u8>,
        now_s: Option<u64>,
    ) -> Result<String, WxError> {
        Ok(self
            .inner
            .decrypt_message_bytes(&msg_signature, &timestamp, &nonce, &body, now_s)?
            .to_json())
    }

    /// Framework glue: a callback request (method, query parameters as JSON
    /// text, body as sent) in; a URL check's answer or a verified message
    /// out (see `wxcore::callback::Inbound`).
    pub fn handle_request(
        &self,
        method: String,
        query_json: Vec<u8>,
        body: Vec<u8>,
        now_s: Option<u64>,
    ) -> Result<Inbound, WxError> {
        Ok(
            match self
                .inner
                .handle_request_bytes(&method, &query_json, &body, now_s)?
            {
                wxcore::callback::Inbound::Echo(body) => Inbound::Echo { body },
                wxcore::callback::Inbound::Message { plaintext, message } => Inbound::Message {
                    plaintext,
                    message_json: message.to_json(),
                },
            },
        )
    }

    /// The encrypted reply's XML body; `random16` must be 16 bytes from the host's CSPRNG.
    pub fn encrypt(
        &self,
        reply: String,
        timestamp: String,
        nonce: String,
        random16: Vec<u8>,
    ) -> Result<String, WxError> {
        let random16: [u8; 16] = random16.try_into().map_err(|_| WxError::Config {
            field: "random16".into(),
            detail: "must be exactly 16 bytes".into(),
        })?;
        Ok(self
            .inner
            .encrypt(&reply, &timestamp, &nonce, random16)
            .to_xml())
    }
}

/// API security: seals `plaintext` into `{"iv","data","authtag"}` (see `wxcore::api_security`).
#[uniffi::export]
pub fn api_security_seal(
    sym_key: String,
    sym_sn: String,
    app_id: String,
    url_path: String,
    timestamp: u64,
    iv: &[u8],
    plaintext: &[u8],
) -> Result<String, WxError> {
    let key = wxcore::api_security::sym_key(&sym_key)?;
    let iv: [u8; 12] = iv.try_into().map_err(|_| WxError::Config {
        field: "iv".into(),
        detail: "must be exactly 12 bytes".into(),
    })?;
    Ok(wxcore::api_security::seal(
        &key, &sym_sn, &app_id, &url_path, timestamp, &iv, plaintext,
    ))
}

/// API security: opens a sealed body; the plaintext bytes.
#[uniffi::export]
pub fn api_security_open(
    sym_key: String,
    sym_sn: String,
    app_id: String,
    url_path: String,
    timestamp: u64,
    body: &[u8],
) -> Result<Vec<u8>, WxError> {
    let key = wxcore::api_security::sym_key(&sym_key)?;
    Ok(wxcore::api_security::open(
        &key, &sym_sn, &app_id, &url_path, timestamp, body,
    )?)
}

/// API security: RSA-PSS SHA-256 signature (base64) of `urlpath\nappid\ntimestamp\ndata`;
/// `seed`: 32 bytes from the host's CSPRNG (salt and blinding).
#[uniffi::export]
pub fn api_security_sign(
    private_key_pem: String,
    url_path: String,
    app_id: String,
    timestamp: u64,
    data: &[u8],
    seed: &[u8],
) -> Result<String, WxError> {
    let seed: [u8; 32] = seed.try_into().map_err(|_| WxError::Config {
        field: "seed".into(),
        detail: "must be exactly 32 bytes".into(),
    })?;
    Ok(wxcore::api_security::sign(
        &private_key_pem,
        &url_path,
        &app_id,
        timestamp,
        data,
        seed,
    )?)
}

/// API security: whether `signature` verifies under `key_pem` (certificate, public or private key).
#[uniffi::export]
pub fn api_security_verify(
    key_pem: String,
    url_path: String,
    app_id: String,
    timestamp: u64,
    data: &[u8],
    signature: String,
) -> Result<bool, WxError> {
    Ok(wxcore::api_security::verify(
        &key_pem, &url_path, &app_id, timestamp, data, &signature,
    )?)
}

/// The JS-SDK signature (the URL's `#fragment` removed).
#[uniffi::export]
pub fn jssdk_signature(
    jsapi_ticket: String,
    noncestr: String,
    timestamp: String,
    url: String,
) -> String {
    wxcore::callback::jssdk_signature(&jsapi_ticket, &noncestr, &timestamp, &url)
}

/// The `wx.config` object as JSON (`appId`, `timestamp`, `nonceStr`, `signature`).
#[uniffi::export]
pub fn jssdk_config_json(
    app_id: String,
    jsapi_ticket: String,
    noncestr: String,
    timestamp: String,
    url: String,
) -> String {
    wxcore::callback::jssdk_config(&app_id, &jsapi_ticket, &noncestr, &timestamp, &url).to_json()
}

/// The engine. Every method takes `now_ms` (Unix milliseconds) from the host.
#[derive(uniffi::Object)]
pub struct Engine {
    inner: Mutex<wxcore::Engine>,
    /// The hot path's frames detach large bodies (hot.rs, `wxcore_hot_detach`) …
    detach: std::sync::atomic::AtomicBool,
    /// … and keep them here until the next frame.
    detached: Mutex<Vec<wxcore::Bytes>>,
}

impl Engine {
    fn wrap(engine: wxcore::Engine) -> Arc<Self> {
        Arc::new(Engine {
            inner: Mutex::new(engine),
            detach: Default::default(),
            detached: Default::default(),
        })
    }

    fn engine(&self) -> MutexGuard<'_, wxcore::Engine> {
        // The core does not panic; should it ever, keep serving rather than poison every call.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[uniffi::export]
impl Engine {
    /// A new engine from the JSON configuration.
    #[uniffi::constructor]
    pub fn new(config_json: String, now_ms: u64) -> Result<Arc<Self>, WxError> {
        let config = wxcore::Config::from_json(&config_json)?;
        Ok(Engine::wrap(wxcore::Engine::new(config, now_ms)?))
    }

    /// A new engine carrying on from `export_state()`.
    #[uniffi::constructor]
    pub fn restore(
        config_json: String,
        state_json: String,
        now_ms: u64,
    ) -> Result<Arc<Self>, WxError> {
        let config = wxcore::Config::from_json(&config_json)?;
        Ok(Engine::wrap(wxcore::Engine::restore(
            config,
            &state_json,
            now_ms,
        )?))
    }

    /// Submits a call (JSON spec: app, method, path, query pairs, idempotent, content_type).
    pub fn submit(&self, spec: &[u8], now_ms: u64) -> u64 {
        self.engine().submit_json(spec, None, now_ms)
    }

    /// Submits a call with a body.
    pub fn submit_with_body(&self, spec: &[u8], body: &[u8], now_ms: u64) -> u64 {
        self.engine().submit_json(spec, Some(body), now_ms)
    }

    /// Feeds an HTTP answer; `headers` is JSON (`{"name": "value"}` or pairs).
    pub fn handle_response(
        &self,
        request_id: u64,
        status: u16,
        headers: &[u8],
        body: &[u8],
        now_ms: u64,
    ) {
        self.engine()
            .handle_response_json(request_id, status, headers, body, now_ms)
    }

    /// Feeds a transport failure: `dns`, `dns_timeout`, `connect`,
    /// `connect_timeout`, `timeout`, `reset` or `tls`.
    pub fn handle_transport_error(&self, request_id: u64, kind: String, now_ms: u64) {
        self.engine()
            .handle_transport_error_named(request_id, &kind, now_ms)
    }

    /// Feeds a store result (JSON: value, ok, locked, count or error).
    /// Withdraws a call (see the core's `Engine::cancel`); false if it had
    /// already completed.
    pub fn cancel(&self, call_id: u64, now_ms: u64) -> bool {
        self.engine().cancel(call_id, now_ms)
    }

    pub fn handle_store_result(&self, op_id: u64, result: &[u8], now_ms: u64) {
        self.engine()
            .handle_store_result_json(op_id, result, now_ms)
    }

    /// A request to an app's callback URL where the platform pushes the
    /// ticket its token needs (see the core's `Engine::handle_push`): the
    /// query as JSON, the body as sent. Returns `{"reply", "info_type",
    /// "ticket_kept", "message"}`; answer the platform with `reply`. A
    /// refused push raises `Callback` (nothing changed).
    pub fn handle_push(
        &self,
        app: String,
        method: String,
        query_json: &[u8],
        body: &[u8],
        now_ms: u64,
    ) -> Result<String, WxError> {
        Ok(self
            .engine()
            .handle_push_json(&app, &method, query_json, body, now_ms)?)
    }

    /// Submits and returns the outputs at once: `{"call_id": n, "outputs": […], "wake_at_ms": …}`.
    pub fn submit_poll(&self, spec: &[u8], now_ms: u64) -> String {
        self.engine().submit_poll_json(spec, None, now_ms)
    }

    /// `submit_poll` with a body.
    pub fn submit_with_body_poll(&self, spec: &[u8], body: &[u8], now_ms: u64) -> String {
        self.engine().submit_poll_json(spec, Some(body), now_ms)
    }

    /// Feeds an HTTP answer and returns the outputs it caused, in one crossing.
    pub fn respond_poll(
        &self,
        request_id: u64,
        status: u16,
        headers: &[u8],
        body: &[u8],
        now_ms: u64,
    ) -> String {
        self.engine()
            .respond_poll_json(request_id, status, headers, body, now_ms)
    }

    /// Every pending output as JSON: `{"outputs": […], "wake_at_ms": n | null}`.
    pub fn poll(&self, now_ms: u64) -> String {
        self.engine().poll_json(now_ms)
    }

    /// The durable state (tokens, counters, blocks, circuits) as JSON.
    pub fn export_state(&self) -> String {
        self.engine().export_state()
    }

    /// The status snapshot as JSON (see `wxcore::Engine::status`): token
    /// ids, never tokens.
    pub fn status_json(&self, now_ms: u64) -> String {
        self.engine().status_json(now_ms)
    }

    /// The Prometheus text exposition (format 0.0.4) of the engine's
    /// counters and gauges, the same text in every language.
    pub fn metrics_text(&self, now_ms: u64) -> String {
        self.engine().metrics_text(now_ms)
    }
}

/// The stable error kind names, for hosts that build their error classes from them.
#[uniffi::export]
pub fn error_kinds() -> Vec<String> {
    wxcore::ErrorKind::ALL
        .iter()
        .map(|k| k.as_str().to_string())
        .collect()
}

mod hot;
pub use hot::{HOT_BAD_ARGS, HOT_PANIC};
