// ESM entry: the same driver as the CommonJS one (one implementation).
import cjs from './index.cjs';

export const { Client, Engine, WxError, KINDS, CallbackCrypto, CallbackMessage, jssdkSignature, jssdkConfig, transportKind, RedisStore,
  apiSecuritySeal, apiSecurityOpen, apiSecuritySign, apiSecurityVerify } = cjs;
export default cjs;
