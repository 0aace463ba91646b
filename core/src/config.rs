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
    /// Where the token comes from when not from the platform: a token
    /// server (`server`) or a relay that makes the calls (`relay`). Such an
    /// app holds no `secret`.
    #[serde(default)]
    pub credential: Option<CredentialConfig>,
    /// The app's callback URL keys, for platforms that push the ticket its
    /// token needs (`wechat-component`, `wecom-suite`): the engine verifies
    /// and decrypts those pushes itself (`Engine::handle_push`).
    #[serde(default)]
    pub callback: Option<CallbackConfig>,
}

/// The keys of an app's callback URL (the console's "Token" and "EncodingAESKey").
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CallbackConfig {
    /// The token the signatures are made with.
    pub token: Secret,
    /// The 43-character EncodingAESKey.
    pub encoding_aes_key: Secret,
}

/// One URL or several.
#[derive(Clone, Debug)]
pub enum Urls {
    /// One server.
    One(String),
    /// Replicas, in order of preference.
    Many(Vec<String>),
}

// By hand: serde's `untagged` buffers the input in a generic form, which
// costs the npm package's wasm several kilobytes.
impl<'de> Deserialize<'de> for Urls {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Urls;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a URL or a list of URLs")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Urls, E> {
                Ok(Urls::One(s.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Urls, A::Error> {
                let mut v = Vec::new();
                while let Some(u) = a.next_element::<String>()? {
                    v.push(u);
                }
                Ok(Urls::Many(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl Urls {
    /// The URLs in order.
    pub fn list(&self) -> Vec<&str> {
        match self {
            Urls::One(u) => vec![u.as_str()],
            Urls::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// Which credential source an app uses instead of the platform's token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// The token comes from a wxcore token server; calls go to the platform.
    Server,
    /// Calls go through the token server's relay: no token on this side.
    Relay,
}

/// A credential source: a wxcore token server and this caller's key there.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialConfig {
    /// `server` or `relay`.
    pub source: SourceKind,
    /// The token server's base URL (`https://tokens.internal:8700`), or
    /// several replicas' in order of preference: a replica that cannot be
    /// reached is passed over for the next.
    pub url: Urls,
    /// This caller's key (the server holds only its SHA-256).
    pub key: Secret,
    /// The app's id on the server, when it differs from this app's `id`.
    #[serde(default)]
    pub app: Option<String>,
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
    /// Spread each proactive refresh over this much time before its point
    /// (seeded jitter), so apps and replicas do not refresh in step.
    #[serde(default)]
    pub refresh_jitter_ms: u64,
    /// Fetch every app's token at start instead of on first use (a token
    /// server: its callers should never wait for the platform).
    #[serde(default)]
    pub prefetch_tokens: bool,
    /// Quotas.
    #[serde(default)]
    pub quota: QuotaConfig,
    /// `memory` or `external`.
    #[serde(default)]
    pub store: StoreMode,
    /// Prefix of every store key.
    #[serde(default = "default_prefix")]
    pub store_prefix: String,
    /// Lease (lock TTL) for a token fetch in fleet mode. Default and
    /// minimum: the token fetch's worst case ([`Config::fetch_worst_case_ms`]),
    /// so a lease cannot run out while its holder is still fetching.
    #[serde(default)]
    pub lease_ms: Option<u64>,
    /// How often a process that lost the lease re-reads the store.
    #[serde(default = "default_poll")]
    pub store_poll_ms: u64,
    /// A name for this process, shown in the lease owner and in events. The
    /// owner is unique per engine regardless: a part drawn from `entropy`
    /// follows the name.
    #[serde(default)]
    pub instance_id: Option<String>,
    /// Seed of the backoff jitter (never of anything that must be unique).
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
    /// Deadline of a whole call, from `submit` to `Done` (queueing, store
    /// operations, token fetches and sends together); a call's own
    /// `timeout_ms` overrides it. A request the host leaves unanswered past
    /// `timeout_ms` and a grace of 5 s is taken as timed out. `null`: the
    /// engine keeps neither (the host then bounds every call itself).
    #[serde(default = "default_call_timeout")]
    pub call_timeout_ms: Option<u64>,
    /// A store operation not answered within this is taken as failed (the
    /// store is unavailable; the engine falls back to local behaviour).
    /// `null`: wait for the host's answer.
    #[serde(default = "default_store_timeout")]
    pub store_timeout_ms: Option<u64>,
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
fn default_poll() -> u64 {
    250
}
fn default_timeout() -> u64 {
    5_000
}
fn default_call_timeout() -> Option<u64> {
    Some(120_000)
}
fn default_store_timeout() -> Option<u64> {
    Some(3_000)
}

impl Config {
    /// A configuration with these apps and every default.
    pub fn with_apps(apps: Vec<AppConfig>) -> Self {
        Config {
            apps,
            refresh_margin_ms: default_margin(),
            refresh_jitter_ms: 0,
            prefetch_tokens: false,
            quota: QuotaConfig::default(),
            store: StoreMode::Memory,
            store_prefix: default_prefix(),
            lease_ms: None,
            store_poll_ms: default_poll(),
            instance_id: None,
            seed: 0,
            retry: RetryConfig::default(),
            failover: FailoverConfig::default(),
            rate_limit: None,
            timeout_ms: default_timeout(),
            call_timeout_ms: default_call_timeout(),
            store_timeout_ms: default_store_timeout(),
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

    /// The longest a token fetch can take with these settings: every attempt
    /// running to its timeout and every backoff at its ceiling, twice over
    /// (a stable token's forced fetch or a spent refresh token's fresh one
    /// may follow the first under the same lease), plus one more timeout.
    pub fn fetch_worst_case_ms(&self) -> u64 {
        let attempts = u64::from(self.retry.max_attempts.max(1));
        let one = attempts
            .saturating_mul(self.timeout_ms)
            .saturating_add((attempts - 1).saturating_mul(self.retry.max_delay_ms));
        one.saturating_mul(2).saturating_add(self.timeout_ms)
    }

    /// The lease TTL in fleet mode.
    pub(crate) fn lease_ttl_ms(&self) -> u64 {
        self.lease_ms.unwrap_or_else(|| self.fetch_worst_case_ms())
    }

    /// Checks every bounded setting against its documented range (README,
    /// "Configuration"): out of range is an error naming the field, so no
    /// time or count computed from the config can overflow or wrap.
    pub(crate) fn check_bounds(&self) -> Result<(), ConfigError> {
        use bounds::*;
        check("refresh_margin_ms", self.refresh_margin_ms, 0, DAY)?;
        check("refresh_jitter_ms", self.refresh_jitter_ms, 0, HOUR)?;
        check("store_poll_ms", self.store_poll_ms, 10, MINUTE)?;
        check("timeout_ms", self.timeout_ms, 100, 10 * MINUTE)?;
        if let Some(ms) = self.call_timeout_ms {
            check("call_timeout_ms", ms, 100, DAY)?;
        }
        if let Some(ms) = self.store_timeout_ms {
            check("store_timeout_ms", ms, 10, 10 * MINUTE)?;
        }
        let r = &self.retry;
        check("retry.max_attempts", r.max_attempts.into(), 1, 10)?;
        check("retry.base_delay_ms", r.base_delay_ms, 0, HOUR)?;
        check("retry.max_delay_ms", r.max_delay_ms, 0, HOUR)?;
        check(
            "retry.max_rate_limit_retries",
            r.max_rate_limit_retries.into(),
            0,
            100,
        )?;
        check(
            "failover.threshold",
            self.failover.threshold.into(),
            1,
            1000,
        )?;
        check("failover.cooldown_ms", self.failover.cooldown_ms, 0, DAY)?;
        if let Some(ms) = self.lease_ms {
            let floor = self.fetch_worst_case_ms();
            if ms < floor {
                return Err(ConfigError::new(
                    "lease_ms",
                    format!("{ms} ms is shorter than a token fetch can take ({floor} ms); omit it for that"),
                ));
            }
            check("lease_ms", ms, 1_000, DAY)?;
        }
        if let Some(rl) = &self.rate_limit {
            rl.check_bounds("rate_limit")?;
        }
        self.quota.check_bounds("quota")?;
        for (i, a) in self.apps.iter().enumerate() {
            if let Some(rl) = &a.rate_limit {
                rl.check_bounds(&format!("apps[{i}].rate_limit"))?;
            }
            if let Some(q) = &a.quota {
                q.check_bounds(&format!("apps[{i}].quota"))?;
            }
        }
        Ok(())
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
    let secret_place = ["secret", "entropy", "sym_key", "private_key", "key"]
        .iter()
        .any(|f| field.ends_with(f));
    let message = if secret_place {
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

/// The ranges of bounded settings, shared with the profiles' checks.
pub(crate) mod bounds {
    use crate::error::ConfigError;

    pub(crate) const MINUTE: u64 = 60_000;
    pub(crate) const HOUR: u64 = 3_600_000;
    pub(crate) const DAY: u64 = 86_400_000;
    /// Calls per minute, burst, daily limits: far beyond any platform's.
    pub(crate) const COUNT: u64 = 1_000_000_000_000;

    /// `value` within `min..=max`, or an error naming `field`.
    pub(crate) fn check(
        field: impl Into<String>,
        value: u64,
        min: u64,
        max: u64,
    ) -> Result<(), ConfigError> {
        if (min..=max).contains(&value) {
            Ok(())
        } else {
            Err(ConfigError::new(
                field,
                format!("{value} is out of range ({min} to {max})"),
            ))
        }
    }
}

impl RateLimit {
    pub(crate) fn check_bounds(&self, at: &str) -> Result<(), ConfigError> {
        use bounds::*;
        if let Some(n) = self.per_minute {
            check(format!("{at}.per_minute"), n, 1, COUNT)?;
        }
        if let Some(n) = self.burst {
            check(format!("{at}.burst"), n, 1, COUNT)?;
        }
        if let Some(n) = self.concurrency {
            check(format!("{at}.concurrency"), n.into(), 1, 1_000_000)?;
        }
        Ok(())
    }
}

impl QuotaConfig {
    fn check_bounds(&self, at: &str) -> Result<(), ConfigError> {
        for (path, n) in &self.limits {
            bounds::check(format!("{at}.limits.{path}"), *n, 0, bounds::COUNT)?;
        }
        Ok(())
    }
}
