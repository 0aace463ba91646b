"""The token server end to end: the real `wxcore-server` process, the
simulator, Node and Python clients (the fleet's worker processes, here with
the `server` credential source), redis-server for replicas, and wechatpy
from PyPI against the facade. Loopback only."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import time
import uuid

import pytest

from tokenserver import (BINARY, Simulator, TokenServer, caller, count, native, new_key, request)
from fleet import RedisServer, Worker, kotlin_command, totals

UI = "/cgi-bin/user/info"


def oa_app(sim, app_id, **kw):
    return {"id": "oa", "platform": "wechat-oa", "app_id": app_id, "secret": "the-app-secret",
            "hosts": [sim.primary, sim.dr], **kw}


def client_job(sim, urls, key, duration_ms, concurrency=2, interval_ms=20, source="server", **config):
    """A worker (tests/fleet) whose app takes its token from the server: no secret in its config."""
    app = {"id": "oa", "platform": "wechat-oa", "app_id": "wx-client-side",
           "credential": {"source": source, "url": urls, "key": key}}
    if source == "server":
        app["hosts"] = [sim.primary, sim.dr]
    cfg = {"apps": [app], "timeout_ms": 3000, "retry": {"base_delay_ms": 20, "max_delay_ms": 500}, **config}
    return {"config": cfg, "store": "memory", "duration_ms": duration_ms, "path": UI,
            "concurrency": concurrency, "interval_ms": interval_ms, "redis_port": 0}


def workers(n, job, prefix="c", langs=("node", "python")):
    return [Worker(langs[i % len(langs)], f"{prefix}{i}", job) for i in range(n)]


@pytest.fixture
def sim():
    s = Simulator()
    yield s
    s.close()


def new_app():
    return "wxsrv" + uuid.uuid4().hex[:8]


def test_one_platform_fetch_serves_every_client_in_node_python_and_kotlin(sim):
    app = new_app()
    key = new_key()
    srv = TokenServer([oa_app(sim, app)], [caller("biz", key, actions=["token"])])
    try:
        srv.wait_ready()
        # The server fetched before anyone asked (proactive, not on first use).
        assert count(sim.counters(), "token_fetches", app) == 1
        summaries = [w.wait() for w in workers(6, client_job(sim, srv.url, key, 2500),
                                                langs=("node", "python", "kotlin"))]
        t = totals(summaries)
        assert t["failed"] == 0 and t["ok"] == t["submitted"] > 20, summaries
        for s in summaries:
            assert s["events"].get("token_fetched:server", 0) >= 1, s
        assert count(sim.counters(), "token_fetches", app) == 1
    finally:
        srv.stop()


def test_an_early_invalidation_costs_one_refresh_fleet_wide_and_no_caller_sees_it(sim):
    app = new_app()
    key = new_key()
    srv = TokenServer([oa_app(sim, app)], [caller("biz", key, actions=["token"])])
    try:
        srv.wait_ready()
        ws = workers(6, client_job(sim, srv.url, key, 5000, concurrency=3))
        time.sleep(2.0)
        sim.fault(kind="invalidate", app=app)
        summaries = [w.wait() for w in ws]
        t = totals(summaries)
        c = sim.counters()
        assert count(c, "rejected", app, "40001") >= 1, "clients did meet the invalidated token"
        assert t["failed"] == 0 and t["ok"] == t["submitted"], summaries
        assert count(c, "token_fetches", app) == 2, c  # the first, and one refresh for everyone
        invalidations = [a for a in srv.audit_lines() if a["action"] == "invalidate"]
        assert len(invalidations) >= 2, "several clients reported the token; one refresh served them all"
    finally:
        srv.stop()


def test_two_replicas_over_redis_one_killed_mid_run_lose_no_call(sim):
    app = new_app()
    key = new_key()
    rds = RedisServer()
    # Short token lives: the run spans several rotations while a replica dies.
    sim.configure(token_ttl_s=6, stable_renew_s=1)
    common = dict(store=f"redis://127.0.0.1:{rds.port}/0", refresh_margin_ms=500, refresh_jitter_ms=1,
                  store_prefix="wxsrv:", store_poll_ms=100)
    a = TokenServer([oa_app(sim, app)], [caller("biz", key)], **common)
    b = TokenServer([oa_app(sim, app)], [caller("biz", key)], **common)
    try:
        a.wait_ready()
        b.wait_ready()
        half = 3
        ws = (workers(half, client_job(sim, [a.url, b.url], key, 16_000, concurrency=2), "ab")
              + workers(half, client_job(sim, [b.url, a.url], key, 16_000, concurrency=2), "ba"))
        time.sleep(6.5)
        a.kill()
        summaries = [w.wait() for w in ws]
        t = totals(summaries)
        c = sim.counters()
        x, floor = count(c, "token_fetches", app), count(c, "renewals", app)
        print(f"token fetches: {x} (floor {floor}), calls ok {t['ok']} of {t['submitted']}")
        assert floor >= 2, "the run spans rotations"
        assert t["failed"] == 0 and t["ok"] == t["submitted"] > 100, summaries
        assert x <= floor + 1, c
    finally:
        a.stop()
        b.stop()
        rds.stop()


def test_clients_ride_out_30_s_without_the_server_and_recover(sim):
    app = new_app()
    key = new_key()
    # Tokens live 60 s; the server (and so its clients) plan to refresh at
    # half-life, while the server is away.
    sim.configure(token_ttl_s=60, stable_renew_s=5)
    srv = TokenServer([oa_app(sim, app)], [caller("biz", key)], refresh_margin_ms=30_000, refresh_jitter_ms=1)
    try:
        srv.wait_ready()
        ws = workers(3, client_job(sim, srv.url, key, 42_000, concurrency=1, interval_ms=200))
        time.sleep(3)
        srv.stop()
        time.sleep(30)
        srv.start()
        srv.wait_ready()
        time.sleep(2)
        sim.fault(kind="invalidate", app=app)  # the clients need the server again now
        summaries = [w.wait() for w in ws]
        t = totals(summaries)
        assert t["failed"] == 0 and t["ok"] == t["submitted"] > 100, summaries
        for s in summaries:
            # They tried while it was away (and said so), then got tokens from it again.
            assert s["events"].get("token_fetch_failed", 0) >= 1, s
            assert s["events"].get("token_fetched:server", 0) >= 2, s
    finally:
        srv.stop()


def test_an_unmodified_wechatpy_gets_its_token_from_the_facade_with_a_caller_key(sim):
    import requests
    from requests.adapters import HTTPAdapter
    from wechatpy import WeChatClient

    app = new_app()
    key = new_key("fk")
    srv = TokenServer([oa_app(sim, app)], [caller("legacy", key, actions=["facade"])])

    class ToLoopback(HTTPAdapter):
        """wechatpy's hosts, served on loopback: the token endpoint by the
        token server, the rest by the simulator (wechatpy's code untouched)."""

        def send(self, request, **kw):
            path = request.url.split("api.weixin.qq.com", 1)[1]
            base = srv.url if path.startswith("/cgi-bin/token") else sim.primary
            request.url = base + path
            return super().send(request, **kw)

    try:
        srv.wait_ready()
        client = WeChatClient(app, key)  # the caller key stands where the AppSecret would
        client._http.mount("https://api.weixin.qq.com/", ToLoopback())
        token = client.access_token
        assert token and token.startswith("st_")
        user = client.user.get("o-facade")
        assert user["openid"] == "o-facade"
        assert count(sim.counters(), "token_fetches", app) == 1  # the server's own
        # A wrong key is refused (401) with the platform's own code in the body.
        bad = WeChatClient(app, "not-a-key")
        bad._http.mount("https://api.weixin.qq.com/", ToLoopback())
        with pytest.raises(Exception):
            bad.access_token
        r = requests.get(srv.url + "/cgi-bin/token", params={"grant_type": "client_credential", "appid": app,
                                                              "secret": "not-a-key"}, timeout=5)
        assert r.status_code == 401 and r.json()["errcode"] == 40125
    finally:
        srv.stop()


def test_tokens_tickets_wx_config_and_compare_and_invalidate(sim):
    app = new_app()
    key = new_key()
    srv = TokenServer([oa_app(sim, app)], [caller("web", key, actions=["token", "ticket"])])
    try:
        srv.wait_ready()
        s, h, body = request(srv.url + "/v1/apps/oa/token", headers=native(key))
        assert s == 200 and h["cache-control"] == "no-store"
        doc = json.loads(body)
        assert doc["token_id"] == hashlib.sha256(b"wxcore token id:" + doc["token"].encode()).hexdigest()[:16]
        assert doc["server_time_ms"] < doc["refresh_after_ms"] < doc["expires_at_ms"]
        # A stale id: the current token back, no refresh ("already rotated").
        s, _, body = request(srv.url + "/v1/apps/oa/token/invalidate", "POST", native(key),
                             {"token_id": "0000000000000000", "errcode": 40001})
        assert s == 200 and json.loads(body)["token"] == doc["token"]
        assert count(sim.counters(), "token_fetches", app) == 1
        # The current id: one refresh, the new token back.
        sim.fault(kind="invalidate", app=app)
        s, _, body = request(srv.url + "/v1/apps/oa/token/invalidate", "POST", native(key),
                             {"token_id": doc["token_id"], "errcode": 40001})
        new = json.loads(body)
        assert s == 200 and new["token"] != doc["token"] and new["generation"] > doc["generation"]
        assert count(sim.counters(), "token_fetches", app) == 2
        # A ticket and a signed wx.config: the page server never holds the ticket.
        s, _, body = request(srv.url + "/v1/apps/oa/ticket/jsapi", headers=native(key))
        ticket = json.loads(body)
        assert s == 200 and ticket["app_id"] == app and ticket["ticket"]
        url = "https://shop.example/page?id=1"
        s, _, body = request(srv.url + "/v1/apps/oa/jssdk-config?url=" + urllib_quote(url), headers=native(key))
        cfg = json.loads(body)
        plain = f"jsapi_ticket={ticket['ticket']}&noncestr={cfg['nonceStr']}&timestamp={cfg['timestamp']}&url={url}"
        assert cfg["appId"] == app and cfg["signature"] == hashlib.sha1(plain.encode()).hexdigest()
        assert "ticket" not in cfg
    finally:
        srv.stop()


def urllib_quote(s):
    from urllib.parse import quote
    return quote(s, safe="")


def test_every_refusal_is_typed_and_nothing_secret_leaks(sim):
    app = new_app()
    web, other, relay, legacy = new_key("web"), new_key("other"), new_key("rl"), new_key("fc")
    srv = TokenServer(
        [oa_app(sim, app), {"id": "hr", "platform": "wecom", "corp_id": "wwS", "agent_id": "1", "secret": "corp-secret",
                            "hosts": [sim.primary]}],
        [caller("web", web, apps=["oa"], actions=["token"]),
         caller("other", other, apps=["hr"], actions=["token", "ticket"]),
         caller("relay", relay, apps=["oa"], actions=["relay"], relay_paths=["/cgi-bin/user/*"]),
         caller("legacy", legacy, apps=["oa"], actions=["token"])])
    seen = []

    def call(path, headers, method="GET", body=None):
        s, h, b = request(srv.url + path, method, headers, body)
        seen.append(b.decode(errors="replace") + json.dumps(h))
        return s, h, b

    try:
        srv.wait_ready()
        s, _, body = call("/v1/apps/oa/token", native(web))
        token = json.loads(body)["token"]
        cases = [
            ("no key", "/v1/apps/oa/token", native(None), 401, "credential_invalid"),
            ("a wrong key", "/v1/apps/oa/token", native(new_key()), 401, "credential_invalid"),
            ("a key scoped to another app", "/v1/apps/oa/token", native(other), 403, "permission_denied"),
            ("a key scoped to another action", "/v1/apps/oa/ticket/jsapi", native(web), 403, "permission_denied"),
            ("no anti-SSRF header", "/v1/apps/oa/token", native(web, ssrf=False), 403, "permission_denied"),
            ("a relay path outside the allowlist", "/v1/relay/oa/cgi-bin/menu/get", native(relay), 403, "permission_denied"),
            ("a path climbing out of the allowlist", "/v1/relay/oa/cgi-bin/user/../menu/get", native(relay), 403,
             "permission_denied"),
            ("relay by a caller without relay", f"/v1/relay/oa{UI}", native(web), 403, "permission_denied"),
            ("an app that does not exist", "/v1/apps/nope/token", native(web), 403, "permission_denied"),
        ]
        for name, path, headers, status, kind in cases:
            s, h, body = call(path, headers)
            assert s == status, (name, s, body)
            assert h.get("x-wxcore-error") == kind, (name, h)
            assert json.loads(body)["error"]["kind"] == kind, name
        # The facade, by a caller without `facade`: the platform's own refusal.
        s, _, body = call(f"/cgi-bin/token?grant_type=client_credential&appid={app}&secret={legacy}", {})
        assert s == 403 and json.loads(body)["errcode"] == 48001
        s, _, body = call(f"/cgi-bin/token?grant_type=client_credential&appid={app}&secret=wrong", {})
        assert s == 401 and json.loads(body)["errcode"] == 40125
        # The relay works inside its allowlist, and never shows the token.
        s, _, body = call(f"/v1/relay/oa{UI}?openid=o-1", native(relay))
        assert s == 200 and json.loads(body)["openid"] == "o-1"
        srv.stop()  # flushes the audit log
        everything = srv.output() + "\n".join(seen[1:])
        for secret in (token, web, other, relay, legacy, "the-app-secret", "corp-secret"):
            assert secret not in everything, "a secret or token leaked"
        audit = srv.audit_lines()
        assert {a["result"] for a in audit} >= {"ok", "forbidden", "200"}
        assert all(set(a) == {"ts_ms", "caller", "app", "action", "token_id", "result"} for a in audit)
    finally:
        srv.stop()


def test_bad_input_is_refused_with_a_named_reason(sim, tmp_path):
    app = new_app()
    key = new_key()
    # A malformed config names the field and exits non-zero.
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"apps": [oa_app(sim, app)],
                               "server": {"callers": [{"name": "x", "key_sha256": "abc", "apps": ["oa"], "actions": ["token"]}]}}))
    p = subprocess.run([BINARY, "--config", str(bad)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "server.callers[0].key_sha256" in p.stderr, p.stderr
    bad.write_text(json.dumps({"apps": [oa_app(sim, app)], "server": {"listen": "127.0.0.1:0", "colour": "red"}}))
    p = subprocess.run([BINARY, "--config", str(bad)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "server.colour" in p.stderr, p.stderr
    bad.write_text(json.dumps({"apps": [dict(oa_app(sim, app), secret=7)], "server": {}}))
    p = subprocess.run([BINARY, "--config", str(bad)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "apps[0].secret" in p.stderr, p.stderr

    srv = TokenServer([oa_app(sim, app)], [caller("r", key, actions=["token", "relay"], relay_paths=["/cgi-bin/*"])],
                      server={"max_body_bytes": 1024, "header_timeout_ms": 500, "body_timeout_ms": 500})
    try:
        srv.wait_ready()
        s, h, body = request(srv.url + "/v1/apps/oa/token/invalidate", "POST", native(key), raw=b"{not json")
        assert s == 400 and json.loads(body)["error"]["kind"] == "invalid_request"
        s, h, body = request(srv.url + "/v1/relay/oa/cgi-bin/message/custom/send", "POST", native(key),
                             raw=b"x" * 2048)
        assert s == 413 and json.loads(body)["error"]["kind"] == "invalid_request"
        host, port = srv.url.removeprefix("http://").split(":")
        # A client that never finishes its headers is cut off.
        with socket.create_connection((host, int(port)), timeout=5) as c:
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            t0 = time.monotonic()
            c.settimeout(5)
            data = c.recv(4096)
            assert time.monotonic() - t0 < 3 and (data == b"" or b" 408 " in data[:20]), data
        # A client that never finishes its body gets 408.
        with socket.create_connection((host, int(port)), timeout=5) as c:
            c.sendall(b"POST /v1/apps/oa/token/invalidate HTTP/1.1\r\nHost: x\r\nX-Wxcore-Request: 1\r\n"
                      b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: 100\r\n\r\n{\"tok")
            c.settimeout(5)
            data = c.recv(4096)
            assert b" 408 " in data[:20], data
        # The server is still well.
        assert request(srv.url + "/healthz")[0] == 200
    finally:
        srv.stop()


def test_the_relay_answers_verbatim_and_relay_clients_hold_no_token(sim):
    app = new_app()
    key = new_key("rl")
    srv = TokenServer([oa_app(sim, app)], [caller("mobile", key, apps=["oa"], actions=["relay"],
                                                  relay_paths=[UI, "/cgi-bin/tags/*"])])
    try:
        srv.wait_ready()
        # The platform's error, verbatim: status and body as the platform sent them.
        sim.fault(kind="errcode", code=40003, count=1, path=UI)
        s, h, body = request(srv.url + UI.join(["/v1/relay/oa", "?openid=o-x"]), headers=native(key))
        assert s == 200 and json.loads(body)["errcode"] == 40003 and "x-wxcore-error" not in h
        # POST with a body goes through untouched.
        s, _, body = request(srv.url + "/v1/relay/oa/cgi-bin/tags/create", "POST", native(key),
                             {"tag": {"name": "relayed"}})
        assert s == 200 and json.loads(body)["tag"]["name"] == "relayed"
        # Node and Python clients with the relay source: calls succeed, no token anywhere on their side.
        summaries = [w.wait() for w in workers(2, client_job(sim, srv.url, key, 1500, source="relay"), "m")]
        t = totals(summaries)
        assert t["failed"] == 0 and t["ok"] == t["submitted"] > 10, summaries
        for s in summaries:
            assert not any(k.startswith("token_fetched") for k in s["events"]), s
        # An API outside the allowlist: a typed error in the client.
        from wxcore import Client, WxError
        client = Client(client_job(sim, srv.url, key, 0, source="relay")["config"])
        with pytest.raises(WxError) as e:
            client.call("oa", "GET", "/cgi-bin/menu/get")
        assert e.value.kind == "permission_denied" and "allowlist" in str(e.value)
    finally:
        srv.stop()


def test_a_kotlin_mobile_app_on_the_relay_holds_no_secret_and_no_token(sim):
    app = new_app()
    mobile, biz = new_key("app"), new_key("biz")
    srv = TokenServer([oa_app(sim, app)], [caller("mobile", mobile, apps=["oa"], actions=["relay"], relay_paths=[UI]),
                                           caller("biz", biz, actions=["token"])])
    try:
        srv.wait_ready()
        s, _, body = request(srv.url + "/v1/apps/oa/token", headers=native(biz))
        assert s == 200
        token = json.loads(body)["token"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("WXCORE_")}
        env.update(WXCORE_RELAY_URL=srv.url, WXCORE_MOBILE_KEY=mobile, WXCORE_APP_ID=app)
        p = subprocess.run(kotlin_command("wxcore.examples.MobileAppKt"), env=env, capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, p.stderr
        result = json.loads(p.stdout.strip().splitlines()[-1])
        # Its calls succeed; an API outside its allowlist is refused, typed.
        assert result == {"ok": 3, "refused": "permission_denied"}, p.stdout
        calls = sim.counters()["calls"].get(app, {})
        assert calls.get(UI) == 3 and "/cgi-bin/menu/get" not in calls, calls
        # Nothing it printed holds the token, the AppSecret or even its own key.
        for secret in (token, "the-app-secret", mobile, biz):
            assert secret not in p.stdout + p.stderr
        assert "token_fetched" not in p.stdout
        relayed = [ln for ln in srv.audit_lines() if ln.get("caller") == "mobile"]
        assert sorted(ln["result"] for ln in relayed) == ["200", "200", "200", "forbidden"], relayed
    finally:
        srv.stop()


def test_the_facade_speaks_stable_token_and_wecom_gettoken(sim):
    app = new_app()
    key = new_key("fc")
    srv = TokenServer([oa_app(sim, app), {"id": "hr", "platform": "wecom", "corp_id": app + "corp", "agent_id": "7",
                                          "secret": "corp-secret", "hosts": [sim.primary]}],
                      [caller("legacy", key, actions=["facade"])])
    try:
        srv.wait_ready()
        s, _, body = request(srv.url + "/cgi-bin/stable_token", "POST", {},
                             {"grant_type": "client_credential", "appid": app, "secret": key})
        first = json.loads(body)
        assert s == 200 and first["access_token"] and 7000 < first["expires_in"] <= 7200
        s, _, body = request(srv.url + "/cgi-bin/stable_token", "POST", {},
                             {"grant_type": "client_credential", "appid": app, "secret": key, "force_refresh": True})
        forced = json.loads(body)
        assert s == 200 and forced["access_token"] != first["access_token"]
        s, _, body = request(srv.url + f"/cgi-bin/gettoken?corpid={app}corp&corpsecret={key}")
        wc = json.loads(body)
        assert s == 200 and wc["errcode"] == 0 and wc["access_token"]
        s, _, body = request(srv.url + f"/cgi-bin/gettoken?corpid={app}corp&corpsecret=wrong")
        assert s == 401 and json.loads(body)["errcode"] == 40001
    finally:
        srv.stop()
