// Component ticket intake per push: Engine.handlePush (verify, decrypt,
// check the AppId, keep the newer ticket) and the poll after it, beside
// @wecom/crypto's verify + decrypt of the same payload (the crypto alone:
// no SDK checks the AppId or orders tickets). PEER_DIR: where @wecom/crypto is installed.
//   PEER_DIR=… node npm/bench/push.mjs
import { CallbackCrypto, Engine } from '../src/index.mjs';

const N = Number(process.env.N || 3000);
const ROUNDS = 7;
const [TOKEN, KEY, APPID] = ['QDG6eK', 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C', 'wx5823bf96d3bd56c7'];

function measure(name, prepare, one) {
  const per = [];
  for (let r = 0; r <= ROUNDS; r++) {
    const inputs = prepare(N);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) one(inputs[i]);
    if (r > 0) per.push(Number(process.hrtime.bigint() - t0) / 1000 / N); // round 0 warms up
  }
  per.sort((a, b) => a - b);
  console.log(`${name}: median ${per[ROUNDS >> 1].toFixed(2)} µs (min ${per[0].toFixed(2)}, max ${per[ROUNDS - 1].toFixed(2)}; ${ROUNDS} x ${N})`);
  return per[ROUNDS >> 1];
}

const crypto = new CallbackCrypto(TOKEN, KEY, APPID);
let created = 1_700_000_000;
/** `n` pushes, each newer than the last, sealed ahead of the timing. */
function pushes(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    created++;
    const ts = String(created);
    const xml = crypto.encrypt(`<xml><AppId><![CDATA[${APPID}]]></AppId><CreateTime>${created}</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[ticket@@@${created}]]></ComponentVerifyTicket></xml>`, ts, '1320562132');
    const sig = xml.split('<MsgSignature><![CDATA[')[1].split(']]>')[0];
    const encrypt = xml.split('<Encrypt><![CDATA[')[1].split(']]>')[0];
    out.push({
      query: { timestamp: ts, nonce: '1320562132', encrypt_type: 'aes', msg_signature: sig },
      body: Buffer.from(`<xml><AppId><![CDATA[${APPID}]]></AppId><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`),
      ts, sig, encrypt,
    });
  }
  return out;
}

const engine = new Engine({ apps: [{ id: 'cp', platform: 'wechat-component', app_id: APPID, secret: 'S', callback: { token: TOKEN, encoding_aes_key: KEY } }] });
let now = Date.now();
const ours = measure('wxcore Engine.handlePush + poll (component_verify_ticket)', pushes, (p) => {
  now++;
  if (engine.handlePush('cp', 'POST', p.query, p.body, now).ticket_kept !== true) throw new Error('not kept');
  engine.poll(now);
});
if (process.env.PEER_DIR) {
  const { createRequire } = await import('node:module');
  const wecom = createRequire(`${process.env.PEER_DIR}/`)('@wecom/crypto');
  const theirs = measure('@wecom/crypto getSignature + decrypt (Encrypt pre-extracted; no AppId or order check)', pushes, (p) => {
    if (wecom.getSignature(TOKEN, p.ts, '1320562132', p.encrypt) !== p.sig) throw new Error('signature');
    if (!wecom.decrypt(KEY, p.encrypt).message.includes('ticket@@@')) throw new Error('decrypt');
  });
  console.log(`ratio: wxcore throughput is ${(theirs / ours).toFixed(2)}x @wecom/crypto's`);
} else {
  console.log('@wecom/crypto: set PEER_DIR to where it is installed (make bench-bindings does)');
}
