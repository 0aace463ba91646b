// Packaging: `npm pack`, install the tarball into a scratch project, import it both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

test('the packed tarball installs and imports as CommonJS, ESM and wxcore/web', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'wxcore-pack-'));
  try {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--silent', '--pack-destination', scratch], { cwd: pkg, encoding: 'utf8' }));
    const files = packed.files.map((f) => f.path);
    for (const f of ['README.md', 'LICENSE-MIT', 'LICENSE-APACHE']) assert.ok(files.includes(f), `${f} in ${files}`);
    // The Node and the web glue share one module: its bytes are most of the tarball.
    assert.deepEqual(files.filter((f) => f.endsWith('.wasm')), ['dist/wxcore_wasm_bg.wasm']);

    writeFileSync(join(scratch, 'package.json'), '{"name":"scratch","version":"1.0.0","private":true}');
    execFileSync('npm', ['install', '--silent', '--no-audit', '--no-fund', join(scratch, packed.filename)], { cwd: scratch });
    const probe = 'const c = new Client({apps:[{id:"oa",platform:"wechat-oa",app_id:"wx",secret:"s"}]});'
      + 'console.log(typeof c.call, KINDS.length, typeof WxError, typeof Engine, typeof CallbackCrypto, jssdkSignature("t", "n", 1, "u"));';
    const names = '{ Client, KINDS, WxError, Engine, CallbackCrypto, jssdkSignature }';
    writeFileSync(join(scratch, 'a.cjs'), `const ${names} = require('wxcore'); ${probe}`);
    writeFileSync(join(scratch, 'b.mjs'), `import ${names} from 'wxcore'; ${probe}`);
    const outputs = ['a.cjs', 'b.mjs'].map((f) => execFileSync('node', [f], { cwd: scratch, encoding: 'utf8' }).trim());
    const signature = outputs[0].split(' ').pop();
    assert.match(signature, /^[0-9a-f]{40}$/);
    for (const out of outputs) assert.equal(out, `function 22 function function function ${signature}`);

    // The web glue fetches its default URL; Node's fetch takes no file: URLs,
    // so this one reads them, to show that URL is the tarball's one wasm.
    writeFileSync(join(scratch, 'c.mjs'), `import { readFileSync } from 'node:fs';
      globalThis.fetch = async (url) => new Response(readFileSync(url), { headers: { 'content-type': 'application/wasm' } });
      const { default: init, jssdkSignature } = await import('wxcore/web');
      await init();
      console.log(jssdkSignature('t', 'n', '1', 'u'));`);
    assert.equal(execFileSync('node', ['c.mjs'], { cwd: scratch, encoding: 'utf8' }).trim(), signature);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
