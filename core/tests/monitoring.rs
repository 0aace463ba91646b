//! Monitoring beyond the shared vectors: the metrics text's shape (every
//! family declared once, counters named `_total`, base units), refresh
//! triggers and retries counted, and no secret or token in the snapshot or
//! the metrics.

use std::collections::{BTreeMap, BTreeSet};
use wxcore::{Call, Config, Engine, HttpResponse, Output, TransportErrorKind};

const T0: u64 = 1_700_000_000_000;

fn drain(e: &mut Engine, now: u64) -> Vec<Output> {
    let mut v = Vec::new();
    e.poll_outputs(now, &mut v);
    v
}

fn sends(outs: &[Output]) -> Vec<u64> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send(r) => Some(r.id),
            _ => None,
        })
        .collect()
}

fn engine() -> Engine {
    let cfg = Config::from_json(
        r#"{"apps": [{"id": "oa", "platform": "wechat-oa", "app_id": "wxA", "secret": "APPSECRET-XYZ"}],
            "seed": 7, "retry": {"jitter": false, "max_attempts": 3}}"#,
    )
    .unwrap();
    Engine::new(cfg, T0).unwrap()
}

#[test]
fn refresh_triggers_and_retries_are_counted_and_nothing_secret_shows() {
    let mut e = engine();
    e.submit(
        Call::get("oa", "/cgi-bin/user/info").query("openid", "o1"),
        T0,
    );
    let token_req = sends(&drain(&mut e, T0))[0];
    e.handle_response(
        token_req,
        HttpResponse::json(r#"{"access_token":"TOKEN-ONE","expires_in":7200}"#),
        T0 + 10,
    );
    let call = sends(&drain(&mut e, T0 + 10))[0];
    // The platform rejects the token: invalidated, fetched again, resent.
    e.handle_response(
        call,
        HttpResponse::json(r#"{"errcode":40001,"errmsg":"invalid credential"}"#),
        T0 + 20,
    );
    let refetch = sends(&drain(&mut e, T0 + 20))[0];
    e.handle_response(
        refetch,
        HttpResponse::json(r#"{"access_token":"TOKEN-TWO","expires_in":7200}"#),
        T0 + 30,
    );
    let resend = sends(&drain(&mut e, T0 + 30))[0];
    // A reset on a GET: resent after a backoff (a retry).
    e.handle_transport_error(resend, TransportErrorKind::Reset, T0 + 40);
    drain(&mut e, T0 + 40);

    let status = e.status(T0 + 50);
    let app = &status["apps"][0];
    assert_eq!(app["last_refresh"]["trigger"], "invalidated");
    assert_eq!(app["refreshes"], 2);
    assert_eq!(app["token"]["id"].as_str().unwrap().len(), 16);
    let metrics = e.metrics_text(T0 + 50);
    assert!(metrics.contains(
        "wxcore_token_refreshes_total{app=\"oa\",trigger=\"initial\",result=\"ok\"} 1\n"
    ));
    assert!(metrics.contains(
        "wxcore_token_refreshes_total{app=\"oa\",trigger=\"invalidated\",result=\"ok\"} 1\n"
    ));
    assert!(metrics.contains("wxcore_retries_total{app=\"oa\",reason=\"transport\"} 1\n"));
    let text = format!("{status}\n{metrics}");
    for secret in ["APPSECRET-XYZ", "TOKEN-ONE", "TOKEN-TWO"] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
}

#[test]
fn every_family_is_declared_once_with_prometheus_names() {
    let mut e = engine();
    e.submit(Call::get("oa", "/cgi-bin/user/info"), T0);
    let req = sends(&drain(&mut e, T0))[0];
    e.handle_transport_error(req, TransportErrorKind::DnsTimeout, T0 + 5);
    drain(&mut e, T0 + 5);
    let text = e.metrics_text(T0 + 10);
    let mut types = BTreeMap::new();
    let mut helps = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                types.insert(name.to_string(), kind.to_string()).is_none(),
                "{name} twice"
            );
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            helps.insert(rest.split_once(' ').unwrap().0.to_string());
        } else {
            let series = line.rsplit_once(' ').unwrap().0;
            let name = series.split('{').next().unwrap();
            let family = types
                .keys()
                .find(|f| {
                    name == f.as_str()
                        || ["_bucket", "_sum", "_count"]
                            .iter()
                            .any(|s| name == format!("{f}{s}"))
                })
                .unwrap_or_else(|| panic!("{name} has no # TYPE before it"));
            assert!(family.starts_with("wxcore_"));
        }
    }
    assert_eq!(types.keys().cloned().collect::<BTreeSet<_>>(), helps);
    for (name, kind) in &types {
        assert_eq!(
            name.ends_with("_total"),
            kind == "counter",
            "{name} is a {kind}"
        );
        assert!(
            !name.contains("_ms") && !name.contains("millis"),
            "{name}: base units"
        );
    }
    assert_eq!(
        types["wxcore_upstream_request_duration_seconds"],
        "histogram"
    );
    assert!(text.contains("wxcore_alerts_total{app=\"oa\",category=\"dns_timeout\"} 1\n"));
}

#[test]
fn events_carry_their_level_and_one_log_line() {
    let mut e = engine();
    e.submit(Call::get("oa", "/cgi-bin/user/info"), T0);
    let req = sends(&drain(&mut e, T0))[0];
    e.handle_response(
        req,
        HttpResponse::json(r#"{"access_token":"TOKEN-ONE","expires_in":7200}"#),
        T0 + 10,
    );
    let event = drain(&mut e, T0 + 10)
        .into_iter()
        .find(|o| matches!(o, Output::Event(_)))
        .unwrap()
        .to_json();
    let ev = &event["event"];
    assert_eq!(ev["level"], "info");
    assert_eq!(
        ev["text"],
        format!(
            "token_fetched app=oa expires_at_ms={} forced=false refresh_at_ms={} source=http",
            T0 + 7_200_000,
            T0 + 3_600_000
        )
    );
}
