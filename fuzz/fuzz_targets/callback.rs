//! CallbackCrypto (WXBizMsgCrypt) with a fixed valid key: `verify_url`,
//! `decrypt`, `decrypt_message`, `handle_request` on arbitrary inputs never
//! panic and never accept what the key did not seal; `encrypt` then
//! `decrypt` gives the message back, in the XML and the JSON envelope; a
//! tampered envelope or another receive id is refused.
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wxcore::callback::{signature, CallbackCrypto, Inbound};

const TOKEN: &str = "QDG6eK";
const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const RECEIVE_ID: &str = "wx5823bf96d3bd56c7";

#[derive(Arbitrary, Debug)]
struct Input {
    signature: String,
    timestamp: String,
    nonce: String,
    echostr: String,
    body: String,
    method: bool,
    query: Vec<(u8, String)>,
    now_s: Option<u64>,
    max_age: Option<u16>,
    message: String,
    random16: [u8; 16],
    ts_digits: u32,
    nonce_alnum: u32,
    tamper: u16,
    /// Sign the arbitrary `echostr`/`body` with the real token, so the
    /// fuzzer reaches the decryption of arbitrary ciphertexts.
    sign_arbitrary: bool,
}

const NAMES: [&str; 6] = ["signature", "msg_signature", "timestamp", "nonce", "echostr", "encrypt_type"];

fuzz_target!(|i: Input| {
    let mut c = CallbackCrypto::new(TOKEN, KEY, RECEIVE_ID).expect("valid key");
    if let Some(m) = i.max_age {
        c = c.max_age(m as u64);
    }
    let sig = if i.sign_arbitrary {
        signature(&[TOKEN, &i.timestamp, &i.nonce, &i.echostr])
    } else {
        i.signature.clone()
    };
    let _ = c.verify_url(&sig, &i.timestamp, &i.nonce, &i.echostr);
    let _ = c.verify_url_at(&sig, &i.timestamp, &i.nonce, &i.echostr, i.now_s);
    // The body's `Encrypt`, signed: decryption of arbitrary ciphertext.
    let _ = c.decrypt(&i.signature, &i.timestamp, &i.nonce, &i.body);
    let _ = c.decrypt_message(&i.signature, &i.timestamp, &i.nonce, &i.body);
    if i.sign_arbitrary {
        let enc = format!("<xml><Encrypt><![CDATA[{}]]></Encrypt></xml>", i.echostr);
        let s = signature(&[TOKEN, &i.timestamp, &i.nonce, &i.echostr]);
        let _ = c.decrypt(&s, &i.timestamp, &i.nonce, &enc);
        let _ = c.decrypt_message(&s, &i.timestamp, &i.nonce, &enc);
    }
    let query: Vec<(String, String)> = i
        .query
        .iter()
        .map(|(k, v)| (NAMES[*k as usize % NAMES.len()].to_string(), v.clone()))
        .collect();
    let method = if i.method { "GET" } else { "POST" };
    let _ = c.handle_request(method, &query, &i.body, i.now_s);

    // Round trip with a sane timestamp and nonce.
    let ts = i.ts_digits.to_string();
    let nonce = format!("n{:x}", i.nonce_alnum);
    let c = CallbackCrypto::new(TOKEN, KEY, RECEIVE_ID).expect("valid key");
    let reply = c.encrypt(&i.message, &ts, &nonce, i.random16);
    let xml = reply.to_xml();
    let back = c.decrypt(&reply.msg_signature, &ts, &nonce, &xml);
    assert_eq!(back.as_deref(), Ok(i.message.as_str()), "XML round trip");
    let json = serde_json::json!({ "Encrypt": reply.encrypt }).to_string();
    let back = c.decrypt(&reply.msg_signature, &ts, &nonce, &json);
    assert_eq!(back.as_deref(), Ok(i.message.as_str()), "JSON round trip");
    // A WeCom-style URL check of the sealed text gives the text back.
    let echo_sig = signature(&[TOKEN, &ts, &nonce, &reply.encrypt]);
    let echo = c.verify_url(&echo_sig, &ts, &nonce, &reply.encrypt);
    assert_eq!(echo.as_deref(), Ok(i.message.as_str()), "URL check round trip");
    // handle_request, POST with msg_signature: the same plaintext (when it parses as a message).
    let q = vec![
        ("msg_signature".to_string(), reply.msg_signature.clone()),
        ("timestamp".to_string(), ts.clone()),
        ("nonce".to_string(), nonce.clone()),
    ];
    if let Ok(Inbound::Message { plaintext, .. }) = c.handle_request("POST", &q, &xml, None) {
        assert_eq!(plaintext, i.message);
    }
    // Another receive id is refused (strict by default).
    let other = CallbackCrypto::new(TOKEN, KEY, "wxOTHER").expect("valid key");
    assert!(other.decrypt(&reply.msg_signature, &ts, &nonce, &xml).is_err(), "foreign receive id accepted");
    // A tampered ciphertext is refused (the signature covers it).
    let mut enc = reply.encrypt.clone().into_bytes();
    let at = i.tamper as usize % enc.len();
    enc[at] = if enc[at] == b'A' { b'B' } else { b'A' };
    let enc = String::from_utf8(enc).expect("base64 is ASCII");
    let tampered = format!("<xml><Encrypt><![CDATA[{enc}]]></Encrypt></xml>");
    if enc != reply.encrypt {
        assert!(
            c.decrypt(&reply.msg_signature, &ts, &nonce, &tampered).is_err(),
            "tampered ciphertext accepted"
        );
    }
    // The token never shows in Debug.
    assert!(!format!("{c:?}").contains(TOKEN));
});
