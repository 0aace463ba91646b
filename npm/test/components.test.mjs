// Third-party platform (open-platform component), end to end: the simulator
// pushes encrypted component_verify_tickets over real HTTP to a callback URL
// this test serves with Client.handlePush; calls fetch the component token
// with the pushed ticket, pushes never fetch one, and nothing secret shows.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Client, WxError } from '../src/index.mjs';
import { startSimulator, count } from './sim.mjs';

const CB_TOKEN = 'cb-token-e2e';
const AES_KEY = 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C';
const SECRET = 'component-secret-e2e';
const PRE = '/cgi-bin/component/api_create_preauthcode';

let sim;
before(async () => { sim = await startSimulator(); });
after(async () => { await sim.close(); });

function newClient(appid) {
  return new Client({
    apps: [{
      id: 'cp', platform: 'wechat-component', app_id: appid, secret: SECRET,
      callback: { token: CB_TOKEN, encoding_aes_key: AES_KEY }, hosts: [sim.primary],
    }],
    timeout_ms: 3000,
  });
}

/** The component's authorization event URL, answering with client.handlePush's reply. */
async function pushEndpoint(client) {
  const pushes = [];
  const refused = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://x');
      try {
        const push = client.handlePush('cp', req.method, url.searchParams, Buffer.concat(chunks));
        pushes.push(push);
        res.writeHead(200, { 'content-type': 'text/plain' }).end(push.reply);
      } catch (e) {
        refused.push(e);
        res.writeHead(400).end();
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}/wechat/component`, pushes, refused, close: () => new Promise((r) => server.close(r)) };
}

async function waitFor(cond, ms = 10_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('timed out');
}

test('pushed tickets feed the component token; pushes never fetch one; nothing secret shows', async () => {
  const appid = `wxcp${randomUUID().slice(0, 10)}`;
  const client = newClient(appid);
  const events = [];
  client.on('event', (e) => events.push(e));
  const ep = await pushEndpoint(client);
  try {
    await sim.ask('/apps', { app_id: appid, secret: SECRET });
    await sim.ask('/component', { component_appid: appid, token: CB_TOKEN, encoding_aes_key: AES_KEY, url: ep.url, period_ms: 100 });
    await waitFor(() => ep.pushes.length >= 1);
    assert.equal(ep.pushes[0].infoType, 'component_verify_ticket');
    assert.equal(ep.pushes[0].ticketKept, true);

    const first = await client.call('cp', 'POST', PRE, { json: { component_appid: appid } });
    assert.equal(first.expires_in, 600);
    const seen = ep.pushes.length;
    await waitFor(() => ep.pushes.length >= seen + 5);
    for (let i = 0; i < 3; i++) await client.call('cp', 'POST', PRE, { json: { component_appid: appid } });
    const c = await sim.counters();
    assert.equal(count(c, 'token_fetches', appid), 1);
    assert.equal(count(c, 'calls', appid, PRE), 4);
    assert.deepEqual(ep.refused, []);
    const status = client.status().apps[0];
    assert.equal(status.pushed_ticket.usable, true);

    const text = JSON.stringify([events, client.status(), ep.pushes]) + client.metrics();
    assert.ok(events.some((e) => e.type === 'ticket_pushed'));
    for (const secret of [SECRET, CB_TOKEN, AES_KEY, 'ticket@@@', 'ct_']) assert.ok(!text.includes(secret), secret);
  } finally {
    await ep.close();
  }
});

test('without a ticket calls fail at once; a forged push is refused by name and changes nothing', async () => {
  const appid = `wxcp${randomUUID().slice(0, 10)}`;
  const client = newClient(appid);
  await assert.rejects(client.call('cp', 'POST', PRE, { json: { component_appid: appid } }),
    (e) => e instanceof WxError && e.kind === 'ticket_unavailable');
  const ep = await pushEndpoint(client);
  try {
    await sim.ask('/component', { component_appid: appid, token: 'not-our-token', encoding_aes_key: AES_KEY, url: ep.url, period_ms: 100 });
    await waitFor(() => ep.refused.length >= 2);
    assert.deepEqual([...new Set(ep.refused.map((e) => e.reason))], ['bad_signature']);
    assert.equal(ep.pushes.length, 0);
    await assert.rejects(client.call('cp', 'POST', PRE, { json: { component_appid: appid } }),
      (e) => e.kind === 'ticket_unavailable');
    assert.equal(count(await sim.counters(), 'token_fetches', appid), 0);
  } finally {
    await ep.close();
  }
});

test('authorizers: authorized by push, called for as cp/{appid} with their own token, revoked midway they fail fast', async () => {
  const appid = `wxcp${randomUUID().slice(0, 10)}`;
  const [a1, a2] = [`wxau${randomUUID().slice(0, 12)}`, `wxau${randomUUID().slice(0, 12)}`];
  const client = newClient(appid);
  const events = [];
  client.on('event', (e) => events.push(e));
  const ep = await pushEndpoint(client);
  const UI = '/cgi-bin/user/info';
  try {
    await sim.ask('/apps', { app_id: appid, secret: SECRET });
    await sim.ask('/component', { component_appid: appid, token: CB_TOKEN, encoding_aes_key: AES_KEY, url: ep.url, period_ms: 500 });
    await waitFor(() => ep.pushes.length >= 1);
    for (const a of [a1, a2]) {
      const r = await sim.ask('/component/authorize', { component_appid: appid, authorizer_appid: a });
      assert.equal(r.pushed, true);
    }
    assert.deepEqual(ep.pushes.filter((p) => p.infoType === 'authorized').map((p) => p.authorizer), [`cp/${a1}`, `cp/${a2}`]);
    for (const a of [a1, a2]) await client.call(`cp/${a}`, 'GET', UI, { query: { openid: 'o1' } });
    let c = await sim.counters();
    assert.equal(count(c, 'calls', a1, UI), 1);
    assert.equal(count(c, 'token_fetches', appid), 1);

    await sim.ask('/component/unauthorize', { component_appid: appid, authorizer_appid: a2 });
    await assert.rejects(client.call(`cp/${a2}`, 'GET', UI, { query: { openid: 'o1' } }),
      (e) => e instanceof WxError && e.kind === 'not_authorized' && e.code === 'revoked');
    await client.call(`cp/${a1}`, 'GET', UI, { query: { openid: 'o1' } });
    c = await sim.counters();
    assert.equal(count(c, 'calls', a2, UI), 1, 'nothing sent for the revoked one');
    assert.equal(count(c, 'calls', a1, UI), 2);
    const rows = Object.fromEntries(client.status().apps.map((r) => [r.app, r]));
    assert.equal(rows[`cp/${a2}`].authorizer.standing, 'revoked');
    assert.ok(events.some((e) => e.type === 'authorizer_changed' && e.app === `cp/${a2}` && e.standing === 'revoked'));

    const text = JSON.stringify([events, client.status(), ep.pushes]) + client.metrics();
    for (const secret of [SECRET, AES_KEY, 'authorizer_at_', 'refreshtoken@@@', 'queryauthcode@@@']) {
      assert.ok(!text.includes(secret), secret);
    }
  } finally {
    await ep.close();
  }
});

test('WeCom suite: create_auth brings a corp called for as st/{corpid}; a 代开发 corp uses gettoken; cancel_auth revokes', async () => {
  const suiteId = `wwst${randomUUID().slice(0, 10)}`;
  const [corp, dk] = [`wwc${randomUUID().slice(0, 12)}`, `wwd${randomUUID().slice(0, 12)}`];
  const client = new Client({
    apps: [{ id: 'st', platform: 'wecom-suite', app_id: suiteId, secret: SECRET,
      callback: { token: CB_TOKEN, encoding_aes_key: AES_KEY }, hosts: [sim.primary] }],
    timeout_ms: 3000,
  });
  const pushes = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        const p = client.handlePush('st', req.method, new URL(req.url, 'http://x').searchParams, Buffer.concat(chunks));
        pushes.push(p);
        res.writeHead(200).end(p.reply);
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    await sim.ask('/apps', { app_id: suiteId, secret: SECRET });
    await sim.ask('/suite', { suite_id: suiteId, token: CB_TOKEN, encoding_aes_key: AES_KEY,
      url: `http://127.0.0.1:${server.address().port}/suite`, period_ms: 500 });
    await waitFor(() => pushes.some((p) => p.infoType === 'suite_ticket'));
    await sim.ask('/suite/authorize', { suite_id: suiteId, corpid: corp });
    await sim.ask('/suite/authorize', { suite_id: suiteId, corpid: dk, customized: true });
    await waitFor(() => client.status().apps.filter((r) => r.authorizer).length === 2);
    for (const c of [corp, dk]) {
      const u = await client.call(`st/${c}`, 'GET', '/cgi-bin/user/get', { query: { userid: 'u1' } });
      assert.equal(u.userid, 'u1');
    }
    const counters = await sim.counters();
    assert.equal(count(counters, 'token_fetches', dk), 1, '代开发: gettoken with the permanent code');
    await sim.ask('/suite/unauthorize', { suite_id: suiteId, corpid: corp });
    await assert.rejects(client.call(`st/${corp}`, 'GET', '/cgi-bin/user/get', { query: { userid: 'u1' } }),
      (e) => e instanceof WxError && e.kind === 'not_authorized' && e.code === 'revoked');
    assert.match(client.metrics(), new RegExp(`wxcore_authorizer_active\\{app="st/${corp}",standing="revoked"\\} 0`));
    const text = JSON.stringify([client.status(), pushes]) + client.metrics();
    for (const secret of [SECRET, AES_KEY, 'permanentcode@@@', 'corp_at_', 'suiteauthcode@@@']) {
      assert.ok(!text.includes(secret), secret);
    }
  } finally {
    await new Promise((r) => server.close(r));
  }
});
