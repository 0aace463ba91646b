//! The server's own monitoring: requests per caller, endpoint and result,
//! when each caller was last seen, and the status page's sign-in sessions.
//! Labels come from bounded sets only (configured caller names, the route
//! table, error kinds and status classes), never a path, key or token.

use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use wxcore::exposition::{family, sample};

/// The caller label of a request no configured key could be matched to.
pub const ANONYMOUS: &str = "anonymous";

#[derive(Default, Clone, Copy)]
struct Seen {
    last_ms: Option<u64>,
    requests: u64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, &'static str, String), u64>,
    callers: BTreeMap<String, Seen>,
}

pub struct Stats {
    pub started_at_ms: u64,
    inner: Mutex<Inner>,
}

/// One configured caller as the status page lists it.
pub struct CallerRow {
    pub name: String,
    pub last_seen_ms: Option<u64>,
    pub requests: u64,
}

impl Stats {
    /// `callers`: every configured name, so one never seen is listed too.
    pub fn new<'a>(started_at_ms: u64, callers: impl IntoIterator<Item = &'a str>) -> Stats {
        let mut inner = Inner::default();
        for c in callers {
            inner.callers.insert(c.to_string(), Seen::default());
        }
        Stats {
            started_at_ms,
            inner: Mutex::new(inner),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A configured caller's key was presented (valid, whatever it was
    /// then allowed): set when the key is matched, so a page answering
    /// this very request already shows it.
    pub fn touch(&self, caller: &str, now_ms: u64) {
        self.lock()
            .callers
            .entry(caller.to_string())
            .or_default()
            .last_ms = Some(now_ms);
    }

    /// One answered request. `caller` is a configured name or `None`.
    pub fn request(&self, caller: Option<&str>, endpoint: &'static str, result: &str) {
        let mut g = self.lock();
        let name = match caller {
            Some(c) => {
                g.callers.entry(c.to_string()).or_default().requests += 1;
                c
            }
            None => ANONYMOUS,
        };
        *g.requests
            .entry((name.to_string(), endpoint, result.to_string()))
            .or_default() += 1;
    }

    pub fn callers(&self) -> Vec<CallerRow> {
        self.lock()
            .callers
            .iter()
            .map(|(name, s)| CallerRow {
                name: name.clone(),
                last_seen_ms: s.last_ms,
                requests: s.requests,
            })
            .collect()
    }

    /// The server's families in the text format (0.0.4), appended to `out`.
    pub fn render(&self, out: &mut String, audit: &[(String, u64)]) {
        let g = self.lock();
        family(
            out,
            "wxcore_server_requests_total",
            "counter",
            "Requests the token server answered, by caller, route and result (status class or refusal kind).",
        );
        for ((caller, endpoint, result), n) in &g.requests {
            sample(
                out,
                "wxcore_server_requests_total",
                &[
                    ("caller", caller),
                    ("endpoint", endpoint),
                    ("result", result),
                ],
                n,
            );
        }
        family(
            out,
            "wxcore_server_audit_records_total",
            "counter",
            "Audit log records written, by result.",
        );
        for (result, n) in audit {
            sample(
                out,
                "wxcore_server_audit_records_total",
                &[("result", result)],
                n,
            );
        }
        family(
            out,
            "wxcore_server_caller_last_seen_timestamp_seconds",
            "gauge",
            "When each caller's key was last presented (Unix time).",
        );
        for (caller, s) in &g.callers {
            if let Some(ms) = s.last_ms {
                sample(
                    out,
                    "wxcore_server_caller_last_seen_timestamp_seconds",
                    &[("caller", caller)],
                    format!("{}.{:03}", ms / 1000, ms % 1000),
                );
            }
        }
    }
}

/// How long a status page sign-in lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most: sign-ins need a valid key, but a leaked one must
/// not be able to grow memory without bound.
const MAX_SESSIONS: usize = 1024;

/// Status page sign-ins: a random id in an HttpOnly cookie stands for the
/// caller key, so the key is typed once and never travels in a URL. Only
/// the id's hash is held, like the keys'.
#[derive(Default)]
pub struct Sessions {
    /// Hash of the session id → (hash of the caller's key, expiry).
    map: Mutex<HashMap<[u8; 32], Session>>,
}

type Session = ([u8; 32], Instant);

impl Sessions {
    /// A new session for the caller whose key hashes to `key_hash`; its id (hex).
    pub fn open(&self, key_hash: [u8; 32]) -> String {
        let mut id = [0u8; 32];
        getrandom::getrandom(&mut id).expect("the OS random generator");
        let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let now = Instant::now();
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        m.retain(|_, (_, exp)| *exp > now);
        if m.len() >= MAX_SESSIONS {
            if let Some(oldest) = m.iter().min_by_key(|(_, (_, e))| *e).map(|(k, _)| *k) {
                m.remove(&oldest);
            }
        }
        m.insert(
            Sha256::digest(id.as_bytes()).into(),
            (key_hash, now + SESSION_TTL),
        );
        id
    }

    /// The key hash a live session stands for.
    pub fn get(&self, id: &str) -> Option<[u8; 32]> {
        let h: [u8; 32] = Sha256::digest(id.as_bytes()).into();
        let m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&h)
            .filter(|(_, exp)| *exp > Instant::now())
            .map(|(k, _)| *k)
    }

    pub fn close(&self, id: &str) {
        let h: [u8; 32] = Sha256::digest(id.as_bytes()).into();
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_escape_labels_and_list_only_seen_callers() {
        let s = Stats::new(0, ["ops", "idle"]);
        s.touch("ops", 1_700_000_000_123);
        s.request(Some("ops"), "metrics", "2xx");
        s.request(None, "token", "credential_invalid");
        s.request(Some("we\"ird"), "status", "2xx");
        let mut out = String::new();
        s.render(&mut out, &[("ok".into(), 2)]);
        assert!(out.contains(
            "wxcore_server_requests_total{caller=\"ops\",endpoint=\"metrics\",result=\"2xx\"} 1\n"
        ));
        assert!(out
            .contains("caller=\"anonymous\",endpoint=\"token\",result=\"credential_invalid\"} 1"));
        assert!(out.contains("caller=\"we\\\"ird\""));
        assert!(out.contains("wxcore_server_audit_records_total{result=\"ok\"} 2\n"));
        assert!(out.contains(
            "wxcore_server_caller_last_seen_timestamp_seconds{caller=\"ops\"} 1700000000.123\n"
        ));
        assert!(!out.contains("caller=\"idle\""));
        let rows = s.callers();
        assert_eq!(rows.iter().find(|r| r.name == "idle").unwrap().requests, 0);
    }

    #[test]
    fn sessions_map_an_id_to_a_key_hash_until_closed() {
        let s = Sessions::default();
        let id = s.open([7; 32]);
        assert_eq!(id.len(), 64);
        assert_eq!(s.get(&id), Some([7; 32]));
        assert_eq!(s.get("nope"), None);
        s.close(&id);
        assert_eq!(s.get(&id), None);
    }
}
