//! Policies: what the engine may do next, decided from counts and clocks it
//! is handed. Retry safety and backoff (`retry`, jitter from `rng`), host
//! failover (`circuit`), daily quotas (`quota`) and rate limits
//! (`ratelimit`). Nothing here sends, stores or knows about calls.

pub(crate) mod circuit;
pub(crate) mod quota;
pub(crate) mod ratelimit;
pub(crate) mod retry;
pub(crate) mod rng;
