//! The configuration: one JSON-shaped object, the same in every language.
//! Unknown fields are errors, so a typo cannot silently change behaviour.

use crate::error::ConfigError;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;

/// A secret or token: compared and used, never printed.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The value, for building requests.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

/// Local quota enforcement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaMode {
    /// Count, warn, and refuse locally once a limit is reached or 45009 was seen.
    #[default]
    Enforce,
    /// Count and warn, never refuse locally.
    Warn,
    /// Do not count.
    Off,
}

/// Quota settings.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct QuotaConfig {
    /// enforce, warn or off.
    #[serde(default)]
    pub mode: QuotaMode,
    /// Which table: `new` (default) or `test`.
    #[serde(default = "default_tier")]
    pub tier: String,
    /// Per-path overrides of the daily limits (accounts with more followers get more).
    #[serde(default)]
    pub limits: BTreeMap<String, u64>,
}

fn default_tier() -> String {
    "new".into()
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig {
            mode: QuotaMode::Enforce,
            tier: default_tier(),
            limits: BTreeMap::new(),
        }
    }
}

/// Where credentials and shared counters live.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreMode {
    /// In the engine's own memory (one process).
    #[default]
    Memory,
    /// In a store the host executes (`Output::Store`): fleet mode.
    External,
}

/// Busy-retry settings.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// First backoff.
    pub base_delay_ms: u64,
    /// Backoff ceiling.
    pub max_delay_ms: u64,
    /// Randomise each delay within [d/2, d] from the seeded generator.
    pub jitter: bool,
    /// Resends after a platform rate-limit answer before the call fails with `rate_limited`.
    pub max_rate_limit_retries: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            base_delay_ms: 200,
            max_delay_ms: 5000,
            jitter: true,
            max_rate_limit_retries: 5,
        }
    }
}

/// Circuit-breaker settings for host failover.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct FailoverConfig {
    /// Consecutive dns/connect/timeout failures that open a host's circuit.
    pub threshold: u32,
    /// How long an open circuit routes around the host before probing it.
    pub cooldown_ms: u64,
}

impl Default for FailoverConfig {
    fn default() -> Self {
        FailoverConfig {
            threshold: 3,
            cooldown_ms: 30_000,
        }
    }
}

/// WeChat server API security for one app (the console's "API security" page).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiSecurityConfig {
    /// The symmetric key (AES-256), base64.
    pub sym_key: Secret,
    /// The symmetric key's number (part of the AAD).
    pub sym_sn: String,
    /// The app's RSA private key (PEM, PKCS#1 or PKCS#8) that signs requests.
    pub private_key: Secret,
    /// Platform certificates (or public keys) in PEM by their number as the
    /// console shows it (`Wechatmp-Serial`); during a rotation, both.
    pub platform_keys: BTreeMap<String, String>,
    /// The API paths whose calls are sealed (those enabled in the console).
    pub paths: Vec<String>,
}

/// One app: a set of credentials on one platform.
#[derive(Clone, Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The name calls use (`client.call("oa", …)`).
    pub id: String,
    /// Profile name: `wechat-oa`, `wecom`, `jing`, `cj`, `result`, or a custom one.
    pub platform: String,
    /// AppID (OA, Jing, CJ) or account key (result-style).
    #[serde(default)]
    pub app_id: Option<String>,
    /// WeCom corp id.
    #[serde(default)]
    pub corp_id: Option<String>,
    /// WeCom agent id (one token per agent secret).
    #[serde(default)]
    pub agent_id: Option<String>,
    /// AppSecret, corp/agent secret, or static token.
    #[serde(default)]
    pub secret: Option<Secret>,
    /// Which of the profile's token endpoints (`stable` or `classic` for OA).
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// Sets the only host (e.g. the local simulator).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Replaces the profile's host list (primary first).
    #[serde(default)]
    pub hosts: Option<Vec<String>>,
    /// Adds the profile's named regional hosts after the others.
    #[serde(default)]
    pub regions: Vec<String>,
    /// Token path where the profile leaves it open (Jing, CJ).
    #[serde(default)]
    pub token_path: Option<String>,
    /// Refresh path where the profile leaves it open (Jing).
    #[serde(default)]
    pub refresh_path: Option<String>,
    /// Where the token goes, where the profile leaves it open (result-style).
    #[serde(default)]
    pub token_placement: Option<Placement>,
    /// Overrides the global and profile rate limits for this app.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// Overrides the global quota settings for this app.
    #[serde(default)]
    pub quota: Option<QuotaConfig>,
    /// Seal and sign calls to the listed APIs (WeChat server API security).
    #[serde(default)]
    pub api_security: Option<ApiSecurityConfig>,
}

/// The engine's configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The apps.
    pub apps: Vec<AppConfig>,
    /// Proactive refresh this long before expiry (seed 004: one hour).
    #[serde(default = "default_margin")]
    pub refresh_margin_ms: u64,
    /// Quotas.
    #[serde(default)]
    pub quota: QuotaConfig,
    /// `memory` or `external`.
    #[serde(default)]
    pub store: StoreMode,
    /// Prefix of every store key.
    #[serde(default = "default_prefix")]
    pub store_prefix: String,
    /// Lease (lock TTL) for a token fetch in fleet mode.
    #[serde(default = "default_lease")]
    pub lease_ms: u64,
    /// How often a process that lost the lease re-reads the store.
    #[serde(default = "default_poll")]
    pub store_poll_ms: u64,
    /// This process's lock owner name; derived from `seed` when absent.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// Seed of the engine's random numbers (jitter, owner name).
    #[serde(default)]
    pub seed: u64,
    /// Busy retries.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Host failover.
    #[serde(default)]
    pub failover: FailoverConfig,
    /// Rate limits for every app (over the profile's).
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// Timeout the host should apply to each request.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Custom profiles by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, serde_json::Value>,
    /// At least 32 random bytes (base64) from the host's OS generator:
    /// the seed of the CSPRNG behind API security's IVs, nonces and salts.
    /// The drivers supply it; needed only when an app uses `api_security`.
    #[serde(default)]
    pub entropy: Option<Secret>,
}

fn default_margin() -> u64 {
    3_600_000
}
fn default_prefix() -> String {
    "wxcore:".into()
}
fn default_lease() -> u64 {
    10_000
}
fn default_poll() -> u64 {
    250
}
fn default_timeout() -> u64 {
    5_000
}

impl Config {
    /// A configuration with these apps and every default.
    pub fn with_apps(apps: Vec<AppConfig>) -> Self {
        Config {
            apps,
            refresh_margin_ms: default_margin(),
            quota: QuotaConfig::default(),
            store: StoreMode::Memory,
            store_prefix: default_prefix(),
            lease_ms: default_lease(),
            store_poll_ms: default_poll(),
            instance_id: None,
            seed: 0,
            retry: RetryConfig::default(),
            failover: FailoverConfig::default(),
            rate_limit: None,
            timeout_ms: default_timeout(),
            profiles: BTreeMap::new(),
            entropy: None,
        }
    }

    /// Parses the JSON form; errors name the offending field.
    pub fn from_json(text: &str) -> Result<Config, ConfigError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            config_error(path, e.into_inner().to_string())
        })
    }

    /// Parses a JSON value.
    pub fn from_value(value: serde_json::Value) -> Result<Config, ConfigError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            config_error(path, e.into_inner().to_string())
        })
    }
}

fn config_error(path: String, message: String) -> ConfigError {
    let field = if path == "." || path.is_empty() {
        "config".to_string()
    } else {
        path
    };
    // serde quotes a wrongly typed value in its message; at a secret's
    // place that value may be the secret itself.
    let message = if field.ends_with("secret") {
        "must be a string".to_string()
    } else {
        match message.find(" at line ") {
            Some(i) => message[..i].to_string(),
            None => message,
        }
    };
    ConfigError::new(field, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_field_is_named_with_its_path() {
        let e = Config::from_json(
            r#"{"apps":[{"id":"a","platform":"wechat-oa","app_id":"wx1","scret":"s3cr3t"}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.field, "apps[0].scret");
        assert!(e.message.contains("scret"), "{e}");
        assert!(!e.to_string().contains("s3cr3t"));
    }

    #[test]
    fn secret_never_debugs() {
        let c = Config::from_json(
            r#"{"apps":[{"id":"a","platform":"wechat-oa","app_id":"wx1","secret":"s3cr3t"}]}"#,
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t"));
        assert_eq!(c.apps[0].secret.as_ref().unwrap().expose(), "s3cr3t");
    }
}

/// Where the token goes on business calls.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// `query` or `header`.
    #[serde(rename = "in")]
    pub location: PlacementIn,
    /// Parameter or header name.
    pub name: String,
    /// Prefix before the token (`"Bearer "`).
    #[serde(default)]
    pub prefix: String,
    /// Further constant parameters or headers placed the same way (templates).
    #[serde(default)]
    pub extra: Vec<(String, String)>,
}

/// Query or header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlacementIn {
    /// URL query parameter.
    Query,
    /// HTTP header.
    Header,
}

/// Rate limits: a token bucket per app and API, and a concurrency cap per app.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Calls per minute per app and API path.
    #[serde(default)]
    pub per_minute: Option<u64>,
    /// Bucket size (defaults to `per_minute`).
    #[serde(default)]
    pub burst: Option<u64>,
    /// Calls in flight at once per app.
    #[serde(default)]
    pub concurrency: Option<u32>,
}
