//! The default transport: reqwest (rustls, HTTP/1.1 keep-alive and HTTP/2).

use crate::{BoxFuture, Http};
use std::time::Duration;
use wxcore::{HttpRequest, HttpResponse, TransportErrorKind};

/// HTTP over reqwest with a pooled client. Redirects are not followed: the
/// engine reads a redirect as the platform's answer.
#[derive(Clone)]
pub struct ReqwestHttp {
    client: reqwest::Client,
}

impl Default for ReqwestHttp {
    fn default() -> Self {
        Self::new()
    }
}

impl ReqwestHttp {
    /// A pooled client with connect timeout 3 s (seed 004 §7's threshold).
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(3))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .expect("a reqwest client");
        ReqwestHttp { client }
    }
}

impl Http for ReqwestHttp {
    fn send(&self, req: HttpRequest) -> BoxFuture<Result<HttpResponse, TransportErrorKind>> {
        let client = self.client.clone();
        Box::pin(async move {
            let method = reqwest::Method::from_bytes(req.method.as_bytes())
                .map_err(|_| TransportErrorKind::Reset)?;
            let mut b = client
                .request(method, &req.url)
                .timeout(Duration::from_millis(req.timeout_ms));
            for (k, v) in &req.headers {
                b = b.header(k, v);
            }
            if !req.body.is_empty() {
                b = b.body(req.body);
            }
            let resp = b.send().await.map_err(|e| classify(&e))?;
            let status = resp.status().as_u16();
            let headers = resp
                .headers()
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect();
            let body = resp.bytes().await.map_err(|e| classify(&e))?.to_vec();
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        })
    }
}

/// How a request failed, as the engine's failover and retry rules read it.
fn classify(e: &reqwest::Error) -> TransportErrorKind {
    let chain = {
        let mut s = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(x) = src {
            s.push_str(": ");
            s.push_str(&x.to_string());
            src = x.source();
        }
        s.to_ascii_lowercase()
    };
    if e.is_timeout() && e.is_connect() {
        TransportErrorKind::ConnectTimeout
    } else if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if chain.contains("dns error") || chain.contains("failed to lookup") {
        TransportErrorKind::Dns
    } else if chain.contains("certificate") || chain.contains("tls") {
        TransportErrorKind::Tls
    } else if e.is_connect() {
        TransportErrorKind::Connect
    } else {
        TransportErrorKind::Reset
    }
}
