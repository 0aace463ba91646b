// Per-call overhead of the Node binding with an in-process transport (no
// network): the Client driver over a canned fetch, and the bare engine cycle.
//   node npm/bench/call.mjs
import { Client, Engine } from '../src/index.mjs';

const N = Number(process.env.N || 5000);
const ROUNDS = 7;
const REPLY = JSON.stringify({ subscribe: 1, openid: 'o6_bmjrPTlm6_2sgVt7hMZOPfL2M', nickname: 'Band', sex: 1, language: 'zh_CN',
  city: 'Guangzhou', province: 'Guangdong', country: 'China', headimgurl: 'http://thirdwx.qlogo.cn/mmopen/x/0', tagid_list: [128, 2],
  remark: '', subscribe_scene: 'ADD_SCENE_QR_CODE', pad: 'x'.repeat(600) });
const CONFIG = { apps: [{ id: 'oa', platform: 'wechat-oa', app_id: 'wx123', secret: 's' }], quota: { mode: 'off' } };
const TOKEN = JSON.stringify({ access_token: 'TOKEN', expires_in: 7200 });
const headers = { 'content-type': 'application/json' };

// Median of ROUNDS rounds of N calls each (this VM's timings are noisy).
async function measure(name, oneCall) {
  for (let i = 0; i < 2000; i++) await oneCall();
  const perCall = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) await oneCall();
    perCall.push(Number(process.hrtime.bigint() - t0) / 1000 / N);
  }
  perCall.sort((a, b) => a - b);
  const med = perCall[ROUNDS >> 1];
  console.log(`${name}: median ${med.toFixed(2)} µs per call (min ${perCall[0].toFixed(2)}, max ${perCall[ROUNDS - 1].toFixed(2)}; ${ROUNDS} x ${N} calls)`);
  return med;
}

async function client(name, fetch) {
  const c = new Client({ ...CONFIG, fetch });
  return measure(name, () => c.call('oa', 'GET', '/cgi-bin/user/info', { query: { openid: 'o1' } }));
}

// A real undici Response per call: includes the cost of building one.
const responseFetch = async (url) => new Response(url.includes('stable_token') ? TOKEN : REPLY, { headers });
// The smallest object fetch's contract needs: the driver's own overhead.
const tokenBytes = new TextEncoder().encode(TOKEN);
const replyBytes = new TextEncoder().encode(REPLY);
const minimalFetch = async (url) => {
  const bytes = url.includes('stable_token') ? tokenBytes : replyBytes;
  return { status: 200, headers: new Map(Object.entries(headers)), arrayBuffer: async () => bytes };
};

async function engine() {
  const e = new Engine(CONFIG, 1);
  const body = Buffer.from(REPLY);
  const spec = JSON.stringify({ app: 'oa', method: 'GET', path: '/cgi-bin/user/info', query: [['openid', 'o1']] });
  const cycle = () => {
    let outputs = e.submitPoll(spec, undefined, 1).outputs;
    for (;;) {
      const next = [];
      for (const o of outputs) {
        if (o.send) next.push(...e.respondPoll(o.send.id, 200, headers, o.send.url.includes('stable_token') ? Buffer.from(TOKEN) : body, 1).outputs);
        else if (o.done) return o.done.json;
      }
      outputs = next;
    }
  };
  return measure('node Engine cycle (submitPoll, respondPoll; reply parsed)', cycle);
}

// The same call through co-wechat-api (PEER_DIR: where it is installed), its
// HTTP layer (the httpx module) stubbed with canned answers.
async function coWechatApi() {
  const { createRequire } = await import('node:module');
  const req = createRequire(`${process.env.PEER_DIR}/`);
  const httpx = req('httpx');
  const API = req('co-wechat-api');
  const buf = Buffer.from(REPLY);
  httpx.request = async () => ({ statusCode: 200, headers: { 'content-type': 'application/json' } });
  httpx.read = async () => buf;
  const api = new API('wx123', 's', async () => ({ accessToken: 'TOKEN', expireTime: Date.now() + 7_000_000 }), async () => {});
  return measure('co-wechat-api getUser (httpx stubbed)', () => api.getUser('o1'));
}

await client('node Client.call (driver + canned fetch Response)', responseFetch);
const ours = await client('node Client.call (driver + minimal fetch stub)', minimalFetch);
await engine();
if (process.env.PEER_DIR) {
  const peer = await coWechatApi();
  console.log(`ratio: co-wechat-api / wxcore Client.call (minimal stub) = ${(peer / ours).toFixed(2)}`);
} else {
  console.log('co-wechat-api: set PEER_DIR to where it is installed (make bench-bindings does)');
}
