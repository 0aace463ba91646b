//! What the `api-security` feature changes: with it, an app with
//! `api_security` builds an engine; without it (`cargo test -p wxcore
//! --no-default-features --test features`), the same config is refused,
//! naming the field and the feature, and the entropy is checked the same way.

use wxcore::{Config, Engine};

const KEY_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; // 32 bytes

fn config(entropy: &str, sealed: bool) -> Config {
    let pem = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/crypto-official.json"),
    )
    .expect("tests/vectors/crypto-official.json");
    let v: serde_json::Value = serde_json::from_str(&pem).unwrap();
    let key = v["api_security_request"][0]["rsa_private_key_pem"]
        .as_str()
        .unwrap();
    let mut c = serde_json::json!({
        "apps": [{"id": "oa", "platform": "wechat-oa", "app_id": "wx1", "secret": "s"}],
        "entropy": entropy,
    });
    if sealed {
        c["apps"][0]["api_security"] = serde_json::json!({"sym_key": KEY_B64, "sym_sn": "sn",
            "private_key": key, "platform_keys": {"P": key}, "paths": ["/wxa/x"]});
    }
    Config::from_json(&c.to_string()).unwrap()
}

#[test]
#[cfg(feature = "api-security")]
fn with_the_feature_an_app_seals_its_calls() {
    assert!(Engine::new(config(KEY_B64, true), 0).is_ok());
}

#[test]
#[cfg(not(feature = "api-security"))]
fn without_the_feature_api_security_is_a_config_error_naming_the_feature() {
    let e = Engine::new(config(KEY_B64, true), 0).unwrap_err();
    assert_eq!(e.field, "apps[0].api_security");
    assert!(e.message.contains("api-security"), "{}", e.message);
}

#[test]
fn the_entropy_is_checked_in_every_build() {
    let e = Engine::new(config("c2hvcnQ=", false), 0).unwrap_err();
    assert_eq!(e.field, "entropy");
}
