//! What the host submits ([`Call`]) and what a successful call returns ([`Reply`]).

use crate::http::Method;

/// Identifies a submitted call; every call ends in exactly one `Output::Done` with its id.
pub type CallId = u64;

/// A request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Body {
    /// Content type (`application/json`, `multipart/form-data; boundary=…`).
    pub content_type: String,
    /// The bytes, passed through untouched.
    pub bytes: Vec<u8>,
}

/// A business API call.
#[derive(Clone, Debug, PartialEq, Eq)]
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
                bytes: json.into(),
            }),
            idempotent: false,
        }
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
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
/// host language's own parser) or binary (media download).
#[derive(Clone, Debug, PartialEq, Eq)]
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
