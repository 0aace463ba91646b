//! 10,000 authorizers of one component over a simulated day: the memory the
//! engine holds for them, and how their token refreshes spread over the
//! day's minutes. All 10,000 are authorized in the same instant (the worst
//! case: a batch, or a restart); the platform answers at once, tokens live
//! 7200 s. Not a timed test: it prints.
//!
//!     cargo bench -p wxcore --bench authorizers

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use wxcore::callback::CallbackCrypto;
use wxcore::{Call, Config, Engine, HttpResponse, Output};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static A: Counting = Counting;

const N: usize = 10_000;
const T0: u64 = 1_700_000_000_000;
const MINUTE: u64 = 60_000;
const APPID: &str = "wx5823bf96d3bd56c7";
const CB_TOKEN: &str = "bench-callback-token";
const AES_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

fn ticket_push(e: &mut Engine, now: u64) {
    let crypto = CallbackCrypto::new(CB_TOKEN, AES_KEY, APPID).unwrap();
    let created = now / 1000;
    let xml = format!(
        "<xml><AppId>{APPID}</AppId><CreateTime>{created}</CreateTime><InfoType>component_verify_ticket</InfoType><ComponentVerifyTicket>ticket@@@{created}</ComponentVerifyTicket></xml>"
    );
    let sealed = crypto.encrypt(&xml, &created.to_string(), "4242", [7; 16]);
    let query = vec![
        ("timestamp".to_string(), sealed.timestamp.clone()),
        ("nonce".to_string(), sealed.nonce.clone()),
        ("encrypt_type".to_string(), "aes".to_string()),
        ("msg_signature".to_string(), sealed.msg_signature.clone()),
    ];
    let body = format!(
        "<xml><Encrypt><![CDATA[{}]]></Encrypt></xml>",
        sealed.encrypt
    );
    e.handle_push("cp", "POST", &query, body.as_bytes(), now)
        .unwrap();
}

/// Runs the engine at `now`, answering every request at once; returns the
/// number of authorizer token refreshes sent and the engine's next wake.
fn run(e: &mut Engine, now: u64, serial: &mut u64) -> (u64, Option<u64>) {
    let mut refreshes = 0;
    loop {
        let mut outs = Vec::new();
        let wake = e.poll_outputs(now, &mut outs);
        if outs.is_empty() {
            return (refreshes, wake);
        }
        for o in outs {
            let Output::Send(r) = o else { continue };
            *serial += 1;
            let path = r.url.split('?').next().unwrap().to_string();
            let answer = if path.ends_with("/api_component_token") {
                format!(r#"{{"component_access_token": "CT{serial}", "expires_in": 7200}}"#)
            } else if path.ends_with("/api_query_auth") {
                let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                let appid = body["authorization_code"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("code-");
                format!(
                    r#"{{"authorization_info": {{"authorizer_appid": "{appid}", "authorizer_access_token": "AT{serial}", "expires_in": 7200, "authorizer_refresh_token": "RT-{appid}"}}}}"#
                )
            } else if path.ends_with("/api_authorizer_token") {
                refreshes += 1;
                let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                let rt = body["authorizer_refresh_token"].as_str().unwrap();
                format!(
                    r#"{{"authorizer_access_token": "AT{serial}", "expires_in": 7200, "authorizer_refresh_token": "{rt}"}}"#
                )
            } else {
                panic!("unexpected {path}")
            };
            e.handle_response(r.id, HttpResponse::json(answer), now);
        }
    }
}

fn main() {
    let cfg = Config::from_json(&format!(
        r#"{{"apps": [{{"id": "cp", "platform": "wechat-component", "app_id": "{APPID}", "secret": "bench-secret",
              "callback": {{"token": "{CB_TOKEN}", "encoding_aes_key": "{AES_KEY}"}}}}],
            "call_timeout_ms": null}}"#
    ))
    .unwrap();
    let mut e = Engine::new(cfg, T0).unwrap();
    let mut serial = 0;
    ticket_push(&mut e, T0);
    let base = LIVE.load(Ordering::Relaxed);
    for i in 0..N {
        e.submit(
            Call::post_json(
                "cp",
                "/cgi-bin/component/api_query_auth",
                format!(
                    r#"{{"component_appid": "{APPID}", "authorization_code": "code-wxa{i:015}"}}"#
                ),
            ),
            T0,
        );
    }
    run(&mut e, T0, &mut serial);
    let held = LIVE.load(Ordering::Relaxed) - base;

    // A day, as the run loop lives it: woken when the engine asks, and by
    // a new ticket every 10 minutes; refreshes counted by the minute.
    let end = T0 + 1440 * MINUTE;
    let mut per_minute = vec![0u64; 1440];
    let mut next_ticket = T0 + 10 * MINUTE;
    let (_, mut wake) = run(&mut e, T0, &mut serial);
    loop {
        let now = wake.unwrap_or(u64::MAX).min(next_ticket);
        if now >= end {
            break;
        }
        if now == next_ticket {
            ticket_push(&mut e, now);
            next_ticket += 10 * MINUTE;
        }
        let (n, w) = run(&mut e, now, &mut serial);
        per_minute[((now - T0) / MINUTE) as usize] += n;
        wake = w;
    }
    let total: u64 = per_minute.iter().sum();
    let mean = total as f64 / per_minute.len() as f64;
    let (busiest_minute, max) = per_minute
        .iter()
        .enumerate()
        .max_by_key(|(_, n)| **n)
        .map(|(i, n)| (i + 1, *n))
        .unwrap();
    let quiet = per_minute.iter().filter(|n| **n == 0).count();
    println!(
        "authorizers: {N} authorized at once hold {held} bytes in the engine ({:.0} bytes each)",
        held as f64 / N as f64
    );
    println!(
        "authorizers: a day of refreshes: {total} in 1440 minutes, mean {mean:.1}/min, busiest minute {busiest_minute} with {max} ({:.2}x the mean), {quiet} minutes without any",
        max as f64 / mean
    );
    std::hint::black_box(e);
}
