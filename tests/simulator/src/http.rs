//! Request and answer shapes the handlers work with, kept free of hyper so
//! the handlers stay plain synchronous functions.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderMap;
use hyper::{Method, Response, StatusCode};
use serde_json::Value;

use crate::state::InflightGuard;

pub struct Req {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Req {
    pub fn new(method: Method, uri: &hyper::Uri, headers: HeaderMap, body: Bytes) -> Req {
        Req {
            method,
            path: uri.path().to_string(),
            query: uri.query().map(parse_query).unwrap_or_default(),
            headers,
            body,
        }
    }

    /// A query parameter; empty counts as absent.
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub fn header(&self, key: &str) -> Option<&str> {
        self.headers.get(key).and_then(|v| v.to_str().ok())
    }

    pub fn body_is_blank(&self) -> bool {
        self.body.iter().all(|b| b.is_ascii_whitespace())
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(pair), String::new()),
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
    /// Keeps a concurrency slot taken until the answer leaves.
    pub guard: Option<InflightGuard>,
}

impl Reply {
    pub fn json(status: u16, v: &Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json; charset=utf-8".into())],
            body: Bytes::from(v.to_string()),
            guard: None,
        }
    }

    pub fn ok(v: Value) -> Reply {
        Reply::json(200, &v)
    }

    pub fn html(status: u16) -> Reply {
        let reason = StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        let text = format!(
            "<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1><hr><center>nginx</center></body></html>"
        );
        Reply {
            status,
            headers: vec![("content-type", "text/html".into())],
            body: Bytes::from(text),
            guard: None,
        }
    }

    pub fn bytes(content_type: &str, filename: &str, data: Bytes) -> Reply {
        Reply {
            status: 200,
            headers: vec![
                ("content-type", content_type.to_string()),
                (
                    "content-disposition",
                    format!("attachment; filename=\"{filename}\""),
                ),
            ],
            body: data,
            guard: None,
        }
    }

    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut resp = Response::new(Full::new(self.body));
        *resp.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        for (k, v) in self.headers {
            if let Ok(v) = v.parse() {
                resp.headers_mut().insert(k, v);
            }
        }
        resp
    }
}

pub struct Part {
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Bytes,
}

/// The part called `name` of a multipart/form-data body.
pub fn multipart_part(content_type: &str, body: &Bytes, name: &str) -> Option<Part> {
    let boundary = header_param(content_type, "boundary")?;
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let mut pos = find(body, delim, 0)?;
    loop {
        let start = pos + delim.len();
        if body[start..].starts_with(b"--") {
            return None;
        }
        let start = skip_newline(body, start);
        let end = find(body, delim, start)?;
        // The part's data ends before the newline that precedes the delimiter.
        let mut data_end = end;
        if data_end >= start + 2 && &body[data_end - 2..data_end] == b"\r\n" {
            data_end -= 2;
        } else if data_end > start && body[data_end - 1] == b'\n' {
            data_end -= 1;
        }
        let (head_end, data_start) = match find(&body[..data_end], b"\r\n\r\n", start) {
            Some(i) => (i, i + 4),
            None => {
                let i = find(&body[..data_end], b"\n\n", start)?;
                (i, i + 2)
            }
        };
        let head = String::from_utf8_lossy(&body[start..head_end]);
        let mut disposition = None;
        let mut part_type = None;
        for line in head.lines() {
            if let Some((k, v)) = line.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-disposition" => disposition = Some(v.trim().to_string()),
                    "content-type" => part_type = Some(v.trim().to_string()),
                    _ => {}
                }
            }
        }
        if let Some(d) = disposition {
            if header_param(&d, "name").as_deref() == Some(name) {
                return Some(Part {
                    filename: header_param(&d, "filename"),
                    content_type: part_type,
                    data: body.slice(data_start..data_end),
                });
            }
        }
        pos = end;
    }
}

fn skip_newline(body: &[u8], i: usize) -> usize {
    if body[i..].starts_with(b"\r\n") {
        i + 2
    } else if body[i..].starts_with(b"\n") {
        i + 1
    } else {
        i
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() || needle.is_empty() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

/// `key=value` or `key="value"` among a header's `;`-separated parameters.
fn header_param(header: &str, key: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case(key) {
            return None;
        }
        let v = v.trim();
        Some(
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
                .to_string(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = parse_query("a=1&b=x%20y+z&c&d=%E4%BD%A0&e=%zz");
        assert_eq!(q[0], ("a".into(), "1".into()));
        assert_eq!(q[1].1, "x y z");
        assert_eq!(q[2], ("c".into(), "".into()));
        assert_eq!(q[3].1, "你");
        assert_eq!(q[4].1, "%zz");
    }

    #[test]
    fn multipart() {
        let body = Bytes::from_static(
            b"--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nhi\r\n--XyZ\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--x\r\n--XyZ--\r\n",
        );
        let p = multipart_part("multipart/form-data; boundary=XyZ", &body, "media").unwrap();
        assert_eq!(p.filename.as_deref(), Some("a.png"));
        assert_eq!(p.content_type.as_deref(), Some("image/png"));
        assert_eq!(&p.data[..], b"\x89PNG\r\n--x");
        assert!(multipart_part("multipart/form-data; boundary=XyZ", &body, "nope").is_none());
    }
}
