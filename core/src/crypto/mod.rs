//! Cryptography at the platforms' edges: callback messages (WXBizMsgCrypt)
//! and JS-SDK signatures (`callback`), API security's sealed and signed
//! calls (`api_security`). RustCrypto primitives only.

#[cfg(feature = "api-security")]
pub mod api_security;
#[cfg(not(feature = "api-security"))]
#[path = "api_security_off.rs"]
pub(crate) mod api_security;
pub mod callback;

/// The host's entropy (base64 of at least 32 random bytes) as a 32-byte
/// seed; checked whether or not this build seals calls, so a config is
/// valid or not the same way in every build.
pub(crate) fn entropy_seed(
    entropy: &crate::config::Secret,
) -> Result<[u8; 32], crate::error::ConfigError> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(entropy.expose().trim())
        .ok()
        .filter(|b| b.len() >= 32)
        .ok_or_else(|| {
            crate::error::ConfigError::new("entropy", "must be base64 of at least 32 random bytes")
        })?;
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&bytes[..32]);
    Ok(seed)
}
