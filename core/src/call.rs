//! What the host submits ([`Call`]) and what a successful call returns ([`Reply`]).

use crate::http::{HeaderNames, Method, Redacted};
use std::fmt;

/// Identifies a submitted call; every call ends in exactly one `Output::Done` with its id.
pub type CallId = u64;

/// A map keyed by the ids the engine itself hands out (calls, requests,
/// store operations): hashed with one multiplication instead of SipHash,
/// which was a tenth of a call's time. Safe without SipHash's keyed
/// defence: nobody outside the engine chooses these keys.
pub(crate) type IdMap<V> =
    std::collections::HashMap<u64, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Fibonacci hashing of a `u64`: the high bits (which the table reads
/// first) vary with every low bit of the sequential ids.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys reach this hasher; bytes just in case, folded in.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A request body. `Debug` shows its type, length and digest: a body can
/// hold personal data or, on a custom API, a credential.
#[derive(Clone, PartialEq, Eq)]
pub struct Body {
    /// Content type (`application/json`, `multipart/form-data; boundary=…`).
    pub content_type: String,
    /// The bytes, passed through untouched (shared with each send of the call, not copied).
    pub bytes: bytes::Bytes,
}

/// A business API call. `Debug` shows query parameter names, not values.
#[derive(Clone, PartialEq, Eq)]
pub struct Call {
    /// The app's configured `id`.
    pub app: String,
    /// `GET`, `POST`, … (any case); anything else completes with `invalid_request`.
    pub method: String,
    /// The API path, starting with `/` (`/cgi-bin/user/info`).
    pub path: String,
    /// Query parameters, in order; the engine adds the token where the profile says.
    pub query: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Body>,
    /// The caller vouches that resending is harmless (GET always is).
    pub idempotent: bool,
    /// This call's deadline from `submit` to `Done`, overriding the
    /// config's `call_timeout_ms`.
    pub timeout_ms: Option<u64>,
}

impl Call {
    /// A GET call.
    pub fn get(app: impl Into<String>, path: impl Into<String>) -> Self {
        Call {
            app: app.into(),
            method: "GET".into(),
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotent: false,
            timeout_ms: None,
        }
    }

    /// A POST call with a JSON body (already serialised by the host).
    pub fn post_json(
        app: impl Into<String>,
        path: impl Into<String>,
        json: impl Into<Vec<u8>>,
    ) -> Self {
        Call {
            app: app.into(),
            method: "POST".into(),
            path: path.into(),
            query: Vec::new(),
            body: Some(Body {
                content_type: "application/json".into(),
                bytes: bytes::Bytes::from(Into::<Vec<u8>>::into(json)),
            }),
            idempotent: false,
            timeout_ms: None,
        }
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Sets this call's deadline (from `submit` to `Done`).
    pub fn timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = Some(ms);
        self
    }

    /// Marks the call safe to resend.
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    pub(crate) fn parsed_method(&self) -> Option<Method> {
        Method::parse(&self.method)
    }
}

/// A successful answer. `json` says whether `body` is JSON (parse it with the
/// host language's own parser) or binary (media download). `Debug` shows
/// the body's length and digest: a reply can carry a ticket or a token.
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers as received.
    pub headers: Vec<(String, String)>,
    /// The body, untouched.
    pub body: Vec<u8>,
    /// True when the body is JSON.
    pub json: bool,
}

impl Reply {
    /// The body parsed as JSON, when it is JSON.
    pub fn json_value(&self) -> Option<serde_json::Value> {
        if self.json {
            serde_json::from_slice(&self.body).ok()
        } else {
            None
        }
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("content_type", &self.content_type)
            .field("bytes", &Redacted(&self.bytes))
            .finish()
    }
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("app", &self.app)
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &HeaderNames(&self.query))
            .field("body", &self.body)
            .field("idempotent", &self.idempotent)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &HeaderNames(&self.headers))
            .field("body", &Redacted(&self.body))
            .field("json", &self.json)
            .finish()
    }
}
