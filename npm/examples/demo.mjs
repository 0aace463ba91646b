// A working day of a Node backend, against the local simulator (`make demo`).
// Every decision you see (when to fetch a token, when to retry, where to
// fail over, when to refuse) is the wxcore engine's; this file only calls.
import { Client, WxError, CallbackCrypto } from '../src/index.mjs';
import { readFileSync } from 'node:fs';

const sim = JSON.parse(process.env.WXSIM_ADDRS || '{}');
if (!sim.primary) {
  console.error('WXSIM_ADDRS is not set: run `make demo`, which starts the simulator');
  process.exit(2);
}
const APP = 'wx_demo_node';
const control = async (path, body) => (await fetch(sim.control + path, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
})).json();

const t0 = Date.now();
const say = (text) => console.log(`  [node +${String(Date.now() - t0).padStart(5)} ms] ${text}`);
const short = (s) => `${s.slice(0, 24)}…`;

const client = new Client({
  apps: [{
    id: 'oa', platform: 'wechat-oa', app_id: APP, secret: 'demo-secret', hosts: [sim.primary, sim.dr],
    quota: { limits: { '/cgi-bin/user/get': 10 } },
  }],
  failover: { threshold: 1, cooldown_ms: 1000 },
  retry: { base_delay_ms: 50 },
});
client.on('event', (e) => {
  switch (e.type) {
    case 'ticket_fetched': say(`event: ${e.kind} ticket fetched from ${e.source} (cached for the next pages)`); break;
    case 'token_fetched': say(`event: token fetched from ${e.source}, expires in ${Math.round((e.expires_at_ms - Date.now()) / 1000)} s`); break;
    case 'token_invalidated': say(`event: the platform rejected our token (${e.code}); dropped it`); break;
    case 'failover': say(`event: failover ${e.from} → ${e.to}`); break;
    case 'circuit_opened': say(`event: circuit open for ${e.host} until +${e.until_ms - t0} ms`); break;
    case 'circuit_closed': say(`event: ${e.host} answered again; circuit closed`); break;
    case 'quota_warning': say(`event: quota warning: ${e.path} ${e.used}/${e.limit} (${e.percent}%)`); break;
    case 'quota_exhausted': say(`event: ${e.path} exhausted until the next 00:00 Asia/Shanghai`); break;
    case 'retry_scheduled': say(`event: retry #${e.attempt} in ${e.delay_ms} ms (${e.reason})`); break;
    default: say(`event: ${e.type}`);
  }
});

console.log('\n=== Node backend (npm package `wxcore`, engine in wasm) ===');
say('morning: five users looked up at once: one token fetch serves them all');
const users = await Promise.all(['o1', 'o2', 'o3', 'o4', 'o5'].map((openid) => client.call('oa', 'GET', '/cgi-bin/user/info', { query: { openid } })));
say(`got ${users.map((u) => u.nickname).join(', ')}`);

say('a customer-service message (POST, not idempotent)');
await client.call('oa', 'POST', '/cgi-bin/message/custom/send', { json: { touser: 'o1', msgtype: 'text', text: { content: '早上好' } } });
say('sent');

say('a JS-SDK page: ticket fetched with the token, wx.config signed in the core');
const cfg = await client.jssdkConfig('oa', 'https://shop.example.com/page?id=1#top');
say(`wx.config({appId: ${cfg.appId}, timestamp: ${cfg.timestamp}, nonceStr: ${cfg.nonceStr}, signature: ${short(cfg.signature)}})`);

say('noon: the platform invalidates our token early (another system refreshed it)');
await control('/fault', { kind: 'invalidate', app: APP });
const u = await client.call('oa', 'GET', '/cgi-bin/user/info', { query: { openid: 'o6' } });
say(`the caller never saw it: got ${u.nickname}`);

say('afternoon: api.weixin.qq.com goes down');
await control('/fault', { kind: 'host', host: 'primary', mode: 'down' });
await client.call('oa', 'GET', '/cgi-bin/user/info', { query: { openid: 'o7' } });
say('served by the disaster-recovery host');
await control('/fault', { kind: 'host', host: 'primary', mode: 'up' });
say('primary back; waiting out the 1 s cool-down');
await new Promise((r) => setTimeout(r, 1100));
await client.call('oa', 'GET', '/cgi-bin/user/info', { query: { openid: 'o8' } });
say('served by the primary again');

say('a system-busy burst (-1 twice): GET retried with backoff');
await control('/fault', { kind: 'errcode', code: -1, count: 2, path: '/cgi-bin/user/info' });
await client.call('oa', 'GET', '/cgi-bin/user/info', { query: { openid: 'o9' } });
say('succeeded on the third attempt');

say('evening: the follower list, limited to 10 calls today on this account');
let i = 0;
try {
  for (i = 1; i <= 11; i++) await client.call('oa', 'GET', '/cgi-bin/user/get');
} catch (e) {
  if (!(e instanceof WxError)) throw e;
  say(`call ${i}: ${e.kind} (refused locally, retry after ${Math.round(e.retryAfterMs / 60000)} min); the platform was not asked`);
}

say('an encrypted callback arrives (the platform\'s published sample)');
const v = JSON.parse(readFileSync(new URL('../../tests/vectors/crypto-official.json', import.meta.url))).callback[0];
const crypto = new CallbackCrypto(v.token, v.encoding_aes_key, v.receive_id);
const body = `<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[${v.encrypt}]]></Encrypt></xml>`;
const msg = crypto.decryptMessage(v.msg_signature, v.timestamp, v.nonce, body);
say(`verified and decrypted: ${msg.msgType} from ${msg.fromUser}: "${msg.get('Content')}"`);
const reply = crypto.encrypt(`<xml><ToUserName><![CDATA[${msg.fromUser}]]></ToUserName><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[收到]]></Content></xml>`, v.timestamp, v.nonce);
say(`encrypted reply: ${reply.length} bytes of <xml><Encrypt/><MsgSignature/>…`);
