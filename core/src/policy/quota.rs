//! Daily quotas: counted per app and API path, reset at 00:00 Asia/Shanghai
//! (UTC+8, no daylight saving), warnings at 80% and 95%, local refusal once
//! a limit is reached or the platform said 45009.

use std::collections::HashMap;

const DAY_MS: u64 = 86_400_000;
const SHANGHAI_OFFSET_MS: u64 = 8 * 3_600_000;

/// The Asia/Shanghai day number of a Unix-millisecond time.
pub(crate) fn day_of(now_ms: u64) -> u64 {
    (now_ms + SHANGHAI_OFFSET_MS) / DAY_MS
}

/// The next 00:00 Asia/Shanghai after `now_ms`, in Unix milliseconds.
pub(crate) fn next_reset(now_ms: u64) -> u64 {
    (day_of(now_ms) + 1) * DAY_MS - SHANGHAI_OFFSET_MS
}

#[derive(Clone, Debug, Default)]
pub(crate) struct PathCount {
    pub(crate) used: u64,
    pub(crate) warned: u8,
    pub(crate) exhausted: bool,
    /// Fleet mode: calls sent on local counting while the shared store
    /// failed, not yet added to the shared count.
    pub(crate) owed: u64,
}

/// One app's counters for one day.
#[derive(Clone, Debug, Default)]
pub(crate) struct QuotaState {
    pub(crate) day: u64,
    pub(crate) paths: HashMap<String, PathCount>,
}

/// A threshold crossed by a count.
pub(crate) enum Crossing {
    Warn(u8),
    Exhausted,
}

impl QuotaState {
    /// Drops yesterday's counters.
    pub(crate) fn roll(&mut self, now_ms: u64) {
        let day = day_of(now_ms);
        // `>`: a clock stepping back across midnight must not wipe today's counts.
        if day > self.day {
            self.day = day;
            self.paths.clear();
        }
    }

    /// Fleet mode: `n` calls the shared count has yet to learn of.
    pub(crate) fn owe(&mut self, path: &str, n: u64) {
        let p = self.paths.entry(path.to_string()).or_default();
        p.owed = p.owed.saturating_add(n);
    }

    pub(crate) fn owed(&self, path: &str) -> u64 {
        self.paths.get(path).map_or(0, |p| p.owed)
    }

    /// The owed calls, to add to the next shared count.
    pub(crate) fn take_owed(&mut self, path: &str) -> u64 {
        self.paths
            .get_mut(path)
            .map_or(0, |p| std::mem::take(&mut p.owed))
    }

    pub(crate) fn refused(&self, path: &str, limit: Option<u64>) -> bool {
        match self.paths.get(path) {
            None => limit == Some(0),
            Some(p) => p.exhausted || limit.is_some_and(|l| p.used >= l),
        }
    }

    /// Sets the count to at least `used` and reports the thresholds it crossed.
    pub(crate) fn record(&mut self, path: &str, used: u64, limit: Option<u64>) -> Vec<Crossing> {
        let p = self.paths.entry(path.to_string()).or_default();
        p.used = p.used.max(used);
        let mut out = Vec::new();
        if let Some(limit) = limit.filter(|&l| l > 0) {
            for pct in [80u8, 95] {
                // u128: a configured limit near u64::MAX must not overflow.
                if p.warned < pct && p.used as u128 * 100 >= limit as u128 * pct as u128 {
                    p.warned = pct;
                    out.push(Crossing::Warn(pct));
                }
            }
            if p.used >= limit && !p.exhausted {
                p.exhausted = true;
                out.push(Crossing::Exhausted);
            }
        }
        out
    }

    pub(crate) fn used(&self, path: &str) -> u64 {
        self.paths.get(path).map_or(0, |p| p.used)
    }

    /// 45009 from the platform.
    pub(crate) fn exhaust(&mut self, path: &str) -> bool {
        let p = self.paths.entry(path.to_string()).or_default();
        !std::mem::replace(&mut p.exhausted, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shanghai_midnight() {
        // 2025-11-21T16:00:00Z is 2025-11-22T00:00 in Shanghai.
        let midnight = 1_763_740_800_000u64;
        assert_eq!(next_reset(midnight - 1), midnight);
        assert_eq!(next_reset(midnight), midnight + DAY_MS);
        assert_eq!(day_of(midnight - 1) + 1, day_of(midnight));
    }

    #[test]
    fn warns_once_per_threshold() {
        let mut q = QuotaState::default();
        assert!(q.record("/p", 7, Some(10)).is_empty());
        assert!(matches!(
            q.record("/p", 8, Some(10))[..],
            [Crossing::Warn(80)]
        ));
        assert!(matches!(
            q.record("/p", 10, Some(10))[..],
            [Crossing::Warn(95), Crossing::Exhausted]
        ));
        assert!(q.refused("/p", Some(10)));
        assert!(!q.refused("/other", Some(10)));
        assert!(q.record("/big", u64::MAX, Some(u64::MAX)).len() == 3);
    }
}
