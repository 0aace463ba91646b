// One fleet worker (Node): an engine in fleet mode over Redis (ioredis),
// making calls to one app until its deadline; prints a JSON summary line.
import Redis from 'ioredis';
import { Client, RedisStore } from 'wxcore';

const job = JSON.parse(process.argv[2]);
const fleet = job.store !== 'memory';
const redis = new Redis({
  host: '127.0.0.1', port: job.redis_port,
  // Fail fast while Redis is away: the engine then works locally.
  enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 500,
  retryStrategy: () => 200, lazyConnect: true,
});
redis.on('error', () => {}); // reconnects by itself; the engine reports store_unavailable
// Without an offline queue, commands before the connection would fail.
if (fleet) await redis.connect();

const client = new Client({ ...job.config, instance_id: job.name, store: fleet ? new RedisStore(redis) : 'memory' });
const summary = { name: job.name, submitted: 0, ok: 0, errors: {}, events: {} };
client.on('event', (e) => {
  const k = e.source ? `${e.type}:${e.source}` : e.type;
  summary.events[k] = (summary.events[k] || 0) + 1;
});

const deadline = Date.now() + job.duration_ms;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function loop(i) {
  while (Date.now() < deadline) {
    summary.submitted++;
    try {
      await client.call('oa', 'GET', job.path, { query: { openid: `${job.name}-${i}` } });
      summary.ok++;
    } catch (e) {
      summary.errors[e.kind || 'exception'] = (summary.errors[e.kind || 'exception'] || 0) + 1;
    }
    if (job.interval_ms > 0) await sleep(job.interval_ms);
  }
}
console.log(JSON.stringify({ ready: job.name }));
await Promise.all([...Array(job.concurrency).keys()].map(loop));
console.log(JSON.stringify(summary));
redis.disconnect();
