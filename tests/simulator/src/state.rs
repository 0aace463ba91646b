//! Everything the simulator remembers: apps, tokens, counters, faults,
//! configuration and host modes. One mutex guards it; handlers are short and
//! synchronous, so contention is not a concern at test scale.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::sync::watch;

pub const DEFAULT_TTL_S: u64 = 7200;

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Daily quotas reset at midnight in Asia/Shanghai (UTC+8, no DST).
pub fn shanghai_day(ms: u64) -> u64 {
    (ms / 1000 + 8 * 3600) / 86_400
}

pub fn minute(ms: u64) -> u64 {
    ms / 60_000
}

/// Seconds left, rounded up so a token that is still valid never reports 0.
pub fn secs_left(until_ms: u64, now: u64) -> u64 {
    until_ms.saturating_sub(now).div_ceil(1000)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Platform {
    Oa,
    WeCom,
    Jing,
    Cj,
    Result,
    /// An open-platform component (its token is `component_access_token`).
    Component,
    /// A WeCom suite (its token is `suite_access_token`).
    Suite,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Host {
    Primary,
    Dr,
}

impl Host {
    pub fn name(self) -> &'static str {
        match self {
            Host::Primary => "primary",
            Host::Dr => "dr",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Up,
    Down,
    Stall,
}

/// The control side asks for a mode through `mode`; the host's task reports
/// through `applied` once the listener really is bound or closed, so a
/// control answer means the change is visible to the next connection.
pub struct HostHandle {
    pub mode: watch::Sender<Mode>,
    pub applied: watch::Receiver<Mode>,
}

pub struct Sim {
    pub state: Mutex<State>,
    /// Separate from `state` so an in-flight guard can be dropped anywhere,
    /// including while `state` is locked.
    pub inflight: Arc<Mutex<HashMap<String, usize>>>,
    pub hosts: [HostHandle; 2],
}

impl Sim {
    pub fn host(&self, host: Host) -> &HostHandle {
        match host {
            Host::Primary => &self.hosts[0],
            Host::Dr => &self.hosts[1],
        }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panicking handler must not take the whole simulator down with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns None when `key` already has `limit` calls in flight.
    pub fn enter(&self, key: &str, limit: u64) -> Option<InflightGuard> {
        let mut map = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key.to_string()).or_insert(0);
        if *n as u64 >= limit {
            return None;
        }
        *n += 1;
        Some(InflightGuard {
            map: self.inflight.clone(),
            keys: vec![key.to_string()],
        })
    }

    /// Counts a business call of `app` in flight, without a limit; returns
    /// how many are in flight now (for the `max_in_flight` counter).
    pub fn track(&self, app: &str) -> (InflightGuard, u64) {
        // A prefix no corp id can have keeps these apart from WeCom's slots.
        let key = format!("\u{0}{app}");
        let mut map = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key.clone()).or_insert(0);
        *n += 1;
        let now = *n as u64;
        drop(map);
        let guard = InflightGuard {
            map: self.inflight.clone(),
            keys: vec![key],
        };
        (guard, now)
    }
}

/// Held until the answer (latency included) has been produced.
pub struct InflightGuard {
    map: Arc<Mutex<HashMap<String, usize>>>,
    keys: Vec<String>,
}

impl InflightGuard {
    /// One guard releasing both slots.
    pub fn absorb(&mut self, mut other: InflightGuard) {
        self.keys.append(&mut std::mem::take(&mut other.keys));
    }
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        for key in &self.keys {
            if let Some(n) = map.get_mut(key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    map.remove(key);
                }
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub token_ttl_s: u64,
    pub overlap_s: u64,
    pub stable_renew_s: u64,
    pub latency_ms: u64,
    /// Extra delay for token and refresh endpoints only, to widen the window
    /// in which a client is "still fetching".
    pub token_latency_ms: u64,
    pub concurrency_limit: u64,
    pub daily_limits: BTreeMap<String, u64>,
    pub minute_limits: BTreeMap<String, u64>,
}

impl Config {
    pub fn new(token_ttl_s: u64) -> Config {
        Config {
            token_ttl_s,
            overlap_s: 300,
            stable_renew_s: 300,
            latency_ms: 0,
            token_latency_ms: 0,
            concurrency_limit: 5,
            daily_limits: BTreeMap::new(),
            minute_limits: BTreeMap::new(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "token_ttl_s": self.token_ttl_s,
            "overlap_s": self.overlap_s,
            "stable_renew_s": self.stable_renew_s,
            "latency_ms": self.latency_ms,
            "token_latency_ms": self.token_latency_ms,
            "concurrency_limit": self.concurrency_limit,
            "daily_limits": self.daily_limits,
            "minute_limits": self.minute_limits,
        })
    }
}

/// Seed 004's daily quotas for a new Official Account.
fn seed_daily_limit(path: &str) -> Option<u64> {
    Some(match path {
        "/cgi-bin/token" => 2000,
        "/cgi-bin/stable_token" => 500_000,
        "/cgi-bin/menu/create" => 1000,
        "/cgi-bin/menu/get" => 10_000,
        "/cgi-bin/menu/delete" => 1000,
        "/cgi-bin/tags/create" => 1000,
        "/cgi-bin/tags/get" => 1000,
        "/cgi-bin/media/upload" => 100_000,
        "/cgi-bin/media/get" => 200_000,
        "/cgi-bin/message/custom/send" => 500_000,
        "/cgi-bin/user/get" => 500,
        "/cgi-bin/user/info" => 5_000_000,
        _ => return None,
    })
}

pub struct Registration {
    pub secret: String,
    pub agent_id: Option<String>,
}

pub enum Cred {
    Ok(String),
    Missing,
    Wrong,
}

pub struct Token {
    pub platform: Platform,
    pub app: String,
    /// Natural end of life: past it the platform says "expired".
    pub expires_ms: u64,
    /// Earlier end when replaced (overlap) or invalidated: past it the
    /// platform says "invalid", as the real ones do for a superseded token.
    pub valid_until_ms: u64,
}

pub enum TokenStatus {
    Valid(String),
    Invalid(Option<String>),
    Expired(String),
}

pub struct RefreshToken {
    pub app: String,
    pub expires_ms: u64,
}

pub struct Media {
    pub app: String,
    pub content_type: String,
    pub filename: String,
    pub data: bytes::Bytes,
}

#[derive(Default)]
pub struct AppData {
    pub classic: Option<String>,
    pub stable: Option<String>,
    pub forced_day: u64,
    pub forced_count: u64,
    pub last_forced_ms: Option<u64>,
    pub wecom: Option<String>,
    pub cj: Option<String>,
    pub tickets: HashMap<String, (String, u64)>,
    pub menu: Option<Value>,
    pub tags: Vec<(u64, String)>,
    pub next_tag: u64,
    pub daily: HashMap<String, (u64, u64)>,
    pub minute: HashMap<String, (u64, u64)>,
}

#[derive(Default)]
pub struct Counters {
    pub token_fetches: BTreeMap<String, u64>,
    pub tokens_issued: BTreeMap<String, u64>,
    /// Tokens issued because the previous one had run out (or, for a stable
    /// token, entered its renewal window): the floor for a client's fetches.
    pub renewals: BTreeMap<String, u64>,
    pub ticket_fetches: BTreeMap<String, u64>,
    pub calls: BTreeMap<String, BTreeMap<String, u64>>,
    pub rejected: BTreeMap<String, BTreeMap<String, u64>>,
    /// The most business calls of one app in flight at once (latency included).
    pub max_in_flight: BTreeMap<String, u64>,
    pub primary: u64,
    pub dr: u64,
}

pub fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    *map.entry(key.to_string()).or_insert(0) += 1;
}

pub fn bump2(map: &mut BTreeMap<String, BTreeMap<String, u64>>, key: &str, sub: &str) {
    bump(map.entry(key.to_string()).or_default(), sub);
}

impl Counters {
    pub fn to_json(&self) -> Value {
        json!({
            "token_fetches": self.token_fetches,
            "tokens_issued": self.tokens_issued,
            "renewals": self.renewals,
            "ticket_fetches": self.ticket_fetches,
            "calls": self.calls,
            "rejected": self.rejected,
            "max_in_flight": self.max_in_flight,
            "requests": {"primary": self.primary, "dr": self.dr},
        })
    }
}

#[derive(Clone, Debug)]
pub enum FaultKind {
    Errcode {
        code: Value,
        msg: Option<String>,
        sub_msg: Option<String>,
        status: Option<u16>,
    },
    Malformed {
        status: u16,
    },
}

#[derive(Clone, Debug)]
pub struct Fault {
    pub kind: FaultKind,
    pub remaining: u64,
    pub path: Option<String>,
    pub app: Option<String>,
}

/// Whether `key` (an app key such as `corp` or `corp/1000002`) belongs to
/// the app named `app` in a control request.
pub fn app_matches(key: &str, app: &str) -> bool {
    key == app || (key.starts_with(app) && key[app.len()..].starts_with('/'))
}

pub struct State {
    flag_ttl_s: u64,
    pub config: Config,
    pub apps: HashMap<String, Vec<Registration>>,
    pub tokens: HashMap<String, Token>,
    pub refresh: HashMap<String, RefreshToken>,
    pub data: HashMap<String, AppData>,
    pub media: HashMap<String, Media>,
    pub counters: Counters,
    pub faults: Vec<Fault>,
    /// API security material by app id (registered through `/apps`).
    pub secure: HashMap<String, std::sync::Arc<crate::secure::SecureApp>>,
    /// Open-platform components by component appid.
    pub components: HashMap<String, crate::component::Component>,
    // Never reset, so a token from before a reset cannot be handed out again.
    seq: u64,
    seed: u64,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl State {
    pub fn new(flag_ttl_s: u64) -> State {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        State {
            flag_ttl_s,
            config: Config::new(flag_ttl_s),
            apps: HashMap::new(),
            tokens: HashMap::new(),
            refresh: HashMap::new(),
            data: HashMap::new(),
            media: HashMap::new(),
            counters: Counters::default(),
            faults: Vec::new(),
            secure: HashMap::new(),
            components: HashMap::new(),
            seq: 0,
            seed: splitmix(nanos ^ ((std::process::id() as u64) << 32)),
        }
    }

    pub fn reset(&mut self) {
        let (seq, seed) = (self.seq, self.seed);
        *self = State::new(self.flag_ttl_s);
        self.seq = seq;
        self.seed = seed;
    }

    /// Opaque, unguessable-looking and unique: `prefix` plus 48 hex digits.
    pub fn mint(&mut self, prefix: &str) -> String {
        self.seq += 1;
        let mut out = String::with_capacity(prefix.len() + 48);
        out.push_str(prefix);
        let mut x = self.seed ^ self.seq.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        for _ in 0..3 {
            x = splitmix(x);
            out.push_str(&format!("{x:016x}"));
        }
        out
    }

    pub fn app(&mut self, key: &str) -> &mut AppData {
        self.data.entry(key.to_string()).or_insert_with(|| AppData {
            next_tag: 100,
            ..AppData::default()
        })
    }

    /// `with_agent` makes a registration's agent id part of the key (WeCom,
    /// where the secret picks the agent).
    pub fn check_secret(&self, app_id: &str, secret: &str, with_agent: bool) -> Cred {
        if secret.is_empty() {
            return Cred::Missing;
        }
        let Some(regs) = self.apps.get(app_id) else {
            return Cred::Ok(app_id.to_string());
        };
        match regs.iter().find(|r| r.secret == secret) {
            Some(r) => match (&r.agent_id, with_agent) {
                (Some(agent), true) => Cred::Ok(format!("{app_id}/{agent}")),
                _ => Cred::Ok(app_id.to_string()),
            },
            None => Cred::Wrong,
        }
    }

    pub fn issue_token(&mut self, platform: Platform, app: &str, prefix: &str, now: u64) -> String {
        let token = self.mint(prefix);
        let expires_ms = now + self.config.token_ttl_s * 1000;
        self.tokens.insert(
            token.clone(),
            Token {
                platform,
                app: app.to_string(),
                expires_ms,
                valid_until_ms: expires_ms,
            },
        );
        bump(&mut self.counters.tokens_issued, app);
        token
    }

    /// Cut a token's life short: at `until` it stops working.
    pub fn cap_token(&mut self, token: &str, until: u64) {
        if let Some(t) = self.tokens.get_mut(token) {
            t.valid_until_ms = t.valid_until_ms.min(until);
        }
    }

    pub fn token_platform(&self, token: &str) -> Option<Platform> {
        self.tokens.get(token).map(|t| t.platform)
    }

    /// A token of another platform is as good as unknown here.
    pub fn token_status(&self, token: &str, platform: Platform, now: u64) -> TokenStatus {
        match self.tokens.get(token) {
            Some(t) if t.platform != platform => TokenStatus::Invalid(None),
            Some(t) if now >= t.expires_ms => TokenStatus::Expired(t.app.clone()),
            Some(t) if now >= t.valid_until_ms => TokenStatus::Invalid(Some(t.app.clone())),
            Some(t) => TokenStatus::Valid(t.app.clone()),
            None => TokenStatus::Invalid(None),
        }
    }

    /// Past its natural life, as opposed to replaced or invalidated.
    pub fn token_expired(&self, token: &str, now: u64) -> bool {
        self.tokens.get(token).is_some_and(|t| now >= t.expires_ms)
    }

    pub fn token_valid(&self, token: &str, now: u64) -> bool {
        self.tokens
            .get(token)
            .is_some_and(|t| now < t.expires_ms && now < t.valid_until_ms)
    }

    pub fn token_left_s(&self, token: &str, now: u64) -> u64 {
        self.tokens
            .get(token)
            .map_or(0, |t| secs_left(t.expires_ms.min(t.valid_until_ms), now))
    }

    /// The platform invalidated the app's credentials early: every token and
    /// ticket stops working, and the next fetch issues fresh ones.
    pub fn invalidate(&mut self, app: &str, now: u64) {
        for t in self.tokens.values_mut() {
            if app_matches(&t.app, app) {
                t.valid_until_ms = t.valid_until_ms.min(now);
            }
        }
        for (key, d) in self.data.iter_mut() {
            if app_matches(key, app) {
                d.classic = None;
                d.stable = None;
                d.wecom = None;
                d.cj = None;
                d.tickets.clear();
            }
        }
    }

    pub fn daily_limit(&self, platform: Platform, path: &str) -> Option<u64> {
        match self.config.daily_limits.get(path) {
            Some(n) => Some(*n),
            None if platform == Platform::Oa => seed_daily_limit(path),
            None => None,
        }
    }

    /// Counts the call against the day's quota; false once it is used up.
    /// Calls are counted even without a limit, so a limit set later in the
    /// day sees them, as the platform's own counters would.
    pub fn take_daily(&mut self, platform: Platform, app: &str, path: &str, now: u64) -> bool {
        let limit = self.daily_limit(platform, path);
        take(&mut self.app(app).daily, path, shanghai_day(now), limit)
    }

    pub fn take_minute(&mut self, app: &str, path: &str, now: u64) -> bool {
        let limit = self.config.minute_limits.get(path).copied();
        take(&mut self.app(app).minute, path, minute(now), limit)
    }

    /// The first pending fault that applies to this call, used up by one.
    pub fn take_fault(&mut self, path: &str, app: &str, pathless_too: bool) -> Option<FaultKind> {
        let i = self.faults.iter().position(|f| {
            let path_ok = match &f.path {
                Some(p) => p == path,
                None => pathless_too,
            };
            path_ok && f.app.as_deref().is_none_or(|a| app_matches(app, a))
        })?;
        let f = &mut self.faults[i];
        let kind = f.kind.clone();
        f.remaining -= 1;
        if f.remaining == 0 {
            self.faults.remove(i);
        }
        Some(kind)
    }
}

fn take(
    window: &mut HashMap<String, (u64, u64)>,
    path: &str,
    period: u64,
    limit: Option<u64>,
) -> bool {
    let slot = window.entry(path.to_string()).or_insert((period, 0));
    if slot.0 != period {
        *slot = (period, 0);
    }
    if limit.is_some_and(|limit| slot.1 >= limit) {
        return false;
    }
    slot.1 += 1;
    true
}
