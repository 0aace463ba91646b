//! What the engine asks of the host: [`Output`]. Each output also has a
//! canonical JSON form ([`Output::to_json`]) that the conformance vectors use
//! in every language.

use crate::call::{CallId, Reply};
use crate::error::{ApiError, Code, ErrorKind};
use crate::http::HttpRequest;
use base64::Engine as _;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::fmt;

/// One step for the host to take.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this HTTP request; answer with `handle_response` or `handle_transport_error`.
    Send(HttpRequest),
    /// Run this store operation; answer with `handle_store_result` (fleet mode only).
    Store(StoreOp),
    /// A call has completed (exactly once per call).
    Done(Completion),
    /// Something worth telling operators.
    Event(Event),
    /// Nothing more now: poll again at `wake_at_ms` or on the next input.
    Idle {
        /// When a timer (refresh, backoff, rate-limit refill, store poll) is due.
        wake_at_ms: Option<u64>,
    },
}

/// A call's end.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// Which call.
    pub call_id: CallId,
    /// The reply, or why there is none.
    pub result: Result<Reply, ApiError>,
}

/// A store operation for the host's shared store (e.g. Redis).
#[derive(Clone, PartialEq, Eq)]
pub struct StoreOp {
    /// Pass back to `handle_store_result`.
    pub id: u64,
    /// What to do.
    pub command: StoreCommand,
}

impl fmt::Debug for StoreOp {
    // Values hold tokens: show the key and the operation only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "StoreOp {{ id: {}, command: {:?} }}",
            self.id, self.command
        )
    }
}

/// The five store operations. Redis: `GET`, `SET PX`, `SET NX PX`,
/// compare-and-delete (Lua), `INCRBY` + `PEXPIRE`.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreCommand {
    /// Read a value; answer `StoreResult::Value`.
    Get {
        /// Key.
        key: String,
    },
    /// Write a value with a TTL; answer `StoreResult::Ok`.
    Set {
        /// Key.
        key: String,
        /// Value (versioned JSON).
        value: String,
        /// Time to live; 0: no expiry (durable state, such as an
        /// authorizer's refresh token, which no cache policy may evict).
        ttl_ms: u64,
    },
    /// Set-if-absent with owner and TTL (a lease); answer `StoreResult::Locked`.
    Lock {
        /// Key.
        key: String,
        /// This process's owner name.
        owner: String,
        /// Lease length.
        ttl_ms: u64,
    },
    /// Delete if the value is `owner`; answer `StoreResult::Ok`.
    Unlock {
        /// Key.
        key: String,
        /// This process's owner name.
        owner: String,
    },
    /// Add to a counter, setting its TTL; answer `StoreResult::Count` with the new total.
    IncrBy {
        /// Key.
        key: String,
        /// Amount.
        delta: i64,
        /// Time to live (until the quota reset).
        ttl_ms: u64,
    },
}

impl fmt::Debug for StoreCommand {
    // A `set` value holds a token: its size and digest only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("StoreCommand");
        d.field("op", &self.name()).field("key", &self.key());
        match self {
            StoreCommand::Set { value, ttl_ms, .. } => d
                .field("value", &crate::http::Redacted(value.as_bytes()))
                .field("ttl_ms", ttl_ms),
            StoreCommand::Lock { owner, ttl_ms, .. } => {
                d.field("owner", owner).field("ttl_ms", ttl_ms)
            }
            StoreCommand::Unlock { owner, .. } => d.field("owner", owner),
            StoreCommand::IncrBy { delta, ttl_ms, .. } => {
                d.field("delta", delta).field("ttl_ms", ttl_ms)
            }
            StoreCommand::Get { .. } => &mut d,
        };
        d.finish()
    }
}

impl StoreCommand {
    /// `get`, `set`, `lock`, `unlock`, `incr_by`.
    pub fn name(&self) -> &'static str {
        match self {
            StoreCommand::Get { .. } => "get",
            StoreCommand::Set { .. } => "set",
            StoreCommand::Lock { .. } => "lock",
            StoreCommand::Unlock { .. } => "unlock",
            StoreCommand::IncrBy { .. } => "incr_by",
        }
    }

    /// The key.
    pub fn key(&self) -> &str {
        match self {
            StoreCommand::Get { key }
            | StoreCommand::Set { key, .. }
            | StoreCommand::Lock { key, .. }
            | StoreCommand::Unlock { key, .. }
            | StoreCommand::IncrBy { key, .. } => key,
        }
    }
}

/// The host's answer to a [`StoreOp`].
#[derive(Clone, PartialEq, Eq)]
pub enum StoreResult {
    /// `get`: the value, or none.
    Value(Option<String>),
    /// `set`, `unlock`: done.
    Ok,
    /// `lock`: whether this process now holds the lease.
    Locked(bool),
    /// `incr_by`: the new total.
    Count(i64),
    /// The store failed; the engine falls back to local behaviour.
    Failed(String),
}

impl StoreResult {
    /// `value`, `ok`, `locked`, `count`, `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            StoreResult::Value(_) => "value",
            StoreResult::Ok => "ok",
            StoreResult::Locked(_) => "locked",
            StoreResult::Count(_) => "count",
            StoreResult::Failed(_) => "failed",
        }
    }
}

impl fmt::Debug for StoreResult {
    // A stored value holds tokens: show its size only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreResult::Value(v) => write!(f, "Value({:?} bytes)", v.as_ref().map(String::len)),
            StoreResult::Ok => f.write_str("Ok"),
            StoreResult::Locked(b) => write!(f, "Locked({b})"),
            StoreResult::Count(n) => write!(f, "Count({n})"),
            StoreResult::Failed(m) => write!(f, "Failed({m:?})"),
        }
    }
}

/// Events for logs and metrics. They name apps, hosts and paths; never tokens or secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A token was obtained (from the platform or the shared store).
    TokenFetched {
        /// App id.
        app: String,
        /// When it expires (counted from when the fetch was sent).
        expires_at_ms: u64,
        /// When the engine will refresh it, if ever.
        refresh_at_ms: Option<u64>,
        /// `http` or `store`.
        source: &'static str,
        /// Whether the fetch forced a new token.
        forced: bool,
    },
    /// A JS-SDK ticket was obtained (from the platform or the shared store).
    TicketFetched {
        /// App id.
        app: String,
        /// `jsapi`, `wx_card`, `agent_config`.
        kind: String,
        /// When it expires.
        expires_at_ms: u64,
        /// `http` or `store`.
        source: &'static str,
    },
    /// The platform pushed a newer ticket for a token that needs one
    /// (`component_verify_ticket`, `suite_ticket`); the engine keeps it.
    TicketPushed {
        /// App id.
        app: String,
        /// The push's `InfoType`.
        info_type: String,
        /// The push's creation time, in the platform's seconds.
        created_s: u64,
    },
    /// An open-platform authorizer's standing changed: `active` (it
    /// authorized the component, again), `revoked` (an `unauthorized`
    /// push, or 61003), `needs_reauthorization` (its refresh token is lost
    /// for good: only a new authorization brings it back).
    AuthorizerChanged {
        /// The authorizer's app name (`{component}/{authorizer_appid}`).
        app: String,
        /// The new standing.
        standing: &'static str,
    },
    /// A cached token was dropped because a call reported it invalid.
    TokenInvalidated {
        /// App id.
        app: String,
        /// The platform's code.
        code: Option<Code>,
    },
    /// The token endpoint failed; waiting calls completed with `kind`.
    TokenFetchFailed {
        /// App id.
        app: String,
        /// Error kind.
        kind: ErrorKind,
        /// The platform's code.
        code: Option<Code>,
    },
    /// A forced refresh was needed but refused locally (20 a day, 30 s apart).
    ForceRefreshRefused {
        /// App id.
        app: String,
        /// When one is allowed again.
        retry_after_ms: u64,
    },
    /// A call will be resent after a delay.
    RetryScheduled {
        /// App id.
        app: String,
        /// Call.
        call_id: CallId,
        /// The attempt that will be made (2 = first retry).
        attempt: u32,
        /// Delay.
        delay_ms: u64,
        /// Why.
        reason: ErrorKind,
    },
    /// A call moved to another host after a transport failure.
    Failover {
        /// App id.
        app: String,
        /// Call.
        call_id: CallId,
        /// Host it left.
        from: String,
        /// Host it goes to.
        to: String,
    },
    /// A host's circuit opened: calls avoid it until `until_ms`, then probe it.
    CircuitOpened {
        /// Host base URL.
        host: String,
        /// End of the cool-down.
        until_ms: u64,
    },
    /// A host answered again; its circuit closed.
    CircuitClosed {
        /// Host base URL.
        host: String,
    },
    /// Local quota counting crossed 80% or 95%.
    QuotaWarning {
        /// App id.
        app: String,
        /// API path.
        path: String,
        /// Calls counted today.
        used: u64,
        /// The daily limit.
        limit: u64,
        /// 80 or 95.
        percent: u8,
    },
    /// An API's daily quota is used up until `until_ms` (the next 00:00 Asia/Shanghai).
    QuotaExhausted {
        /// App id.
        app: String,
        /// API path.
        path: String,
        /// The next reset.
        until_ms: u64,
    },
    /// A successful `clear_quota` reset the app's counters.
    QuotaCleared {
        /// App id.
        app: String,
    },
    /// The platform rate-limited a call; it waits and is resent.
    RateLimited {
        /// App id.
        app: String,
        /// API path.
        path: String,
        /// The wait.
        retry_after_ms: u64,
        /// The platform's code.
        code: Option<Code>,
    },
    /// The platform wants an administrator's confirmation (89501/89503).
    AdminConfirmationRequired {
        /// App id.
        app: String,
        /// API path.
        path: String,
        /// The platform's code.
        code: Option<Code>,
    },
    /// The administrator refused this IP: calls are refused locally until `until_ms`.
    IpBlocked {
        /// App id.
        app: String,
        /// End of the block.
        until_ms: u64,
        /// The platform's code.
        code: Option<Code>,
    },
    /// A value read from the shared store was not used: it names another
    /// account than the key's app (a key collision or a misconfigured fleet).
    StoreValueIgnored {
        /// App id.
        app: String,
        /// `token` or `ticket`.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// Part of a restored state was dropped: it was for another account or
    /// platform than the app now configured under that name, or expired.
    StateDropped {
        /// App id.
        app: String,
        /// What was dropped (`token`, `refresh_token`, `app`).
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The shared store failed; the engine works locally for this step.
    StoreUnavailable {
        /// App id, when the operation concerned one.
        app: String,
        /// Which operation.
        op: &'static str,
        /// The host's message.
        message: String,
    },
}

impl Event {
    /// The app the event concerns, when it concerns one.
    pub fn app(&self) -> Option<&str> {
        match self {
            Event::TokenFetched { app, .. }
            | Event::TicketFetched { app, .. }
            | Event::TicketPushed { app, .. }
            | Event::AuthorizerChanged { app, .. }
            | Event::TokenInvalidated { app, .. }
            | Event::TokenFetchFailed { app, .. }
            | Event::ForceRefreshRefused { app, .. }
            | Event::RetryScheduled { app, .. }
            | Event::Failover { app, .. }
            | Event::QuotaWarning { app, .. }
            | Event::QuotaExhausted { app, .. }
            | Event::QuotaCleared { app }
            | Event::RateLimited { app, .. }
            | Event::AdminConfirmationRequired { app, .. }
            | Event::IpBlocked { app, .. }
            | Event::StoreValueIgnored { app, .. }
            | Event::StateDropped { app, .. }
            | Event::StoreUnavailable { app, .. } => Some(app),
            Event::CircuitOpened { .. } | Event::CircuitClosed { .. } => None,
        }
    }

    /// The level to log it at, the same in every language: `debug` for
    /// routine steps that heal themselves, `info` for normal lifecycle,
    /// `warn` for what an operator should look at, `error` for what stops
    /// calls until someone acts (or the day ends).
    pub fn level(&self) -> &'static str {
        match self {
            Event::RetryScheduled { .. } | Event::TicketPushed { .. } => "debug",
            Event::TokenFetched { .. }
            | Event::TicketFetched { .. }
            | Event::CircuitClosed { .. }
            | Event::QuotaCleared { .. } => "info",
            Event::TokenInvalidated { .. }
            | Event::ForceRefreshRefused { .. }
            | Event::Failover { .. }
            | Event::CircuitOpened { .. }
            | Event::QuotaWarning { .. }
            | Event::RateLimited { .. }
            | Event::AdminConfirmationRequired { .. }
            | Event::StoreValueIgnored { .. }
            | Event::StateDropped { .. }
            | Event::AuthorizerChanged { .. }
            | Event::StoreUnavailable { .. } => "warn",
            Event::TokenFetchFailed { .. }
            | Event::QuotaExhausted { .. }
            | Event::IpBlocked { .. } => "error",
        }
    }
}

/// An event as one log line, the same in every language: its type, then
/// its fields as `key=value` in the JSON form's order. A string is bare
/// unless a space, quote or `=` in it (or its emptiness) could blur where a
/// field ends; then it is JSON-quoted, like every other value.
fn log_line(fields: &Map<String, Value>) -> String {
    let mut line = fields
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("event")
        .to_string();
    for (k, v) in fields {
        if k == "type" {
            continue;
        }
        line.push(' ');
        line.push_str(k);
        line.push('=');
        match v {
            Value::String(s)
                if !s.is_empty()
                    && !s.chars().any(|c| c.is_whitespace() || c == '"' || c == '=') =>
            {
                line.push_str(s)
            }
            other => line.push_str(&other.to_string()),
        }
    }
    line
}

/// The canonical JSON form of an error (vectors, bindings' `toJSON`).
pub fn error_to_json(e: &ApiError) -> Value {
    json!({
        "kind": e.kind.as_str(),
        "code": e.code,
        "message": e.message,
        "sub_message": e.sub_message,
        "http_status": e.http_status,
        "retry_after_ms": e.retry_after_ms,
        "app": e.app,
        "call_id": e.call_id,
        "raw_body": e.raw_body.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()),
    })
}

fn push_str_json(out: &mut String, s: &str) {
    // serde_json's string escaping, written straight into `out`.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

fn push_body(out: &mut String, body: &[u8]) {
    match std::str::from_utf8(body) {
        Ok(text) => {
            out.push_str(",\"body\":");
            push_str_json(out, text);
        }
        Err(_) => {
            out.push_str(",\"body_base64\":\"");
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(body));
            out.push('"');
        }
    }
}

impl Output {
    /// The canonical JSON form, shared by the conformance vectors and the
    /// bindings: `{"send": {…}}`, `{"store": {…}}`, `{"done": {…}}`,
    /// `{"event": {…}}`, `{"idle": {"wake_at_ms": …}}`. A successful JSON
    /// reply is embedded as JSON (`"json": {…}`), so a host parses it once;
    /// other bodies are `"body"` (UTF-8 text) or `"body_base64"`. It holds
    /// what the host needs to act, tokens included: treat it like the request.
    pub fn write_json(&self, out: &mut String) {
        use std::fmt::Write as _;
        match self {
            Output::Send(r) => {
                let _ = write!(
                    out,
                    "{{\"send\":{{\"id\":{},\"method\":\"{}\",\"url\":",
                    r.id, r.method
                );
                push_str_json(out, &r.url);
                out.push_str(",\"headers\":{");
                for (i, (k, v)) in r.headers.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_str_json(out, k);
                    out.push(':');
                    push_str_json(out, v);
                }
                out.push('}');
                push_body(out, &r.body);
                let _ = write!(out, ",\"timeout_ms\":{}}}}}", r.timeout_ms);
            }
            Output::Done(Completion {
                call_id,
                result: Ok(reply),
            }) => {
                let _ = write!(
                    out,
                    "{{\"done\":{{\"call_id\":{call_id},\"ok\":true,\"status\":{},\"is_json\":{},\"headers\":[",
                    reply.status, reply.json
                );
                for (i, (k, v)) in reply.headers.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('[');
                    push_str_json(out, k);
                    out.push(',');
                    push_str_json(out, v);
                    out.push(']');
                }
                out.push(']');
                // The envelope check parsed the whole body, so it is JSON.
                match (reply.json, std::str::from_utf8(&reply.body)) {
                    (true, Ok(text)) => {
                        out.push_str(",\"json\":");
                        out.push_str(text);
                    }
                    _ => push_body(out, &reply.body),
                }
                out.push_str("}}");
            }
            other => out.push_str(&other.to_value().to_string()),
        }
    }

    /// [`Output::write_json`] as a [`serde_json::Value`].
    pub fn to_json(&self) -> Value {
        let mut s = String::new();
        self.write_json(&mut s);
        serde_json::from_str(&s).unwrap_or(Value::Null)
    }

    fn to_value(&self) -> Value {
        match self {
            Output::Store(op) => {
                let mut m = Map::new();
                m.insert("id".into(), json!(op.id));
                m.insert("op".into(), json!(op.command.name()));
                m.insert("key".into(), json!(op.command.key()));
                match &op.command {
                    StoreCommand::Get { .. } => {}
                    StoreCommand::Set { value, ttl_ms, .. } => {
                        m.insert("value".into(), json!(value));
                        m.insert("ttl_ms".into(), json!(ttl_ms));
                    }
                    StoreCommand::Lock { owner, ttl_ms, .. } => {
                        m.insert("owner".into(), json!(owner));
                        m.insert("ttl_ms".into(), json!(ttl_ms));
                    }
                    StoreCommand::Unlock { owner, .. } => {
                        m.insert("owner".into(), json!(owner));
                    }
                    StoreCommand::IncrBy { delta, ttl_ms, .. } => {
                        m.insert("delta".into(), json!(delta));
                        m.insert("ttl_ms".into(), json!(ttl_ms));
                    }
                }
                json!({ "store": m })
            }
            Output::Done(c) => match &c.result {
                Err(e) => {
                    json!({"done": {"call_id": c.call_id, "ok": false, "error": error_to_json(e)}})
                }
                Ok(_) => Value::Null, // written by write_json
            },
            Output::Event(e) => {
                let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
                if let Value::Object(m) = &mut v {
                    let text = log_line(m);
                    m.insert("level".into(), json!(e.level()));
                    m.insert("text".into(), json!(text));
                }
                json!({ "event": v })
            }
            Output::Idle { wake_at_ms } => json!({ "idle": { "wake_at_ms": wake_at_ms } }),
            Output::Send(_) => Value::Null, // written by write_json
        }
    }
}
