'use strict';
// The Node driver: runs the wxcore engine's loop over fetch. Every decision
// (tokens, retries, quotas, failover) is the engine's; this file only
// executes its outputs and feeds results back.

const { EventEmitter } = require('node:events');
const { randomBytes, createHash, createDecipheriv } = require('node:crypto');
const { debuglog } = require('node:util');
const diagnostics = require('node:diagnostics_channel');
const native = require('../dist/node.cjs');
const { readFrame, headersFrame } = require('./frame.cjs');

const KINDS = Object.freeze(native.errorKinds());

/** The longest delay setTimeout honours (2^31 - 1 ms); a timer further off is waited for in steps. */
const TIMER_MAX_MS = 2 ** 31 - 1;

/** NODE_DEBUG=wxcore prints every engine event to stderr. */
const debug = debuglog('wxcore');
/** Every engine event of every Client, for APM agents and custom sinks. */
const eventChannel = diagnostics.channel('wxcore:event');

/** A failed call. `kind` is one of KINDS; `code` is the platform's code. */
class WxError extends Error {
  constructor(kind, message, extra = {}) {
    super(message ? `${kind}: ${message}` : kind);
    this.name = 'WxError';
    this.kind = kind;
    this.code = extra.code ?? null;
    this.subMessage = extra.subMessage ?? null;
    this.httpStatus = extra.httpStatus ?? null;
    this.retryAfterMs = extra.retryAfterMs ?? null;
    this.app = extra.app ?? '';
    this.callId = extra.callId ?? 0;
    this.field = extra.field ?? null;
    this.rawBody = extra.rawBody ?? null;
    /** For callback refusals: exactly why (`bad_signature`, `receive_id_mismatch`, …). */
    this.reason = extra.reason ?? null;
  }

  static fromOutput(e) {
    return new WxError(e.kind, e.message || '', {
      code: e.code, subMessage: e.sub_message, httpStatus: e.http_status, retryAfterMs: e.retry_after_ms,
      app: e.app, callId: e.call_id, rawBody: e.raw_body,
    });
  }

  static wrap(e) {
    if (e instanceof WxError) return e;
    if (e && e.kind) return new WxError(e.kind, e.message, { field: e.field, reason: e.reason });
    return e;
  }
}

/**
 * The config as JSON text, with 32 bytes from node:crypto as the engine's
 * `entropy` (the core reads no randomness of its own; API security's IVs
 * come from it). `fresh`: replace a value the config brings (the Client
 * does: processes sharing one config file must never share IVs).
 */
function withEntropy(config, fresh = false) {
  let c = config;
  if (typeof c === 'string') {
    try { c = JSON.parse(c); } catch { return config; } // the engine names what is wrong
  }
  if (!c || typeof c !== 'object' || Array.isArray(c)) return typeof config === 'string' ? config : JSON.stringify(config);
  if (fresh || !('entropy' in c)) c = { ...c, entropy: randomBytes(32).toString('base64') };
  return JSON.stringify(c);
}

/** The engine for custom drivers: `poll()` returns `{ outputs, wakeAtMs }` with tagged outputs. */
class Engine {
  constructor(config, nowMs = Date.now(), inner = undefined, freshEntropy = false) {
    try {
      this._e = inner || new native.Engine(withEntropy(config, freshEntropy), nowMs);
    } catch (e) { throw WxError.wrap(e); }
  }

  static restore(config, state, nowMs = Date.now()) {
    try {
      const text = withEntropy(config);
      return new Engine(null, nowMs, native.Engine.restore(text, state, nowMs));
    } catch (e) { throw WxError.wrap(e); }
  }

  /** Submits `{ app, method, path, query: [[k, v]], idempotent, content_type }` with an optional body. */
  submit(spec, body, nowMs = Date.now()) {
    return this._e.submit(typeof spec === 'string' ? spec : JSON.stringify(spec), body, nowMs);
  }

  handleResponse(id, status, headers, body, nowMs = Date.now()) {
    this._e.handleResponse(id, status, typeof headers === 'string' ? headers : JSON.stringify(headers), body, nowMs);
  }

  handleTransportError(id, kind, nowMs = Date.now()) { this._e.handleTransportError(id, kind, nowMs); }

  /** Withdraws a call: it completes with `cancelled`; false if it had already completed. */
  cancel(callId, nowMs = Date.now()) { return this._e.cancel(callId, nowMs); }

  handleStoreResult(id, result, nowMs = Date.now()) {
    this._e.handleStoreResult(id, typeof result === 'string' ? result : JSON.stringify(result), nowMs);
  }

  /**
   * A request to an app's callback URL where the platform pushes the ticket
   * its token needs (component_verify_ticket, suite_ticket): verified,
   * decrypted and kept if newer. Returns `{ reply, info_type, ticket_kept,
   * message }`; answer the platform with `reply`. A refused push throws a
   * WxError with `kind` and `reason`, and changes nothing.
   */
  handlePush(app, method, query, body, nowMs = Date.now()) {
    const q = typeof query === 'string' ? query : JSON.stringify(query instanceof URLSearchParams ? [...query] : query);
    const b = typeof body === 'string' ? Buffer.from(body) : body;
    try {
      return JSON.parse(this._e.handlePush(app, method, q, b, nowMs));
    } catch (e) { throw WxError.wrap(e); }
  }

  /** Submits and returns the outputs at once: `{ callId, outputs, wakeAtMs }`. */
  submitPoll(spec, body, nowMs = Date.now()) {
    const p = JSON.parse(this._e.submitPoll(typeof spec === 'string' ? spec : JSON.stringify(spec), body, nowMs));
    return { callId: p.call_id, outputs: p.outputs, wakeAtMs: p.wake_at_ms };
  }

  /** Feeds an HTTP answer and returns the outputs it caused: `{ outputs, wakeAtMs }`. */
  respondPoll(id, status, headers, body, nowMs = Date.now()) {
    const p = JSON.parse(this._e.respondPoll(id, status, typeof headers === 'string' ? headers : JSON.stringify(headers), body, nowMs));
    return { outputs: p.outputs, wakeAtMs: p.wake_at_ms };
  }

  /**
   * `submitPoll`, `respondPoll` and `poll` with the outputs in the compact
   * form (see frame.cjs): the same `{ callId, outputs, wakeAtMs }`, a
   * send's body a Buffer and a non-JSON reply a Buffer (`bytes`).
   * `headers` is a `Headers`, a Map or an object. What the Client uses.
   */
  submitPollFrame(spec, body, nowMs = Date.now()) {
    return readFrame(this._e.submitPollFrame(typeof spec === 'string' ? spec : JSON.stringify(spec), body, nowMs), this._take);
  }

  respondPollFrame(id, status, headers, body, nowMs = Date.now()) {
    return readFrame(this._e.respondPollFrame(id, status, headersFrame(headers), body, nowMs), this._take);
  }

  pollFrame(nowMs = Date.now()) { return readFrame(this._e.pollFrame(nowMs), this._take); }

  get _take() { return (index) => this._e.takeBody(index); }

  /** Raw JSON text of the pending outputs (what `poll()` parses). */
  pollJson(nowMs = Date.now()) { return this._e.poll(nowMs); }

  poll(nowMs = Date.now()) {
    const p = JSON.parse(this._e.poll(nowMs));
    return { outputs: p.outputs, wakeAtMs: p.wake_at_ms };
  }

  exportState() { return this._e.exportState(); }

  /** The status snapshot (apps, tokens by id, quotas, hosts, alerts) as an object. */
  status(nowMs = Date.now()) { return JSON.parse(this._e.statusJson(nowMs)); }

  /** The status snapshot as JSON text. */
  statusJson(nowMs = Date.now()) { return this._e.statusJson(nowMs); }

  /** The Prometheus text exposition (format 0.0.4) of the engine's counters and gauges. */
  metrics(nowMs = Date.now()) { return this._e.metricsText(nowMs); }
}

function queryPairs(query) {
  if (!query) return [];
  const items = Array.isArray(query) ? query : Object.entries(query);
  return items.map(([k, v]) => [String(k), String(v)]);
}

function transportKind(err) {
  // The call's own deadline (AbortSignal.timeout): fetch does not say which
  // phase it cut short, so it stays the request timeout.
  if (err && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'timeout';
  const cause = (err && err.cause) || err || {};
  const code = cause.code || (err && err.code) || '';
  // EAI_AGAIN is a resolver's "temporary failure", not proof of a lookup timeout.
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'dns';
  // `connect` and `connect_timeout` tell the engine the request never left,
  // so a POST may be resent: only for failures of the connect step itself.
  if (code === 'ECONNREFUSED') return 'connect';
  if ((code === 'EHOSTUNREACH' || code === 'ENETUNREACH') && cause.syscall === 'connect') return 'connect';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return 'connect_timeout';
  if (code === 'ETIMEDOUT' && cause.syscall === 'connect') return 'connect_timeout';
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') return 'timeout';
  if (/^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO_VERIFY|DEPTH_ZERO|SELF_SIGNED)/.test(code)) return 'tls';
  return 'reset';
}

function doneValue(done, full) {
  if (!done.ok) throw WxError.fromOutput(done.error);
  let data;
  if ('json' in done) data = done.json;
  else if ('bytes' in done) data = done.bytes; // the frame form's
  else if ('body_base64' in done) data = Buffer.from(done.body_base64, 'base64');
  else data = Buffer.from(done.body || '', 'utf8');
  return full ? { status: done.status, headers: done.headers || [], data } : data;
}

/**
 * new Client({ apps, ...config, fetch?, store?, now?, logger? });
 * await client.call(app, method, path, { query, json, body, contentType, idempotent, full, timeoutMs, signal });
 * client.on('event', (event) => …);
 *
 * Each engine event also goes to `util.debuglog('wxcore')` (NODE_DEBUG=wxcore),
 * to the diagnostics channel `wxcore:event`, and, given a `logger`
 * (`console`, pino, …), to `logger[event.level]({ event }, message)`: the
 * merging-object-first call pino expects, the level the core decided.
 */
class Client extends EventEmitter {
  constructor(options) {
    super();
    const { fetch: fetchImpl, store, now, logger, ...config } = options || {};
    this._logger = logger || null;
    // `store` is either the config's mode ('memory' | 'external') or a store
    // adapter object, which means fleet mode.
    if (store && typeof store === 'object') {
      config.store = 'external';
      this._store = store;
    } else {
      if (store !== undefined) config.store = store;
      this._store = null;
    }
    this._now = now || Date.now;
    this._fetch = fetchImpl || globalThis.fetch;
    this.engine = new Engine(config, this._now(), undefined, true);
    this._pending = new Map();
    this._timer = null;
    this._scheduled = false;
  }

  async call(app, method, path, options = {}) {
    const spec = { app, method, path, query: queryPairs(options.query), idempotent: !!options.idempotent };
    if (options.timeoutMs !== undefined) spec.timeout_ms = options.timeoutMs;
    let body = options.body;
    if (options.json !== undefined) {
      body = Buffer.from(JSON.stringify(options.json));
      spec.content_type = 'application/json';
    } else if (options.contentType) {
      spec.content_type = options.contentType;
    }
    if (typeof body === 'string') body = Buffer.from(body);
    const { callId, outputs, wakeAtMs } = this.engine.submitPollFrame(spec, body, this._now());
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject, full: !!options.full, cleanup: null };
      this._pending.set(callId, entry);
      const { signal } = options;
      // Aborting withdraws the call: the engine decides what that means
      // (never sent, or `cancelled` now while its answer still counts).
      const onAbort = () => {
        if (!this._pending.has(callId)) return;
        this.engine.cancel(callId, this._now());
        this._pump();
      };
      if (signal && !signal.aborted) {
        signal.addEventListener('abort', onAbort, { once: true });
        entry.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this._process(outputs, wakeAtMs);
      if (signal && signal.aborted) onAbort();
    });
  }

  /** A JS-SDK ticket (`jsapi`, `wx_card`; WeCom `jsapi`, `agent_config`), cached and renewed by the engine. */
  async ticket(app, kind = 'jsapi') {
    return (await this._ticket(app, kind)).ticket;
  }

  /** The wx.config object for a page at `url`, signed with the app's cached ticket. */
  async jssdkConfig(app, url, kind = 'jsapi') {
    const t = await this._ticket(app, kind);
    return jssdkConfig(t.app_id, t.ticket, url);
  }

  /** `{ ticket, expires_at_ms, app_id }` from the engine's ticket cache. */
  _ticket(app, kind) {
    const { callId, outputs, wakeAtMs } = this.engine.submitPollFrame({ app, ticket: kind }, undefined, this._now());
    return new Promise((resolve, reject) => {
      this._pending.set(callId, { resolve, reject, full: false });
      this._process(outputs, wakeAtMs);
    });
  }

  /**
   * A request to the callback URL of an app whose token needs a pushed
   * ticket (`wechat-component`, `wecom-suite`): the engine verifies it,
   * checks it names the app, and keeps a newer ticket (shared through the
   * store in fleet mode); it never fetches a token by itself. Answer the
   * platform with `reply` at once. Other pushes (authorizations, suite
   * events) come back verified as `message`. A refused push throws a
   * WxError (`signature_invalid`, `invalid_request`, `config`) whose
   * `reason` says why; nothing changed.
   */
  handlePush(app, method, query, body) {
    const p = this.engine.handlePush(app, method, query, body, this._now());
    this._pump();
    return {
      reply: p.reply, infoType: p.info_type, ticketKept: p.ticket_kept,
      message: p.message ? new CallbackMessage(p.message) : null,
      authorizer: p.authorizer ?? null,
    };
  }

  exportState() { return this.engine.exportState(); }

  /** The status snapshot: per app its token (by id), last refresh and load; quotas; hosts' circuits; alerts. */
  status() { return this.engine.status(this._now()); }

  /** The Prometheus text exposition of the engine's counters and gauges, for a `/metrics` endpoint. */
  metrics() { return this.engine.metrics(this._now()); }

  /** Drains the engine now. */
  _pump() {
    const { outputs, wakeAtMs } = this.engine.pollFrame(this._now());
    this._process(outputs, wakeAtMs);
  }

  /** Executes outputs; sleeps until the engine's next timer while calls are pending. */
  _process(outputs, wakeAtMs) {
    for (const o of outputs) {
      if (o.send) this._send(o.send);
      else if (o.done) this._complete(o.done);
      else if (o.event) this._emitEvent(o.event);
      else if (o.store) this._runStore(o.store);
    }
    if (this._timer) { clearTimeout(this._timer); this._timer = null; }
    // Not unref'd: a pending retry must keep the process alive.
    // Clamped to what setTimeout can wait (a longer delay would fire at once, every millisecond).
    if (this._pending.size > 0 && wakeAtMs !== null && wakeAtMs !== undefined) {
      this._timer = setTimeout(() => this._pump(), Math.min(TIMER_MAX_MS, Math.max(0, wakeAtMs - this._now())));
    }
  }

  /** A listener's (or logger's) exception must not cost the outputs after its event. */
  _emitEvent(event) {
    try {
      this.emit('event', event);
    } catch (err) {
      console.error('wxcore: an event listener threw', err);
    }
    if (eventChannel.hasSubscribers) eventChannel.publish(event);
    const log = this._logger && this._logger[event.level];
    if (!debug.enabled && typeof log !== 'function') return;
    // The core writes the line (the same in every language, never a token or secret).
    const message = event.text || String(event.type);
    debug('%s %s', event.level, message);
    if (typeof log !== 'function') return;
    try {
      log.call(this._logger, { event }, message);
    } catch (err) {
      console.error('wxcore: the logger threw', err);
    }
  }

  _complete(done) {
    const p = this._pending.get(done.call_id);
    if (!p) return;
    this._pending.delete(done.call_id);
    if (p.cleanup) p.cleanup();
    try { p.resolve(doneValue(done, p.full)); } catch (e) { p.reject(e); }
  }

  async _send(req) {
    let status;
    let payload;
    let headers;
    // The call's deadline covers the body too. One controller and timer
    // rather than AbortSignal.timeout(), whose weak references and timer
    // registry were a sixth of a call's time.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new DOMException('the deadline passed', 'TimeoutError')), req.timeout_ms);
    try {
      // A 3xx is the API's answer, never followed: a redirect would carry a
      // header credential to whatever origin it names.
      const res = await this._fetch(req.url, {
        method: req.method, headers: req.headers, body: req.body, redirect: 'manual', signal: deadline.signal,
      });
      payload = new Uint8Array(await res.arrayBuffer());
      status = res.status;
      headers = res.headers;
    } catch (err) {
      this.engine.handleTransportError(req.id, transportKind(err), this._now());
      this._pump();
      return;
    } finally {
      clearTimeout(timer);
    }
    const { outputs, wakeAtMs } = this.engine.respondPollFrame(req.id, status, headers, payload, this._now());
    this._process(outputs, wakeAtMs);
  }

  async _runStore(op) {
    let result;
    try {
      if (!this._store) throw new Error('the config says "store": "external" but no store was given to Client');
      result = await this._store.execute(op);
    } catch (err) {
      // The error's class and code only: a store's message can carry a connection string.
      result = { error: [err && err.name, err && err.code].filter(Boolean).join(' ') || 'store error' };
    }
    let text;
    try {
      text = JSON.stringify(result);
    } catch {
      text = '{"error":"unserialisable store result"}';
    }
    this.engine.handleStoreResult(op.id, text, this._now());
    this._pump();
  }
}

/**
 * A decrypted callback message: its fields, with typed accessors. As the
 * core gives it: text fields are strings, an element with child elements an
 * object (`ScanCodeInfo`, `SendLocationInfo`), an element repeated under one
 * parent an array (`PicList.item`).
 */
class CallbackMessage {
  constructor(fields) { this.fields = fields; }
  get(name) { return this.fields[name]; }
  get msgType() { return this.fields.MsgType; }
  get event() { return this.fields.Event; }
  get fromUser() { return this.fields.FromUserName; }
  get toUser() { return this.fields.ToUserName; }
  get createTime() { const v = Number(this.fields.CreateTime); return Number.isFinite(v) ? v : undefined; }
  get agentId() { const v = Number(this.fields.AgentID); return Number.isFinite(v) ? v : undefined; }
}

const wrapped = (f) => { try { return f(); } catch (e) { throw WxError.wrap(e); } };
const text = (b) => (typeof b === 'string' ? b : Buffer.from(b).toString('utf8'));
/** A body as bytes, unchanged (the core judges them). */
const raw = (b) => (b === undefined || b === null ? Buffer.alloc(0) : typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b));

/**
 * WXBizMsgCrypt for one app: new CallbackCrypto(token, encodingAesKey, receiveId, { acceptReceiveIds, maxAgeS, urlCheck }).
 * The receive id is checked strictly unless acceptReceiveIds is given. `urlCheck`
 * says which URL check the receiver accepts: 'signature' (Official Accounts),
 * 'msg_signature' (WeCom apps, suites, bots) or 'either' (the default); a
 * `msg_signature` is only ever checked as the four-part signature.
 */
// Each receiver's AES key for node:crypto, off the object so that logging
// a CallbackCrypto never prints it.
const aesKeys = new WeakMap();

class CallbackCrypto {
  constructor(token, encodingAesKey, receiveId, options = {}) {
    this._c = wrapped(() => new native.CallbackCrypto(token, encodingAesKey, receiveId));
    aesKeys.set(this, Buffer.from(this._c.aesKey()));
    if (options.urlCheck !== undefined && options.urlCheck !== null) wrapped(() => this._c.urlCheck(options.urlCheck));
    if (options.acceptReceiveIds) this._c.acceptReceiveIds(options.acceptReceiveIds);
    this._maxAge = options.maxAgeS ?? null;
    if (this._maxAge !== null) this._c.maxAge(this._maxAge);
  }

  _now(nowS) { return this._maxAge === null ? undefined : (nowS ?? Math.floor(Date.now() / 1000)); }

  /**
   * The body to answer a URL check with. `param` names the query parameter
   * the signature came in ('signature' or 'msg_signature'); without it the
   * receiver's `urlCheck` decides.
   */
  verifyUrl(signature, timestamp, nonce, echostr, nowS, { param } = {}) {
    if (param !== undefined) {
      return wrapped(() => this._c.verifyUrlParam(param, signature, String(timestamp), nonce, echostr, this._now(nowS)));
    }
    return wrapped(() => this._c.verifyUrl(signature, String(timestamp), nonce, echostr, this._now(nowS)));
  }

  /**
   * The plaintext of a callback body (XML with Encrypt, or JSON with encrypt).
   * SHA-1 and AES-256-CBC run in node:crypto (OpenSSL, AES-NI) rather than
   * in wasm; the core keeps every check and decision: the replay window
   * and the body's form first, then the signature compared in constant
   * time, the padding, lengths and receive id (decryptPrepare/decryptFinish).
   */
  decrypt(msgSignature, timestamp, nonce, body, nowS) {
    const ts = String(timestamp);
    const now = this._now(nowS);
    const prepared = wrapped(() => this._c.decryptPrepare(ts, nonce, typeof body === 'string' ? Buffer.from(body) : body, now));
    // Encrypt that is not whole AES blocks: the core's own path names the refusal.
    if (prepared === undefined) return wrapped(() => this._c.decrypt(msgSignature, ts, nonce, text(body), now));
    const bytes = Buffer.from(prepared.buffer, prepared.byteOffset, prepared.length);
    const signedEnd = 4 + bytes.readUInt32LE(0);
    const digest = createHash('sha1').update(bytes.subarray(4, signedEnd)).digest();
    const key = aesKeys.get(this);
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
    const plain = Buffer.concat([decipher.update(bytes.subarray(signedEnd)), decipher.final()]);
    return wrapped(() => this._c.decryptFinish(msgSignature, digest, plain));
  }

  decryptMessage(msgSignature, timestamp, nonce, body, nowS) {
    return new CallbackMessage(JSON.parse(wrapped(() => this._c.decryptMessage(msgSignature, String(timestamp), nonce, raw(body), this._now(nowS)))));
  }

  /**
   * Framework glue: the request's method, query object and body in;
   * `{ echo }` (answer a URL check with it, as text) or `{ plaintext, message }`
   * out. Refusals throw WxError.
   */
  handleRequest(method, query, body, nowS) {
    const flat = [];
    for (const [k, v] of Object.entries(query || {})) flat.push(String(k), String(Array.isArray(v) ? v[0] : v));
    const r = JSON.parse(wrapped(() => this._c.handleRequest(method, flat, raw(body), this._now(nowS))));
    return 'echo' in r ? { echo: r.echo } : { plaintext: r.plaintext, message: new CallbackMessage(r.message) };
  }

  /** The encrypted passive-reply body for `reply`, with a fresh timestamp and nonce. */
  reply(reply, nowS) {
    const timestamp = String(nowS ?? Math.floor(Date.now() / 1000));
    return this.encrypt(reply, timestamp, String(randomBytes(4).readUInt32BE(0)));
  }

  /** The encrypted passive-reply XML (16 random bytes from node:crypto unless given). */
  encrypt(reply, timestamp, nonce, random16 = randomBytes(16)) {
    return wrapped(() => this._c.encrypt(reply, String(timestamp), nonce, random16));
  }
}

/** sha1("jsapi_ticket=…&noncestr=…&timestamp=…&url=…"), the URL's fragment removed. */
function jssdkSignature(jsapiTicket, noncestr, timestamp, url) {
  return native.jssdkSignature(jsapiTicket, noncestr, String(timestamp), url);
}

/** The object a page passes to wx.config. */
function jssdkConfig(appId, jsapiTicket, url, noncestr = randomBytes(9).toString('base64url'), timestamp = Math.floor(Date.now() / 1000)) {
  // The host supplies randomness and the clock; the core builds the object.
  return JSON.parse(native.jssdkConfigJson(appId, jsapiTicket, noncestr, String(timestamp), url));
}

const bytes = (b) => (typeof b === 'string' ? Buffer.from(b, 'utf8') : b);

/**
 * WeChat server API security primitives (the engine seals and opens calls
 * to an app's `api_security.paths` by itself; these are for checking
 * published values and for tooling).
 */
function apiSecuritySeal(symKey, symSn, appId, urlPath, timestamp, iv, plaintext) {
  return wrapped(() => native.apiSecuritySeal(symKey, symSn, appId, urlPath, timestamp, iv, bytes(plaintext)));
}

function apiSecurityOpen(symKey, symSn, appId, urlPath, timestamp, body) {
  return Buffer.from(wrapped(() => native.apiSecurityOpen(symKey, symSn, appId, urlPath, timestamp, bytes(body))));
}

function apiSecuritySign(privateKeyPem, urlPath, appId, timestamp, data, seed = randomBytes(32)) {
  return wrapped(() => native.apiSecuritySign(privateKeyPem, urlPath, appId, timestamp, bytes(data), seed));
}

function apiSecurityVerify(keyPem, urlPath, appId, timestamp, data, signature) {
  return wrapped(() => native.apiSecurityVerify(keyPem, urlPath, appId, timestamp, bytes(data), signature));
}

const { RedisStore } = require('./redis.cjs');

module.exports = {
  Client, Engine, WxError, KINDS, transportKind, CallbackCrypto, CallbackMessage, jssdkSignature, jssdkConfig, RedisStore,
  apiSecuritySeal, apiSecurityOpen, apiSecuritySign, apiSecurityVerify,
};
