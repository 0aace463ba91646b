//! Shared harnesses for the cargo-fuzz targets in `fuzz_targets/`.
//!
//! Each harness returns `Err(description)` when one of the engine's promises
//! breaks; the fuzz target then replays the same input with tracing on and
//! panics with the readable trace, so `cargo fuzz run <target> <artifact>`
//! prints the whole story of a finding.

pub mod engine;

/// Strings that must never show in `Debug`/`Display` output: the app
/// secret, and the prefixes of every token, ticket and refresh token the
/// fake platform hands out.
pub const SECRET: &str = "S3CR3T-never-print-me";
pub const TOKEN_PREFIX: &str = "TKa";
pub const TICKET_PREFIX: &str = "TIa";
/// The host's 32 random bytes (base64) in the fleet configurations: a
/// secret too (it seeds API security's CSPRNG).
pub const ENTROPY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// `core/src/engine.rs`: times beyond this are taken as this.
pub const MAX_TIME_MS: u64 = 1 << 53;
/// `core/src/engine.rs`: the longest duration a config or profile may set.
pub const MAX_DURATION_MS: u64 = 1 << 40;

/// Whether `text` shows a secret, a token or a ticket.
pub fn leaks(text: &str) -> bool {
    text.contains(SECRET)
        || text.contains(ENTROPY)
        || text.contains(TOKEN_PREFIX)
        || text.contains(TICKET_PREFIX)
}

/// The Asia/Shanghai day of a Unix-millisecond time (quota days).
pub fn shanghai_day(now_ms: u64) -> u64 {
    (now_ms + 8 * 3_600_000) / 86_400_000
}
