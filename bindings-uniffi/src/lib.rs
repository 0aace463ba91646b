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
}

impl Engine {
    fn wrap(engine: wxcore::Engine) -> Arc<Self> {
        Arc::new(Engine {
            inner: Mutex::new(engine),
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

impl Engine {
    /// Borrows the engine behind a handle from [`Engine::hot_handle`].
    ///
    /// # Safety
    /// `handle` must come from `hot_handle` and not yet be released with
    /// `wxcore_hot_release`.
    unsafe fn from_hot(handle: u64) -> &'static Engine {
        // SAFETY: `hot_handle` made `handle` with `Arc::into_raw`, and the
        // caller has not released it, so it points at a live `Engine` (the
        // Arc it holds keeps it alive). `'static` is a lie the callers keep
        // honest: they use the reference only within the call.
        unsafe { &*(handle as usize as *const Engine) }
    }
}

#[uniffi::export]
impl Engine {
    /// The Kotlin driver's hot path (`wxcore_hot_*` below): a raw handle
    /// holding one reference to this engine, the same instance and lock
    /// this object uses. Release it with `wxcore_hot_release`, exactly once.
    pub fn hot_handle(self: Arc<Self>) -> u64 {
        Arc::into_raw(self) as usize as u64
    }
}

// The Kotlin driver's hot path. uniffi's JNA calls build a few JNA
// `Structure`s per crossing (the call status, each `&[u8]` argument, a
// returned buffer) and three native calls per method; these functions take
// only integers, so JNA's direct mapping passes them as they are. They do
// what `submit_poll`, `respond_poll` and `poll` do, on the same engine and
// lock, and write the outputs in a compact frame instead of JSON (the core's
// decisions are untouched: this is conversion only). Every `done` output is
// there, so no call is lost; a panic is caught and reported as `HOT_PANIC`.
//
// Addresses travel as `i64` (not pointers) so that the JNA declarations
// (`Long`) match on 32-bit targets too.
//
// The frame, little-endian: `u64 call_id` (0 but for submit), `i64 wake_at_ms`
// (-1: none), `u32 count`, then `count` outputs, each a tag byte:
// 1 send: `u64 id, u64 timeout_ms, str method, str url, u32 n, n × (str, str) headers, bytes body`;
// 2 successful done: `u64 call_id, u32 status, u8 body kind (0 JSON, 1 UTF-8 text, 2 other), u32 n, n × (str, str) headers, bytes body`;
// 3 anything else (a failed done, an event, a store operation): `bytes` of its canonical JSON.
// `str` and `bytes` are a `u32` length then the bytes.
//
// The frame goes into the caller's buffer (`out`, `out_cap` bytes, at least
// 8) and the function returns its length; a larger frame is left in memory
// Rust owns, its address in the first 8 bytes of `out`, and the function
// returns minus its length: the caller copies it and hands it back with
// `wxcore_hot_free`.

/// A Rust panic inside a hot-path function (none is expected: the core does not panic).
pub const HOT_PANIC: i64 = i64::MIN;
/// A hot-path function was called with arguments it cannot use (a null handle, a negative length).
pub const HOT_BAD_ARGS: i64 = i64::MIN + 1;

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    // Lengths fit: a JVM array (the host's side of every body) holds under 2^31 bytes.
    put_u32(out, b.len() as u32);
    out.extend_from_slice(b);
}

fn put_headers(out: &mut Vec<u8>, headers: &[(String, String)]) {
    put_u32(out, headers.len() as u32);
    for (k, v) in headers {
        put_bytes(out, k.as_bytes());
        put_bytes(out, v.as_bytes());
    }
}

fn put_output(out: &mut Vec<u8>, o: &wxcore::Output) {
    use wxcore::{Completion, Output};
    match o {
        Output::Send(r) => {
            out.push(1);
            put_u64(out, r.id);
            put_u64(out, r.timeout_ms);
            put_bytes(out, r.method.as_bytes());
            put_bytes(out, r.url.as_bytes());
            put_headers(out, &r.headers);
            put_bytes(out, &r.body);
        }
        Output::Done(Completion {
            call_id,
            result: Ok(reply),
        }) => {
            out.push(2);
            put_u64(out, *call_id);
            put_u32(out, u32::from(reply.status));
            // As the JSON form: a JSON reply as JSON, other UTF-8 as text, the rest as bytes.
            let text = std::str::from_utf8(&reply.body).is_ok();
            out.push(match (reply.json, text) {
                (true, true) => 0,
                (_, true) => 1,
                _ => 2,
            });
            put_headers(out, &reply.headers);
            put_bytes(out, &reply.body);
        }
        other => {
            out.push(3);
            let mut json = String::with_capacity(256);
            other.write_json(&mut json);
            put_bytes(out, json.as_bytes());
        }
    }
}

/// Drains every output of `engine` into a frame.
fn frame(engine: &mut wxcore::Engine, call_id: u64, now_ms: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(2048);
    put_u64(&mut out, call_id);
    put_u64(&mut out, 0); // wake_at_ms, written below
    put_u32(&mut out, 0); // count, written below
    let mut count: u32 = 0;
    let wake = loop {
        match engine.poll_output(now_ms) {
            wxcore::Output::Idle { wake_at_ms } => break wake_at_ms,
            o => {
                put_output(&mut out, &o);
                count += 1;
            }
        }
    };
    let wake = wake.map_or(-1, |w| i64::try_from(w).unwrap_or(i64::MAX));
    out[8..16].copy_from_slice(&wake.to_le_bytes());
    out[16..20].copy_from_slice(&count.to_le_bytes());
    out
}

/// Hands `frame` to the caller (see the frame's description above).
///
/// # Safety
/// `out` must be writable for `out_cap` bytes, `out_cap >= 8`.
unsafe fn deliver(frame: Vec<u8>, out: i64, out_cap: i32) -> i64 {
    let out = out as usize as *mut u8;
    let len = frame.len();
    if len <= out_cap as usize {
        // SAFETY: the caller's buffer holds `out_cap >= len` bytes (this
        // function's contract) and cannot overlap `frame`, a fresh Rust allocation.
        unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), out, len) };
        return len as i64;
    }
    let spilled = Box::into_raw(frame.into_boxed_slice()) as *mut u8 as usize as u64;
    // SAFETY: `out` holds at least 8 writable bytes (checked by the callers);
    // unaligned, as a JVM buffer's address need not be 8-aligned.
    unsafe { std::ptr::write_unaligned(out as *mut [u8; 8], spilled.to_le_bytes()) };
    -(len as i64)
}

/// Runs `f` on the engine behind `handle` (under its lock) and delivers
/// its frame; catches any panic.
///
/// # Safety
/// `handle` must be live (see [`Engine::from_hot`]); `out` writable for
/// `out_cap` bytes.
unsafe fn hot(
    handle: u64,
    out: i64,
    out_cap: i32,
    f: impl FnOnce(&mut wxcore::Engine) -> Vec<u8>,
) -> i64 {
    if handle == 0 || out == 0 || out_cap < 8 {
        return HOT_BAD_ARGS;
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: `handle` is live (this function's contract).
        let engine = unsafe { Engine::from_hot(handle) };
        let frame = f(&mut engine.engine());
        // SAFETY: `out` is writable for `out_cap >= 8` bytes (contract, checked above).
        unsafe { deliver(frame, out, out_cap) }
    }))
    .unwrap_or(HOT_PANIC)
}

/// The `len` bytes at `addr`, empty for a zero length.
///
/// # Safety
/// `addr` must be readable for `len` bytes while the slice lives.
unsafe fn input<'a>(addr: i64, len: usize) -> &'a [u8] {
    if len == 0 {
        return &[];
    }
    // SAFETY: readable for `len > 0` bytes (contract), so `addr` is not null.
    unsafe { std::slice::from_raw_parts(addr as usize as *const u8, len) }
}

/// `submit_poll` / `submit_with_body_poll`: the call spec (JSON) at `input`,
/// its body right after it (`body_len` bytes; -1: no body); the frame
/// carries the call id.
///
/// # Safety
/// `handle` from `Engine::hot_handle`, not released; `input` readable for
/// `spec_len + max(body_len, 0)` bytes; `out` writable for `out_cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn wxcore_hot_submit(
    handle: u64,
    input_addr: i64,
    spec_len: i32,
    body_len: i32,
    now_ms: i64,
    out: i64,
    out_cap: i32,
) -> i64 {
    if spec_len < 0 || body_len < -1 {
        return HOT_BAD_ARGS;
    }
    let (spec_len, body) = (spec_len as usize, usize::try_from(body_len).ok());
    // SAFETY: `input_addr` is readable for the spec and body (contract).
    let bytes = unsafe { input(input_addr, spec_len + body.unwrap_or(0)) };
    let (spec, rest) = bytes.split_at(spec_len);
    let body = body.map(|_| rest);
    let now_ms = now_ms.max(0) as u64;
    // SAFETY: `handle` and `out` as this function's contract says.
    unsafe {
        hot(handle, out, out_cap, |e| {
            let id = e.submit_json(spec, body, now_ms);
            frame(e, id, now_ms)
        })
    }
}

/// The next `u32` little-endian from `b`.
fn take_u32(b: &mut &[u8]) -> Option<u32> {
    let (n, rest) = b.split_first_chunk::<4>()?;
    *b = rest;
    Some(u32::from_le_bytes(*n))
}

/// The next length-prefixed byte string from `b`.
fn take_bytes<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = take_u32(b)? as usize;
    if b.len() < len {
        return None;
    }
    let (s, rest) = b.split_at(len);
    *b = rest;
    Some(s)
}

/// Header pairs as the driver writes them: a `u32` count, then each name
/// and value length-prefixed. What cannot be read ends the list, as
/// unreadable JSON headers do in `wxcore::wire`.
fn read_headers(mut b: &[u8]) -> Vec<(String, String)> {
    let n = take_u32(&mut b).unwrap_or(0) as usize;
    let mut headers = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let (Some(k), Some(v)) = (take_bytes(&mut b), take_bytes(&mut b)) else {
            break;
        };
        headers.push((
            String::from_utf8_lossy(k).into_owned(),
            String::from_utf8_lossy(v).into_owned(),
        ));
    }
    headers
}

/// `respond_poll`: the response's headers at `input` (`u32` count, then
/// each name and value as a `u32` length and UTF-8), its body right after.
///
/// # Safety
/// `handle` from `Engine::hot_handle`, not released; `input` readable for
/// `headers_len + body_len` bytes; `out` writable for `out_cap` bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn wxcore_hot_respond(
    handle: u64,
    request_id: i64,
    status: i32,
    input_addr: i64,
    headers_len: i32,
    body_len: i32,
    now_ms: i64,
    out: i64,
    out_cap: i32,
) -> i64 {
    let (Ok(headers_len), Ok(body_len), Ok(status)) = (
        usize::try_from(headers_len),
        usize::try_from(body_len),
        u16::try_from(status),
    ) else {
        return HOT_BAD_ARGS;
    };
    // SAFETY: `input_addr` is readable for the headers and body (contract).
    let bytes = unsafe { input(input_addr, headers_len + body_len) };
    let (headers, body) = bytes.split_at(headers_len);
    let now_ms = now_ms.max(0) as u64;
    // SAFETY: `handle` and `out` as this function's contract says.
    unsafe {
        hot(handle, out, out_cap, |e| {
            let response = wxcore::HttpResponse {
                status,
                headers: read_headers(headers),
                body: body.to_vec(),
            };
            e.handle_response(request_id as u64, response, now_ms);
            frame(e, 0, now_ms)
        })
    }
}

/// `poll`: every pending output.
///
/// # Safety
/// `handle` from `Engine::hot_handle`, not released; `out` writable for `out_cap` bytes.
#[no_mangle]
pub unsafe extern "C" fn wxcore_hot_poll(handle: u64, now_ms: i64, out: i64, out_cap: i32) -> i64 {
    let now_ms = now_ms.max(0) as u64;
    // SAFETY: `handle` and `out` as this function's contract says.
    unsafe { hot(handle, out, out_cap, |e| frame(e, 0, now_ms)) }
}

/// Frees a frame a hot-path function left in Rust's memory (`addr`, `len`
/// as it reported them).
///
/// # Safety
/// `addr` and `len` exactly as reported, each frame freed once.
#[no_mangle]
pub unsafe extern "C" fn wxcore_hot_free(addr: i64, len: i64) {
    if addr == 0 {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        let slice = std::ptr::slice_from_raw_parts_mut(addr as usize as *mut u8, len as usize);
        // SAFETY: `deliver` made this `Box<[u8]>` of `len` bytes with
        // `Box::into_raw`, and the caller frees it once (contract).
        drop(unsafe { Box::from_raw(slice) });
    });
}

/// Releases a handle from `Engine::hot_handle` (the engine lives on while
/// its uniffi object does).
///
/// # Safety
/// `handle` from `Engine::hot_handle`, released once, unused afterwards.
#[no_mangle]
pub unsafe extern "C" fn wxcore_hot_release(handle: u64) {
    if handle == 0 {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: `hot_handle` made `handle` with `Arc::into_raw`; this is
        // its one release (contract).
        drop(unsafe { Arc::from_raw(handle as usize as *const Engine) });
    });
}

#[cfg(test)]
mod hot_tests {
    use super::*;

    const CONFIG: &str = r#"{"apps":[{"id":"r","platform":"result","base_url":"https://r.example","secret":"T",
        "token_placement":{"in":"header","name":"token_id"}}]}"#;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }

    /// Reads a frame the way the driver does; a spilled frame is copied and freed.
    fn read(ret: i64, out: &[u8]) -> Vec<u8> {
        assert!(ret != HOT_PANIC && ret != HOT_BAD_ARGS, "{ret}");
        if ret >= 0 {
            return out[..ret as usize].to_vec();
        }
        let addr = u64_at(out, 0) as i64;
        // SAFETY: `deliver` left `-ret` bytes at `addr`, freed right after the copy.
        let copy =
            unsafe { std::slice::from_raw_parts(addr as usize as *const u8, (-ret) as usize) }
                .to_vec();
        // SAFETY: as reported, once.
        unsafe { wxcore_hot_free(addr, -ret) };
        copy
    }

    #[test]
    fn a_call_goes_round_the_hot_path_on_the_uniffi_engine() {
        let engine = Engine::new(CONFIG.into(), 0).unwrap();
        let handle = engine.clone().hot_handle();
        let mut out = vec![0u8; 4096];
        let spec = br#"{"app":"r","path":"/x","query":[["a","1"]]}"#;
        // SAFETY: a live handle, `spec` readable, `out` writable for its length.
        let ret = unsafe {
            wxcore_hot_submit(
                handle,
                spec.as_ptr() as i64,
                spec.len() as i32,
                -1,
                0,
                out.as_mut_ptr() as i64,
                out.len() as i32,
            )
        };
        let f = read(ret, &out);
        assert_eq!(u64_at(&f, 0), 1, "the call id");
        assert_eq!(u32_at(&f, 16), 1, "one output");
        assert_eq!(f[20], 1, "a send");
        let request_id = u64_at(&f, 21);
        assert!(String::from_utf8_lossy(&f).contains("https://r.example/x?a=1"));

        // Headers (one pair) and a body larger than `out`: the frame spills.
        let mut input = Vec::new();
        put_u32(&mut input, 1);
        put_bytes(&mut input, b"Content-Type");
        put_bytes(&mut input, b"application/json");
        let headers_len = input.len();
        let body = format!(r#"{{"result":"success","pad":"{}"}}"#, "x".repeat(8000));
        input.extend_from_slice(body.as_bytes());
        // SAFETY: as above; `input` readable for headers and body.
        let ret = unsafe {
            wxcore_hot_respond(
                handle,
                request_id as i64,
                200,
                input.as_ptr() as i64,
                headers_len as i32,
                body.len() as i32,
                1,
                out.as_mut_ptr() as i64,
                out.len() as i32,
            )
        };
        assert!(ret < 0, "spilled");
        let f = read(ret, &out);
        assert_eq!(u32_at(&f, 16), 1);
        assert_eq!(
            (f[20], u64_at(&f, 21), u32_at(&f, 29), f[33]),
            (2, 1, 200, 0),
            "done, call 1, 200, JSON"
        );
        assert!(f.ends_with(body.as_bytes()));

        // The uniffi object sees the same engine: nothing left to poll there either.
        assert!(engine.poll(2).contains(r#""outputs":[]"#));
        // SAFETY: a live handle and buffer.
        let f = read(
            unsafe { wxcore_hot_poll(handle, 2, out.as_mut_ptr() as i64, out.len() as i32) },
            &out,
        );
        assert_eq!(u32_at(&f, 16), 0);
        // SAFETY: released once, unused afterwards.
        unsafe { wxcore_hot_release(handle) };
        assert_eq!(Arc::strong_count(&engine), 1);
    }

    #[test]
    fn bad_arguments_are_refused_and_failures_come_as_json() {
        let engine = Engine::new(CONFIG.into(), 0).unwrap();
        let handle = engine.clone().hot_handle();
        let mut out = vec![0u8; 4096];
        // SAFETY: the checks run before anything is read.
        unsafe {
            assert_eq!(
                wxcore_hot_poll(0, 0, out.as_mut_ptr() as i64, 4096),
                HOT_BAD_ARGS
            );
            assert_eq!(
                wxcore_hot_poll(handle, 0, out.as_mut_ptr() as i64, 4),
                HOT_BAD_ARGS
            );
            assert_eq!(
                wxcore_hot_submit(handle, 0, -1, -1, 0, out.as_mut_ptr() as i64, 4096),
                HOT_BAD_ARGS
            );
        }
        let spec = br#"{"app":"r","pth":"/x"}"#;
        // SAFETY: a live handle, `spec` readable, `out` writable.
        let f = read(
            unsafe {
                wxcore_hot_submit(
                    handle,
                    spec.as_ptr() as i64,
                    spec.len() as i32,
                    -1,
                    0,
                    out.as_mut_ptr() as i64,
                    out.len() as i32,
                )
            },
            &out,
        );
        assert_eq!(f[20], 3, "a failed done as JSON");
        let json = std::str::from_utf8(&f[25..25 + u32_at(&f, 21) as usize]).unwrap();
        assert!(
            json.starts_with(r#"{"done":"#) && json.contains(r#""kind":"invalid_request""#),
            "{json}"
        );
        // SAFETY: released once.
        unsafe { wxcore_hot_release(handle) };
    }
}
