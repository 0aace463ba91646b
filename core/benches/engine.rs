//! Criterion benchmarks: the full call cycle (submit → Send → 1 KB JSON
//! reply → Done → Idle) with a cached token, and envelope classification.
//!
//!     cargo bench -p wxcore --bench engine

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use wxcore::envelope::{classify, Verdict};
use wxcore::profile::{Dialect, EnvelopeFields};
use wxcore::{Call, Config, Engine, HttpResponse, Output};

const NOW: u64 = 1_700_000_000_000;

/// A realistic ~1 KB user-info reply.
fn reply_1k() -> Vec<u8> {
    let mut s = String::from(
        r#"{"subscribe":1,"openid":"o6_bmjrPTlm6_2sgVt7hMZOPfL2M","language":"zh_CN","subscribe_time":1382694957,"unionid":"o6_bmasdasdsad6_2sgVt7hMZOPfL","remark":"","groupid":0,"tagid_list":[128,2],"subscribe_scene":"ADD_SCENE_QR_CODE","qr_scene":98765,"qr_scene_str":"","nickname":"Band","sex":1,"city":"Guangzhou","province":"Guangdong","country":"China","headimgurl":"http://thirdwx.qlogo.cn/mmopen/g3MonUZtNHkdmzicIlibx6iaFqAc56vxLSUfpb6n5WKSYVY0ChQKkiaJSgQ1dZuTOgvLLrhJbERQQ4eMsv84eavHiaiceqxibJxCfHe/0","privilege":[],"notes":""#,
    );
    while s.len() < 1000 {
        s.push('x');
    }
    s.push_str(r#""}"#);
    s.into_bytes()
}

fn engine_with_token() -> Engine {
    let config = Config::from_json(
        r#"{"apps":[{"id":"oa","platform":"wechat-oa","app_id":"wx123","secret":"s"}],"quota":{"mode":"enforce","limits":{"/cgi-bin/user/info":1000000000000}}}"#,
    )
    .unwrap();
    let state = format!(
        r#"{{"version":2,"apps":{{"oa":{{"platform":"wechat-oa","account":"wx123","token":{{"value":"TOKEN","expires_at_ms":{},"refresh_at_ms":{}}}}}}}}}"#,
        NOW + 7_000_000,
        NOW + 3_600_000
    );
    Engine::restore(config, &state, NOW).unwrap()
}

fn full_cycle(c: &mut Criterion) {
    let body = reply_1k();
    let mut engine = engine_with_token();
    c.bench_function("full_cycle_get_1k_json", |b| {
        b.iter(|| {
            engine.submit(
                Call::get("oa", "/cgi-bin/user/info")
                    .query("openid", "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"),
                NOW,
            );
            let Output::Send(req) = engine.poll_output(NOW) else {
                panic!("expected Send")
            };
            let resp = HttpResponse {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.clone(),
            };
            engine.handle_response(req.id, resp, NOW);
            let Output::Done(done) = engine.poll_output(NOW) else {
                panic!("expected Done")
            };
            black_box(done);
            let Output::Idle { .. } = engine.poll_output(NOW) else {
                panic!("expected Idle")
            };
        })
    });
}

fn envelopes(c: &mut Criterion) {
    let ok = HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: reply_1k(),
    };
    let fail = HttpResponse::json(
        r#"{"errcode":40001,"errmsg":"invalid credential, access_token is invalid or not latest"}"#,
    );
    let fields = EnvelopeFields::default_for(Dialect::Errcode);
    c.bench_function("envelope_errcode_success_1k", |b| {
        b.iter(|| {
            assert!(matches!(
                classify(Dialect::Errcode, &fields, black_box(&ok)),
                Verdict::Success { json: true }
            ))
        })
    });
    c.bench_function("envelope_errcode_failure", |b| {
        b.iter(|| {
            assert!(matches!(
                classify(Dialect::Errcode, &fields, black_box(&fail)),
                Verdict::Failure { .. }
            ))
        })
    });
    let jf = EnvelopeFields::default_for(Dialect::Jing);
    let jing = HttpResponse::json(
        r#"{"code":20001,"msg":"授权权限不足","sub_msg":"访问令牌已过期","data":null}"#,
    );
    c.bench_function("envelope_jing_failure", |b| {
        b.iter(|| {
            assert!(matches!(
                classify(Dialect::Jing, &jf, black_box(&jing)),
                Verdict::Failure { .. }
            ))
        })
    });
}

fn callback(c: &mut Criterion) {
    use wxcore::callback::CallbackCrypto;
    let crypto = CallbackCrypto::new(
        "spamtest",
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "wx2c2769f8efd9abc2",
    )
    .unwrap();
    let mut msg = String::from("<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[");
    while msg.len() < 1000 {
        msg.push('x');
    }
    msg.push_str("]]></Content></xml>");
    let reply = crypto.encrypt(&msg, "1409735669", "1320562132", [7; 16]);
    let body = reply.to_xml();
    c.bench_function("callback_verify_decrypt_1k", |b| {
        b.iter(|| {
            crypto
                .decrypt(
                    black_box(&reply.msg_signature),
                    "1409735669",
                    "1320562132",
                    black_box(&body),
                )
                .unwrap()
        })
    });
}

/// A component's ticket push taken in: verify, decrypt, check the AppId,
/// keep it (each push newer than the last, as the platform's are).
fn push_intake(c: &mut Criterion) {
    use wxcore::callback::CallbackCrypto;
    const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
    let cfg = Config::from_json(&format!(
        r#"{{"apps": [{{"id": "cp", "platform": "wechat-component", "app_id": "wx5823bf96d3bd56c7",
              "secret": "S", "callback": {{"token": "QDG6eK", "encoding_aes_key": "{KEY}"}}}}]}}"#
    ))
    .unwrap();
    let mut engine = Engine::new(cfg, NOW).unwrap();
    let crypto = CallbackCrypto::new("QDG6eK", KEY, "wx5823bf96d3bd56c7").unwrap();
    let mut created = 1_700_000_000u64;
    let mut now = NOW;
    let mut out = Vec::new();
    c.bench_function("component_ticket_push", |b| {
        b.iter_batched(
            || {
                created += 1;
                let xml = format!("<xml><AppId><![CDATA[wx5823bf96d3bd56c7]]></AppId><CreateTime>{created}</CreateTime><InfoType><![CDATA[component_verify_ticket]]></InfoType><ComponentVerifyTicket><![CDATA[ticket@@@{created}]]></ComponentVerifyTicket></xml>");
                let r = crypto.encrypt(&xml, &created.to_string(), "1320562132", [7; 16]);
                let query = vec![
                    ("timestamp".to_string(), r.timestamp.clone()),
                    ("nonce".to_string(), r.nonce.clone()),
                    ("msg_signature".to_string(), r.msg_signature.clone()),
                ];
                let body = format!("<xml><AppId><![CDATA[wx5823bf96d3bd56c7]]></AppId><Encrypt><![CDATA[{}]]></Encrypt></xml>", r.encrypt);
                (query, body)
            },
            |(query, body)| {
                now += 1;
                let p = engine
                    .handle_push("cp", "POST", &query, body.as_bytes(), now)
                    .unwrap();
                assert_eq!(p.ticket_kept, Some(true));
                out.clear();
                engine.poll_outputs(now, &mut out);
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

/// 32,000 calls queued behind a concurrency cap of one, drained one answer
/// at a time: the cost of the queue per call must not grow with its length.
fn queue_drain(c: &mut Criterion) {
    fn drain(n: usize) {
        let config = Config::from_json(
            r#"{"apps":[{"id":"oa","platform":"wechat-oa","app_id":"wx123","secret":"s"}],
                "rate_limit":{"concurrency":1},"quota":{"mode":"off"}}"#,
        )
        .unwrap();
        let state = format!(
            r#"{{"version":2,"apps":{{"oa":{{"platform":"wechat-oa","account":"wx123","token":{{"value":"TOKEN","expires_at_ms":{},"refresh_at_ms":{}}}}}}}}}"#,
            NOW + 7_000_000,
            NOW + 3_600_000
        );
        let mut engine = Engine::restore(config, &state, NOW).unwrap();
        for i in 0..n {
            let path = if i % 2 == 0 {
                "/cgi-bin/user/info"
            } else {
                "/cgi-bin/tags/get"
            };
            engine.submit(Call::get("oa", path), NOW);
        }
        let mut done = 0;
        let mut out = Vec::new();
        while done < n {
            out.clear();
            engine.poll_outputs(NOW, &mut out);
            for o in out.drain(..) {
                match o {
                    Output::Send(req) => {
                        engine.handle_response(req.id, HttpResponse::json("{}"), NOW)
                    }
                    Output::Done(_) => done += 1,
                    _ => {}
                }
            }
        }
    }
    let mut g = c.benchmark_group("queue_drain");
    g.sample_size(10);
    for n in [4_000usize, 32_000] {
        g.bench_function(format!("{n}_calls_concurrency_1"), |b| {
            b.iter(|| drain(black_box(n)))
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    full_cycle,
    envelopes,
    callback,
    push_intake,
    queue_drain
);
criterion_main!(benches);
