//! The server's configuration file: the libraries' engine config (`apps`,
//! `quota`, `retry`, …) plus a `server` section (listen address, store,
//! callers and their rights). TOML or JSON, by the file's extension. Unknown
//! fields are errors naming their path, like the engine's.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use wxcore::{Config, ConfigError};

/// What a caller may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read the token, ask for compare-and-invalidate.
    Token,
    /// JS-SDK tickets and signed `wx.config`.
    Ticket,
    /// Calls through the relay (within `relay_paths`).
    Relay,
    /// The WeChat-compatible token endpoints (the key in the secret's slot).
    Facade,
    /// The status page and metrics.
    Status,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Token => "token",
            Action::Ticket => "ticket",
            Action::Relay => "relay",
            Action::Facade => "facade",
            Action::Status => "status",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerConfig {
    /// A name for audits and logs.
    pub name: String,
    /// SHA-256 of the caller's key, hex: the server never holds the key.
    pub key_sha256: String,
    /// App ids this caller may use; `"*"`: all.
    pub apps: Vec<String>,
    /// What it may do with them.
    pub actions: Vec<Action>,
    /// API paths the relay accepts from it: exact, or a glob with `*`.
    #[serde(default)]
    pub relay_paths: Vec<String>,
    /// Requests per minute (default 60,000).
    #[serde(default)]
    pub rate_per_minute: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// `host:port` (default `127.0.0.1:8700`).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// `memory` (default: one process) or `redis://…` (replicas share
    /// tokens, leases and quota counts through the fleet protocol).
    #[serde(default = "default_store")]
    pub store: String,
    /// Where the audit log goes: a file path, or `-` for standard output.
    #[serde(default = "default_audit")]
    pub audit_log: String,
    /// Request bodies over this many bytes get 413.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// A client that has not sent its headers within this is cut off.
    #[serde(default = "default_header_timeout")]
    pub header_timeout_ms: u64,
    /// A client that has not sent its body within this is cut off.
    #[serde(default = "default_body_timeout")]
    pub body_timeout_ms: u64,
    /// Callers and their rights.
    #[serde(default)]
    pub callers: Vec<CallerConfig>,
}

fn default_listen() -> String {
    "127.0.0.1:8700".into()
}
fn default_store() -> String {
    "memory".into()
}
fn default_audit() -> String {
    "-".into()
}
fn default_max_body() -> usize {
    1 << 20
}
fn default_header_timeout() -> u64 {
    5_000
}
fn default_body_timeout() -> u64 {
    10_000
}

/// A caller as the server checks it.
#[derive(Debug)]
pub struct Caller {
    pub name: String,
    pub all_apps: bool,
    pub apps: Vec<String>,
    pub actions: Vec<Action>,
    pub relay_paths: Vec<String>,
    pub rate_per_minute: u64,
}

impl Caller {
    pub fn may(&self, action: Action, app: &str) -> bool {
        self.actions.contains(&action) && (self.all_apps || self.apps.iter().any(|a| a == app))
    }

    pub fn may_relay(&self, path: &str) -> bool {
        self.relay_paths.iter().any(|p| glob(p, path))
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob(pattern: &str, s: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = s.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    if parts.is_empty() {
        return rest.is_empty();
    }
    for (i, p) in parts.iter().enumerate() {
        if i == parts.len() - 1 {
            return rest.ends_with(p);
        }
        match rest.find(p) {
            Some(at) => rest = &rest[at + p.len()..],
            None => return false,
        }
    }
    true
}

/// Everything the server was configured with.
pub struct Settings {
    pub server: ServerSection,
    pub engine: Config,
    /// Callers by the SHA-256 of their key.
    pub callers: HashMap<[u8; 32], Caller>,
    /// Per app: (platform, app_id or corp_id), for the facade.
    pub identities: Vec<(String, String, Option<String>)>,
}

pub fn key_hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn named<T: serde::de::DeserializeOwned>(v: serde_json::Value, at: &str) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            at.to_string()
        } else {
            format!("{at}.{path}")
        };
        let msg = e.into_inner().to_string();
        let msg = msg
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_string();
        ConfigError::new(field, msg)
    })
}

impl Settings {
    /// Reads the file; errors name the field.
    pub fn load(path: &str) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new("--config", format!("cannot read `{path}`: {e}")))?;
        let mut doc: serde_json::Value = if path.ends_with(".json") {
            serde_json::from_str(&text).map_err(|e| ConfigError::new("config", e.to_string()))?
        } else {
            let v: toml::Value = toml::from_str(&text)
                .map_err(|e| ConfigError::new("config", e.message().to_string()))?;
            serde_json::to_value(v).map_err(|e| ConfigError::new("config", e.to_string()))?
        };
        let server = doc
            .as_object_mut()
            .and_then(|m| m.remove("server"))
            .unwrap_or_else(|| serde_json::json!({}));
        let server: ServerSection = named(server, "server")?;
        let identities: Vec<(String, String, Option<String>)> = doc
            .get("apps")
            .and_then(|a| a.as_array())
            .map(|apps| {
                apps.iter()
                    .map(|a| {
                        let s = |k: &str| a.get(k).and_then(|v| v.as_str()).map(str::to_string);
                        (
                            s("id").unwrap_or_default(),
                            s("platform").unwrap_or_default(),
                            s("app_id").or_else(|| s("corp_id")),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut engine = Config::from_value(doc)?;
        // The server's own engine: every token ready before a caller asks,
        // refreshes spread so apps and replicas do not go in step.
        engine.prefetch_tokens = true;
        if engine.refresh_jitter_ms == 0 {
            engine.refresh_jitter_ms = 300_000;
        }
        if engine.seed == 0 {
            let mut b = [0u8; 8];
            getrandom::getrandom(&mut b).expect("the OS random generator");
            engine.seed = u64::from_le_bytes(b);
        }
        if server.store != "memory" {
            if !server.store.starts_with("redis://") && !server.store.starts_with("rediss://") {
                return Err(ConfigError::new(
                    "server.store",
                    format!("`{}` is neither `memory` nor a redis:// URL", server.store),
                ));
            }
            engine.store = wxcore::StoreMode::External;
        }
        let mut callers = HashMap::new();
        for (i, c) in server.callers.iter().enumerate() {
            let at = |f: &str| format!("server.callers[{i}].{f}");
            let hash = decode_hex32(&c.key_sha256).ok_or_else(|| {
                ConfigError::new(
                    at("key_sha256"),
                    "must be 64 hex digits (the SHA-256 of the key)",
                )
            })?;
            if c.name.is_empty() {
                return Err(ConfigError::new(at("name"), "must not be empty"));
            }
            for a in &c.apps {
                if a != "*" && !identities.iter().any(|(id, _, _)| id == a) {
                    return Err(ConfigError::new(
                        at("apps"),
                        format!("no app `{a}` is configured"),
                    ));
                }
            }
            // The status page and metrics show every app: a narrower
            // `apps` would read as a scope this view cannot honour.
            if c.actions.contains(&Action::Status) && !c.apps.iter().any(|a| a == "*") {
                return Err(ConfigError::new(
                    at("apps"),
                    "a caller with `status` sees every app: give it apps = [\"*\"]",
                ));
            }
            if c.actions.contains(&Action::Relay) && c.relay_paths.is_empty() {
                return Err(ConfigError::new(
                    at("relay_paths"),
                    "a caller with `relay` needs the API paths it may call",
                ));
            }
            if let Some(p) = c.relay_paths.iter().find(|p| !p.starts_with('/')) {
                return Err(ConfigError::new(
                    at("relay_paths"),
                    format!("`{p}` must start with `/`"),
                ));
            }
            let rate = c.rate_per_minute.unwrap_or(60_000);
            if rate == 0 {
                return Err(ConfigError::new(
                    at("rate_per_minute"),
                    "must be at least 1",
                ));
            }
            let caller = Caller {
                name: c.name.clone(),
                all_apps: c.apps.iter().any(|a| a == "*"),
                apps: c.apps.clone(),
                actions: c.actions.clone(),
                relay_paths: c.relay_paths.clone(),
                rate_per_minute: rate,
            };
            if callers.insert(hash, caller).is_some() {
                return Err(ConfigError::new(
                    at("key_sha256"),
                    "two callers share this key",
                ));
            }
        }
        if server.max_body_bytes == 0 {
            return Err(ConfigError::new(
                "server.max_body_bytes",
                "must be at least 1",
            ));
        }
        Ok(Settings {
            server,
            engine,
            callers,
            identities,
        })
    }
}

fn decode_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob("/cgi-bin/user/*", "/cgi-bin/user/info"));
        assert!(glob("/cgi-bin/user/info", "/cgi-bin/user/info"));
        assert!(!glob("/cgi-bin/user/info", "/cgi-bin/user/info/x"));
        assert!(!glob("/cgi-bin/user/*", "/cgi-bin/menu/get"));
        assert!(glob("/cgi-bin/*/get", "/cgi-bin/menu/get"));
        assert!(!glob("/cgi-bin/*/get", "/cgi-bin/menu/got"));
    }
}
