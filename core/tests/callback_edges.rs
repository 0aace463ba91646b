//! Callback edges (tests/vectors/callback-edges.json, shared with every
//! language): forged URL checks, plaintexts that are not one message,
//! nested menu/location events, bodies that are not UTF-8.

use serde_json::Value;
use wxcore::callback::{CallbackCrypto, Inbound, UrlCheck};

fn edges() -> Value {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/callback-edges.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn receiver(d: &Value) -> CallbackCrypto {
    let r = &d["receiver"];
    CallbackCrypto::new(
        r["token"].as_str().unwrap(),
        r["encoding_aes_key"].as_str().unwrap(),
        r["receive_id"].as_str().unwrap(),
    )
    .unwrap()
}

fn pairs(q: &Value) -> Vec<(String, String)> {
    q.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn forged_url_checks_are_refused() {
    let d = edges();
    let wecom = receiver(&d).url_check(UrlCheck::MsgSignature);
    // The genuine check passes: the receiver works.
    let observed = &d["observed_url_check"];
    assert_eq!(
        wecom
            .handle_request("GET", &pairs(&observed["query"]), "", None)
            .unwrap(),
        Inbound::Echo(observed["echo"].as_str().unwrap().into())
    );
    for f in d["forged_url_checks"].as_array().unwrap() {
        let name = f["name"].as_str().unwrap();
        let q = pairs(&f["query"]);
        let mut receivers = vec![("msg_signature receiver", wecom.clone())];
        if f["any_receiver"].as_bool() == Some(true) {
            receivers.push(("default receiver", receiver(&d)));
            receivers.push((
                "signature receiver",
                receiver(&d).url_check(UrlCheck::Signature),
            ));
        }
        for (who, c) in receivers {
            let e = c.handle_request("GET", &q, "", None).unwrap_err();
            assert_eq!(
                (e.kind.as_str(), e.reason),
                ("signature_invalid", "bad_signature"),
                "{name}, {who}"
            );
        }
        // verify_url, not told the parameter's name, follows the receiver's style.
        let (sig, ts, nonce, echo) = (
            q.iter()
                .find(|(k, _)| k.ends_with("signature"))
                .unwrap()
                .1
                .as_str(),
            f["query"]["timestamp"].as_str().unwrap(),
            f["query"]["nonce"].as_str().unwrap(),
            f["query"]["echostr"].as_str().unwrap(),
        );
        assert_eq!(
            wecom.verify_url(sig, ts, nonce, echo).unwrap_err().reason,
            "bad_signature",
            "{name}"
        );
    }
    // The observed POST itself still decrypts on that receiver.
    let post = &d["forged_url_checks"][2]["observed_post"];
    let body = format!(
        "<xml><Encrypt><![CDATA[{}]]></Encrypt></xml>",
        post["encrypt"].as_str().unwrap()
    );
    let q = pairs(&serde_json::json!({
        "msg_signature": post["msg_signature"], "timestamp": post["timestamp"], "nonce": post["nonce"]
    }));
    assert!(matches!(
        wecom.handle_request("POST", &q, &body, None).unwrap(),
        Inbound::Message { .. }
    ));
}

#[test]
fn url_check_names_parse_in_the_core() {
    assert_eq!(UrlCheck::parse("signature").unwrap(), UrlCheck::Signature);
    assert_eq!(
        UrlCheck::parse("msg_signature").unwrap(),
        UrlCheck::MsgSignature
    );
    assert_eq!(UrlCheck::parse("either").unwrap(), UrlCheck::Either);
    let e = UrlCheck::parse("sometimes").unwrap_err();
    assert_eq!((e.kind.as_str(), e.reason), ("config", "invalid_url_check"));
}

#[test]
fn a_plaintext_that_is_not_one_message_is_malformed() {
    let d = edges();
    let c = receiver(&d);
    for plain in d["not_one_message"].as_array().unwrap() {
        let plain = plain.as_str().unwrap();
        let e = c.encrypt(plain, "1700000000", "n", [3; 16]);
        let err = c
            .decrypt_message(&e.msg_signature, "1700000000", "n", &e.to_xml())
            .unwrap_err();
        assert_eq!(
            (err.kind.as_str(), err.reason),
            ("invalid_request", "malformed_body"),
            "{plain}"
        );
        let q = pairs(&serde_json::json!({
            "msg_signature": e.msg_signature, "timestamp": "1700000000", "nonce": "n"
        }));
        assert_eq!(
            c.handle_request("POST", &q, &e.to_xml(), None)
                .unwrap_err()
                .reason,
            "malformed_body",
            "{plain}"
        );
    }
}

#[test]
fn nested_elements_are_kept_as_objects_and_lists() {
    let d = edges();
    let c = receiver(&d);
    for m in d["nested_messages"].as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        let e = c.encrypt(m["plaintext"].as_str().unwrap(), "1700000000", "n", [5; 16]);
        let got = c
            .decrypt_message(&e.msg_signature, "1700000000", "n", &e.to_xml())
            .unwrap();
        assert_eq!(Value::Object(got.value.clone()), m["message"], "{name}");
        let json: Value = serde_json::from_str(&got.to_json()).unwrap();
        assert_eq!(json, m["message"], "{name}");
    }
    // The typed accessors still read the top-level text fields.
    let m = &d["nested_messages"][0];
    let e = c.encrypt(m["plaintext"].as_str().unwrap(), "1", "n", [5; 16]);
    let got = c
        .decrypt_message(&e.msg_signature, "1", "n", &e.to_xml())
        .unwrap();
    assert_eq!(got.event(), Some("scancode_waitmsg"));
    assert_eq!(got.create_time(), Some(1408090502));
    assert_eq!(got.field("ScanCodeInfo").unwrap()["ScanResult"], "2");
}

#[test]
fn bytes_that_are_not_utf8_are_a_malformed_body() {
    use base64::Engine as _;
    let d = edges();
    let c = receiver(&d);
    let body = base64::engine::general_purpose::STANDARD
        .decode(d["not_utf8_body"].as_str().unwrap())
        .unwrap();
    assert!(std::str::from_utf8(&body).is_err());
    let q = br#"{"msg_signature": "00", "timestamp": "1", "nonce": "n"}"#;
    let e = c.handle_request_bytes("POST", q, &body, None).unwrap_err();
    assert_eq!(
        (e.kind.as_str(), e.reason),
        ("invalid_request", "malformed_body")
    );
    let e = c
        .decrypt_message_bytes("00", "1", "n", &body, None)
        .unwrap_err();
    assert_eq!(e.reason, "malformed_body");
    // A query that is not JSON text of names and values is refused too.
    for q in [&b"\xff"[..], b"[1]", b"{\"a\": 1}"] {
        assert_eq!(
            c.handle_request_bytes("GET", q, b"", None)
                .unwrap_err()
                .reason,
            "malformed_query"
        );
    }
}
