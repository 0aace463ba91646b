//! Retry policy: when a failed call may be resent, and after how long.

use crate::config::RetryConfig;
use crate::error::TransportErrorKind;
use crate::http::Method;
use crate::policy::rng::Rng;

/// Resending is safe for GET, for calls the host marked idempotent, and
/// after a transport error proving the request never left.
pub(crate) fn safe_to_resend(
    method: Method,
    idempotent: bool,
    transport: Option<TransportErrorKind>,
) -> bool {
    method == Method::Get || idempotent || transport.is_some_and(TransportErrorKind::never_left)
}

/// Exponential backoff before attempt `next_attempt` (2 = first retry):
/// `base · 2^(n-2)`, capped, then with jitter drawn uniformly from [d/2, d].
pub(crate) fn backoff_ms(cfg: &RetryConfig, next_attempt: u32, rng: &mut Rng) -> u64 {
    let exp = next_attempt.saturating_sub(2).min(32);
    let d = cfg
        .base_delay_ms
        .saturating_mul(1u64 << exp)
        .min(cfg.max_delay_ms);
    if !cfg.jitter || d < 2 {
        return d;
    }
    let half = d / 2;
    half + rng.next_u64() % (d - half + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let cfg = RetryConfig {
            jitter: false,
            ..RetryConfig::default()
        };
        let mut rng = Rng::new(1);
        assert_eq!(backoff_ms(&cfg, 2, &mut rng), 200);
        assert_eq!(backoff_ms(&cfg, 3, &mut rng), 400);
        assert_eq!(backoff_ms(&cfg, 40, &mut rng), 5000);
    }

    #[test]
    fn jitter_stays_within_half_and_full() {
        let cfg = RetryConfig::default();
        let mut rng = Rng::new(7);
        for n in 2..10 {
            let d = (200u64 << (n - 2)).min(5000);
            let j = backoff_ms(&cfg, n, &mut rng);
            assert!(j >= d / 2 && j <= d, "{j} for {d}");
        }
    }

    #[test]
    fn only_safe_calls_are_resent() {
        assert!(safe_to_resend(Method::Get, false, None));
        assert!(safe_to_resend(Method::Post, true, None));
        assert!(!safe_to_resend(Method::Post, false, None));
        assert!(!safe_to_resend(
            Method::Post,
            false,
            Some(TransportErrorKind::Timeout)
        ));
        assert!(safe_to_resend(
            Method::Post,
            false,
            Some(TransportErrorKind::Connect)
        ));
    }
}
