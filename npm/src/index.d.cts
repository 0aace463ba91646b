import { EventEmitter } from 'node:events';

/** The stable error kind names shared by every language. */
export type ErrorKind =
  | 'token_invalid' | 'credential_invalid' | 'secret_frozen' | 'ip_not_whitelisted'
  | 'admin_confirmation_required' | 'ip_blocked' | 'rate_limited' | 'quota_exhausted' | 'busy'
  | 'invalid_request' | 'permission_denied' | 'not_following' | 'business' | 'malformed_response'
  | 'transport' | 'signature_invalid' | 'config' | 'unknown' | 'timeout' | 'cancelled'
  | 'ticket_unavailable' | 'not_authorized';

export const KINDS: readonly ErrorKind[];

export class WxError extends Error {
  readonly kind: ErrorKind;
  readonly code: number | string | null;
  readonly subMessage: string | null;
  readonly httpStatus: number | null;
  readonly retryAfterMs: number | null;
  readonly app: string;
  readonly callId: number;
  /** For `config` errors: the offending field, e.g. `apps[0].token_path`. */
  readonly field: string | null;
  readonly rawBody: string | null;
  /** For callback refusals: `bad_signature`, `receive_id_mismatch`, `stale_timestamp`, `bad_padding`, … */
  readonly reason: string | null;
}

/** A field of a callback message: text, an object (child elements), or an array (a repeated element). */
export type CallbackValue = string | { [name: string]: CallbackValue } | CallbackValue[];

/** A decrypted callback message: its fields (nested as the core gives them), with typed accessors. */
export class CallbackMessage {
  readonly fields: Record<string, CallbackValue>;
  get(name: string): CallbackValue | undefined;
  readonly msgType?: string;
  readonly event?: string;
  readonly fromUser?: string;
  readonly toUser?: string;
  readonly createTime?: number;
  readonly agentId?: number;
}

/** WXBizMsgCrypt for one app. Refusals throw WxError with `kind` and `reason`. */
export class CallbackCrypto {
  constructor(token: string, encodingAesKey: string, receiveId: string, options?: { acceptReceiveIds?: string[]; maxAgeS?: number; urlCheck?: 'signature' | 'msg_signature' | 'either' });
  verifyUrl(signature: string, timestamp: string | number, nonce: string, echostr: string, nowS?: number, options?: { param?: 'signature' | 'msg_signature' }): string;
  decrypt(msgSignature: string, timestamp: string | number, nonce: string, body: string | Uint8Array, nowS?: number): string;
  decryptMessage(msgSignature: string, timestamp: string | number, nonce: string, body: string | Uint8Array, nowS?: number): CallbackMessage;
  encrypt(reply: string, timestamp: string | number, nonce: string, random16?: Uint8Array): string;
  /** Framework glue: a URL check's answer (`echo`) or a verified message. */
  handleRequest(method: string, query: Record<string, string | string[] | undefined>, body?: string | Uint8Array, nowS?: number): Inbound;
  /** The encrypted passive-reply body, with a fresh timestamp and nonce. */
  reply(reply: string, nowS?: number): string;
}

export type Inbound = { echo: string } | { plaintext: string; message: CallbackMessage };

export function jssdkSignature(jsapiTicket: string, noncestr: string, timestamp: string | number, url: string): string;
export function jssdkConfig(appId: string, jsapiTicket: string, url: string, noncestr?: string, timestamp?: string | number):
  { appId: string; timestamp: string; nonceStr: string; signature: string };

export interface AppConfig {
  id: string;
  platform: 'wechat-oa' | 'wecom' | 'jing' | 'cj' | 'result' | 'wechat-component' | 'wecom-suite' | (string & {});
  app_id?: string;
  corp_id?: string;
  agent_id?: string;
  secret?: string;
  token_endpoint?: string;
  base_url?: string;
  hosts?: string[];
  regions?: string[];
  token_path?: string;
  refresh_path?: string;
  token_placement?: { in: 'query' | 'header'; name: string; prefix?: string; extra?: [string, string][] };
  rate_limit?: RateLimit;
  quota?: QuotaConfig;
  /** Seal and sign calls to these APIs (WeChat server API security). */
  api_security?: ApiSecurityConfig;
  /** The callback URL's keys, for platforms that push the ticket the token needs (`wechat-component`, `wecom-suite`). */
  callback?: { token: string; encoding_aes_key: string };
}

export interface ApiSecurityConfig {
  /** AES-256 key, base64. */
  sym_key: string;
  sym_sn: string;
  /** The app's RSA private key, PEM (PKCS#1 or PKCS#8). */
  private_key: string;
  /** Platform certificates (or public keys), PEM, by their serial (`Wechatmp-Serial`). */
  platform_keys: Record<string, string>;
  /** The API paths to seal. */
  paths: string[];
}

export interface RateLimit { per_minute?: number; burst?: number; concurrency?: number }
export interface QuotaConfig { mode?: 'enforce' | 'warn' | 'off'; tier?: 'new' | 'test'; limits?: Record<string, number> }

export interface Config {
  apps: AppConfig[];
  refresh_margin_ms?: number;
  quota?: QuotaConfig;
  store?: 'memory' | 'external';
  store_prefix?: string;
  lease_ms?: number;
  store_poll_ms?: number;
  instance_id?: string;
  seed?: number;
  retry?: { max_attempts?: number; base_delay_ms?: number; max_delay_ms?: number; jitter?: boolean; max_rate_limit_retries?: number };
  failover?: { threshold?: number; cooldown_ms?: number };
  rate_limit?: RateLimit;
  timeout_ms?: number;
  profiles?: Record<string, unknown>;
  /** 32+ random bytes, base64 (the Client and Engine add them from node:crypto when absent). */
  entropy?: string;
}

/** A store operation for fleet mode (Redis: GET, SET PX, SET NX PX, compare-and-delete, INCRBY). */
export type StoreOp =
  | { id: number; op: 'get'; key: string }
  | { id: number; op: 'set'; key: string; value: string; ttl_ms: number }
  | { id: number; op: 'lock'; key: string; owner: string; ttl_ms: number }
  | { id: number; op: 'unlock'; key: string; owner: string }
  | { id: number; op: 'incr_by'; key: string; delta: number; ttl_ms: number };

export type StoreResult = { value: string | null } | { ok: true } | { locked: boolean } | { count: number } | { error: string };

export interface Store { execute(op: StoreOp): Promise<StoreResult> }

/** What RedisStore needs of an ioredis client: `defineCommand` (scripts by SHA), or else `eval`. */
export type RedisLike = {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, px: 'PX', ttlMs: number): Promise<unknown>;
  set(key: string, value: string, px: 'PX', ttlMs: number, nx: 'NX'): Promise<unknown>;
} & (
  | { defineCommand(name: string, definition: { numberOfKeys: number; lua: string }): void }
  | { eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown> }
);

/** Fleet mode over Redis (ioredis): executes the engine's store operations, no decisions. */
export class RedisStore implements Store {
  constructor(client: RedisLike);
  readonly client: RedisLike;
  execute(op: StoreOp): Promise<StoreResult>;
}

/** The level the core gives each event. */
export type EventLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * Where the Client logs each event (`console`, pino, …): `logger[event.level]({ event }, message)`,
 * the message one line, `token_fetched app=oa expires_at_ms=… source=http`.
 */
export type Logger = { [L in EventLevel]: (fields: { event: WxEvent }, message: string) => void };

export interface ClientOptions extends Omit<Config, 'store'> {
  fetch?: typeof fetch;
  /** A store adapter (turns fleet mode on), or the config's mode. */
  store?: Store | 'memory' | 'external';
  now?: () => number;
  /** Receives every engine event at its level (off by default; NODE_DEBUG=wxcore prints them too). */
  logger?: Logger;
}

/**
 * How a request failed below HTTP: `dns` (did not resolve), `dns_timeout`,
 * `connect` (refused or unreachable), `connect_timeout`, `timeout` (no answer
 * within the request's timeout), `reset`, `tls`.
 */
export type TransportKind = 'dns' | 'dns_timeout' | 'connect' | 'connect_timeout' | 'timeout' | 'reset' | 'tls';

/** The kind the Client reports for a fetch failure (undici cannot tell a DNS timeout apart). */
export function transportKind(err: unknown): Exclude<TransportKind, 'dns_timeout'>;

export interface CallOptions {
  query?: Record<string, string | number> | [string, string | number][];
  json?: unknown;
  body?: Uint8Array | string;
  contentType?: string;
  idempotent?: boolean;
  full?: boolean;
  /** This call's deadline from submit to completion (overrides `call_timeout_ms`); past it, WxError `timeout`. */
  timeoutMs?: number;
  /** Aborting withdraws the call: never sent if it was not yet, else WxError `cancelled` at once. */
  signal?: AbortSignal;
}

export interface FullReply<T = unknown> { status: number; headers: [string, string][]; data: T }

/** An engine event (token fetched, failover, quota warning, …); never a token or secret. */
export interface WxEvent { type: string; level: EventLevel; app?: string; [field: string]: unknown }

/** What an alert counts: a kind of failure, per app. */
export type AlertCategory =
  | 'dns_failure' | 'dns_timeout' | 'connect_failure' | 'connect_timeout' | 'request_timeout'
  | 'connection_reset' | 'tls_failure' | 'response_invalid' | 'mark_fail';

/** The cached token, by id (a hash prefix): never its value. */
export interface TokenStatus {
  /** 16 hex digits of a SHA-256 of the token: tells tokens apart, reveals nothing. */
  id: string;
  obtained_at_ms: number | null;
  age_ms: number | null;
  expires_at_ms: number;
  remaining_ms: number;
  /** When the engine will refresh it; null if never before it expires. */
  refresh_at_ms: number | null;
}

export interface RefreshStatus {
  at_ms: number;
  trigger: 'initial' | 'refresh' | 'expired' | 'invalidated';
  /** `ok`, or the error kind the fetch failed with. */
  result: 'ok' | ErrorKind;
  code: number | string | null;
}

export interface AppStatus {
  app: string;
  platform: string;
  /** Where the token comes from: the app's secret, a token server, a relay, or a static token. */
  credential: 'secret' | 'server' | 'relay' | 'static';
  token: TokenStatus | null;
  /** A token fetch is under way. */
  fetching: boolean;
  last_refresh: RefreshStatus | null;
  refreshes: number;
  /** Calls held back by the rate limit. */
  queued: number;
  in_flight: number;
  waiting_for_token: number;
  /** Calls are refused locally until then (IP blocked). */
  blocked_until_ms: number | null;
}

/** Today's use of one API with a daily quota. */
export interface QuotaStatus {
  app: string;
  api: string;
  used: number;
  limit: number | null;
  /** floor(used * 100 / limit); null without a limit. */
  percent: number | null;
  exhausted: boolean;
  /** The next reset (00:00 Asia/Shanghai). */
  resets_at_ms: number;
}

/** A host's circuit. */
export interface HostStatus {
  host: string;
  state: 'closed' | 'open' | 'half_open';
  until_ms: number | null;
  failures: number;
}

export interface AlertStatus {
  app: string;
  category: AlertCategory;
  /** While its 5-minute window has not ended. */
  open: boolean;
  first_seen_ms: number;
  /** `first_seen_ms` as UTC text (`2023-11-14 22:13:20 UTC`). */
  first_seen: string;
  last_seen_ms: number;
  window_start_ms: number;
  /** The alert window's length (5 minutes). */
  window_ms: number;
  /** Failures in the current window; 0 once it has ended. */
  count_window: number;
  count_total: number;
  /** The latest failure: where, and what (never a token or a user id). */
  sample: { host: string; api: string; error: string };
}

/** The status snapshot (`client.status()`), the same document in every language. */
export interface Status {
  /** The layout's version: bumped when a field changes meaning. */
  version: number;
  now_ms: number;
  apps: AppStatus[];
  quotas: QuotaStatus[];
  hosts: HostStatus[];
  alerts: AlertStatus[];
}

export class Client extends EventEmitter {
  constructor(options: ClientOptions);
  readonly engine: Engine;
  /** The parsed JSON reply (or a Buffer for binary bodies); rejects with WxError. */
  call<T = any>(app: string, method: string, path: string, options?: CallOptions & { full?: false }): Promise<T>;
  call<T = any>(app: string, method: string, path: string, options: CallOptions & { full: true }): Promise<FullReply<T>>;
  on(event: 'event', listener: (event: WxEvent) => void): this;
  /**
   * A request to the callback URL of an app whose token needs a pushed ticket
   * (`wechat-component`, `wecom-suite`): verified, checked against the app,
   * kept if newer. Answer the platform with `reply` at once. Throws a WxError
   * with `reason` when refused (nothing changed).
   */
  handlePush(app: string, method: string, query: Record<string, string> | [string, string][] | URLSearchParams | string, body: Uint8Array | string): {
    reply: string; infoType: string; ticketKept: boolean | null; message: CallbackMessage | null;
    /** For an authorization push: the authorizer's app name, `{component}/{authorizer_appid}`. */
    authorizer: string | null;
  };
  exportState(): string;
  /** The status snapshot: tokens by id (never their value), quotas, circuits, alerts. */
  status(): Status;
  /** The Prometheus text exposition (format 0.0.4) of the engine's counters and gauges. */
  metrics(): string;
  /** A JS-SDK ticket (`jsapi`, `wx_card`; WeCom `jsapi`, `agent_config`), cached and renewed by the engine. */
  ticket(app: string, kind?: string): Promise<string>;
  /** The wx.config object for a page at `url`, signed with the app's cached ticket. */
  jssdkConfig(app: string, url: string, kind?: string): Promise<{ appId: string; timestamp: string; nonceStr: string; signature: string }>;
}

export type Output =
  | { send: { id: number; method: string; url: string; headers: Record<string, string>; body?: string; body_base64?: string; timeout_ms: number } }
  | { store: StoreOp }
  | { done: { call_id: number; ok: true; status: number; is_json: boolean; headers: [string, string][]; json?: unknown; body?: string; body_base64?: string } }
  | { done: { call_id: number; ok: false; error: { kind: ErrorKind; code: number | string | null; message: string; sub_message: string | null; http_status: number | null; retry_after_ms: number | null; app: string; call_id: number; raw_body: string | null } } }
  | { event: WxEvent };

/** An output in the compact form (`Engine.submitPollFrame` …): bodies as bytes, no base64. */
export type FrameOutput =
  | { send: { id: number; method: string; url: string; headers: Record<string, string>; body: Buffer | undefined; timeout_ms: number } }
  | { store: StoreOp }
  | { done: { call_id: number; ok: true; status: number; is_json: boolean; headers: [string, string][]; json?: unknown; bytes?: Buffer } }
  | Extract<Output, { done: { ok: false } }>
  | { event: WxEvent };

/** The engine, for custom drivers. */
/** What a push to a callback URL came to (`Engine.handlePush`). */
export interface Push {
  /** The body to answer the platform with (`success`, or a URL check's echo). */
  reply: string;
  /** The push's InfoType (empty for a URL check). */
  info_type: string;
  /** For a ticket push: whether it replaced the held ticket (false: not newer). */
  ticket_kept: boolean | null;
  /** Any other push (authorizations, suite events), verified and decrypted, for the host to act on. */
  message: Record<string, unknown> | null;
  /** For an authorization push (`authorized`, `updateauthorized`, `unauthorized`): the authorizer's app name. */
  authorizer: string | null;
}

export class Engine {
  constructor(config: Config | string, nowMs?: number);
  static restore(config: Config | string, state: string, nowMs?: number): Engine;
  submit(spec: { app: string; method?: string; path: string; query?: [string, string][]; idempotent?: boolean; content_type?: string; timeout_ms?: number } | string, body?: Uint8Array, nowMs?: number): number;
  handleResponse(id: number, status: number, headers: Record<string, string> | [string, string][] | string, body: Uint8Array, nowMs?: number): void;
  handleTransportError(id: number, kind: TransportKind, nowMs?: number): void;
  /** Withdraws a call: it completes with kind `cancelled`; false if it had already completed. */
  cancel(callId: number, nowMs?: number): boolean;
  handleStoreResult(id: number, result: StoreResult | string, nowMs?: number): void;
  /**
   * A request to an app's callback URL carrying a pushed ticket (open-platform
   * component, WeCom suite): verified, decrypted, kept if newer. Answer the
   * platform with `reply`; a refused push throws a WxError with `reason`.
   */
  handlePush(app: string, method: string, query: Record<string, string> | [string, string][] | URLSearchParams | string, body: Uint8Array | string, nowMs?: number): Push;
  /** Submits and returns the outputs at once (one boundary crossing). */
  submitPoll(spec: Parameters<Engine['submit']>[0], body?: Uint8Array, nowMs?: number): { callId: number; outputs: Output[]; wakeAtMs: number | null };
  /** Feeds an HTTP answer and returns the outputs it caused (one boundary crossing). */
  respondPoll(id: number, status: number, headers: Record<string, string> | [string, string][] | string, body: Uint8Array, nowMs?: number): { outputs: Output[]; wakeAtMs: number | null };
  poll(nowMs?: number): { outputs: Output[]; wakeAtMs: number | null };
  /** `submitPoll` in the compact form (what the Client uses): no JSON document per crossing, bodies as bytes. */
  submitPollFrame(spec: Parameters<Engine['submit']>[0], body?: Uint8Array, nowMs?: number): { callId: number; outputs: FrameOutput[]; wakeAtMs: number | null };
  /** `respondPoll` in the compact form; `headers` a fetch `Headers`, a Map or an object. */
  respondPollFrame(id: number, status: number, headers: { forEach(cb: (value: string, key: string) => void): void } | Record<string, string> | [string, string][], body: Uint8Array, nowMs?: number): { callId: number; outputs: FrameOutput[]; wakeAtMs: number | null };
  pollFrame(nowMs?: number): { callId: number; outputs: FrameOutput[]; wakeAtMs: number | null };
  pollJson(nowMs?: number): string;
  exportState(): string;
  /** The status snapshot. */
  status(nowMs?: number): Status;
  /** The status snapshot as JSON text. */
  statusJson(nowMs?: number): string;
  /** The Prometheus text exposition of the engine's counters and gauges. */
  metrics(nowMs?: number): string;
}

/** API security: seals `plaintext` into `{"iv","data","authtag"}` (AAD `urlPath|appId|timestamp|symSn`). */
export function apiSecuritySeal(symKey: string, symSn: string, appId: string, urlPath: string, timestamp: number, iv: Uint8Array, plaintext: string | Uint8Array): string;
/** API security: the plaintext of a sealed body; throws WxError (`signature_invalid`) if it does not open. */
export function apiSecurityOpen(symKey: string, symSn: string, appId: string, urlPath: string, timestamp: number, body: string | Uint8Array): Buffer;
/** API security: RSA-PSS SHA-256 (salt 32) signature, base64; `seed` defaults to 32 bytes from node:crypto. */
export function apiSecuritySign(privateKeyPem: string, urlPath: string, appId: string, timestamp: number, data: string | Uint8Array, seed?: Uint8Array): string;
/** API security: whether `signature` verifies under `keyPem` (certificate, public or private key). */
export function apiSecurityVerify(keyPem: string, urlPath: string, appId: string, timestamp: number, data: string | Uint8Array, signature: string): boolean;
