//! # wxcore: a sans-IO client core for the WeChat family of server APIs
//!
//! The engine knows the platforms (WeChat Official/Service Accounts, WeCom,
//! Jing, CJ-style and result-style APIs): it builds requests, keeps and
//! refreshes tokens, reads response envelopes into typed errors, retries
//! what is safe to retry, counts quotas, honours rate limits and fails over
//! between hosts. It performs no I/O and reads no clock: the host sends the
//! HTTP requests, runs the store operations (fleet mode) and passes the
//! time, in Unix milliseconds, with every input.
//!
//! ## The run loop
//!
//! 1. [`Engine::submit`] a [`Call`]; it returns a [`CallId`].
//! 2. Drain [`Engine::poll_output`] until [`Output::Idle`]:
//!    - [`Output::Send`]: send the [`HttpRequest`]; feed the answer to
//!      [`Engine::handle_response`], or a failure to
//!      [`Engine::handle_transport_error`], naming the phase that failed and
//!      how: `dns`, `dns_timeout`, `connect`, `connect_timeout`, `timeout`
//!      (no answer in time), `reset`, `tls`.
//!    - [`Output::Store`]: run the [`StoreOp`] against the shared store and
//!      feed [`Engine::handle_store_result`] (only with `"store": "external"`).
//!    - [`Output::Done`]: the call with that id has completed, once and for all.
//!    - [`Output::Event`]: log it, count it.
//!    - [`Output::Idle`]: nothing more now; poll again at `wake_at_ms`
//!      (a refresh, a backoff, a rate-limit refill) or after the next input.
//!
//! A third-party platform's app (an open-platform component, a WeCom suite)
//! also takes the tickets the platform pushes to its callback URL: hand each
//! such request to [`Engine::handle_push`], answer with its `reply`, then
//! drain the outputs as above (fleet mode stores the ticket).
//!
//! At any time [`Engine::status`] is the operator's snapshot (token ages,
//! quotas, circuits, alerts in the seed's categories) and
//! [`Engine::metrics_text`] the Prometheus text: the host serves them, the
//! engine keeps the counts.
//!
//! Many apps and many concurrent calls share one engine; calls that need a
//! token being fetched wait for that one fetch. Drain to `Idle` after every
//! input: outputs are decided when the input arrives, so a `Send` left
//! queued for long may carry a token that has since expired.
//!
//! Every call has a deadline (its `timeout_ms`, else the config's
//! `call_timeout_ms`) covering queueing, store operations, the token fetch
//! and its sends; past it the call completes with
//! [`ErrorKind::Timeout`], and `Idle`'s wake time never sleeps past one.
//! [`Engine::cancel`] withdraws a call: one not yet sent is never sent nor
//! counted; either way it completes with [`ErrorKind::Cancelled`].
//!
//! ```
//! use wxcore::{Call, Config, Engine, HttpResponse, Output};
//!
//! let config = Config::from_json(r#"{
//!     "apps": [{"id": "oa", "platform": "wechat-oa", "app_id": "wx123", "secret": "s3cr3t"}]
//! }"#).unwrap();
//! let mut now = 1_700_000_000_000;
//! let mut engine = Engine::new(config, now).unwrap();
//!
//! let call = engine.submit(Call::get("oa", "/cgi-bin/user/info").query("openid", "o1"), now);
//! let mut done = None;
//! while done.is_none() {
//!     match engine.poll_output(now) {
//!         Output::Send(req) => {
//!             // A real host sends `req` with its HTTP client; here, canned answers.
//!             let body = if req.url.contains("/stable_token") {
//!                 r#"{"access_token":"TOKEN1","expires_in":7200}"#
//!             } else {
//!                 r#"{"openid":"o1","nickname":"Ann"}"#
//!             };
//!             now += 30;
//!             engine.handle_response(req.id, HttpResponse::json(body), now);
//!         }
//!         Output::Done(c) => done = Some(c),
//!         Output::Event(e) => println!("event: {e:?}"),
//!         Output::Store(_) => unreachable!("memory store"),
//!         Output::Idle { wake_at_ms } => {
//!             // Sleep until `wake_at_ms` or the next input; nothing is pending here.
//!             let _ = wake_at_ms;
//!             break;
//!         }
//!     }
//! }
//! let completion = done.unwrap();
//! assert_eq!(completion.call_id, call);
//! let reply = completion.result.unwrap();
//! assert_eq!(reply.json_value().unwrap()["nickname"], "Ann");
//! ```
//!
//! ## Where things live
//!
//! One folder per responsibility; each depends only on the ones below it.
//!
//! - `engine/`: the state machine ([`Engine`]): calls and their phases,
//!   outputs, timers; per-app runtime state; tokens (single flight,
//!   proactive and reactive refresh), JS-SDK tickets, pushed tickets
//!   (component, suite), the fleet protocol
//!   over a host-run store, export and restore of state.
//! - `policy/`: decisions from counts and clocks: retry safety and backoff,
//!   host circuits (failover), daily quotas, rate-limit buckets.
//! - `monitor/`: what operators watch: each exchange's alert category,
//!   alerts in 5-minute windows, the status snapshot, the metrics text.
//! - `platform/`: the platforms as data: [`profile`]s, an app resolved
//!   against its profile, [`envelope`] verdicts, request building.
//! - `crypto/`: [`callback`] crypto and JS-SDK signatures, [`api_security`].
//! - The boundary: [`config`], [`call`], [`http`], [`output`], [`error`]
//!   ([`ApiError`] with stable [`ErrorKind`] names, [`ConfigError`]) and
//!   [`wire`], the JSON form every binding crosses.
//!
//! Secrets and tokens never appear in `Debug`/`Display` output, errors or
//! events. The canonical JSON of outputs ([`Output::to_json`]) does carry
//! them, since the host must send them.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod crypto;
mod engine;
mod monitor;
mod platform;
mod policy;

pub mod call;
pub mod config;
pub mod error;
pub mod http;
pub mod output;
pub mod wire;

#[cfg(feature = "api-security")]
pub use crypto::api_security;
pub use crypto::callback;

/// Writing Prometheus text and the seed's times the way the engine does,
/// for hosts that add families of their own beside
/// [`Engine::metrics_text`] (the token server does).
pub mod exposition {
    pub use crate::monitor::alerts::utc;
    pub use crate::monitor::metrics::{family, sample};
}
pub use platform::{envelope, profile};

/// The byte type of request bodies ([`HttpRequest::body`], [`Body::bytes`]).
pub use bytes::Bytes;
pub use call::{Body, Call, CallId, Reply};
pub use config::{AppConfig, CallbackConfig, Config, QuotaMode, Secret, StoreMode};
pub use engine::push::Push;
pub use engine::source::token_id;
pub use engine::state::STATE_VERSION;
pub use engine::Engine;
pub use error::{ApiError, Code, ConfigError, ErrorKind, TransportErrorKind};
pub use http::{HttpRequest, HttpResponse};
pub use output::{Completion, Event, Output, StoreCommand, StoreOp, StoreResult};
