// A caller that gives up withdraws its call (AbortSignal → the engine's
// cancel), and a call's own timeoutMs bounds it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, WxError } from '../src/index.mjs';

const CONFIG = {
  apps: [{ id: 'oa', platform: 'wechat-oa', app_id: 'wxA', secret: 'SECRET' }],
  retry: { jitter: false, base_delay_ms: 1, max_delay_ms: 2 },
};
const json = (v) => new Response(JSON.stringify(v), { headers: { 'content-type': 'application/json' } });

/** A platform whose token endpoint answers only when released. */
function slowToken() {
  const seen = [];
  let release;
  const gate = new Promise((r) => { release = r; });
  const fetch = async (url) => {
    seen.push(url);
    if (url.includes('stable_token')) {
      await gate;
      return json({ access_token: 'T1', expires_in: 7200 });
    }
    return json({ url });
  };
  return { seen, fetch, release: () => release() };
}

test('an aborted call is withdrawn: cancelled at once, never sent; the token still serves the next', async () => {
  const p = slowToken();
  const client = new Client({ ...CONFIG, fetch: p.fetch });
  const ac = new AbortController();
  const first = client.call('oa', 'GET', '/cgi-bin/user/info', { query: { openid: 'first' }, signal: ac.signal });
  await new Promise((r) => setTimeout(r, 20));
  ac.abort();
  await assert.rejects(first, (e) => e instanceof WxError && e.kind === 'cancelled');
  p.release();
  const out = await client.call('oa', 'GET', '/cgi-bin/user/info', { query: { openid: 'second' } });
  assert.ok(out.url.endsWith('openid=second'));
  assert.deepEqual(p.seen.filter((u) => u.includes('/user/info')), [out.url]);
  assert.equal(p.seen.filter((u) => u.includes('stable_token')).length, 1);
});

test('a signal already aborted withdraws the call before anything is sent for it', async () => {
  const p = slowToken();
  const client = new Client({ ...CONFIG, fetch: p.fetch });
  await assert.rejects(
    client.call('oa', 'GET', '/cgi-bin/user/info', { signal: AbortSignal.abort() }),
    (e) => e.kind === 'cancelled',
  );
  p.release();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(p.seen.filter((u) => u.includes('/user/info')).length, 0);
});

test("a call's own timeoutMs ends it with kind timeout, naming the phase", async () => {
  const p = slowToken();
  const client = new Client({ ...CONFIG, fetch: p.fetch });
  const started = Date.now();
  await assert.rejects(
    client.call('oa', 'GET', '/cgi-bin/user/info', { timeoutMs: 100 }),
    (e) => e.kind === 'timeout' && e.code === 'token',
  );
  assert.ok(Date.now() - started < 2000);
  p.release();
});
