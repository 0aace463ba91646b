"""WeChat Official Account policies: busy retry, failover, quotas, rate
limits, administrator confirmation, IP blocks, envelopes, bad calls, state."""
from common import *

UI = "/cgi-bin/user/info"
SEND = "/cgi-bin/message/custom/send"
MSG = {"touser": "o1", "msgtype": "text", "text": {"content": "hi"}}
NICK = {"openid": "o1", "nickname": "Ann"}
MIDNIGHT = next_reset(T0)
LONG = dict(expires=T0 + 3 * DAY, refresh=T0 + 2 * DAY)  # a token outliving the scenario
LR = T0 + 2 * DAY


def ui(id, token="T1", host=OA):
    return send(id, "GET", oa_url(UI, token, ("openid", "o1"), host=host))


def submit_ui(t, **kw):
    return submit(t, UI, query=[["openid", "o1"]], **kw)


def busy_retry_backoff():
    return scenario(
        "busy (-1) on a GET is retried with exponential backoff, then fails busy after three attempts", cfg(oa()),
        (with_token(), [idle(R)]),
        (submit_ui(T0 + 1000), [ui(1), idle(R)]),
        (resp(T0 + 1100, 1, werr(-1, "system error")),
         [ev("retry_scheduled", app="oa", call_id=1, attempt=2, delay_ms=200, reason="busy"), idle(T0 + 1300)]),
        (poll(T0 + 1300), [ui(2), idle(R)]),
        (resp(T0 + 1400, 2, werr(-1)), [ev("retry_scheduled", attempt=3, delay_ms=400), idle(T0 + 1800)]),
        (poll(T0 + 1800), [ui(3), idle(R)]),
        (resp(T0 + 1900, 3, werr(-1, "system error")),
         [err(1, "busy", code=-1, message="system error", http_status=200), idle(R)]),
    )


def jitter():
    rng = SplitMix64(7)
    rng.next()  # the engine's lock-owner name takes the first draw
    d1 = 100 + rng.next() % 101  # attempt 2: base 200, jitter in [100, 200]
    d2 = 200 + rng.next() % 201  # attempt 3: 400, jitter in [200, 400]
    c = cfg(oa(), retry={"jitter": True}, seed=7)
    return scenario(
        "backoff jitter is drawn from the seeded SplitMix64 within [d/2, d]", c,
        (with_token(), [idle(R)]),
        (submit_ui(T0 + 1000), [ui(1), idle(R)]),
        (resp(T0 + 1100, 1, werr(-1)), [ev("retry_scheduled", attempt=2, delay_ms=d1), idle(T0 + 1100 + d1)]),
        (poll(T0 + 1100 + d1), [ui(2), idle(R)]),
        (resp(T0 + 2000, 2, werr(-1)), [ev("retry_scheduled", attempt=3, delay_ms=d2), idle(T0 + 2000 + d2)]),
    )


FILE = "oa-policies"
SCENARIOS = [
    busy_retry_backoff(),
    jitter(),
    scenario(
        "busy on a non-idempotent POST is not resent", cfg(oa()),
        (with_token(), [idle(R)]),
        (submit(T0 + 1000, SEND, method="POST", json=MSG),
         [send(1, "POST", oa_url(SEND, "T1"), json=MSG, headers={"content-type": "application/json"}), idle(R)]),
        (resp(T0 + 1100, 1, werr(-1)), [err(1, "busy", code=-1), idle(R)]),
    ),
    scenario(
        "busy on a POST marked idempotent is resent", cfg(oa()),
        (with_token(), [idle(R)]),
        (submit(T0 + 1000, SEND, method="POST", json=MSG, idempotent=True), [send(1, "POST", oa_url(SEND, "T1"), json=MSG), idle(R)]),
        (resp(T0 + 1100, 1, werr(-1)), [ev("retry_scheduled", call_id=1, attempt=2, delay_ms=200, reason="busy"), idle(T0 + 1300)]),
        (poll(T0 + 1300), [send(2, "POST", oa_url(SEND, "T1"), json=MSG), idle(R)]),
        (resp(T0 + 1400, 2, OK), [ok(1, OK), idle(R)]),
    ),
    scenario(
        "a timeout on a non-idempotent POST is not resent (it may have been executed)", cfg(oa()),
        (with_token(), [idle(R)]),
        (submit(T0 + 1000, SEND, method="POST", json=MSG), [send(1, "POST", oa_url(SEND, "T1")), idle(R)]),
        (terr(T0 + 6000, 1, "timeout"), [err(1, "transport", code="timeout", http_status=None), idle(R)]),
    ),
    scenario(
        "a timeout on a GET is resent at once on api2", cfg(oa()),
        (with_token(), [idle(R)]),
        (submit_ui(T0 + 1000), [ui(1), idle(R)]),
        (terr(T0 + 6000, 1, "timeout"), [
            ev("retry_scheduled", call_id=1, attempt=2, delay_ms=0, reason="transport"),
            ev("failover", app="oa", call_id=1, **{"from": OA, "to": OA2}),
            ui(2, host=OA2), idle(R)]),
        (resp(T0 + 6100, 2, NICK), [ok(1, NICK), idle(R)]),
    ),
    scenario(
        "a connect failure proves the POST never left: it is resent on api2", cfg(oa()),
        (with_token(), [idle(R)]),
        (submit(T0 + 1000, SEND, method="POST", json=MSG), [send(1, "POST", oa_url(SEND, "T1")), idle(R)]),
        (terr(T0 + 1010, 1, "connect"), [ev("retry_scheduled", attempt=2, delay_ms=0, reason="transport"),
                                         ev("failover", **{"from": OA, "to": OA2}),
                                         send(2, "POST", oa_url(SEND, "T1", host=OA2), json=MSG), idle(R)]),
        (resp(T0 + 1100, 2, OK), [ok(1, OK), idle(R)]),
    ),
    scenario(
        "a reset on a GET with a single host is retried on the same host after backoff",
        cfg(oa(hosts=[OA])),
        (with_token(), [idle(R)]),
        (submit_ui(T0 + 1000), [ui(1), idle(R)]),
        (terr(T0 + 1010, 1, "reset"), [ev("retry_scheduled", attempt=2, delay_ms=200, reason="transport"), idle(T0 + 1210)]),
        (poll(T0 + 1210), [ui(2), idle(R)]),
        (terr(T0 + 1220, 2, "tls"), [ev("retry_scheduled", attempt=3, delay_ms=400), idle(T0 + 1620)]),
        (poll(T0 + 1620), [ui(3), idle(R)]),
        (terr(T0 + 1630, 3, "dns"), [err(1, "transport", code="dns"), idle(R)]),
    ),
    scenario(
        "HTTP 502 with an HTML body is busy: a GET is retried", cfg(oa()),
        (with_token(), [idle(R)]),
        (submit_ui(T0 + 1000), [ui(1), idle(R)]),
        (resp(T0 + 1100, 1, status=502, body="<html>Bad Gateway</html>", headers={"content-type": "text/html"}),
         [ev("retry_scheduled", attempt=2, delay_ms=200, reason="busy"), idle(T0 + 1300)]),
        (poll(T0 + 1300), [ui(2), idle(R)]),
        (resp(T0 + 1400, 2, NICK), [ok(1, NICK), idle(R)]),
    ),
    scenario(
        "host circuit: opens after consecutive connect failures, routes to api2, probes the primary after the cool-down and closes",
        cfg(oa(), failover={"threshold": 2, "cooldown_ms": 10_000}),
        (with_token(), [idle(R)]),
        (submit_ui(T0 + 1000), [ui(1), idle(R)]),
        (terr(T0 + 1010, 1, "connect"), [ev("retry_scheduled", attempt=2, delay_ms=0), ev("failover", **{"from": OA, "to": OA2}),
                                         ui(2, host=OA2), idle(R)]),
        (resp(T0 + 1020, 2, NICK), [ok(1), idle(R)]),
        (submit_ui(T0 + 2000), [ui(3), idle(R)]),
        (terr(T0 + 2010, 3, "connect"), [ev("circuit_opened", host=OA, until_ms=T0 + 12_010),
                                         ev("retry_scheduled", call_id=2, attempt=2, delay_ms=0),
                                         ev("failover", call_id=2), ui(4, host=OA2), idle(R)]),
        (resp(T0 + 2020, 4, NICK), [ok(2), idle(R)]),
        (submit_ui(T0 + 3000), [ui(5, host=OA2), idle(R)]),
        (resp(T0 + 3010, 5, NICK), [ok(3), idle(R)]),
        (submit_ui(T0 + 12_010), [ui(6, host=OA), idle(R)]),
        (submit_ui(T0 + 12_020), [ui(7, host=OA2), idle(R)]),
        (resp(T0 + 12_030, 6, NICK), [ev("circuit_closed", host=OA), ok(4), idle(R)]),
        (resp(T0 + 12_040, 7, NICK), [ok(5), idle(R)]),
        (submit_ui(T0 + 13_000), [ui(8, host=OA), idle(R)]),
    ),
    scenario(
        "a failed probe reopens the circuit for another cool-down",
        cfg(oa(), failover={"threshold": 1, "cooldown_ms": 10_000}),
        (with_token(), [idle(R)]),
        (submit_ui(T0 + 1000), [ui(1), idle(R)]),
        (terr(T0 + 1010, 1, "timeout"), [ev("circuit_opened", host=OA, until_ms=T0 + 11_010), ev("retry_scheduled"),
                                         ev("failover"), ui(2, host=OA2), idle(R)]),
        (resp(T0 + 1020, 2, NICK), [ok(1), idle(R)]),
        (submit_ui(T0 + 11_010), [ui(3, host=OA), idle(R)]),
        (terr(T0 + 11_020, 3, "connect"), [ev("circuit_opened", host=OA, until_ms=T0 + 21_020), ev("retry_scheduled"),
                                           ev("failover"), ui(4, host=OA2), idle(R)]),
        (submit_ui(T0 + 15_000), [ui(5, host=OA2), idle(R)]),
    ),
    scenario(
        "failover walks the host list: api, api2, then the configured regional host",
        cfg(oa(regions=["sh"])),
        (with_token(), [idle(R)]),
        (submit_ui(T0 + 1000), [ui(1), idle(R)]),
        (terr(T0 + 1010, 1, "connect"), [ev("retry_scheduled", attempt=2), ev("failover", **{"from": OA, "to": OA2}), ui(2, host=OA2), idle(R)]),
        (terr(T0 + 1020, 2, "dns"), [ev("retry_scheduled", attempt=3), ev("failover", **{"from": OA2, "to": OA_SH}), ui(3, host=OA_SH), idle(R)]),
        (resp(T0 + 1030, 3, NICK), [ok(1, NICK), idle(R)]),
    ),
    scenario(
        "45009 marks the API exhausted until 00:00 Asia/Shanghai; later calls are refused locally; midnight resets",
        cfg(oa()),
        (with_token(**LONG), [idle(LR)]),
        (submit(T0 + 1000, "/cgi-bin/message/mass/sendall", method="POST", json={"filter": {"is_to_all": True}}),
         [send(1, "POST", oa_url("/cgi-bin/message/mass/sendall", "T1")), idle(LR)]),
        (resp(T0 + 1100, 1, werr(45009, "reach max api daily quota limit")), [
            ev("quota_exhausted", app="oa", path="/cgi-bin/message/mass/sendall", until_ms=MIDNIGHT),
            err(1, "quota_exhausted", code=45009, retry_after_ms=MIDNIGHT - (T0 + 1100)), idle(LR)]),
        (submit(T0 + 2000, "/cgi-bin/message/mass/sendall", method="POST", json={}),
         [err(2, "quota_exhausted", code=None, retry_after_ms=MIDNIGHT - (T0 + 2000)), idle(LR)]),
        (submit_ui(T0 + 2100), [ui(2), idle(LR)]),
        (submit(MIDNIGHT - 1, "/cgi-bin/message/mass/sendall", method="POST", json={}),
         [err(4, "quota_exhausted", retry_after_ms=1), idle(LR)]),
        (submit(MIDNIGHT, "/cgi-bin/message/mass/sendall", method="POST", json={}),
         [send(3, "POST", oa_url("/cgi-bin/message/mass/sendall", "T1")), idle(LR)]),
    ),
    scenario(
        "local quota counting: warnings at 80% and 95%, refusal at the limit (enforce)",
        cfg(oa(), quota={"mode": "enforce", "limits": {"/cgi-bin/tags/get": 5}}),
        (with_token(), [idle(R)]),
        *[(submit(T0 + 1000 + i, "/cgi-bin/tags/get"), [send(i, "GET", oa_url("/cgi-bin/tags/get", "T1")), idle(R)]) for i in (1, 2, 3)],
        (submit(T0 + 1004, "/cgi-bin/tags/get"), [
            ev("quota_warning", app="oa", path="/cgi-bin/tags/get", used=4, limit=5, percent=80),
            send(4, "GET", oa_url("/cgi-bin/tags/get", "T1")), idle(R)]),
        (submit(T0 + 1005, "/cgi-bin/tags/get"), [
            ev("quota_warning", used=5, limit=5, percent=95),
            ev("quota_exhausted", path="/cgi-bin/tags/get", until_ms=MIDNIGHT),
            send(5, "GET", oa_url("/cgi-bin/tags/get", "T1")), idle(R)]),
        (submit(T0 + 1006, "/cgi-bin/tags/get"), [err(6, "quota_exhausted", retry_after_ms=MIDNIGHT - (T0 + 1006)), idle(R)]),
    ),
    scenario(
        "quota mode warn: the same warnings, but nothing is refused locally",
        cfg(oa(), quota={"mode": "warn", "limits": {"/cgi-bin/tags/get": 2}}),
        (with_token(), [idle(R)]),
        (submit(T0 + 1001, "/cgi-bin/tags/get"), [send(1, "GET", oa_url("/cgi-bin/tags/get", "T1")), idle(R)]),
        (submit(T0 + 1002, "/cgi-bin/tags/get"), [ev("quota_warning", percent=80), ev("quota_warning", percent=95),
                                                  ev("quota_exhausted"), send(2, "GET", oa_url("/cgi-bin/tags/get", "T1")), idle(R)]),
        (submit(T0 + 1003, "/cgi-bin/tags/get"), [send(3, "GET", oa_url("/cgi-bin/tags/get", "T1")), idle(R)]),
        (resp(T0 + 1100, 3, werr(45009)), [err(3, "quota_exhausted", code=45009), idle(R)]),
        (submit(T0 + 1200, "/cgi-bin/tags/get"), [send(4, "GET", oa_url("/cgi-bin/tags/get", "T1")), idle(R)]),
    ),
    scenario(
        "quota mode off: no counting, no events; 45009 still reaches the caller as quota_exhausted",
        cfg(oa(), quota={"mode": "off", "limits": {"/cgi-bin/tags/get": 1}}),
        (with_token(), [idle(R)]),
        (submit(T0 + 1001, "/cgi-bin/tags/get"), [send(1, "GET", oa_url("/cgi-bin/tags/get", "T1")), idle(R)]),
        (submit(T0 + 1002, "/cgi-bin/tags/get"), [send(2, "GET", oa_url("/cgi-bin/tags/get", "T1")), idle(R)]),
        (resp(T0 + 1100, 2, werr(45009)), [err(2, "quota_exhausted", code=45009, retry_after_ms=MIDNIGHT - (T0 + 1100)), idle(R)]),
        (submit(T0 + 1200, "/cgi-bin/tags/get"), [send(3, "GET", oa_url("/cgi-bin/tags/get", "T1")), idle(R)]),
    ),
    scenario(
        "a successful clear_quota resets the app's counters and learned exhaustion",
        cfg(oa()),
        (with_token(), [idle(R)]),
        (submit(T0 + 1000, "/cgi-bin/message/mass/sendall", method="POST", json={}), [send(1, "POST", oa_url("/cgi-bin/message/mass/sendall", "T1")), idle(R)]),
        (resp(T0 + 1100, 1, werr(45009)), [ev("quota_exhausted"), err(1, "quota_exhausted"), idle(R)]),
        (submit(T0 + 2000, "/cgi-bin/clear_quota", method="POST", json={"appid": "wxA"}),
         [send(2, "POST", oa_url("/cgi-bin/clear_quota", "T1"), json={"appid": "wxA"}), idle(R)]),
        (resp(T0 + 2100, 2, OK), [ev("quota_cleared", app="oa"), ok(2, OK), idle(R)]),
        (submit(T0 + 2200, "/cgi-bin/message/mass/sendall", method="POST", json={}), [send(3, "POST", oa_url("/cgi-bin/message/mass/sendall", "T1")), idle(R)]),
    ),
    scenario(
        "quota tiers: the test-account table (user/get: 100 a day) against the new-account table (500)",
        cfg(oa(id="t", app_id="wxT", quota={"tier": "test"}), oa(id="n", app_id="wxN")),
        (restore(T0, state({
            "t": app_state("TT", T0 + 2 * HOUR, R, quota={"day": day_of(T0), "paths": {"/cgi-bin/user/get": {"used": 99}}}),
            "n": app_state("TN", T0 + 2 * HOUR, R, quota={"day": day_of(T0), "paths": {"/cgi-bin/user/get": {"used": 99}}}),
        })), [idle(R)]),
        (submit(T0 + 1000, "/cgi-bin/user/get", app="t"), [
            ev("quota_warning", app="t", used=100, limit=100, percent=80),
            ev("quota_warning", app="t", used=100, limit=100, percent=95),
            ev("quota_exhausted", app="t", path="/cgi-bin/user/get"),
            send(1, "GET", oa_url("/cgi-bin/user/get", "TT")), idle(R)]),
        (submit(T0 + 1001, "/cgi-bin/user/get", app="n"), [send(2, "GET", oa_url("/cgi-bin/user/get", "TN")), idle(R)]),
        (submit(T0 + 1002, "/cgi-bin/user/get", app="t"), [err(3, "quota_exhausted", app="t"), idle(R)]),
    ),
    scenario(
        "45011 (minute quota): the call waits for the next minute and completes; a later call queues behind it",
        cfg(oa()),
        (with_token(), [idle(R)]),
        (submit_ui(T0 + 1000), [ui(1), idle(R)]),
        (resp(T0 + 1100, 1, werr(45011, "api minute-quota reach limit")),
         [ev("rate_limited", app="oa", path=UI, retry_after_ms=60_000 - 21_100, code=45011), idle(T0 + 40_000)]),
        (submit_ui(T0 + 5000), [idle(T0 + 40_000)]),
        (poll(T0 + 40_000), [ui(2), ui(3), idle(R)]),
        (resp(T0 + 40_100, 2, NICK), [ok(1, NICK), idle(R)]),
        (resp(T0 + 40_200, 3, NICK), [ok(2, NICK), idle(R)]),
    ),
    scenario(
        "a call rate-limited more often than max_rate_limit_retries fails rate_limited with retry_after_ms",
        cfg(oa(), retry={"max_rate_limit_retries": 1}),
        (with_token(), [idle(R)]),
        (submit_ui(T0 + 1000), [ui(1), idle(R)]),
        (resp(T0 + 1100, 1, werr(45011)), [ev("rate_limited", retry_after_ms=38_900), idle(T0 + 40_000)]),
        (poll(T0 + 40_000), [ui(2), idle(R)]),
        (resp(T0 + 40_100, 2, werr(45011)), [ev("rate_limited", retry_after_ms=59_900),
                                             err(1, "rate_limited", code=45011, retry_after_ms=59_900), idle(R)]),
    ),
    scenario(
        "local token bucket: 60 a minute with a burst of 2 queues the third call for one second",
        cfg(oa(), rate_limit={"per_minute": 60, "burst": 2}),
        (with_token(), [idle(R)]),
        (submit_ui(T0 + 1000), [ui(1), idle(R)]),
        (submit_ui(T0 + 1000), [ui(2), idle(R)]),
        (submit_ui(T0 + 1000), [idle(T0 + 2000)]),
        (poll(T0 + 1999), [idle(T0 + 2000)]),
        (poll(T0 + 2000), [ui(3), idle(R)]),
    ),
    scenario(
        "concurrency cap: a second call waits for the first to complete",
        cfg(oa(rate_limit={"concurrency": 1})),
        (with_token(), [idle(R)]),
        (submit_ui(T0 + 1000), [ui(1), idle(R)]),
        (submit_ui(T0 + 1001), [idle(R)]),
        (resp(T0 + 1100, 1, NICK), [ok(1, NICK), ui(2), idle(R)]),
        (resp(T0 + 1200, 2, NICK), [ok(2, NICK), idle(R)]),
    ),
    scenario(
        "89503: admin_confirmation_required after exactly one attempt, with an event",
        cfg(oa()),
        (with_token(), [idle(R)]),
        (submit(T0 + 1000, "/cgi-bin/menu/create", method="POST", json={"button": []}, idempotent=True),
         [send(1, "POST", oa_url("/cgi-bin/menu/create", "T1")), idle(R)]),
        (resp(T0 + 1100, 1, werr(89503, "risky operation, waiting for admin confirmation")), [
            ev("admin_confirmation_required", app="oa", path="/cgi-bin/menu/create", code=89503),
            err(1, "admin_confirmation_required", code=89503), idle(R)]),
        (poll(T0 + 60_000), [idle(R)]),
    ),
    scenario(
        "89501 on a GET is not resent either",
        cfg(oa()),
        (with_token(), [idle(R)]),
        (submit_ui(T0 + 1000), [ui(1), idle(R)]),
        (resp(T0 + 1100, 1, werr(89501)), [ev("admin_confirmation_required", code=89501), err(1, "admin_confirmation_required", code=89501), idle(R)]),
    ),
    scenario(
        "89506: the IP is blocked for 24 h and calls are refused locally until then",
        cfg(oa()),
        (with_token(**LONG), [idle(LR)]),
        (submit_ui(T0 + 1000), [ui(1), idle(LR)]),
        (resp(T0 + 1100, 1, werr(89506)), [ev("ip_blocked", app="oa", until_ms=T0 + 1100 + DAY, code=89506),
                                           err(1, "ip_blocked", code=89506, retry_after_ms=DAY), idle(LR)]),
        (submit_ui(T0 + 2000), [err(2, "ip_blocked", code=89506, retry_after_ms=DAY - 900), idle(LR)]),
        (submit_ui(T0 + 1100 + DAY), [ui(2), idle(LR)]),
    ),
    scenario(
        "89507: the IP is blocked for 1 h",
        cfg(oa()),
        (with_token(**LONG), [idle(LR)]),
        (submit_ui(T0 + 1000), [ui(1), idle(LR)]),
        (resp(T0 + 1100, 1, werr(89507)), [ev("ip_blocked", until_ms=T0 + 1100 + HOUR, code=89507),
                                           err(1, "ip_blocked", retry_after_ms=HOUR), idle(LR)]),
        (submit_ui(T0 + 1100 + HOUR - 1), [err(2, "ip_blocked", retry_after_ms=1), idle(LR)]),
        (submit_ui(T0 + 1100 + HOUR), [ui(2), idle(LR)]),
    ),
    scenario(
        "a non-JSON body where JSON was expected is malformed_response keeping the raw body",
        cfg(oa()),
        (with_token(), [idle(R)]),
        (submit_ui(T0 + 1000), [ui(1), idle(R)]),
        (resp(T0 + 1100, 1, body="<html>oops</html>", headers={"content-type": "text/html"}),
         [err(1, "malformed_response", raw_body="<html>oops</html>", http_status=200, code=None), idle(R)]),
    ),
    scenario(
        "a binary body (media download) is a success carrying the bytes",
        cfg(oa()),
        (with_token(), [idle(R)]),
        (submit(T0 + 1000, "/cgi-bin/media/get", query=[["media_id", "M 1"]]),
         [send(1, "GET", oa_url("/cgi-bin/media/get", "T1", ("media_id", "M%201"))), idle(R)]),
        (resp(T0 + 1100, 1, body_base64="/9j/4AAQSkZJRgABAQ==", headers={"content-type": "image/jpeg"}),
         [ok(1, status=200, is_json=False, body_base64="/9j/4AAQSkZJRgABAQ=="), idle(R)]),
    ),
    scenario(
        "a media download answered with a JSON error under text/plain is an error; unknown codes are kind unknown",
        cfg(oa()),
        (with_token(), [idle(R)]),
        (submit(T0 + 1000, "/cgi-bin/media/get", query=[["media_id", "M1"]]), [send(1, "GET", oa_url("/cgi-bin/media/get", "T1", ("media_id", "M1"))), idle(R)]),
        (resp(T0 + 1100, 1, body='{"errcode":40007,"errmsg":"invalid media_id"}', headers={"content-type": "text/plain"}),
         [err(1, "unknown", code=40007, message="invalid media_id", raw_body='{"errcode":40007,"errmsg":"invalid media_id"}'), idle(R)]),
    ),
    scenario(
        "error table: 48001 permission_denied, 50005 not_following, 43002 and 40002 invalid_request, 42007 credential_invalid",
        cfg(oa()),
        (with_token(), [idle(R)]),
        *[(submit(T0 + 1000 + i, SEND, method="POST", json=MSG), [send(i, "POST", oa_url(SEND, "T1")), idle(R)]) for i in range(1, 6)],
        *[(resp(T0 + 2000 + i, i, werr(code)), [err(i, kind, code=code), idle(R)])
          for i, (code, kind) in enumerate([(48001, "permission_denied"), (50005, "not_following"), (43002, "invalid_request"),
                                            (40002, "invalid_request"), (42007, "credential_invalid")], start=1)],
    ),
    scenario(
        "bad calls complete with typed errors and never reach the network",
        cfg(oa()),
        (with_token(), [idle(R)]),
        (submit(T0 + 1000, UI, app="nope"), [err(1, "config", app="nope", call_id=1), idle(R)]),
        (submit(T0 + 1001, UI, method="FETCH"), [err(2, "invalid_request", app="oa"), idle(R)]),
        (submit(T0 + 1002, "cgi-bin/user/info"), [err(3, "invalid_request"), idle(R)]),
        (submit(T0 + 1003, "/cgi-bin/user/info?openid=o1"), [err(4, "invalid_request"), idle(R)]),
        (submit_ui(T0 + 1004), [ui(1), idle(R)]),
    ),
    scenario(
        "multipart upload: the body and content type pass through untouched; the token comes first in the query",
        cfg(oa()),
        (with_token(), [idle(R)]),
        (submit(T0 + 1000, "/cgi-bin/media/upload", method="POST", query=[["type", "image"]],
                body="--b\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a.jpg\"\r\n\r\nJPEG\r\n--b--\r\n",
                content_type="multipart/form-data; boundary=b"),
         [send(1, "POST", oa_url("/cgi-bin/media/upload", "T1", ("type", "image")),
               headers={"content-type": "multipart/form-data; boundary=b"},
               body="--b\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a.jpg\"\r\n\r\nJPEG\r\n--b--\r\n"), idle(R)]),
        (resp(T0 + 1100, 1, {"type": "image", "media_id": "M1", "created_at": 1}),
         [ok(1, {"type": "image", "media_id": "M1", "created_at": 1}), idle(R)]),
    ),
    scenario(
        "export/restore: the token, quota counters and schedule survive a restart",
        cfg(oa(), quota={"limits": {"/cgi-bin/tags/get": 5}}),
        (submit(T0, "/cgi-bin/tags/get"), [stable_fetch(1), idle()]),
        (resp(T0 + 100, 1, tok("T1")), [fetched(T0 + 2 * HOUR, T0 + HOUR), send(2, "GET", oa_url("/cgi-bin/tags/get", "T1")), idle(T0 + HOUR)]),
        (submit(T0 + 200, "/cgi-bin/tags/get"), [send(3, "GET", oa_url("/cgi-bin/tags/get", "T1")), idle(T0 + HOUR)]),
        (submit(T0 + 300, "/cgi-bin/tags/get"), [send(4, "GET", oa_url("/cgi-bin/tags/get", "T1")), idle(T0 + HOUR)]),
        (restart(T0 + 5000), [idle(T0 + HOUR)]),
        (submit(T0 + 6000, "/cgi-bin/tags/get"), [ev("quota_warning", used=4, limit=5, percent=80),
                                                  send(1, "GET", oa_url("/cgi-bin/tags/get", "T1")), idle(T0 + HOUR)]),
        (poll(T0 + HOUR), [stable_fetch(2), idle()]),
    ),
    scenario(
        "export/restore: an IP block and an open circuit survive a restart",
        cfg(oa(), failover={"threshold": 1, "cooldown_ms": 2 * HOUR}),
        (with_token(**LONG), [idle(LR)]),
        (submit_ui(T0 + 1000), [ui(1), idle(LR)]),
        (terr(T0 + 1010, 1, "connect"), [ev("circuit_opened", host=OA, until_ms=T0 + 1010 + 2 * HOUR), ev("retry_scheduled"), ev("failover"),
                                         ui(2, host=OA2), idle(LR)]),
        (resp(T0 + 1020, 2, werr(89507)), [ev("ip_blocked"), err(1, "ip_blocked"), idle(LR)]),
        (restart(T0 + 2000), [idle(LR)]),
        (submit_ui(T0 + 3000), [err(1, "ip_blocked", code=89507, retry_after_ms=HOUR - 1980), idle(LR)]),
        (submit_ui(T0 + 1020 + HOUR), [ui(1, host=OA2), idle(LR)]),
    ),
    scenario(
        "restoring a state of an unknown version is a clear error naming state.version",
        cfg(oa()),
        (restore(T0, state({}, version=99)), [config_error("state.version"), idle()]),
    ),
]
