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
