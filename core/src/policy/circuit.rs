//! Host failover: a circuit breaker per host. Consecutive dns/connect/timeout
//! failures open a host's circuit; calls then go to the next host of the
//! app's list (`api2.weixin.qq.com`, then regional hosts). After the
//! cool-down one request probes the host; an answer closes the circuit.

use crate::config::FailoverConfig;
use crate::output::Event;
use std::collections::HashMap;

#[derive(Clone, Debug, Default)]
pub(crate) struct Circuit {
    pub(crate) failures: u32,
    pub(crate) open_until: Option<u64>,
    pub(crate) probing: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Circuits {
    pub(crate) hosts: HashMap<String, Circuit>,
}

impl Circuits {
    fn usable(&self, host: &str, now: u64) -> bool {
        match self.hosts.get(host) {
            None => true,
            Some(c) => match c.open_until {
                None => true,
                Some(until) => now >= until && !c.probing,
            },
        }
    }

    /// Index of the host to use: the first usable one not in `failed` (a
    /// bit per host that already failed this request), else the first
    /// usable one, else the first not failed, else the primary.
    pub(crate) fn choose(&self, hosts: &[String], now: u64, failed: u64) -> usize {
        let tried = |i: usize| i < 64 && failed & (1 << i) != 0;
        let usable = |i: &usize| self.usable(&hosts[*i], now);
        (0..hosts.len())
            .filter(usable)
            .find(|&i| !tried(i))
            .or_else(|| (0..hosts.len()).find(|&i| !tried(i)))
            .or_else(|| (0..hosts.len()).find(usable))
            .unwrap_or(0)
    }

    /// Marks a request as sent to `host`; a request to a host whose
    /// cool-down has passed is its probe.
    pub(crate) fn on_send(&mut self, host: &str, now: u64) {
        if let Some(c) = self.hosts.get_mut(host) {
            if c.open_until.is_some_and(|u| now >= u) {
                c.probing = true;
            }
        }
    }

    /// The host answered (any HTTP answer proves it reachable).
    pub(crate) fn on_answer(&mut self, host: &str) -> Option<Event> {
        let c = self.hosts.get_mut(host)?;
        let was_open = c.open_until.is_some();
        *c = Circuit::default();
        was_open.then(|| Event::CircuitClosed {
            host: host.to_string(),
        })
    }

    /// A failure that says nothing of reachability (reset, tls) still ends a
    /// probe: the next request may probe again.
    pub(crate) fn end_probe(&mut self, host: &str) {
        if let Some(c) = self.hosts.get_mut(host) {
            c.probing = false;
        }
    }

    /// A dns/connect/timeout failure.
    pub(crate) fn on_failure(
        &mut self,
        host: &str,
        now: u64,
        cfg: &FailoverConfig,
    ) -> Option<Event> {
        let c = self.hosts.entry(host.to_string()).or_default();
        c.failures = c.failures.saturating_add(1);
        let reopen = c.probing;
        c.probing = false;
        if reopen || (c.open_until.is_none() && c.failures >= cfg.threshold.max(1)) {
            let until = now + cfg.cooldown_ms;
            c.open_until = Some(until);
            return Some(Event::CircuitOpened {
                host: host.to_string(),
                until_ms: until,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_probes_after_cooldown() {
        let cfg = FailoverConfig {
            threshold: 2,
            cooldown_ms: 1000,
        };
        let hosts = vec!["a".to_string(), "b".to_string()];
        let mut c = Circuits::default();
        assert!(c.on_failure("a", 0, &cfg).is_none());
        assert_eq!(c.choose(&hosts, 0, 0), 0);
        assert_eq!(c.choose(&hosts, 0, 0b01), 1, "a failed host is avoided");
        assert!(matches!(
            c.on_failure("a", 10, &cfg),
            Some(Event::CircuitOpened { until_ms: 1010, .. })
        ));
        assert_eq!(c.choose(&hosts, 500, 0), 1);
        assert_eq!(c.choose(&hosts, 1010, 0), 0);
        c.on_send("a", 1010);
        assert_eq!(c.choose(&hosts, 1011, 0), 1, "one probe at a time");
        assert!(matches!(
            c.on_answer("a"),
            Some(Event::CircuitClosed { .. })
        ));
        assert_eq!(c.choose(&hosts, 1012, 0), 0);
    }
}
