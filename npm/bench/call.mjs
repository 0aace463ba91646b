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

async function client() {
  const fetch = async (url) => new Response(url.includes('stable_token') ? TOKEN : REPLY, { headers });
  const c = new Client({ ...CONFIG, fetch });
  for (let i = 0; i < 2000; i++) await c.call('oa', 'GET', '/cgi-bin/user/info', { query: { openid: 'o1' } });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await c.call('oa', 'GET', '/cgi-bin/user/info', { query: { openid: 'o1' } });
  return report('node Client.call (driver + canned fetch Response)', t0, N);
}

function engine() {
  const e = new Engine(CONFIG, 1);
  const body = Buffer.from(REPLY);
  const cycle = () => {
    e.submit({ app: 'oa', method: 'GET', path: '/cgi-bin/user/info', query: [['openid', 'o1']] }, undefined, 1);
    for (;;) {
      for (const o of e.poll(1).outputs) {
        if (o.send) e.handleResponse(o.send.id, 200, headers, o.send.url.includes('stable_token') ? Buffer.from(TOKEN) : body, 1);
        else if (o.done) return o.done.json;
      }
    }
  };
  for (let i = 0; i < 5000; i++) cycle();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) cycle();
  return report('node Engine cycle (submit, poll, handleResponse, poll; reply parsed)', t0, N);
}

await client();
engine();
