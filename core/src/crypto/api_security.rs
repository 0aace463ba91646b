//! WeChat server API security: sealed, signed requests; verified, opened replies.
//!
//! Request: the call's JSON parameters plus `_n` (random), `_appid` and
//! `_timestamp` are sealed with AES-256-GCM (12-byte IV, AAD
//! `urlpath|appid|timestamp|sym_sn`) into `{"iv","data","authtag"}`, and
//! `urlpath\nappid\ntimestamp\npostdata` is signed with RSA-PSS SHA-256
//! (salt 32). Neither key number is part of the signed string: putting one
//! there is what earns 40234. `urlpath` is the full URL with scheme and
//! host, without the query.
//!
//! Reply: the signature over `urlpath\nappid\ntimestamp\nrespdata` is checked
//! with the platform key named by `Wechatmp-Serial`, or during a rotation
//! with the `Wechatmp-Serial-Deprecated` / `Wechatmp-Signature-Deprecated`
//! pair, and the body is opened with the same symmetric key and an AAD built
//! from the reply's own timestamp.
//!
//! Randomness (IVs, `_n`, the PSS salt, RSA blinding) comes from a CSPRNG
//! seeded with entropy the host passes in: the core reads no OS randomness.

use crate::config::{ApiSecurityConfig, Secret};
use crate::crypto::callback::CallbackError;
use crate::error::{ConfigError, ErrorKind};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::pss::{Signature, SigningKey, VerifyingKey};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::value::RawValue;
use sha2::Sha256;
use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// The crypto layer's error, shared with callbacks.
pub type SecurityError = CallbackError;

fn err(kind: ErrorKind, reason: &'static str, message: impl Into<String>) -> SecurityError {
    CallbackError::new(kind, reason, message)
}

fn bad_key(message: impl Into<String>) -> SecurityError {
    err(ErrorKind::Config, "bad_key", message)
}

/// The CSPRNG that makes API security's IVs (the stand-in without the
/// feature has none).
pub(crate) type Csprng = ChaCha20Rng;

/// The host's entropy as a CSPRNG (at least 32 bytes, base64).
pub(crate) fn csprng(entropy: &Secret) -> Result<ChaCha20Rng, ConfigError> {
    Ok(ChaCha20Rng::from_seed(super::entropy_seed(entropy)?))
}

/// A 32-byte symmetric key from base64.
pub fn sym_key(base64: &str) -> Result<[u8; 32], SecurityError> {
    let bytes = STANDARD
        .decode(base64.trim())
        .map_err(|_| bad_key("the symmetric key is not base64"))?;
    bytes
        .try_into()
        .map_err(|_| bad_key("the symmetric key must be 32 bytes (AES-256)"))
}

/// An RSA private key from PEM (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`).
fn private_key(pem: &str) -> Result<RsaPrivateKey, SecurityError> {
    let pem = pem.trim();
    RsaPrivateKey::from_pkcs1_pem(pem)
        .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem))
        .map_err(|_| bad_key("not an RSA private key in PEM (PKCS#1 or PKCS#8)"))
}

/// An RSA public key from PEM: a certificate (as the platform hands it
/// out), `PUBLIC KEY`, `RSA PUBLIC KEY`, or a private key (its public half).
pub fn public_key(pem: &str) -> Result<RsaPublicKey, SecurityError> {
    let pem = pem.trim();
    if pem.contains("CERTIFICATE") {
        let der = certificate_spki(pem).ok_or_else(|| bad_key("not a PEM X.509 certificate"))?;
        return RsaPublicKey::from_public_key_der(&der)
            .map_err(|_| bad_key("the certificate does not hold an RSA key"));
    }
    if pem.contains("PRIVATE KEY") {
        return private_key(pem).map(|k| k.to_public_key());
    }
    RsaPublicKey::from_public_key_pem(pem)
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
        .map_err(|_| bad_key("not an RSA public key or certificate in PEM"))
}

/// The SubjectPublicKeyInfo of a PEM certificate, as DER. Only that field
/// is needed, so the certificate is walked with `der`'s reader rather than
/// decoded whole (a full X.509 decoder costs the wasm build tens of KB):
/// Certificate = SEQUENCE { tbs SEQUENCE { [0] version?, serial, signature,
/// issuer, validity, subject, subjectPublicKeyInfo, … }, … }.
fn certificate_spki(pem: &str) -> Option<Vec<u8>> {
    use rsa::pkcs8::der::asn1::AnyRef;
    use rsa::pkcs8::der::{Decode, Encode, Reader, SliceReader, Tag, TagNumber};
    let (label, der) = rsa::pkcs8::der::pem::decode_vec(pem.as_bytes()).ok()?;
    if label != "CERTIFICATE" {
        return None;
    }
    let mut outer = SliceReader::new(&der).ok()?;
    outer
        .sequence(|cert| {
            let spki = cert.sequence(|tbs| {
                let version = Tag::ContextSpecific {
                    constructed: true,
                    number: TagNumber::N0,
                };
                if tbs.peek_tag()? == version {
                    AnyRef::decode(tbs)?;
                }
                for _ in 0..5 {
                    // serial, signature, issuer, validity, subject
                    AnyRef::decode(tbs)?;
                }
                let spki = AnyRef::decode(tbs)?.to_der()?;
                let rest = tbs.remaining_len();
                tbs.read_slice(rest)?;
                Ok(spki)
            })?;
            let rest = cert.remaining_len();
            cert.read_slice(rest)?;
            Ok(spki)
        })
        .ok()
}

fn aad(url_path: &str, app_id: &str, timestamp: u64, sym_sn: &str) -> String {
    format!("{url_path}|{app_id}|{timestamp}|{sym_sn}")
}

fn signed_string(url_path: &str, app_id: &str, timestamp: u64, data: &[u8]) -> Vec<u8> {
    let mut s = format!("{url_path}\n{app_id}\n{timestamp}\n").into_bytes();
    s.extend_from_slice(data);
    s
}

/// Seals `plaintext` into the body `{"iv","data","authtag"}` (all base64).
pub fn seal(
    key: &[u8; 32],
    sym_sn: &str,
    app_id: &str,
    url_path: &str,
    timestamp: u64,
    iv: &[u8; 12],
    plaintext: &[u8],
) -> String {
    let cipher = Aes256Gcm::new(key.into());
    let aad = aad(url_path, app_id, timestamp, sym_sn);
    let mut sealed = cipher
        .encrypt(
            Nonce::from_slice(iv),
            Payload {
                msg: plaintext,
                aad: aad.as_bytes(),
            },
        )
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
    let tag = sealed.split_off(sealed.len() - 16);
    // The platform's documented order, iv, data, authtag: the body is signed
    // as it is sent, so its exact bytes matter. Base64 needs no escaping.
    format!(
        "{{\"iv\":\"{}\",\"data\":\"{}\",\"authtag\":\"{}\"}}",
        STANDARD.encode(iv),
        STANDARD.encode(&sealed),
        STANDARD.encode(&tag)
    )
}

/// Opens a sealed body (`{"iv","data","authtag"}`); the plaintext bytes.
pub fn open(
    key: &[u8; 32],
    sym_sn: &str,
    app_id: &str,
    url_path: &str,
    timestamp: u64,
    body: &[u8],
) -> Result<Vec<u8>, SecurityError> {
    #[derive(serde::Deserialize)]
    struct Sealed<'a> {
        #[serde(borrow)]
        iv: &'a str,
        #[serde(borrow)]
        data: &'a str,
        #[serde(borrow)]
        authtag: &'a str,
    }
    let malformed = || {
        err(
            ErrorKind::MalformedResponse,
            "malformed_body",
            "a sealed body must be {\"iv\",\"data\",\"authtag\"} in base64",
        )
    };
    let s: Sealed = serde_json::from_slice(body).map_err(|_| malformed())?;
    let iv = STANDARD.decode(s.iv).map_err(|_| malformed())?;
    let mut data = STANDARD.decode(s.data).map_err(|_| malformed())?;
    let tag = STANDARD.decode(s.authtag).map_err(|_| malformed())?;
    if iv.len() != 12 || tag.len() != 16 {
        return Err(malformed());
    }
    data.extend_from_slice(&tag);
    let aad = aad(url_path, app_id, timestamp, sym_sn);
    Aes256Gcm::new(key.into())
        .decrypt(
            Nonce::from_slice(&iv),
            Payload {
                msg: &data,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| {
            err(
                ErrorKind::SignatureInvalid,
                "bad_authtag",
                "the sealed body does not open with this key (tampered, or another key or AAD)",
            )
        })
}

/// Signs `urlpath\nappid\ntimestamp\ndata` (RSA-PSS SHA-256, salt 32); base64.
pub fn sign(
    private_key_pem: &str,
    url_path: &str,
    app_id: &str,
    timestamp: u64,
    data: &[u8],
    seed: [u8; 32],
) -> Result<String, SecurityError> {
    let key = SigningKey::<Sha256>::new(private_key(private_key_pem)?);
    let mut rng = ChaCha20Rng::from_seed(seed);
    Ok(sign_with(&key, url_path, app_id, timestamp, data, &mut rng))
}

fn sign_with(
    key: &SigningKey<Sha256>,
    url_path: &str,
    app_id: &str,
    timestamp: u64,
    data: &[u8],
    rng: &mut ChaCha20Rng,
) -> String {
    let msg = signed_string(url_path, app_id, timestamp, data);
    STANDARD.encode(key.sign_with_rng(rng, &msg).to_bytes())
}

/// Whether `signature` (base64) signs `urlpath\nappid\ntimestamp\ndata`
/// under the key in `key_pem` (certificate, public or private key).
pub fn verify(
    key_pem: &str,
    url_path: &str,
    app_id: &str,
    timestamp: u64,
    data: &[u8],
    signature: &str,
) -> Result<bool, SecurityError> {
    let key = VerifyingKey::<Sha256>::new(public_key(key_pem)?);
    Ok(verify_with(
        &key, url_path, app_id, timestamp, data, signature,
    ))
}

fn verify_with(
    key: &VerifyingKey<Sha256>,
    url_path: &str,
    app_id: &str,
    timestamp: u64,
    data: &[u8],
    signature: &str,
) -> bool {
    let Ok(bytes) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(sig) = Signature::try_from(bytes.as_slice()) else {
        return false;
    };
    key.verify(&signed_string(url_path, app_id, timestamp, data), &sig)
        .is_ok()
}

/// How far a signed reply's timestamp may be from the host's clock.
const REPLY_WINDOW_S: u64 = 300;

/// `{"errcode": n, …}` with n ≠ 0.
fn is_platform_error(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("errcode")?.as_i64())
        .is_some_and(|c| c != 0)
}

/// One app's API-security material, parsed once.
pub(crate) struct AppSecurity {
    key: [u8; 32],
    sym_sn: String,
    signer: SigningKey<Sha256>,
    platform: BTreeMap<String, VerifyingKey<Sha256>>,
    paths: HashSet<String>,
}

impl fmt::Debug for AppSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppSecurity")
            .field("sym_sn", &self.sym_sn)
            .field(
                "platform_serials",
                &self.platform.keys().collect::<Vec<_>>(),
            )
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

/// A sealed request's body and headers.
pub(crate) struct Sealed {
    pub(crate) body: Vec<u8>,
    pub(crate) headers: Vec<(String, String)>,
}

impl AppSecurity {
    /// Parses the app's settings; errors name the field under `apps[i].api_security`.
    pub(crate) fn new(i: usize, c: &ApiSecurityConfig) -> Result<AppSecurity, ConfigError> {
        let field = |f: &str| format!("apps[{i}].api_security.{f}");
        let key = sym_key(c.sym_key.expose())
            .map_err(|e| ConfigError::new(field("sym_key"), e.message))?;
        let signer = private_key(c.private_key.expose())
            .map(SigningKey::<Sha256>::new)
            .map_err(|e| ConfigError::new(field("private_key"), e.message))?;
        let mut platform = BTreeMap::new();
        for (serial, pem) in &c.platform_keys {
            let k = public_key(pem).map_err(|e| {
                ConfigError::new(field(&format!("platform_keys.{serial}")), e.message)
            })?;
            platform.insert(serial.clone(), VerifyingKey::<Sha256>::new(k));
        }
        if platform.is_empty() {
            return Err(ConfigError::new(
                field("platform_keys"),
                "at least one platform certificate (by its serial) is needed to verify replies",
            ));
        }
        if c.paths.is_empty() {
            return Err(ConfigError::new(
                field("paths"),
                "name the API paths to seal (those enabled for API security in the console)",
            ));
        }
        Ok(AppSecurity {
            key,
            sym_sn: c.sym_sn.clone(),
            signer,
            platform,
            paths: c.paths.iter().cloned().collect(),
        })
    }

    /// Whether calls to `path` are sealed.
    pub(crate) fn covers(&self, path: &str) -> bool {
        self.paths.contains(path)
    }

    /// Seals and signs one request. `params` is the call's JSON body (an
    /// object, or none for no parameters).
    pub(crate) fn seal_request(
        &self,
        app_id: &str,
        url_path: &str,
        timestamp: u64,
        params: Option<&[u8]>,
        rng: &mut ChaCha20Rng,
    ) -> Result<Sealed, SecurityError> {
        let fields: BTreeMap<String, Box<RawValue>> = match params {
            None => BTreeMap::new(),
            Some(p) if p.iter().all(u8::is_ascii_whitespace) => BTreeMap::new(),
            Some(p) => serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(p)
                .map_err(|_| {
                    err(
                        ErrorKind::InvalidRequest,
                        "not_json_object",
                        "API security seals JSON object parameters: pass `json` as an object",
                    )
                })?
                .into_iter()
                .filter(|(k, _)| !matches!(k.as_str(), "_n" | "_appid" | "_timestamp"))
                .map(|(k, v)| {
                    let raw =
                        RawValue::from_string(v.to_string()).expect("a serialised value is JSON");
                    (k, raw)
                })
                .collect(),
        };
        let mut n = [0u8; 16];
        rng.fill_bytes(&mut n);
        let mut iv = [0u8; 12];
        rng.fill_bytes(&mut iv);
        // The platform's own order: _n, _appid, _timestamp, then the parameters.
        let mut plain = String::with_capacity(96);
        plain.push_str("{\"_n\":");
        plain.push_str(&serde_json::to_string(&URL_SAFE_NO_PAD.encode(n)).expect("string"));
        plain.push_str(",\"_appid\":");
        plain.push_str(&serde_json::to_string(app_id).expect("string"));
        plain.push_str(",\"_timestamp\":");
        plain.push_str(&timestamp.to_string());
        for (k, v) in &fields {
            plain.push(',');
            plain.push_str(&serde_json::to_string(k).expect("string"));
            plain.push(':');
            plain.push_str(v.get());
        }
        plain.push('}');
        let body = seal(
            &self.key,
            &self.sym_sn,
            app_id,
            url_path,
            timestamp,
            &iv,
            plain.as_bytes(),
        );
        let signature = sign_with(
            &self.signer,
            url_path,
            app_id,
            timestamp,
            body.as_bytes(),
            rng,
        );
        Ok(Sealed {
            body: body.into_bytes(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("wechatmp-appid".into(), app_id.into()),
                ("wechatmp-timestamp".into(), timestamp.to_string()),
                ("wechatmp-signature".into(), signature),
            ],
        })
    }

    /// Verifies and opens a reply. `Ok(None)`: the reply is not sealed (a
    /// plain platform error such as 40234), to be read as it is.
    pub(crate) fn open_reply(
        &self,
        app_id: &str,
        url_path: &str,
        header: impl Fn(&str) -> Option<String>,
        body: &[u8],
        now_s: u64,
    ) -> Result<Option<Vec<u8>>, SecurityError> {
        let invalid = |reason: &'static str, message: String| {
            err(ErrorKind::SignatureInvalid, reason, message)
        };
        let Some(signature) = header("wechatmp-signature") else {
            // Only a platform error may come unsigned (40234 and its kin);
            // an unsigned success could be anyone's.
            return if is_platform_error(body) {
                Ok(None)
            } else {
                Err(invalid(
                    "missing_signature",
                    "a sealed API answered without Wechatmp-Signature".into(),
                ))
            };
        };
        let timestamp: u64 = header("wechatmp-timestamp")
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| {
                invalid(
                    "missing_timestamp",
                    "the reply has no Wechatmp-TimeStamp".into(),
                )
            })?;
        if header("wechatmp-appid").is_none_or(|a| a.trim() != app_id) {
            return Err(invalid(
                "appid_mismatch",
                "the reply's Wechatmp-Appid is missing or not this app's".into(),
            ));
        }
        // A signed reply is only good for a while: an old one replayed for
        // the same URL must not pass for today's answer.
        if timestamp.abs_diff(now_s) > REPLY_WINDOW_S {
            return Err(invalid(
                "stale_timestamp",
                format!(
                    "the reply's timestamp is {} s away from now (window {REPLY_WINDOW_S} s)",
                    timestamp.abs_diff(now_s)
                ),
            ));
        }
        // The current serial first; during a rotation the deprecated pair.
        let pairs = [
            (header("wechatmp-serial"), Some(signature)),
            (
                header("wechatmp-serial-deprecated"),
                header("wechatmp-signature-deprecated"),
            ),
        ];
        let mut known = false;
        for (serial, sig) in pairs {
            let (Some(serial), Some(sig)) = (serial, sig) else {
                continue;
            };
            let Some(key) = self.platform.get(serial.trim()) else {
                continue;
            };
            known = true;
            if verify_with(key, url_path, app_id, timestamp, body, &sig) {
                return open(&self.key, &self.sym_sn, app_id, url_path, timestamp, body).map(Some);
            }
        }
        Err(if known {
            invalid(
                "bad_signature",
                "the reply's signature does not verify".into(),
            )
        } else {
            invalid(
                "unknown_serial",
                "the reply is signed with a platform certificate not in platform_keys".into(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_material_is_a_clear_error() {
        assert_eq!(sym_key("AAAA").unwrap_err().reason, "bad_key");
        assert_eq!(public_key("nope").unwrap_err().reason, "bad_key");
        let e = open(&[0; 32], "sn", "wx", "https://h/p", 1, b"{}").unwrap_err();
        assert_eq!(e.reason, "malformed_body");
    }

    #[test]
    fn sealed_bodies_open_only_with_the_same_aad() {
        let body = seal(
            &[7; 32],
            "sn",
            "wx1",
            "https://h/p",
            10,
            &[1; 12],
            b"{\"a\":1}",
        );
        assert_eq!(
            open(&[7; 32], "sn", "wx1", "https://h/p", 10, body.as_bytes()).unwrap(),
            b"{\"a\":1}"
        );
        for (sn, app, url, ts) in [
            ("sn2", "wx1", "https://h/p", 10),
            ("sn", "wx2", "https://h/p", 10),
            ("sn", "wx1", "https://h/q", 10),
            ("sn", "wx1", "https://h/p", 11),
        ] {
            let e = open(&[7; 32], sn, app, url, ts, body.as_bytes()).unwrap_err();
            assert_eq!(e.reason, "bad_authtag");
        }
    }
}
