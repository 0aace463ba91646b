//! The Prometheus text (exposition format 0.0.4), written in the core once
//! so every language serves identical text: the monitor's own counters
//! here, the engine's gauges in `engine::report`. Names follow Prometheus' rules:
//! the `wxcore_` prefix, base units (seconds), `_total` on counters, and
//! labels from bounded sets only (configured apps and hosts, API paths,
//! fixed outcome names): never a token, an openid or a user id.

use super::category::Outcome;
use super::{Exchange, Monitor};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Upper bounds of the duration histogram, in milliseconds and as written.
const BUCKETS: [(u64, &str); 11] = [
    (5, "0.005"),
    (10, "0.01"),
    (25, "0.025"),
    (50, "0.05"),
    (100, "0.1"),
    (250, "0.25"),
    (500, "0.5"),
    (1000, "1"),
    (2500, "2.5"),
    (5000, "5"),
    (10000, "10"),
];

/// Distinct (app, API) series kept before new paths are counted as
/// `other`: a host submitting ever-new paths must not grow memory (or a
/// scrape) without bound.
const MAX_API_SERIES: usize = 1000;

#[derive(Debug, Default, Clone)]
pub(crate) struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum_ms: u64,
    count: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: BTreeMap<(usize, String, &'static str), u64>,
    durations: BTreeMap<(usize, String), Histogram>,
    retries: BTreeMap<(usize, &'static str), u64>,
    refreshes: BTreeMap<(usize, &'static str, &'static str), u64>,
}

impl Counters {
    pub(crate) fn exchange(&mut self, ex: &Exchange, outcome: Outcome, now: u64) {
        let key = (ex.app, ex.api.clone());
        let api = if self.durations.contains_key(&key) || self.durations.len() < MAX_API_SERIES {
            ex.api.clone()
        } else {
            "other".to_string()
        };
        *self
            .requests
            .entry((ex.app, api.clone(), outcome.as_str()))
            .or_default() += 1;
        let h = self.durations.entry((ex.app, api)).or_default();
        let ms = now.saturating_sub(ex.sent_at);
        for (i, (le, _)) in BUCKETS.iter().enumerate() {
            if ms <= *le {
                h.buckets[i] += 1;
            }
        }
        h.sum_ms = h.sum_ms.saturating_add(ms);
        h.count += 1;
    }

    pub(crate) fn retry(&mut self, app: usize, reason: &'static str) {
        *self.retries.entry((app, reason)).or_default() += 1;
    }

    pub(crate) fn refresh(&mut self, app: usize, trigger: &'static str, result: &'static str) {
        *self.refreshes.entry((app, trigger, result)).or_default() += 1;
    }
}

/// A label value, escaped as the format requires.
fn label(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str("=\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// One sample line: `name{a="x",b="y"} value`.
pub fn sample(
    out: &mut String,
    name: &str,
    labels: &[(&str, &str)],
    value: impl std::fmt::Display,
) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            label(out, k, v);
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A family's `# HELP` and `# TYPE` lines.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Milliseconds as seconds, written exactly (no float rounding noise).
pub(crate) fn seconds(ms: u64) -> String {
    match ms % 1000 {
        0 => (ms / 1000).to_string(),
        r => format!("{}.{:03}", ms / 1000, r)
            .trim_end_matches('0')
            .to_string(),
    }
}

/// The families the monitor counts itself, written in `out`; `name` gives
/// an app index's configured name.
pub(crate) fn write_counters(m: &Monitor, name: &dyn Fn(usize) -> String, out: &mut String) {
    let c = &m.counters;
    family(
        out,
        "wxcore_upstream_requests_total",
        "counter",
        "Requests to the platforms (and token servers) by app, API and outcome.",
    );
    for ((a, api, outcome), n) in &c.requests {
        let app = name(*a);
        let l = [
            ("app", app.as_str()),
            ("api", api.as_str()),
            ("outcome", outcome),
        ];
        sample(out, "wxcore_upstream_requests_total", &l, n);
    }

    family(
        out,
        "wxcore_upstream_request_duration_seconds",
        "histogram",
        "Time from handing a request to the host until its answer or failure.",
    );
    for ((a, api), h) in &c.durations {
        let app = name(*a);
        for (i, (_, le)) in BUCKETS.iter().enumerate() {
            let l = [("app", app.as_str()), ("api", api.as_str()), ("le", le)];
            sample(
                out,
                "wxcore_upstream_request_duration_seconds_bucket",
                &l,
                h.buckets[i],
            );
        }
        let l = [("app", app.as_str()), ("api", api.as_str()), ("le", "+Inf")];
        sample(
            out,
            "wxcore_upstream_request_duration_seconds_bucket",
            &l,
            h.count,
        );
        let l = [("app", app.as_str()), ("api", api.as_str())];
        sample(
            out,
            "wxcore_upstream_request_duration_seconds_sum",
            &l,
            seconds(h.sum_ms),
        );
        sample(
            out,
            "wxcore_upstream_request_duration_seconds_count",
            &l,
            h.count,
        );
    }

    family(
        out,
        "wxcore_retries_total",
        "counter",
        "Calls scheduled to be resent, by app and reason (an error kind).",
    );
    for ((a, reason), n) in &c.retries {
        let app = name(*a);
        sample(
            out,
            "wxcore_retries_total",
            &[("app", app.as_str()), ("reason", reason)],
            n,
        );
    }

    family(
        out,
        "wxcore_token_refreshes_total",
        "counter",
        "Token fetches by app, trigger (initial, refresh, expired, invalidated) and result (ok or an error kind).",
    );
    for ((a, trigger, result), n) in &c.refreshes {
        let app = name(*a);
        let l = [
            ("app", app.as_str()),
            ("trigger", trigger),
            ("result", result),
        ];
        sample(out, "wxcore_token_refreshes_total", &l, n);
    }

    family(
        out,
        "wxcore_alerts_total",
        "counter",
        "Failed exchanges by app and alert category (seed 004 section 7).",
    );
    for ((a, cat), alert) in &m.alerts.by_key {
        let app = name(*a);
        let l = [("app", app.as_str()), ("category", cat.as_str())];
        sample(out, "wxcore_alerts_total", &l, alert.count_total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_exact() {
        assert_eq!(seconds(0), "0");
        assert_eq!(seconds(30), "0.03");
        assert_eq!(seconds(1500), "1.5");
        assert_eq!(seconds(1_700_007_200_000), "1700007200");
        assert_eq!(seconds(1_700_007_200_001), "1700007200.001");
    }

    #[test]
    fn labels_are_escaped() {
        let mut s = String::new();
        sample(&mut s, "m", &[("api", "a\"b\\c\nd")], 1);
        assert_eq!(s, "m{api=\"a\\\"b\\\\c\\nd\"} 1\n");
    }
}
