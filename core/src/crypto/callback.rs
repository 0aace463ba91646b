//! Callback crypto (WXBizMsgCrypt) and JS-SDK signatures.
//!
//! - URL verification in both styles: the Official Account's plain
//!   `signature` over token/timestamp/nonce (answer: `echostr` unchanged) and
//!   WeCom's `msg_signature` over token/timestamp/nonce/echostr (answer: the
//!   decrypted echostr). Which style a receiver accepts is decided here, from
//!   the parameter that carries the signature and the receiver's
//!   [`UrlCheck`]: a `msg_signature` is only ever checked as the four-part
//!   signature, and a receiver set to [`UrlCheck::MsgSignature`] (WeCom,
//!   bots, suites) never accepts the three-part one. The parts are hashed
//!   sorted and joined without separators, so a three-part check accepted
//!   where only the four-part one is valid could be forged by re-cutting an
//!   observed signature's parts, with an echostr of the attacker's choosing.
//! - Messages are one XML element or one JSON object, nothing else; nested
//!   elements become nested objects, repeated ones arrays ([`CallbackMessage`]).
//! - Messages: `msg_signature = sha1(sort([token, timestamp, nonce, Encrypt]))`;
//!   AES-256-CBC with key = base64(EncodingAESKey + "="), IV = key[0..16],
//!   PKCS#7 padding to 32-byte blocks; plaintext = 16 random bytes ‖ u32 BE
//!   length ‖ message ‖ receive id.
//!
//! Receive-id confusion, `signature` vs `msg_signature` confusion and missing
//! bounds checks are what most often break callbacks in existing SDKs, so
//! the receive id is checked strictly by default, each style has its own
//! method, and every length is checked before it is used. Signatures are
//! compared in constant time. Randomness (the 16 leading bytes) and the
//! clock (the optional replay window) come from the host.

use crate::config::Secret;
use crate::error::ErrorKind;
use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::{Digest, Sha1};
use std::collections::BTreeMap;
use std::fmt;
use subtle::ConstantTimeEq;

/// EncodingAESKeys are 43 characters whose last one carries 2 spare bits,
/// which the platforms' own samples leave non-zero: decode leniently.
const KEY_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

type Dec = cbc::Decryptor<aes::Aes256>;
type Enc = cbc::Encryptor<aes::Aes256>;

/// Why a callback was refused. `kind` is the stable cross-language kind
/// (`signature_invalid` for signatures and replays, `invalid_request` for a
/// malformed body, `config` for a bad key); `reason` says exactly what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackError {
    /// Stable kind.
    pub kind: ErrorKind,
    /// Stable reason: `bad_signature`, `stale_timestamp`, `receive_id_mismatch`,
    /// `invalid_encoding_aes_key`, `bad_base64`, `bad_padding`, `bad_length`,
    /// `not_utf8`, `missing_encrypt`, `malformed_body`.
    pub reason: &'static str,
    /// Human explanation (never a key, token or plaintext).
    pub message: String,
}

impl CallbackError {
    pub(crate) fn new(kind: ErrorKind, reason: &'static str, message: impl Into<String>) -> Self {
        CallbackError {
            kind,
            reason,
            message: message.into(),
        }
    }
    fn signature() -> Self {
        Self::new(
            ErrorKind::SignatureInvalid,
            "bad_signature",
            "signature does not match",
        )
    }
    fn body(reason: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, reason, message)
    }
}

impl fmt::Display for CallbackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.kind, self.reason, self.message)
    }
}

impl std::error::Error for CallbackError {}

/// `sha1(concat(sort(parts)))` as lower-case hex: the callback signature.
pub fn signature(parts: &[&str]) -> String {
    let mut sorted: Vec<&str> = parts.to_vec();
    sorted.sort_unstable();
    let mut h = Sha1::new();
    for p in sorted {
        h.update(p.as_bytes());
    }
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The JS-SDK signature: `sha1("jsapi_ticket=…&noncestr=…&timestamp=…&url=…")`,
/// the URL taken without its `#fragment`.
pub fn jssdk_signature(jsapi_ticket: &str, noncestr: &str, timestamp: &str, url: &str) -> String {
    let url = url.split('#').next().unwrap_or(url);
    let mut h = Sha1::new();
    h.update(
        format!("jsapi_ticket={jsapi_ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}")
            .as_bytes(),
    );
    hex(&h.finalize())
}

/// The object a page passes to `wx.config`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JssdkConfig {
    /// The Official Account's AppID (or the WeCom corp id).
    pub app_id: String,
    /// Seconds, as sent.
    pub timestamp: String,
    /// The nonce, as sent.
    pub nonce_str: String,
    /// [`jssdk_signature`] over them.
    pub signature: String,
}

impl JssdkConfig {
    /// The object exactly as a page passes it to `wx.config`:
    /// `{"appId", "timestamp", "nonceStr", "signature"}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "appId": self.app_id,
            "timestamp": self.timestamp,
            "nonceStr": self.nonce_str,
            "signature": self.signature,
        })
        .to_string()
    }
}

/// Everything `wx.config` needs for a page at `url`.
pub fn jssdk_config(
    app_id: &str,
    jsapi_ticket: &str,
    noncestr: &str,
    timestamp: &str,
    url: &str,
) -> JssdkConfig {
    JssdkConfig {
        app_id: app_id.into(),
        timestamp: timestamp.into(),
        nonce_str: noncestr.into(),
        signature: jssdk_signature(jsapi_ticket, noncestr, timestamp, url),
    }
}

/// Which receive ids a decrypted message may carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiveIds {
    /// Exactly the configured one (the default).
    Strict,
    /// Any of these (corp id and suite id; "" for WeCom bots).
    AnyOf(Vec<String>),
}

/// Which URL check a receiver accepts (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum UrlCheck {
    /// Official Account receivers: the plain `signature` over token,
    /// timestamp and nonce, answered with `echostr` unchanged; a
    /// `msg_signature` is still checked as the four-part signature.
    Signature,
    /// WeCom apps, suites and bots (and any receiver whose URL check carries
    /// an encrypted echostr): only the four-part `msg_signature`, answered
    /// with the decrypted echostr. A plain `signature` is refused.
    MsgSignature,
    /// Not configured (the default, for compatibility): a `msg_signature`
    /// parameter is checked as four-part, a `signature` parameter as
    /// three-part; [`CallbackCrypto::verify_url`], which is not told the
    /// parameter's name, tries the three-part check, then the four-part one.
    #[default]
    Either,
}

impl UrlCheck {
    /// `"signature"` (also `"plain"`, `"oa"`), `"msg_signature"` (also
    /// `"encrypted"`, `"wecom"`) or `"either"`; anything else is a `config` error.
    pub fn parse(name: &str) -> Result<Self, CallbackError> {
        match name {
            "signature" | "plain" | "oa" => Ok(UrlCheck::Signature),
            "msg_signature" | "encrypted" | "wecom" => Ok(UrlCheck::MsgSignature),
            "either" => Ok(UrlCheck::Either),
            _ => Err(CallbackError::new(
                ErrorKind::Config,
                "invalid_url_check",
                "url_check must be \"signature\" (Official Accounts), \"msg_signature\" \
                 (WeCom, bots, suites) or \"either\"",
            )),
        }
    }

    /// The canonical name.
    pub fn as_str(self) -> &'static str {
        match self {
            UrlCheck::Signature => "signature",
            UrlCheck::MsgSignature => "msg_signature",
            UrlCheck::Either => "either",
        }
    }
}

/// A decrypted message: the root element's children (XML) or the object's
/// fields (JSON). `value` is the whole structure: an element with child
/// elements is an object, an element repeated under one parent is an array
/// (in document order), any other element is its text; JSON keeps its
/// objects and arrays, its other values as their text (`1`, `true`).
/// `fields` holds the top-level text fields alone, for the typed accessors.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CallbackMessage {
    /// Top-level field name → text (nested and repeated fields are in `value` only).
    pub fields: BTreeMap<String, String>,
    /// The whole message: field name → text, object or array.
    pub value: serde_json::Map<String, serde_json::Value>,
}

impl CallbackMessage {
    fn from_value(value: serde_json::Map<String, serde_json::Value>) -> Self {
        let fields = value
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect();
        CallbackMessage { fields, value }
    }
    /// The message as one JSON object (what the bindings hand their drivers).
    pub fn to_json(&self) -> String {
        serde_json::Value::Object(self.value.clone()).to_string()
    }
    /// A top-level field, whatever its shape (`ScanCodeInfo`, `SendPicsInfo`, …).
    pub fn field(&self, name: &str) -> Option<&serde_json::Value> {
        self.value.get(name)
    }
    /// A top-level text field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
    /// `MsgType`.
    pub fn msg_type(&self) -> Option<&str> {
        self.get("MsgType")
    }
    /// `Event`.
    pub fn event(&self) -> Option<&str> {
        self.get("Event")
    }
    /// `FromUserName`.
    pub fn from_user(&self) -> Option<&str> {
        self.get("FromUserName")
    }
    /// `ToUserName`.
    pub fn to_user(&self) -> Option<&str> {
        self.get("ToUserName")
    }
    /// `CreateTime` (seconds).
    pub fn create_time(&self) -> Option<u64> {
        self.get("CreateTime")?.trim().parse().ok()
    }
    /// `AgentID` (WeCom).
    pub fn agent_id(&self) -> Option<u64> {
        self.get("AgentID")?.trim().parse().ok()
    }
}

/// The encrypted reply envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedReply {
    /// Base64 ciphertext.
    pub encrypt: String,
    /// Its `msg_signature`.
    pub msg_signature: String,
    /// As given.
    pub timestamp: String,
    /// As given.
    pub nonce: String,
}

impl EncryptedReply {
    /// The passive-reply XML body.
    pub fn to_xml(&self) -> String {
        format!(
            "<xml><Encrypt><![CDATA[{}]]></Encrypt><MsgSignature><![CDATA[{}]]></MsgSignature><TimeStamp>{}</TimeStamp><Nonce><![CDATA[{}]]></Nonce></xml>",
            self.encrypt, self.msg_signature, self.timestamp, self.nonce
        )
    }
}

/// What a callback request asks for ([`CallbackCrypto::handle_request`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// A URL check: answer with this body (as text, nothing added).
    Echo(String),
    /// A message, verified (and decrypted): its plaintext and its fields.
    Message {
        /// The XML or JSON text.
        plaintext: String,
        /// Its fields.
        message: CallbackMessage,
    },
}

/// WXBizMsgCrypt for one app: `CallbackCrypto::new(token, encoding_aes_key, receive_id)`.
#[derive(Clone)]
pub struct CallbackCrypto {
    token: Secret,
    key: [u8; 32],
    receive_id: String,
    accept: ReceiveIds,
    max_age_s: Option<u64>,
    url_check: UrlCheck,
}

impl fmt::Debug for CallbackCrypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackCrypto")
            .field("receive_id", &self.receive_id)
            .field("accept", &self.accept)
            .field("max_age_s", &self.max_age_s)
            .field("url_check", &self.url_check)
            .finish_non_exhaustive()
    }
}

impl CallbackCrypto {
    /// Fails when the EncodingAESKey is not 43 base64 characters.
    pub fn new(
        token: &str,
        encoding_aes_key: &str,
        receive_id: &str,
    ) -> Result<Self, CallbackError> {
        let bad = || {
            CallbackError::new(
                ErrorKind::Config,
                "invalid_encoding_aes_key",
                "EncodingAESKey must be 43 characters of base64 (A-Z, a-z, 0-9, +, /)",
            )
        };
        let ok_chars = encoding_aes_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
        if encoding_aes_key.len() != 43 || !ok_chars {
            return Err(bad());
        }
        let raw = KEY_BASE64.decode(encoding_aes_key).map_err(|_| bad())?;
        let key: [u8; 32] = raw.try_into().map_err(|_| bad())?;
        Ok(CallbackCrypto {
            token: Secret::new(token),
            key,
            receive_id: receive_id.into(),
            accept: ReceiveIds::Strict,
            max_age_s: None,
            url_check: UrlCheck::Either,
        })
    }

    /// Accepts any of these receive ids instead of exactly the configured one.
    pub fn accept_receive_ids(mut self, ids: Vec<String>) -> Self {
        self.accept = ReceiveIds::AnyOf(ids);
        self
    }

    /// Refuses messages whose timestamp is more than `seconds` away from the
    /// `now_s` passed to the `*_at` methods (off by default: the platform
    /// re-delivers, and published samples carry old timestamps).
    pub fn max_age(mut self, seconds: u64) -> Self {
        self.max_age_s = Some(seconds);
        self
    }

    /// Which URL check this receiver accepts (default [`UrlCheck::Either`]).
    pub fn url_check(mut self, style: UrlCheck) -> Self {
        self.url_check = style;
        self
    }

    fn check_age(&self, timestamp: &str, now_s: Option<u64>) -> Result<(), CallbackError> {
        let (Some(max), Some(now)) = (self.max_age_s, now_s) else {
            return Ok(());
        };
        let ts: u64 = timestamp.trim().parse().map_err(|_| {
            CallbackError::new(
                ErrorKind::SignatureInvalid,
                "stale_timestamp",
                "timestamp is not a number",
            )
        })?;
        if now.abs_diff(ts) > max {
            return Err(CallbackError::new(
                ErrorKind::SignatureInvalid,
                "stale_timestamp",
                format!(
                    "timestamp is {} s away from now (at most {max} allowed)",
                    now.abs_diff(ts)
                ),
            ));
        }
        Ok(())
    }

    /// URL verification with the signature as one value, its parameter's
    /// name unknown: the receiver's [`UrlCheck`] decides (`Either` tries the
    /// three-part check, then the four-part one). `now_s` feeds the replay
    /// window. Prefer [`CallbackCrypto::verify_url_param_at`] (or
    /// [`CallbackCrypto::handle_request`]), which know the parameter.
    pub fn verify_url_at(
        &self,
        signature_param: &str,
        timestamp: &str,
        nonce: &str,
        echostr: &str,
        now_s: Option<u64>,
    ) -> Result<String, CallbackError> {
        self.check_age(timestamp, now_s)?;
        let token = self.token.expose();
        if self.url_check != UrlCheck::MsgSignature
            && same(&signature(&[token, timestamp, nonce]), signature_param)
        {
            return Ok(echostr.to_string());
        }
        if self.url_check != UrlCheck::Signature
            && same(
                &signature(&[token, timestamp, nonce, echostr]),
                signature_param,
            )
        {
            return self.open(echostr);
        }
        Err(CallbackError::signature())
    }

    /// URL verification with the parameter that carried the signature:
    /// `msg_signature` is checked as the four-part signature only (answer:
    /// the decrypted echostr), `signature` as the three-part one (answer:
    /// `echostr` unchanged) unless this receiver accepts `msg_signature` only.
    pub fn verify_url_param_at(
        &self,
        param: &str,
        signature_value: &str,
        timestamp: &str,
        nonce: &str,
        echostr: &str,
        now_s: Option<u64>,
    ) -> Result<String, CallbackError> {
        self.check_age(timestamp, now_s)?;
        let token = self.token.expose();
        match param {
            "msg_signature" if self.url_check != UrlCheck::Signature => {
                if same(
                    &signature(&[token, timestamp, nonce, echostr]),
                    signature_value,
                ) {
                    return self.open(echostr);
                }
                Err(CallbackError::signature())
            }
            "signature" if self.url_check != UrlCheck::MsgSignature => {
                if same(&signature(&[token, timestamp, nonce]), signature_value) {
                    return Ok(echostr.to_string());
                }
                Err(CallbackError::signature())
            }
            "signature" | "msg_signature" => Err(CallbackError::new(
                ErrorKind::SignatureInvalid,
                "bad_signature",
                format!(
                    "this receiver checks URLs with `{}` only, not `{param}`",
                    self.url_check.as_str()
                ),
            )),
            _ => Err(CallbackError::body(
                "missing_param",
                "the signature parameter must be `signature` or `msg_signature`",
            )),
        }
    }

    /// [`CallbackCrypto::verify_url_at`] without a replay check.
    pub fn verify_url(
        &self,
        signature: &str,
        timestamp: &str,
        nonce: &str,
        echostr: &str,
    ) -> Result<String, CallbackError> {
        self.verify_url_at(signature, timestamp, nonce, echostr, None)
    }

    /// Verifies and decrypts a POST body (XML with `Encrypt`, or JSON with
    /// `encrypt`/`Encrypt`); returns the plaintext message.
    pub fn decrypt_at(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        body: &str,
        now_s: Option<u64>,
    ) -> Result<String, CallbackError> {
        self.check_age(timestamp, now_s)?;
        let encrypt = extract_encrypt(body)?;
        if !same(
            &signature(&[self.token.expose(), timestamp, nonce, &encrypt]),
            msg_signature,
        ) {
            return Err(CallbackError::signature());
        }
        self.open(&encrypt)
    }

    /// [`CallbackCrypto::decrypt_at`] without a replay check.
    pub fn decrypt(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        body: &str,
    ) -> Result<String, CallbackError> {
        self.decrypt_at(msg_signature, timestamp, nonce, body, None)
    }

    /// [`CallbackCrypto::decrypt`] into a structured message.
    pub fn decrypt_message(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        body: &str,
    ) -> Result<CallbackMessage, CallbackError> {
        parse_message(&self.decrypt(msg_signature, timestamp, nonce, body)?)
    }

    /// [`CallbackCrypto::decrypt_message`] over the body's raw bytes (a body
    /// that is not UTF-8 is `malformed_body`), with the replay window.
    pub fn decrypt_message_bytes(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        body: &[u8],
        now_s: Option<u64>,
    ) -> Result<CallbackMessage, CallbackError> {
        let body = utf8_body(body)?;
        parse_message(&self.decrypt_at(msg_signature, timestamp, nonce, body, now_s)?)
    }

    /// [`CallbackCrypto::handle_request`] over raw bytes: the query as JSON
    /// (`{"name": "value" | ["value", …]}` or `[["name", "value"], …]`) and
    /// the body as sent. Whatever the bytes, the result is a message, an echo
    /// or a [`CallbackError`].
    pub fn handle_request_bytes(
        &self,
        method: &str,
        query_json: &[u8],
        body: &[u8],
        now_s: Option<u64>,
    ) -> Result<Inbound, CallbackError> {
        let query = query_from_json(query_json)?;
        self.handle_request(method, &query, utf8_body(body)?, now_s)
    }

    /// Framework glue: one callback request in (its method, query
    /// parameters and body), what to answer or read out. A GET with
    /// `echostr` is a URL check: `msg_signature`, if present, is checked as
    /// the four-part signature and nothing else; a `signature` alone as the
    /// three-part one, unless the receiver accepts `msg_signature` only
    /// ([`UrlCheck`]). A POST must carry `msg_signature` (safe mode, WeCom,
    /// bots): a POST with only the plain `signature` is refused, since that
    /// signature does not cover the body.
    pub fn handle_request(
        &self,
        method: &str,
        query: &[(String, String)],
        body: &str,
        now_s: Option<u64>,
    ) -> Result<Inbound, CallbackError> {
        let q = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let need = |name: &'static str| {
            q(name).ok_or_else(|| {
                CallbackError::body("missing_param", format!("the query has no `{name}`"))
            })
        };
        let (timestamp, nonce) = (need("timestamp")?, need("nonce")?);
        if method.eq_ignore_ascii_case("GET") {
            let (param, sig) = match (q("msg_signature"), q("signature")) {
                (Some(s), _) => ("msg_signature", s),
                (None, Some(s)) => ("signature", s),
                (None, None) => {
                    return Err(CallbackError::body(
                        "missing_param",
                        "the query has no `msg_signature` or `signature`",
                    ))
                }
            };
            let echo =
                self.verify_url_param_at(param, sig, timestamp, nonce, need("echostr")?, now_s)?;
            return Ok(Inbound::Echo(echo));
        }
        // Only `msg_signature` covers the body. A plain-mode `signature` covers
        // token, timestamp and nonce alone: accepting it would let anyone who
        // saw one query string post any message to an app set up with a key.
        let Some(msg_sig) = q("msg_signature") else {
            return Err(CallbackError::body(
                "missing_param",
                "the query has no `msg_signature` (plain-mode messages are not accepted: \
                 their signature does not cover the body)",
            ));
        };
        let plaintext = self.decrypt_at(msg_sig, timestamp, nonce, body, now_s)?;
        let message = parse_message(&plaintext)?;
        Ok(Inbound::Message { plaintext, message })
    }

    /// Encrypts a reply with the host's 16 random bytes.
    pub fn encrypt(
        &self,
        reply: &str,
        timestamp: &str,
        nonce: &str,
        random16: [u8; 16],
    ) -> EncryptedReply {
        let encrypt = self.seal(reply.as_bytes(), random16);
        let msg_signature = signature(&[self.token.expose(), timestamp, nonce, &encrypt]);
        EncryptedReply {
            encrypt,
            msg_signature,
            timestamp: timestamp.into(),
            nonce: nonce.into(),
        }
    }

    fn seal(&self, msg: &[u8], random16: [u8; 16]) -> String {
        let mut buf = Vec::with_capacity(16 + 4 + msg.len() + self.receive_id.len() + 32);
        buf.extend_from_slice(&random16);
        buf.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        buf.extend_from_slice(msg);
        buf.extend_from_slice(self.receive_id.as_bytes());
        let pad = 32 - buf.len() % 32;
        buf.extend(std::iter::repeat_n(pad as u8, pad));
        let len = buf.len();
        let iv: [u8; 16] = self.key[..16].try_into().expect("16 bytes");
        let out = Enc::new(&self.key.into(), &iv.into())
            .encrypt_padded_mut::<NoPadding>(&mut buf, len)
            .expect("length is a multiple of the block size");
        STANDARD.encode(out)
    }

    fn open(&self, encrypt: &str) -> Result<String, CallbackError> {
        let mut data = ciphertext(encrypt)?;
        let iv: [u8; 16] = self.key[..16].try_into().expect("16 bytes");
        let plain = Dec::new(&self.key.into(), &iv.into())
            .decrypt_padded_mut::<NoPadding>(&mut data)
            .map_err(|_| {
                CallbackError::body(
                    "bad_length",
                    "ciphertext is not a whole number of AES blocks",
                )
            })?;
        self.unpad(plain)
    }

    /// The AES-256 key behind the EncodingAESKey (the IV is its first 16
    /// bytes): for a host decrypting with its own AES ([`Prepared`]).
    pub fn aes_key(&self) -> [u8; 32] {
        self.key
    }

    /// The first half of [`CallbackCrypto::decrypt_at`] for a host with
    /// its own SHA-1 and AES-256-CBC (Node's OpenSSL: software AES in wasm
    /// is most of a callback's time): the replay window and the body's form
    /// checked, and what the host computes. `None`: the `Encrypt` value is
    /// not whole AES blocks of base64; [`CallbackCrypto::decrypt_at`] gives
    /// the refusal (after the signature check, as always).
    pub fn decrypt_prepare(
        &self,
        timestamp: &str,
        nonce: &str,
        body: &str,
        now_s: Option<u64>,
    ) -> Result<Option<Prepared>, CallbackError> {
        self.check_age(timestamp, now_s)?;
        let encrypt = extract_encrypt(body)?;
        let Ok(ciphertext) = ciphertext(&encrypt) else {
            return Ok(None);
        };
        let mut parts = [self.token.expose(), timestamp, nonce, encrypt.as_str()];
        parts.sort_unstable();
        Ok(Some(Prepared {
            signed: parts.concat().into_bytes(),
            ciphertext,
        }))
    }

    /// The second half: every decision on the host's results. `sha1` is
    /// the digest of [`Prepared::signed`], compared with `msg_signature` in
    /// constant time before anything else; `plain` is [`Prepared::ciphertext`]
    /// decrypted (AES-256-CBC, [`CallbackCrypto::aes_key`], no padding
    /// removed), checked as [`CallbackCrypto::decrypt_at`] checks its own.
    pub fn decrypt_finish(
        &self,
        msg_signature: &str,
        sha1: &[u8],
        plain: &[u8],
    ) -> Result<String, CallbackError> {
        if sha1.len() != 20 || !same(&hex(sha1), msg_signature) {
            return Err(CallbackError::signature());
        }
        if plain.is_empty() || plain.len() % 16 != 0 {
            return Err(CallbackError::body(
                "bad_length",
                "plaintext is not a whole number of AES blocks",
            ));
        }
        self.unpad(plain)
    }

    /// Padding, lengths and receive id of a decrypted message: its text.
    fn unpad(&self, plain: &[u8]) -> Result<String, CallbackError> {
        let pad = *plain.last().expect("non-empty") as usize;
        if pad == 0
            || pad > 32
            || pad > plain.len()
            || plain[plain.len() - pad..]
                .iter()
                .any(|&b| b as usize != pad)
        {
            return Err(CallbackError::body(
                "bad_padding",
                "PKCS#7 padding (to 32-byte blocks) is invalid",
            ));
        }
        let content = &plain[..plain.len() - pad];
        if content.len() < 20 {
            return Err(CallbackError::body(
                "bad_length",
                "plaintext is shorter than its 20-byte header",
            ));
        }
        let declared = u32::from_be_bytes(content[16..20].try_into().expect("4 bytes")) as usize;
        let rest = &content[20..];
        if declared > rest.len() {
            return Err(CallbackError::body(
                "bad_length",
                format!(
                    "declared message length {declared} is beyond the {} bytes present",
                    rest.len()
                ),
            ));
        }
        let (msg, receive_id) = rest.split_at(declared);
        let receive_id = std::str::from_utf8(receive_id)
            .map_err(|_| CallbackError::body("not_utf8", "receive id is not UTF-8"))?;
        let accepted = match &self.accept {
            ReceiveIds::Strict => receive_id == self.receive_id,
            ReceiveIds::AnyOf(ids) => ids.iter().any(|id| id == receive_id),
        };
        if !accepted {
            return Err(CallbackError::new(
                ErrorKind::SignatureInvalid,
                "receive_id_mismatch",
                format!(
                    "message is for receive id `{receive_id}`, not `{}`",
                    self.receive_id
                ),
            ));
        }
        String::from_utf8(msg.to_vec())
            .map_err(|_| CallbackError::body("not_utf8", "message is not UTF-8"))
    }
}

/// What a host's own SHA-1 and AES work on ([`CallbackCrypto::decrypt_prepare`]).
pub struct Prepared {
    /// Token, timestamp, nonce and `Encrypt`, sorted and joined: SHA-1 this.
    pub signed: Vec<u8>,
    /// `Encrypt` decoded: whole AES blocks. Decrypt this.
    pub ciphertext: Vec<u8>,
}

// The token is inside `signed`: never printed.
impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("signed", &format_args!("({} bytes)", self.signed.len()))
            .field(
                "ciphertext",
                &format_args!("({} bytes)", self.ciphertext.len()),
            )
            .finish()
    }
}

/// `Encrypt` decoded into whole AES blocks.
fn ciphertext(encrypt: &str) -> Result<Vec<u8>, CallbackError> {
    let data = STANDARD
        .decode(encrypt.trim())
        .map_err(|_| CallbackError::body("bad_base64", "Encrypt is not base64"))?;
    if data.is_empty() || data.len() % 16 != 0 {
        return Err(CallbackError::body(
            "bad_length",
            "ciphertext is not a whole number of AES blocks",
        ));
    }
    Ok(data)
}

/// The body as text: bytes that are not UTF-8 are a malformed body.
fn utf8_body(body: &[u8]) -> Result<&str, CallbackError> {
    std::str::from_utf8(body)
        .map_err(|_| CallbackError::body("malformed_body", "body is not UTF-8"))
}

/// Query parameters from JSON: `{"name": "value" | ["value", …]}` (the
/// first value of a list) or `[["name", "value"], …]`.
pub fn query_from_json(json: &[u8]) -> Result<Vec<(String, String)>, CallbackError> {
    use serde_json::Value;
    let bad = || CallbackError::body("malformed_query", "query parameters are not valid");
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => a.first().and_then(|x| x.as_str()).map(str::to_string),
        _ => None,
    };
    let parsed: Value = serde_json::from_slice(json).map_err(|_| bad())?;
    match parsed {
        Value::Object(m) => m
            .into_iter()
            .map(|(k, v)| Ok((k, text(&v).ok_or_else(bad)?)))
            .collect(),
        Value::Array(items) => items
            .iter()
            .map(|kv| match kv.as_array().map(Vec::as_slice) {
                Some([Value::String(k), v]) => Ok((k.clone(), text(v).ok_or_else(bad)?)),
                _ => Err(bad()),
            })
            .collect(),
        _ => Err(bad()),
    }
}

/// The `Encrypt` value of an XML or JSON callback body.
fn extract_encrypt(body: &str) -> Result<String, CallbackError> {
    let trimmed = body.trim_start();
    if trimmed.starts_with('{') {
        let v: serde_json::Value = serde_json::from_str(trimmed)
            .map_err(|_| CallbackError::body("malformed_body", "body is not valid JSON"))?;
        return v
            .get("encrypt")
            .or_else(|| v.get("Encrypt"))
            .and_then(|e| e.as_str())
            .map(str::to_string)
            .ok_or_else(|| {
                CallbackError::body("missing_encrypt", "JSON body has no `encrypt` field")
            });
    }
    xml_root(trimmed)?
        .get("Encrypt")
        .and_then(|e| e.as_str())
        .map(str::to_string)
        .ok_or_else(|| CallbackError::body("missing_encrypt", "XML body has no <Encrypt> element"))
}

/// One element being read: its name, child elements so far, and text.
struct Open {
    name: String,
    children: Vec<(String, serde_json::Value)>,
    text: String,
}

/// An element's children as an object: a name met more than once under one
/// parent becomes an array of its values, in document order.
fn children_object(
    children: Vec<(String, serde_json::Value)>,
) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::Value;
    let mut out = serde_json::Map::new();
    for (name, value) in children {
        match out.get_mut(&name) {
            None => {
                out.insert(name, value);
            }
            // An element's value is text or an object: an array is a repetition.
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
        }
    }
    out
}

/// The children of the document's one root element. Anything else (no
/// element, a second root, text outside the root, broken XML) is `malformed_body`.
fn xml_root(xml: &str) -> Result<serde_json::Map<String, serde_json::Value>, CallbackError> {
    use quick_xml::events::Event;
    let malformed = |e: &dyn fmt::Display| {
        CallbackError::body(
            "malformed_body",
            format!("body is not one XML element: {e}"),
        )
    };
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<serde_json::Map<String, serde_json::Value>> = None;
    let name_of = |n: quick_xml::name::QName<'_>| String::from_utf8_lossy(n.as_ref()).into_owned();
    // A finished element: into its parent, or as the root.
    let close = |stack: &mut Vec<Open>,
                 root: &mut Option<serde_json::Map<String, serde_json::Value>>,
                 el: Open|
     -> Result<(), CallbackError> {
        let value = if el.children.is_empty() {
            serde_json::Value::String(el.text)
        } else {
            serde_json::Value::Object(children_object(el.children))
        };
        match stack.last_mut() {
            Some(parent) => parent.children.push((el.name, value)),
            None if root.is_some() => return Err(malformed(&"a second root element")),
            None => {
                *root = Some(match value {
                    serde_json::Value::Object(m) => m,
                    _ => serde_json::Map::new(),
                })
            }
        }
        Ok(())
    };
    loop {
        match reader.read_event().map_err(|e| malformed(&e))? {
            Event::Start(e) => {
                if stack.is_empty() && root.is_some() {
                    return Err(malformed(&"a second root element"));
                }
                stack.push(Open {
                    name: name_of(e.name()),
                    children: Vec::new(),
                    text: String::new(),
                });
            }
            Event::Empty(e) => {
                let el = Open {
                    name: name_of(e.name()),
                    children: Vec::new(),
                    text: String::new(),
                };
                close(&mut stack, &mut root, el)?;
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| malformed(&e))?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(malformed(&"text outside the root element")),
                }
            }
            Event::CData(c) => match stack.last_mut() {
                Some(el) => el.text.push_str(&String::from_utf8_lossy(&c)),
                None => return Err(malformed(&"text outside the root element")),
            },
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| malformed(&"unbalanced end tag"))?;
                close(&mut stack, &mut root, el)?;
            }
            Event::Eof => break,
            _ => {} // declaration, comments, processing instructions
        }
    }
    if !stack.is_empty() {
        return Err(malformed(&"unclosed element"));
    }
    root.ok_or_else(|| malformed(&"no root element"))
}

/// A JSON value with every scalar as its text (strings as they are).
fn json_texts(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(_) => v,
        Value::Object(m) => Value::Object(m.into_iter().map(|(k, v)| (k, json_texts(v))).collect()),
        Value::Array(a) => Value::Array(a.into_iter().map(json_texts).collect()),
        other => Value::String(other.to_string()),
    }
}

/// A decrypted plaintext: exactly one XML element, or a JSON object (WeCom
/// bots); anything else is `malformed_body`.
pub fn parse_message(plaintext: &str) -> Result<CallbackMessage, CallbackError> {
    let t = plaintext.trim_start();
    if t.starts_with('{') {
        let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(t)
            .map_err(|_| CallbackError::body("malformed_body", "message is not a JSON object"))?;
        let value = v.into_iter().map(|(k, v)| (k, json_texts(v))).collect();
        return Ok(CallbackMessage::from_value(value));
    }
    if !t.starts_with('<') {
        return Err(CallbackError::body(
            "malformed_body",
            "message is neither one XML element nor a JSON object",
        ));
    }
    Ok(CallbackMessage::from_value(xml_root(t)?))
}
