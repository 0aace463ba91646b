"""WeCom, Jing, CJ-style and result-style APIs."""
from common import *

WU = "/cgi-bin/user/get"
USER = {"errcode": 0, "errmsg": "ok", "userid": "u1", "name": "Li"}


def gettoken(id, secret="CS2", corp="wwC"):
    return send(id, "GET", f"{QY}/cgi-bin/gettoken?corpid={corp}&corpsecret={secret}")


def wtok(token, expires_in=7200):
    return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": expires_in}


def wu(id, token, user="u1"):
    return send(id, "GET", f"{QY}{WU}?access_token={token}&userid={user}")


def submit_wu(t, app="hr", user="u1", **kw):
    return submit(t, WU, app=app, query=[["userid", user]], **kw)


JH = "https://jing.example"
JING_OK = {"code": 0, "msg": "success", "data": {"id": 1}}


def jing_auth(id):
    return send(id, "POST", f"{JH}/oauth/token", json={"app_id": "JA", "secret": "JS"}, headers={"content-type": "application/json"})


def jing_refresh(id, rt):
    return send(id, "POST", f"{JH}/oauth/refresh", json={"app_id": "JA", "refresh_token": rt})


def jtok(token, refresh, expires_in=7200):
    return {"code": 0, "msg": "success", "data": {"access_token": token, "expires_in": expires_in, "refresh_token": refresh}}


def jcall(id, token):
    return send(id, "GET", f"{JH}/v1/users?id=1", headers={"access-token": token})


def submit_j(t, **kw):
    return submit(t, "/v1/users", app="jing", query=[["id", "1"]], **kw)


def jerr(code, msg, sub=None):
    v = {"code": code, "msg": msg}
    if sub:
        v["sub_msg"] = sub
    return v


CH = "https://cj.example"


def cj_auth(id):
    return send(id, "GET", f"{CH}/api/gettoken?appid=CA&secret=CSEC")


def cjcall(id, token):
    return send(id, "GET", f"{CH}/api/v2/contacts?access_token={token}")


RH = "https://result.example"
RES_OK = {"result": "success", "server_time": "2017-10-09T08:48:34Z", "channels": []}


def rcall(id, path="/api/channels"):
    return send(id, "GET", f"{RH}{path}", headers={"token_id": "TID", "account_key": "AK"})


def rerr(code, desp="x"):
    return {"result": "error", "server_time": "2017-10-09T08:53:18Z", "errorCode": code, "desp": desp}


FILE = "platforms"
SCENARIOS = [
    # ---- WeCom ----
    scenario(
        "wecom: one token per agent secret; each app's calls use its own token",
        cfg(wecom(), wecom(id="crm", agent_id="1000003", secret="CS3")),
        (submit_wu(T0), [gettoken(1), idle()]),
        (submit_wu(T0 + 1, app="crm"), [gettoken(2, secret="CS3"), idle()]),
        (resp(T0 + 100, 1, wtok("W2")), [fetched(T0 + 2 * HOUR, T0 + HOUR, app="hr"), wu(3, "W2"), idle(T0 + HOUR)]),
        (resp(T0 + 101, 2, wtok("W3")), [fetched(T0 + 1 + 2 * HOUR, T0 + 1 + HOUR, app="crm"), wu(4, "W3"), idle(T0 + HOUR)]),
        (resp(T0 + 200, 3, USER), [ok(1, USER), idle(T0 + HOUR)]),
        (resp(T0 + 201, 4, USER), [ok(2, USER), idle(T0 + HOUR)]),
    ),
    scenario(
        "wecom: a proactive fetch answered with the same token waits for its real expiry",
        cfg(wecom()),
        (submit_wu(T0), [gettoken(1), idle()]),
        (resp(T0 + 100, 1, wtok("W1")), [fetched(T0 + 2 * HOUR, T0 + HOUR, app="hr"), wu(2, "W1"), idle(T0 + HOUR)]),
        (resp(T0 + 200, 2, USER), [ok(1, USER), idle(T0 + HOUR)]),
        (poll(T0 + HOUR), [gettoken(3), idle()]),
        (resp(T0 + HOUR + 50, 3, wtok("W1", 3600)), [fetched(T0 + 2 * HOUR, T0 + 2 * HOUR, app="hr"), idle(T0 + 2 * HOUR)]),
        (poll(T0 + HOUR + 100_000), [idle(T0 + 2 * HOUR)]),
        (submit_wu(T0 + 2 * HOUR), [gettoken(4), idle()]),
        (resp(T0 + 2 * HOUR + 100, 4, wtok("W9")), [fetched(T0 + 4 * HOUR, T0 + 3 * HOUR, app="hr"), wu(5, "W9"), idle(T0 + 3 * HOUR)]),
    ),
    scenario(
        "wecom: 40014 and 42001 refresh the token once and resend",
        cfg(wecom()),
        (with_token("W1", app="hr"), [idle(R)]),
        (submit_wu(T0 + 1000), [wu(1, "W1"), idle(R)]),
        (resp(T0 + 1100, 1, werr(40014, "invalid access_token")), [ev("token_invalidated", app="hr", code=40014), gettoken(2), idle()]),
        (resp(T0 + 1200, 2, wtok("W2")), [fetched(T0 + 1100 + 2 * HOUR, T0 + 1100 + HOUR, app="hr"), wu(3, "W2"), idle(T0 + 1100 + HOUR)]),
        (resp(T0 + 1300, 3, USER), [ok(1, USER), idle(T0 + 1100 + HOUR)]),
        (submit_wu(T0 + 2000), [wu(4, "W2"), idle(T0 + 1100 + HOUR)]),
        (resp(T0 + 2100, 4, werr(42001, "access_token expired")), [ev("token_invalidated", code=42001), gettoken(5), idle()]),
        (resp(T0 + 2200, 5, wtok("W3")), [fetched(T0 + 2100 + 2 * HOUR, T0 + 2100 + HOUR, app="hr"), wu(6, "W3"), idle(T0 + 2100 + HOUR)]),
    ),
    scenario(
        "wecom: 40001 is an invalid secret (credential_invalid), not a token error: no refresh",
        cfg(wecom()),
        (with_token("W1", app="hr"), [idle(R)]),
        (submit_wu(T0 + 1000), [wu(1, "W1"), idle(R)]),
        (resp(T0 + 1100, 1, werr(40001, "invalid secret")), [err(1, "credential_invalid", code=40001, app="hr"), idle(R)]),
    ),
    scenario(
        "wecom: 45033 (too many concurrent calls) waits one second and completes",
        cfg(wecom()),
        (with_token("W1", app="hr"), [idle(R)]),
        (submit_wu(T0 + 1000), [wu(1, "W1"), idle(R)]),
        (resp(T0 + 1100, 1, werr(45033, "api concurrent out of limit")),
         [ev("rate_limited", app="hr", path=WU, retry_after_ms=1000, code=45033), idle(T0 + 2100)]),
        (poll(T0 + 2100), [wu(2, "W1"), idle(R)]),
        (resp(T0 + 2200, 2, USER), [ok(1, USER), idle(R)]),
    ),
    scenario(
        "wecom: 45009 is a frequency block (rate_limited for a minute), not a daily quota",
        cfg(wecom()),
        (with_token("W1", app="hr"), [idle(R)]),
        (submit_wu(T0 + 1000), [wu(1, "W1"), idle(R)]),
        (resp(T0 + 1100, 1, werr(45009, "api freq out of limit")), [ev("rate_limited", retry_after_ms=60_000, code=45009), idle(T0 + 61_100)]),
        (poll(T0 + 61_100), [wu(2, "W1"), idle(R)]),
    ),
    scenario(
        "wecom: gettoken answering 60020 is ip_not_whitelisted for the waiting calls",
        cfg(wecom()),
        (submit_wu(T0), [gettoken(1), idle()]),
        (resp(T0 + 100, 1, werr(60020, "not allow to access from your ip")), [
            ev("token_fetch_failed", app="hr", kind="ip_not_whitelisted", code=60020), err(1, "ip_not_whitelisted", code=60020), idle()]),
    ),
    scenario(
        "wecom: busy (-1) on a GET is retried",
        cfg(wecom()),
        (with_token("W1", app="hr"), [idle(R)]),
        (submit_wu(T0 + 1000), [wu(1, "W1"), idle(R)]),
        (resp(T0 + 1100, 1, werr(-1, "system busy")), [ev("retry_scheduled", app="hr", attempt=2, delay_ms=200, reason="busy"), idle(T0 + 1300)]),
        (poll(T0 + 1300), [wu(2, "W1"), idle(R)]),
        (resp(T0 + 1400, 2, USER), [ok(1, USER), idle(R)]),
    ),
    # ---- Jing ----
    scenario(
        "jing: POST token endpoint from config; the token travels in a header",
        cfg(jing()),
        (submit_j(T0), [jing_auth(1), idle()]),
        (resp(T0 + 100, 1, jtok("J1", "R1")), [fetched(T0 + 2 * HOUR, T0 + HOUR, app="jing"), jcall(2, "J1"), idle(T0 + HOUR)]),
        (resp(T0 + 200, 2, JING_OK), [ok(1, JING_OK), idle(T0 + HOUR)]),
    ),
    scenario(
        "jing: 20001 with an expired-token sub-error refreshes with the refresh token, then resends",
        cfg(jing()),
        (submit_j(T0), [jing_auth(1), idle()]),
        (resp(T0 + 100, 1, jtok("J1", "R1")), [fetched(T0 + 2 * HOUR, T0 + HOUR, app="jing"), jcall(2, "J1"), idle(T0 + HOUR)]),
        (resp(T0 + 200, 2, jerr(20001, "授权权限不足", "访问令牌已过期")), [ev("token_invalidated", app="jing", code=20001), jing_refresh(3, "R1"), idle()]),
        (resp(T0 + 300, 3, jtok("J2", "R2")), [fetched(T0 + 200 + 2 * HOUR, T0 + 200 + HOUR, app="jing"), jcall(4, "J2"), idle(T0 + 200 + HOUR)]),
        (resp(T0 + 400, 4, JING_OK), [ok(1, JING_OK), idle(T0 + 200 + HOUR)]),
    ),
    scenario(
        "jing: a refused refresh token falls back to full authentication, once",
        cfg(jing()),
        (submit_j(T0), [jing_auth(1), idle()]),
        (resp(T0 + 100, 1, jtok("J1", "R1")), [fetched(T0 + 2 * HOUR, T0 + HOUR, app="jing"), jcall(2, "J1"), idle(T0 + HOUR)]),
        (resp(T0 + 200, 2, jerr(20001, "Insufficient Authorization Rights", "Invalid Access Token")), [ev("token_invalidated", code=20001), jing_refresh(3, "R1"), idle()]),
        (resp(T0 + 300, 3, jerr(20001, "授权权限不足", "应用授权令牌已过期")), [jing_auth(4), idle()]),
        (resp(T0 + 400, 4, jtok("J3", "R3")), [fetched(T0 + 300 + 2 * HOUR, T0 + 300 + HOUR, app="jing"), jcall(5, "J3"), idle(T0 + 300 + HOUR)]),
    ),
    scenario(
        "jing: 20001 for an unauthorised merchant is permission_denied, not a token error",
        cfg(jing()),
        (submit_j(T0), [jing_auth(1), idle()]),
        (resp(T0 + 100, 1, jtok("J1", "R1")), [fetched(T0 + 2 * HOUR, T0 + HOUR, app="jing"), jcall(2, "J1"), idle(T0 + HOUR)]),
        (resp(T0 + 200, 2, jerr(20001, "授权权限不足", "商户未授权当前接口")),
         [err(1, "permission_denied", code=20001, message="授权权限不足", sub_message="商户未授权当前接口"), idle(T0 + HOUR)]),
    ),
    scenario(
        "jing: 20000 (service unavailable) is busy: a GET is retried",
        cfg(jing()),
        (with_token("J1", app="jing"), [idle(R)]),
        (submit_j(T0 + 1000), [jcall(1, "J1"), idle(R)]),
        (resp(T0 + 1100, 1, jerr(20000, "服务不可用", "服务暂不可用")), [ev("retry_scheduled", app="jing", reason="busy", delay_ms=200), idle(T0 + 1300)]),
        (poll(T0 + 1300), [jcall(2, "J1"), idle(R)]),
        (resp(T0 + 1400, 2, JING_OK), [ok(1, JING_OK), idle(R)]),
    ),
    scenario(
        "jing: 20002 (throttled) waits one second; with the daily sub-error it is quota_exhausted",
        cfg(jing()),
        (with_token("J1", app="jing"), [idle(R)]),
        (submit_j(T0 + 1000), [jcall(1, "J1"), idle(R)]),
        (resp(T0 + 1100, 1, jerr(20002, "请求被限流", "超出请求并发限制")), [ev("rate_limited", app="jing", retry_after_ms=1000, code=20002), idle(T0 + 2100)]),
        (poll(T0 + 2100), [jcall(2, "J1"), idle(R)]),
        (resp(T0 + 2200, 2, jerr(20002, "请求被限流", "超出当天请求数量限制")), [
            ev("quota_exhausted", app="jing", path="/v1/users", until_ms=next_reset(T0)),
            err(1, "quota_exhausted", code=20002, sub_message="超出当天请求数量限制", retry_after_ms=next_reset(T0) - (T0 + 2200)), idle(R)]),
    ),
    scenario(
        "jing: 40004 business, 40006 with the IP sub-error ip_not_whitelisted, other 40006 permission_denied, 40002 invalid_request",
        cfg(jing()),
        (with_token("J1", app="jing"), [idle(R)]),
        *[(submit_j(T0 + 1000 + i), [jcall(i, "J1"), idle(R)]) for i in range(1, 5)],
        (resp(T0 + 2001, 1, jerr(40004, "业务处理失败", "具体看业务返回")), [err(1, "business", code=40004), idle(R)]),
        (resp(T0 + 2002, 2, jerr(40006, "权限不足", "IP无权访问")), [err(2, "ip_not_whitelisted", code=40006), idle(R)]),
        (resp(T0 + 2003, 3, jerr(40006, "Insufficient Permissions", "No Access")), [err(3, "permission_denied", code=40006), idle(R)]),
        (resp(T0 + 2004, 4, jerr(40002, "非法的参数", "参数无效")), [err(4, "invalid_request", code=40002), idle(R)]),
    ),
    scenario(
        "jing: a JSON answer without `code` is malformed_response",
        cfg(jing()),
        (with_token("J1", app="jing"), [idle(R)]),
        (submit_j(T0 + 1000), [jcall(1, "J1"), idle(R)]),
        (resp(T0 + 1100, 1, {"msg": "success"}), [err(1, "malformed_response", raw_body='{"msg":"success"}'), idle(R)]),
    ),
    # ---- CJ-style ----
    scenario(
        "cj: token from the configured path; a success may omit `code`",
        cfg(cj()),
        (submit(T0, "/api/v2/contacts", app="cj"), [cj_auth(1), idle()]),
        (resp(T0 + 100, 1, {"access_token": "C1", "expires_in": 7200}), [fetched(T0 + 2 * HOUR, T0 + HOUR, app="cj"), cjcall(2, "C1"), idle(T0 + HOUR)]),
        (resp(T0 + 200, 2, {"items": []}), [ok(1, {"items": []}), idle(T0 + HOUR)]),
        (submit(T0 + 300, "/api/v2/contacts", app="cj"), [cjcall(3, "C1"), idle(T0 + HOUR)]),
        (resp(T0 + 400, 3, {"code": 0, "message": "ok", "items": [1]}), [ok(2, {"code": 0, "message": "ok", "items": [1]}), idle(T0 + HOUR)]),
    ),
    scenario(
        "cj: 40014 refreshes the token and resends",
        cfg(cj()),
        (with_token("C1", app="cj"), [idle(R)]),
        (submit(T0 + 1000, "/api/v2/contacts", app="cj"), [cjcall(1, "C1"), idle(R)]),
        (resp(T0 + 1100, 1, {"code": 40014, "message": "invalid access_token"}), [ev("token_invalidated", app="cj", code=40014), cj_auth(2), idle()]),
        (resp(T0 + 1200, 2, {"access_token": "C2", "expires_in": 7200}), [fetched(T0 + 1100 + 2 * HOUR, T0 + 1100 + HOUR, app="cj"), cjcall(3, "C2"), idle(T0 + 1100 + HOUR)]),
    ),
    scenario(
        "cj: an unknown non-zero code is kind unknown, keeping code and message; busy POST is not resent",
        cfg(cj()),
        (with_token("C1", app="cj"), [idle(R)]),
        (submit(T0 + 1000, "/api/v2/contacts", app="cj"), [cjcall(1, "C1"), idle(R)]),
        (resp(T0 + 1100, 1, {"code": 600001, "message": "department not found"}), [err(1, "unknown", code=600001, message="department not found"), idle(R)]),
        (submit(T0 + 2000, "/api/v2/push", app="cj", method="POST", json={"to": "all"}),
         [send(2, "POST", f"{CH}/api/v2/push?access_token=C1", json={"to": "all"}), idle(R)]),
        (resp(T0 + 2100, 2, {"code": -1, "message": "busy"}), [err(2, "busy", code=-1), idle(R)]),
    ),
    # ---- result-style ----
    scenario(
        "result: static credentials placed as configured; success needs HTTP 200 and result=success",
        cfg(result_app()),
        (submit(T0, "/api/channels", app="res"), [rcall(1), idle()]),
        (resp(T0 + 100, 1, RES_OK), [ok(1, RES_OK), idle()]),
    ),
    scenario(
        "result: permission_denied_force_log_off with static credentials is credential_invalid (nothing to refresh)",
        cfg(result_app()),
        (submit(T0, "/api/channels", app="res"), [rcall(1), idle()]),
        (resp(T0 + 100, 1, rerr("permission_denied_force_log_off", "account_key, or token_id is not correct"), status=401),
         [err(1, "credential_invalid", code="permission_denied_force_log_off", http_status=401,
              message="account_key, or token_id is not correct"), idle()]),
    ),
    scenario(
        "result: request_too_fast waits and completes; invalid_json_format is invalid_request; missing `result` is malformed",
        cfg(result_app()),
        (submit(T0, "/api/channels", app="res"), [rcall(1), idle()]),
        (resp(T0 + 100, 1, rerr("request_too_fast"), status=429), [ev("rate_limited", app="res", retry_after_ms=1000, code="request_too_fast"), idle(T0 + 1100)]),
        (poll(T0 + 1100), [rcall(2), idle()]),
        (resp(T0 + 1200, 2, RES_OK), [ok(1, RES_OK), idle()]),
        (submit(T0 + 2000, "/api/channels", app="res"), [rcall(3), idle()]),
        (resp(T0 + 2100, 3, rerr("invalid_json_format"), status=400), [err(2, "invalid_request", code="invalid_json_format", http_status=400), idle()]),
        (submit(T0 + 3000, "/api/channels", app="res"), [rcall(4), idle()]),
        (resp(T0 + 3100, 4, {"channels": []}), [err(3, "malformed_response"), idle()]),
    ),
    scenario(
        "result: HTTP 500 without an errorCode is busy; a GET is retried",
        cfg(result_app()),
        (submit(T0, "/api/channels", app="res"), [rcall(1), idle()]),
        (resp(T0 + 100, 1, {"result": "error"}, status=500), [ev("retry_scheduled", app="res", reason="busy"), idle(T0 + 300)]),
        (poll(T0 + 300), [rcall(2), idle()]),
        (resp(T0 + 400, 2, rerr("over_limit"), status=403), [ev("rate_limited", retry_after_ms=60_000, code="over_limit"), idle(T0 + 60_400)]),
    ),
    scenario(
        "custom profile: result-style with a login endpoint; permission_denied_force_log_off refreshes the token once",
        cfg({"id": "res", "platform": "result-login", "base_url": "https://result.example", "app_id": "AK", "secret": "PW"},
            profiles={"result-login": {
                "extends": "result",
                "token_endpoints": {"login": {
                    "method": "POST", "path": "/api/login", "params_in": "json",
                    "params": [["account_key", "{app_id}"], ["password", "{secret}"]],
                    "token_field": "token_id", "expires_in_field": "expires_in", "default_expires_in_s": 3600}},
                "token_placement": {"in": "query", "name": "token_id"}}}),
        (submit(T0, "/api/channels", app="res"), [send(1, "POST", f"{RH}/api/login", json={"account_key": "AK", "password": "PW"}), idle()]),
        (resp(T0 + 100, 1, {"result": "success", "token_id": "TK1"}),
         [fetched(T0 + HOUR, T0 + HOUR // 2, app="res"), send(2, "GET", f"{RH}/api/channels?token_id=TK1"), idle(T0 + HOUR // 2)]),
        (resp(T0 + 200, 2, rerr("permission_denied_force_log_off"), status=401),
         [ev("token_invalidated", app="res", code="permission_denied_force_log_off"),
          send(3, "POST", f"{RH}/api/login", json={"account_key": "AK", "password": "PW"}), idle()]),
        (resp(T0 + 300, 3, {"result": "success", "token_id": "TK2"}),
         [fetched(T0 + 200 + HOUR, T0 + 200 + HOUR // 2, app="res"), send(4, "GET", f"{RH}/api/channels?token_id=TK2"), idle(T0 + 200 + HOUR // 2)]),
        (resp(T0 + 400, 4, RES_OK), [ok(1, RES_OK), idle(T0 + 200 + HOUR // 2)]),
    ),
]
