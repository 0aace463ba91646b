// The conformance scenarios of tests/vectors/*.json, run through the wasm
// binding exactly as the Rust and Python runners run them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { Engine, WxError } from '../src/index.mjs';

// The native engine under the facade: the scenarios' configs as written
// (the facade's constructor would add host entropy where a config has none).
const native = createRequire(import.meta.url)('../dist/node.cjs');
function wrapped(make) {
  try { return new Engine(null, 0, make()); } catch (e) { throw WxError.wrap(e); }
}

const dir = process.env.WXCORE_VECTORS || join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'tests', 'vectors');

function matches(expected, actual) {
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    if (actual === null || typeof actual !== 'object') return false;
    for (const [k, v] of Object.entries(expected)) {
      if (k === 'json' && 'json' in actual) {
        if (!deepEqual(actual.json, v)) return false;
      } else if (k === 'json' || k === 'value_json') {
        const text = actual[k === 'json' ? 'body' : 'value'];
        try { if (text == null || !deepEqual(JSON.parse(text), v)) return false; } catch { return false; }
      } else if (!(k in actual)) {
        if (v !== null) return false;
      } else if (!matches(v, actual[k])) return false;
    }
    return true;
  }
  return deepEqual(expected, actual);
}

function deepEqual(a, b) {
  try { assert.deepStrictEqual(a, b); return true; } catch { return false; }
}

/** The metrics text as the vectors compare it: each sample line split at its last space, both parts as written. */
function samples(text) {
  const out = {};
  for (const line of text.split('\n').map((l) => l.replace(/\r$/, ''))) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    assert.ok(cut > 0, `a sample line without a value: ${line}`);
    out[line.slice(0, cut)] = line.slice(cut + 1);
  }
  return out;
}

function run(s) {
  const config = JSON.stringify(s.config);
  const recorded = [];
  let engine;
  try {
    const now0 = s.steps.length ? s.steps[0].now_ms : 0;
    engine = wrapped(() => new native.Engine(config, now0));
  } catch (e) {
    return [{ config_error: { field: e.field, message: e.message } }];
  }
  const done = new Set();
  for (const step of s.steps) {
    const now = step.now_ms;
    const [kind, v] = Object.entries(step.input)[0];
    if (kind === 'submit') {
      const spec = {};
      for (const k of ['app', 'method', 'path', 'query', 'idempotent', 'content_type', 'ticket', 'timeout_ms']) if (k in v) spec[k] = v[k];
      if ('json' in v) engine.submit(spec, Buffer.from(JSON.stringify(v.json)), now);
      else if ('body' in v) engine.submit({ content_type: 'application/octet-stream', ...spec }, Buffer.from(v.body), now);
      else engine.submit(spec, undefined, now);
    } else if (kind === 'response') {
      const headers = { ...(v.headers || {}) };
      let body;
      if ('json' in v) {
        body = Buffer.from(JSON.stringify(v.json));
        if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
      } else if ('body_base64' in v) body = Buffer.from(v.body_base64, 'base64');
      else body = Buffer.from(v.body || '');
      engine.handleResponse(v.id, v.status ?? 200, headers, body, now);
    } else if (kind === 'transport_error') {
      engine.handleTransportError(v.id, v.kind, now);
    } else if (kind === 'store_result') {
      const { id, ...result } = v;
      engine.handleStoreResult(id, result, now);
    } else if (kind === 'restart' || kind === 'restore') {
      const state = kind === 'restart' ? engine.exportState() : JSON.stringify(v.state);
      try {
        engine = wrapped(() => native.Engine.restore(config, state, now));
        done.clear();
      } catch (e) {
        recorded.push({ config_error: { field: e.field, message: e.message } });
      }
    } else if (kind === 'cancel') {
      engine.cancel(v.id, now);
    } else if (kind === 'push') {
      // Recorded before the step's drain, as the Rust runner does.
      try {
        recorded.push({ push: engine.handlePush(v.app, v.method, v.query, Buffer.from(v.body), now) });
      } catch (e) {
        assert.ok(e instanceof WxError, String(e));
        recorded.push({ push_error: { kind: e.kind, reason: e.reason } });
      }
    } else if (kind === 'status') {
      // Recorded before the step's drain, as the Rust runner does.
      recorded.push({ status: engine.status(now) });
    } else if (kind === 'metrics') {
      recorded.push({ metrics: { samples: samples(engine.metrics(now)) } });
    } else if (kind !== 'poll') {
      throw new Error(`unknown input ${kind}`);
    }
    const { outputs, wakeAtMs } = engine.poll(now);
    for (const o of outputs) {
      if (o.done) {
        assert.ok(!done.has(o.done.call_id), 'a call completed twice');
        done.add(o.done.call_id);
      }
    }
    recorded.push(...outputs, { idle: { wake_at_ms: wakeAtMs } });
  }
  return recorded;
}

const scenarios = [];
for (const f of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const doc = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  for (const s of doc.scenarios || []) scenarios.push([f, s]);
}

test('there are scenarios for every platform', () => {
  const platforms = new Set(scenarios.flatMap(([, s]) => s.config.apps.map((a) => a.platform)));
  assert.ok(scenarios.length >= 60);
  for (const p of ['wechat-oa', 'wecom', 'jing', 'cj', 'result', 'wechat-component', 'wecom-suite']) assert.ok(platforms.has(p), p);
});

for (const [file, s] of scenarios) {
  test(`${file}::${s.name}`, () => {
    const got = run(s);
    s.expect.forEach((e, i) => {
      assert.ok(i < got.length, `output ${i} missing: expected ${JSON.stringify(e)}`);
      assert.ok(matches(e, got[i]), `output ${i} differs\n expected: ${JSON.stringify(e)}\n actual:   ${JSON.stringify(got[i])}\n all: ${JSON.stringify(got)}`);
    });
    assert.equal(got.length, s.expect.length, `extra outputs: ${JSON.stringify(got.slice(s.expect.length))}`);
  });
}
