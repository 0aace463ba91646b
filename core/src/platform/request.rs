//! Building the HTTP requests: URLs with encoded queries, token placement,
//! token-endpoint parameters.

use crate::platform::account::{Account as App, Endpoint, Held};
use crate::platform::profile::{ParamsIn, PlacementIn};

/// Percent-encodes a query component (RFC 3986 unreserved characters stay).
pub(crate) fn encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

fn push_pair(url: &mut String, first: &mut bool, k: &str, v: &str) {
    url.push(if *first { '?' } else { '&' });
    *first = false;
    encode_into(url, k);
    url.push('=');
    encode_into(url, v);
}

/// URL and headers of a business call: the token (and the placement's extra
/// parameters) first, then the caller's query in its order.
/// The URL of a call that carries no credential: host, path, its query.
pub(crate) fn plain_url(host: &str, path: &str, query: &[(String, String)]) -> String {
    let mut url = String::with_capacity(host.len() + path.len() + 64);
    url.push_str(host);
    url.push_str(path);
    let mut first = true;
    for (k, v) in query {
        push_pair(&mut url, &mut first, k, v);
    }
    url
}

pub(crate) fn call_request(
    app: &App,
    host: &str,
    path: &str,
    query: &[(String, String)],
    token: &str,
    headers: &mut Vec<(String, String)>,
) -> String {
    let mut url = String::with_capacity(host.len() + path.len() + 160);
    url.push_str(host);
    url.push_str(path);
    let mut first = true;
    let pl = &app.placement;
    if let Some(src) = &app.source {
        // The relay places the token; this side proves who the caller is.
        if src.kind == crate::config::SourceKind::Relay {
            headers.extend(src.headers());
            for (k, v) in query {
                push_pair(&mut url, &mut first, k, v);
            }
            return url;
        }
    }
    match pl.location {
        PlacementIn::Query => {
            if pl.prefix.is_empty() {
                push_pair(&mut url, &mut first, &pl.name, token);
            } else {
                push_pair(
                    &mut url,
                    &mut first,
                    &pl.name,
                    &format!("{}{}", pl.prefix, token),
                );
            }
            for (k, v) in &pl.extra {
                push_pair(&mut url, &mut first, k, &app.render(v, Held::default()));
            }
        }
        PlacementIn::Header => {
            headers.push((
                pl.name.to_ascii_lowercase(),
                format!("{}{}", pl.prefix, token),
            ));
            for (k, v) in &pl.extra {
                headers.push((k.to_ascii_lowercase(), app.render(v, Held::default())));
            }
        }
    }
    for (k, v) in query {
        push_pair(&mut url, &mut first, k, v);
    }
    url
}

/// A token-endpoint request: (url, headers, body).
pub(crate) fn token_request(
    app: &App,
    ep: &Endpoint,
    host: &str,
    forced: bool,
    held: Held<'_>,
) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut url = format!("{host}{}", ep.path);
    let mut headers = Vec::new();
    let params: Vec<(String, String)> = ep
        .spec
        .params
        .iter()
        .map(|(k, v)| (k.clone(), app.render(v, held)))
        .collect();
    let body = match ep.spec.params_in {
        ParamsIn::Query => {
            let mut first = true;
            for (k, v) in &params {
                push_pair(&mut url, &mut first, k, v);
            }
            if let Some(fp) = &ep.spec.force_param {
                if forced {
                    push_pair(&mut url, &mut first, fp, "true");
                }
            }
            Vec::new()
        }
        ParamsIn::Json => {
            let mut m = serde_json::Map::new();
            for (k, v) in params {
                m.insert(k, serde_json::Value::String(v));
            }
            if let Some(fp) = &ep.spec.force_param {
                m.insert(fp.clone(), serde_json::Value::Bool(forced));
            }
            headers.push(("content-type".into(), "application/json".into()));
            serde_json::to_vec(&m).unwrap_or_default()
        }
        ParamsIn::Form => {
            let mut s = String::new();
            for (i, (k, v)) in params.iter().enumerate() {
                if i > 0 {
                    s.push('&');
                }
                encode_into(&mut s, k);
                s.push('=');
                encode_into(&mut s, v);
            }
            if let Some(fp) = &ep.spec.force_param {
                if forced {
                    s.push_str(if s.is_empty() { "" } else { "&" });
                    encode_into(&mut s, fp);
                    s.push_str("=true");
                }
            }
            headers.push((
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
            s.into_bytes()
        }
    };
    (url, headers, body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_reserved_and_multibyte() {
        let mut s = String::new();
        super::encode_into(&mut s, "a b&c=d/é~");
        assert_eq!(s, "a%20b%26c%3Dd%2F%C3%A9~");
    }
}
