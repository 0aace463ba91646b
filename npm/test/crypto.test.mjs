// The published callback and JS-SDK values (tests/vectors/crypto-official.json), byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CallbackCrypto, WxError, jssdkSignature, jssdkConfig, apiSecuritySeal, apiSecurityOpen, apiSecuritySign, apiSecurityVerify,
} from '../src/index.mjs';

const V = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'tests', 'vectors', 'crypto-official.json'), 'utf8'));
const body = (e) => `<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[${e}]]></Encrypt></xml>`;
const sigOf = (xml) => xml.split('<MsgSignature><![CDATA[')[1].split(']]>')[0];

for (const v of V.callback) {
  test(`official callback: ${v.name}`, () => {
    const c = new CallbackCrypto(v.token, v.encoding_aes_key, v.receive_id);
    assert.equal(c.decrypt(v.msg_signature, v.timestamp, v.nonce, body(v.encrypt)), v.plaintext);
    assert.equal(c.decrypt(v.msg_signature, v.timestamp, v.nonce, Buffer.from(JSON.stringify({ encrypt: v.encrypt }))), v.plaintext);
    const m = c.decryptMessage(v.msg_signature, v.timestamp, v.nonce, body(v.encrypt));
    assert.ok(m.toUser && m.fromUser && m.createTime > 0);
  });
}

test('URL verification, both styles', () => {
  for (const v of V.url_verification_plain) {
    const c = new CallbackCrypto(v.token, 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', '');
    assert.equal(c.verifyUrl(v.signature, v.timestamp, v.nonce, v.echostr), v.echostr);
  }
  const w = V.callback[1];
  const u = w.verify_url;
  const c = new CallbackCrypto(w.token, w.encoding_aes_key, w.receive_id);
  assert.equal(c.verifyUrl(u.msg_signature, u.timestamp, u.nonce, u.echostr), u.reply);
  assert.throws(() => c.verifyUrl('0'.repeat(40), u.timestamp, u.nonce, u.echostr),
    (e) => e instanceof WxError && e.kind === 'signature_invalid' && e.reason === 'bad_signature');
});

test('JS-SDK signature and wx.config', () => {
  for (const v of V.jssdk) {
    assert.equal(jssdkSignature(v.jsapi_ticket, v.noncestr, v.timestamp, v.url), v.signature);
    assert.equal(jssdkSignature(v.jsapi_ticket, v.noncestr, Number(v.timestamp), `${v.url}#frag`), v.signature);
    assert.deepEqual(jssdkConfig('wxAPP', v.jsapi_ticket, v.url, v.noncestr, v.timestamp),
      { appId: 'wxAPP', timestamp: v.timestamp, nonceStr: v.noncestr, signature: v.signature });
  }
});

test('encrypt round trips; refusals carry kind and reason', () => {
  const v = V.callback[0];
  const c = new CallbackCrypto(v.token, v.encoding_aes_key, v.receive_id);
  for (const msg of ['', '你好 🌏', 'x'.repeat(1 << 20)]) {
    const xml = c.encrypt(msg, '1409735669', 'n1');
    assert.equal(c.decrypt(sigOf(xml), '1409735669', 'n1', xml), msg);
  }
  const xml = new CallbackCrypto(v.token, v.encoding_aes_key, 'wxOTHER').encrypt('hi', '1', 'n');
  assert.throws(() => c.decrypt(sigOf(xml), '1', 'n', xml), (e) => e.reason === 'receive_id_mismatch');
  const relaxed = new CallbackCrypto(v.token, v.encoding_aes_key, v.receive_id, { acceptReceiveIds: [v.receive_id, 'wxOTHER'] });
  assert.equal(relaxed.decrypt(sigOf(xml), '1', 'n', xml), 'hi');
  assert.throws(() => new CallbackCrypto('t', 'short', 'x'), (e) => e.kind === 'config' && e.reason === 'invalid_encoding_aes_key');
  const strict = new CallbackCrypto(v.token, v.encoding_aes_key, v.receive_id, { maxAgeS: 300 });
  assert.throws(() => strict.decrypt(v.msg_signature, v.timestamp, v.nonce, body(v.encrypt), Number(v.timestamp) + 301),
    (e) => e.reason === 'stale_timestamp');
});

test('API security: the published request, byte for byte', () => {
  for (const v of V.api_security_request) {
    const { url, appid, timestamp: ts, rsa_private_key_pem: pem } = v;
    const body = apiSecuritySeal(v.sym_key, v.sym_sn, appid, url, ts, Buffer.from(v.iv, 'base64'), v.plaintext);
    const sealed = JSON.parse(body);
    assert.deepEqual([sealed.iv, sealed.data, sealed.authtag], [v.iv, v.data, v.authtag]);
    assert.equal(apiSecurityVerify(pem, url, appid, ts, body, v.signature), true);
    assert.equal(apiSecurityVerify(pem, url, appid, ts + 1, body, v.signature), false);
    assert.equal(apiSecurityOpen(v.sym_key, v.sym_sn, appid, url, ts, body).toString('utf8'), v.plaintext);
    assert.equal(apiSecurityVerify(pem, url, appid, ts, body, apiSecuritySign(pem, url, appid, ts, body)), true);
    assert.throws(() => apiSecurityOpen(v.sym_key, v.sym_sn, appid, url, ts + 1, body),
      (e) => e instanceof WxError && e.kind === 'signature_invalid');
  }
});

test('handleRequest: URL checks, messages, and a reply back through the glue', () => {
  const p = V.url_verification_plain[0];
  const c = new CallbackCrypto(p.token, 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', 'wx');
  assert.deepEqual(c.handleRequest('GET', { signature: p.signature, timestamp: p.timestamp, nonce: p.nonce, echostr: p.echostr }), { echo: p.echostr });
  const w = V.callback[1];
  const u = w.verify_url;
  const wc = new CallbackCrypto(w.token, w.encoding_aes_key, w.receive_id);
  assert.equal(wc.handleRequest('GET', { msg_signature: [u.msg_signature], timestamp: u.timestamp, nonce: u.nonce, echostr: u.echostr }).echo, u.reply);
  const v = V.callback[0];
  const oc = new CallbackCrypto(v.token, v.encoding_aes_key, v.receive_id);
  const body = `<xml><ToUserName><![CDATA[gh]]></ToUserName><Encrypt><![CDATA[${v.encrypt}]]></Encrypt></xml>`;
  const r = oc.handleRequest('POST', { msg_signature: v.msg_signature, timestamp: v.timestamp, nonce: v.nonce }, Buffer.from(body));
  assert.equal(r.plaintext, v.plaintext);
  assert.equal(r.message.msgType, 'text');
  const reply = oc.reply('<xml><Content><![CDATA[收到]]></Content></xml>');
  const tag = (t) => reply.split(`<${t}>`)[1].split(`</${t}>`)[0].replace('<![CDATA[', '').replace(']]>', '');
  const back = oc.handleRequest('POST', { msg_signature: tag('MsgSignature'), timestamp: tag('TimeStamp'), nonce: tag('Nonce') }, reply);
  assert.equal(back.message.get('Content'), '收到');
  assert.throws(() => oc.handleRequest('POST', { timestamp: '1', nonce: '2' }, body),
    (e) => e instanceof WxError && e.kind === 'invalid_request' && e.reason === 'missing_param');
});

test('a peer implementation (@wecom/crypto, Tencent\'s own) accepts our reply, and we accept its message', async () => {
  const { decrypt, encrypt, getSignature } = (await import('@wecom/crypto')).default ?? (await import('@wecom/crypto'));
  const v = V.callback[1];
  const ours = new CallbackCrypto(v.token, v.encoding_aes_key, v.receive_id);
  const reply = ours.reply('<xml><Content><![CDATA[hello 你好]]></Content></xml>', 1714036504);
  const tag = (t) => reply.split(`<${t}>`)[1].split(`</${t}>`)[0].replace('<![CDATA[', '').replace(']]>', '');
  assert.equal(getSignature(v.token, tag('TimeStamp'), tag('Nonce'), tag('Encrypt')), tag('MsgSignature'));
  const opened = decrypt(v.encoding_aes_key, tag('Encrypt'));
  assert.equal(opened.id, v.receive_id);
  assert.match(opened.message, /hello 你好/);
  const enc = encrypt(v.encoding_aes_key, '<xml><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[enter_agent]]></Event></xml>', v.receive_id);
  const sig = getSignature(v.token, '1714036504', '777', enc);
  const body = `<xml><ToUserName><![CDATA[${v.receive_id}]]></ToUserName><Encrypt><![CDATA[${enc}]]></Encrypt></xml>`;
  assert.equal(ours.handleRequest('POST', { msg_signature: sig, timestamp: '1714036504', nonce: '777' }, body).message.event, 'enter_agent');
});
