// A 20 MB media download and a 20 MB upload through the Node Client, each
// in a fresh process: time, and peak RSS growth over the process's peak
// after a warm-up call (the body itself is 20 MB; the goal is ≤ 2× it).
//   node npm/bench/big.mjs
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SIZE = Number(process.env.SIZE || 20 * 1024 * 1024);
const MiB = 1024 * 1024;

if (process.argv[2] === 'child') {
  const { Client } = await import('../src/index.mjs');
  const direction = process.argv[3];
  const json = (o) => ({ status: 200, headers: new Map([['content-type', 'application/json']]), arrayBuffer: async () => new TextEncoder().encode(JSON.stringify(o)) });
  let download = null;
  let uploaded = 0;
  const fetch = async (url, init) => {
    if (url.includes('stable_token')) return json({ access_token: 'T', expires_in: 7200 });
    if (init.body) uploaded = init.body.length;
    if (url.includes('/media/get') && download) {
      const body = download;
      return { status: 200, headers: new Map([['content-type', 'image/jpeg']]), arrayBuffer: async () => body.buffer };
    }
    return json({ type: 'image', media_id: 'M', created_at: 1 });
  };
  const client = new Client({ apps: [{ id: 'oa', platform: 'wechat-oa', app_id: 'wx1', secret: 's' }], quota: { mode: 'off' }, fetch });
  await client.call('oa', 'GET', '/cgi-bin/media/get', { query: { media_id: 'warm' } });
  // The body exists before the measured part starts, as a file read or a socket's bytes would.
  // Random bytes: a JPEG is not UTF-8 (zeros would be, and cost the JSON form six bytes each).
  const body = (await import('node:crypto')).randomFillSync(new Uint8Array(SIZE));
  if (direction === 'download') download = body;
  globalThis.gc?.();
  const before = process.resourceUsage().maxRSS * 1024;
  const t0 = process.hrtime.bigint();
  let got;
  if (direction === 'download') {
    got = await client.call('oa', 'GET', '/cgi-bin/media/get', { query: { media_id: 'M' } });
    if (got.length !== SIZE || got[4096] !== body[4096]) throw new Error('download came back wrong');
  } else {
    got = await client.call('oa', 'POST', '/cgi-bin/media/upload', { query: { type: 'image' }, body, contentType: 'image/jpeg' });
    if (uploaded !== SIZE) throw new Error(`upload sent ${uploaded} bytes`);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const after = process.resourceUsage().maxRSS * 1024;
  console.log(JSON.stringify({ direction, ms, growth: after - before }));
  process.exit(0);
}

const self = fileURLToPath(import.meta.url);
for (const direction of ['download', 'upload']) {
  const r = JSON.parse(execFileSync(process.execPath, ['--expose-gc', self, 'child', direction], { encoding: 'utf8' }));
  console.log(`node ${direction} of ${(SIZE / MiB).toFixed(0)} MiB: ${r.ms.toFixed(1)} ms, peak RSS +${(r.growth / MiB).toFixed(1)} MiB (${(r.growth / SIZE).toFixed(2)}× the body)`);
}
