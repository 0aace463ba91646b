"""Credential sources: an app whose token comes from a wxcore token server
(`server`), and one whose calls go through the server's relay (`relay`).
Neither holds a secret."""
import hashlib
from common import *

SRV = "http://tokens.test:8700"
SRV2 = "http://tokens-2.test:8700"
KEY = "ck_live_8fK2"
HDRS = {"authorization": f"Bearer {KEY}", "x-wxcore-request": "1"}
UI = "/cgi-bin/user/info"
# The token server's clock runs 123 s ahead of ours: the client counts a
# token's life from when it asked, never from the server's absolute times.
SKEW = 123_000


def tid(token):
    """A token's public id: 16 hex digits of SHA-256("wxcore token id:" + token)."""
    return hashlib.sha256(b"wxcore token id:" + token.encode()).hexdigest()[:16]


def oa_server(**kw):
    app = {"id": "oa", "platform": "wechat-oa", "app_id": "wxA",
           "credential": {"source": "server", "url": SRV, "key": KEY}}
    app.update(kw)
    return app


def oa_relay(**kw):
    app = {"id": "oa", "platform": "wechat-oa", "app_id": "wxA",
           "credential": {"source": "relay", "url": SRV + "/", "key": KEY}}
    app.update(kw)
    return app


def token_get(id, app="oa"):
    return send(id, "GET", f"{SRV}/v1/apps/{app}/token", headers=HDRS)


def token_doc(token, sent_at, life=2 * HOUR, refresh_in=HOUR + 60_000):
    """The server's answer, stamped with the server's (skewed) clock."""
    now = sent_at + SKEW
    return {"token": token, "token_id": tid(token), "generation": 1, "expires_at_ms": now + life,
            "refresh_after_ms": now + refresh_in, "server_time_ms": now}


def refused(kind, message, status=403):
    return dict(status=status, headers={"x-wxcore-error": kind},
                json={"error": {"kind": kind, "message": message}})


FILE = "sources"
SCENARIOS = [
    scenario(
        "server source: the token comes from the token server with the caller key; calls go to the platform with it",
        cfg(oa_server()),
        (submit(T0, UI, query=[["openid", "O1"]]), [token_get(1), idle()]),
        (submit(T0 + 10, UI, query=[["openid", "O2"]]), [idle()]),
        (resp(T0 + 50, 1, token_doc("ST1", T0)),
         [fetched(T0 + 2 * HOUR, T0 + HOUR + 60_000, source="server"),
          send(2, "GET", oa_url(UI, "ST1", ("openid", "O1"))),
          send(3, "GET", oa_url(UI, "ST1", ("openid", "O2"))), idle(T0 + HOUR + 60_000)]),
        (resp(T0 + 90, 2, {"openid": "O1"}), [ok(1, {"openid": "O1"}), idle(T0 + HOUR + 60_000)]),
    ),
    scenario(
        "server source: renewed in the background at refresh_after while the cached token keeps serving",
        cfg(oa_server()),
        (submit(T0, UI), [token_get(1), idle()]),
        (resp(T0 + 50, 1, token_doc("ST1", T0)), [fetched(T0 + 2 * HOUR, T0 + HOUR + 60_000, source="server"),
                                                 send(2, "GET", oa_url(UI, "ST1")), idle(T0 + HOUR + 60_000)]),
        (poll(T0 + HOUR + 60_000), [token_get(3), idle()]),
        (submit(T0 + HOUR + 60_010, UI), [send(4, "GET", oa_url(UI, "ST1")), idle()]),
        (resp(T0 + HOUR + 60_100, 3, token_doc("ST2", T0 + HOUR + 60_000)),
         [fetched(T0 + 3 * HOUR + 60_000, T0 + 2 * HOUR + 120_000, source="server"), idle(T0 + 2 * HOUR + 120_000)]),
        (submit(T0 + HOUR + 60_200, UI), [send(5, "GET", oa_url(UI, "ST2")), idle(T0 + 2 * HOUR + 120_000)]),
    ),
    scenario(
        "server source: the platform's 40001 asks the server to compare-and-invalidate by token id; the call is resent once with the token it returns",
        cfg(oa_server()),
        (submit(T0, UI), [token_get(1), idle()]),
        (resp(T0 + 50, 1, token_doc("ST1", T0)), [fetched(T0 + 2 * HOUR, T0 + HOUR + 60_000, source="server"),
                                                 send(2, "GET", oa_url(UI, "ST1")), idle(T0 + HOUR + 60_000)]),
        (resp(T0 + 100, 2, werr(40001, "invalid credential")),
         [ev("token_invalidated", app="oa", code=40001),
          send(3, "POST", f"{SRV}/v1/apps/oa/token/invalidate", json={"token_id": tid("ST1"), "errcode": 40001},
               headers=dict(HDRS, **{"content-type": "application/json"})), idle()]),
        (resp(T0 + 150, 3, token_doc("ST2", T0 + 100)),
         [fetched(T0 + 100 + 2 * HOUR, T0 + HOUR + 60_100, source="server"), send(4, "GET", oa_url(UI, "ST2")),
          idle(T0 + HOUR + 60_100)]),
        (resp(T0 + 200, 4, werr(40001, "invalid credential")),
         [ev("token_invalidated", app="oa", code=40001), err(1, "token_invalid", code=40001), idle()]),
        # The next call tells the server about the second token.
        (submit(T0 + 300, UI), [send(5, "POST", f"{SRV}/v1/apps/oa/token/invalidate",
                                     json={"token_id": tid("ST2"), "errcode": 40001}), idle()]),
    ),
    scenario(
        "server source: the server unreachable, the cached token serves until it expires (events say so), then calls fail typed",
        cfg(oa_server(), retry={"max_attempts": 1}),
        (submit(T0, UI), [token_get(1), idle()]),
        (resp(T0 + 50, 1, token_doc("ST1", T0)), [fetched(T0 + 2 * HOUR, T0 + HOUR + 60_000, source="server"),
                                                 send(2, "GET", oa_url(UI, "ST1")), idle(T0 + HOUR + 60_000)]),
        (poll(T0 + HOUR + 60_000), [token_get(3), idle()]),
        (terr(T0 + HOUR + 60_010, 3, "connect"),
         [ev("token_fetch_failed", app="oa", kind="transport", code="connect"), idle(T0 + HOUR + 65_010)]),
        (submit(T0 + HOUR + 60_020, UI), [send(4, "GET", oa_url(UI, "ST1")), idle(T0 + HOUR + 65_010)]),
        (poll(T0 + HOUR + 65_010), [token_get(5), idle()]),
        (terr(T0 + HOUR + 65_020, 5, "connect"), [ev("token_fetch_failed", kind="transport"), idle(T0 + HOUR + 70_020)]),
        # Expired: the next call asks again, and fails typed when the server stays away.
        (submit(T0 + 2 * HOUR, UI), [token_get(6), idle()]),
        (terr(T0 + 2 * HOUR + 10, 6, "connect"),
         [ev("token_fetch_failed", kind="transport"),
          err(3, "transport", code="connect", message="connect failure reaching the token server"), idle()]),
    ),
    scenario(
        "server source: a key the server refuses is a typed error for the waiting calls, and is not asked again in a loop",
        cfg(oa_server()),
        (submit(T0, UI), [token_get(1), idle()]),
        (resp(T0 + 50, 1, **refused("credential_invalid", "unknown caller key", status=401)),
         [ev("token_fetch_failed", app="oa", kind="credential_invalid"), err(1, "credential_invalid", http_status=401), idle()]),
    ),
    scenario(
        "server source: a token server that answers 503 is retried with backoff",
        cfg(oa_server()),
        (submit(T0, UI), [token_get(1), idle()]),
        (resp(T0 + 50, 1, **refused("busy", "no token yet", status=503)), [idle(T0 + 250)]),
        (poll(T0 + 250), [token_get(2), idle()]),
        (resp(T0 + 300, 2, token_doc("ST1", T0 + 250)),
         [fetched(T0 + 250 + 2 * HOUR, T0 + HOUR + 60_250, source="server"), send(3, "GET", oa_url(UI, "ST1")),
          idle(T0 + HOUR + 60_250)]),
    ),
    scenario(
        "relay source: calls go to the relay with the caller key and no token; the platform's verbatim answer is read here",
        cfg(oa_relay()),
        (submit(T0, UI, query=[["openid", "O1"], ["lang", "zh_CN"]]),
         [send(1, "GET", f"{SRV}/v1/relay/oa{UI}?openid=O1&lang=zh_CN", headers=HDRS), idle()]),
        (resp(T0 + 50, 1, {"openid": "O1"}), [ok(1, {"openid": "O1"}), idle()]),
        (submit(T0 + 100, UI, method="POST", json={"a": 1}),
         [send(2, "POST", f"{SRV}/v1/relay/oa{UI}", json={"a": 1}, headers=dict(HDRS, **{"content-type": "application/json"})),
          idle()]),
        (resp(T0 + 150, 2, werr(48001, "api unauthorized")), [err(2, "permission_denied", code=48001), idle()]),
    ),
    scenario(
        "relay source: busy answers are retried here, a quota answer is counted here, an invalid token stays token_invalid",
        cfg(oa_relay()),
        (submit(T0, UI), [send(1, "GET", f"{SRV}/v1/relay/oa{UI}"), idle()]),
        (resp(T0 + 50, 1, werr(-1, "system busy")),
         [ev("retry_scheduled", app="oa", call_id=1, attempt=2, delay_ms=200, reason="busy"), idle(T0 + 250)]),
        (poll(T0 + 250), [send(2, "GET", f"{SRV}/v1/relay/oa{UI}"), idle()]),
        (resp(T0 + 300, 2, werr(45009, "reach max api daily quota limit")),
         [ev("quota_exhausted", app="oa", path=UI), err(1, "quota_exhausted", code=45009), idle()]),
        (submit(T0 + 400, UI), [err(2, "quota_exhausted"), idle()]),
        (submit(T0 + 500, "/cgi-bin/menu/get"), [send(3, "GET", f"{SRV}/v1/relay/oa/cgi-bin/menu/get"), idle()]),
        (resp(T0 + 550, 3, werr(40001, "invalid credential")), [err(3, "token_invalid", code=40001), idle()]),
    ),
    scenario(
        "relay source: the relay's own refusal is a typed error; its 429 is waited out like a platform rate limit",
        cfg(oa_relay()),
        (submit(T0, "/cgi-bin/user/get"), [send(1, "GET", f"{SRV}/v1/relay/oa/cgi-bin/user/get"), idle()]),
        (resp(T0 + 50, 1, **refused("permission_denied", "path `/cgi-bin/user/get` is outside this caller's allowlist")),
         [err(1, "permission_denied", http_status=403,
              message="token server answered 403 (permission_denied): path `/cgi-bin/user/get` is outside this caller's allowlist"),
          idle()]),
        (submit(T0 + 100, UI), [send(2, "GET", f"{SRV}/v1/relay/oa{UI}"), idle()]),
        (resp(T0 + 150, 2, status=429, headers={"x-wxcore-error": "rate_limited", "retry-after": "2"},
              json={"error": {"kind": "rate_limited", "message": "caller over its rate"}}),
         [ev("rate_limited", app="oa", path=UI, retry_after_ms=2000), idle(T0 + 2150)]),
        (poll(T0 + 2150), [send(3, "GET", f"{SRV}/v1/relay/oa{UI}"), idle()]),
    ),
    scenario(
        "server source with replicas: one that cannot be reached is passed over for the next at once",
        cfg(oa_server(credential={"source": "server", "url": [SRV, SRV2], "key": KEY})),
        (submit(T0, UI), [token_get(1), idle()]),
        (terr(T0 + 5, 1, "connect"), [send(2, "GET", f"{SRV2}/v1/apps/oa/token", headers=HDRS), idle()]),
        (resp(T0 + 50, 2, token_doc("ST1", T0 + 5)),
         [fetched(T0 + 5 + 2 * HOUR, T0 + HOUR + 60_005, source="server"), send(3, "GET", oa_url(UI, "ST1")),
          idle(T0 + HOUR + 60_005)]),
    ),
    scenario(
        "relay with replicas: a call that cannot reach one relay goes to the next",
        cfg(oa_relay(credential={"source": "relay", "url": [SRV, SRV2], "key": KEY})),
        (submit(T0, UI), [send(1, "GET", f"{SRV}/v1/relay/oa{UI}", headers=HDRS), idle()]),
        (terr(T0 + 5, 1, "connect"),
         [ev("retry_scheduled", app="oa", call_id=1, attempt=2, delay_ms=0, reason="transport"),
          ev("failover", app="oa", call_id=1, **{"from": f"{SRV}/v1/relay/oa", "to": f"{SRV2}/v1/relay/oa"}),
          send(2, "GET", f"{SRV2}/v1/relay/oa{UI}", headers=HDRS), idle()]),
        (resp(T0 + 50, 2, {"openid": "O1"}), [ok(1, {"openid": "O1"}), idle()]),
    ),
    scenario(
        "prefetch_tokens (a token server's own engine): every app's token is fetched at start, before any call",
        cfg(oa(), wecom(), prefetch_tokens=True),
        (poll(T0), [stable_fetch(1), send(2, "GET", f"{QY}/cgi-bin/gettoken?corpid=wwC&corpsecret=CS2"), idle()]),
        (resp(T0 + 50, 1, tok("T1")), [fetched(T0 + 2 * HOUR, T0 + HOUR), idle(T0 + HOUR)]),
        (submit(T0 + 100, UI), [send(3, "GET", oa_url(UI, "T1")), idle(T0 + HOUR)]),
    ),
    config_scenario(
        "a replica's URL is checked by its place in the list",
        cfg(oa_relay(credential={"source": "relay", "url": [SRV, "ftp://x"], "key": KEY})), "apps[0].credential.url[1]"),
    config_scenario(
        "an app with a credential source holds no secret: one there is a config error",
        cfg(oa_server(secret="SECRET")), "apps[0].secret"),
    config_scenario(
        "a relayed app takes no base_url (its calls all go to the relay)",
        cfg(oa_relay(base_url="http://127.0.0.1:9")), "apps[0].credential"),
    config_scenario(
        "a credential source needs an http(s) URL",
        cfg(oa_server(credential={"source": "server", "url": "tokens.test", "key": KEY})), "apps[0].credential.url"),
    config_scenario(
        "an unknown credential source is named",
        cfg(oa_server(credential={"source": "vault", "url": SRV, "key": KEY})), "apps[0].credential.source"),
]
