//! The engine as a state machine: a fixed valid configuration, then a
//! sequence of steps (submits, answers, transport errors, store results,
//! clock steps, polls) decoded from the fuzz input. A fake platform and a
//! fake store answer; after every step the engine's promises are checked.

use crate::{leaks, shanghai_day, ENTROPY, MAX_TIME_MS, SECRET, TICKET_PREFIX, TOKEN_PREFIX};
use arbitrary::Arbitrary;
use std::collections::{HashMap, HashSet, VecDeque};
use wxcore::{
    Call, Config, Engine, ErrorKind, Event, HttpRequest, HttpResponse, Output, StoreCommand,
    StoreResult, TransportErrorKind,
};

macro_rules! log {
    ($s:expr, $($t:tt)*) => {
        if $s.trace.is_some() {
            let m = format!($($t)*);
            $s.log(m);
        }
    };
}

pub const T0: u64 = 1_700_000_000_000;
const MAX_STEPS: usize = 160;
/// The engine's default `call_timeout_ms` (the fixed configs leave it unset).
pub const CALL_TIMEOUT_MS: u64 = 120_000;

#[derive(Arbitrary, Debug, Clone)]
pub struct Input {
    pub config: u8,
    pub steps: Vec<Step>,
}

#[derive(Arbitrary, Debug, Clone)]
pub enum Step {
    Submit { app: u8, path: u8, post: bool, idempotent: bool },
    Ticket { app: u8, kind: u8 },
    Answer { pick: u8, answer: Answer },
    Transport { pick: u8, kind: u8 },
    Store { pick: u8, how: StoreHow },
    Clock(Clock),
    ToWake,
    Poll,
    /// `Engine::cancel` of a submitted call (`pick < 128`: by submission
    /// order), or of the id `pick - 128` (possibly never the host's: an
    /// engine-internal ticket call, or none at all).
    Cancel { pick: u8 },
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Answer {
    Ok(Expires),
    /// Token endpoint: the platform hands back the token it gave last.
    SameToken,
    Code(u8),
    Malformed(u8),
    Status5xx(u8),
    TooMany(u16),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Expires {
    Zero,
    One,
    Two,
    Minute,
    FiveMin,
    Hour,
    TwoHours,
    Secs(u32),
    Huge(u64),
    Missing,
    Str,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum StoreHow {
    Honest,
    Fail,
    /// A plausible but unhelpful answer (another process's old value,
    /// another process's count, a lost race).
    Other(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Clock {
    Ms(u16),
    Secs(u16),
    Mins(u8),
    Hours(u8),
    Days(u8),
    /// Near and past the engine's time clamp.
    Far(u8),
}

const APPS: [&str; 4] = ["oa", "oc", "hr", "nope"];
const PATHS: [&str; 8] = [
    "/cgi-bin/user/info",
    "/cgi-bin/tags/get",
    "/cgi-bin/user/get",
    "/cgi-bin/message/custom/send",
    "/cgi-bin/clear_quota",
    "/cgi-bin/ticket/getticket",
    "/cgi-bin/get_jsapi_ticket",
    "bad-path",
];
const KINDS: [&str; 4] = ["jsapi", "wx_card", "agent_config", "nope"];
const CODES: [i64; 16] = [
    40001, 40014, 42001, 45009, 45011, -1, 40164, 89506, 89507, 89503, 45033, 40243, 48001,
    40013, 61004, 60020,
];
const MALFORMED: [&str; 7] = [
    "",
    "<html>oops</html>",
    "{",
    "[1,2]",
    "{\"errcode\":\"x\"}",
    "\u{0}bin",
    "{\"access_token\":7}",
];
/// Daily limits (enforce mode) per app and path.
pub const LIMITS: [(&str, u64); 5] = [
    ("/cgi-bin/tags/get", 3),
    ("/cgi-bin/user/get", 2),
    ("/cgi-bin/ticket/getticket", 4),
    ("/cgi-bin/get_jsapi_ticket", 3),
    ("/cgi-bin/ticket/get", 3),
];
const TICKET_PATHS: [&str; 3] = [
    "/cgi-bin/ticket/getticket",
    "/cgi-bin/get_jsapi_ticket",
    "/cgi-bin/ticket/get",
];

/// The fixed configurations: memory or external store, with or without
/// rate limits, default or short refresh margin.
pub fn config_json(choice: u8) -> String {
    let store = if choice & 1 == 0 { "memory" } else { "external" };
    // Fleet mode needs the host's 32 random bytes (a lease owner of its own).
    let entropy = if choice & 1 == 0 {
        String::new()
    } else {
        format!(r#""entropy": "{ENTROPY}","#)
    };
    let rated = choice & 2 == 0;
    let margin = if choice & 4 == 0 { 3_600_000 } else { 60_000 };
    let oc_rate = if rated {
        r#","rate_limit": {"per_minute": 30, "burst": 2, "concurrency": 2}"#
    } else {
        ""
    };
    let global_rate = if rated {
        r#""rate_limit": {"per_minute": 60, "burst": 3},"#
    } else {
        ""
    };
    let limits: Vec<String> = LIMITS.iter().map(|(p, n)| format!("\"{p}\": {n}")).collect();
    format!(
        r#"{{
  "apps": [
    {{"id": "oa", "platform": "wechat-oa", "app_id": "wxA", "secret": "{SECRET}"}},
    {{"id": "oc", "platform": "wechat-oa", "app_id": "wxB", "secret": "{SECRET}", "token_endpoint": "classic"{oc_rate}}},
    {{"id": "hr", "platform": "wecom", "corp_id": "wwC", "agent_id": "1", "secret": "{SECRET}"}}
  ],
  "store": "{store}",{entropy}
  "seed": 7,
  "refresh_margin_ms": {margin},
  {global_rate}
  "quota": {{"mode": "enforce", "limits": {{{}}}}},
  "failover": {{"threshold": 2, "cooldown_ms": 5000}}
}}"#,
        limits.join(", ")
    )
}

#[derive(Debug, Clone)]
enum Req {
    Token { app: usize },
    Call { _app: Option<usize>, path: String },
}

#[derive(Debug, Clone)]
struct Pending {
    id: u64,
    req: Req,
}

/// What the harness knows of one app's token from the engine's events.
#[derive(Debug, Clone, Copy, Default)]
struct TokenModel {
    /// `(expires_at_ms, refresh_at_ms)` of the last `token_fetched`.
    current: Option<(u64, Option<u64>)>,
    /// A fetch cycle is under way (a token request or a token/lock store op
    /// went out, and neither `token_fetched` nor `token_fetch_failed` since).
    fetching: bool,
}

pub struct Run {
    engine: Engine,
    now: u64,
    _external: bool,
    submitted: HashSet<u64>,
    /// Host call ids in submission order (for `Cancel`).
    order: Vec<u64>,
    /// Non-ticket calls still owed a `Done`, in submission order, with the
    /// time their default deadline falls due.
    deadlines: VecDeque<(u64, u64)>,
    /// Calls `cancel` said it withdrew, whose `Done` is owed in this drain.
    cancelled: HashSet<u64>,
    ticket_ids: HashSet<u64>,
    done: HashSet<u64>,
    sends: Vec<Pending>,
    stores: Vec<(u64, StoreCommand)>,
    kv: HashMap<String, (String, u64)>,
    wake: Option<u64>,
    /// token value -> (app, the platform's expiry)
    tokens: HashMap<String, (usize, u64)>,
    latest: [Option<String>; 3],
    /// ticket value -> the platform's expiry
    tickets: HashMap<String, u64>,
    blocked_until: [u64; 3],
    quota_sent: HashMap<(usize, String, u64), u64>,
    quota_unchecked: [bool; 3],
    model: [TokenModel; 3],
    serial: u64,
    trace: Option<Vec<String>>,
}

/// `WXFUZZ_SKIP=ticket,ipblock,quota,clear,storedown,wake,refresh,far,deadline` turns checks off, to keep
/// fuzzing for other findings once one is known and written up.
pub fn skip(check: &str) -> bool {
    static SKIP: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    SKIP.get_or_init(|| {
        std::env::var("WXFUZZ_SKIP")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .collect()
    })
    .iter()
    .any(|s| s == check)
}

fn clamp(t: u64) -> u64 {
    t.min(MAX_TIME_MS)
}

fn app_index(name: &str) -> Option<usize> {
    APPS[..3].iter().position(|a| *a == name)
}

fn limit_of(path: &str) -> Option<u64> {
    LIMITS.iter().find(|(p, _)| *p == path).map(|(_, n)| *n)
}

/// Every `TKa…z` / `TIa…z` value in `text`.
fn values_in(text: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let tail = &rest[i..];
        let end = tail.find('z').map_or(tail.len(), |e| e + 1);
        out.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

fn url_path(url: &str) -> &str {
    let no_query = &url[..url.find('?').unwrap_or(url.len())];
    match no_query.find("://") {
        Some(i) => {
            let after = &no_query[i + 3..];
            &after[after.find('/').unwrap_or(after.len())..]
        }
        None => no_query,
    }
}

fn expires_secs(e: Expires) -> (Option<String>, u64) {
    // (the JSON of `expires_in`, or none; the seconds the platform means)
    match e {
        Expires::Zero => (Some("0".into()), 0),
        Expires::One => (Some("1".into()), 1),
        Expires::Two => (Some("2".into()), 2),
        Expires::Minute => (Some("60".into()), 60),
        Expires::FiveMin => (Some("300".into()), 300),
        Expires::Hour => (Some("3600".into()), 3600),
        Expires::TwoHours => (Some("7200".into()), 7200),
        Expires::Secs(s) => (Some(s.to_string()), s as u64),
        Expires::Huge(s) => (Some(s.to_string()), s),
        Expires::Missing => (None, 7200),
        Expires::Str => (Some("\"7200\"".into()), 7200),
    }
}

impl Run {
    pub fn new(config: u8, trace: bool) -> Run {
        let choice = config % 8;
        let cfg = Config::from_json(&config_json(choice)).expect("the fixed configs are valid");
        let mut run = Run {
            engine: Engine::new(cfg, T0).expect("the fixed configs are valid"),
            now: T0,
            _external: choice & 1 == 1,
            submitted: HashSet::new(),
            order: Vec::new(),
            deadlines: VecDeque::new(),
            cancelled: HashSet::new(),
            ticket_ids: HashSet::new(),
            done: HashSet::new(),
            sends: Vec::new(),
            stores: Vec::new(),
            kv: HashMap::new(),
            wake: None,
            tokens: HashMap::new(),
            latest: Default::default(),
            tickets: HashMap::new(),
            blocked_until: [0; 3],
            quota_sent: HashMap::new(),
            quota_unchecked: [false; 3],
            model: Default::default(),
            serial: 0,
            trace: trace.then(Vec::new),
        };
        run.log(format!("config #{choice}: {}", config_json(choice).replace('\n', " ")));
        run
    }

    fn log(&mut self, s: String) {
        if let Some(t) = &mut self.trace {
            t.push(s);
        }
    }

    pub fn trace(&self) -> String {
        self.trace.as_ref().map(|t| t.join("\n")).unwrap_or_default()
    }

    fn fresh_value(&mut self, prefix: &str) -> String {
        self.serial += 1;
        format!("{prefix}{}z", self.serial)
    }

    /// Drains outputs until `Idle`, checking every promise on the way.
    fn drain(&mut self) -> Result<(), String> {
        for _ in 0..20_000 {
            let out = self.engine.poll_output(self.now);
            match out {
                Output::Send(r) => self.on_send(r)?,
                Output::Store(op) => {
                    let dbg = format!("{op:?}");
                    if leaks(&dbg) {
                        return Err(format!("store op Debug leaks a secret: {dbg}"));
                    }
                    if let Some(a) = self.fetch_key_app(&op.command) {
                        self.model[a].fetching = true;
                    }
                    log!(self, 
                        "  <- Store #{} {} {}",
                        op.id,
                        op.command.name(),
                        op.command.key()
                    );
                    self.stores.push((op.id, op.command));
                }
                Output::Done(c) => {
                    let id = c.call_id;
                    let summary = match &c.result {
                        Ok(r) => format!("ok {}", String::from_utf8_lossy(&r.body)),
                        Err(e) => format!("err {e}"),
                    };
                    log!(self, "  <- Done call {id}: {summary}");
                    if !self.submitted.contains(&id) {
                        return Err(format!("Done for call {id}, which was never submitted"));
                    }
                    if !self.done.insert(id) {
                        return Err(format!("call {id} completed twice"));
                    }
                    if self.cancelled.remove(&id)
                        && !matches!(&c.result, Err(e) if e.kind == ErrorKind::Cancelled)
                    {
                        return Err(format!(
                            "cancel of call {id} returned true, but its Done is not `cancelled`: {summary}"
                        ));
                    }
                    match &c.result {
                        Err(e) => {
                            for text in [format!("{e}"), format!("{e:?}")] {
                                if leaks(&text) {
                                    return Err(format!("error leaks a secret: {text}"));
                                }
                            }
                        }
                        Ok(r) if self.ticket_ids.contains(&id) => self.check_ticket(id, &r.body)?,
                        Ok(_) => {}
                    }
                }
                Output::Event(e) => self.on_event(e)?,
                Output::Idle { wake_at_ms } => {
                    log!(self, "  <- Idle wake_at_ms={wake_at_ms:?}");
                    self.wake = wake_at_ms;
                    self.check_completions()?;
                    return self.check_idle(wake_at_ms);
                }
            }
        }
        Err("outputs never reached Idle".into())
    }

    /// At the end of a drain: every withdrawn call has its `Done`; every
    /// non-ticket call whose deadline (submit time + `call_timeout_ms`) has
    /// come has its `Done`; at or past the clamp every call has its `Done`.
    fn check_completions(&mut self) -> Result<(), String> {
        if !self.cancelled.is_empty() {
            let mut ids: Vec<_> = self.cancelled.iter().copied().collect();
            ids.sort();
            return Err(format!(
                "cancel returned true for calls {ids:?}, and the drain that followed (now={}) ended without their Done",
                self.now
            ));
        }
        if skip("deadline") {
            return Ok(());
        }
        if self.now >= MAX_TIME_MS {
            if self.done.len() != self.submitted.len() {
                let mut lost: Vec<_> = self.submitted.difference(&self.done).copied().collect();
                lost.sort();
                return Err(format!(
                    "now={} is at or past the clamp {MAX_TIME_MS}, where every call ends (invalid_request, code clock), and calls {lost:?} have no Done",
                    self.now
                ));
            }
            self.deadlines.clear();
            return Ok(());
        }
        while let Some(&(id, due)) = self.deadlines.front() {
            if self.done.contains(&id) {
                self.deadlines.pop_front();
                continue;
            }
            if self.now >= due {
                return Err(format!(
                    "call {id} (submitted at {}) has no Done at now={}: its deadline ({CALL_TIMEOUT_MS} ms, the default call_timeout_ms) fell due at {due}",
                    due - CALL_TIMEOUT_MS,
                    self.now
                ));
            }
            break;
        }
        Ok(())
    }

    fn fetch_key_app(&self, cmd: &StoreCommand) -> Option<usize> {
        let key = cmd.key();
        let is_fetch = matches!(cmd, StoreCommand::Get { .. } | StoreCommand::Lock { .. })
            && (key.starts_with("wxcore:token:") || key.starts_with("wxcore:lock:"));
        if !is_fetch {
            return None;
        }
        if key.contains(":wxA:") {
            Some(0)
        } else if key.contains(":wxB:") {
            Some(1)
        } else if key.contains(":wwC:") {
            Some(2)
        } else {
            None
        }
    }

    fn on_send(&mut self, r: HttpRequest) -> Result<(), String> {
        let now = clamp(self.now);
        let dbg = format!("{r:?}");
        if leaks(&dbg) {
            return Err(format!("request Debug leaks a secret: {dbg}"));
        }
        let path = url_path(&r.url).to_string();
        let token_app = match path.as_str() {
            "/cgi-bin/stable_token" => Some(0),
            "/cgi-bin/token" => Some(1),
            "/cgi-bin/gettoken" => Some(2),
            _ => None,
        };
        let shown_url = r.url.replace(SECRET, "<secret>");
        log!(self, "  <- Send #{} {} {shown_url}", r.id, r.method);
        if let Some(app) = token_app {
            self.model[app].fetching = true;
            self.sends.push(Pending {
                id: r.id,
                req: Req::Token { app },
            });
            return Ok(());
        }
        // A call: whose token does it carry?
        let mut everything = r.url.clone();
        for (k, v) in &r.headers {
            everything.push_str(&format!(" {k}: {v}"));
        }
        everything.push_str(&String::from_utf8_lossy(&r.body));
        let mut app = None;
        for t in values_in(&everything, TOKEN_PREFIX) {
            if let Some(&(a, expiry)) = self.tokens.get(&t) {
                app = Some(a);
                if now >= expiry {
                    return Err(format!(
                        "Send #{} at now={now} carries token {t}, which the platform said expires at {expiry}",
                        r.id
                    ));
                }
            }
        }
        if let Some(a) = app {
            if now < self.blocked_until[a] && !skip("ipblock") {
                return Err(format!(
                    "Send #{} ({path}) for app `{}` at now={now}, inside the IP block announced until {}",
                    r.id, APPS[a], self.blocked_until[a]
                ));
            }
            if let Some(limit) = limit_of(&path) {
                let n = self
                    .quota_sent
                    .entry((a, path.clone(), shanghai_day(now)))
                    .or_insert(0);
                *n += 1;
                if *n > limit && !skip("quota") && !self.quota_unchecked[a] {
                    return Err(format!(
                        "Send #{} is app `{}`'s call number {n} to {path} on Shanghai day {} (enforced limit {limit})",
                        r.id,
                        APPS[a],
                        shanghai_day(now)
                    ));
                }
            }
        }
        self.sends.push(Pending {
            id: r.id,
            req: Req::Call { _app: app, path },
        });
        Ok(())
    }

    fn check_ticket(&mut self, id: u64, body: &[u8]) -> Result<(), String> {
        if skip("ticket") {
            return Ok(());
        }
        let now = clamp(self.now);
        let v: serde_json::Value = serde_json::from_slice(body)
            .map_err(|_| format!("ticket reply for call {id} is not JSON"))?;
        let ticket = v["ticket"].as_str().unwrap_or_default().to_string();
        let stated = v["expires_at_ms"].as_u64();
        if stated.is_none_or(|s| s <= now) {
            return Err(format!(
                "ticket reply for call {id} at now={now} states expires_at_ms={stated:?}: an expired ticket handed out"
            ));
        }
        match self.tickets.get(&ticket) {
            Some(&expiry) if now >= expiry => Err(format!(
                "ticket reply for call {id} at now={now} hands out {ticket}, which the platform said expires at {expiry}"
            )),
            Some(_) => Ok(()),
            None => Err(format!("ticket reply for call {id} hands out an unknown ticket")),
        }
    }

    fn on_event(&mut self, e: Event) -> Result<(), String> {
        let text = format!("{e:?} {}", serde_json::to_string(&e).unwrap_or_default());
        if leaks(&text) {
            return Err(format!("event leaks a secret: {text}"));
        }
        log!(self, "  <- Event {e:?}");
        match e {
            Event::IpBlocked { app, until_ms, .. } => {
                if let Some(a) = app_index(&app) {
                    self.blocked_until[a] = self.blocked_until[a].max(until_ms);
                }
            }
            Event::QuotaCleared { app } => {
                if let Some(a) = app_index(&app) {
                    // `WXFUZZ_SKIP=clear` (F6): no quota check for this app
                    // after a clear; the other apps' and clear-free runs' stay.
                    if skip("clear") {
                        self.quota_unchecked[a] = true;
                    }
                    self.quota_sent.retain(|(x, _, _), _| *x != a);
                }
            }
            Event::TokenFetched {
                app,
                expires_at_ms,
                refresh_at_ms,
                ..
            } => {
                if let Some(a) = app_index(&app) {
                    self.model[a] = TokenModel {
                        current: Some((expires_at_ms, refresh_at_ms)),
                        fetching: false,
                    };
                }
            }
            // `WXFUZZ_SKIP=storedown` (F7): no quota check for an app once
            // a quota count of it failed (the engine counts locally then).
            Event::StoreUnavailable { app, op: "incr_by", .. } if skip("storedown") => {
                if let Some(a) = app_index(&app) {
                    self.quota_unchecked[a] = true;
                }
            }
            Event::TokenFetchFailed { app, .. } => {
                // The engine re-plans its refresh (or gives up on it) without saying when.
                if let Some(a) = app_index(&app) {
                    self.model[a] = TokenModel::default();
                }
            }
            Event::TokenInvalidated { app, .. } => {
                if let Some(a) = app_index(&app) {
                    self.model[a].current = None;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn check_idle(&mut self, wake: Option<u64>) -> Result<(), String> {
        let now = clamp(self.now);
        if let Some(w) = wake {
            // The engine takes any time beyond MAX_TIME_MS as MAX_TIME_MS: a
            // wake beyond it can never come.
            if w > MAX_TIME_MS && !skip("wake") {
                return Err(format!(
                    "Idle at now={now} asks to be woken at {w}, beyond the engine's clamp MAX_TIME_MS = {MAX_TIME_MS} (a time it can never reach)"
                ));
            }
        }
        for a in 0..3 {
            let m = self.model[a];
            let Some((expires, Some(refresh))) = m.current else { continue };
            // At or past the clamp nothing is timed any more (Idle has no wake).
            if m.fetching || now >= expires || self.now >= MAX_TIME_MS || skip("refresh") {
                continue;
            }
            if refresh <= now {
                return Err(format!(
                    "Idle at now={now}: app `{}`'s refresh was due at {refresh} (token valid until {expires}) and no fetch started",
                    APPS[a]
                ));
            }
            if wake.is_none_or(|w| w > refresh) {
                return Err(format!(
                    "Idle at now={now} with wake_at_ms={wake:?}: sleeps past app `{}`'s refresh due at {refresh} (token valid until {expires})",
                    APPS[a]
                ));
            }
        }
        Ok(())
    }

    fn submit(&mut self, app: u8, path: u8, post: bool, idempotent: bool) -> Result<(), String> {
        let app = APPS[app as usize % APPS.len()];
        let path = PATHS[path as usize % PATHS.len()];
        let mut call = if post {
            Call::post_json(app, path, r#"{"touser":"o1"}"#)
        } else {
            Call::get(app, path).query("openid", "o1")
        };
        call.idempotent = idempotent;
        let id = self.engine.submit(call, self.now);
        log!(self, 
            "now={} submit call {id}: {} {app} {path}{}",
            self.now,
            if post { "POST" } else { "GET" },
            if idempotent { " (idempotent)" } else { "" }
        );
        self.submitted.insert(id);
        self.order.push(id);
        // The engine times deadlines from the latest (clamped) time it saw;
        // the harness's clock never goes back, so that is this one.
        self.deadlines
            .push_back((id, clamp(self.now).saturating_add(CALL_TIMEOUT_MS)));
        Ok(())
    }

    fn answer(&mut self, p: Pending, answer: Answer) {
        let now = clamp(self.now);
        let (status, headers, body): (u16, Vec<(String, String)>, String) = match (answer, &p.req) {
            (Answer::Ok(exp), Req::Token { app }) => {
                let value = self.fresh_value(TOKEN_PREFIX);
                let (json, secs) = expires_secs(exp);
                self.tokens.insert(
                    value.clone(),
                    (*app, now.saturating_add(secs.saturating_mul(1000))),
                );
                self.latest[*app] = Some(value.clone());
                let field = json.map(|j| format!(",\"expires_in\":{j}")).unwrap_or_default();
                (200, vec![], format!("{{\"errcode\":0,\"errmsg\":\"ok\",\"access_token\":\"{value}\"{field}}}"))
            }
            (Answer::SameToken, Req::Token { app }) => {
                match self.latest[*app].clone().and_then(|t| {
                    let exp = self.tokens[&t].1;
                    (exp > now).then(|| (t, (exp - now) / 1000))
                }) {
                    Some((t, secs)) => (
                        200,
                        vec![],
                        format!("{{\"errcode\":0,\"access_token\":\"{t}\",\"expires_in\":{secs}}}"),
                    ),
                    None => return self.answer(p, Answer::Ok(Expires::TwoHours)),
                }
            }
            (Answer::Ok(_) | Answer::SameToken, Req::Call { path, .. }) => {
                let exp = match answer {
                    Answer::Ok(e) => e,
                    _ => Expires::TwoHours,
                };
                if TICKET_PATHS.contains(&path.as_str()) {
                    let value = self.fresh_value(TICKET_PREFIX);
                    let (json, secs) = expires_secs(exp);
                    // The engine reads a non-number `expires_in` as absent (7200 s).
                    self.tickets
                        .insert(value.clone(), now.saturating_add(secs.saturating_mul(1000)));
                    let field = json.map(|j| format!(",\"expires_in\":{j}")).unwrap_or_default();
                    (200, vec![], format!("{{\"errcode\":0,\"errmsg\":\"ok\",\"ticket\":\"{value}\"{field}}}"))
                } else {
                    (200, vec![], r#"{"errcode":0,"errmsg":"ok","data":1}"#.into())
                }
            }
            (Answer::Code(c), _) => {
                let code = CODES[c as usize % CODES.len()];
                (200, vec![], format!("{{\"errcode\":{code},\"errmsg\":\"x\"}}"))
            }
            (Answer::Malformed(m), _) => (200, vec![], MALFORMED[m as usize % MALFORMED.len()].into()),
            (Answer::Status5xx(s), _) => (500 + (s as u16 % 4), vec![], "<html>bad gateway</html>".into()),
            (Answer::TooMany(secs), _) => (
                429,
                vec![("Retry-After".into(), secs.to_string())],
                String::new(),
            ),
        };
        log!(self, 
            "now={} answer Send #{} with HTTP {status} {body}{}",
            self.now,
            p.id,
            if headers.is_empty() { String::new() } else { format!(" {headers:?}") }
        );
        let mut all = vec![("Content-Type".to_string(), "application/json".to_string())];
        all.extend(headers);
        self.engine.handle_response(
            p.id,
            HttpResponse {
                status,
                headers: all,
                body: body.into_bytes(),
            },
            self.now,
        );
    }

    fn answer_store(&mut self, id: u64, cmd: StoreCommand, how: StoreHow) {
        let now = clamp(self.now);
        self.kv.retain(|_, (_, exp)| *exp > now);
        let honest = |kv: &mut HashMap<String, (String, u64)>, cmd: &StoreCommand| match cmd.clone() {
            StoreCommand::Get { key } => StoreResult::Value(kv.get(&key).map(|(v, _)| v.clone())),
            StoreCommand::Set { key, value, ttl_ms } => {
                kv.insert(key, (value, now.saturating_add(ttl_ms)));
                StoreResult::Ok
            }
            StoreCommand::Lock { key, owner, ttl_ms } => {
                let won = !kv.contains_key(&key);
                if won {
                    kv.insert(key, (owner, now.saturating_add(ttl_ms)));
                }
                StoreResult::Locked(won)
            }
            StoreCommand::Unlock { key, owner } => {
                if kv.get(&key).map(|(v, _)| v) == Some(&owner) {
                    kv.remove(&key);
                }
                StoreResult::Ok
            }
            StoreCommand::IncrBy { key, delta, ttl_ms } => {
                let n = kv
                    .get(&key)
                    .and_then(|(v, _)| v.parse::<i64>().ok())
                    .unwrap_or(0)
                    .saturating_add(delta);
                kv.insert(key, (n.to_string(), now.saturating_add(ttl_ms)));
                StoreResult::Count(n)
            }
        };
        let result = match how {
            StoreHow::Honest => honest(&mut self.kv, &cmd),
            StoreHow::Fail => StoreResult::Failed("store down".into()),
            StoreHow::Other(k) => match &cmd {
                // Another process's value: a token or ticket it wrote earlier
                // (refresh never after expiry, as the engine writes them).
                StoreCommand::Get { key } => {
                    let exp = match k % 4 {
                        0 => now.saturating_sub(1000),
                        1 => now + 1500,
                        2 => now + 3_600_000,
                        _ => now + 7_200_000,
                    };
                    let refresh = exp.saturating_sub(if k & 4 == 0 { 1000 } else { 3_000_000 });
                    if key.starts_with("wxcore:token:") {
                        let t = self.fresh_value(TOKEN_PREFIX);
                        let app = if key.contains(":wxA:") {
                            0
                        } else if key.contains(":wxB:") {
                            1
                        } else {
                            2
                        };
                        self.tokens.insert(t.clone(), (app, exp));
                        StoreResult::Value(Some(format!(
                            r#"{{"v":1,"token":"{t}","expires_at_ms":{exp},"refresh_at_ms":{refresh}}}"#
                        )))
                    } else if key.starts_with("wxcore:ticket:") {
                        let t = self.fresh_value(TICKET_PREFIX);
                        self.tickets.insert(t.clone(), exp);
                        StoreResult::Value(Some(format!(
                            r#"{{"v":1,"ticket":"{t}","expires_at_ms":{exp},"refresh_at_ms":{refresh}}}"#
                        )))
                    } else if k & 8 == 0 {
                        StoreResult::Value(None)
                    } else {
                        StoreResult::Value(Some("garbage".into()))
                    }
                }
                // Another process holds the lease.
                StoreCommand::Lock { .. } => StoreResult::Locked(false),
                // Other processes counted too (never less than the truth).
                StoreCommand::IncrBy { .. } => match honest(&mut self.kv, &cmd) {
                    StoreResult::Count(n) => StoreResult::Count(n.saturating_add((k % 5) as i64)),
                    r => r,
                },
                // A wrongly typed answer.
                _ => StoreResult::Locked(true),
            },
        };
        log!(self, 
            "now={} answer Store #{id} ({} {}) with {result:?}",
            self.now,
            cmd.name(),
            cmd.key()
        );
        self.engine.handle_store_result(id, result, self.now);
    }

    pub fn step(&mut self, s: &Step) -> Result<(), String> {
        match *s {
            Step::Submit {
                app,
                path,
                post,
                idempotent,
            } => self.submit(app, path, post, idempotent)?,
            Step::Ticket { app, kind } => {
                let app = APPS[app as usize % APPS.len()];
                let kind = KINDS[kind as usize % KINDS.len()];
                let id = self.engine.submit_ticket(app, kind, self.now);
                log!(self, "now={} submit_ticket {app} {kind} -> call {id}", self.now);
                self.submitted.insert(id);
                self.order.push(id);
                self.ticket_ids.insert(id);
            }
            Step::Answer { pick, answer } => {
                if self.sends.is_empty() {
                    return Ok(());
                }
                let p = self.sends.remove(pick as usize % self.sends.len());
                self.answer(p, answer);
            }
            Step::Transport { pick, kind } => {
                if self.sends.is_empty() {
                    return Ok(());
                }
                let p = self.sends.remove(pick as usize % self.sends.len());
                let kind = [
                    TransportErrorKind::Dns,
                    TransportErrorKind::Connect,
                    TransportErrorKind::Timeout,
                    TransportErrorKind::Reset,
                    TransportErrorKind::Tls,
                ][kind as usize % 5];
                log!(self, "now={} transport error {kind:?} for Send #{}", self.now, p.id);
                self.engine.handle_transport_error(p.id, kind, self.now);
            }
            Step::Store { pick, how } => {
                if self.stores.is_empty() {
                    return Ok(());
                }
                let (id, cmd) = self.stores.remove(pick as usize % self.stores.len());
                self.answer_store(id, cmd, how);
            }
            Step::Clock(c) => {
                let d = match c {
                    Clock::Ms(ms) => ms as u64,
                    Clock::Secs(s) => s as u64 * 1000,
                    Clock::Mins(m) => m as u64 * 60_000,
                    Clock::Hours(h) => h as u64 * 3_600_000,
                    Clock::Days(d) => d as u64 * 86_400_000,
                    Clock::Far(f) if skip("far") => f as u64 * 86_400_000,
                    Clock::Far(f) => {
                        let target = match f % 3 {
                            0 => MAX_TIME_MS - 10_000,
                            1 => MAX_TIME_MS + 5_000,
                            _ => u64::MAX - 1,
                        };
                        target.saturating_sub(self.now)
                    }
                };
                self.now = self.now.saturating_add(d);
                log!(self, "clock +{d} ms -> now={}", self.now);
            }
            Step::ToWake => {
                if let Some(w) = self.wake {
                    self.now = self.now.max(w);
                }
                log!(self, "clock to wake -> now={}", self.now);
            }
            Step::Poll => log!(self, "now={} poll", self.now),
            Step::Cancel { pick } => {
                let id = if pick < 128 {
                    if self.order.is_empty() {
                        return Ok(());
                    }
                    self.order[pick as usize % self.order.len()]
                } else {
                    (pick - 128) as u64
                };
                let open = self.submitted.contains(&id) && !self.done.contains(&id);
                let took = self.engine.cancel(id, self.now);
                log!(self, "now={} cancel call {id} -> {took}", self.now);
                if took != open {
                    return Err(format!(
                        "cancel of call {id} at now={} returned {took}, but the call {}",
                        self.now,
                        if !self.submitted.contains(&id) {
                            "was never submitted by the host"
                        } else if open {
                            "has not completed"
                        } else {
                            "had already completed"
                        }
                    ));
                }
                if took {
                    self.cancelled.insert(id);
                }
            }
        }
        self.drain()
    }

    /// Answers everything with success and follows the timers until every
    /// call has its `Done` (or gives up and reports the lost ones).
    pub fn settle(&mut self) -> Result<(), String> {
        log!(self, "-- settle: answer everything with success, follow the timers");
        for _ in 0..5_000 {
            if self.done.len() == self.submitted.len() && self.sends.is_empty() && self.stores.is_empty() {
                return Ok(());
            }
            if !self.sends.is_empty() {
                let p = self.sends.remove(0);
                self.answer(p, Answer::Ok(Expires::TwoHours));
            } else if !self.stores.is_empty() {
                let (id, cmd) = self.stores.remove(0);
                self.answer_store(id, cmd, StoreHow::Honest);
            } else if let Some(w) = self.wake.filter(|&w| w > self.now) {
                self.now = w;
                log!(self, "clock to wake -> now={}", self.now);
            } else {
                self.now = self.now.saturating_add(3_600_000);
                log!(self, "clock +1h -> now={}", self.now);
            }
            self.drain()?;
        }
        let mut lost: Vec<_> = self.submitted.difference(&self.done).copied().collect();
        lost.sort();
        if lost.is_empty() {
            Ok(())
        } else {
            Err(format!("calls never completed: {lost:?}"))
        }
    }
}

/// One run; `Err` holds the first broken promise.
pub fn run(input: &Input, trace: bool) -> (Result<(), String>, String) {
    let mut r = Run::new(input.config, trace);
    let mut result = r.drain();
    if result.is_ok() {
        for s in input.steps.iter().take(MAX_STEPS) {
            result = r.step(s);
            if result.is_err() {
                break;
            }
        }
    }
    if result.is_ok() {
        result = r.settle();
    }
    if let Err(e) = &result {
        r.log(format!("VIOLATION: {e}"));
    }
    (result, r.trace())
}

/// The path of a URL (no scheme, host or query).
pub fn url_path_of(url: &str) -> &str {
    url_path(url)
}
