//! Fleet mode over Redis: the engine's five store operations, nothing more.
//! The scripts are loaded once and called by SHA (`redis::Script` sends
//! `EVALSHA` and reloads after `NOSCRIPT`, as after a Redis restart).

use crate::{BoxFuture, Store};
use std::time::Duration;
use wxcore::{StoreCommand, StoreResult};

// Delete the lease only if this process still owns it.
const UNLOCK: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
// Count and set the expiry in one step.
const INCR_BY: &str =
    "local n = redis.call('INCRBY', KEYS[1], ARGV[1]) redis.call('PEXPIRE', KEYS[1], ARGV[2]) return n";

/// A [`Store`] over a reconnecting Redis connection. Each operation fails
/// fast (500 ms), so the engine falls back to local behaviour at once.
#[derive(Clone)]
pub struct RedisStore {
    conn: redis::aio::ConnectionManager,
    unlock: redis::Script,
    incr_by: redis::Script,
}

impl RedisStore {
    /// Connects to `redis://…`.
    pub async fn connect(url: &str) -> Result<RedisStore, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_millis(500))
            .set_response_timeout(Duration::from_millis(500))
            .set_number_of_retries(1);
        let conn = redis::aio::ConnectionManager::new_with_config(client, cfg).await?;
        Ok(RedisStore {
            conn,
            unlock: redis::Script::new(UNLOCK),
            incr_by: redis::Script::new(INCR_BY),
        })
    }

    async fn run(&self, op: StoreCommand) -> Result<StoreResult, redis::RedisError> {
        let mut c = self.conn.clone();
        Ok(match op {
            StoreCommand::Get { key } => {
                StoreResult::Value(redis::cmd("GET").arg(key).query_async(&mut c).await?)
            }
            StoreCommand::Set { key, value, ttl_ms } => {
                let mut cmd = redis::cmd("SET");
                cmd.arg(key).arg(value);
                // 0: durable state (an authorizer's refresh token), no expiry.
                if ttl_ms > 0 {
                    cmd.arg("PX").arg(ttl_ms);
                }
                let _: () = cmd.query_async(&mut c).await?;
                StoreResult::Ok
            }
            StoreCommand::Lock { key, owner, ttl_ms } => {
                let r: Option<String> = redis::cmd("SET")
                    .arg(key)
                    .arg(owner)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms.max(1))
                    .query_async(&mut c)
                    .await?;
                StoreResult::Locked(r.is_some())
            }
            StoreCommand::Unlock { key, owner } => {
                let _: i64 = self.unlock.key(key).arg(owner).invoke_async(&mut c).await?;
                StoreResult::Ok
            }
            StoreCommand::IncrBy { key, delta, ttl_ms } => StoreResult::Count(
                self.incr_by
                    .key(key)
                    .arg(delta)
                    .arg(ttl_ms.max(1))
                    .invoke_async(&mut c)
                    .await?,
            ),
        })
    }
}

impl Store for RedisStore {
    fn execute(&self, op: StoreCommand) -> BoxFuture<StoreResult> {
        let me = self.clone();
        Box::pin(async move {
            match tokio::time::timeout(Duration::from_millis(500), me.run(op)).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => StoreResult::Failed(format!("redis: {}", e.kind_str())),
                Err(_) => StoreResult::Failed("redis: no answer within 500 ms".into()),
            }
        })
    }
}

trait KindStr {
    fn kind_str(&self) -> String;
}

impl KindStr for redis::RedisError {
    // The error's category only: its text may quote a command (and a token).
    fn kind_str(&self) -> String {
        format!("{:?}", self.kind())
    }
}
