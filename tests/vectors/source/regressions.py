"""Cases found in review: each scenario pins down a fix."""
from common import *
from fleet import fcfg, TK, LK, incr, qk, stored

UI = "/cgi-bin/user/info"

FILE = "regressions"
SCENARIOS = [
    scenario(
        "a token that arrives already expired fails the waiting calls instead of looping on fetches",
        cfg(oa(token_endpoint="classic")),
        (submit(T0, UI), [classic_fetch(1), idle()]),
        (resp(T0 + 100, 1, tok("T1", 0)), [ev("token_fetch_failed", kind="malformed_response"), err(1, "malformed_response"), idle()]),
    ),
    scenario(
        "a slow token answer never schedules its refresh in the past",
        cfg(oa(token_endpoint="classic")),
        (submit(T0, UI), [classic_fetch(1), idle()]),
        (resp(T0 + 40_000, 1, tok("T1", 60)), [fetched(T0 + 60_000, T0 + 41_000), send(2, "GET", oa_url(UI, "T1")), idle(T0 + 41_000)]),
    ),
    scenario(
        "a forced refresh that never left (connect) is repeated forced on api2, and the day's allowance is given back",
        cfg(oa()),
        (with_token("T1"), [idle(R)]),
        (submit(T0 + 1000, UI), [send(1, "GET", oa_url(UI, "T1")), idle(R)]),
        (resp(T0 + 1100, 1, werr(40001)), [ev("token_invalidated"), stable_fetch(2), idle()]),
        (resp(T0 + 1200, 2, tok("T1")), [stable_fetch(3, force=True), idle()]),
        (terr(T0 + 1300, 3, "connect"), [stable_fetch(4, force=True, host=OA2), idle()]),
        (resp(T0 + 1400, 4, tok("T2")), [fetched(T0 + 1300 + 2 * HOUR, T0 + 1300 + HOUR, forced=True),
                                        send(5, "GET", oa_url(UI, "T2")), idle(T0 + 1300 + HOUR)]),
    ),
    scenario(
        "a forced refresh that timed out (it may have arrived) is not repeated",
        cfg(oa(hosts=[OA])),
        (with_token("T1"), [idle(R)]),
        (submit(T0 + 1000, UI), [send(1, "GET", oa_url(UI, "T1")), idle(R)]),
        (resp(T0 + 1100, 1, werr(40001)), [ev("token_invalidated"), stable_fetch(2), idle()]),
        (resp(T0 + 1200, 2, tok("T1")), [stable_fetch(3, force=True), idle()]),
        (terr(T0 + 6200, 3, "timeout"), [ev("token_fetch_failed", kind="transport", code="timeout"), err(1, "transport", code="timeout"), idle()]),
    ),
    scenario(
        "a probe ended by a reset does not leave the primary's circuit stuck: the next call probes again",
        cfg(oa(), failover={"threshold": 1, "cooldown_ms": 10_000}),
        (with_token("T1"), [idle(R)]),
        (submit(T0 + 1000, UI), [send(1, "GET", oa_url(UI, "T1")), idle(R)]),
        (terr(T0 + 1010, 1, "connect"), [ev("circuit_opened", until_ms=T0 + 11_010), ev("retry_scheduled"), ev("failover"),
                                         send(2, "GET", oa_url(UI, "T1", host=OA2)), idle(R)]),
        (resp(T0 + 1020, 2, {}), [ok(1), idle(R)]),
        (submit(T0 + 11_010, UI, method="POST", json={}), [send(3, "POST", oa_url(UI, "T1")), idle(R)]),
        (terr(T0 + 11_020, 3, "reset"), [err(2, "transport", code="reset"), idle(R)]),
        (submit(T0 + 11_030, UI), [send(4, "GET", oa_url(UI, "T1")), idle(R)]),
    ),
    scenario(
        "a platform Retry-After beyond a day is capped at a day",
        cfg(result_app()),
        (submit(T0, "/api/channels", app="res"), [send(1, "GET", "https://result.example/api/channels"), idle()]),
        (resp(T0 + 100, 1, {"result": "error"}, status=429, headers={"retry-after": "99999999999999", "content-type": "application/json"}),
         [ev("rate_limited", app="res", retry_after_ms=DAY, code=None), idle(T0 + 100 + DAY)]),
    ),
    scenario(
        "fleet: a busy token endpoint is retried under the same lease, then published and released once",
        fcfg(),
        (submit(T0, UI), [store(1, "get", TK), idle()]),
        (sres(T0 + 10, 1, value=None), [store(2, "lock", LK), idle()]),
        (sres(T0 + 20, 2, locked=True), [store(3, "get", TK), idle()]),
        (sres(T0 + 30, 3, value=None), [incr(4, "/cgi-bin/stable_token", T0 + 30), stable_fetch(1), idle()]),
        (resp(T0 + 100, 1, werr(-1)), [idle(T0 + 300)]),
        (poll(T0 + 300), [incr(5, "/cgi-bin/stable_token", T0 + 300), stable_fetch(2), idle()]),
        (resp(T0 + 400, 2, tok("S1")), [fetched(T0 + 300 + 2 * HOUR, T0 + 300 + HOUR), incr(6, UI, T0 + 400),
                                       store(7, "set", TK), store(8, "unlock", LK, owner=owner()), idle(T0 + 300 + HOUR)]),
        (sres(T0 + 410, 6, count=1), [send(3, "GET", oa_url(UI, "S1")), idle(T0 + 300 + HOUR)]),
    ),
    scenario(
        "fleet: clear_quota also resets the shared counters",
        fcfg(),
        (with_token("S1"), [idle(R)]),
        (submit(T0 + 1000, "/cgi-bin/tags/get"), [incr(1, "/cgi-bin/tags/get", T0 + 1000), idle(R)]),
        (sres(T0 + 1010, 1, count=1), [send(1, "GET", oa_url("/cgi-bin/tags/get", "S1")), idle(R)]),
        (submit(T0 + 2000, "/cgi-bin/clear_quota", method="POST", json={"appid": "wxA"}), [send(2, "POST", oa_url("/cgi-bin/clear_quota", "S1")), idle(R)]),
        (resp(T0 + 2100, 2, OK), [store(2, "set", qk("/cgi-bin/tags/get"), value="0", ttl_ms=next_reset(T0) - (T0 + 2100)),
                                  ev("quota_cleared"), ok(2, OK), idle(R)]),
    ),
    scenario(
        "fleet: a slot freed by a counted call that then waits for a token lets the queue move",
        fcfg(rate_limit={"concurrency": 1}, quota={"limits": {"/cgi-bin/tags/get": 10}}),
        (with_token("S1", expires=T0 + 2000, refresh=None), [idle()]),
        (submit(T0 + 1000, "/cgi-bin/tags/get"), [incr(1, "/cgi-bin/tags/get", T0 + 1000), idle()]),
        (submit(T0 + 1001, "/cgi-bin/tags/get"), [idle()]),  # queued behind the cap of one
        # The count comes back after the token expired: call 1 waits for a
        # token, and so must call 2 (it used to stay queued forever).
        (sres(T0 + 3000, 1, count=1), [store(2, "get", TK), idle()]),
        (sres(T0 + 3010, 2, error="down"), [ev("store_unavailable", op="get"), incr(3, "/cgi-bin/stable_token", T0 + 3010),
                                            stable_fetch(1), idle()]),
        (resp(T0 + 3100, 1, werr(40013)), [ev("token_fetch_failed", kind="credential_invalid"),
                                          err(1, "credential_invalid"), err(2, "credential_invalid"), idle()]),
    ),
    scenario(
        "fleet: a counted call that waits for a token is not refused by later counts reaching the limit",
        fcfg(quota={"limits": {"/cgi-bin/tags/get": 2}}),
        (with_token("S1", expires=T0 + 2000, refresh=None), [idle()]),
        (submit(T0 + 1000, "/cgi-bin/tags/get"), [incr(1, "/cgi-bin/tags/get", T0 + 1000), idle()]),
        # The count (2 = the limit) comes back after the token expired.
        (sres(T0 + 3000, 1, count=2), [ev("quota_warning", used=2, percent=80), ev("quota_warning", percent=95),
                                       ev("quota_exhausted"), store(2, "get", TK), idle()]),
        (sres(T0 + 3010, 2, value=stored("S2", T0 + 2 * HOUR, T0 + HOUR)),
         [fetched(T0 + 2 * HOUR, T0 + HOUR, source="store"), send(1, "GET", oa_url("/cgi-bin/tags/get", "S2")), idle(T0 + HOUR)]),
    ),
    scenario(
        "fleet: an IP block that arrives while a call is being counted stops it before it is sent",
        fcfg(quota={"limits": {"/cgi-bin/tags/get": 10}}),
        (with_token("S1"), [idle(R)]),
        (submit(T0 + 1000, UI), [incr(1, UI, T0 + 1000), idle(R)]),
        (submit(T0 + 1001, "/cgi-bin/tags/get"), [incr(2, "/cgi-bin/tags/get", T0 + 1001), idle(R)]),
        (sres(T0 + 1010, 1, count=1), [send(1, "GET", oa_url(UI, "S1")), idle(R)]),
        (resp(T0 + 1100, 1, werr(89507, "ip refused")), [ev("ip_blocked"), err(1, "ip_blocked", code=89507), idle(R)]),
        (sres(T0 + 1110, 2, count=1), [err(2, "ip_blocked"), idle(R)]),
    ),
    config_scenario("a zero rate limit would hold every call forever", cfg(oa(rate_limit={"per_minute": 0})), "apps[0].rate_limit.per_minute"),
    config_scenario("a zero concurrency cap would hold every call forever", cfg(oa(), rate_limit={"concurrency": 0}), "rate_limit.concurrency"),
    config_scenario("a lease beyond a day is refused", cfg(oa(), lease_ms=2 ** 41), "lease_ms"),
]
