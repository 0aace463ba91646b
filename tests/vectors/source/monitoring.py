"""Monitoring (seed 004 §7): alert categories per transport phase and failure, 5-minute alert windows, the status snapshot and the Prometheus samples. Steps `status` and `metrics` record {"status": snapshot} and {"metrics": {"samples": {series: value}}} (each sample line split at its last space) before the step's drain."""
# Every expected value below is written from the rules (seed 004 §7, the
# snapshot and metric layouts in the README), not produced by the code
# under test.
FILE = "monitoring"
T0 = 1700000000000
RESETS = 1700064000000  # 2023-11-16 00:00 Asia/Shanghai, after T0 (computed with Python's datetime)
TOKEN_ID = "23efb2d60bf1c214"  # sha256("wxcore token id:TOKEN-A")[:16], computed with hashlib

def step(t, k, v=None): return {"now_ms": t, "input": {k: v if v is not None else {}}}
IDLE = {"idle": {"wake_at_ms": None}}

static_app = {"id": "res", "platform": "result", "base_url": "https://result.example",
              "app_id": "AK", "secret": "TID", "token_placement": {"in": "header", "name": "token_id"}}
base_cfg = {"seed": 1, "retry": {"max_attempts": 1, "jitter": False}, "failover": {"threshold": 100},
            "call_timeout_ms": None, "store_timeout_ms": None}

# --- 1. each transport failure → its category
kinds = [("dns", "dns_failure", "the host name did not resolve", "22:13:20"),
         ("dns_timeout", "dns_timeout", "name resolution timed out", "22:13:21"),
         ("connect", "connect_failure", "the connection was refused or unreachable", "22:13:22"),
         ("connect_timeout", "connect_timeout", "the connection could not be made in time", "22:13:23"),
         ("timeout", "request_timeout", "no answer within 5000 ms", "22:13:24"),
         ("reset", "connection_reset", "the connection was reset", "22:13:25"),
         ("tls", "tls_failure", "the TLS handshake or session failed", "22:13:26")]
steps, expect = [], []
for i, (kind, cat, err, clock) in enumerate(kinds):
    t = T0 + i * 1000
    steps.append(step(t, "submit", {"app": "res", "method": "POST", "path": "/api/x", "json": {"n": i}}))
    expect += [{"send": {"id": i + 1, "method": "POST", "url": "https://result.example/api/x"}}, IDLE]
    steps.append(step(t + 100, "transport_error", {"id": i + 1, "kind": kind}))
    expect += [{"done": {"call_id": i + 1, "ok": False, "error": {"kind": "transport", "code": kind}}}, IDLE]
alerts = []
for i, (kind, cat, err, clock) in enumerate(kinds):
    t = T0 + i * 1000 + 100
    alerts.append({"app": "res", "category": cat, "open": True, "first_seen_ms": t,
                   "first_seen": f"2023-11-14 {clock} UTC", "last_seen_ms": t, "window_start_ms": t,
                   "window_ms": 300000, "count_window": 1, "count_total": 1,
                   "sample": {"host": "https://result.example", "api": "/api/x", "error": err}})
steps.append(step(T0 + 10000, "status"))
expect += [{"status": {"version": 1, "now_ms": T0 + 10000,
            "apps": [{"app": "res", "platform": "result", "credential": "static", "token": None,
                      "fetching": False, "last_refresh": None, "refreshes": 0, "queued": 0,
                      "in_flight": 0, "waiting_for_token": 0, "blocked_until_ms": None}],
            "quotas": [],
            # reset and tls say nothing of reachability: 5 failures count, the circuit stays shut
            "hosts": [{"host": "https://result.example", "state": "closed", "until_ms": None, "failures": 5}],
            "alerts": alerts}}, IDLE]
steps.append(step(T0 + 10000, "metrics"))
samples = {}
for kind, cat, err, clock in kinds:
    samples[f'wxcore_upstream_requests_total{{app="res",api="/api/x",outcome="{cat}"}}'] = "1"
    samples[f'wxcore_alerts_total{{app="res",category="{cat}"}}'] = "1"
samples.update({
    'wxcore_upstream_request_duration_seconds_bucket{app="res",api="/api/x",le="0.05"}': "0",
    'wxcore_upstream_request_duration_seconds_bucket{app="res",api="/api/x",le="0.1"}': "7",
    'wxcore_upstream_request_duration_seconds_bucket{app="res",api="/api/x",le="+Inf"}': "7",
    'wxcore_upstream_request_duration_seconds_sum{app="res",api="/api/x"}': "0.7",
    'wxcore_upstream_request_duration_seconds_count{app="res",api="/api/x"}': "7",
    'wxcore_circuit_open{host="https://result.example"}': "0",
    'wxcore_queued_calls{app="res"}': "0",
    'wxcore_in_flight_calls{app="res"}': "0",
})
expect += [{"metrics": {"samples": samples}}, IDLE]
s1 = {"name": "monitoring: each transport failure the host reports (phase and how) is its own alert category, with the seed's sample; the metrics count each outcome",
      "config": {"apps": [static_app], **base_cfg}, "steps": steps, "expect": expect}

# --- 2. windows roll over at 5 minutes
steps, expect = [], []
def fail_at(submit_t, fail_t, rid):
    steps.append(step(submit_t, "submit", {"app": "res", "method": "POST", "path": "/api/x", "json": {}}))
    expect.extend([{"send": {"id": rid}}, IDLE])
    steps.append(step(fail_t, "transport_error", {"id": rid, "kind": "timeout"}))
    expect.extend([{"done": {"call_id": rid, "ok": False}}, IDLE])
def alert(open_, start, last, cw, ct):
    return {"app": "res", "category": "request_timeout", "open": open_, "first_seen_ms": T0 + 50,
            "first_seen": "2023-11-14 22:13:20 UTC", "last_seen_ms": last, "window_start_ms": start,
            "window_ms": 300000, "count_window": cw, "count_total": ct,
            "sample": {"host": "https://result.example", "api": "/api/x", "error": "no answer within 5000 ms"}}
fail_at(T0, T0 + 50, 1)
fail_at(T0 + 300000, T0 + 300049, 2)          # the window's last millisecond
steps.append(step(T0 + 300049, "status"))
expect += [{"status": {"alerts": [alert(True, T0 + 50, T0 + 300049, 2, 2)]}}, IDLE]
steps.append(step(T0 + 300050, "status"))     # five minutes after the window opened
expect += [{"status": {"alerts": [alert(False, T0 + 50, T0 + 300049, 0, 2)]}}, IDLE]
fail_at(T0 + 300100, T0 + 300150, 3)
steps.append(step(T0 + 300150, "status"))
expect += [{"status": {"alerts": [alert(True, T0 + 300150, T0 + 300150, 1, 3)]}}, IDLE]
steps.append(step(T0 + 300150, "metrics"))
expect += [{"metrics": {"samples": {
    'wxcore_alerts_total{app="res",category="request_timeout"}': "3",
    'wxcore_upstream_requests_total{app="res",api="/api/x",outcome="request_timeout"}': "3",
    'wxcore_upstream_request_duration_seconds_sum{app="res",api="/api/x"}': "0.149"}}}, IDLE]
s2 = {"name": "monitoring: an alert's window lasts five minutes from its first failure; the next failure after it opens a new window, the total keeps counting",
      "config": {"apps": [static_app], **base_cfg}, "steps": steps, "expect": expect}

# --- 3. a scripted morning: token, timeouts, MarkFail, 5xx and truncated bodies, quota
P, DR = "https://p.example", "https://dr.example"
oa = {"id": "oa", "platform": "wechat-oa", "app_id": "wxA", "secret": "SECRET", "hosts": [P, DR]}
cfg = {"apps": [oa], "quota": {"limits": {"/cgi-bin/user/info": 6}}, "seed": 1,
       "retry": {"max_attempts": 1, "jitter": False}, "failover": {"threshold": 2, "cooldown_ms": 60000},
       "call_timeout_ms": None, "store_timeout_ms": None}
REFRESH = T0 + 3600000
W = {"idle": {"wake_at_ms": REFRESH}}
info = {"app": "oa", "method": "GET", "path": "/cgi-bin/user/info", "query": [["openid", "o1"]]}
steps = [
    step(T0, "submit", info),
    step(T0 + 40, "response", {"id": 1, "json": {"access_token": "TOKEN-A", "expires_in": 7200}}),
    step(T0 + 100, "response", {"id": 2, "json": {"openid": "o1"}}),
    step(T0 + 200, "submit", {"app": "oa", "method": "POST", "path": "/cgi-bin/message/custom/send", "json": {"touser": "o1"}}),
    step(T0 + 300, "transport_error", {"id": 3, "kind": "timeout"}),
    step(T0 + 400, "submit", info),
    step(T0 + 500, "transport_error", {"id": 4, "kind": "connect_timeout"}),
    step(T0 + 600, "submit", info),
    step(T0 + 700, "response", {"id": 5, "status": 502, "body": "Bad Gateway"}),
    step(T0 + 800, "submit", info),
    step(T0 + 900, "response", {"id": 6, "body": "{\"openid\":\"o1\",\"nick"}),
    step(T0 + 1000, "submit", info),
    step(T0 + 1100, "response", {"id": 7, "json": {"errcode": 40003, "errmsg": "invalid openid"}}),
    step(T0 + 2000, "status"),
    step(T0 + 2000, "metrics"),
]
expect = [
    {"send": {"id": 1, "method": "POST", "url": P + "/cgi-bin/stable_token"}}, IDLE,
    {"event": {"type": "token_fetched", "app": "oa", "expires_at_ms": T0 + 7200000, "refresh_at_ms": REFRESH,
               "source": "http", "forced": False, "level": "info",
               "text": f"token_fetched app=oa expires_at_ms={T0 + 7200000} forced=false refresh_at_ms={REFRESH} source=http"}},
    {"send": {"id": 2, "method": "GET"}}, W,
    {"done": {"call_id": 1, "ok": True}}, W,
    {"send": {"id": 3, "method": "POST"}}, W,
    {"done": {"call_id": 2, "ok": False, "error": {"kind": "transport", "code": "timeout"}}}, W,
    {"send": {"id": 4, "method": "GET"}}, W,
    {"event": {"type": "circuit_opened", "host": P, "until_ms": T0 + 60500, "level": "warn",
               "text": f"circuit_opened host={P} until_ms={T0 + 60500}"}},
    {"done": {"call_id": 3, "ok": False, "error": {"kind": "transport", "code": "connect_timeout"}}}, W,
    {"send": {"id": 5, "method": "GET"}}, W,
    {"done": {"call_id": 4, "ok": False, "error": {"http_status": 502}}}, W,
    {"send": {"id": 6, "method": "GET"}}, W,
    {"done": {"call_id": 5, "ok": False, "error": {"kind": "malformed_response"}}}, W,
    {"event": {"type": "quota_warning", "app": "oa", "path": "/cgi-bin/user/info", "used": 5, "limit": 6,
               "percent": 80, "level": "warn",
               "text": "quota_warning app=oa limit=6 path=/cgi-bin/user/info percent=80 used=5"}},
    {"send": {"id": 7, "method": "GET"}}, W,
    {"done": {"call_id": 6, "ok": False, "error": {"code": 40003}}}, W,
]
def q(api, used, limit, pct):
    return {"app": "oa", "api": api, "used": used, "limit": limit, "percent": pct, "exhausted": False,
            "resets_at_ms": RESETS}
def al(cat, first, last, cw, clock, host, api, err):
    return {"app": "oa", "category": cat, "open": True, "first_seen_ms": first, "first_seen": f"2023-11-14 {clock} UTC",
            "last_seen_ms": last, "window_start_ms": first, "window_ms": 300000, "count_window": cw,
            "count_total": cw, "sample": {"host": host, "api": api, "error": err}}
expect += [{"status": {"version": 1, "now_ms": T0 + 2000,
    "apps": [{"app": "oa", "platform": "wechat-oa", "credential": "secret",
              "token": {"id": TOKEN_ID, "obtained_at_ms": T0 + 40, "age_ms": 1960, "expires_at_ms": T0 + 7200000,
                        "remaining_ms": 7198000, "refresh_at_ms": REFRESH},
              "fetching": False,
              "last_refresh": {"at_ms": T0 + 40, "trigger": "initial", "result": "ok", "code": None},
              "refreshes": 1, "queued": 0, "in_flight": 0, "waiting_for_token": 0, "blocked_until_ms": None}],
    "quotas": [q("/cgi-bin/message/custom/send", 1, 500000, 0), q("/cgi-bin/stable_token", 1, 500000, 0),
               q("/cgi-bin/user/info", 5, 6, 83)],
    "hosts": [{"host": P, "state": "open", "until_ms": T0 + 60500, "failures": 2},
              {"host": DR, "state": "closed", "until_ms": None, "failures": 0}],
    "alerts": [
        al("connect_timeout", T0 + 500, T0 + 500, 1, "22:13:20", P, "/cgi-bin/user/info",
           "the connection could not be made in time"),
        al("request_timeout", T0 + 300, T0 + 300, 1, "22:13:20", P, "/cgi-bin/message/custom/send",
           "no answer within 5000 ms"),
        al("response_invalid", T0 + 700, T0 + 900, 2, "22:13:20", DR, "/cgi-bin/user/info",
           "HTTP 200, 20 bytes: body is not JSON"),
        al("mark_fail", T0 + 500, T0 + 500, 1, "22:13:20", P, "/cgi-bin/user/info",
           "host blocked after repeated failures until 2023-11-14 22:14:20 UTC"),
    ]}}, W]
expect += [{"metrics": {"samples": {
    'wxcore_upstream_requests_total{app="oa",api="/cgi-bin/stable_token",outcome="ok"}': "1",
    'wxcore_upstream_requests_total{app="oa",api="/cgi-bin/user/info",outcome="ok"}': "1",
    'wxcore_upstream_requests_total{app="oa",api="/cgi-bin/user/info",outcome="connect_timeout"}': "1",
    'wxcore_upstream_requests_total{app="oa",api="/cgi-bin/user/info",outcome="response_invalid"}': "2",
    'wxcore_upstream_requests_total{app="oa",api="/cgi-bin/user/info",outcome="api_error"}': "1",
    'wxcore_upstream_requests_total{app="oa",api="/cgi-bin/message/custom/send",outcome="request_timeout"}': "1",
    'wxcore_upstream_request_duration_seconds_count{app="oa",api="/cgi-bin/user/info"}': "5",
    'wxcore_upstream_request_duration_seconds_sum{app="oa",api="/cgi-bin/user/info"}': "0.46",
    'wxcore_upstream_request_duration_seconds_bucket{app="oa",api="/cgi-bin/user/info",le="0.05"}': "0",
    'wxcore_upstream_request_duration_seconds_bucket{app="oa",api="/cgi-bin/user/info",le="0.1"}': "5",
    'wxcore_token_expiry_timestamp_seconds{app="oa"}': "1700007200",
    'wxcore_token_refreshes_total{app="oa",trigger="initial",result="ok"}': "1",
    'wxcore_quota_used{app="oa",api="/cgi-bin/user/info"}': "5",
    'wxcore_quota_limit{app="oa",api="/cgi-bin/user/info"}': "6",
    f'wxcore_circuit_open{{host="{P}"}}': "1",
    f'wxcore_circuit_open{{host="{DR}"}}': "0",
    'wxcore_alerts_total{app="oa",category="mark_fail"}': "1",
    'wxcore_alerts_total{app="oa",category="response_invalid"}': "2",
}}}, W]
s3 = {"name": "monitoring: the status snapshot and metrics after a scripted run: a token, a request timeout, a connect timeout opening the primary's circuit (MarkFail), a 502 and a truncated body (response invalid), a platform error, a quota at 83%",
      "config": cfg, "steps": steps, "expect": expect}

SCENARIOS = [s1, s2, s3]
