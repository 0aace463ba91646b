// Callback verify + decrypt of a 1 KB message: wxcore against @wecom/crypto
// (Tencent's own), side by side. PEER_DIR: where @wecom/crypto is installed.
//   PEER_DIR=… node npm/bench/callback.mjs
import { CallbackCrypto } from '../src/index.mjs';

const N = Number(process.env.N || 5000);
const ROUNDS = 7;
const [TOKEN, KEY, CORP] = ['spamtest', 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', 'wx2c2769f8efd9abc2'];
const [TS, NONCE] = ['1409735669', '1320562132'];
const MSG = `<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${'x'.repeat(900)}]]></Content></xml>`;

function measure(name, one) {
  for (let i = 0; i < 1000; i++) one();
  const per = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) one();
    per.push(Number(process.hrtime.bigint() - t0) / 1000 / N);
  }
  per.sort((a, b) => a - b);
  console.log(`${name}: median ${per[ROUNDS >> 1].toFixed(2)} µs (min ${per[0].toFixed(2)}, max ${per[ROUNDS - 1].toFixed(2)}; ${ROUNDS} x ${N})`);
  return per[ROUNDS >> 1];
}

const crypto = new CallbackCrypto(TOKEN, KEY, CORP);
const xml = crypto.encrypt(MSG, TS, NONCE);
const sig = xml.split('<MsgSignature><![CDATA[')[1].split(']]>')[0];
const encrypt = xml.split('<Encrypt><![CDATA[')[1].split(']]>')[0];
if (crypto.decrypt(sig, TS, NONCE, xml) !== MSG) throw new Error('round trip');
const ours = measure('wxcore CallbackCrypto.decrypt (verify + decrypt from the XML body, 1 KB)', () => crypto.decrypt(sig, TS, NONCE, xml));
if (process.env.PEER_DIR) {
  const { createRequire } = await import('node:module');
  const wecom = createRequire(`${process.env.PEER_DIR}/`)('@wecom/crypto');
  const peer = () => {
    // @wecom/crypto leaves the XML to the caller: it gets the Encrypt value ready-made.
    if (wecom.getSignature(TOKEN, TS, NONCE, encrypt) !== sig) throw new Error('signature');
    return wecom.decrypt(KEY, encrypt).message;
  };
  if (peer() !== MSG) throw new Error('peer round trip');
  const theirs = measure('@wecom/crypto getSignature + decrypt (1 KB, Encrypt pre-extracted)', peer);
  console.log(`ratio: wxcore throughput is ${(theirs / ours).toFixed(2)}x @wecom/crypto's`);
} else {
  console.log('@wecom/crypto: set PEER_DIR to where it is installed (make bench-bindings does)');
}
