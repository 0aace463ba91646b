// The Node driver over an in-process fetch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Client, WxError, KINDS } from '../src/index.mjs';

const CONFIG = {
  apps: [{ id: 'oa', platform: 'wechat-oa', app_id: 'wxA', secret: 'SECRET' }],
  retry: { jitter: false, base_delay_ms: 1, max_delay_ms: 2 },
};

function fakePlatform() {
  const state = { requests: [], token: 0, failNext: [] };
  state.fetch = async (url, init) => {
    state.requests.push({ url, init });
    await new Promise((r) => setTimeout(r, 1));
    const json = (v, status = 200) => new Response(JSON.stringify(v), { status, headers: { 'content-type': 'application/json' } });
    if (state.failNext.length) {
      const f = state.failNext.shift();
      if (f instanceof Error) throw f;
      return json(f);
    }
    if (url.includes('/cgi-bin/stable_token')) return json({ access_token: `T${++state.token}`, expires_in: 7200 });
    if (url.includes('/cgi-bin/media/get')) return new Response(new Uint8Array([0xff, 0xd8, 0xff]), { headers: { 'content-type': 'image/jpeg' } });
    return json({ url, body: init.body ? String(init.body) : null });
  };
  return state;
}

test('concurrent calls share one token fetch and resolve to parsed JSON', async () => {
  const p = fakePlatform();
  const client = new Client({ ...CONFIG, fetch: p.fetch });
  const results = await Promise.all([...Array(20).keys()].map((i) => client.call('oa', 'GET', '/cgi-bin/user/info', { query: { openid: `o${i}` } })));
  assert.deepEqual(results.map((r) => r.url.split('openid=')[1]), [...Array(20).keys()].map((i) => `o${i}`));
  assert.equal(p.requests.filter((r) => r.url.includes('stable_token')).length, 1);
  assert.ok(results[0].url.startsWith('https://api.weixin.qq.com/cgi-bin/user/info?access_token=T1&'));
});

test('json bodies, full replies and binary bodies', async () => {
  const p = fakePlatform();
  const client = new Client({ ...CONFIG, fetch: p.fetch });
  const full = await client.call('oa', 'POST', '/cgi-bin/message/custom/send', { json: { touser: 'o1', text: '你好' }, full: true });
  assert.equal(full.status, 200);
  assert.deepEqual(JSON.parse(full.data.body), { touser: 'o1', text: '你好' });
  const media = await client.call('oa', 'GET', '/cgi-bin/media/get', { query: { media_id: 'M1' } });
  assert.ok(Buffer.isBuffer(media));
  assert.deepEqual([...media], [0xff, 0xd8, 0xff]);
});

test('failures reject with WxError carrying kind, code and retryAfterMs; events are emitted', async () => {
  const p = fakePlatform();
  const client = new Client({ ...CONFIG, fetch: p.fetch });
  const events = [];
  client.on('event', (e) => events.push(e.type));
  await client.call('oa', 'GET', '/cgi-bin/user/info');
  p.failNext.push({ errcode: 89503, errmsg: 'waiting for admin confirmation' });
  const admin = await client.call('oa', 'POST', '/cgi-bin/menu/create', { json: {}, idempotent: true }).catch((e) => e);
  assert.ok(admin instanceof WxError && admin instanceof Error);
  assert.equal(admin.kind, 'admin_confirmation_required');
  assert.equal(admin.code, 89503);
  assert.ok(events.includes('admin_confirmation_required'));
  p.failNext.push({ errcode: 45009, errmsg: 'daily quota' });
  const quota = await client.call('oa', 'POST', '/cgi-bin/message/mass/sendall', { json: {} }).catch((e) => e);
  assert.equal(quota.kind, 'quota_exhausted');
  assert.ok(quota.retryAfterMs > 0);
  const n = p.requests.length;
  const again = await client.call('oa', 'POST', '/cgi-bin/message/mass/sendall', { json: {} }).catch((e) => e);
  assert.equal(again.kind, 'quota_exhausted');
  assert.equal(p.requests.length, n, 'refused locally, no request');
});

test('an invalid token is refreshed once without the caller noticing', async () => {
  const p = fakePlatform();
  const client = new Client({ ...CONFIG, fetch: p.fetch });
  const events = [];
  client.on('event', (e) => events.push(e.type));
  await client.call('oa', 'GET', '/cgi-bin/user/info');
  p.failNext.push({ errcode: 40001, errmsg: 'invalid credential' });
  const out = await client.call('oa', 'GET', '/cgi-bin/user/info');
  assert.ok(out.url.includes('access_token=T2'));
  assert.equal(events.filter((t) => t === 'token_invalidated').length, 1);
});

test('transport errors map to engine kinds: connect fails over, a POST timeout is not resent', async () => {
  const p = fakePlatform();
  const client = new Client({ ...CONFIG, fetch: p.fetch });
  await client.call('oa', 'GET', '/cgi-bin/user/info');
  p.failNext.push(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }));
  const out = await client.call('oa', 'POST', '/cgi-bin/message/custom/send', { json: {} });
  assert.ok(out.url.startsWith('https://api2.weixin.qq.com/'));
  p.failNext.push(new DOMException('timed out', 'TimeoutError'));
  const err = await client.call('oa', 'POST', '/cgi-bin/message/custom/send', { json: {} }).catch((e) => e);
  assert.equal(err.kind, 'transport');
  assert.equal(err.code, 'timeout');
});

test('a bad config throws WxError naming the field; kinds come from the core', () => {
  assert.throws(() => new Client({ apps: [{ id: 'j', platform: 'jing', app_id: 'a', secret: 's', base_url: 'https://j' }] }),
    (e) => e.kind === 'config' && e.field === 'apps[0].token_path');
  assert.equal(KINDS.length, 22);
  assert.ok(KINDS.includes('token_invalid'));
});

test('a throwing event listener costs no call; a store object turns fleet mode on', async () => {
  const p = fakePlatform();
  const client = new Client({ ...CONFIG, fetch: p.fetch });
  client.on('event', () => { throw new Error('listener bug'); });
  const errors = [];
  const original = console.error;
  console.error = (...a) => errors.push(a);
  try {
    const results = await Promise.all([1, 2, 3].map((i) => client.call('oa', 'GET', '/cgi-bin/user/info', { query: { openid: `o${i}` } })));
    assert.equal(results.length, 3);
  } finally {
    console.error = original;
  }
  assert.ok(errors.length >= 1);
  const ops = [];
  const store = { async execute(op) { ops.push(op.op); if (op.op === 'lock') return { locked: true }; if (op.op === 'incr_by') return { count: 1 }; return op.op === 'get' ? { value: null } : { ok: true }; } };
  const fleet = new Client({ ...CONFIG, fetch: fakePlatform().fetch, store, instance_id: 'p1' });
  await fleet.call('oa', 'GET', '/cgi-bin/user/info');
  assert.deepEqual(ops.slice(0, 3), ['get', 'lock', 'get']);
  assert.ok(ops.includes('set') && ops.includes('unlock'));
});

test('call() rejects instead of throwing for a body it cannot serialise', async () => {
  const client = new Client({ ...CONFIG, fetch: fakePlatform().fetch });
  const circular = {};
  circular.self = circular;
  const p = client.call('oa', 'POST', '/x', { json: circular });
  assert.ok(p instanceof Promise);
  await assert.rejects(p);
});

test('the Client draws fresh entropy even over a configured value (processes sharing a config never share IVs)', async () => {
  const v = JSON.parse(readFileSync(new URL('../../tests/vectors/crypto-official.json', import.meta.url))).api_security_request[0];
  const path = '/wxa/getuserriskrank';
  const cfg = {
    apps: [{ id: 'mp', platform: 'wechat-oa', app_id: v.appid, secret: 'S',
      api_security: { sym_key: v.sym_key, sym_sn: v.sym_sn, private_key: v.rsa_private_key_pem,
        platform_keys: { P: v.rsa_private_key_pem }, paths: [path] } }],
    entropy: Buffer.alloc(32, 1).toString('base64'), // as if in a shared config file
  };
  const sealedIv = async () => {
    let iv;
    const fetch = async (url, init) => {
      const json = (o) => new Response(JSON.stringify(o), { headers: { 'content-type': 'application/json' } });
      if (url.includes('stable_token')) return json({ access_token: 'T', expires_in: 7200 });
      iv = JSON.parse(String(init.body)).iv;
      return json({ errcode: 40234, errmsg: 'invalid signature' }); // unsigned platform error: typed
    };
    const client = new Client({ ...cfg, fetch, now: () => 1_700_000_000_000 });
    await assert.rejects(client.call('mp', 'POST', path, { json: { openid: 'o' } }), (e) => e.kind === 'signature_invalid' && e.code === 40234);
    return iv;
  };
  const [a, b] = [await sealedIv(), await sealedIv()];
  assert.equal(typeof a, 'string');
  assert.notEqual(a, b);
});

test('bodies each way, inside the frame and detached beside it (64 KiB and up), come through whole', async () => {
  const sizes = [0, 100, 65_535, 65_536, 2_500_000];
  const pattern = (n) => { const b = Buffer.alloc(n); for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff; return b; };
  let seen;
  const fetch = async (url, init) => {
    if (url.includes('stable_token')) return new Response(JSON.stringify({ access_token: 'T', expires_in: 7200 }), { headers: { 'content-type': 'application/json' } });
    seen = init.body;
    const n = Number(/[?&]n=(\d+)/.exec(url)[1]);
    return new Response(pattern(n), { headers: { 'content-type': 'application/octet-stream', 'x-size': String(n) } });
  };
  const client = new Client({ ...CONFIG, fetch });
  for (const up of sizes) {
    for (const down of sizes) {
      const r = await client.call('oa', 'POST', '/cgi-bin/media/upload', { query: { n: down }, body: pattern(up), contentType: 'application/octet-stream', full: true });
      assert.ok(Buffer.compare(r.data, pattern(down)) === 0, `reply of ${down} bytes after a body of ${up}`);
      assert.equal(new Map(r.headers).get('x-size'), String(down));
      assert.ok(Buffer.compare(Buffer.from(seen ?? []), pattern(up)) === 0, `body of ${up} bytes`);
    }
  }
});
