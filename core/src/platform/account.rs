//! Accounts: a configured app resolved against its profile (hosts, token
//! endpoint, placement, limits, identity). Fixed once the engine is built;
//! the engine keeps the runtime state beside it (`engine::app`), so building
//! a platform request needs nothing of the engine.

use crate::config::{AppConfig, Config, CredentialConfig, QuotaMode, Secret, SourceKind};
use crate::error::ConfigError;
use crate::platform::profile::{
    self, EnvelopeFields, Placement, Profile, RateLimit, TokenEndpoint,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// A profile with what every app on it shares.
#[derive(Debug)]
pub(crate) struct ProfileRt {
    pub(crate) profile: Profile,
    pub(crate) fields: EnvelopeFields,
    pub(crate) endpoints: BTreeMap<String, Arc<TokenEndpoint>>,
    pub(crate) refresh: Option<Arc<TokenEndpoint>>,
    pub(crate) placement: Option<Arc<Placement>>,
    pub(crate) hosts: Arc<[String]>,
}

/// The token endpoint an app uses, with its path resolved.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) spec: Arc<TokenEndpoint>,
    pub(crate) path: Arc<str>,
}

/// Effective rate limits of an app.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Rates {
    pub(crate) per_minute: Option<u64>,
    pub(crate) burst: u64,
    pub(crate) concurrency: Option<u32>,
}

/// One configured app, resolved.
#[derive(Debug)]
pub(crate) struct Account {
    pub(crate) name: String,
    pub(crate) rt: Arc<ProfileRt>,
    pub(crate) secret: Secret,
    pub(crate) app_id: Option<String>,
    pub(crate) corp_id: Option<String>,
    pub(crate) agent_id: Option<String>,
    pub(crate) token: Option<Endpoint>,
    pub(crate) refresh: Option<Endpoint>,
    pub(crate) placement: Arc<Placement>,
    pub(crate) hosts: Arc<[String]>,
    pub(crate) quota_mode: QuotaMode,
    pub(crate) limits: Arc<HashMap<String, u64>>,
    pub(crate) rates: Rates,
    /// Identity of the credential in a shared store and in exported state:
    /// platform, account (app id, or corp id and agent id) and token
    /// endpoint, each part escaped.
    pub(crate) store_id: String,
    /// The platform as configured and the account (escaped app id, or corp
    /// id and agent id): what exported state is bound to.
    pub(crate) platform: String,
    pub(crate) account_id: String,
    /// API security material, when the app seals calls.
    pub(crate) security: Option<Box<crate::crypto::api_security::AppSecurity>>,
    /// A token server (or its relay) in place of the platform's token endpoint.
    pub(crate) source: Option<Arc<Source>>,
    /// The callback keys that verify and decrypt pushed tickets.
    pub(crate) callback: Option<crate::crypto::callback::CallbackCrypto>,
}

impl Account {
    /// Whether a call to `path` carries the app's token (a tokenless call
    /// of the profile does not).
    pub(crate) fn needs_token(&self, path: &str) -> bool {
        self.token.is_some() && !self.rt.profile.tokenless_calls.contains_key(path)
    }

    pub(crate) fn limit(&self, path: &str) -> Option<u64> {
        self.limits.get(path).copied()
    }

    /// Expands `{app_id}`, `{secret}`, `{corp_id}`, `{agent_id}`, and the
    /// credentials the engine holds: `{refresh_token}`, `{ticket}` (pushed).
    pub(crate) fn render(&self, template: &str, held: Held<'_>) -> String {
        if !template.contains('{') {
            return template.to_string();
        }
        let mut out = template.to_string();
        let vars: [(&str, Option<&str>); 6] = [
            ("{app_id}", self.app_id.as_deref()),
            ("{secret}", Some(self.secret.expose())),
            ("{corp_id}", self.corp_id.as_deref()),
            ("{agent_id}", self.agent_id.as_deref()),
            ("{refresh_token}", held.refresh_token),
            ("{ticket}", held.ticket),
        ];
        for (name, value) in vars {
            if out.contains(name) {
                out = out.replace(name, value.unwrap_or(""));
            }
        }
        out
    }
}

impl Account {
    /// An authorizer of the component whose authorizer template this is:
    /// the template's profile, hosts and limits, its own app id, no secret
    /// (its token comes through the component), and a store identity under
    /// the component's, so two components' authorizers never share a key.
    pub(crate) fn authorizer(
        &self,
        name: String,
        appid: &str,
        component_store_id: &str,
        corp: bool,
    ) -> Account {
        // A WeCom corp is named by its corp id; an account by its app id.
        let (app_id, corp_id) = match corp {
            true => (None, Some(appid.to_string())),
            false => (Some(appid.to_string()), None),
        };
        Account {
            name,
            rt: self.rt.clone(),
            secret: Secret::new(""),
            app_id,
            corp_id,
            agent_id: None,
            token: self.token.clone(),
            refresh: None,
            placement: self.placement.clone(),
            hosts: self.hosts.clone(),
            quota_mode: self.quota_mode,
            limits: self.limits.clone(),
            rates: self.rates,
            store_id: format!("{component_store_id}:authorizer:{}", key_part(appid)),
            platform: self.platform.clone(),
            account_id: key_part(appid),
            security: None,
            source: None,
            callback: None,
        }
    }
}

/// Credentials the engine holds that a token request may carry.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Held<'a> {
    pub(crate) refresh_token: Option<&'a str>,
    pub(crate) ticket: Option<&'a str>,
}

/// One part of a store key: `%`, `:` and `=` percent-encoded, so parts
/// joined with `:` split back unambiguously; ordinary ids pass unchanged.
pub(crate) fn key_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            ':' => out.push_str("%3A"),
            '=' => out.push_str("%3D"),
            c => out.push(c),
        }
    }
    out
}

fn check_url(field: &str, url: &str) -> Result<String, ConfigError> {
    let u = url.trim_end_matches('/');
    let ok = (u.starts_with("https://") || u.starts_with("http://"))
        && u.len() > u.find("://").unwrap_or(0) + 3
        && !u.contains('?')
        && !u.contains(char::is_whitespace);
    if ok {
        Ok(u.to_string())
    } else {
        Err(ConfigError::new(
            field,
            format!("`{url}` is not an http(s) base URL without query"),
        ))
    }
}

fn check_path(field: &str, path: &str) -> Result<Arc<str>, ConfigError> {
    if path.starts_with('/') && !path.contains('?') && !path.contains(char::is_whitespace) {
        Ok(path.into())
    } else {
        Err(ConfigError::new(
            field,
            format!("`{path}` must be a path starting with `/`, without query"),
        ))
    }
}

fn rt_for(profile: Profile) -> Result<ProfileRt, ConfigError> {
    let fields = profile.envelope_fields();
    let endpoints = profile
        .token_endpoints
        .iter()
        .map(|(k, v)| (k.clone(), Arc::new(v.clone())))
        .collect();
    let refresh = profile.refresh_endpoint.clone().map(Arc::new);
    let placement = profile.token_placement.clone().map(Arc::new);
    let hosts: Arc<[String]> = profile
        .hosts
        .iter()
        .map(|h| h.trim_end_matches('/').to_string())
        .collect();
    Ok(ProfileRt {
        profile,
        fields,
        endpoints,
        refresh,
        placement,
        hosts,
    })
}

/// Quota tables shared between apps with the same profile, tier and overrides.
pub(crate) type LimitCache =
    HashMap<(String, String, Vec<(String, u64)>), Arc<HashMap<String, u64>>>;

/// Loads every profile the config can name: built-ins, then custom ones.
pub(crate) fn load_profiles(cfg: &Config) -> Result<HashMap<String, Arc<ProfileRt>>, ConfigError> {
    let mut out = HashMap::new();
    for (name, _) in profile::BUILTIN {
        let value = profile::builtin_value(name).expect("built-in");
        let p = profile::parse_profile(&format!("profile {name}"), name, &value)?;
        out.insert(name.to_string(), Arc::new(rt_for(p)?));
    }
    for (name, value) in &cfg.profiles {
        let field = format!("profiles.{name}");
        let p = profile::parse_profile(&field, name, value)?;
        out.insert(name.clone(), Arc::new(rt_for(p)?));
    }
    Ok(out)
}

fn merge_rates(layers: &[Option<&RateLimit>]) -> Rates {
    let mut per_minute = None;
    let mut burst = None;
    let mut concurrency = None;
    for l in layers.iter().flatten() {
        per_minute = l.per_minute.or(per_minute);
        burst = l.burst.or(burst);
        concurrency = l.concurrency.or(concurrency);
    }
    Rates {
        per_minute,
        burst: burst.or(per_minute).unwrap_or(0).max(1),
        concurrency,
    }
}

/// A credential source: where the token server is and how to ask it.
#[derive(Debug)]
pub(crate) struct Source {
    pub(crate) kind: SourceKind,
    /// The servers' base URLs (replicas), no trailing `/`.
    pub(crate) urls: Arc<[String]>,
    pub(crate) key: Secret,
    /// The app's id on the server, escaped for a URL path.
    pub(crate) remote: String,
}

impl Source {
    /// The headers every request to the token server carries: the caller's
    /// key, and the header a forged browser or SSRF request cannot set.
    pub(crate) fn headers(&self) -> Vec<(String, String)> {
        vec![
            (
                "authorization".into(),
                format!("Bearer {}", self.key.expose()),
            ),
            ("x-wxcore-request".into(), "1".into()),
        ]
    }
}

impl Account {
    /// Calls go through a relay: the app holds no token.
    pub(crate) fn relayed(&self) -> bool {
        self.source
            .as_ref()
            .is_some_and(|s| s.kind == SourceKind::Relay)
    }
}

/// Resolves app `i` of the config.
pub(crate) fn resolve(
    cfg: &Config,
    i: usize,
    a: &AppConfig,
    profiles: &HashMap<String, Arc<ProfileRt>>,
    limit_cache: &mut LimitCache,
) -> Result<Account, ConfigError> {
    let at = |f: &str| format!("apps[{i}].{f}");
    if a.id.is_empty() {
        return Err(ConfigError::new(at("id"), "must not be empty"));
    }
    let rt = profiles.get(&a.platform).cloned().ok_or_else(|| {
        ConfigError::new(
            at("platform"),
            format!("unknown platform `{}` (built-in: wechat-oa, wecom, jing, cj, result; or a name under `profiles`)", a.platform),
        )
    })?;
    let p = &rt.profile;
    for need in &p.requires {
        let present = match need.as_str() {
            "app_id" => a.app_id.as_deref().is_some_and(|s| !s.is_empty()),
            "corp_id" => a.corp_id.as_deref().is_some_and(|s| !s.is_empty()),
            "agent_id" => a.agent_id.as_deref().is_some_and(|s| !s.is_empty()),
            // A token server holds the secret for an app with a source.
            "secret" => {
                a.credential.is_some() || a.secret.as_ref().is_some_and(|s| !s.expose().is_empty())
            }
            _ => true,
        };
        if !present {
            return Err(ConfigError::new(
                at(need),
                format!("required for platform `{}`", p.name),
            ));
        }
    }

    // Hosts: explicit list, or one base URL, or the profile's; then regions.
    let mut hosts: Vec<String> = match (&a.hosts, &a.base_url) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                at("base_url"),
                "give either `base_url` or `hosts`, not both",
            ))
        }
        (Some(list), None) => list
            .iter()
            .enumerate()
            .map(|(j, h)| check_url(&at(&format!("hosts[{j}]")), h))
            .collect::<Result<_, _>>()?,
        (None, Some(b)) => vec![check_url(&at("base_url"), b)?],
        (None, None) => rt.hosts.to_vec(),
    };
    let source = match &a.credential {
        None => None,
        Some(c) => Some(Arc::new(source(&at, a, c)?)),
    };
    if let Some(src) = source.as_ref().filter(|s| s.kind == SourceKind::Relay) {
        if a.hosts.is_some() || a.base_url.is_some() || !a.regions.is_empty() {
            return Err(ConfigError::new(
                at("credential"),
                "a relayed app's calls all go to the relay: omit `base_url`, `hosts` and `regions`",
            ));
        }
        hosts = src
            .urls
            .iter()
            .map(|u| format!("{u}/v1/relay/{}", src.remote))
            .collect();
    }
    for r in &a.regions {
        let h = p.regional_hosts.get(r).ok_or_else(|| {
            ConfigError::new(
                at("regions"),
                format!("platform `{}` has no region `{r}`", p.name),
            )
        })?;
        hosts.push(h.trim_end_matches('/').to_string());
    }
    if hosts.is_empty() {
        return Err(ConfigError::new(
            at("base_url"),
            format!(
                "required for platform `{}`: its public documentation gives no host",
                p.name
            ),
        ));
    }
    let hosts: Arc<[String]> = if a.hosts.is_none()
        && a.base_url.is_none()
        && a.regions.is_empty()
        && a.credential.is_none()
    {
        rt.hosts.clone()
    } else {
        hosts.into()
    };

    // Token endpoint (a relayed app fetches none: the relay places the token).
    let relayed = source.as_ref().is_some_and(|s| s.kind == SourceKind::Relay);
    let token = if rt.endpoints.is_empty() || relayed {
        if a.token_endpoint.is_some() {
            return Err(ConfigError::new(
                at("token_endpoint"),
                format!("platform `{}` has no token endpoints", p.name),
            ));
        }
        None
    } else {
        let name = a
            .token_endpoint
            .clone()
            .or_else(|| p.default_token_endpoint.clone())
            .or_else(|| rt.endpoints.keys().next().cloned())
            .unwrap_or_default();
        let spec = rt.endpoints.get(&name).cloned().ok_or_else(|| {
            let known: Vec<&str> = rt.endpoints.keys().map(String::as_str).collect();
            ConfigError::new(
                at("token_endpoint"),
                format!("`{name}` is not one of {known:?}"),
            )
        })?;
        let path = match (&a.token_path, &spec.path) {
            (Some(tp), _) => check_path(&at("token_path"), tp)?,
            (None, Some(pp)) => pp.as_str().into(),
            (None, None) => {
                return Err(ConfigError::new(
                    at("token_path"),
                    format!(
                        "required for platform `{}`: its public documentation gives no token path",
                        p.name
                    ),
                ))
            }
        };
        Some(Endpoint { spec, path })
    };
    let refresh = match (&rt.refresh, &a.refresh_path) {
        _ if source.is_some() => None,
        (Some(spec), Some(rp)) => Some(Endpoint {
            spec: spec.clone(),
            path: check_path(&at("refresh_path"), rp)?,
        }),
        (Some(spec), None) => spec.path.as_ref().map(|pp| Endpoint {
            spec: spec.clone(),
            path: pp.as_str().into(),
        }),
        (None, Some(_)) => {
            return Err(ConfigError::new(
                at("refresh_path"),
                format!("platform `{}` has no refresh endpoint", p.name),
            ))
        }
        (None, None) => None,
    };
    if token.is_none() && a.token_path.is_some() {
        return Err(ConfigError::new(
            at("token_path"),
            format!("platform `{}` has no token endpoint to put it on", p.name),
        ));
    }

    let placement = match (&a.token_placement, &rt.placement) {
        (Some(pl), _) => Arc::new(pl.clone()),
        (None, Some(pl)) => pl.clone(),
        (None, None) => {
            return Err(ConfigError::new(
                at("token_placement"),
                format!("required for platform `{}`: its public documentation does not say how credentials travel", p.name),
            ))
        }
    };
    if placement.name.is_empty() {
        return Err(ConfigError::new(
            at("token_placement.name"),
            "must not be empty",
        ));
    }

    let quota = a.quota.as_ref().unwrap_or(&cfg.quota);
    if quota.tier != "new" && quota.tier != "test" && !p.quota.contains_key(&quota.tier) {
        let field = if a.quota.is_some() {
            at("quota.tier")
        } else {
            "quota.tier".into()
        };
        return Err(ConfigError::new(
            field,
            format!("`{}` is not a quota tier (new, test)", quota.tier),
        ));
    }
    let overrides: Vec<(String, u64)> = quota.limits.iter().map(|(k, v)| (k.clone(), *v)).collect();
    let limits = limit_cache
        .entry((p.name.clone(), quota.tier.clone(), overrides.clone()))
        .or_insert_with(|| {
            let mut m: HashMap<String, u64> = p
                .quota
                .get(&quota.tier)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .collect();
            m.extend(overrides);
            Arc::new(m)
        })
        .clone();

    let rates = merge_rates(&[
        p.rate_limit.as_ref(),
        cfg.rate_limit.as_ref(),
        a.rate_limit.as_ref(),
    ]);
    for (name, zero) in [
        ("per_minute", rates.per_minute == Some(0)),
        ("concurrency", rates.concurrency == Some(0)),
    ] {
        if zero {
            // A zero limit would hold every call forever.
            let at_app = a.rate_limit.is_some();
            let field = if at_app {
                at(&format!("rate_limit.{name}"))
            } else {
                format!("rate_limit.{name}")
            };
            return Err(ConfigError::new(
                field,
                "must be at least 1 (omit it for no limit)",
            ));
        }
    }
    let endpoint_name = a
        .token_endpoint
        .clone()
        .or_else(|| p.default_token_endpoint.clone())
        .unwrap_or_default();
    // Every part escaped, so no two accounts share a key whatever their ids
    // hold (a WeCom corp id with a `:` cannot pose as another corp's agent).
    let account_id = match (&a.corp_id, &a.agent_id, &a.app_id) {
        (Some(c), Some(ag), _) => format!("{}:{}", key_part(c), key_part(ag)),
        (_, _, Some(id)) => key_part(id),
        // No account id (a static credential): the local name, marked so it
        // cannot equal an account id.
        _ => format!("={}", key_part(&a.id)),
    };
    let store_id = format!(
        "{}:{account_id}:{}",
        key_part(&p.name),
        key_part(&endpoint_name)
    );
    let security = match &a.api_security {
        None => None,
        Some(_) if relayed => {
            return Err(ConfigError::new(
                at("api_security"),
                "a relayed app holds no keys: the token server seals its calls",
            ))
        }
        Some(_) if a.app_id.is_none() => {
            return Err(ConfigError::new(
                at("app_id"),
                "API security signs with the app id: set it",
            ))
        }
        Some(c) => Some(Box::new(crate::crypto::api_security::AppSecurity::new(
            i, c,
        )?)),
    };

    let callback = match (&a.callback, &p.pushed_ticket) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError::new(
                at("callback"),
                format!(
                    "platform `{}` pushes no ticket to the app: verify its callbacks with CallbackCrypto",
                    p.name
                ),
            ))
        }
        (None, Some(t)) if a.credential.is_none() => {
            return Err(ConfigError::new(
                at("callback"),
                format!(
                    "required for platform `{}`: its token needs the `{}` the platform pushes to the callback URL",
                    p.name, t.info_type
                ),
            ))
        }
        (None, Some(_)) => None,
        (Some(c), Some(_)) => {
            let receive_id = a.app_id.as_deref().unwrap_or_default();
            let crypto = crate::crypto::callback::CallbackCrypto::new(
                c.token.expose(),
                c.encoding_aes_key.expose(),
                receive_id,
            )
            .map_err(|e| ConfigError::new(at("callback.encoding_aes_key"), e.message))?;
            Some(crypto)
        }
    };

    Ok(Account {
        name: a.id.clone(),
        secret: a.secret.clone().unwrap_or_default(),
        app_id: a.app_id.clone(),
        corp_id: a.corp_id.clone(),
        agent_id: a.agent_id.clone(),
        token,
        refresh,
        placement,
        hosts,
        quota_mode: quota.mode,
        limits,
        rates,
        store_id,
        platform: a.platform.clone(),
        account_id,
        security,
        source,
        callback,
        rt,
    })
}

/// Checks an app's credential source: no secret beside it, a usable URL.
fn source(
    at: &dyn Fn(&str) -> String,
    a: &AppConfig,
    c: &CredentialConfig,
) -> Result<Source, ConfigError> {
    if a.secret.is_some() {
        // A device build must not ship a secret by mistake.
        return Err(ConfigError::new(
            at("secret"),
            "an app with a `credential` source holds no secret: the token server does",
        ));
    }
    if c.key.expose().is_empty() {
        return Err(ConfigError::new(at("credential.key"), "must not be empty"));
    }
    let listed = c.url.list();
    if listed.is_empty() || listed.len() > 64 {
        return Err(ConfigError::new(at("credential.url"), "give 1 to 64 URLs"));
    }
    let urls = listed
        .iter()
        .enumerate()
        .map(|(j, u)| match c.url {
            crate::config::Urls::One(_) => check_url(&at("credential.url"), u),
            crate::config::Urls::Many(_) => check_url(&at(&format!("credential.url[{j}]")), u),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let remote = c.app.as_deref().unwrap_or(&a.id);
    if remote.is_empty() {
        return Err(ConfigError::new(at("credential.app"), "must not be empty"));
    }
    let mut escaped = String::new();
    crate::platform::request::encode_into(&mut escaped, remote);
    Ok(Source {
        kind: c.source,
        urls: urls.into(),
        key: c.key.clone(),
        remote: escaped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_id_of(app: serde_json::Value) -> String {
        let cfg = Config::from_value(serde_json::json!({ "apps": [app] })).unwrap();
        let profiles = load_profiles(&cfg).unwrap();
        resolve(&cfg, 0, &cfg.apps[0], &profiles, &mut LimitCache::new())
            .unwrap()
            .store_id
    }

    #[test]
    fn ids_that_would_join_alike_get_distinct_keys() {
        let a = store_id_of(
            serde_json::json!({"id": "a", "platform": "wecom", "corp_id": "a:b", "agent_id": "c", "secret": "s"}),
        );
        let b = store_id_of(
            serde_json::json!({"id": "b", "platform": "wecom", "corp_id": "a", "agent_id": "b:c", "secret": "s"}),
        );
        assert_eq!(a, "wecom:a%3Ab:c:gettoken");
        assert_eq!(b, "wecom:a:b%3Ac:gettoken");
        // An account id cannot pose as a local name, nor `%` as an escape.
        let c = store_id_of(
            serde_json::json!({"id": "x", "platform": "result", "base_url": "https://r.example",
            "app_id": "=x", "secret": "s", "token_placement": {"in": "header", "name": "t"}}),
        );
        let d = store_id_of(
            serde_json::json!({"id": "x", "platform": "result", "base_url": "https://r.example",
            "secret": "s", "token_placement": {"in": "header", "name": "t"}}),
        );
        assert_eq!(c, "result:%3Dx:");
        assert_eq!(d, "result:=x:");
        assert_eq!(key_part("50%:="), "50%25%3A%3D");
    }
}
