//! Callback crypto and JS-SDK signatures against the platforms' published
//! values (tests/vectors/crypto-official.json, copied byte for byte from
//! the shared vectors), plus every refusal the core must make.

use aes::cipher::{block_padding::NoPadding, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;
use wxcore::callback::{jssdk_config, jssdk_signature, signature, CallbackCrypto, CallbackError};

/// The keys' last character carries non-zero spare bits (as the platforms' samples do).
fn lenient() -> base64::engine::GeneralPurpose {
    let cfg = base64::engine::GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent);
    base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, cfg)
}

fn vectors() -> Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/crypto-official.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("missing {k}"))
}

fn crypto(v: &Value) -> CallbackCrypto {
    CallbackCrypto::new(s(v, "token"), s(v, "encoding_aes_key"), s(v, "receive_id")).unwrap()
}

fn xml_body(encrypt: &str) -> String {
    format!("<xml><ToUserName><![CDATA[gh_x]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
}

#[test]
fn official_callback_samples_decrypt_byte_for_byte() {
    let d = vectors();
    for v in d["callback"].as_array().unwrap() {
        let c = crypto(v);
        let plain = c
            .decrypt(
                s(v, "msg_signature"),
                s(v, "timestamp"),
                s(v, "nonce"),
                &xml_body(s(v, "encrypt")),
            )
            .unwrap();
        assert_eq!(plain, s(v, "plaintext"), "{}", s(v, "name"));
        // The JSON body form (bots, mini programs) reads the same field.
        let json = format!(r#"{{"encrypt":"{}"}}"#, s(v, "encrypt"));
        assert_eq!(
            c.decrypt(
                s(v, "msg_signature"),
                s(v, "timestamp"),
                s(v, "nonce"),
                &json
            )
            .unwrap(),
            s(v, "plaintext")
        );
        assert_eq!(
            signature(&[
                s(v, "token"),
                s(v, "timestamp"),
                s(v, "nonce"),
                s(v, "encrypt")
            ]),
            s(v, "msg_signature")
        );
    }
}

#[test]
fn official_samples_reencrypt_byte_for_byte_with_their_random_bytes() {
    let d = vectors();
    for v in d["callback"].as_array().unwrap() {
        let c = crypto(v);
        // Recover the sample's 16 random bytes, then encrypt deterministically.
        let key = lenient().decode(s(v, "encoding_aes_key")).unwrap();
        let mut data = STANDARD.decode(s(v, "encrypt")).unwrap();
        let iv: [u8; 16] = key[..16].try_into().unwrap();
        let key32: [u8; 32] = key.clone().try_into().unwrap();
        use aes::cipher::BlockDecryptMut;
        let plain = cbc::Decryptor::<aes::Aes256>::new(&key32.into(), &iv.into())
            .decrypt_padded_mut::<NoPadding>(&mut data)
            .unwrap();
        let random16: [u8; 16] = plain[..16].try_into().unwrap();
        let reply = c.encrypt(
            s(v, "plaintext"),
            s(v, "timestamp"),
            s(v, "nonce"),
            random16,
        );
        assert_eq!(reply.encrypt, s(v, "encrypt"), "{}", s(v, "name"));
        assert_eq!(reply.msg_signature, s(v, "msg_signature"));
        assert!(reply.to_xml().contains(&format!(
            "<Encrypt><![CDATA[{}]]></Encrypt>",
            s(v, "encrypt")
        )));
    }
}

#[test]
fn url_verification_both_styles() {
    let d = vectors();
    for v in d["url_verification_plain"].as_array().unwrap() {
        let c = CallbackCrypto::new(
            s(v, "token"),
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            "",
        )
        .unwrap();
        assert_eq!(
            c.verify_url(
                s(v, "signature"),
                s(v, "timestamp"),
                s(v, "nonce"),
                s(v, "echostr")
            )
            .unwrap(),
            s(v, "echostr")
        );
        assert_eq!(
            c.verify_url("0000", s(v, "timestamp"), s(v, "nonce"), s(v, "echostr"))
                .unwrap_err()
                .reason,
            "bad_signature"
        );
    }
    let oa = &d["callback"][0];
    assert_eq!(
        crypto(oa)
            .verify_url(
                s(oa, "plain_signature"),
                s(oa, "timestamp"),
                s(oa, "nonce"),
                "echo"
            )
            .unwrap(),
        "echo"
    );
    let wecom = &d["callback"][1];
    let u = &wecom["verify_url"];
    let got = crypto(wecom)
        .verify_url(
            s(u, "msg_signature"),
            s(u, "timestamp"),
            s(u, "nonce"),
            s(u, "echostr"),
        )
        .unwrap();
    assert_eq!(got, s(u, "reply"));
}

#[test]
fn jssdk_signature_matches_the_appendix_and_drops_the_fragment() {
    let d = vectors();
    for v in d["jssdk"].as_array().unwrap() {
        let sig = jssdk_signature(
            s(v, "jsapi_ticket"),
            s(v, "noncestr"),
            s(v, "timestamp"),
            s(v, "url"),
        );
        assert_eq!(sig, s(v, "signature"));
        let with_fragment = format!("{}#/page?x=1", s(v, "url"));
        assert_eq!(
            jssdk_signature(
                s(v, "jsapi_ticket"),
                s(v, "noncestr"),
                s(v, "timestamp"),
                &with_fragment
            ),
            sig
        );
        let cfg = jssdk_config(
            "wxAPP",
            s(v, "jsapi_ticket"),
            s(v, "noncestr"),
            s(v, "timestamp"),
            s(v, "url"),
        );
        assert_eq!(
            (cfg.app_id.as_str(), cfg.signature.as_str()),
            ("wxAPP", s(v, "signature"))
        );
    }
}

#[test]
fn decrypt_message_gives_typed_fields() {
    let d = vectors();
    let v = &d["callback"][0];
    let m = crypto(v)
        .decrypt_message(
            s(v, "msg_signature"),
            s(v, "timestamp"),
            s(v, "nonce"),
            &xml_body(s(v, "encrypt")),
        )
        .unwrap();
    assert_eq!(m.msg_type(), Some("text"));
    assert_eq!(m.from_user(), Some("oyORnuP8q7ou2gfYjqLzSIWZf0rs"));
    assert_eq!(m.to_user(), Some("gh_10f6c3c3ac5a"));
    assert_eq!(m.create_time(), Some(1409735668));
    assert_eq!(m.get("Content"), Some("abcdteT"));
    let w = &d["callback"][1];
    let m = crypto(w)
        .decrypt_message(
            s(w, "msg_signature"),
            s(w, "timestamp"),
            s(w, "nonce"),
            &xml_body(s(w, "encrypt")),
        )
        .unwrap();
    assert!(m.agent_id().is_some());
}

// ---- refusals ----

const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

/// Encrypts an arbitrary plaintext layout (for malformed cases).
fn raw_encrypt(plain: &[u8], pad_to_32: bool) -> String {
    let key: [u8; 32] = lenient().decode(KEY).unwrap().try_into().unwrap();
    let mut buf = plain.to_vec();
    if pad_to_32 {
        let pad = 32 - buf.len() % 32;
        buf.extend(std::iter::repeat_n(pad as u8, pad));
    }
    let len = buf.len();
    let iv: [u8; 16] = key[..16].try_into().unwrap();
    let out = cbc::Encryptor::<aes::Aes256>::new(&key.into(), &iv.into())
        .encrypt_padded_mut::<NoPadding>(&mut buf, len)
        .unwrap();
    STANDARD.encode(out)
}

fn layout(msg: &[u8], declared: u32, receive_id: &str) -> Vec<u8> {
    let mut p = vec![7u8; 16];
    p.extend_from_slice(&declared.to_be_bytes());
    p.extend_from_slice(msg);
    p.extend_from_slice(receive_id.as_bytes());
    p
}

/// Decrypts through `decrypt`, and through the host-primitives path
/// (`decrypt_prepare`, SHA-1 and AES-256-CBC done here as a host would,
/// `decrypt_finish`), and requires the same answer of both.
fn open(c: &CallbackCrypto, encrypt: &str) -> Result<String, CallbackError> {
    let sig = signature(&["tok", "1", "n", encrypt]);
    both(c, &sig, "1", "n", &xml_body(encrypt), None)
}

fn two_phase(
    c: &CallbackCrypto,
    sig: &str,
    ts: &str,
    nonce: &str,
    body: &str,
    now: Option<u64>,
) -> Result<String, CallbackError> {
    use aes::cipher::BlockDecryptMut;
    use sha1::Digest;
    let Some(p) = c.decrypt_prepare(ts, nonce, body, now)? else {
        return c.decrypt_at(sig, ts, nonce, body, now);
    };
    let digest = sha1::Sha1::digest(&p.signed);
    let key = c.aes_key();
    let iv: [u8; 16] = key[..16].try_into().unwrap();
    let mut buf = p.ciphertext.clone();
    let plain = cbc::Decryptor::<aes::Aes256>::new(&key.into(), &iv.into())
        .decrypt_padded_mut::<NoPadding>(&mut buf)
        .unwrap();
    c.decrypt_finish(sig, &digest, plain)
}

fn both(
    c: &CallbackCrypto,
    sig: &str,
    ts: &str,
    nonce: &str,
    body: &str,
    now: Option<u64>,
) -> Result<String, CallbackError> {
    let whole = c.decrypt_at(sig, ts, nonce, body, now);
    let split = two_phase(c, sig, ts, nonce, body, now);
    let key = |r: &Result<String, CallbackError>| match r {
        Ok(text) => Ok(text.clone()),
        Err(e) => Err((e.kind.as_str(), e.reason)),
    };
    assert_eq!(
        key(&whole),
        key(&split),
        "decrypt and the two-phase path differ"
    );
    whole
}

fn c() -> CallbackCrypto {
    CallbackCrypto::new("tok", KEY, "wxRECV").unwrap()
}

#[test]
fn refuses_a_bad_signature() {
    let e = c().encrypt("hi", "1", "n", [1; 16]);
    let err = c()
        .decrypt(
            "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
            "1",
            "n",
            &xml_body(&e.encrypt),
        )
        .unwrap_err();
    assert_eq!(
        (err.kind.as_str(), err.reason),
        ("signature_invalid", "bad_signature")
    );
    // signature vs msg_signature confusion: the plain signature does not open a message.
    let plain = signature(&["tok", "1", "n"]);
    assert_eq!(
        c().decrypt(&plain, "1", "n", &xml_body(&e.encrypt))
            .unwrap_err()
            .reason,
        "bad_signature"
    );
}

#[test]
fn refuses_another_receive_id_unless_accepted() {
    let other = CallbackCrypto::new("tok", KEY, "wwOTHER").unwrap();
    let e = other.encrypt("hi", "1", "n", [2; 16]);
    let err = c()
        .decrypt(&e.msg_signature, "1", "n", &xml_body(&e.encrypt))
        .unwrap_err();
    assert_eq!(err.reason, "receive_id_mismatch");
    let relaxed = c().accept_receive_ids(vec!["wxRECV".into(), "wwOTHER".into()]);
    assert_eq!(
        relaxed
            .decrypt(&e.msg_signature, "1", "n", &xml_body(&e.encrypt))
            .unwrap(),
        "hi"
    );
    let bot = CallbackCrypto::new("tok", KEY, "").unwrap();
    let e = bot.encrypt("{\"msgtype\":\"text\"}", "1", "n", [3; 16]);
    assert_eq!(
        bot.decrypt(
            &e.msg_signature,
            "1",
            "n",
            &format!(r#"{{"encrypt":"{}"}}"#, e.encrypt)
        )
        .unwrap(),
        "{\"msgtype\":\"text\"}"
    );
}

#[test]
fn refuses_an_encoding_aes_key_that_is_not_43_base64_characters() {
    for bad in [
        &KEY[..42],
        &format!("{KEY}A")[..],
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF!",
        "",
    ] {
        let err = CallbackCrypto::new("tok", bad, "x").unwrap_err();
        assert_eq!(
            (err.kind.as_str(), err.reason),
            ("config", "invalid_encoding_aes_key"),
            "{bad:?}"
        );
    }
}

#[test]
fn refuses_bad_padding() {
    // Valid layout, then a last byte that is no PKCS#7 pad (0 and 33).
    for last in [0u8, 33] {
        let mut p = layout(b"hello", 5, "wxRECV");
        let pad = 32 - (p.len() + 1) % 32;
        p.extend(std::iter::repeat_n(1u8, pad));
        p.push(last);
        assert_eq!(p.len() % 32, 0);
        assert_eq!(
            open(&c(), &raw_encrypt(&p, false)).unwrap_err().reason,
            "bad_padding"
        );
    }
    // Pad bytes that disagree (a 26-byte pad, one byte of it changed).
    let mut p = layout(b"hello world!", 12, "wxRECV");
    let pad = 32 - p.len() % 32;
    p.extend(std::iter::repeat_n(pad as u8, pad));
    assert_eq!(pad, 26);
    let n = p.len();
    p[n - 2] ^= 1;
    assert_eq!(
        open(&c(), &raw_encrypt(&p, false)).unwrap_err().reason,
        "bad_padding"
    );
}

#[test]
fn refuses_a_declared_length_beyond_the_buffer() {
    let p = layout(b"hello", 1_000_000, "wxRECV");
    let err = open(&c(), &raw_encrypt(&p, true)).unwrap_err();
    assert_eq!(
        (err.kind.as_str(), err.reason),
        ("invalid_request", "bad_length")
    );
    // Shorter than the 20-byte header.
    assert_eq!(
        open(&c(), &raw_encrypt(&[1u8; 10], true))
            .unwrap_err()
            .reason,
        "bad_length"
    );
    // Not a whole number of blocks.
    assert_eq!(
        open(&c(), &STANDARD.encode([1u8; 20])).unwrap_err().reason,
        "bad_length"
    );
    assert_eq!(open(&c(), "***").unwrap_err().reason, "bad_base64");
}

#[test]
fn refuses_a_non_utf8_message() {
    let p = layout(&[0xff, 0xfe, 0x41], 3, "wxRECV");
    assert_eq!(
        open(&c(), &raw_encrypt(&p, true)).unwrap_err().reason,
        "not_utf8"
    );
}

#[test]
fn refuses_a_body_without_encrypt() {
    let sig = signature(&["tok", "1", "n", ""]);
    for body in ["<xml><ToUserName>x</ToUserName></xml>", r#"{"msg":"x"}"#] {
        assert_eq!(
            c().decrypt(&sig, "1", "n", body).unwrap_err().reason,
            "missing_encrypt",
            "{body}"
        );
    }
    assert_eq!(
        c().decrypt(&sig, "1", "n", "<xml><Encrypt>")
            .unwrap_err()
            .reason,
        "malformed_body"
    );
}

#[test]
fn replay_window_is_opt_in_and_uses_the_host_clock() {
    let e = c().encrypt("hi", "1700000000", "n", [4; 16]);
    let body = xml_body(&e.encrypt);
    assert!(
        c().decrypt_at(&e.msg_signature, "1700000000", "n", &body, Some(1800000000))
            .is_ok(),
        "off by default"
    );
    let strict = c().max_age(300);
    assert!(strict
        .decrypt_at(&e.msg_signature, "1700000000", "n", &body, Some(1700000299))
        .is_ok());
    let err = strict
        .decrypt_at(&e.msg_signature, "1700000000", "n", &body, Some(1700000301))
        .unwrap_err();
    assert_eq!(
        (err.kind.as_str(), err.reason),
        ("signature_invalid", "stale_timestamp")
    );
}

#[test]
fn round_trips_empty_multibyte_and_one_megabyte_messages() {
    let c = c();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let big: String = (0..1_048_576)
        .map(|i| if i % 3 == 0 { 'é' } else { 'x' })
        .collect();
    let mut cases = vec![String::new(), "你好，世界 🌏".to_string(), big];
    for n in 0..40 {
        let len = (next() % 200) as usize + n;
        cases.push(
            (0..len)
                .map(|_| char::from_u32((next() % 0x2FFF) as u32 + 0x20).unwrap_or('?'))
                .collect(),
        );
    }
    for msg in cases {
        let mut random16 = [0u8; 16];
        random16.iter_mut().for_each(|b| *b = next() as u8);
        let e = c.encrypt(&msg, "1409735669", "1320562132", random16);
        assert_eq!(
            c.decrypt(&e.msg_signature, "1409735669", "1320562132", &e.to_xml())
                .unwrap(),
            msg
        );
    }
}

#[test]
fn debug_shows_no_token_or_key() {
    let text = format!(
        "{:?}",
        CallbackCrypto::new("S3CR3T-TOKEN", KEY, "wxRECV").unwrap()
    );
    assert!(!text.contains("S3CR3T") && !text.contains(KEY), "{text}");
}

fn pairs(kv: &[(&str, &str)]) -> Vec<(String, String)> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn handle_request_tells_a_url_check_from_a_message_in_every_style() {
    use wxcore::callback::Inbound;
    let d = vectors();
    // OA URL check, plain `signature`: echostr comes back unchanged.
    let p = &d["url_verification_plain"][0];
    let c = CallbackCrypto::new(
        s(p, "token"),
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "wx",
    )
    .unwrap();
    let q = pairs(&[
        ("signature", s(p, "signature")),
        ("timestamp", s(p, "timestamp")),
        ("nonce", s(p, "nonce")),
        ("echostr", s(p, "echostr")),
    ]);
    assert_eq!(
        c.handle_request("GET", &q, "", None).unwrap(),
        Inbound::Echo(s(p, "echostr").into())
    );
    // WeCom URL check, `msg_signature`: the decrypted echostr.
    let w = &d["callback"][1];
    let u = &w["verify_url"];
    let q = pairs(&[
        ("msg_signature", s(u, "msg_signature")),
        ("timestamp", s(u, "timestamp")),
        ("nonce", s(u, "nonce")),
        ("echostr", s(u, "echostr")),
    ]);
    assert_eq!(
        crypto(w).handle_request("get", &q, "", None).unwrap(),
        Inbound::Echo(s(u, "reply").into())
    );
    // Encrypted message (OA safe mode).
    let v = &d["callback"][0];
    let q = pairs(&[
        ("signature", s(v, "plain_signature")),
        ("msg_signature", s(v, "msg_signature")),
        ("encrypt_type", "aes"),
        ("timestamp", s(v, "timestamp")),
        ("nonce", s(v, "nonce")),
    ]);
    match crypto(v)
        .handle_request("POST", &q, &xml_body(s(v, "encrypt")), None)
        .unwrap()
    {
        Inbound::Message { plaintext, message } => {
            assert_eq!(plaintext, s(v, "plaintext"));
            assert_eq!(message.msg_type(), Some("text"));
        }
        other => panic!("{other:?}"),
    }
    // Plain mode (only `signature`) is refused: that signature does not
    // cover the body, so a forged message would pass with a seen query.
    let q = pairs(&[
        ("signature", s(v, "plain_signature")),
        ("timestamp", s(v, "timestamp")),
        ("nonce", s(v, "nonce")),
    ]);
    let forged =
        "<xml><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[forged]]></Content></xml>";
    let e = crypto(v)
        .handle_request("POST", &q, forged, None)
        .unwrap_err();
    assert_eq!(e.reason, "missing_param");
}

#[test]
fn handle_request_refuses_what_it_cannot_check() {
    let d = vectors();
    let v = &d["callback"][0];
    let c = crypto(v);
    let e = c
        .handle_request("POST", &pairs(&[("nonce", "1")]), "", None)
        .unwrap_err();
    assert_eq!(
        (e.reason, e.message.contains("timestamp")),
        ("missing_param", true)
    );
    let e = c
        .handle_request(
            "POST",
            &pairs(&[("timestamp", "1"), ("nonce", "1")]),
            "<xml/>",
            None,
        )
        .unwrap_err();
    assert_eq!(e.reason, "missing_param");
    let q = pairs(&[
        ("msg_signature", "0000000000000000000000000000000000000000"),
        ("timestamp", s(v, "timestamp")),
        ("nonce", s(v, "nonce")),
    ]);
    assert_eq!(
        c.handle_request("POST", &q, &xml_body(s(v, "encrypt")), None)
            .unwrap_err()
            .reason,
        "bad_signature"
    );
    let q = pairs(&[
        ("signature", s(v, "plain_signature")),
        ("timestamp", s(v, "timestamp")),
        ("nonce", s(v, "nonce")),
    ]);
    assert_eq!(
        c.handle_request("GET", &q, "", None).unwrap_err().reason,
        "missing_param"
    ); // no echostr
}

#[test]
fn the_two_phase_path_decides_as_decrypt_does() {
    let e = c().encrypt("hello 中文", "1700000000", "n", [3; 16]);
    let body = e.to_xml();
    let ok = both(
        &c(),
        &e.msg_signature,
        "1700000000",
        "n",
        &body,
        Some(1700000001),
    );
    assert_eq!(ok.unwrap(), "hello 中文");
    // A wrong signature is refused before anything the host decrypted is looked at.
    let err = both(&c(), &"0".repeat(40), "1700000000", "n", &body, None).unwrap_err();
    assert_eq!(err.reason, "bad_signature");
    // A wrong signature over an Encrypt that is not base64: still the signature.
    let bad = xml_body("***");
    assert_eq!(
        both(&c(), &"0".repeat(40), "1", "n", &bad, None)
            .unwrap_err()
            .reason,
        "bad_signature"
    );
    // The replay window, and a body without Encrypt, refused in the first half.
    let stale = both(
        &c().max_age(300),
        &e.msg_signature,
        "1700000000",
        "n",
        &body,
        Some(1800000000),
    )
    .unwrap_err();
    assert_eq!(stale.kind.as_str(), "signature_invalid");
    assert!(c().decrypt_prepare("1", "n", "<xml></xml>", None).is_err());
    // A digest of the wrong length, or a plaintext that is not whole blocks.
    let p = c()
        .decrypt_prepare("1700000000", "n", &body, None)
        .unwrap()
        .unwrap();
    assert!(
        format!("{p:?}").find("tok").is_none(),
        "the token in signed is never printed"
    );
    assert_eq!(
        c().decrypt_finish(&e.msg_signature, &[0; 19], &[0; 32])
            .unwrap_err()
            .reason,
        "bad_signature"
    );
    use sha1::Digest;
    let digest = sha1::Sha1::digest(&p.signed);
    assert_eq!(
        c().decrypt_finish(&e.msg_signature, &digest, &[0; 31])
            .unwrap_err()
            .reason,
        "bad_length"
    );
}
