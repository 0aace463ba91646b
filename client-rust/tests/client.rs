//! The tokio host with an in-process transport: calls complete through the
//! real driver loop, waiting calls share one token fetch, and a call whose
//! future is dropped is cancelled in the engine (never sent).

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use wxcore::{Call, Config, HttpRequest, HttpResponse, TransportErrorKind};
use wxcore_client::{BoxFuture, Client, Http};

/// Answers token requests once `open` is notified; business calls at once.
#[derive(Clone, Default)]
struct Stub {
    seen: Arc<Mutex<Vec<String>>>,
    open: Arc<Notify>,
}

impl Http for Stub {
    fn send(&self, req: HttpRequest) -> BoxFuture<Result<HttpResponse, TransportErrorKind>> {
        let me = self.clone();
        Box::pin(async move {
            let path = req.url_without_query().to_string();
            me.seen.lock().unwrap().push(path.clone());
            let body = if path.ends_with("/cgi-bin/stable_token") {
                me.open.notified().await;
                r#"{"access_token": "TK", "expires_in": 7200}"#.to_string()
            } else {
                r#"{"openid": "o1"}"#.to_string()
            };
            Ok(HttpResponse {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.into_bytes(),
            })
        })
    }
}

fn config() -> Config {
    Config::from_json(
        r#"{"apps": [{"id": "oa", "platform": "wechat-oa", "app_id": "wxA", "secret": "S",
            "base_url": "http://sim.invalid"}]}"#,
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_calls_share_one_fetch_and_a_dropped_call_is_never_sent() {
    let stub = Stub::default();
    let client = Client::builder(config())
        .http(stub.clone())
        .build()
        .unwrap();
    // Dropped while it waits for the token: cancelled before it is sent.
    let dropped = tokio::time::timeout(
        Duration::from_millis(50),
        client.call(Call::get("oa", "/cgi-bin/user/get")),
    )
    .await;
    assert!(dropped.is_err(), "the call was still waiting for its token");
    let calls: Vec<_> = (0..3)
        .map(|i| {
            let c = client.clone();
            tokio::spawn(async move {
                c.call(Call::get("oa", "/cgi-bin/user/info").query("openid", format!("o{i}")))
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    stub.open.notify_one();
    for c in calls {
        let reply = c.await.unwrap().expect("the call succeeds");
        assert_eq!(reply.json_value().unwrap()["openid"], "o1");
    }
    let seen = stub.seen.lock().unwrap().clone();
    let fetches = seen.iter().filter(|p| p.ends_with("stable_token")).count();
    assert_eq!(fetches, 1, "{seen:?}");
    assert!(
        !seen.iter().any(|p| p.ends_with("/cgi-bin/user/get")),
        "the dropped call was sent: {seen:?}"
    );
    assert_eq!(seen.len(), 4, "{seen:?}");
}

#[tokio::test]
async fn a_config_error_names_the_field() {
    let cfg =
        Config::from_json(r#"{"apps": [{"id": "oa", "platform": "wechat-oa", "app_id": "wxA"}]}"#)
            .unwrap();
    let e = Client::new(cfg).err().expect("no secret, no source");
    assert_eq!(e.field, "apps[0].secret");
}
