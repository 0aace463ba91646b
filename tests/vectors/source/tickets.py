"""JS-SDK tickets: fetched with the access token, cached, one fetch for
many requests, renewed past their refresh point, shared through the store."""
import json as _json
from common import *

GT = "/cgi-bin/ticket/getticket"
TKT = {"errcode": 0, "errmsg": "ok", "ticket": "TK1", "expires_in": 7200}


def ticket(t, kind="jsapi", app="oa"):
    return {"now_ms": t, "input": {"submit": {"app": app, "ticket": kind}}}


def got(cid, tk, exp, app_id="wxA"):
    return ok(cid, {"ticket": tk, "expires_at_ms": exp, "app_id": app_id})


FILE = "tickets"
SCENARIOS = [
    scenario(
        "OA jsapi ticket: concurrent requests share one fetch made with the access token; then the cache answers",
        cfg(oa()),
        (with_token("T1"), [idle(R)]),
        (ticket(T0 + 1000), [send(1, "GET", oa_url(GT, "T1", ("type", "jsapi"))), idle(R)]),
        (ticket(T0 + 1001), [idle(R)]),
        (resp(T0 + 1100, 1, TKT), [ev("ticket_fetched", app="oa", kind="jsapi", expires_at_ms=T0 + 1000 + 2 * HOUR, source="http"),
                                   got(1, "TK1", T0 + 1000 + 2 * HOUR), got(3, "TK1", T0 + 1000 + 2 * HOUR), idle(R)]),
        (ticket(T0 + 5000), [got(4, "TK1", T0 + 1000 + 2 * HOUR), idle(R)]),
        (ticket(T0 + 5000, kind="wx_card"), [send(2, "GET", oa_url(GT, "T1", ("type", "wx_card"))), idle(R)]),
    ),
    scenario(
        "a ticket past its refresh point is still handed out while one fetch renews it",
        cfg(oa(), refresh_margin_ms=600_000),
        (with_token("T1", expires=T0 + 4 * HOUR, refresh=T0 + 3 * HOUR), [idle(T0 + 3 * HOUR)]),
        (ticket(T0), [send(1, "GET", oa_url(GT, "T1", ("type", "jsapi"))), idle(T0 + 3 * HOUR)]),
        (resp(T0 + 10, 1, TKT), [ev("ticket_fetched"), got(1, "TK1", T0 + 2 * HOUR), idle(T0 + 3 * HOUR)]),
        # Refresh point: 10 minutes before expiry.
        (ticket(T0 + 2 * HOUR - 500_000), [got(3, "TK1", T0 + 2 * HOUR), send(2, "GET", oa_url(GT, "T1", ("type", "jsapi"))), idle(T0 + 3 * HOUR)]),
        (ticket(T0 + 2 * HOUR - 499_000), [got(5, "TK1", T0 + 2 * HOUR), idle(T0 + 3 * HOUR)]),
        (resp(T0 + 2 * HOUR - 498_000, 2, dict(TKT, ticket="TK2")),
         [ev("ticket_fetched", expires_at_ms=T0 + 4 * HOUR - 500_000), idle(T0 + 3 * HOUR)]),
        (ticket(T0 + 2 * HOUR), [got(6, "TK2", T0 + 4 * HOUR - 500_000), idle(T0 + 3 * HOUR)]),
    ),
    scenario(
        "a failed ticket fetch fails every waiting request with the platform's error; the next request fetches again",
        cfg(oa()),
        (with_token("T1"), [idle(R)]),
        (ticket(T0 + 1000), [send(1, "GET", oa_url(GT, "T1", ("type", "jsapi"))), idle(R)]),
        (ticket(T0 + 1001), [idle(R)]),
        (resp(T0 + 1100, 1, werr(48001, "api unauthorized")),
         [err(1, "permission_denied", code=48001), err(3, "permission_denied", code=48001), idle(R)]),
        (ticket(T0 + 1200), [send(2, "GET", oa_url(GT, "T1", ("type", "jsapi"))), idle(R)]),
    ),
    scenario(
        "a ticket fetch on an invalidated token refreshes the token and resends, like any call",
        cfg(oa()),
        (with_token("T1"), [idle(R)]),
        (ticket(T0 + 1000), [send(1, "GET", oa_url(GT, "T1", ("type", "jsapi"))), idle(R)]),
        (resp(T0 + 1100, 1, werr(40001)), [ev("token_invalidated"), stable_fetch(2), idle()]),
        (resp(T0 + 1200, 2, tok("T2")), [fetched(T0 + 1100 + 2 * HOUR, T0 + 1100 + HOUR), send(3, "GET", oa_url(GT, "T2", ("type", "jsapi"))),
                                        idle(T0 + 1100 + HOUR)]),
        (resp(T0 + 1300, 3, TKT), [ev("ticket_fetched"), got(1, "TK1", T0 + 1000 + 2 * HOUR), idle(T0 + 1100 + HOUR)]),
    ),
    scenario(
        "WeCom: the corp jsapi ticket and the agent_config ticket",
        cfg(wecom()),
        (with_token("W1", app="hr"), [idle(R)]),
        (ticket(T0 + 1000, app="hr"), [send(1, "GET", f"{QY}/cgi-bin/get_jsapi_ticket?access_token=W1"), idle(R)]),
        (ticket(T0 + 1001, kind="agent_config", app="hr"), [send(2, "GET", f"{QY}/cgi-bin/ticket/get?access_token=W1&type=agent_config"), idle(R)]),
        (resp(T0 + 1100, 2, dict(TKT, ticket="AG")), [ev("ticket_fetched", app="hr", kind="agent_config"), got(3, "AG", T0 + 1001 + 2 * HOUR, app_id="wwC"), idle(R)]),
    ),
    scenario(
        "an unknown ticket kind or app is a config error naming what exists",
        cfg(oa()),
        (ticket(T0, kind="agent_config"), [err(1, "config", message="platform `wechat-oa` has no ticket `agent_config` (it has: jsapi, wx_card)"), idle()]),
        (ticket(T0, app="nope"), [err(2, "config", app="nope"), idle()]),
    ),
    scenario(
        "fleet: a fresh ticket in the store is adopted; otherwise fetched and published with its TTL",
        cfg(oa(), store="external", instance_id="p1", entropy=ENTROPY),
        (with_token("T1"), [idle(R)]),
        (ticket(T0 + 1000), [store(1, "get", "wxcore:ticket:wechat-oa:wxA:stable:jsapi"), idle(R)]),
        (sres(T0 + 1010, 1, value=_json.dumps({"v": 1, "account": "wechat-oa:wxA:stable", "ticket": "TKS", "expires_at_ms": T0 + 2 * HOUR, "refresh_at_ms": T0 + HOUR})),
         [ev("ticket_fetched", source="store", expires_at_ms=T0 + 2 * HOUR), got(1, "TKS", T0 + 2 * HOUR), idle(R)]),
        (ticket(T0 + 1020, kind="wx_card"), [store(2, "get", "wxcore:ticket:wechat-oa:wxA:stable:wx_card"), idle(R)]),
        (sres(T0 + 1030, 2, value=None), [send(1, "GET", oa_url(GT, "T1", ("type", "wx_card"))), idle(R)]),
        (resp(T0 + 1100, 1, dict(TKT, ticket="TKC")),
         [store(3, "set", "wxcore:ticket:wechat-oa:wxA:stable:wx_card", ttl_ms=T0 + 1030 + 2 * HOUR - (T0 + 1100),
                value_json={"v": 1, "account": "wechat-oa:wxA:stable", "ticket": "TKC", "expires_at_ms": T0 + 1030 + 2 * HOUR, "refresh_at_ms": T0 + 1030 + HOUR}),
          ev("ticket_fetched", source="http"), got(2, "TKC", T0 + 1030 + 2 * HOUR), idle(R)]),
    ),
]
