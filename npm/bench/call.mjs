// Per-call overhead of the Node binding with an in-process transport (no
// network): the Client driver over a canned fetch, and the bare engine cycle.
//   node npm/bench/call.mjs
import { Client, Engine } from '../src/index.mjs';

const N = Number(process.env.N || 20000);
const REPLY = JSON.stringify({ subscribe: 1, openid: 'o6_bmjrPTlm6_2sgVt7hMZOPfL2M', nickname: 'Band', sex: 1, language: 'zh_CN',
  city: 'Guangzhou', province: 'Guangdong', country: 'China', headimgurl: 'http://thirdwx.qlogo.cn/mmopen/x/0', tagid_list: [128, 2],
  remark: '', subscribe_scene: 'ADD_SCENE_QR_CODE', pad: 'x'.repeat(600) });
const CONFIG = { apps: [{ id: 'oa', platform: 'wechat-oa', app_id: 'wx123', secret: 's' }], quota: { mode: 'off' } };
const TOKEN = JSON.stringify({ access_token: 'TOKEN', expires_in: 7200 });
const headers = { 'content-type': 'application/json' };

function report(name, t0, n) {
  const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
  console.log(`${name}: ${us.toFixed(2)} µs per call (${n} calls)`);
  return us;
}

async function client(name, fetch) {
  const c = new Client({ ...CONFIG, fetch });
  for (let i = 0; i < 2000; i++) await c.call('oa', 'GET', '/cgi-bin/user/info', { query: { openid: 'o1' } });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await c.call('oa', 'GET', '/cgi-bin/user/info', { query: { openid: 'o1' } });
  return report(name, t0, N);
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

function engine() {
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
  for (let i = 0; i < 5000; i++) cycle();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) cycle();
  return report('node Engine cycle (submitPoll, respondPoll; reply parsed)', t0, N);
}

await client('node Client.call (driver + canned fetch Response)', responseFetch);
await client('node Client.call (driver + minimal fetch stub)', minimalFetch);
engine();
