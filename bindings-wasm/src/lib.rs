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

/// The engine (low level: the npm package's `Client` drives it for you).
#[wasm_bindgen]
pub struct Engine {
    inner: wxcore::Engine,
}

#[wasm_bindgen]
impl Engine {
    /// A new engine from the JSON configuration.
    #[wasm_bindgen(constructor)]
    pub fn new(config_json: &str, now_ms: f64) -> Result<Engine, JsValue> {
        let config = wxcore::Config::from_json(config_json).map_err(thrown)?;
        let inner = wxcore::Engine::new(config, u(now_ms)).map_err(thrown)?;
        Ok(Engine { inner })
    }

    /// A new engine carrying on from `exportState()`.
    pub fn restore(config_json: &str, state_json: &str, now_ms: f64) -> Result<Engine, JsValue> {
        let config = wxcore::Config::from_json(config_json).map_err(thrown)?;
        let inner = wxcore::Engine::restore(config, state_json, u(now_ms)).map_err(thrown)?;
        Ok(Engine { inner })
    }

    /// Submits a call (JSON spec) with an optional body; returns its id.
    pub fn submit(&mut self, spec: &str, body: Option<Vec<u8>>, now_ms: f64) -> f64 {
        self.inner
            .submit_json(spec.as_bytes(), body.as_deref(), u(now_ms)) as f64
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

    /// Feeds a transport failure: `dns`, `connect`, `timeout`, `reset` or `tls`.
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

    /// The durable state as JSON.
    #[wasm_bindgen(js_name = exportState)]
    pub fn export_state(&self) -> String {
        self.inner.export_state()
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
