// The Redis adapter against a real redis-server (on a Unix socket, so no
// port can clash): the engine's scripts go by SHA, and survive a server
// that has forgotten them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Redis from 'ioredis';
import { RedisStore } from '../src/index.mjs';

const noServer = spawnSync('redis-server', ['--version']).error ? 'redis-server is not installed (make redis)' : false;

async function withRedis(run) {
  const dir = mkdtempSync(join(tmpdir(), 'wxcore-redis-'));
  const path = join(dir, 'redis.sock');
  const server = spawn('redis-server', ['--port', '0', '--unixsocket', path, '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const redis = new Redis({ path, lazyConnect: true });
  try {
    for await (const line of createInterface({ input: server.stdout })) if (/ready to accept connections/i.test(line)) break;
    server.stdout.resume(); // its later log lines must not fill the pipe
    await redis.connect();
    await run(redis);
  } finally {
    redis.disconnect();
    server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

const calls = (stats, cmd) => Number(stats.match(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`))?.[1] ?? 0);

test('RedisStore calls its scripts by SHA, and resends one Redis has forgotten', { skip: noServer }, () => withRedis(async (redis) => {
  const store = new RedisStore(redis);
  const incr = (id) => store.execute({ id, op: 'incr_by', key: 'quota', delta: 1, ttl_ms: 60000 });
  assert.deepEqual(await store.execute({ id: 1, op: 'lock', key: 'lease', owner: 'a', ttl_ms: 60000 }), { locked: true });
  for (const id of [2, 3, 4]) await incr(id);
  // What a restarted Redis knows of our scripts: nothing.
  await redis.script('FLUSH');
  assert.deepEqual(await incr(5), { count: 4 });
  assert.deepEqual(await incr(6), { count: 5 });
  assert.ok((await redis.pttl('quota')) > 0, 'the counter expires');
  await store.execute({ id: 20, op: 'set', key: 'durable', value: '{"v":1}', ttl_ms: 0 });
  assert.equal(await redis.pttl('durable'), -1, 'ttl_ms 0 stores without expiry');
  await store.execute({ id: 7, op: 'unlock', key: 'lease', owner: 'b' });
  assert.equal(await redis.get('lease'), 'a', 'another owner must not release the lease');
  await store.execute({ id: 8, op: 'unlock', key: 'lease', owner: 'a' });
  assert.equal(await redis.get('lease'), null);

  // A script's text goes once per connection (ioredis loads it with its
  // first EVAL) and once after the flush (NOSCRIPT); every other call is
  // EVALSHA: incr_by 2, 3 after the load, 5 (refused), 6; unlock 8.
  const stats = await redis.info('commandstats');
  assert.equal(calls(stats, 'eval'), 3, stats);
  assert.equal(calls(stats, 'evalsha'), 5, stats);
}));

test('RedisStore falls back to EVAL on a client without defineCommand', async () => {
  const sent = [];
  const store = new RedisStore({ get: async () => null, set: async () => 'OK', eval: async (...a) => { sent.push(a); return 7; } });
  assert.deepEqual(await store.execute({ id: 1, op: 'incr_by', key: 'q', delta: 1, ttl_ms: 5 }), { count: 7 });
  assert.equal(sent.length, 1);
  assert.match(sent[0][0], /INCRBY/);
  assert.deepEqual(sent[0].slice(1), [1, 'q', 1, 5]);
});
