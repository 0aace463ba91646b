//! Platform profiles: everything that differs between platforms, as data.
//!
//! The built-in profiles live in `core/profiles/*.json` and are embedded at
//! compile time. A configuration may add its own (`"profiles": {"name": {…}}`),
//! optionally starting from a built-in one with `"extends": "jing"`, whose
//! top-level keys it then overrides.

// Shared with the configuration (per-app overrides) and the request types;
// defined there so that neither depends on the platform folder.
pub use crate::config::{Placement, PlacementIn, RateLimit};
use crate::error::{Code, ConfigError, ErrorKind};
pub use crate::http::Method;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The built-in profiles: (name, JSON text).
pub const BUILTIN: [(&str, &str); 7] = [
    ("wechat-oa", include_str!("../../profiles/wechat-oa.json")),
    ("wecom", include_str!("../../profiles/wecom.json")),
    ("jing", include_str!("../../profiles/jing.json")),
    ("cj", include_str!("../../profiles/cj.json")),
    ("result", include_str!("../../profiles/result.json")),
    (
        "wechat-component",
        include_str!("../../profiles/wechat-component.json"),
    ),
    (
        "wecom-suite",
        include_str!("../../profiles/wecom-suite.json"),
    ),
];

/// How a response body says success or failure (see DESIGN "Envelopes").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// `errcode` absent or 0 is success; `errmsg` explains.
    Errcode,
    /// `code` absent or 0 is success; `message` explains (seed 000).
    Code,
    /// HTTP 200 and `result: "success"`; failures carry a string `errorCode` and `desp` (seed 001).
    Result,
    /// `code` 0 is success; `msg` and a sub-error text explain (seed 003).
    Jing,
}

/// Names of the envelope's fields; defaults follow the dialect.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeFields {
    /// The code field (`errcode`, `code`, `errorCode`).
    pub code: String,
    /// The human message field (`errmsg`, `message`, `desp`, `msg`).
    pub message: String,
    /// The sub-error text field (Jing), if any.
    #[serde(default)]
    pub sub_message: Option<String>,
    /// The status field of the result dialect (`result`).
    #[serde(default)]
    pub status: Option<String>,
}

impl EnvelopeFields {
    /// The field names a dialect uses unless a profile says otherwise.
    pub fn default_for(d: Dialect) -> Self {
        let (code, message, sub, status) = match d {
            Dialect::Errcode => ("errcode", "errmsg", None, None),
            Dialect::Code => ("code", "message", None, None),
            Dialect::Result => ("errorCode", "desp", None, Some("result")),
            Dialect::Jing => ("code", "msg", Some("sub_msg"), None),
        };
        EnvelopeFields {
            code: code.into(),
            message: message.into(),
            sub_message: sub.map(Into::into),
            status: status.map(Into::into),
        }
    }
}

/// Where request parameters go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamsIn {
    /// URL query string.
    Query,
    /// A JSON object body.
    Json,
    /// `application/x-www-form-urlencoded` body.
    Form,
}

/// Limits on forced refreshes (OA stable token: 20 a day, 30 s apart).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForceLimit {
    /// Forced fetches allowed per Asia/Shanghai day.
    pub per_day: u32,
    /// Minimum time between two forced fetches.
    pub min_interval_ms: u64,
}

/// A token (or refresh) endpoint.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEndpoint {
    /// HTTP method.
    pub method: Method,
    /// Path; `null` means the app's config must give it (`token_path` / `refresh_path`).
    #[serde(default)]
    pub path: Option<String>,
    /// Where the parameters go.
    pub params_in: ParamsIn,
    /// Parameters, in order; values are templates over `{app_id}`, `{secret}`,
    /// `{corp_id}`, `{agent_id}`, `{refresh_token}`.
    pub params: Vec<(String, String)>,
    /// A boolean parameter asking the platform to issue a new token (stable token).
    #[serde(default)]
    pub force_param: Option<String>,
    /// Limits on forced fetches.
    #[serde(default)]
    pub force_limit: Option<ForceLimit>,
    /// Field of the token in the answer (dots walk into objects: `data.access_token`).
    pub token_field: String,
    /// Field of the lifetime in seconds.
    pub expires_in_field: String,
    /// Field of a refresh token, if the platform issues one.
    #[serde(default)]
    pub refresh_token_field: Option<String>,
    /// Lifetime when the answer does not say.
    pub default_expires_in_s: u64,
    /// The platform answers with the same token while it is valid (stable token, WeCom).
    #[serde(default)]
    pub same_while_valid: bool,
    /// How long before expiry such a platform starts issuing the next token.
    #[serde(default)]
    pub renew_window_ms: u64,
}

/// How long to wait after a rate-limit answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfter {
    /// Until the next whole minute (minute quotas).
    NextMinute,
}

/// One row of an error table. Rows are tried in order; the first whose code
/// matches (and, if `sub` is given, whose sub-message contains one of `sub`)
/// decides the kind.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRule {
    /// The platform code.
    pub code: Code,
    /// Sub-message fragments (Jing's documented sub-errors), any of which matches.
    #[serde(default)]
    pub sub: Vec<String>,
    /// The kind.
    pub kind: ErrorKind,
    /// Fixed wait for `rate_limited`.
    #[serde(default)]
    pub retry_after_ms: Option<u64>,
    /// Computed wait for `rate_limited`.
    #[serde(default)]
    pub retry_after: Option<RetryAfter>,
    /// For `ip_blocked`: how long calls are refused locally.
    #[serde(default)]
    pub block_ms: Option<u64>,
}

/// Where a JS-SDK ticket is fetched: a GET with the access token, answering
/// `{ticket, expires_in}`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TicketEndpoint {
    /// API path.
    pub path: String,
    /// Constant query parameters (`type=jsapi`).
    #[serde(default)]
    pub query: Vec<(String, String)>,
}

/// A ticket the platform pushes to the app's callback URL and the token
/// endpoint needs (`{ticket}`): the open platform's
/// `component_verify_ticket`, a WeCom suite's `suite_ticket`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PushedTicket {
    /// The push's `InfoType` that carries it.
    pub info_type: String,
    /// The plaintext field naming whom it is for (`AppId`, `SuiteId`): must
    /// be the app's `app_id`.
    pub id_field: String,
    /// The plaintext field of the ticket.
    pub ticket_field: String,
    /// The plaintext field of its creation time in seconds (`CreateTime`,
    /// `TimeStamp`): only a newer push replaces the ticket.
    pub time_field: String,
    /// How long the platform accepts a ticket after it arrived.
    pub valid_ms: u64,
}

/// Who an app's authorizers are: accounts that granted it their APIs, each
/// with its own token fetched through the app (the open platform's
/// `api_authorizer_token`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Authorizers {
    /// The profile an authorizer's own calls follow (`wechat-oa`, `wecom`).
    pub platform: String,
    /// Whose protocol: an open-platform component's or a WeCom suite's.
    #[serde(default)]
    pub flavor: Flavor,
}

/// The two authorization protocols.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Flavor {
    /// Open platform: `authorized` / `unauthorized` pushes, `api_query_auth`,
    /// refresh tokens through `api_authorizer_token`, the authorizer list.
    #[default]
    Component,
    /// WeCom suite: `create_auth` / `reset_permanent_code` / `cancel_auth`
    /// pushes, `get_permanent_code`, corp tokens through `get_corp_token`
    /// (a 代开发 app's through `gettoken` with the permanent code as secret).
    Suite,
}

/// A platform profile.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Name (`wechat-oa`, …).
    pub name: String,
    /// For a custom profile: the built-in one it starts from (already merged).
    #[serde(default)]
    pub extends: Option<String>,
    /// Human notes: where the public record is silent and what this profile assumes.
    #[serde(default)]
    pub assumptions: Vec<String>,
    /// Envelope dialect.
    pub dialect: Dialect,
    /// Envelope field names, when they differ from the dialect's defaults.
    #[serde(default)]
    pub envelope: Option<EnvelopeFields>,
    /// Hosts in failover order (primary first); empty means the config must give `base_url` or `hosts`.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Named regional hosts an app may add with `"regions": ["sh"]`.
    #[serde(default)]
    pub regional_hosts: BTreeMap<String, String>,
    /// Token endpoints by name; empty means a static credential (the app's `secret`).
    #[serde(default)]
    pub token_endpoints: BTreeMap<String, TokenEndpoint>,
    /// Which token endpoint apps use unless they say `token_endpoint`.
    #[serde(default)]
    pub default_token_endpoint: Option<String>,
    /// Endpoint that trades a refresh token for a new token (Jing).
    #[serde(default)]
    pub refresh_endpoint: Option<TokenEndpoint>,
    /// Where the token goes; `null` means the app's config must give `token_placement`.
    #[serde(default)]
    pub token_placement: Option<Placement>,
    /// App fields this platform needs (`app_id`, `corp_id`, `agent_id`, `secret`).
    #[serde(default)]
    pub requires: Vec<String>,
    /// Error table for business calls.
    #[serde(default)]
    pub errors: Vec<ErrorRule>,
    /// Error table for the token endpoint, tried before `errors`.
    #[serde(default)]
    pub token_errors: Vec<ErrorRule>,
    /// Daily quotas: tier (`new`, `test`) → API path → calls per day.
    #[serde(default)]
    pub quota: BTreeMap<String, BTreeMap<String, u64>>,
    /// Paths whose success resets the app's quota counters.
    #[serde(default)]
    pub clear_quota_paths: Vec<String>,
    /// Calls that go without the app's token, their JSON body built by the
    /// engine from these `[name, template]` pairs (an open-platform
    /// component's `api_start_push_ticket`: without a ticket no token can
    /// be had, and that call is what brings the tickets back).
    #[serde(default)]
    pub tokenless_calls: BTreeMap<String, Vec<(String, String)>>,
    /// JS-SDK tickets by kind (`jsapi`, `wx_card`, `agent_config`).
    #[serde(default)]
    pub tickets: BTreeMap<String, TicketEndpoint>,
    /// The ticket the platform pushes, for platforms whose token needs one;
    /// apps on them need `callback` to receive it.
    #[serde(default)]
    pub pushed_ticket: Option<PushedTicket>,
    /// Accounts that authorize this app (an open-platform component's
    /// authorizers) and call through it.
    #[serde(default)]
    pub authorizers: Option<Authorizers>,
    /// Default rate limits.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
}

impl Profile {
    /// The envelope field names in force.
    pub fn envelope_fields(&self) -> EnvelopeFields {
        self.envelope
            .clone()
            .unwrap_or_else(|| EnvelopeFields::default_for(self.dialect))
    }

    /// Finds the rule for a code (and sub-message) in `rules`.
    pub(crate) fn rule<'a>(
        rules: &'a [ErrorRule],
        code: &Code,
        sub: Option<&str>,
    ) -> Option<&'a ErrorRule> {
        rules.iter().find(|r| {
            &r.code == code
                && (r.sub.is_empty()
                    || sub.is_some_and(|s| r.sub.iter().any(|frag| s.contains(frag.as_str()))))
        })
    }
}

/// The built-in profile's JSON value, by name.
pub(crate) fn builtin_value(name: &str) -> Option<serde_json::Value> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| serde_json::from_str(text).expect("built-in profiles are valid JSON"))
}

/// Parses a profile value at `field`, merging `extends` first.
pub(crate) fn parse_profile(
    field: &str,
    name: &str,
    value: &serde_json::Value,
) -> Result<Profile, ConfigError> {
    let mut merged = value.clone();
    if let Some(base) = value.get("extends") {
        let base_name = base.as_str().ok_or_else(|| {
            ConfigError::new(
                format!("{field}.extends"),
                "must be a built-in profile name",
            )
        })?;
        let mut base_value = builtin_value(base_name).ok_or_else(|| {
            ConfigError::new(
                format!("{field}.extends"),
                format!("unknown built-in profile `{base_name}`"),
            )
        })?;
        if let (Some(b), Some(over)) = (base_value.as_object_mut(), value.as_object()) {
            for (k, v) in over {
                b.insert(k.clone(), v.clone());
            }
        }
        merged = base_value;
    }
    if value.get("name").is_none() {
        if let Some(obj) = merged.as_object_mut() {
            obj.insert("name".into(), serde_json::Value::String(name.to_string()));
        }
    }
    let profile = serde_path_to_error::deserialize::<_, Profile>(merged).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." || path.is_empty() {
            field.to_string()
        } else {
            format!("{field}.{path}")
        };
        ConfigError::new(at, e.into_inner().to_string())
    })?;
    profile.check_bounds(field)?;
    Ok(profile)
}

impl Profile {
    /// A custom profile's durations and counts within the same documented
    /// ranges as the configuration's, so none can overflow a time.
    fn check_bounds(&self, at: &str) -> Result<(), ConfigError> {
        use crate::config::bounds::{check, COUNT, DAY};
        for (table, rules) in [
            ("errors", &self.errors),
            ("token_errors", &self.token_errors),
        ] {
            for (i, r) in rules.iter().enumerate() {
                if let Some(ms) = r.retry_after_ms {
                    check(format!("{at}.{table}[{i}].retry_after_ms"), ms, 0, DAY)?;
                }
                if let Some(ms) = r.block_ms {
                    check(format!("{at}.{table}[{i}].block_ms"), ms, 0, DAY)?;
                }
            }
        }
        let endpoints = self
            .token_endpoints
            .iter()
            .map(|(k, v)| (format!("{at}.token_endpoints.{k}"), v))
            .chain(
                self.refresh_endpoint
                    .iter()
                    .map(|v| (format!("{at}.refresh_endpoint"), v)),
            );
        for (f, ep) in endpoints {
            // A year: longer lifetimes are not tokens any platform issues.
            check(
                format!("{f}.default_expires_in_s"),
                ep.default_expires_in_s,
                1,
                365 * DAY / 1000,
            )?;
            check(format!("{f}.renew_window_ms"), ep.renew_window_ms, 0, DAY)?;
            if let Some(l) = &ep.force_limit {
                check(
                    format!("{f}.force_limit.per_day"),
                    l.per_day.into(),
                    0,
                    1000,
                )?;
                check(
                    format!("{f}.force_limit.min_interval_ms"),
                    l.min_interval_ms,
                    0,
                    DAY,
                )?;
            }
        }
        for (tier, table) in &self.quota {
            for (path, n) in table {
                check(format!("{at}.quota.{tier}.{path}"), *n, 0, COUNT)?;
            }
        }
        if let Some(rl) = &self.rate_limit {
            rl.check_bounds(&format!("{at}.rate_limit"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_parse() {
        for (name, _) in BUILTIN {
            let v = builtin_value(name).unwrap();
            let p = parse_profile("profile", name, &v).unwrap();
            assert_eq!(p.name, name);
        }
    }

    #[test]
    fn jing_sub_messages_decide_the_kind() {
        let p = parse_profile("p", "jing", &builtin_value("jing").unwrap()).unwrap();
        let code = Code::Num(20001);
        let r = Profile::rule(&p.errors, &code, Some("访问令牌已过期")).unwrap();
        assert_eq!(r.kind, ErrorKind::TokenInvalid);
        let r = Profile::rule(&p.errors, &code, Some("商户未授权当前接口")).unwrap();
        assert_eq!(r.kind, ErrorKind::PermissionDenied);
        let r = Profile::rule(&p.errors, &code, None).unwrap();
        assert_eq!(r.kind, ErrorKind::PermissionDenied);
    }

    #[test]
    fn extends_overrides_top_level_keys() {
        let v = serde_json::json!({"extends": "cj", "hosts": ["https://cj.example"]});
        let p = parse_profile("profiles.mine", "mine", &v).unwrap();
        assert_eq!(p.hosts, vec!["https://cj.example".to_string()]);
        assert_eq!(p.dialect, Dialect::Code);
        let bad = serde_json::json!({"extends": "nope"});
        assert_eq!(
            parse_profile("profiles.x", "x", &bad).unwrap_err().field,
            "profiles.x.extends"
        );
    }
}
