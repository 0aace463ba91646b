"""Fleet mode: the store protocol (get, lock, double check, set, unlock,
incr_by) and its degradation to local behaviour."""
import json as _json
from common import *

UI = "/cgi-bin/user/info"
TK = "wxcore:token:wechat-oa:wxA:stable"
LK = "wxcore:lock:wechat-oa:wxA:stable"


def qk(path, t=T0):
    return f"wxcore:quota:wechat-oa:wxA:stable:{day_of(t)}:{path}"


def fcfg(**kw):
    return cfg(oa(), store="external", instance_id="p1", entropy=ENTROPY, store_poll_ms=250, **kw)


def stored(token, exp, refresh, account="wxA"):
    return _json.dumps({"v": 1, "account": f"wechat-oa:{account}:stable", "token": token,
                        "expires_at_ms": exp, "refresh_at_ms": refresh})


def incr(id, path, t):
    return store(id, "incr_by", qk(path, t), delta=1, ttl_ms=next_reset(t) - t)


def ui(id, token):
    return send(id, "GET", oa_url(UI, token))


FILE = "fleet"
SCENARIOS = [
    scenario(
        "fleet: a valid token in the store is adopted without locking or fetching; the call is counted, then sent",
        fcfg(),
        (submit(T0, UI), [store(1, "get", TK), idle()]),
        (sres(T0 + 10, 1, value=stored("S1", T0 + 7_000_000, T0 + 3_400_000)),
         [fetched(T0 + 7_000_000, T0 + 3_400_000, source="store"), incr(2, UI, T0 + 10), idle(T0 + 3_400_000)]),
        (sres(T0 + 20, 2, count=1), [ui(1, "S1"), idle(T0 + 3_400_000)]),
    ),
    scenario(
        "fleet: on a miss take the lease, read again, fetch, publish with a TTL, release the lease",
        fcfg(),
        (submit(T0, UI), [store(1, "get", TK), idle()]),
        (sres(T0 + 10, 1, value=None), [store(2, "lock", LK, owner=owner(), ttl_ms=lease_ttl()), idle()]),
        (sres(T0 + 20, 2, locked=True), [store(3, "get", TK), idle()]),
        (sres(T0 + 30, 3, value=None), [incr(4, "/cgi-bin/stable_token", T0 + 30), stable_fetch(1), idle()]),
        (resp(T0 + 100, 1, tok("S1")), [
            fetched(T0 + 30 + 2 * HOUR, T0 + 30 + HOUR),
            incr(5, UI, T0 + 100),
            store(6, "set", TK, ttl_ms=T0 + 30 + 2 * HOUR - (T0 + 100),
                  value_json={"v": 1, "account": "wechat-oa:wxA:stable", "token": "S1", "expires_at_ms": T0 + 30 + 2 * HOUR,
                              "refresh_at_ms": T0 + 30 + HOUR, "refresh_token": None}),
            store(7, "unlock", LK, owner=owner()),
            idle(T0 + 30 + HOUR)]),
        (sres(T0 + 110, 6, ok=True), [idle(T0 + 30 + HOUR)]),
        (sres(T0 + 120, 5, count=1), [ui(2, "S1"), idle(T0 + 30 + HOUR)]),
    ),
    scenario(
        "fleet: a process that loses the lease polls the store and adopts the winner's token",
        fcfg(),
        (submit(T0, UI), [store(1, "get", TK), idle()]),
        (sres(T0 + 10, 1, value=None), [store(2, "lock", LK, owner=owner()), idle()]),
        (sres(T0 + 20, 2, locked=False), [idle(T0 + 270)]),
        (poll(T0 + 270), [store(3, "get", TK), idle()]),
        (sres(T0 + 280, 3, value=None), [store(4, "lock", LK), idle()]),
        (sres(T0 + 290, 4, locked=False), [idle(T0 + 540)]),
        (poll(T0 + 540), [store(5, "get", TK), idle()]),
        (sres(T0 + 550, 5, value=stored("S1", T0 + 2 * HOUR, T0 + HOUR)),
         [fetched(T0 + 2 * HOUR, T0 + HOUR, source="store"), incr(6, UI, T0 + 550), idle(T0 + HOUR)]),
        (sres(T0 + 560, 6, count=1), [ui(1, "S1"), idle(T0 + HOUR)]),
    ),
    scenario(
        "fleet: while another process refreshes, calls keep using the still-valid old token",
        fcfg(),
        (with_token("S0"), [idle(R)]),
        (poll(R), [store(1, "get", TK), idle()]),
        (sres(R + 10, 1, value=stored("S0", T0 + 2 * HOUR, R)), [store(2, "lock", LK), idle()]),
        (sres(R + 20, 2, locked=False), [idle(R + 270)]),
        (submit(R + 100, UI), [incr(3, UI, R + 100), idle(R + 270)]),
        (sres(R + 110, 3, count=1), [ui(1, "S0"), idle(R + 270)]),
        (poll(R + 270), [store(4, "get", TK), idle()]),
        (sres(R + 280, 4, value=stored("S1", R + 2 * HOUR, R + HOUR)), [fetched(R + 2 * HOUR, R + HOUR, source="store"), idle(R + HOUR)]),
        (submit(R + 300, UI), [incr(5, UI, R + 300), idle(R + HOUR)]),
        (sres(R + 310, 5, count=2), [ui(2, "S1"), idle(R + HOUR)]),
    ),
    scenario(
        "fleet: the double check after winning the lease finds a fresh token: adopt it, release, no fetch",
        fcfg(),
        (submit(T0, UI), [store(1, "get", TK), idle()]),
        (sres(T0 + 10, 1, value=None), [store(2, "lock", LK), idle()]),
        (sres(T0 + 20, 2, locked=True), [store(3, "get", TK), idle()]),
        (sres(T0 + 30, 3, value=stored("S1", T0 + 2 * HOUR, T0 + HOUR)),
         [fetched(T0 + 2 * HOUR, T0 + HOUR, source="store"), incr(4, UI, T0 + 30), store(5, "unlock", LK, owner=owner()), idle(T0 + HOUR)]),
        (sres(T0 + 40, 4, count=1), [ui(1, "S1"), idle(T0 + HOUR)]),
    ),
    scenario(
        "fleet: a failing store degrades to a local fetch with an event; no call is lost",
        fcfg(),
        (submit(T0, UI), [store(1, "get", TK), idle()]),
        (sres(T0 + 10, 1, error="connection refused"),
         [ev("store_unavailable", app="oa", op="get", message="connection refused"), incr(2, "/cgi-bin/stable_token", T0 + 10), stable_fetch(1), idle()]),
        (sres(T0 + 20, 2, error="connection refused"), [ev("store_unavailable", op="incr_by"), idle()]),
        (resp(T0 + 100, 1, tok("S1")), [fetched(T0 + 10 + 2 * HOUR, T0 + 10 + HOUR), incr(3, UI, T0 + 100), idle(T0 + 10 + HOUR)]),
        # The shared count is unavailable too: counted locally, sent.
        (sres(T0 + 110, 3, error="connection refused"), [ev("store_unavailable", op="incr_by"), ui(2, "S1"), idle(T0 + 10 + HOUR)]),
        (resp(T0 + 200, 2, {"openid": "o1"}), [ok(1, {"openid": "o1"}), idle(T0 + 10 + HOUR)]),
    ),
    scenario(
        "fleet: a store failure on the lease also degrades to a local fetch",
        fcfg(),
        (submit(T0, UI), [store(1, "get", TK), idle()]),
        (sres(T0 + 10, 1, value=None), [store(2, "lock", LK), idle()]),
        (sres(T0 + 20, 2, error="timeout"), [ev("store_unavailable", op="lock", message="timeout"), incr(3, "/cgi-bin/stable_token", T0 + 20), stable_fetch(1), idle()]),
    ),
    scenario(
        "fleet: quota counted fleet-wide through incr_by; warnings and local refusal follow the shared total",
        fcfg(quota={"limits": {"/cgi-bin/tags/get": 10}}),
        (with_token("S1"), [idle(R)]),
        (submit(T0 + 1000, "/cgi-bin/tags/get"), [incr(1, "/cgi-bin/tags/get", T0 + 1000), idle(R)]),
        (sres(T0 + 1010, 1, count=8), [ev("quota_warning", used=8, limit=10, percent=80), send(1, "GET", oa_url("/cgi-bin/tags/get", "S1")), idle(R)]),
        (submit(T0 + 1100, "/cgi-bin/tags/get"), [incr(2, "/cgi-bin/tags/get", T0 + 1100), idle(R)]),
        (sres(T0 + 1110, 2, count=10), [ev("quota_warning", used=10, percent=95), ev("quota_exhausted", path="/cgi-bin/tags/get"),
                                        send(2, "GET", oa_url("/cgi-bin/tags/get", "S1")), idle(R)]),
        (submit(T0 + 1200, "/cgi-bin/tags/get"), [err(3, "quota_exhausted"), idle(R)]),
    ),
    scenario(
        "fleet: a 45009 one process meets is shared: the count is pushed to the limit for the others",
        fcfg(quota={"limits": {"/cgi-bin/tags/get": 10}}),
        (with_token("S1"), [idle(R)]),
        (submit(T0 + 1000, "/cgi-bin/tags/get"), [incr(1, "/cgi-bin/tags/get", T0 + 1000), idle(R)]),
        (sres(T0 + 1010, 1, count=3), [send(1, "GET", oa_url("/cgi-bin/tags/get", "S1")), idle(R)]),
        (resp(T0 + 1100, 1, werr(45009, "reach max api daily quota limit")),
         [ev("quota_exhausted", path="/cgi-bin/tags/get"),
          store(2, "incr_by", qk("/cgi-bin/tags/get", T0 + 1100), delta=10, ttl_ms=next_reset(T0 + 1100) - (T0 + 1100)),
          err(1, "quota_exhausted", code=45009), idle(R)]),
        (sres(T0 + 1110, 2, count=13), [ev("quota_warning", used=13, percent=80), ev("quota_warning", percent=95), idle(R)]),
        (submit(T0 + 1200, "/cgi-bin/tags/get"), [err(2, "quota_exhausted"), idle(R)]),
    ),
    scenario(
        "fleet: a call whose shared count passes the limit is refused unsent, so the fleet never exceeds it",
        fcfg(quota={"limits": {"/cgi-bin/tags/get": 10}}),
        (with_token("S1"), [idle(R)]),
        (submit(T0 + 1000, "/cgi-bin/tags/get"), [incr(1, "/cgi-bin/tags/get", T0 + 1000), idle(R)]),
        (submit(T0 + 1001, "/cgi-bin/tags/get"), [incr(2, "/cgi-bin/tags/get", T0 + 1001), idle(R)]),
        (sres(T0 + 1010, 2, count=10), [ev("quota_warning", used=10, percent=80), ev("quota_warning", used=10, percent=95),
                                        ev("quota_exhausted"), send(1, "GET", oa_url("/cgi-bin/tags/get", "S1")), idle(R)]),
        (sres(T0 + 1011, 1, count=11), [err(1, "quota_exhausted"), idle(R)]),
    ),
    scenario(
        "fleet: a call failing on a token another process already replaced adopts the stored one: no fetch",
        fcfg(),
        (with_token("S1"), [idle(R)]),
        (submit(T0 + 1000, UI), [incr(1, UI, T0 + 1000), idle(R)]),
        (sres(T0 + 1005, 1, count=1), [ui(1, "S1"), idle(R)]),
        (resp(T0 + 1100, 1, werr(40001)), [ev("token_invalidated", code=40001), store(2, "get", TK), idle()]),
        (sres(T0 + 1110, 2, value=stored("S2", T0 + 2 * HOUR + 500, T0 + HOUR + 500)),
         [fetched(T0 + 2 * HOUR + 500, T0 + HOUR + 500, source="store"), incr(3, UI, T0 + 1110), idle(T0 + HOUR + 500)]),
        (sres(T0 + 1120, 3, count=2), [ui(2, "S2"), idle(T0 + HOUR + 500)]),
    ),
    scenario(
        "fleet: the store still holds the failed token: lease, double check, fetch",
        fcfg(),
        (with_token("S1"), [idle(R)]),
        (submit(T0 + 1000, UI), [incr(1, UI, T0 + 1000), idle(R)]),
        (sres(T0 + 1005, 1, count=1), [ui(1, "S1"), idle(R)]),
        (resp(T0 + 1100, 1, werr(42001)), [ev("token_invalidated", code=42001), store(2, "get", TK), idle()]),
        (sres(T0 + 1110, 2, value=stored("S1", T0 + 2 * HOUR, R)), [store(3, "lock", LK), idle()]),
        (sres(T0 + 1120, 3, locked=True), [store(4, "get", TK), idle()]),
        (sres(T0 + 1130, 4, value=stored("S1", T0 + 2 * HOUR, R)), [incr(5, "/cgi-bin/stable_token", T0 + 1130), stable_fetch(2), idle()]),
    ),
]
