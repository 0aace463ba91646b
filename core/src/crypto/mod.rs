//! Cryptography at the platforms' edges: callback messages (WXBizMsgCrypt)
//! and JS-SDK signatures (`callback`), API security's sealed and signed
//! calls (`api_security`). RustCrypto primitives only.

pub mod api_security;
pub mod callback;
