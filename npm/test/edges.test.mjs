// Issue 12, hardening at the edges: forged URL checks, plaintexts that are
// not one message, nested events (tests/vectors/callback-edges.json, shared
// with every language); and the driver over real loopback HTTP: no redirect
// followed, timers clamped to what setTimeout can wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CallbackCrypto, Client, WxError } from '../src/index.mjs';

const E = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'tests', 'vectors', 'callback-edges.json'), 'utf8'));
const R = E.receiver;
const receiver = (options) => new CallbackCrypto(R.token, R.encoding_aes_key, R.receive_id, options);
const refused = (f, check) => assert.throws(f, (e) => e instanceof WxError && check(e));

for (const f of E.forged_url_checks) {
  test(`forged URL check is refused: ${f.name}`, () => {
    const wecom = receiver({ urlCheck: 'msg_signature' });
    assert.equal(wecom.handleRequest('GET', E.observed_url_check.query).echo, E.observed_url_check.echo);
    const receivers = [wecom, ...(f.any_receiver ? [receiver(), receiver({ urlCheck: 'signature' })] : [])];
    for (const c of receivers) {
      refused(() => c.handleRequest('GET', f.query), (e) => e.kind === 'signature_invalid' && e.reason === 'bad_signature');
    }
    const q = f.query;
    const param = 'msg_signature' in q ? 'msg_signature' : 'signature';
    refused(() => wecom.verifyUrl(q[param], q.timestamp, q.nonce, q.echostr), (e) => e.reason === 'bad_signature');
    refused(() => receiver().verifyUrl(q[param], q.timestamp, q.nonce, q.echostr, undefined, { param: 'msg_signature' }),
      (e) => e.reason === 'bad_signature');
  });
}

test('the url check name is checked by the core', () => {
  refused(() => receiver({ urlCheck: 'sometimes' }), (e) => e.kind === 'config' && e.reason === 'invalid_url_check');
});

function post(c, plaintext) {
  const reply = c.encrypt(plaintext, '1700000000', 'n1', new Uint8Array(16).fill(5));
  const sig = reply.split('<MsgSignature><![CDATA[')[1].split(']]>')[0];
  return [{ msg_signature: sig, timestamp: '1700000000', nonce: 'n1' }, reply];
}

for (const plaintext of E.not_one_message) {
  test(`a plaintext that is not one message is malformed: ${plaintext}`, () => {
    const c = receiver();
    const [q, body] = post(c, plaintext);
    const malformed = (e) => e.kind === 'invalid_request' && e.reason === 'malformed_body';
    refused(() => c.decryptMessage(q.msg_signature, q.timestamp, q.nonce, body), malformed);
    refused(() => c.handleRequest('POST', q, body), malformed);
  });
}

for (const m of E.nested_messages) {
  test(`nested elements are kept: ${m.name}`, () => {
    const c = receiver();
    const [q, body] = post(c, m.plaintext);
    assert.deepEqual(c.decryptMessage(q.msg_signature, q.timestamp, q.nonce, body).fields, m.message);
    assert.deepEqual(c.handleRequest('POST', q, Buffer.from(body)).message.fields, m.message);
  });
}

test('scancode and location events carry their data', () => {
  const c = receiver();
  const byEvent = Object.fromEntries(E.nested_messages.map((m) => [m.message.Event, m]));
  let [q, body] = post(c, byEvent.scancode_waitmsg.plaintext);
  const scan = c.handleRequest('POST', q, body).message;
  assert.equal(scan.event, 'scancode_waitmsg');
  assert.deepEqual(scan.get('ScanCodeInfo'), { ScanType: 'qrcode', ScanResult: '2' });
  [q, body] = post(c, byEvent.location_select.plaintext);
  assert.equal(c.handleRequest('POST', q, body).message.get('SendLocationInfo').Label, ' 广州市海珠区客村艺苑路 106号');
});

test('a body that is not UTF-8 is refused by the core', () => {
  const c = receiver();
  const raw = Buffer.from(E.not_utf8_body, 'base64');
  refused(() => c.handleRequest('POST', { msg_signature: '0'.repeat(40), timestamp: '1', nonce: 'n' }, raw),
    (e) => e.reason === 'malformed_body');
});

// ---- the driver over loopback HTTP ----

async function server(handle) {
  const hits = [];
  const s = createServer((req, res) => { hits.push(req.url); handle(req, res); });
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${s.address().port}`, hits, close: () => new Promise((r) => { s.closeAllConnections?.(); s.close(r); }) };
}

const json = (res, obj, status = 200) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(obj)); };

const RESULT_APP = {
  id: 'res', platform: 'result', app_id: 'ACCOUNT', secret: 'TOKEN-ID-SECRET',
  token_placement: { in: 'header', name: 'token_id', extra: [['account_key', '{app_id}']] },
};

test('a 302 is an answer, never followed: the other origin receives nothing', async () => {
  const thief = await server((req, res) => json(res, { result: 0 }));
  const api = await server((req, res) => { res.writeHead(302, { location: `${thief.url}/stolen` }); res.end(); });
  try {
    const client = new Client({ apps: [{ ...RESULT_APP, base_url: api.url }], retry: { max_attempts: 1 } });
    await assert.rejects(client.call('res', 'GET', '/x'), (e) => e instanceof WxError && e.kind !== 'transport' && e.httpStatus === 302);
    assert.equal(api.hits.length, 1);
    assert.deepEqual(thief.hits, []);
  } finally {
    await api.close();
    await thief.close();
  }
});

test('a 30-day token and one slow call cause a handful of pumps, not hundreds', async () => {
  const api = await server((req, res) => {
    if (req.url.startsWith('/cgi-bin/gettoken')) return json(res, { errcode: 0, access_token: 'T30', expires_in: 30 * 86400 });
    setTimeout(() => json(res, { errcode: 0, errmsg: 'ok' }), 400);
  });
  const warnings = [];
  const onWarning = (w) => warnings.push(w.name);
  process.on('warning', onWarning);
  try {
    const client = new Client({ apps: [{ id: 'hr', platform: 'wecom', corp_id: 'ww', agent_id: '1', secret: 's', hosts: [api.url] }] });
    let pumps = 0;
    const pump = client._pump.bind(client);
    client._pump = () => { pumps += 1; pump(); };
    assert.deepEqual(await client.call('hr', 'GET', '/cgi-bin/user/get', { query: { userid: 'u' } }), { errcode: 0, errmsg: 'ok' });
    assert.ok(pumps < 10, `${pumps} pumps`);
    await new Promise((r) => setImmediate(r));
    assert.ok(!warnings.includes('TimeoutOverflowWarning'), warnings.join());
  } finally {
    process.off('warning', onWarning);
    await api.close();
  }
});
