// Packaging: `npm pack`, install the tarball into a scratch project, import it both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

test('the packed tarball installs and imports as CommonJS and ESM', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'wxcore-pack-'));
  try {
    const tgz = execFileSync('npm', ['pack', '--silent', '--pack-destination', scratch], { cwd: pkg, encoding: 'utf8' }).trim().split('\n').pop();
    writeFileSync(join(scratch, 'package.json'), '{"name":"scratch","version":"1.0.0","private":true}');
    execFileSync('npm', ['install', '--silent', '--no-audit', '--no-fund', join(scratch, tgz)], { cwd: scratch });
    const probe = 'const c = new Client({apps:[{id:"oa",platform:"wechat-oa",app_id:"wx",secret:"s"}]});'
      + 'console.log(typeof c.call, KINDS.length, typeof WxError, typeof Engine, typeof CallbackCrypto, jssdkSignature("t", "n", 1, "u").length);';
    const names = '{ Client, KINDS, WxError, Engine, CallbackCrypto, jssdkSignature }';
    writeFileSync(join(scratch, 'a.cjs'), `const ${names} = require('wxcore'); ${probe}`);
    writeFileSync(join(scratch, 'b.mjs'), `import ${names} from 'wxcore'; ${probe}`);
    for (const f of ['a.cjs', 'b.mjs']) {
      assert.equal(execFileSync('node', [f], { cwd: scratch, encoding: 'utf8' }).trim(), 'function 20 function function function 40', f);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
