//! Response envelopes: does this body say success or failure, and with which
//! code? Only the envelope's own top-level fields are read (borrowed, without
//! building a tree); the user's JSON is left for the host language to parse
//! once. Decisions use codes, never message text (seed 000); Jing's
//! documented sub-error texts are the one exception and are matched by the
//! profile's error table, not here.

use crate::error::Code;
use crate::http::HttpResponse;
use crate::platform::profile::{Dialect, EnvelopeFields};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// What a response says, before the profile's error table gives it a kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Success; `json` is false for a binary body (media download).
    Success {
        /// Whether the body is JSON.
        json: bool,
    },
    /// Failure, with the platform's code when the envelope had one.
    Failure {
        /// Platform code.
        code: Option<Code>,
        /// Platform message (empty when none).
        message: String,
        /// Sub-error text (Jing).
        sub_message: Option<String>,
    },
    /// The body is not what the dialect requires.
    Malformed {
        /// What was wrong.
        reason: &'static str,
    },
}

/// Up to four top-level fields, borrowed from the body.
pub(crate) type Found<'a> = [Option<&'a RawValue>; 4];

struct Scan<'k> {
    keys: [&'k str; 4],
}

impl<'de, 'k> DeserializeSeed<'de> for Scan<'k> {
    type Value = Found<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, 'k> Visitor<'de> for Scan<'k> {
    type Value = Found<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out: Found<'de> = [None; 4];
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match self.keys.iter().position(|k| !k.is_empty() && *k == key) {
                Some(i) => out[i] = Some(map.next_value::<&'de RawValue>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// Reads the named top-level fields of a JSON object. `None` when the body
/// is not a JSON object.
pub(crate) fn scan<'a>(body: &'a [u8], keys: [&str; 4]) -> Option<Found<'a>> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let found = Scan { keys }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(found)
}

fn code_of(raw: &RawValue) -> Option<Code> {
    let text = raw.get();
    if let Ok(n) = text.parse::<i64>() {
        return Some(Code::Num(n));
    }
    match serde_json::from_str::<serde_json::Value>(text).ok()? {
        serde_json::Value::String(s) => Some(match s.trim().parse::<i64>() {
            Ok(n) => Code::Num(n),
            Err(_) => Code::Str(s),
        }),
        serde_json::Value::Number(n) => n.as_f64().map(|f| Code::Num(f as i64)),
        _ => None,
    }
}

fn text_of(raw: Option<&RawValue>) -> Option<String> {
    let raw = raw?;
    match serde_json::from_str::<serde_json::Value>(raw.get()).ok()? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn is_zero(code: &Code) -> bool {
    matches!(code, Code::Num(0))
}

/// Whether the answer should be JSON, from its content type, or by sniffing.
fn expects_json(resp: &HttpResponse) -> bool {
    let first = resp.body.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let starts_json = matches!(first, Some(b'{') | Some(b'['));
    match resp.header("content-type").map(str::to_ascii_lowercase) {
        Some(ct) if ct.contains("json") || ct.starts_with("text/") => true,
        // WeChat answers media/get errors as JSON even under odd content types.
        Some(ct) if !ct.is_empty() => starts_json,
        _ => starts_json || std::str::from_utf8(&resp.body).is_ok(),
    }
}

/// Classifies an answer under a dialect.
pub fn classify(dialect: Dialect, fields: &EnvelopeFields, resp: &HttpResponse) -> Verdict {
    let ok_status = (200..300).contains(&resp.status);
    let http_failure = || Verdict::Failure {
        code: None,
        message: format!("HTTP {}", resp.status),
        sub_message: None,
    };
    if !expects_json(resp) {
        return if ok_status {
            Verdict::Success { json: false }
        } else {
            http_failure()
        };
    }
    let keys = [
        fields.code.as_str(),
        fields.message.as_str(),
        fields.sub_message.as_deref().unwrap_or(""),
        fields.status.as_deref().unwrap_or(""),
    ];
    let Some(found) = scan(&resp.body, keys) else {
        let is_json = serde_json::from_slice::<IgnoredAny>(&resp.body).is_ok();
        return match (is_json, ok_status) {
            (true, true) if dialect != Dialect::Result && dialect != Dialect::Jing => {
                Verdict::Success { json: true }
            }
            (_, false) => http_failure(),
            (true, true) => Verdict::Malformed {
                reason: "expected a JSON object",
            },
            (false, true) => Verdict::Malformed {
                reason: "body is not JSON",
            },
        };
    };
    let code = found[0].and_then(code_of);
    let failure = |code: Option<Code>| Verdict::Failure {
        code,
        message: text_of(found[1]).unwrap_or_default(),
        sub_message: text_of(found[2]),
    };
    match dialect {
        Dialect::Errcode | Dialect::Code => match code {
            Some(c) if !is_zero(&c) => failure(Some(c)),
            _ if !ok_status => failure(None),
            _ => Verdict::Success { json: true },
        },
        Dialect::Jing => match code {
            Some(c) if is_zero(&c) && ok_status => Verdict::Success { json: true },
            Some(c) if !is_zero(&c) => failure(Some(c)),
            _ if !ok_status => failure(None),
            _ => Verdict::Malformed {
                reason: "missing `code`",
            },
        },
        Dialect::Result => {
            let result = text_of(found[3]);
            match result.as_deref() {
                Some("success") if resp.status == 200 => Verdict::Success { json: true },
                _ if code.is_some() => failure(code),
                Some("error") => failure(None),
                _ if !ok_status => failure(None),
                _ => Verdict::Malformed {
                    reason: "missing `result`",
                },
            }
        }
    }
}

/// Reads a dotted field (`data.access_token`) from a parsed JSON value.
pub(crate) fn field<'v>(v: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    path.split('.').try_fold(v, |cur, part| cur.get(part))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, ct: &str, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("Content-Type".into(), ct.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    fn f(d: Dialect) -> EnvelopeFields {
        EnvelopeFields::default_for(d)
    }

    #[test]
    fn errcode_dialect() {
        let d = Dialect::Errcode;
        assert_eq!(
            classify(d, &f(d), &resp(200, "application/json", r#"{"a":1}"#)),
            Verdict::Success { json: true }
        );
        assert_eq!(
            classify(
                d,
                &f(d),
                &resp(200, "application/json", r#"{"errcode":0,"errmsg":"ok"}"#)
            ),
            Verdict::Success { json: true }
        );
        assert_eq!(
            classify(
                d,
                &f(d),
                &resp(
                    200,
                    "text/plain",
                    r#"{"errmsg":"invalid \"x\"","errcode":40001}"#
                )
            ),
            Verdict::Failure {
                code: Some(Code::Num(40001)),
                message: "invalid \"x\"".into(),
                sub_message: None
            }
        );
        assert_eq!(
            classify(d, &f(d), &resp(200, "application/json", "<html>")),
            Verdict::Malformed {
                reason: "body is not JSON"
            }
        );
        assert_eq!(
            classify(d, &f(d), &resp(200, "image/jpeg", "\u{1}\u{2}")),
            Verdict::Success { json: false }
        );
        assert!(matches!(
            classify(d, &f(d), &resp(502, "text/html", "<html>")),
            Verdict::Failure { code: None, .. }
        ));
    }

    #[test]
    fn result_dialect_needs_status_and_result() {
        let d = Dialect::Result;
        assert_eq!(
            classify(
                d,
                &f(d),
                &resp(200, "application/json", r#"{"result":"success"}"#)
            ),
            Verdict::Success { json: true }
        );
        assert_eq!(
            classify(
                d,
                &f(d),
                &resp(
                    401,
                    "application/json",
                    r#"{"result":"error","errorCode":"permission_denied_force_log_off","desp":"x"}"#
                )
            ),
            Verdict::Failure {
                code: Some(Code::Str("permission_denied_force_log_off".into())),
                message: "x".into(),
                sub_message: None
            }
        );
        assert_eq!(
            classify(d, &f(d), &resp(200, "application/json", r#"{"a":1}"#)),
            Verdict::Malformed {
                reason: "missing `result`"
            }
        );
    }

    #[test]
    fn jing_dialect_reads_sub_message() {
        let d = Dialect::Jing;
        assert_eq!(
            classify(
                d,
                &f(d),
                &resp(
                    200,
                    "application/json",
                    r#"{"code":20001,"msg":"授权权限不足","sub_msg":"访问令牌已过期"}"#
                )
            ),
            Verdict::Failure {
                code: Some(Code::Num(20001)),
                message: "授权权限不足".into(),
                sub_message: Some("访问令牌已过期".into())
            }
        );
        assert_eq!(
            classify(d, &f(d), &resp(200, "application/json", r#"{"msg":"x"}"#)),
            Verdict::Malformed {
                reason: "missing `code`"
            }
        );
    }

    #[test]
    fn scan_borrows_only_the_wanted_fields() {
        let body = br#"{"big":{"nested":[1,2,3]},"errcode":45009,"errmsg":"quota"}"#;
        let found = scan(body, ["errcode", "errmsg", "", ""]).unwrap();
        assert_eq!(found[0].unwrap().get(), "45009");
        assert!(found[2].is_none());
        assert!(scan(b"[1]", ["errcode", "", "", ""]).is_none());
        assert!(scan(b"{\"a\":1} trailing", ["a", "", "", ""]).is_none());
    }
}
