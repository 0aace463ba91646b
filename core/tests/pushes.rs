//! Pushed tickets beyond the shared vectors (components.json): what an
//! operator sees of the ticket (its age in the status snapshot, never its
//! value), and no ticket, callback key or component secret in any output,
//! event, error, status, metric or Debug text.

use wxcore::callback::CallbackCrypto;
use wxcore::{Call, Config, Engine, HttpResponse, Output};

const T0: u64 = 1_700_000_000_000;
const APPID: &str = "wx5823bf96d3bd56c7";
const SECRET: &str = "COMPONENT-SECRET-4711";
const CB_TOKEN: &str = "CallbackToken-0815";
const AES_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const TICKET: &str = "ticket@@@Secret-Ticket-9999";

fn engine() -> Engine {
    let cfg = Config::from_json(&format!(
        r#"{{"apps": [{{"id": "cp", "platform": "wechat-component", "app_id": "{APPID}", "secret": "{SECRET}",
              "callback": {{"token": "{CB_TOKEN}", "encoding_aes_key": "{AES_KEY}"}}}}], "seed": 3}}"#
    ))
    .unwrap();
    Engine::new(cfg, T0).unwrap()
}

/// A ticket push sealed with the component's keys.
fn push(ticket: &str, created_s: u64) -> (Vec<(String, String)>, String) {
    let crypto = CallbackCrypto::new(CB_TOKEN, AES_KEY, APPID).unwrap();
    let xml = format!(
        "<xml><AppId>{APPID}</AppId><CreateTime>{created_s}</CreateTime><InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>{ticket}</ComponentVerifyTicket></xml>"
    );
    let sealed = crypto.encrypt(&xml, &created_s.to_string(), "4242", [7; 16]);
    let query = vec![
        ("timestamp".to_string(), sealed.timestamp.clone()),
        ("nonce".to_string(), sealed.nonce.clone()),
        ("encrypt_type".to_string(), "aes".to_string()),
        ("msg_signature".to_string(), sealed.msg_signature.clone()),
    ];
    let body = format!(
        "<xml><AppId><![CDATA[{APPID}]]></AppId><Encrypt><![CDATA[{}]]></Encrypt></xml>",
        sealed.encrypt
    );
    (query, body)
}

fn drain(e: &mut Engine, now: u64) -> Vec<Output> {
    let mut v = Vec::new();
    e.poll_outputs(now, &mut v);
    v
}

#[test]
fn the_status_shows_the_tickets_age_and_nothing_secret_shows_anywhere() {
    let mut e = engine();
    let mut seen = Vec::new();
    let (q, b) = push(TICKET, 1_700_000_000);
    let kept = e.handle_push("cp", "POST", &q, b.as_bytes(), T0).unwrap();
    assert_eq!(kept.ticket_kept, Some(true));
    seen.push(format!("{kept:?}"));
    // A forged push's error text must not echo the ticket or keys either.
    let (mut q2, b2) = push("ticket@@@Other-Secret", 1_700_000_600);
    q2[1].1 = "1".into();
    let refused = e
        .handle_push("cp", "POST", &q2, b2.as_bytes(), T0)
        .unwrap_err();
    assert_eq!(refused.reason, "bad_signature");
    seen.push(format!("{refused:?} {refused}"));

    e.submit(
        Call::post_json(
            "cp",
            "/cgi-bin/component/api_create_preauthcode",
            format!(r#"{{"component_appid": "{APPID}"}}"#),
        ),
        T0 + 1000,
    );
    let outs = drain(&mut e, T0 + 1000);
    let fetch = outs
        .iter()
        .find_map(|o| match o {
            Output::Send(r) => Some(r.clone()),
            _ => None,
        })
        .expect("a token fetch");
    // The ticket does travel to the platform, in the fetch's body, and only there.
    assert!(String::from_utf8_lossy(fetch.body.as_ref()).contains(TICKET));
    seen.push(format!("{fetch:?}"));
    e.handle_response(
        fetch.id,
        HttpResponse::json(r#"{"component_access_token": "CT-Secret-1", "expires_in": 7200}"#),
        T0 + 1100,
    );
    // Every output's Debug text, and the wire form of all but the send
    // (whose URL carries the token to the platform, as it must).
    for o in drain(&mut e, T0 + 1100) {
        seen.push(format!("{o:?}"));
        if !matches!(o, Output::Send(_)) {
            seen.push(o.to_json().to_string());
        }
    }

    let status: serde_json::Value = serde_json::from_str(&e.status_json(T0 + 60_000)).unwrap();
    let p = &status["apps"][0]["pushed_ticket"];
    assert_eq!(p["created_s"], 1_700_000_000u64);
    assert_eq!(p["received_at_ms"], T0);
    assert_eq!(p["age_ms"], 60_000);
    assert_eq!(p["valid_until_ms"], T0 + 12 * 3_600_000);
    assert_eq!(p["usable"], true);
    let later: serde_json::Value =
        serde_json::from_str(&e.status_json(T0 + 12 * 3_600_000)).unwrap();
    assert_eq!(later["apps"][0]["pushed_ticket"]["usable"], false);

    seen.push(status.to_string());
    seen.push(e.metrics_text(T0 + 60_000));
    let all = seen.join("\n");
    for secret in [
        TICKET,
        "Other-Secret",
        SECRET,
        CB_TOKEN,
        AES_KEY,
        "CT-Secret-1",
    ] {
        assert!(!all.contains(secret), "`{secret}` leaked:\n{all}");
    }
}

#[test]
fn a_restored_state_carries_the_ticket_but_not_past_its_validity() {
    let mut e = engine();
    let (q, b) = push(TICKET, 1_700_000_000);
    e.handle_push("cp", "POST", &q, b.as_bytes(), T0).unwrap();
    let state = e.export_state();
    let cfg = || {
        Config::from_json(&format!(
            r#"{{"apps": [{{"id": "cp", "platform": "wechat-component", "app_id": "{APPID}", "secret": "{SECRET}",
                  "callback": {{"token": "{CB_TOKEN}", "encoding_aes_key": "{AES_KEY}"}}}}]}}"#
        ))
        .unwrap()
    };
    let mut fresh = Engine::restore(cfg(), &state, T0 + 3_600_000).unwrap();
    let s: serde_json::Value = serde_json::from_str(&fresh.status_json(T0 + 3_600_000)).unwrap();
    assert_eq!(s["apps"][0]["pushed_ticket"]["received_at_ms"], T0);
    // An older push after the restore is still older.
    let (q, b) = push("ticket@@@older", 1_699_999_000);
    let p = fresh
        .handle_push("cp", "POST", &q, b.as_bytes(), T0 + 3_600_001)
        .unwrap();
    assert_eq!(p.ticket_kept, Some(false));

    let expired = Engine::restore(cfg(), &state, T0 + 12 * 3_600_000).unwrap();
    let s: serde_json::Value =
        serde_json::from_str(&expired.status_json(T0 + 12 * 3_600_000)).unwrap();
    assert!(s["apps"][0]["pushed_ticket"].is_null());
}
