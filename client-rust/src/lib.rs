//! The wxcore engine on tokio: a real HTTP client, timers, and (for a
//! fleet) Redis. The engine decides everything — which request, when to
//! fetch a token, what a reply means; this crate only carries its outputs
//! out and its inputs in.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use wxcore::{Call, Config};
//! let config = Config::from_json(r#"{"apps": [{"id": "oa", "platform": "wechat-oa",
//!     "app_id": "wx…", "credential": {"source": "server",
//!     "url": "http://tokens.internal:8700", "key": "ck_…"}}]}"#)?;
//! let client = wxcore_client::Client::new(config)?;
//! let reply = client.call(Call::get("oa", "/cgi-bin/user/info").query("openid", "o…")).await?;
//! println!("{}", String::from_utf8_lossy(&reply.body));
//! # Ok(()) }
//! ```
//!
//! How it runs: whichever task touches the engine (a caller submitting, an
//! HTTP answer arriving, the timer task waking) drains the engine's outputs
//! while it holds the lock: requests and store operations are spawned,
//! completions go to their callers. One timer task sleeps until the
//! engine's next wake time. A call whose future is dropped is cancelled in
//! the engine, so a call not yet sent is never sent.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{oneshot, Notify};
use wxcore::{
    ApiError, Call, CallId, Code, Config, ConfigError, Engine, ErrorKind, Event, HttpRequest,
    HttpResponse, Output, Reply, StoreCommand, StoreResult, TransportErrorKind,
};

#[cfg(feature = "redis")]
mod redis_store;
#[cfg(feature = "redis")]
pub use redis_store::RedisStore;

mod http;
pub use http::ReqwestHttp;

/// What a call completes with.
pub type CallResult = Result<Reply, ApiError>;
/// A boxed future, for the host traits.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Sends the engine's HTTP requests. [`ReqwestHttp`] is the default.
pub trait Http: Send + Sync + 'static {
    /// Sends one request; a failure names how it failed (the engine decides what follows).
    fn send(&self, req: HttpRequest) -> BoxFuture<Result<HttpResponse, TransportErrorKind>>;
}

/// Executes the engine's store operations (fleet mode, `"store": "external"`).
pub trait Store: Send + Sync + 'static {
    /// Runs one operation; a failure is `StoreResult::Failed` (the engine falls back).
    fn execute(&self, op: StoreCommand) -> BoxFuture<StoreResult>;
}

type EventSink = Box<dyn Fn(&Event) + Send + Sync>;

struct State {
    engine: Engine,
    pending: HashMap<CallId, oneshot::Sender<CallResult>>,
}

struct Shared {
    state: Mutex<State>,
    http: Arc<dyn Http>,
    store: Option<Arc<dyn Store>>,
    events: Option<EventSink>,
    /// The engine's next wake time (ms); `u64::MAX`: none. Shared with the
    /// timer task, which holds no reference to the rest.
    wake_at: Arc<AtomicU64>,
    wake: Arc<Notify>,
}

/// Builds a [`Client`] with a custom transport, store or event sink.
pub struct Builder {
    config: Config,
    http: Option<Arc<dyn Http>>,
    store: Option<Arc<dyn Store>>,
    events: Option<EventSink>,
}

impl Builder {
    /// The HTTP transport (default: [`ReqwestHttp`]).
    pub fn http(mut self, http: impl Http) -> Self {
        self.http = Some(Arc::new(http));
        self
    }

    /// The shared store for fleet mode.
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Receives the engine's events (they never carry a token or secret).
    pub fn on_event(mut self, f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.events = Some(Box::new(f));
        self
    }

    /// Starts the client on the current tokio runtime.
    pub fn build(self) -> Result<Client, ConfigError> {
        let mut config = self.config;
        if config.entropy.is_none() {
            config.entropy = Some(entropy());
        }
        if config.store == wxcore::StoreMode::External && self.store.is_none() {
            return Err(ConfigError::new(
                "store",
                "`external` needs a store: give one to the builder",
            ));
        }
        let engine = Engine::new(config, now_ms())?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                engine,
                pending: HashMap::new(),
            }),
            http: self.http.unwrap_or_else(|| Arc::new(ReqwestHttp::new())),
            store: self.store,
            events: self.events,
            wake_at: Arc::new(AtomicU64::new(u64::MAX)),
            wake: Arc::new(Notify::new()),
        });
        tokio::spawn(timer_loop(
            Arc::downgrade(&shared),
            shared.wake_at.clone(),
            shared.wake.clone(),
        ));
        let client = Client { shared };
        client.shared.drive(&mut client.shared.lock());
        Ok(client)
    }
}

/// The engine on tokio. Cheap to clone; every clone drives the same engine.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl Client {
    /// A client with the default transport; must be called inside a tokio runtime.
    pub fn new(config: Config) -> Result<Client, ConfigError> {
        Client::builder(config).build()
    }

    /// A builder for a custom transport, store or event sink.
    pub fn builder(config: Config) -> Builder {
        Builder {
            config,
            http: None,
            store: None,
            events: None,
        }
    }

    /// Makes an API call. Dropping the future cancels the call.
    pub async fn call(&self, call: Call) -> CallResult {
        self.submit(|e, now| e.submit(call, now)).await
    }

    /// A JS-SDK ticket: `{ticket, expires_at_ms, app_id}`.
    pub async fn ticket(&self, app: &str, kind: &str) -> CallResult {
        self.submit(|e, now| e.submit_ticket(app, kind, now)).await
    }

    /// The token server's side: the app's current token document.
    pub async fn token(&self, app: &str) -> CallResult {
        self.submit(|e, now| e.submit_token(app, now)).await
    }

    /// The token server's side of compare-and-invalidate.
    pub async fn invalidate(&self, app: &str, token_id: &str, code: Option<Code>) -> CallResult {
        self.submit(|e, now| e.submit_invalidate(app, token_id, code, now))
            .await
    }

    /// Runs `f` on the engine under the lock (status, export), after
    /// feeding it the time; outputs it causes are carried out.
    pub fn with_engine<T>(&self, f: impl FnOnce(&mut Engine, u64) -> T) -> T {
        let mut st = self.shared.lock();
        let t = f(&mut st.engine, now_ms());
        self.shared.drive(&mut st);
        t
    }

    async fn submit(&self, f: impl FnOnce(&mut Engine, u64) -> CallId) -> CallResult {
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut st = self.shared.lock();
            let id = f(&mut st.engine, now_ms());
            st.pending.insert(id, tx);
            self.shared.drive(&mut st);
            id
        };
        let guard = CancelOnDrop {
            shared: &self.shared,
            id,
            armed: true,
        };
        let result = rx.await;
        let mut guard = guard;
        guard.armed = false;
        result.unwrap_or_else(|_| {
            Err(ApiError::new(
                ErrorKind::Cancelled,
                "the client shut down before the call completed",
            ))
        })
    }
}

/// Cancels a call in the engine when its future is dropped before completion.
struct CancelOnDrop<'a> {
    shared: &'a Arc<Shared>,
    id: CallId,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut st = self.shared.lock();
            st.pending.remove(&self.id);
            st.engine.cancel(self.id, now_ms());
            self.shared.drive(&mut st);
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere must not take every later call down with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drains the engine's outputs and carries them out.
    fn drive(self: &Arc<Self>, st: &mut State) {
        let mut outs = Vec::new();
        let wake = st.engine.poll_outputs(now_ms(), &mut outs);
        for o in outs {
            match o {
                Output::Send(req) => {
                    let me = self.clone();
                    tokio::spawn(async move {
                        let id = req.id;
                        let limit = Duration::from_millis(req.timeout_ms);
                        let answer = match tokio::time::timeout(limit, me.http.send(req)).await {
                            Ok(a) => a,
                            Err(_) => Err(TransportErrorKind::Timeout),
                        };
                        let mut st = me.lock();
                        match answer {
                            Ok(resp) => st.engine.handle_response(id, resp, now_ms()),
                            Err(kind) => st.engine.handle_transport_error(id, kind, now_ms()),
                        }
                        me.drive(&mut st);
                    });
                }
                Output::Store(op) => {
                    let me = self.clone();
                    tokio::spawn(async move {
                        let result = match &me.store {
                            Some(s) => s.execute(op.command).await,
                            None => StoreResult::Failed("no store configured".into()),
                        };
                        let mut st = me.lock();
                        st.engine.handle_store_result(op.id, result, now_ms());
                        me.drive(&mut st);
                    });
                }
                Output::Done(c) => {
                    if let Some(tx) = st.pending.remove(&c.call_id) {
                        let _ = tx.send(c.result);
                    }
                }
                Output::Event(e) => {
                    if let Some(f) = &self.events {
                        f(&e);
                    }
                }
                Output::Idle { .. } => {}
            }
        }
        let at = wake.unwrap_or(u64::MAX);
        if self.wake_at.swap(at, Ordering::SeqCst) != at {
            self.wake.notify_one();
        }
    }
}

/// Sleeps until the engine's next wake time; ends with the last client.
async fn timer_loop(shared: std::sync::Weak<Shared>, wake_at: Arc<AtomicU64>, wake: Arc<Notify>) {
    loop {
        if shared.strong_count() == 0 {
            return;
        }
        let at = wake_at.load(Ordering::SeqCst);
        let notified = wake.notified();
        let wait = if at == u64::MAX {
            Duration::from_secs(1) // re-check that a client still exists
        } else {
            Duration::from_millis(at.saturating_sub(now_ms()))
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {
                let Some(s) = shared.upgrade() else { return };
                if at != u64::MAX && now_ms() >= at {
                    let mut st = s.lock();
                    s.drive(&mut st);
                }
            }
            _ = notified => {}
        }
    }
}

/// Milliseconds since the epoch (the engine's clock).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// 32 bytes from the OS generator, base64: the engine's `entropy`.
pub fn entropy() -> wxcore::Secret {
    use base64::Engine as _;
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).expect("the OS random generator");
    wxcore::Secret::new(base64::engine::general_purpose::STANDARD.encode(b))
}
