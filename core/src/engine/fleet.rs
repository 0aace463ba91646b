//! Fleet mode: the credential shared through a store the host runs (Redis).
//!
//! Read-through `get`; on a miss, a token due for refresh, or the token a
//! call reported invalid: take the lease (`lock`, set-if-absent with a TTL),
//! read again (double check: another process may have refreshed meanwhile),
//! fetch over HTTP, `set`, `unlock`. A process that loses the lease keeps
//! using a still-valid token and re-reads the store every `store_poll_ms`;
//! a lease whose holder died expires after `lease_ms`. Any store failure
//! falls back to a local fetch with a `StoreUnavailable` event, so no call
//! waits on a broken store.
//!
//! Daily quotas: with `enforce`, a call to a limited path is counted
//! (`incr_by`) before it is sent and sent only if the shared total is within
//! the limit, so the fleet together never exceeds it; a failed count falls
//! back to local counting. Token fetches, one at a time under the lease, are
//! counted alongside their send.
//!
//! Keys (after `store_prefix`): `token:{platform}:{account}:{endpoint}`,
//! `lock:…` with the same suffix, `quota:{…}:{day}:{path}`, every part
//! escaped so no two accounts share a key. Values are versioned JSON naming
//! the account they belong to (a value for another account is ignored, with
//! an event) and holding tokens and counters, never secrets.
//!
//! The lease owner is unique per engine (a part drawn from the host's
//! entropy), so two processes never both hold it and one never releases
//! another's; its TTL covers a token fetch's worst case.

use crate::config::Secret;
use crate::engine::credential::{Fetch, Source, Token};
use crate::engine::{Engine, StorePurpose, Timer};
use crate::output::{Event, StoreCommand, StoreResult};
use serde_json::json;

pub(crate) fn token_key(e: &Engine, a: usize) -> String {
    format!("{}token:{}", e.cfg.store_prefix, e.apps[a].store_id)
}

fn lock_key(e: &Engine, a: usize) -> String {
    format!("{}lock:{}", e.cfg.store_prefix, e.apps[a].store_id)
}

/// The stored form of a token.
pub(crate) fn token_value(account: &str, t: &Token, refresh_token: Option<&Secret>) -> String {
    json!({
        "v": 1,
        "account": account,
        "token": t.value.expose(),
        "expires_at_ms": t.expires_at,
        "refresh_at_ms": t.refresh_at,
        "refresh_token": refresh_token.map(Secret::expose),
    })
    .to_string()
}

struct Stored {
    token: Secret,
    expires_at: u64,
    refresh_at: Option<u64>,
    refresh_token: Option<Secret>,
}

/// Why a stored value is not this account's token.
enum Rejected {
    /// Not a value this engine wrote (or a version it does not read): a miss.
    Unreadable,
    /// Another account's value under this key.
    Foreign,
}

fn parse(value: &str, account: &str) -> Result<Stored, Rejected> {
    let v: serde_json::Value = serde_json::from_str(value).map_err(|_| Rejected::Unreadable)?;
    if v.get("v").and_then(|x| x.as_u64()) != Some(1) {
        return Err(Rejected::Unreadable);
    }
    if v.get("account").and_then(|x| x.as_str()) != Some(account) {
        return Err(Rejected::Foreign);
    }
    read(&v).ok_or(Rejected::Unreadable)
}

fn read(v: &serde_json::Value) -> Option<Stored> {
    Some(Stored {
        token: Secret::new(v.get("token")?.as_str()?),
        expires_at: v.get("expires_at_ms")?.as_u64()?,
        refresh_at: v.get("refresh_at_ms").and_then(|x| x.as_u64()),
        refresh_token: v
            .get("refresh_token")
            .and_then(|x| x.as_str())
            .map(Secret::new),
    })
}

impl Engine {
    /// Step one: read the shared token.
    pub(crate) fn fleet_read(&mut self, a: usize, _now: u64) {
        let key = token_key(self, a);
        self.apps[a].cred.fetch = Fetch::Store;
        self.store(StoreCommand::Get { key }, StorePurpose::Read(a));
    }

    pub(crate) fn fleet_unlock(&mut self, a: usize) {
        self.apps[a].cred.lock_held = false;
        let key = lock_key(self, a);
        let owner = self.owner.clone();
        self.store(
            StoreCommand::Unlock { key, owner },
            StorePurpose::Write(a, "unlock"),
        );
    }

    /// A stored token this process can use instead of fetching.
    fn usable(&self, a: usize, s: &Stored, now: u64) -> bool {
        now < s.expires_at
            && s.refresh_at.is_none_or(|r| now < r)
            && self.apps[a].cred.failed.as_ref() != Some(&s.token)
    }

    /// A value under this app's key that names another account.
    pub(crate) fn foreign_value(&mut self, a: usize, what: &'static str) {
        let app = self.apps[a].name.clone();
        self.event(Event::StoreValueIgnored {
            app,
            what,
            reason: "another account's".into(),
        });
    }

    /// A `get`'s answer as this app's stored value (version 1, its
    /// account), else None: a failed read is reported, another account's
    /// value too (as `what`), anything else is a miss.
    pub(crate) fn own_value(
        &mut self,
        a: usize,
        r: StoreResult,
        what: &'static str,
    ) -> Option<serde_json::Value> {
        let v: serde_json::Value = match r {
            StoreResult::Value(Some(v)) => serde_json::from_str(&v).ok()?,
            StoreResult::Failed(m) => {
                self.store_failed(a, "get", m);
                return None;
            }
            _ => return None,
        };
        if v.get("v").and_then(|x| x.as_u64()) != Some(1) {
            return None;
        }
        if v.get("account").and_then(|x| x.as_str()) != Some(self.apps[a].store_id.as_str()) {
            self.foreign_value(a, what);
            return None;
        }
        Some(v)
    }

    fn store_failed(&mut self, a: usize, op: &'static str, message: String) {
        let app = self.apps[a].name.clone();
        self.event(Event::StoreUnavailable { app, op, message });
    }

    pub(crate) fn on_store_result(&mut self, p: StorePurpose, result: StoreResult, now: u64) {
        match p {
            StorePurpose::Read(a) | StorePurpose::Recheck(a) => {
                let recheck = matches!(p, StorePurpose::Recheck(_));
                self.apps[a].cred.fetch = Fetch::Idle;
                let value = match result {
                    StoreResult::Value(v) => v,
                    StoreResult::Failed(m) => {
                        self.store_failed(a, "get", m);
                        return self.http_fetch(a, now, false);
                    }
                    other => {
                        self.store_failed(
                            a,
                            "get",
                            format!("unexpected `{}` answer", other.name()),
                        );
                        return self.http_fetch(a, now, false);
                    }
                };
                let stored = match value.as_deref().map(|v| parse(v, &self.apps[a].store_id)) {
                    Some(Ok(s)) => Some(s),
                    Some(Err(Rejected::Foreign)) => {
                        self.foreign_value(a, "token");
                        None
                    }
                    _ => None,
                };
                if let Some(s) = stored.filter(|s| self.usable(a, s, now)) {
                    if s.refresh_token.is_some() {
                        self.apps[a].cred.refresh_token = s.refresh_token;
                    }
                    self.adopt(
                        a,
                        s.token,
                        s.expires_at,
                        s.refresh_at,
                        Source::Store,
                        now,
                        now,
                    );
                    if recheck {
                        self.fleet_unlock(a);
                    }
                } else if recheck {
                    self.http_fetch(a, now, false);
                } else {
                    let key = lock_key(self, a);
                    let owner = self.owner.clone();
                    self.apps[a].cred.fetch = Fetch::Store;
                    self.store(
                        StoreCommand::Lock {
                            key,
                            owner,
                            ttl_ms: self.cfg.lease_ttl_ms(),
                        },
                        StorePurpose::Lock(a),
                    );
                }
            }
            StorePurpose::Lock(a) => {
                self.apps[a].cred.fetch = Fetch::Idle;
                match result {
                    StoreResult::Locked(true) => {
                        self.apps[a].cred.lock_held = true;
                        self.apps[a].cred.fetch = Fetch::Store;
                        let key = token_key(self, a);
                        self.store(StoreCommand::Get { key }, StorePurpose::Recheck(a));
                    }
                    StoreResult::Locked(false) => {
                        let until = now + self.cfg.store_poll_ms;
                        self.apps[a].cred.fetch = Fetch::Polling { until };
                        self.timer(until, Timer::Fetch(a));
                    }
                    StoreResult::Failed(m) => {
                        self.store_failed(a, "lock", m);
                        self.http_fetch(a, now, false);
                    }
                    other => {
                        self.store_failed(
                            a,
                            "lock",
                            format!("unexpected `{}` answer", other.name()),
                        );
                        self.http_fetch(a, now, false);
                    }
                }
            }
            StorePurpose::Write(a, op) => {
                if let StoreResult::Failed(m) = result {
                    self.store_failed(a, op, m);
                }
            }
            StorePurpose::QuotaIncr(a, path) => match result {
                StoreResult::Count(n) => {
                    let app = &mut self.apps[a];
                    app.quota.roll(now);
                    let limit = app.limit(&path);
                    let crossings = app.quota.record(&path, n.max(0) as u64, limit);
                    self.quota_events(a, &path, crossings, now);
                }
                StoreResult::Failed(m) => self.store_failed(a, "incr_by", m),
                _ => {}
            },
            StorePurpose::TicketRead(a, kind) => self.on_ticket_read(a, kind, result, now),
            StorePurpose::PushedRead(a, forced) => self.on_pushed_read(a, forced, result, now),
            StorePurpose::AuthorizerRead(a) => self.on_authorizer_read(a, result, now),
            StorePurpose::QuotaReserve(id, a, key, path, delta) => {
                let count = match result {
                    StoreResult::Count(n) => Some(n),
                    other => {
                        let message = match other {
                            StoreResult::Failed(m) => m,
                            o => format!("unexpected `{}` answer", o.name()),
                        };
                        self.store_failed(a, "incr_by", message);
                        None
                    }
                };
                self.on_reservation(id, a, (key, path), delta, count, now);
            }
        }
    }

    /// Fleet mode: after fetching under the lease, publish the token and release the lease.
    pub(crate) fn fleet_publish(&mut self, a: usize, now: u64) {
        self.fleet_store_token(a, now);
        self.fleet_unlock(a);
    }

    /// Writes the held token to the store (the lease aside: an authorizer's
    /// token from an authorization is the newest there is).
    pub(crate) fn fleet_store_token(&mut self, a: usize, now: u64) {
        let Some(t) = self.apps[a].cred.token.clone() else {
            return;
        };
        let value = token_value(
            &self.apps[a].store_id,
            &t,
            self.apps[a].cred.refresh_token.as_ref(),
        );
        let key = token_key(self, a);
        let ttl_ms = t.expires_at.saturating_sub(now).max(1);
        self.store(
            StoreCommand::Set { key, value, ttl_ms },
            StorePurpose::Write(a, "set"),
        );
    }
}
