// One fleet worker (Node): an engine in fleet mode over Redis (ioredis),
// making calls to one app until its deadline; prints a JSON summary line.
// With `push`, it also serves the app's callback URL (pushed tickets,
// Client.handlePush) and names it in its ready line; with `wait_for_go`,
// its calls start on a line on stdin.
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
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
const summary = { name: job.name, submitted: 0, ok: 0, errors: {}, events: {}, pushes: 0, push_errors: {} };
const APP = job.app || 'oa';
// Calls go to these apps in turn (authorizers `cp/{appid}`); pushes to APP.
const CALL_APPS = job.call_apps || [APP];
let turn = 0;
client.on('event', (e) => {
  const k = e.source ? `${e.type}:${e.source}` : e.type;
  summary.events[k] = (summary.events[k] || 0) + 1;
});

let pushUrl = null;
if (job.push) {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        const push = client.handlePush(APP, req.method, new URL(req.url, 'http://x').searchParams, Buffer.concat(chunks));
        summary.pushes++;
        res.writeHead(200, { 'content-type': 'text/plain' }).end(push.reply);
      } catch (e) {
        const k = e.reason || e.name;
        summary.push_errors[k] = (summary.push_errors[k] || 0) + 1;
        res.writeHead(400).end();
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  server.unref();
  pushUrl = `http://127.0.0.1:${server.address().port}/push`;
}

let deadline;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function loop(i) {
  while (Date.now() < deadline) {
    summary.submitted++;
    try {
      const app = CALL_APPS[turn++ % CALL_APPS.length];
      if (job.json !== undefined) await client.call(app, job.method || 'POST', job.path, { json: job.json });
      else await client.call(app, 'GET', job.path, { query: { openid: `${job.name}-${i}` } });
      summary.ok++;
    } catch (e) {
      summary.errors[e.kind || 'exception'] = (summary.errors[e.kind || 'exception'] || 0) + 1;
    }
    if (job.interval_ms > 0) await sleep(job.interval_ms);
  }
}
console.log(JSON.stringify({ ready: job.name, push_url: pushUrl }));
if (job.wait_for_go) {
  const rl = createInterface({ input: process.stdin });
  await new Promise((r) => rl.once('line', r));
  rl.close();
}
deadline = Date.now() + job.duration_ms;
await Promise.all([...Array(job.concurrency).keys()].map(loop));
console.log(JSON.stringify(summary));
redis.disconnect();
