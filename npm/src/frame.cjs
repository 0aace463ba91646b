'use strict';
// The engine's outputs in the compact form (wxcore::wire::frame, described
// there) read into the shapes of the JSON form the driver uses, with two
// differences that save a copy each: a send's body is a Buffer over the
// frame (undefined when empty; `String(body)` is its text) and a done's non-JSON body is a Buffer (`bytes`).
// Conversion only: nothing here decides anything.

const decoder = new TextDecoder();

// Short strings (methods, header names and values) are mostly ASCII: a
// char-code loop beats a TextDecoder call for them.
function text(b, start, end) {
  if (end - start > 64) return decoder.decode(b.subarray(start, end));
  let s = '';
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c > 0x7f) return decoder.decode(b.subarray(start, end));
    s += String.fromCharCode(c);
  }
  return s;
}

const DETACHED = 0xffffffff;

const asBuffer = (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.length);

/**
 * `{ callId, outputs, wakeAtMs }` from a frame (a Uint8Array the caller
 * owns); `take(index)` returns a body the frame detached (64 KiB or more).
 */
function readFrame(b, take) {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u32 = (at) => view.getUint32(at, true);
  // u64s as Numbers: ids and times stay far below 2^53.
  const u64 = (at) => view.getUint32(at, true) + view.getUint32(at + 4, true) * 0x100000000;
  const callId = u64(0);
  const wake = view.getInt32(12, true) < 0 ? null : u64(8);
  const count = u32(16);
  let p = 20;
  const str = () => {
    const n = u32(p);
    const s = text(b, p + 4, p + 4 + n);
    p += 4 + n;
    return s;
  };
  const outputs = new Array(count);
  for (let i = 0; i < count; i++) {
    const tag = b[p++];
    if (tag === 1) {
      const id = u64(p);
      const timeoutMs = u64(p + 8);
      p += 16;
      const method = str();
      const url = str();
      const headers = {};
      for (let n = u32((p += 4) - 4); n > 0; n--) { const k = str(); headers[k] = str(); }
      const len = u32(p);
      let body;
      if (len === DETACHED) {
        body = asBuffer(take(u32(p + 4)));
        p += 8;
      } else {
        body = len ? Buffer.from(b.buffer, b.byteOffset + p + 4, len) : undefined;
        p += 4 + len;
      }
      outputs[i] = { send: { id, method, url, headers, body, timeout_ms: timeoutMs } };
    } else if (tag === 2) {
      const kind = b[p + 12];
      const done = { call_id: u64(p), ok: true, status: u32(p + 8), is_json: kind === 0, headers: [] };
      p += 13;
      for (let n = u32((p += 4) - 4); n > 0; n--) done.headers.push([str(), str()]);
      const len = u32(p);
      let body;
      if (len === DETACHED) {
        body = take(u32(p + 4));
        p += 8;
      } else {
        body = b.subarray(p + 4, p + 4 + len);
        p += 4 + len;
      }
      if (kind === 0) done.json = JSON.parse(decoder.decode(body));
      else done.bytes = asBuffer(body);
      outputs[i] = { done };
    } else {
      const len = u32(p);
      outputs[i] = JSON.parse(decoder.decode(b.subarray(p + 4, p + 4 + len)));
      p += 4 + len;
    }
  }
  return { callId, outputs, wakeAtMs: wake };
}

const encoder = new TextEncoder();

/** Response headers (a `Headers`, Map or object) in the frame form. */
function headersFrame(headers) {
  const parts = [];
  let size = 4;
  const add = (k, v) => {
    const kb = encoder.encode(String(k));
    const vb = encoder.encode(String(v));
    parts.push(kb, vb);
    size += 8 + kb.length + vb.length;
  };
  if (typeof headers.forEach === 'function' && !Array.isArray(headers)) headers.forEach((v, k) => add(k, v));
  else for (const [k, v] of Array.isArray(headers) ? headers : Object.entries(headers)) add(k, v);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, parts.length / 2, true);
  let p = 4;
  for (const part of parts) {
    view.setUint32(p, part.length, true);
    out.set(part, p + 4);
    p += 4 + part.length;
  }
  return out;
}

module.exports = { readFrame, headersFrame };
