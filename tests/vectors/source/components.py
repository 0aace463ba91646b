"""Third-party platforms: pushed tickets (open-platform component_verify_ticket,
WeCom suite_ticket) verified, checked against the app and kept by creation
time; the component and suite tokens fetched with them; ticket errors.

The pushes are sealed by make_pushes.py with Python's `cryptography`
(pushes.json), never by the engine."""
import json as _json
import hashlib as _hashlib
import os as _os

from common import *

with open(_os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "pushes.json"), encoding="utf-8") as _f:
    _P = _json.load(_f)

PUSHES = _P["pushes"]
CP = _P["component_appid"]
SUITE = _P["suite_id"]
CB = {"token": _P["token"], "encoding_aes_key": _P["encoding_aes_key"]}
PRE = "/cgi-bin/component/api_create_preauthcode"
CT = "/cgi-bin/component/api_component_token"
ST = "/cgi-bin/service/get_suite_token"
SUITE_PRE = "/cgi-bin/service/get_pre_auth_code"
TICKET = "component_verify_ticket"


def component(**kw):
    app = {"id": "cp", "platform": "wechat-component", "app_id": CP, "secret": "CSECRET", "callback": CB}
    app.update(kw)
    return app


def suite(**kw):
    app = {"id": "suite", "platform": "wecom-suite", "app_id": SUITE, "secret": "SSECRET", "callback": CB}
    app.update(kw)
    return app


def push(t, name, app="cp", **override):
    p = PUSHES[name]
    v = {"app": app, "method": "POST", "query": dict(p["query"]), "body": p["body"]}
    v["query"].update(override)
    return {"now_ms": t, "input": {"push": v}}


def pushed(info_type=TICKET, kept=True, **kw):
    v = {"reply": "success", "info_type": info_type, "ticket_kept": kept}
    v.update(kw)
    return {"push": v}


def refused(kind, reason):
    return {"push_error": {"kind": kind, "reason": reason}}


def kept_ev(created, app="cp", info_type=TICKET):
    return ev("ticket_pushed", app=app, info_type=info_type, created_s=created)


def ct_fetch(id, ticket):
    return send(id, "POST", f"{OA}{CT}",
                json={"component_appid": CP, "component_appsecret": "CSECRET", "component_verify_ticket": ticket},
                headers={"content-type": "application/json"})


def pre(id, token):
    return send(id, "POST", f"{OA}{PRE}?component_access_token={token}", json={"component_appid": CP},
                headers={"content-type": "application/json"})


def submit_pre(t):
    return submit(t, PRE, app="cp", method="POST", json={"component_appid": CP})


def ctok(token, expires_in=7200):
    return {"component_access_token": token, "expires_in": expires_in}


PAC = {"pre_auth_code": "PAC1", "expires_in": 600}
T12H = 12 * HOUR

QA = "/cgi-bin/component/api_query_auth"
AT = "/cgi-bin/component/api_authorizer_token"
AL = "/cgi-bin/component/api_get_authorizer_list"
AUTH = "cp/wxAUTH1"
JSON_CT = {"content-type": "application/json"}


def phase(appid):
    """An authorizer's refresh phase: SHA-256 of its appid, first 8 bytes big-endian."""
    return int.from_bytes(_hashlib.sha256(appid.encode()).digest()[:8], "big")


def auth_refresh(sent, appid="wxAUTH1", life=2 * HOUR):
    """Refresh point of an authorizer token: the margin (half its life here),
    less its phase within a quarter of its life."""
    return sent + life - life // 2 - phase(appid) % (life // 4 + 1)


def component_call(id, path, token, body):
    return send(id, "POST", f"{OA}{path}?component_access_token={token}", json=body, headers=JSON_CT)


def query_auth(id, token, code="queryauthcode@@@one"):
    return component_call(id, QA, token, {"component_appid": CP, "authorization_code": code})


def authorization(token, refresh, appid="wxAUTH1"):
    return {"authorization_info": {"authorizer_appid": appid, "authorizer_access_token": token, "expires_in": 7200,
                                   "authorizer_refresh_token": refresh, "func_info": [{"funcscope_category": {"id": 1}}]}}


def user_info(t):
    return submit(t, "/cgi-bin/user/info", app=AUTH, query=[["openid", "o1"]])


def authorized_steps():
    """Ticket at T0, authorized at T0 + 10: component token CT1 (request 1), then
    api_query_auth (request 2, the engine's own call 1) bringing AT1 / RT1."""
    return [
        (push(T0, "ticket_1"), [pushed(), kept_ev(1700000000), idle()]),
        (push(T0 + 10, "authorized"),
         [pushed(info_type="authorized", kept=None, authorizer=AUTH), ct_fetch(1, "ticket@@@one"), idle()]),
        (resp(T0 + 20, 1, ctok("CT1")),
         [fetched(T0 + 10 + 2 * HOUR, T0 + 10 + HOUR, app="cp"), query_auth(2, "CT1"), idle(T0 + 10 + HOUR)]),
        (resp(T0 + 30, 2, authorization("AT1", "RT1")),
         [fetched(T0 + 10 + 2 * HOUR, auth_refresh(T0 + 10), app=AUTH), idle(auth_refresh(T0 + 10))]),
    ]


FILE = "components"
SCENARIOS = [
    scenario(
        "component: a pushed ticket is kept without fetching; the first call fetches the token with it",
        cfg(component()),
        (push(T0, "ticket_1"), [pushed(), kept_ev(1700000000), idle()]),
        (submit_pre(T0 + 1000), [ct_fetch(1, "ticket@@@one"), idle()]),
        (resp(T0 + 1100, 1, ctok("CT1")),
         [fetched(T0 + 1000 + 2 * HOUR, T0 + 1000 + HOUR, app="cp"), pre(2, "CT1"), idle(T0 + 1000 + HOUR)]),
        (resp(T0 + 1200, 2, PAC), [ok(1, json=PAC), idle(T0 + 1000 + HOUR)]),
        about="A push never fetches (a component token fetch kills the previous token after 5 minutes); "
              "the token goes in the query as component_access_token.",
    ),
    scenario(
        "component: without a pushed ticket the token fetch fails at once with ticket_unavailable, nothing sent",
        cfg(component()),
        (submit_pre(T0), [ev("token_fetch_failed", app="cp", kind="ticket_unavailable", code=None),
                          err(1, "ticket_unavailable", app="cp"), idle()]),
        (push(T0 + 1000, "ticket_1"), [pushed(), kept_ev(1700000000), idle()]),
        (submit_pre(T0 + 2000), [ct_fetch(1, "ticket@@@one"), idle()]),
    ),
    scenario(
        "component: only a later CreateTime replaces the ticket; forged, foreign and malformed pushes change nothing",
        cfg(component()),
        (push(T0, "ticket_2"), [pushed(), kept_ev(1700000600), idle()]),
        (push(T0 + 10, "ticket_1"), [pushed(kept=False), idle()]),
        (push(T0 + 20, "ticket_old"), [pushed(kept=False), idle()]),
        (push(T0 + 30, "ticket_same_time"), [pushed(kept=False), idle()]),
        (push(T0 + 40, "ticket_1", nonce="999"), [refused("signature_invalid", "bad_signature"), idle()]),
        (push(T0 + 50, "ticket_foreign"), [refused("signature_invalid", "foreign_app"), idle()]),
        (push(T0 + 60, "ticket_no_value"), [refused("invalid_request", "missing_field"), idle()]),
        (push(T0 + 70, "malformed"), [refused("invalid_request", "malformed_body"), idle()]),
        (push(T0 + 80, "ticket_2", app="nobody"), [refused("config", "unknown_app"), idle()]),
        (submit_pre(T0 + 1000), [ct_fetch(1, "ticket@@@two"), idle()]),
    ),
    scenario(
        "component: an unauthorized push is verified, handed to the host and revokes the authorizer; the ticket untouched",
        cfg(component()),
        (push(T0, "unauthorized"),
         [pushed(info_type="unauthorized", kept=None, authorizer="cp/wxAUTH1",
                 message={"AppId": CP, "CreateTime": "1700001200", "InfoType": "unauthorized",
                          "AuthorizerAppid": "wxAUTH1"}),
          ev("authorizer_changed", app="cp/wxAUTH1", standing="revoked"), idle()]),
        (submit_pre(T0 + 1000), [ev("token_fetch_failed", app="cp", kind="ticket_unavailable"),
                                 err(1, "ticket_unavailable"), idle()]),
    ),
    scenario(
        "component: 61006 from api_component_token is ticket_unavailable; the refused ticket is not sent again",
        cfg(component()),
        (push(T0, "ticket_1"), [pushed(), kept_ev(1700000000), idle()]),
        (submit_pre(T0 + 1000), [ct_fetch(1, "ticket@@@one"), idle()]),
        (resp(T0 + 1100, 1, werr(61006, "component ticket is invalid")),
         [ev("token_fetch_failed", app="cp", kind="ticket_unavailable", code=61006),
          err(1, "ticket_unavailable", code=61006), idle()]),
        (submit_pre(T0 + 2000), [ev("token_fetch_failed", app="cp", kind="ticket_unavailable", code=None),
                                 err(2, "ticket_unavailable"), idle()]),
        (push(T0 + 3000, "ticket_2"), [pushed(), kept_ev(1700000600), idle()]),
        (submit_pre(T0 + 4000), [ct_fetch(2, "ticket@@@two"), idle()]),
    ),
    scenario(
        "component: 40001 from api_component_token is a credential error, not an invalid token: one request, no loop",
        cfg(component()),
        (push(T0, "ticket_1"), [pushed(), kept_ev(1700000000), idle()]),
        (submit_pre(T0 + 1000), [ct_fetch(1, "ticket@@@one"), idle()]),
        (resp(T0 + 1100, 1, werr(40001, "invalid credential")),
         [ev("token_fetch_failed", app="cp", kind="credential_invalid", code=40001),
          err(1, "credential_invalid", code=40001), idle()]),
    ),
    scenario(
        "component: 42001 from a component call invalidates that token; one fetch with the held ticket, one resend",
        cfg(component()),
        (push(T0, "ticket_1"), [pushed(), kept_ev(1700000000), idle()]),
        (submit_pre(T0 + 1000), [ct_fetch(1, "ticket@@@one"), idle()]),
        (resp(T0 + 1100, 1, ctok("CT1")),
         [fetched(T0 + 1000 + 2 * HOUR, T0 + 1000 + HOUR, app="cp"), pre(2, "CT1"), idle(T0 + 1000 + HOUR)]),
        (resp(T0 + 1200, 2, werr(42001, "access_token expired")),
         [ev("token_invalidated", app="cp", code=42001), ct_fetch(3, "ticket@@@one"), idle()]),
        (resp(T0 + 1300, 3, ctok("CT2")),
         [fetched(T0 + 1200 + 2 * HOUR, T0 + 1200 + HOUR, app="cp"), pre(4, "CT2"), idle(T0 + 1200 + HOUR)]),
        (resp(T0 + 1400, 4, PAC), [ok(1, json=PAC), idle(T0 + 1200 + HOUR)]),
    ),
    scenario(
        "component: the ticket survives a restart; it serves 12 h after it arrived, then fetches fail locally",
        cfg(component()),
        (push(T0, "ticket_1"), [pushed(), kept_ev(1700000000), idle()]),
        (restart(T0 + 10), [idle()]),
        (submit_pre(T0 + 1000), [ct_fetch(1, "ticket@@@one"), idle()]),
        (resp(T0 + 1100, 1, ctok("CT1", expires_in=60)),
         [fetched(T0 + 1000 + 60_000, T0 + 1000 + 30_000, app="cp"), pre(2, "CT1"), idle(T0 + 31_000)]),
        (resp(T0 + 1200, 2, PAC), [ok(1, json=PAC), idle(T0 + 31_000)]),
        (poll(T0 + T12H), [ev("token_fetch_failed", app="cp", kind="ticket_unavailable"), idle()]),
        (submit_pre(T0 + T12H + 1), [ev("token_fetch_failed", app="cp", kind="ticket_unavailable"),
                                     err(2, "ticket_unavailable"), idle()]),
    ),
    scenario(
        "fleet: a process with no ticket reads the one another process stored before fetching; a kept push is stored",
        cfg(component(), store="external", instance_id="p1", entropy=ENTROPY),
        (submit_pre(T0), [store(1, "get", f"wxcore:token:wechat-component:{CP}:component"), idle()]),
        (sres(T0 + 10, 1, value=None),
         [store(2, "lock", f"wxcore:lock:wechat-component:{CP}:component", owner=owner()), idle()]),
        (sres(T0 + 20, 2, locked=True), [store(3, "get", f"wxcore:token:wechat-component:{CP}:component"), idle()]),
        (sres(T0 + 30, 3, value=None), [store(4, "get", f"wxcore:pushed:wechat-component:{CP}:component"), idle()]),
        (sres(T0 + 40, 4, value=_json.dumps({"v": 1, "account": f"wechat-component:{CP}:component",
                                              "ticket": "ticket@@@elsewhere", "created_s": 1700000000,
                                              "received_at_ms": T0 - 60_000})),
         [ct_fetch(1, "ticket@@@elsewhere"), idle()]),
        (push(T0 + 50, "ticket_2"),
         [pushed(), kept_ev(1700000600),
          store(5, "set", f"wxcore:pushed:wechat-component:{CP}:component", ttl_ms=T12H,
                value_json={"v": 1, "account": f"wechat-component:{CP}:component", "ticket": "ticket@@@two",
                            "created_s": 1700000600, "received_at_ms": T0 + 50}),
          idle()]),
    ),
    scenario(
        "wecom suite: the suite_ticket sample is kept for its SuiteId; get_suite_token answers without errcode",
        cfg(suite()),
        (push(T0, "suite_ticket", app="suite"),
         [pushed(info_type="suite_ticket"), kept_ev(1403610513, app="suite", info_type="suite_ticket"), idle()]),
        (submit(T0 + 1000, SUITE_PRE, app="suite"),
         [send(1, "POST", f"{QY}{ST}",
               json={"suite_id": SUITE, "suite_secret": "SSECRET", "suite_ticket": "asdfasfdasdfasdf"},
               headers={"content-type": "application/json"}), idle()]),
        (resp(T0 + 1100, 1, {"suite_access_token": "SAT1", "expires_in": 7200}),
         [fetched(T0 + 1000 + 2 * HOUR, T0 + 1000 + HOUR, app="suite"),
          send(2, "GET", f"{QY}{SUITE_PRE}?suite_access_token=SAT1"), idle(T0 + 1000 + HOUR)]),
        (resp(T0 + 1200, 2, werr(42009, "suite_access_token expired")),
         [ev("token_invalidated", app="suite", code=42009),
          send(3, "POST", f"{QY}{ST}",
               json={"suite_id": SUITE, "suite_secret": "SSECRET", "suite_ticket": "asdfasfdasdfasdf"}),
          idle()]),
        (resp(T0 + 1300, 3, {"suite_access_token": "SAT2", "expires_in": 7200}),
         [fetched(T0 + 1200 + 2 * HOUR, T0 + 1200 + HOUR, app="suite"),
          send(4, "GET", f"{QY}{SUITE_PRE}?suite_access_token=SAT2"), idle(T0 + 1200 + HOUR)]),
        (resp(T0 + 1400, 4, {"errcode": 0, "pre_auth_code": "SPAC", "expires_in": 1200}),
         [ok(1, json={"errcode": 0, "pre_auth_code": "SPAC", "expires_in": 1200}), idle(T0 + 1200 + HOUR)]),
        about="The suite ticket is valid 30 minutes; 42009 (suite_access_token expired) is compare-and-invalidate "
              "and one resend, like 42001.",
    ),
    scenario(
        "wecom suite: create_auth is exchanged through get_permanent_code with the suite token; the corp is called "
        "for with its own token; cancel_auth revokes it",
        cfg(suite()),
        (push(T0, "suite_ticket", app="suite"),
         [pushed(info_type="suite_ticket"), kept_ev(1403610513, app="suite", info_type="suite_ticket"), idle()]),
        (push(T0 + 10, "create_auth", app="suite"),
         [pushed(info_type="create_auth", kept=None, authorizer=None),
          send(1, "POST", f"{QY}{ST}",
               json={"suite_id": SUITE, "suite_secret": "SSECRET", "suite_ticket": "asdfasfdasdfasdf"}), idle()]),
        (resp(T0 + 20, 1, {"suite_access_token": "SAT1", "expires_in": 7200}),
         [fetched(T0 + 10 + 2 * HOUR, T0 + 10 + HOUR, app="suite"),
          send(2, "POST", f"{QY}/cgi-bin/service/get_permanent_code?suite_access_token=SAT1",
               json={"auth_code": "AUTHCODE"}, headers=JSON_CT), idle(T0 + 10 + HOUR)]),
        (resp(T0 + 30, 2, {"access_token": "CAT1", "expires_in": 7200, "permanent_code": "PC1",
                           "auth_corp_info": {"corpid": "wxf8b4f85f3a794e77"}}),
         [fetched(T0 + 10 + 2 * HOUR, auth_refresh(T0 + 10, appid="wxf8b4f85f3a794e77"),
                  app="suite/wxf8b4f85f3a794e77"),
          idle(auth_refresh(T0 + 10, appid="wxf8b4f85f3a794e77"))]),
        (submit(T0 + 40, "/cgi-bin/user/get", app="suite/wxf8b4f85f3a794e77", query=[["userid", "u1"]]),
         [send(3, "GET", f"{QY}/cgi-bin/user/get?access_token=CAT1&userid=u1"),
          idle(auth_refresh(T0 + 10, appid="wxf8b4f85f3a794e77"))]),
        (push(T0 + 50, "cancel_auth", app="suite"),
         [pushed(info_type="cancel_auth", kept=None, authorizer="suite/wxf8b4f85f3a794e77"),
          ev("authorizer_changed", app="suite/wxf8b4f85f3a794e77", standing="revoked"), idle(T0 + 10 + HOUR)]),
        (submit(T0 + 60, "/cgi-bin/user/get", app="suite/wxf8b4f85f3a794e77", query=[["userid", "u1"]]),
         [err(3, "not_authorized", code="revoked"), idle(T0 + 10 + HOUR)]),
        # Its old refresh point passes quietly: no token, nobody waiting.
        (poll(auth_refresh(T0 + 10, appid="wxf8b4f85f3a794e77")), [idle(T0 + 10 + HOUR)]),
        about="W/90642's create_auth and cancel_auth samples. The corp is named only by get_permanent_code's answer "
              "(push.authorizer is null for create_auth); its permanent code is held like a refresh token.",
    ),
    scenario(
        "component: api_start_push_ticket goes without a component token, its body built by the engine; "
        "the engine never sends it by itself",
        cfg(component()),
        (submit(T0, "/cgi-bin/component/api_start_push_ticket", app="cp", method="POST", json={}),
         [send(1, "POST", f"{OA}/cgi-bin/component/api_start_push_ticket",
               json={"component_appid": CP, "component_secret": "CSECRET"}, headers=JSON_CT), idle()]),
        (resp(T0 + 10, 1, OK), [ok(1, json=OK), idle()]),
        (submit_pre(T0 + 20), [ev("token_fetch_failed", app="cp", kind="ticket_unavailable"),
                               err(2, "ticket_unavailable"), idle()]),
        about="With pushes stopped and no ticket held, no component token can be fetched; this call is what "
              "restarts the pushes, so it carries the component secret instead (THIRD-PARTY.md §1).",
    ),
    scenario(
        "component: web authorization on an authorizer's behalf (sns/oauth2/component/access_token) is a call of "
        "the component, its token in the query as the platform requires",
        cfg(component()),
        (push(T0, "ticket_1"), [pushed(), kept_ev(1700000000), idle()]),
        (submit(T0 + 1000, "/sns/oauth2/component/access_token", app="cp",
                query=[["appid", "wxAUTH1"], ["code", "CODE"], ["grant_type", "authorization_code"],
                       ["component_appid", CP]]),
         [ct_fetch(1, "ticket@@@one"), idle()]),
        (resp(T0 + 1100, 1, ctok("CT1")),
         [fetched(T0 + 1000 + 2 * HOUR, T0 + 1000 + HOUR, app="cp"),
          send(2, "GET", f"{OA}/sns/oauth2/component/access_token?component_access_token=CT1&appid=wxAUTH1"
                         f"&code=CODE&grant_type=authorization_code&component_appid={CP}"),
          idle(T0 + 1000 + HOUR)]),
        (resp(T0 + 1200, 2, {"access_token": "UAT", "expires_in": 7200, "openid": "o1", "scope": "snsapi_base"}),
         [ok(1, json={"access_token": "UAT", "expires_in": 7200, "openid": "o1", "scope": "snsapi_base"}),
          idle(T0 + 1000 + HOUR)]),
    ),
    config_scenario("config: a component needs its callback keys", cfg(component(callback=None)), "apps[0].callback"),
    config_scenario("config: a component's EncodingAESKey must be 43 base64 characters",
                    cfg(component(callback={"token": "x", "encoding_aes_key": "short"})),
                    "apps[0].callback.encoding_aes_key"),
    config_scenario("config: callback keys on a platform that pushes no ticket",
                    cfg(oa(callback=CB)), "apps[0].callback"),
    scenario(
        "authorizer: an authorized push brings its tokens through api_query_auth with the component token; "
        "its calls carry its own token",
        cfg(component()),
        *authorized_steps(),
        (user_info(T0 + 40), [send(3, "GET", oa_url("/cgi-bin/user/info", "AT1", ("openid", "o1"))),
                              idle(auth_refresh(T0 + 10))]),
        (resp(T0 + 50, 3, {"openid": "o1"}), [ok(2, json={"openid": "o1"}), idle(auth_refresh(T0 + 10))]),
        about="An authorizer is an app of its own, `{component}/{authorizer_appid}`, made on first use; the push's "
              "api_query_auth is the engine's own call (call 1), so the host's call is call 2. Its refresh point "
              "is spread by a hash of its appid.",
    ),
    scenario(
        "authorizer: at its refresh point the token is renewed through api_authorizer_token; 61023 recovers the "
        "refresh token from the authorizer list",
        cfg(component()),
        *authorized_steps(),
        (poll(auth_refresh(T0 + 10)),
         [component_call(3, AT, "CT1", {"component_appid": CP, "authorizer_appid": "wxAUTH1",
                                        "authorizer_refresh_token": "RT1"}), idle(T0 + 10 + HOUR)]),
        (resp(auth_refresh(T0 + 10) + 10, 3, werr(61023, "refresh_token is invalid")),
         [component_call(4, AL, "CT1", {"component_appid": CP, "offset": 0, "count": 500}), idle(T0 + 10 + HOUR)]),
        (resp(auth_refresh(T0 + 10) + 20, 4,
              {"total_count": 1, "list": [{"authorizer_appid": "wxAUTH1", "refresh_token": "RT1b", "auth_time": 1}]}),
         [component_call(5, AT, "CT1", {"component_appid": CP, "authorizer_appid": "wxAUTH1",
                                        "authorizer_refresh_token": "RT1b"}), idle(T0 + 10 + HOUR)]),
        (resp(auth_refresh(T0 + 10) + 30, 5,
              {"authorizer_access_token": "AT2", "expires_in": 7200, "authorizer_refresh_token": "RT2"}),
         [fetched(auth_refresh(T0 + 10) + 20 + 2 * HOUR, auth_refresh(auth_refresh(T0 + 10) + 20), app=AUTH),
          idle(T0 + 10 + HOUR)]),
        (user_info(auth_refresh(T0 + 10) + 40),
         [send(6, "GET", oa_url("/cgi-bin/user/info", "AT2", ("openid", "o1"))), idle(T0 + 10 + HOUR)]),
        about="The new token's expiry counts from when the request that brought it was sent (the second refresh).",
    ),
    scenario(
        "authorizer: revoked by an unauthorized push, its calls fail fast with not_authorized and nothing is sent; "
        "authorized again, it works",
        cfg(component()),
        (push(T0, "unauthorized"),
         [pushed(info_type="unauthorized", kept=None, authorizer=AUTH),
          ev("authorizer_changed", app=AUTH, standing="revoked"), idle()]),
        (user_info(T0 + 1), [err(1, "not_authorized", code="revoked", app=AUTH), idle()]),
        (push(T0 + 2, "ticket_1"), [pushed(), kept_ev(1700000000), idle()]),
        (push(T0 + 10, "authorized"),
         [pushed(info_type="authorized", kept=None, authorizer=AUTH),
          ev("authorizer_changed", app=AUTH, standing="active"), ct_fetch(1, "ticket@@@one"), idle()]),
        (resp(T0 + 20, 1, ctok("CT1")),
         [fetched(T0 + 10 + 2 * HOUR, T0 + 10 + HOUR, app="cp"), query_auth(2, "CT1"), idle(T0 + 10 + HOUR)]),
        (resp(T0 + 30, 2, authorization("AT1", "RT1")),
         [fetched(T0 + 10 + 2 * HOUR, auth_refresh(T0 + 10), app=AUTH), idle(auth_refresh(T0 + 10))]),
        (user_info(T0 + 40), [send(3, "GET", oa_url("/cgi-bin/user/info", "AT1", ("openid", "o1"))),
                              idle(auth_refresh(T0 + 10))]),
    ),
    scenario(
        "authorizer: an authorized push without AuthorizationCode is refused; nothing is fetched",
        cfg(component()),
        (push(T0, "authorized_no_code"), [refused("invalid_request", "missing_field"), idle()]),
        (push(T0 + 1, "ticket_1"), [pushed(), kept_ev(1700000000), idle()]),
        (poll(T0 + 2), [idle()]),
    ),
]
