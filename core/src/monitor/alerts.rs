//! Alerts per app and category, in the seed's form (004 §7.3): first
//! occurrence, a count in the current 5-minute window and in all, the last
//! occurrence and one sample. A window opens with the first failure after
//! the previous one closed and lasts five minutes, like the platform's own
//! "1272 failures in 5 minutes".

use super::category::Category;
use std::collections::BTreeMap;

/// The length of an alert window.
pub(crate) const WINDOW_MS: u64 = 5 * 60_000;

/// One failure, as an operator reads it: where, which API, what went wrong.
/// Never a token or a body (bodies can carry either).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Sample {
    pub(crate) host: String,
    pub(crate) api: String,
    pub(crate) error: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Alert {
    pub(crate) first_seen: u64,
    pub(crate) last_seen: u64,
    pub(crate) window_start: u64,
    pub(crate) count_window: u64,
    pub(crate) count_total: u64,
    /// The latest failure's.
    pub(crate) sample: Sample,
}

impl Alert {
    /// Whether the window is still open at `now`.
    pub(crate) fn open(&self, now: u64) -> bool {
        now < self.window_start.saturating_add(WINDOW_MS)
    }

    /// The count in the window open at `now` (0 once it has closed).
    pub(crate) fn in_window(&self, now: u64) -> u64 {
        if self.open(now) {
            self.count_window
        } else {
            0
        }
    }
}

/// Alerts keyed by app index and category: at most apps × 9 entries.
#[derive(Debug, Default)]
pub(crate) struct Alerts {
    pub(crate) by_key: BTreeMap<(usize, Category), Alert>,
}

impl Alerts {
    pub(crate) fn record(&mut self, app: usize, c: Category, sample: Sample, now: u64) {
        match self.by_key.get_mut(&(app, c)) {
            Some(a) => {
                if a.open(now) {
                    a.count_window += 1;
                } else {
                    a.window_start = now;
                    a.count_window = 1;
                }
                a.count_total += 1;
                a.last_seen = a.last_seen.max(now);
                a.sample = sample;
            }
            None => {
                self.by_key.insert(
                    (app, c),
                    Alert {
                        first_seen: now,
                        last_seen: now,
                        window_start: now,
                        count_window: 1,
                        count_total: 1,
                        sample,
                    },
                );
            }
        }
    }
}

/// `2014-12-01 20:12:00 UTC`, the seed's time format.
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(e: &str) -> Sample {
        Sample {
            host: "h".into(),
            api: "/a".into(),
            error: e.into(),
        }
    }

    #[test]
    fn windows_roll_over_after_five_minutes() {
        let mut a = Alerts::default();
        a.record(0, Category::RequestTimeout, sample("1"), 1_000);
        a.record(
            0,
            Category::RequestTimeout,
            sample("2"),
            1_000 + WINDOW_MS - 1,
        );
        let x = &a.by_key[&(0, Category::RequestTimeout)];
        assert_eq!((x.count_window, x.count_total), (2, 2));
        assert!(x.open(1_000 + WINDOW_MS - 1) && !x.open(1_000 + WINDOW_MS));
        assert_eq!(x.in_window(1_000 + WINDOW_MS), 0);
        a.record(0, Category::RequestTimeout, sample("3"), 1_000 + WINDOW_MS);
        let x = &a.by_key[&(0, Category::RequestTimeout)];
        assert_eq!((x.count_window, x.count_total), (1, 3));
        assert_eq!(x.window_start, 1_000 + WINDOW_MS);
        assert_eq!((x.first_seen, x.sample.error.as_str()), (1_000, "3"));
    }

    #[test]
    fn seed_time_format() {
        // The seed's example time, 2014-12-01 20:12:00, read as UTC.
        assert_eq!(utc(1_417_464_720_000), "2014-12-01 20:12:00 UTC");
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
    }
}
