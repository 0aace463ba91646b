"""Engine robustness: every call's deadline (queue, store, token, send),
store operations that never answer, cancellation before and after sending,
state and shared values bound to their account, store keys no two accounts
share, an unshared lease sized to the fetch, and every bounded setting."""
import json as _json
from common import *
from fleet import fcfg, TK, LK, incr, qk

UI = "/cgi-bin/user/info"
TG = "/cgi-bin/tags/get"
GT = "/cgi-bin/ticket/getticket"
NICK = {"openid": "o1", "nickname": "Ann"}
TKT = {"errcode": 0, "errmsg": "ok", "ticket": "TK1", "expires_in": 7200}


def ticket(t, kind="jsapi", app="oa"):
    return {"now_ms": t, "input": {"submit": {"app": app, "ticket": kind}}}


def wecom_key(kind, corp, agent):
    return f"wxcore:{kind}:wecom:{corp}:{agent}:gettoken"


FILE = "robustness"
SCENARIOS = [
    scenario(
        "deadline: a store that never answers ends the waiting call with `timeout` (phase token) at its deadline; "
        "the late answer still moves the fetch on",
        fcfg(call_timeout_ms=2000),
        (submit(T0, UI), [store(1, "get", TK), idle(T0 + 2000)]),
        (poll(T0 + 1999), [idle(T0 + 2000)]),
        (poll(T0 + 2000), [err(1, "timeout", code="token"), idle()]),
        (sres(T0 + 3000, 1, value=None), [store(2, "lock", LK, owner=owner(), ttl_ms=lease_ttl()), idle()]),
    ),
    scenario(
        "store timeout: an unanswered store operation counts as the store failing, and the engine fetches locally",
        fcfg(store_timeout_ms=500),
        (submit(T0, UI), [store(1, "get", TK), idle(T0 + 500)]),
        (poll(T0 + 500), [ev("store_unavailable", op="get", message="no answer within 500 ms"),
                          incr(2, "/cgi-bin/stable_token", T0 + 500), stable_fetch(1), idle(T0 + 1000)]),
        (sres(T0 + 520, 1, value=None), [idle(T0 + 1000)]),
        (poll(T0 + 1000), [ev("store_unavailable", op="incr_by"), idle()]),
    ),
    scenario(
        "deadline: a call queued behind a rate limit past its deadline completes with `timeout` (phase queue)",
        cfg(oa(rate_limit={"per_minute": 1, "burst": 1}), call_timeout_ms=30_000),
        (with_token(), [idle(R)]),
        (submit(T0 + 1000, UI), [send(1, "GET", oa_url(UI, "T1")), idle(T0 + 31_000)]),
        # One call a minute: 16 thousandths refilled after 1 s, 984 more take 59,040 ms.
        (submit(T0 + 2000, UI), [idle(T0 + 31_000)]),
        (resp(T0 + 3000, 1, NICK), [ok(1, NICK), idle(T0 + 32_000)]),
        (poll(T0 + 32_000), [err(2, "timeout", code="queue"), idle(T0 + 61_040)]),
        (poll(T0 + 61_040), [idle(R)]),
    ),
    scenario(
        "deadline: a call's own timeout_ms overrides the config; the token fetch it waited for is still adopted",
        cfg(oa()),
        (submit(T0, UI, timeout_ms=1500), [stable_fetch(1), idle(T0 + 1500)]),
        (poll(T0 + 1500), [err(1, "timeout", code="token"), idle()]),
        (resp(T0 + 1600, 1, tok("T1")), [fetched(T0 + 2 * HOUR, T0 + HOUR), idle(T0 + HOUR)]),
        (submit(T0 + 1700, UI), [send(2, "GET", oa_url(UI, "T1")), idle(T0 + HOUR)]),
    ),
    scenario(
        "deadline: a call's timeout_ms out of range (1 ms to a day) is an invalid request",
        cfg(oa()),
        (submit(T0, UI, timeout_ms=0), [err(1, "invalid_request"), idle()]),
        (submit(T0, UI, timeout_ms=86_400_001), [err(2, "invalid_request"), idle()]),
    ),
    scenario(
        "deadline: an in-flight call past its deadline completes with `timeout` (phase send); the engine's "
        "backstop takes the unanswered request as timed out after timeout_ms and a 5 s grace",
        cfg(oa(), call_timeout_ms=8000),
        (with_token(), [idle(R)]),
        (submit(T0 + 1000, UI), [send(1, "GET", oa_url(UI, "T1")), idle(T0 + 9000)]),
        (poll(T0 + 9000), [err(1, "timeout", code="send"), idle(R)]),
        # The backstop (T0 + 1000 + 5000 + 5000) does not wake the host; the next input fires it.
        (submit(T0 + 12_000, UI), [send(2, "GET", oa_url(UI, "T1")), idle(T0 + 20_000)]),
        (resp(T0 + 12_100, 1, NICK), [idle(T0 + 20_000)]),
    ),
    scenario(
        "cancel before send: a call waiting for a token is never sent and never counted; the fetch goes on",
        cfg(oa(quota={"limits": {TG: 1}})),
        (submit(T0, TG), [stable_fetch(1), idle()]),
        (cancel(T0 + 10, 1), [err(1, "cancelled"), idle()]),
        (resp(T0 + 100, 1, tok("T1")), [fetched(T0 + 2 * HOUR, T0 + HOUR), idle(T0 + HOUR)]),
        # The limit is 1: had the cancelled call been counted, this one would be refused.
        (submit(T0 + 200, TG), [ev("quota_warning", percent=80), ev("quota_warning", percent=95),
                                ev("quota_exhausted", path=TG), send(2, "GET", oa_url(TG, "T1")), idle(T0 + HOUR)]),
    ),
    scenario(
        "cancel in flight: `cancelled` at once; the late 40001 still invalidates the token; "
        "cancelling a completed or unknown call changes nothing",
        cfg(oa()),
        (with_token(), [idle(R)]),
        (submit(T0 + 1000, UI), [send(1, "GET", oa_url(UI, "T1")), idle(R)]),
        (cancel(T0 + 1100, 1), [err(1, "cancelled"), idle(R)]),
        (resp(T0 + 1200, 1, werr(40001)), [ev("token_invalidated", code=40001), idle()]),
        (cancel(T0 + 1250, 1), [idle()]),
        (cancel(T0 + 1260, 99), [idle()]),
        (submit(T0 + 1300, UI), [stable_fetch(2), idle()]),
    ),
    scenario(
        "cancel: a ticket request waiting on a fetch is withdrawn; the fetch serves the others",
        cfg(oa()),
        (with_token(), [idle(R)]),
        (ticket(T0 + 1000), [send(1, "GET", oa_url(GT, "T1", ("type", "jsapi"))), idle(R)]),
        (ticket(T0 + 1001), [idle(R)]),
        # Request 1 is call 1; the engine's own fetch is call 2; request 2 is call 3.
        (cancel(T0 + 1002, 2), [idle(R)]),
        (cancel(T0 + 1002, 3), [err(3, "cancelled"), idle(R)]),
        (resp(T0 + 1100, 1, TKT), [ev("ticket_fetched"),
                                   ok(1, {"ticket": "TK1", "expires_at_ms": T0 + 1000 + 2 * HOUR, "app_id": "wxA"}),
                                   idle(R)]),
    ),
    scenario(
        "an expired ticket is never handed out: one whose life ran out during its fetch fails the request",
        cfg(oa()),
        (with_token(), [idle(R)]),
        (ticket(T0 + 1000), [send(1, "GET", oa_url(GT, "T1", ("type", "jsapi"))), idle(R)]),
        (resp(T0 + 3000, 1, dict(TKT, expires_in=1)), [err(1, "malformed_response"), idle(R)]),
    ),
    scenario(
        "restore: an entry exported for another app id is dropped with an event, and a new token is fetched",
        cfg(oa(app_id="wxNEW")),
        (restore(T0, state({"oa": dict(app_state("T1", T0 + 2 * HOUR, R), platform="wechat-oa", account="wxA")})),
         [ev("state_dropped", app="oa", what="app"), idle()]),
        (submit(T0 + 1000, UI), [stable_fetch(1, appid="wxNEW"), idle()]),
    ),
    scenario(
        "restore: an entry for another platform, and a version-1 entry that names no account, are dropped",
        cfg(wecom(id="oa", corp_id="wxA", agent_id="1")),
        (restore(T0, state({"oa": dict(app_state("T1", T0 + 2 * HOUR, R), platform="wechat-oa", account="wxA")})),
         [ev("state_dropped", app="oa", what="app"), idle()]),
        (restore(T0, {"version": 1, "apps": {"oa": {"token": {"value": "T1", "expires_at_ms": T0 + 2 * HOUR}}},
                      "circuits": {}}),
         [ev("state_dropped", app="oa", what="app"), idle()]),
    ),
    scenario(
        "restore: an expired token is never adopted",
        cfg(oa()),
        (restore(T0, state({"oa": app_state("T1", T0, T0 - HOUR)})), [ev("state_dropped", what="token"), idle()]),
        (submit(T0 + 1000, UI), [stable_fetch(1), idle()]),
    ),
    scenario(
        "fleet: WeCom ids that would join into one key are kept apart; a value naming another account is ignored",
        cfg(wecom(id="a", corp_id="a:b", agent_id="c"), wecom(id="b", corp_id="a", agent_id="b:c"),
            store="external", instance_id="p1", entropy=ENTROPY),
        (submit(T0, "/cgi-bin/user/get", app="a"), [store(1, "get", wecom_key("token", "a%3Ab", "c")), idle()]),
        (submit(T0 + 1, "/cgi-bin/user/get", app="b"), [store(2, "get", wecom_key("token", "a", "b%3Ac")), idle()]),
        (sres(T0 + 10, 1, value=_json.dumps({"v": 1, "account": "wecom:a:b%3Ac:gettoken", "token": "W",
                                              "expires_at_ms": T0 + 2 * HOUR, "refresh_at_ms": T0 + HOUR})),
         [ev("store_value_ignored", app="a", what="token"),
          store(3, "lock", wecom_key("lock", "a%3Ab", "c"), owner=owner()), idle()]),
    ),
    # The fuzzer's findings (FUZZING.md), replayed.
    scenario(
        "fuzz F2: a queued call is checked against the daily quota again when it leaves the queue",
        cfg(oa(rate_limit={"per_minute": 60, "burst": 1}, quota={"limits": {TG: 2}})),
        (with_token(), [idle(R)]),
        (submit(T0 + 1000, TG), [send(1, "GET", oa_url(TG, "T1")), idle(R)]),
        (submit(T0 + 1001, TG), [idle(T0 + 2000)]),
        (submit(T0 + 1002, TG), [idle(T0 + 2000)]),
        (poll(T0 + 2000), [ev("quota_warning", percent=80), ev("quota_warning", percent=95),
                           ev("quota_exhausted", path=TG), send(2, "GET", oa_url(TG, "T1")),
                           err(3, "quota_exhausted"), idle(R)]),
    ),
    scenario(
        "fuzz F4: a queued call is checked against an IP block again when it leaves the queue",
        cfg(oa(rate_limit={"per_minute": 60, "burst": 1})),
        (with_token(), [idle(R)]),
        (submit(T0 + 1000, UI), [send(1, "GET", oa_url(UI, "T1")), idle(R)]),
        (submit(T0 + 1001, UI), [idle(T0 + 2000)]),
        # The answer pumps the queue: the waiting call is refused at once, unsent.
        (resp(T0 + 1500, 1, werr(89507, "ip refused")), [ev("ip_blocked", until_ms=T0 + 1500 + HOUR),
                                                          err(1, "ip_blocked"), err(2, "ip_blocked"), idle(T0 + 2000)]),
        (poll(T0 + 2000), [idle(R)]),
    ),
    scenario(
        "fuzz F3: a token's lifetime is bounded (2^40 ms), so its refresh is a time the host can reach",
        cfg(oa()),
        (submit(T0, UI), [stable_fetch(1), idle()]),
        (resp(T0 + 10, 1, tok("T1", 2 ** 63 - 1)),
         [fetched(T0 + 2 ** 40, T0 + 2 ** 40 - HOUR), send(2, "GET", oa_url(UI, "T1")), idle(T0 + 2 ** 40 - HOUR)]),
    ),
    scenario(
        "fuzz F3: no wake time beyond the clamp (2^53 ms); a clock past it ends every call, and nothing is due after",
        cfg(oa(), call_timeout_ms=1000),
        (restore(T0, state({"oa": app_state("T1", 10489325061521117585, 10489325061521117585)})), [idle(2 ** 53)]),
        (submit(T0 + 1000, UI), [send(1, "GET", oa_url(UI, "T1")), idle(T0 + 2000)]),
        (poll(2 ** 60), [err(1, "invalid_request", code="clock"), idle()]),
        (submit(2 ** 60, UI), [err(2, "invalid_request", code="clock"), idle()]),
    ),
    scenario(
        "fuzz F6: fleet: a count taken before clear_quota is not trusted after it; the call counts again",
        fcfg(quota={"limits": {TG: 2}}),
        (with_token(), [idle(R)]),
        (submit(T0 + 1000, TG), [incr(1, TG, T0 + 1000), idle(R)]),
        (submit(T0 + 1001, "/cgi-bin/clear_quota", method="POST", json={"appid": "wxA"}),
         [send(1, "POST", oa_url("/cgi-bin/clear_quota", "T1"), json={"appid": "wxA"}), idle(R)]),
        (resp(T0 + 1100, 1, OK), [ev("quota_cleared", app="oa"), ok(2, OK), idle(R)]),
        # The pre-clear total (5, past the limit) would have refused the call.
        (sres(T0 + 1200, 1, count=5), [incr(2, TG, T0 + 1200), idle(R)]),
        (sres(T0 + 1300, 2, count=1), [send(2, "GET", oa_url(TG, "T1")), idle(R)]),
    ),
    scenario(
        "fuzz F7: fleet: a call sent on local counting while the store failed is added to the next shared count",
        fcfg(quota={"limits": {TG: 2}}),
        (with_token(), [idle(R)]),
        (submit(T0 + 1000, TG), [incr(1, TG, T0 + 1000), idle(R)]),
        (sres(T0 + 1010, 1, error="down"), [ev("store_unavailable", op="incr_by"), send(1, "GET", oa_url(TG, "T1")), idle(R)]),
        (submit(T0 + 1100, TG), [store(2, "incr_by", qk(TG, T0 + 1100), delta=2, ttl_ms=next_reset(T0) - (T0 + 1100)), idle(R)]),
        (sres(T0 + 1110, 2, count=2), [ev("quota_warning", percent=80), ev("quota_warning", percent=95),
                                       ev("quota_exhausted", path=TG), send(2, "GET", oa_url(TG, "T1")), idle(R)]),
        (submit(T0 + 1200, TG), [err(3, "quota_exhausted"), idle(R)]),
    ),
    scenario(
        "a redirect is an answer, never followed: a 302 is a malformed response",
        cfg(result_app()),
        (submit(T0, "/v1/users", app="res"), [send(1, "GET", "https://result.example/v1/users"), idle()]),
        (resp(T0 + 10, 1, status=302, headers={"location": "https://evil.example/"}, body=""),
         [err(1, "malformed_response", http_status=302), idle()]),
    ),
    config_scenario("fleet mode needs the host's entropy for a lease owner no other process has",
                    cfg(oa(), store="external", instance_id="p1"), "entropy"),
    config_scenario("a lease shorter than a token fetch can take is refused", fcfg(lease_ms=10_000), "lease_ms"),
    config_scenario("bounds: refresh_margin_ms beyond a day", cfg(oa(), refresh_margin_ms=2 * DAY), "refresh_margin_ms"),
    config_scenario("bounds: timeout_ms below 100 ms", cfg(oa(), timeout_ms=0), "timeout_ms"),
    config_scenario("bounds: call_timeout_ms beyond a day", cfg(oa(), call_timeout_ms=DAY + 1), "call_timeout_ms"),
    config_scenario("bounds: store_timeout_ms beyond ten minutes", cfg(oa(), store_timeout_ms=10 ** 9), "store_timeout_ms"),
    config_scenario("bounds: retry.max_attempts beyond 10", cfg(oa(), retry={"max_attempts": 11}), "retry.max_attempts"),
    config_scenario("bounds: retry.max_delay_ms near 2^64", cfg(oa(), retry={"max_delay_ms": 2 ** 64 - 1}), "retry.max_delay_ms"),
    config_scenario("bounds: failover.threshold of zero", cfg(oa(), failover={"threshold": 0}), "failover.threshold"),
    config_scenario("bounds: a burst near 2^64", cfg(oa(), rate_limit={"per_minute": 60, "burst": 2 ** 64 - 1}), "rate_limit.burst"),
    config_scenario("bounds: an app's per_minute near 2^64", cfg(oa(rate_limit={"per_minute": 2 ** 64 - 1})),
                    "apps[0].rate_limit.per_minute"),
    config_scenario("bounds: a daily limit beyond 10^12", cfg(oa(), quota={"limits": {UI: 10 ** 13}}), f"quota.limits.{UI}"),
    config_scenario("bounds: a custom profile's block_ms near 2^64 would wrap the IP block",
                    cfg({"id": "x", "platform": "mine", "app_id": "A", "secret": "S"},
                        profiles={"mine": {"extends": "wechat-oa",
                                           "errors": [{"code": 89507, "kind": "ip_blocked", "block_ms": 2 ** 64 - 1}]}}),
                    "profiles.mine.errors[0].block_ms"),
    config_scenario("bounds: a custom profile's default_expires_in_s beyond a year",
                    cfg({"id": "x", "platform": "mine", "base_url": "https://m.example", "app_id": "A", "secret": "S",
                         "token_path": "/t"},
                        profiles={"mine": {"extends": "cj", "token_endpoints": {"token": {
                            "method": "GET", "params_in": "query", "params": [["appid", "{app_id}"]],
                            "token_field": "access_token", "expires_in_field": "expires_in",
                            "default_expires_in_s": 2 ** 63}}}}),
                    "profiles.mine.token_endpoints.token.default_expires_in_s"),
]
