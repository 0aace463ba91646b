// Monitoring from Node: the status snapshot and the metrics through the real
// Client against the simulator, and every place an event is logged
// (debuglog, the diagnostics channel, a logger). Each test searches what it
// captured for the tokens the platform issued and the app's secret.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { Client, transportKind } from '../src/index.mjs';
import { startSimulator } from './sim.mjs';

const UI = '/cgi-bin/user/info';
let sim;
let n = 0;
const newAppId = () => `wxmon${++n}${randomBytes(3).toString('hex')}`;
const newSecret = () => `sec-${randomBytes(8).toString('hex')}`;

before(async () => { sim = await startSimulator(); });
after(async () => { await sim.close(); });
beforeEach(async () => { await sim.reset(); });

/** Global fetch, recording every token and ticket the platform hands out. */
function recordingFetch(issued) {
  return async (url, init) => {
    const res = await fetch(url, init);
    if (/token|ticket/.test(new URL(url).pathname)) {
      const body = await res.clone().json().catch(() => ({}));
      for (const k of ['access_token', 'ticket']) if (typeof body[k] === 'string') issued.push(body[k]);
    }
    return res;
  };
}

function client(appId, secret, issued, extra = {}) {
  return new Client({
    apps: [{ id: 'oa', platform: 'wechat-oa', app_id: appId, secret, hosts: [sim.primary, sim.dr], quota: { limits: { [UI]: 10 } } }],
    retry: { jitter: false, base_delay_ms: 10, max_delay_ms: 50 },
    failover: { threshold: 1, cooldown_ms: 60000 },
    timeout_ms: 3000,
    fetch: recordingFetch(issued),
    ...extra,
  });
}

/** The metrics text as samples: series (as written) to value text. */
function samples(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), line.slice(cut + 1));
  }
  return out;
}

function assertNoSecret(text, secrets, where) {
  assert.ok(secrets.length > 0);
  for (const s of secrets) assert.ok(!text.includes(s), `${where} holds a secret or token`);
}

test('status and metrics after calls through the simulator, then with the primary down', async () => {
  const [app, secret, issued] = [newAppId(), newSecret(), []];
  const c = client(app, secret, issued);
  for (let i = 0; i < 3; i++) await c.call('oa', 'GET', UI, { query: { openid: `o${i}` } });
  assert.equal(issued.length, 1);

  const s = c.status();
  assert.equal(s.version, 1);
  assert.ok(Math.abs(s.now_ms - Date.now()) < 5000);
  assert.equal(s.apps.length, 1);
  const a = s.apps[0];
  assert.equal(a.app, 'oa');
  assert.equal(a.platform, 'wechat-oa');
  assert.equal(a.credential, 'secret');
  assert.match(a.token.id, /^[0-9a-f]{16}$/);
  assert.ok(!issued[0].includes(a.token.id), 'the token id is not a piece of the token');
  assert.ok(a.token.expires_at_ms > s.now_ms && a.token.remaining_ms === a.token.expires_at_ms - s.now_ms);
  assert.deepEqual(a.last_refresh && { ...a.last_refresh, at_ms: 0 }, { at_ms: 0, trigger: 'initial', result: 'ok', code: null });
  assert.deepEqual([a.refreshes, a.fetching, a.queued, a.in_flight, a.waiting_for_token, a.blocked_until_ms], [1, false, 0, 0, 0, null]);
  assert.deepEqual(s.hosts, [
    { host: sim.primary, state: 'closed', until_ms: null, failures: 0 },
    { host: sim.dr, state: 'closed', until_ms: null, failures: 0 },
  ]);
  const q = s.quotas.find((r) => r.api === UI);
  assert.deepEqual({ ...q, resets_at_ms: 0 }, { app: 'oa', api: UI, used: 3, limit: 10, percent: 30, exhausted: false, resets_at_ms: 0 });
  assert.ok(q.resets_at_ms > s.now_ms);
  assert.deepEqual(s.alerts, []);

  let text = c.metrics();
  assert.match(text, /^# HELP wxcore_upstream_requests_total /m);
  assert.match(text, /^# TYPE wxcore_upstream_requests_total counter$/m);
  assert.match(text, /^# TYPE wxcore_upstream_request_duration_seconds histogram$/m);
  let m = samples(text);
  assert.equal(m.get(`wxcore_upstream_requests_total{app="oa",api="${UI}",outcome="ok"}`), '3');
  assert.equal(m.get(`wxcore_upstream_request_duration_seconds_count{app="oa",api="${UI}"}`), '3');
  assert.equal(m.get('wxcore_token_refreshes_total{app="oa",trigger="initial",result="ok"}'), '1');
  assert.equal(Number(m.get('wxcore_token_expiry_timestamp_seconds{app="oa"}')), a.token.expires_at_ms / 1000);
  assert.equal(m.get(`wxcore_quota_used{app="oa",api="${UI}"}`), '3');
  assert.equal(m.get(`wxcore_quota_limit{app="oa",api="${UI}"}`), '10');
  assert.equal(m.get(`wxcore_circuit_open{host="${sim.primary}"}`), '0');
  assert.equal(m.get('wxcore_in_flight_calls{app="oa"}'), '0');

  await sim.fault({ kind: 'host', host: 'primary', mode: 'down' });
  try {
    assert.equal((await c.call('oa', 'GET', UI, { query: { openid: 'o9' } })).openid, 'o9'); // served by dr
    const down = c.status();
    const primary = down.hosts.find((h) => h.host === sim.primary);
    assert.equal(primary.state, 'open');
    assert.ok(primary.until_ms > down.now_ms);
    const alert = down.alerts.find((x) => x.category === 'connect_failure');
    assert.ok(alert, `no connect_failure alert in ${JSON.stringify(down.alerts)}`);
    assert.equal(alert.app, 'oa');
    assert.equal(alert.open, true);
    assert.equal(alert.count_window, 1);
    assert.equal(alert.sample.host, sim.primary);
    assert.equal(alert.sample.api, UI);
    text = c.metrics();
    m = samples(text);
    assert.equal(m.get(`wxcore_circuit_open{host="${sim.primary}"}`), '1');
    assert.equal(m.get('wxcore_alerts_total{app="oa",category="connect_failure"}'), '1');
    assert.equal(m.get(`wxcore_upstream_requests_total{app="oa",api="${UI}",outcome="connect_failure"}`), '1');
    assertNoSecret(JSON.stringify(down) + text, [secret, ...issued], 'status or metrics');
  } finally {
    await sim.fault({ kind: 'host', host: 'primary', mode: 'up' });
  }
  assertNoSecret(JSON.stringify(s), [secret, ...issued], 'the status');
});

test('a logger gets each event at the level the core gave it; so does the diagnostics channel', async () => {
  const [app, secret, issued] = [newAppId(), newSecret(), []];
  const logged = [];
  const logger = Object.fromEntries(['debug', 'info', 'warn', 'error'].map((level) => [level, function (fields, message) {
    assert.equal(this, logger, 'called as a method, so a pino or console logger keeps its `this`');
    logged.push({ level, fields, message });
  }]));
  const published = [];
  const onPublish = (event) => published.push(event);
  diagnostics.subscribe('wxcore:event', onPublish);
  const events = [];
  try {
    const c = client(app, secret, issued, { logger });
    c.on('event', (e) => events.push(e));
    await c.call('oa', 'GET', UI, { query: { openid: 'o1' } }); // token_fetched: info
    await sim.fault({ kind: 'errcode', code: -1, count: 1, path: UI });
    await c.call('oa', 'GET', UI, { query: { openid: 'o2' } }); // retry_scheduled: debug
    await sim.fault({ kind: 'host', host: 'primary', mode: 'down' });
    try {
      await c.call('oa', 'GET', UI, { query: { openid: 'o3' } }); // failover, circuit_opened: warn
    } finally {
      await sim.fault({ kind: 'host', host: 'primary', mode: 'up' });
    }
    // A registered app asked with a wrong secret: token_fetch_failed, error.
    const other = newAppId();
    await fetch(`${sim.control}/apps`, { method: 'POST', body: JSON.stringify({ app_id: other, secret: newSecret() }) });
    const wrong = client(other, secret, issued, { logger });
    wrong.on('event', (e) => events.push(e));
    await assert.rejects(wrong.call('oa', 'GET', UI), (e) => e.kind === 'credential_invalid');
  } finally {
    diagnostics.unsubscribe('wxcore:event', onPublish);
  }
  const types = events.map((e) => e.type);
  for (const t of ['token_fetched', 'retry_scheduled', 'failover', 'circuit_opened', 'token_fetch_failed']) assert.ok(types.includes(t), `${t} in ${types}`);
  assert.deepEqual(published, events);
  assert.equal(logged.length, events.length);
  logged.forEach(({ level, fields, message }, i) => {
    const e = events[i];
    assert.equal(level, e.level);
    assert.equal(fields.event, e);
    assert.ok(message.startsWith(`${e.type} `), message);
    if (e.app) assert.ok(message.includes(` app=${e.app}`), message);
  });
  const levelOf = (t) => logged.find((l) => l.fields.event.type === t).level;
  assert.equal(levelOf('retry_scheduled'), 'debug');
  assert.equal(levelOf('token_fetched'), 'info');
  assert.equal(levelOf('circuit_opened'), 'warn');
  assert.equal(levelOf('token_fetch_failed'), 'error');
  const fetched = logged.find((l) => l.fields.event.type === 'token_fetched').message;
  assert.match(fetched, /^token_fetched app=oa .*expires_at_ms=\d+ .*source=http/);
  assertNoSecret(JSON.stringify(logged), [secret, ...issued], 'the logger\'s input');
});

// A child process: NODE_DEBUG is read when the process starts.
function runChild(env) {
  const code = `
    import { Client } from ${JSON.stringify(new URL('../src/index.mjs', import.meta.url).href)};
    const issued = [];
    const c = new Client({
      apps: [{ id: 'oa', platform: 'wechat-oa', app_id: process.env.APP, secret: process.env.SECRET, hosts: [process.env.PRIMARY] }],
      fetch: async (url, init) => {
        const res = await fetch(url, init);
        if (new URL(url).pathname.includes('token')) issued.push((await res.clone().json()).access_token);
        return res;
      },
    });
    const events = [];
    c.on('event', (e) => events.push(e));
    await c.call('oa', 'GET', '/cgi-bin/user/info', { query: { openid: 'o1' } });
    await fetch(process.env.CONTROL + '/fault', { method: 'POST', body: JSON.stringify({ kind: 'invalidate', app: process.env.APP }) });
    await c.call('oa', 'GET', '/cgi-bin/user/info', { query: { openid: 'o2' } });
    process.stdout.write(JSON.stringify({ issued, events }));
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.once('error', reject);
    child.once('exit', (status) => (status === 0 ? resolve({ ...JSON.parse(out), stderr: err }) : reject(new Error(`child exited ${status}: ${err}`))));
  });
}

test('NODE_DEBUG=wxcore prints each event, with its level, and no token or secret', async () => {
  const secret = newSecret();
  const base = { APP: newAppId(), SECRET: secret, PRIMARY: sim.primary, CONTROL: sim.control, NODE_DEBUG: '' };
  const on = await runChild({ ...base, NODE_DEBUG: 'wxcore' });
  assert.equal(on.issued.length, 2);
  assert.deepEqual(on.events.map((e) => e.type), ['token_fetched', 'token_invalidated', 'token_fetched']);
  const lines = on.stderr.split('\n').filter((l) => l.startsWith('WXCORE '));
  assert.equal(lines.length, on.events.length, on.stderr);
  lines.forEach((line, i) => {
    const e = on.events[i];
    assert.match(line, new RegExp(`^WXCORE \\d+: ${e.level} ${e.type} app=oa `));
  });
  assert.match(lines[1], /^WXCORE \d+: warn token_invalidated app=oa code=40001$/);
  assertNoSecret(on.stderr, [secret, ...on.issued], 'the debug log');

  const off = await runChild({ ...base, APP: newAppId() });
  assert.equal(off.events.length, 3);
  assert.equal(off.stderr, '', 'nothing printed without NODE_DEBUG');
});

test('transport kinds: undici connect timeouts are connect_timeout, a resolver\'s EAI_AGAIN stays dns', () => {
  const failed = (cause) => Object.assign(new TypeError('fetch failed'), { cause });
  const sys = (code, syscall) => Object.assign(new Error(code), { code, syscall });
  assert.equal(transportKind(failed(sys('UND_ERR_CONNECT_TIMEOUT'))), 'connect_timeout');
  assert.equal(transportKind(failed(sys('ETIMEDOUT', 'connect'))), 'connect_timeout');
  assert.equal(transportKind(failed(sys('ETIMEDOUT', 'read'))), 'timeout');
  assert.equal(transportKind(failed(sys('UND_ERR_HEADERS_TIMEOUT'))), 'timeout');
  assert.equal(transportKind(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), 'timeout');
  assert.equal(transportKind(failed(sys('EAI_AGAIN', 'getaddrinfo'))), 'dns');
  assert.equal(transportKind(failed(sys('ENOTFOUND', 'getaddrinfo'))), 'dns');
  assert.equal(transportKind(failed(sys('ECONNREFUSED', 'connect'))), 'connect');
  assert.equal(transportKind(failed(sys('UND_ERR_SOCKET'))), 'reset');
});

test('a connect timeout reaches the engine as one: its own alert category, resent to the next host', async () => {
  const sent = [];
  const c = new Client({
    apps: [{ id: 'oa', platform: 'wechat-oa', app_id: 'wxA', secret: 'S', hosts: ['https://a.example', 'https://b.example'] }],
    retry: { jitter: false, base_delay_ms: 1, max_delay_ms: 2 },
    failover: { threshold: 5 },
    fetch: async (url) => {
      sent.push(new URL(url).origin);
      if (url.startsWith('https://a.example/cgi-bin/user')) {
        throw Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' }) });
      }
      const body = new URL(url).pathname.includes('token') ? { access_token: 'T', expires_in: 7200 } : { ok: 1 };
      return new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });
    },
  });
  // A POST that is not idempotent: resent only because the request provably never left.
  assert.deepEqual(await c.call('oa', 'POST', '/cgi-bin/user/info', { json: {} }), { ok: 1 });
  assert.deepEqual(sent.slice(1), ['https://a.example', 'https://b.example']);
  const alert = c.status().alerts.find((x) => x.category === 'connect_timeout');
  assert.ok(alert, JSON.stringify(c.status().alerts));
  assert.equal(alert.sample.host, 'https://a.example');
  assert.equal(samples(c.metrics()).get('wxcore_alerts_total{app="oa",category="connect_timeout"}'), '1');
});
