'use strict';
// Fleet mode over Redis: executes the engine's store operations, nothing
// more. Which key, when to lock, how long a lease lasts, what to do when
// Redis fails: all of that is the engine's (core/src/store.rs).

// Delete the lease only if this process still owns it: a lease that expired
// and was taken by another process must survive our late unlock.
const UNLOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
// Count and set the expiry (the next quota reset) in one step, so a crash
// between the two cannot leave a counter that never resets.
const INCR_BY = "local n = redis.call('INCRBY', KEYS[1], ARGV[1]) redis.call('PEXPIRE', KEYS[1], ARGV[2]) return n";

/**
 * new RedisStore(client): `client` is an ioredis `Redis` (or anything with
 * `get`, `set` and `eval` in ioredis's calling style). Create it with
 * `enableOfflineQueue: false` and a `commandTimeout`, so that a Redis outage
 * fails each operation at once (the engine then works locally) instead of
 * queueing it.
 */
class RedisStore {
  constructor(client) {
    if (!client || typeof client.get !== 'function' || typeof client.eval !== 'function') {
      throw new TypeError('RedisStore needs an ioredis client (get, set, eval)');
    }
    this.client = client;
  }

  async execute(op) {
    const r = this.client;
    switch (op.op) {
      case 'get':
        return { value: await r.get(op.key) };
      case 'set':
        await r.set(op.key, op.value, 'PX', op.ttl_ms);
        return { ok: true };
      case 'lock':
        return { locked: (await r.set(op.key, op.owner, 'PX', op.ttl_ms, 'NX')) === 'OK' };
      case 'unlock':
        await r.eval(UNLOCK, 1, op.key, op.owner);
        return { ok: true };
      case 'incr_by':
        return { count: Number(await r.eval(INCR_BY, 1, op.key, op.delta, op.ttl_ms)) };
      default:
        throw new TypeError(`unknown store operation ${op.op}`);
    }
  }
}

module.exports = { RedisStore };
