// End to end: the Node driver over real HTTP (global fetch) against the local
// simulator. Each test uses its own app id, so the simulator's counters
// (platform-side facts) belong to that test alone.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Client, WxError, jssdkSignature } from '../src/index.mjs';
import { startSimulator, count } from './sim.mjs';

const UI = '/cgi-bin/user/info';
let sim;
let n = 0;
const newAppId = () => `wxe2e${++n}${randomBytes(3).toString('hex')}`;

before(async () => { sim = await startSimulator(); });
after(async () => { await sim.close(); });
beforeEach(async () => { await sim.reset(); });

function oaClient(appId, extra = {}) {
  return new Client({
    apps: [{ id: 'oa', platform: 'wechat-oa', app_id: appId, secret: 'e2e-secret', hosts: [sim.primary, sim.dr] }],
    retry: { jitter: false, base_delay_ms: 10, max_delay_ms: 50 },
    failover: { threshold: 1, cooldown_ms: 300 },
    timeout_ms: 3000,
    ...extra,
  });
}

async function rejects(promise) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof WxError, `expected a WxError, got ${e}`);
    return e;
  }
  assert.fail('the call succeeded');
}

test('N concurrent calls: one token fetch, overlapping at the platform', async () => {
  const app = newAppId();
  await sim.configure({ latency_ms: 50 });
  const client = oaClient(app);
  const users = await Promise.all([...Array(20).keys()].map((i) => client.call('oa', 'GET', UI, { query: { openid: `o${i}` } })));
  assert.deepEqual(users.map((u) => u.openid), [...Array(20).keys()].map((i) => `o${i}`));
  const c = await sim.counters();
  assert.equal(count(c, 'token_fetches', app), 1);
  assert.equal(count(c, 'calls', app, UI), 20);
  assert.ok(c.max_in_flight[app] > 1, 'the calls did not overlap');
});

test('early invalidation: one refresh, no error reaches the caller', async () => {
  const app = newAppId();
  const client = oaClient(app);
  const events = [];
  client.on('event', (e) => events.push(e));
  await client.call('oa', 'GET', UI, { query: { openid: 'o1' } });
  await sim.fault({ kind: 'invalidate', app });
  assert.equal((await client.call('oa', 'GET', UI, { query: { openid: 'o2' } })).openid, 'o2');
  const c = await sim.counters();
  assert.equal(count(c, 'token_fetches', app), 2);
  assert.equal(count(c, 'rejected', app, '40001'), 1);
  assert.deepEqual(events.map((e) => e.type).filter((t) => t.startsWith('token_')),
    ['token_fetched', 'token_invalidated', 'token_fetched']);
});

test('primary down: api2 serves; primary again after the cool-down', async () => {
  const app = newAppId();
  const client = oaClient(app);
  const events = [];
  client.on('event', (e) => events.push(e));
  await client.call('oa', 'GET', UI, { query: { openid: 'o1' } });
  await sim.fault({ kind: 'host', host: 'primary', mode: 'down' });
  const before = (await sim.counters()).requests;
  assert.equal((await client.call('oa', 'GET', UI, { query: { openid: 'o2' } })).openid, 'o2');
  const mid = (await sim.counters()).requests;
  assert.equal(mid.dr, before.dr + 1);
  assert.equal(mid.primary, before.primary);
  assert.ok(events.some((e) => e.type === 'failover' && e.to === sim.dr));
  assert.ok(events.some((e) => e.type === 'circuit_opened' && e.host === sim.primary));

  await sim.fault({ kind: 'host', host: 'primary', mode: 'up' });
  await new Promise((r) => setTimeout(r, 400)); // the configured 300 ms cool-down
  await client.call('oa', 'GET', UI, { query: { openid: 'o3' } });
  const end = (await sim.counters()).requests;
  assert.equal(end.primary, mid.primary + 1);
  assert.equal(end.dr, mid.dr);
  assert.ok(events.some((e) => e.type === 'circuit_closed' && e.host === sim.primary));
});

test('45009: quota_exhausted, then refused locally with no further platform call', async () => {
  const app = newAppId();
  await sim.configure({ daily_limits: { '/cgi-bin/user/get': 2 } });
  const client = oaClient(app);
  await client.call('oa', 'GET', '/cgi-bin/user/get');
  await client.call('oa', 'GET', '/cgi-bin/user/get');
  for (let i = 0; i < 2; i++) {
    const e = await rejects(client.call('oa', 'GET', '/cgi-bin/user/get'));
    assert.equal(e.kind, 'quota_exhausted');
    assert.ok(e.retryAfterMs > 0);
  }
  const c = await sim.counters();
  assert.equal(count(c, 'calls', app, '/cgi-bin/user/get'), 3);
  assert.equal(count(c, 'rejected', app, '45009'), 1);
  await client.call('oa', 'GET', UI, { query: { openid: 'o1' } }); // other APIs unaffected
});

test('a -1 burst is retried for GET and not for a non-idempotent POST', async () => {
  const app = newAppId();
  const client = oaClient(app);
  await sim.fault({ kind: 'errcode', code: -1, count: 2, path: UI });
  assert.equal((await client.call('oa', 'GET', UI, { query: { openid: 'o1' } })).openid, 'o1');
  await sim.fault({ kind: 'errcode', code: -1, count: 1, path: '/cgi-bin/message/custom/send' });
  const e = await rejects(client.call('oa', 'POST', '/cgi-bin/message/custom/send', { json: { touser: 'o1', msgtype: 'text' } }));
  assert.equal(e.kind, 'busy');
  assert.equal(e.code, -1);
  const c = await sim.counters();
  assert.equal(count(c, 'calls', app, UI), 3);
  assert.equal(count(c, 'calls', app, '/cgi-bin/message/custom/send'), 1);
});

test('89503: admin_confirmation_required after exactly one attempt', async () => {
  const app = newAppId();
  const client = oaClient(app);
  await sim.fault({ kind: 'errcode', code: 89503, count: 5, path: '/cgi-bin/tags/get' });
  const e = await rejects(client.call('oa', 'GET', '/cgi-bin/tags/get'));
  assert.equal(e.kind, 'admin_confirmation_required');
  assert.equal(e.code, 89503);
  assert.equal(count(await sim.counters(), 'calls', app, '/cgi-bin/tags/get'), 1);
});

test('media: multipart upload, then the binary download byte for byte', async () => {
  const client = oaClient(newAppId());
  const image = Buffer.alloc(10240, 0).map((_, i) => i % 256);
  const form = new FormData();
  form.append('media', new Blob([image], { type: 'image/jpeg' }), 'a.jpg');
  const req = new Request('http://x/', { method: 'POST', body: form });
  const body = Buffer.from(await req.arrayBuffer());
  const up = await client.call('oa', 'POST', '/cgi-bin/media/upload', {
    query: { type: 'image' }, body, contentType: req.headers.get('content-type'),
  });
  const got = await client.call('oa', 'GET', '/cgi-bin/media/get', { query: { media_id: up.media_id }, full: true });
  assert.ok(Buffer.isBuffer(got.data));
  assert.ok(got.data.equals(image));
  assert.equal(new Map(got.headers).get('content-type'), 'image/jpeg');
});

test('a malformed body is a typed error', async () => {
  const client = oaClient(newAppId());
  await client.call('oa', 'GET', UI, { query: { openid: 'o1' } });
  await sim.fault({ kind: 'malformed', count: 1, status: 200 });
  const e = await rejects(client.call('oa', 'POST', '/cgi-bin/message/custom/send', { json: { touser: 'o1' } }));
  assert.equal(e.kind, 'malformed_response');
});

test('WeCom, Jing, CJ-style and result-style over HTTP', async () => {
  const [corp, jing, cj, acct] = [newAppId(), newAppId(), newAppId(), newAppId()];
  const client = new Client({
    apps: [
      { id: 'wecom', platform: 'wecom', corp_id: corp, agent_id: '1000002', secret: 'cs', hosts: [sim.primary] },
      { id: 'jing', platform: 'jing', app_id: jing, secret: 'js', base_url: sim.primary, token_path: '/jing/token', refresh_path: '/jing/refresh' },
      { id: 'cj', platform: 'cj', app_id: cj, secret: 'cjs', base_url: sim.primary, token_path: '/cj/token' },
      { id: 'result', platform: 'result', app_id: acct, secret: 'tid', base_url: sim.primary,
        token_placement: { in: 'query', name: 'token_id', extra: [['account_key', '{app_id}']] } },
    ],
  });
  assert.equal((await client.call('wecom', 'GET', '/cgi-bin/user/get', { query: { userid: 'zhangsan' } })).userid, 'zhangsan');
  assert.equal((await client.call('wecom', 'POST', '/cgi-bin/message/send', { json: { touser: 'zhangsan' } })).errcode, 0);
  const e = await rejects(client.call('wecom', 'GET', '/cgi-bin/user/get', { query: { userid: 'nobody' } }));
  assert.equal(e.kind, 'unknown'); // not in the profile's table: kept, typed unknown
  assert.equal(e.code, 60111);
  assert.equal((await client.call('jing', 'GET', '/jing/api/shop/info')).data.app_id, jing);
  assert.equal((await client.call('cj', 'GET', '/cj/api/orders')).data.appid, cj);
  assert.equal((await client.call('result', 'GET', '/result/events')).data.account_key, acct);
  await sim.fault({ kind: 'invalidate', app: jing });
  assert.equal((await client.call('jing', 'POST', '/jing/api/shop/update', { json: { name: 'x' } })).code, 0);
  const c = await sim.counters();
  assert.equal(count(c, 'token_fetches', corp), 1);
  assert.equal(count(c, 'token_fetches', cj), 1);
  assert.equal(count(c, 'token_fetches', jing), 2);
});

test('JS-SDK tickets: one fetch for many concurrent pages, then the cache', async () => {
  const app = newAppId();
  await sim.configure({ latency_ms: 30 });
  const client = oaClient(app);
  const tickets = await Promise.all([...Array(10).keys()].map(() => client.ticket('oa')));
  assert.equal(new Set(tickets).size, 1);
  const cfg = await client.jssdkConfig('oa', 'https://shop.example/p?id=1#top');
  assert.equal(cfg.appId, app);
  assert.equal(cfg.signature, jssdkSignature(tickets[0], cfg.nonceStr, cfg.timestamp, 'https://shop.example/p?id=1'));
  assert.equal(count(await sim.counters(), 'ticket_fetches', app), 1);
});

test('API security: a sealed, signed call and its sealed, signed reply, end to end', async () => {
  const { readFileSync } = await import('node:fs');
  const v = JSON.parse(readFileSync(new URL('../../tests/vectors/crypto-official.json', import.meta.url))).api_security_request[0];
  const app = newAppId();
  const pem = v.rsa_private_key_pem;
  await fetch(`${sim.control}/apps`, { method: 'POST', body: JSON.stringify({ app_id: app, secret: 'e2e-secret', api_security: {
    sym_key: v.sym_key, sym_sn: v.sym_sn, app_key: pem, platform_key: pem, platform_serial: 'SIM-SN' } }) });
  const client = new Client({
    apps: [{ id: 'oa', platform: 'wechat-oa', app_id: app, secret: 'e2e-secret', hosts: [sim.primary],
      api_security: { sym_key: v.sym_key, sym_sn: v.sym_sn, private_key: pem, platform_keys: { 'SIM-SN': pem }, paths: ['/wxa/getuserriskrank'] } }],
  });
  const r = await client.call('oa', 'POST', '/wxa/getuserriskrank', { json: { openid: 'o-secure', scene: 0 } });
  assert.equal(r.risk_rank, 0);
  assert.equal(r.openid, 'o-secure');
});
