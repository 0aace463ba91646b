// ESM consumers: the `import` condition's types (src/index.d.mts), the
// default export, and the web flavour (dist/web.d.mts, from wasm-bindgen).
import wxcore, { Client, RedisStore, jssdkSignature, type Store } from 'wxcore';
import { Redis } from 'ioredis';
import init, { initSync, jssdkSignature as webSignature } from 'wxcore/web';

const Same: typeof Client = wxcore.Client;
// The client RedisStore is written for must fit RedisLike as it is typed.
const store: Store = new RedisStore(new Redis({ lazyConnect: true }));
const client = new Same({ apps: [{ id: 'oa', platform: 'wechat-oa', app_id: 'wx', secret: 's' }], store });
const reply = await client.call('oa', 'GET', '/cgi-bin/user/info', { full: true });
const status: number = reply.status;
const signature: string = jssdkSignature('ticket', 'nonce', 1, 'https://example.com/');

await init({ module_or_path: new URL('https://example.com/wxcore_wasm_bg.wasm') });
initSync({ module: new Uint8Array() });
// @ts-expect-error: the web glue is wasm-bindgen's own, its timestamp text
webSignature('ticket', 'nonce', 1, 'https://example.com/');

export { status, signature };
