// Starts the local platform simulator (tests/simulator) for end-to-end tests.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** One `wxsim` process; it also exits when our pipe to its stdin closes. */
export async function startSimulator(binary = process.env.WXSIM || path.join(ROOT, 'target/release/wxsim')) {
  const proc = spawn(binary, ['--watch-stdin'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout });
    rl.once('line', (l) => { rl.close(); resolve(l); });
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`the simulator (${binary}) exited with ${code} before printing its addresses`)));
  });
  const { primary, dr, control } = JSON.parse(line);
  const ask = async (p, body) => {
    const res = await fetch(control + p, body === undefined ? {} : {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`simulator control ${p}: HTTP ${res.status}`);
    return res.json();
  };
  return {
    primary, dr, control, proc,
    reset: () => ask('/reset', {}),
    configure: (config) => ask('/config', config),
    fault: (fault) => ask('/fault', fault),
    counters: () => ask('/counters'),
    ask,
    async close() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** A counter, 0 when absent. */
export function count(counters, table, app, key) {
  const row = (counters[table] || {})[app];
  if (key === undefined) return row || 0;
  return (row || {})[key] || 0;
}
