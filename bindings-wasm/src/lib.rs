//! wasm-bindgen glue for wxcore: the engine for JavaScript, JSON text and
//! bytes across the boundary (see `wxcore::wire`). Conversion only.
//!
//! Times and ids are JavaScript numbers (exact below 2^53); errors are
//! thrown as real `Error`s carrying `kind`, `field` and `code`.

use wasm_bindgen::prelude::*;

fn u(x: f64) -> u64 {
    if x.is_finite() && x > 0.0 {
        x as u64
    } else {
        0
    }
}

fn thrown(e: wxcore::ConfigError) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    let set = |k: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(&err, &JsValue::from_str(k), &v);
    };
    set("name", JsValue::from_str("WxError"));
    set("kind", JsValue::from_str("config"));
    set("field", JsValue::from_str(&e.field));
    set("code", JsValue::NULL);
    set("retryAfterMs", JsValue::NULL);
    err.into()
}

fn refused(e: wxcore::callback::CallbackError) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    for (k, v) in [
        ("name", "WxError"),
        ("kind", e.kind.as_str()),
        ("reason", e.reason),
    ] {
        let _ = js_sys::Reflect::set(&err, &JsValue::from_str(k), &JsValue::from_str(v));
    }
    err.into()
}

/// WXBizMsgCrypt for one app (see `wxcore::callback`).
#[wasm_bindgen]
pub struct CallbackCrypto {
    inner: wxcore::callback::CallbackCrypto,
}

#[wasm_bindgen]
impl CallbackCrypto {
    /// Throws when the EncodingAESKey is not 43 base64 characters.
    #[wasm_bindgen(constructor)]
    pub fn new(
        token: &str,
        encoding_aes_key: &str,
        receive_id: &str,
    ) -> Result<CallbackCrypto, JsValue> {
        let inner = wxcore::callback::CallbackCrypto::new(token, encoding_aes_key, receive_id)
            .map_err(refused)?;
        Ok(CallbackCrypto { inner })
    }

    /// Accepts any of these receive ids instead of exactly the configured one.
    #[wasm_bindgen(js_name = acceptReceiveIds)]
    pub fn accept_receive_ids(&mut self, ids: Vec<String>) {
        self.inner = self.inner.clone().accept_receive_ids(ids);
    }

    /// Turns on the replay window (checked against the `nowS` passed to each call).
    #[wasm_bindgen(js_name = maxAge)]
    pub fn max_age(&mut self, seconds: f64) {
        self.inner = self.inner.clone().max_age(u(seconds));
    }

    /// Which URL check this receiver accepts: `signature`, `msg_signature` or `either`.
    #[wasm_bindgen(js_name = urlCheck)]
    pub fn url_check(&mut self, style: &str) -> Result<(), JsValue> {
        let style = wxcore::callback::UrlCheck::parse(style).map_err(refused)?;
        self.inner = self.inner.clone().url_check(style);
        Ok(())
    }

    /// URL verification with the name of the parameter that carried the
    /// signature (`signature` or `msg_signature`): the core decides the style.
    #[wasm_bindgen(js_name = verifyUrlParam)]
    pub fn verify_url_param(
        &self,
        param: &str,
        signature: &str,
        timestamp: &str,
        nonce: &str,
        echostr: &str,
        now_s: Option<f64>,
    ) -> Result<String, JsValue> {
        self.inner
            .verify_url_param_at(param, signature, timestamp, nonce, echostr, now_s.map(u))
            .map_err(refused)
    }

    /// URL verification, the style as the receiver's `urlCheck` says.
    #[wasm_bindgen(js_name = verifyUrl)]
    pub fn verify_url(
        &self,
        signature: &str,
        timestamp: &str,
        nonce: &str,
        echostr: &str,
        now_s: Option<f64>,
    ) -> Result<String, JsValue> {
        self.inner
            .verify_url_at(signature, timestamp, nonce, echostr, now_s.map(u))
            .map_err(refused)
    }

    /// Verifies and decrypts a callback body (XML or JSON).
    pub fn decrypt(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        body: &str,
        now_s: Option<f64>,
    ) -> Result<String, JsValue> {
        self.inner
            .decrypt_at(msg_signature, timestamp, nonce, body, now_s.map(u))
            .map_err(refused)
    }

    /// The AES-256 key (IV: its first 16 bytes), for the host's own AES in
    /// `decryptPrepare`/`decryptFinish`.
    #[wasm_bindgen(js_name = aesKey)]
    pub fn aes_key(&self) -> Vec<u8> {
        self.inner.aes_key().to_vec()
    }

    /// `decrypt`'s first half (`wxcore::callback::CallbackCrypto::decrypt_prepare`), the body as UTF-8 bytes:
    /// `undefined` when the host should call `decrypt` for the refusal,
    /// else `u32` length, the bytes to SHA-1, then the ciphertext to
    /// decrypt. Throws the refusals it can decide alone.
    #[wasm_bindgen(js_name = decryptPrepare)]
    pub fn decrypt_prepare(
        &self,
        timestamp: &str,
        nonce: &str,
        body: &[u8],
        now_s: Option<f64>,
    ) -> Result<Option<Vec<u8>>, JsValue> {
        // Bytes, not a string: a memcpy into wasm rather than the glue's
        // character loop over a kilobyte of body.
        // Not UTF-8: `decrypt` (the host's fallback) decides, as before.
        let Ok(body) = std::str::from_utf8(body) else {
            return Ok(None);
        };
        let prepared = self
            .inner
            .decrypt_prepare(timestamp, nonce, body, now_s.map(u))
            .map_err(refused)?;
        Ok(prepared.map(|p| {
            let mut out = Vec::with_capacity(4 + p.signed.len() + p.ciphertext.len());
            out.extend_from_slice(&(p.signed.len() as u32).to_le_bytes());
            out.extend_from_slice(&p.signed);
            out.extend_from_slice(&p.ciphertext);
            out
        }))
    }

    /// `decrypt`'s second half: every check on the host's SHA-1 digest and
    /// decrypted blocks (see `decrypt_finish`); the plaintext.
    #[wasm_bindgen(js_name = decryptFinish)]
    pub fn decrypt_finish(
        &self,
        msg_signature: &str,
        sha1: &[u8],
        plain: &[u8],
    ) -> Result<String, JsValue> {
        self.inner
            .decrypt_finish(msg_signature, sha1, plain)
            .map_err(refused)
    }

    /// Framework glue: a callback request in (`query` as [k1, v1, k2, v2, …],
    /// `body` as sent); out, as JSON text, `{"echo": body}` for a URL check or
    /// `{"plaintext": …, "message": {…}}` for a verified message (nested
    /// elements as objects, repeated ones as arrays).
    #[wasm_bindgen(js_name = handleRequest)]
    pub fn handle_request(
        &self,
        method: &str,
        query: Vec<String>,
        body: &[u8],
        now_s: Option<f64>,
    ) -> Result<String, JsValue> {
        let pairs: Vec<(String, String)> = query
            .chunks(2)
            .map(|kv| (kv[0].clone(), kv.get(1).cloned().unwrap_or_default()))
            .collect();
        let query = serde_json::to_vec(&pairs).unwrap_or_default();
        let inbound = self
            .inner
            .handle_request_bytes(method, &query, body, now_s.map(u))
            .map_err(refused)?;
        Ok(match inbound {
            wxcore::callback::Inbound::Echo(echo) => serde_json::json!({ "echo": echo }),
            wxcore::callback::Inbound::Message { plaintext, message } => {
                serde_json::json!({ "plaintext": plaintext, "message": message.value })
            }
        }
        .to_string())
    }

    /// Verifies and decrypts into the message as JSON text (nested elements
    /// as objects, repeated ones as arrays); `body` as sent.
    #[wasm_bindgen(js_name = decryptMessage)]
    pub fn decrypt_message(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        body: &[u8],
        now_s: Option<f64>,
    ) -> Result<String, JsValue> {
        Ok(self
            .inner
            .decrypt_message_bytes(msg_signature, timestamp, nonce, body, now_s.map(u))
            .map_err(refused)?
            .to_json())
    }

    /// The encrypted reply's XML body; `random16`: 16 bytes from the host's CSPRNG.
    pub fn encrypt(
        &self,
        reply: &str,
        timestamp: &str,
        nonce: &str,
        random16: &[u8],
    ) -> Result<String, JsValue> {
        let r: [u8; 16] = random16.try_into().map_err(|_| {
            thrown(wxcore::ConfigError {
                field: "random16".into(),
                message: "must be exactly 16 bytes".into(),
            })
        })?;
        Ok(self.inner.encrypt(reply, timestamp, nonce, r).to_xml())
    }
}

#[cfg(feature = "api-security")]
fn exact<const N: usize>(bytes: &[u8], field: &str) -> Result<[u8; N], JsValue> {
    bytes.try_into().map_err(|_| {
        thrown(wxcore::ConfigError {
            field: field.into(),
            message: format!("must be exactly {N} bytes"),
        })
    })
}

/// API security: seals `plaintext` into `{"iv","data","authtag"}`.
#[cfg(feature = "api-security")]
#[wasm_bindgen(js_name = apiSecuritySeal)]
pub fn api_security_seal(
    sym_key: &str,
    sym_sn: &str,
    app_id: &str,
    url_path: &str,
    timestamp: f64,
    iv: &[u8],
    plaintext: &[u8],
) -> Result<String, JsValue> {
    let key = wxcore::api_security::sym_key(sym_key).map_err(refused)?;
    let iv = exact::<12>(iv, "iv")?;
    Ok(wxcore::api_security::seal(
        &key,
        sym_sn,
        app_id,
        url_path,
        u(timestamp),
        &iv,
        plaintext,
    ))
}

/// API security: opens a sealed body; the plaintext bytes.
#[cfg(feature = "api-security")]
#[wasm_bindgen(js_name = apiSecurityOpen)]
pub fn api_security_open(
    sym_key: &str,
    sym_sn: &str,
    app_id: &str,
    url_path: &str,
    timestamp: f64,
    body: &[u8],
) -> Result<Vec<u8>, JsValue> {
    let key = wxcore::api_security::sym_key(sym_key).map_err(refused)?;
    wxcore::api_security::open(&key, sym_sn, app_id, url_path, u(timestamp), body).map_err(refused)
}

/// API security: RSA-PSS SHA-256 signature (base64); `seed`: 32 bytes from the host's CSPRNG.
#[cfg(feature = "api-security")]
#[wasm_bindgen(js_name = apiSecuritySign)]
pub fn api_security_sign(
    private_key_pem: &str,
    url_path: &str,
    app_id: &str,
    timestamp: f64,
    data: &[u8],
    seed: &[u8],
) -> Result<String, JsValue> {
    let seed = exact::<32>(seed, "seed")?;
    wxcore::api_security::sign(private_key_pem, url_path, app_id, u(timestamp), data, seed)
        .map_err(refused)
}

/// API security: whether `signature` verifies under `key_pem` (certificate, public or private key).
#[cfg(feature = "api-security")]
#[wasm_bindgen(js_name = apiSecurityVerify)]
pub fn api_security_verify(
    key_pem: &str,
    url_path: &str,
    app_id: &str,
    timestamp: f64,
    data: &[u8],
    signature: &str,
) -> Result<bool, JsValue> {
    wxcore::api_security::verify(key_pem, url_path, app_id, u(timestamp), data, signature)
        .map_err(refused)
}

/// The JS-SDK signature (the URL's `#fragment` removed).
#[wasm_bindgen(js_name = jssdkSignature)]
pub fn jssdk_signature(jsapi_ticket: &str, noncestr: &str, timestamp: &str, url: &str) -> String {
    wxcore::callback::jssdk_signature(jsapi_ticket, noncestr, timestamp, url)
}

/// The `wx.config` object as JSON text.
#[wasm_bindgen(js_name = jssdkConfigJson)]
pub fn jssdk_config_json(
    app_id: &str,
    jsapi_ticket: &str,
    noncestr: &str,
    timestamp: &str,
    url: &str,
) -> String {
    wxcore::callback::jssdk_config(app_id, jsapi_ticket, noncestr, timestamp, url).to_json()
}

/// The engine (low level: the npm package's `Client` drives it for you).
#[wasm_bindgen]
pub struct Engine {
    inner: wxcore::Engine,
    /// The last frame's large bodies, until `takeBody` hands each to JS.
    detached: Vec<wxcore::Bytes>,
}

impl Engine {
    fn frame(&mut self, call_id: u64, now_ms: f64) -> Vec<u8> {
        // A body the host never took is dropped with the next frame.
        self.detached.clear();
        self.inner
            .poll_frame_detached(call_id, u(now_ms), &mut self.detached)
    }
}

#[wasm_bindgen]
impl Engine {
    /// A new engine from the JSON configuration.
    #[wasm_bindgen(constructor)]
    pub fn new(config_json: &str, now_ms: f64) -> Result<Engine, JsValue> {
        let config = wxcore::Config::from_json(config_json).map_err(thrown)?;
        let inner = wxcore::Engine::new(config, u(now_ms)).map_err(thrown)?;
        Ok(Engine {
            inner,
            detached: Vec::new(),
        })
    }

    /// A new engine carrying on from `exportState()`.
    pub fn restore(config_json: &str, state_json: &str, now_ms: f64) -> Result<Engine, JsValue> {
        let config = wxcore::Config::from_json(config_json).map_err(thrown)?;
        let inner = wxcore::Engine::restore(config, state_json, u(now_ms)).map_err(thrown)?;
        Ok(Engine {
            inner,
            detached: Vec::new(),
        })
    }

    /// Submits a call (JSON spec) with an optional body; returns its id.
    pub fn submit(&mut self, spec: &str, body: Option<Vec<u8>>, now_ms: f64) -> f64 {
        self.inner
            .submit_json_owned(spec.as_bytes(), body, u(now_ms)) as f64
    }

    /// Feeds an HTTP answer; `headers_json` is `{"name": "value"}` or pairs.
    #[wasm_bindgen(js_name = handleResponse)]
    pub fn handle_response(
        &mut self,
        request_id: f64,
        status: u16,
        headers_json: &str,
        body: &[u8],
        now_ms: f64,
    ) {
        self.inner.handle_response_json(
            u(request_id),
            status,
            headers_json.as_bytes(),
            body,
            u(now_ms),
        )
    }

    /// Feeds a transport failure: `dns`, `dns_timeout`, `connect`,
    /// `connect_timeout`, `timeout`, `reset` or `tls`.
    #[wasm_bindgen(js_name = handleTransportError)]
    pub fn handle_transport_error(&mut self, request_id: f64, kind: &str, now_ms: f64) {
        self.inner
            .handle_transport_error_named(u(request_id), kind, u(now_ms))
    }

    /// Feeds a store result (JSON: value, ok, locked, count or error).
    #[wasm_bindgen(js_name = handleStoreResult)]
    pub fn handle_store_result(&mut self, op_id: f64, result_json: &str, now_ms: f64) {
        self.inner
            .handle_store_result_json(u(op_id), result_json.as_bytes(), u(now_ms))
    }

    /// Withdraws a call (see the core's `Engine::cancel`); false if it had
    /// already completed.
    pub fn cancel(&mut self, call_id: f64, now_ms: f64) -> bool {
        self.inner.cancel(u(call_id), u(now_ms))
    }

    /// A request to an app's callback URL carrying a pushed ticket (see the
    /// core's `Engine::handle_push`); throws a WxError with `kind` and
    /// `reason` when refused.
    #[wasm_bindgen(js_name = handlePush)]
    pub fn handle_push(
        &mut self,
        app: &str,
        method: &str,
        query_json: &str,
        body: &[u8],
        now_ms: f64,
    ) -> Result<String, JsValue> {
        self.inner
            .handle_push_json(app, method, query_json.as_bytes(), body, u(now_ms))
            .map_err(refused)
    }

    /// Submits and returns the outputs at once: `{"call_id": n, "outputs": […], "wake_at_ms": …}`.
    #[wasm_bindgen(js_name = submitPoll)]
    pub fn submit_poll(&mut self, spec: &str, body: Option<Vec<u8>>, now_ms: f64) -> String {
        self.inner
            .submit_poll_json(spec.as_bytes(), body.as_deref(), u(now_ms))
    }

    /// Feeds an HTTP answer and returns the outputs it caused, in one crossing.
    #[wasm_bindgen(js_name = respondPoll)]
    pub fn respond_poll(
        &mut self,
        request_id: f64,
        status: u16,
        headers_json: &str,
        body: &[u8],
        now_ms: f64,
    ) -> String {
        self.inner.respond_poll_json(
            u(request_id),
            status,
            headers_json.as_bytes(),
            body,
            u(now_ms),
        )
    }

    /// Every pending output as JSON text: `{"outputs": […], "wake_at_ms": n | null}`.
    pub fn poll(&mut self, now_ms: f64) -> String {
        self.inner.poll_json(u(now_ms))
    }

    /// [`Engine::submit_poll`] with the outputs as a frame
    /// (`wxcore::wire::frame`, bodies of 64 KiB or more detached: take
    /// each with `takeBody`). What the Node driver uses: no JSON document
    /// per crossing, no body copied into a frame or escaped into JSON.
    #[wasm_bindgen(js_name = submitPollFrame)]
    pub fn submit_poll_frame(&mut self, spec: &str, body: Option<Vec<u8>>, now_ms: f64) -> Vec<u8> {
        let id = self
            .inner
            .submit_json_owned(spec.as_bytes(), body, u(now_ms));
        self.frame(id, now_ms)
    }

    /// [`Engine::respond_poll`] with headers and outputs as frames; the
    /// body moves into the engine without another copy.
    #[wasm_bindgen(js_name = respondPollFrame)]
    pub fn respond_poll_frame(
        &mut self,
        request_id: f64,
        status: u16,
        headers: &[u8],
        body: Vec<u8>,
        now_ms: f64,
    ) -> Vec<u8> {
        self.inner
            .handle_response_frame(u(request_id), status, headers, body, u(now_ms));
        self.frame(0, now_ms)
    }

    /// [`Engine::poll`] as a frame.
    #[wasm_bindgen(js_name = pollFrame)]
    pub fn poll_frame(&mut self, now_ms: f64) -> Vec<u8> {
        self.frame(0, now_ms)
    }

    /// A body the last frame detached (its index there), copied once,
    /// straight from wasm memory into a new JS array; each is released here.
    #[wasm_bindgen(js_name = takeBody)]
    pub fn take_body(&mut self, index: u32) -> js_sys::Uint8Array {
        let body = self
            .detached
            .get_mut(index as usize)
            .map(std::mem::take)
            .unwrap_or_default();
        js_sys::Uint8Array::from(&body[..])
    }

    /// The durable state as JSON.
    #[wasm_bindgen(js_name = exportState)]
    pub fn export_state(&self) -> String {
        self.inner.export_state()
    }

    /// The status snapshot as JSON text (see `wxcore::Engine::status`): token
    /// ids, never tokens.
    #[wasm_bindgen(js_name = statusJson)]
    pub fn status_json(&self, now_ms: f64) -> String {
        self.inner.status_json(u(now_ms))
    }

    /// The Prometheus text exposition of the engine's counters and gauges.
    #[wasm_bindgen(js_name = metricsText)]
    pub fn metrics_text(&self, now_ms: f64) -> String {
        self.inner.metrics_text(u(now_ms))
    }
}

/// The stable error kind names.
#[wasm_bindgen(js_name = errorKinds)]
pub fn error_kinds() -> Vec<String> {
    wxcore::ErrorKind::ALL
        .iter()
        .map(|k| k.as_str().to_string())
        .collect()
}
