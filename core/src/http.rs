//! The HTTP contract with the host: the engine emits [`HttpRequest`]s and is
//! fed [`HttpResponse`]s or transport errors.

use serde::Deserialize;
use std::fmt;

/// A request for the host to send. `url` and `body` may carry a token or a
/// secret (that is how the platforms take them), so `Debug` shows neither.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Pass back to `handle_response` / `handle_transport_error`.
    pub id: u64,
    /// `GET`, `POST`, …
    pub method: &'static str,
    /// Full URL with query.
    pub url: String,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// Body (empty for none).
    pub body: bytes::Bytes,
    /// Give up after this long and report `timeout`.
    pub timeout_ms: u64,
}

impl HttpRequest {
    /// The URL without its query string (safe to log).
    pub fn url_without_query(&self) -> &str {
        self.url.split('?').next().unwrap_or(&self.url)
    }
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("id", &self.id)
            .field("method", &self.method)
            .field("url", &self.url_without_query())
            .field("headers", &HeaderNames(&self.headers))
            .field("body", &Redacted(&self.body))
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// An answer the host received. Its body can hold a token (the token
/// endpoint's answer, a ticket), so `Debug` shows its length and a digest.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers (any case).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &HeaderNames(&self.headers))
            .field("body", &Redacted(&self.body))
            .finish()
    }
}

/// Bytes that may hold a secret, shown as their length and the first
/// 32 bits of their SHA-256 (enough to tell two bodies apart in a log).
pub(crate) struct Redacted<'a>(pub(crate) &'a [u8]);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use sha2::{Digest, Sha256};
        let d = Sha256::digest(self.0);
        write!(f, "<{} bytes, sha256 {}…>", self.0.len(), hex(&d[..4]))
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Header names only: values can carry credentials (`access-token`, `token_id`).
pub(crate) struct HeaderNames<'a>(pub(crate) &'a [(String, String)]);

impl fmt::Debug for HeaderNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

impl HttpResponse {
    /// A 200 answer with a JSON body.
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        HttpResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
    /// PATCH
    Patch,
}

impl Method {
    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
        }
    }

    /// Parses a method name, any case.
    pub fn parse(s: &str) -> Option<Method> {
        Some(match s.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            _ => return None,
        })
    }
}
