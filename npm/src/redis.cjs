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
// Named for ioredis's defineCommand, which adds them to the client as methods.
const SCRIPTS = { wxcoreUnlock: UNLOCK, wxcoreIncrBy: INCR_BY };

/**
 * new RedisStore(client): `client` is an ioredis `Redis` or `Cluster` (or
 * anything with `get`, `set` and `eval` in ioredis's calling style). Create
 * it with `enableOfflineQueue: false` and a `commandTimeout`, so that a Redis
 * outage fails each operation at once (the engine then works locally)
 * instead of queueing it. On an ioredis client the store defines the
 * commands `wxcoreUnlock` and `wxcoreIncrBy`.
 */
class RedisStore {
  constructor(client) {
    if (!client || typeof client.get !== 'function' || typeof client.set !== 'function'
      || (typeof client.defineCommand !== 'function' && typeof client.eval !== 'function')) {
      throw new TypeError('RedisStore needs an ioredis client (get, set, defineCommand or eval)');
    }
    this.client = client;
    // Scripts by SHA: ioredis sends EVALSHA, and the script's text only when
    // Redis answers NOSCRIPT (a restarted or flushed server), not on every call.
    this._byName = typeof client.defineCommand === 'function';
    if (this._byName) {
      for (const [name, lua] of Object.entries(SCRIPTS)) client.defineCommand(name, { numberOfKeys: 1, lua });
    }
  }

  _script(name, key, ...args) {
    return this._byName ? this.client[name](key, ...args) : this.client.eval(SCRIPTS[name], 1, key, ...args);
  }

  async execute(op) {
    const r = this.client;
    switch (op.op) {
      case 'get':
        return { value: await r.get(op.key) };
      case 'set':
        // ttl_ms 0: durable state (an authorizer's refresh token), no expiry.
        if (op.ttl_ms > 0) await r.set(op.key, op.value, 'PX', op.ttl_ms);
        else await r.set(op.key, op.value);
        return { ok: true };
      case 'lock':
        return { locked: (await r.set(op.key, op.owner, 'PX', op.ttl_ms, 'NX')) === 'OK' };
      case 'unlock':
        await this._script('wxcoreUnlock', op.key, op.owner);
        return { ok: true };
      case 'incr_by':
        return { count: Number(await this._script('wxcoreIncrBy', op.key, op.delta, op.ttl_ms)) };
      default:
        throw new TypeError(`unknown store operation ${op.op}`);
    }
  }
}

module.exports = { RedisStore };
