"""Open-platform authorizers, end to end over real HTTP: the simulator
authorizes three accounts (two by a pushed `authorized` event landing on
this test's callback URL, one by the redirect's code the host takes in with
its own api_query_auth), calls go out for each as `cp/{appid}` with its own
token, one authorizer revokes midway (its calls then fail fast, nothing
sent), one's refresh token is invalidated (recovered from the authorizer
list, calls go on), and no token, refresh token or code shows anywhere."""

import io
import json
import logging
import time
import uuid

import pytest

from sim import Simulator, count
from test_components import AES_KEY, CB_TOKEN, SECRET, PushEndpoint, config, wait_for
from wxcore import Client, WxError

UI = "/cgi-bin/user/info"
QA = "/cgi-bin/component/api_query_auth"


@pytest.fixture(scope="module")
def sim():
    s = Simulator()
    try:
        yield s
    finally:
        s.close()


def user_info(client, who):
    return client.call(who, "GET", UI, query={"openid": "o1"})


def test_three_authorizers_one_revoked_midway_one_recovered_from_the_list(sim):
    comp = f"wxcp{uuid.uuid4().hex[:10]}"
    auth = [f"wxau{uuid.uuid4().hex[:12]}" for _ in range(3)]
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    logging.getLogger("wxcore").addHandler(handler)
    logging.getLogger("wxcore").setLevel(logging.DEBUG)
    events = []
    # Short-lived tokens, so the authorizers refresh during the test.
    sim.control("/config", {"token_ttl_s": 6})
    client = Client(config(sim, comp))
    client.on(events.append)
    endpoint = PushEndpoint(client)
    try:
        sim.control("/apps", {"app_id": comp, "secret": SECRET})
        sim.control("/component", {"component_appid": comp, "token": CB_TOKEN, "encoding_aes_key": AES_KEY,
                                   "url": endpoint.server.url + "/wechat/component", "period_ms": 500})
        wait_for(lambda: any(p.info_type == "component_verify_ticket" for p in endpoint.pushes))

        # Two authorize by the platform's push; the third through the
        # redirect, whose code the host hands to api_query_auth itself.
        for a in auth[:2]:
            r = sim.control("/component/authorize", {"component_appid": comp, "authorizer_appid": a})
            assert r["pushed"] is True and r["info_type"] == "authorized"
        pushed = [p for p in endpoint.pushes if p.info_type == "authorized"]
        assert [p.authorizer for p in pushed] == [f"cp/{a}" for a in auth[:2]]
        code = sim.control("/component/authorize",
                           {"component_appid": comp, "authorizer_appid": auth[2], "push": False})["auth_code"]
        answer = client.call("cp", "POST", QA, json={"component_appid": comp, "authorization_code": code})
        assert answer["authorization_info"]["authorizer_appid"] == auth[2]
        assert "authorizer_access_token" not in answer["authorization_info"]
        assert "authorizer_refresh_token" not in answer["authorization_info"]

        for a in auth:
            assert user_info(client, f"cp/{a}")["subscribe"] in (0, 1)

        # The second revokes: its calls fail fast, no request made.
        sim.control("/component/unauthorize", {"component_appid": comp, "authorizer_appid": auth[1]})
        before = count(sim.counters(), "calls", auth[1], UI)
        with pytest.raises(WxError) as e:
            user_info(client, f"cp/{auth[1]}")
        assert e.value.kind == "not_authorized" and e.value.code == "revoked"
        assert count(sim.counters(), "calls", auth[1], UI) == before

        # The first's refresh token is replaced on the platform: its next
        # refresh answers 61023 and the list has the new one.
        sim.control("/component/authorizer", {"component_appid": comp, "authorizer_appid": auth[0],
                                              "refresh_invalid": True, "rotate": True})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            report = sim.control(f"/component/authorizers?component_appid={comp}")
            if report[auth[0]]["refreshes"] >= 2 and report[auth[2]]["refreshes"] >= 1:
                break
            for a in (auth[0], auth[2]):
                user_info(client, f"cp/{a}")
            time.sleep(0.2)
        report = sim.control(f"/component/authorizers?component_appid={comp}")
        assert report[auth[0]]["refused_refreshes"] == 1, report
        assert report[auth[0]]["refreshes"] >= 2, report  # recovered, then rotated and still refreshing
        assert report[auth[1]] == {"authorizations": 1, "refreshes": 0, "refused_refreshes": 0, "revoked": True}
        for a in (auth[0], auth[2]):
            user_info(client, f"cp/{a}")

        status = client.status()
        rows = {r["app"]: r for r in status["apps"]}
        assert rows[f"cp/{auth[0]}"]["authorizer"]["standing"] == "active"
        assert rows[f"cp/{auth[1]}"]["authorizer"]["standing"] == "revoked"
        assert rows[f"cp/{auth[2]}"]["authorizer"]["refresh_token_held"] is True
        changed = [(e["app"], e["standing"]) for e in events if e["type"] == "authorizer_changed"]
        assert changed == [(f"cp/{auth[1]}", "revoked")], changed
        # One component token for all of it (6 s tokens: at most one per lifetime).
        assert count(sim.counters(), "token_fetches", comp) >= 1

        text = "\n".join([log.getvalue(), json.dumps(events), json.dumps(status), client.metrics(),
                          repr(client), repr(endpoint.pushes)])
        for secret in ("authorizer_at_", "refreshtoken@@@", "queryauthcode@@@", "ticket@@@", SECRET, AES_KEY):
            assert secret not in text, secret
    finally:
        endpoint.close()
        client.close()
        logging.getLogger("wxcore").removeHandler(handler)
        sim.control("/config", {"token_ttl_s": 7200})


def test_a_wecom_suite_with_a_corp_and_a_daikaifa_corp_one_cancelled_one_needing_reauthorization(sim):
    """WeCom: `create_auth` pushes land on the suite's command URL; the engine
    exchanges each AuthCode (get_permanent_code) and calls for `st/{corpid}`
    with the corp token (get_corp_token), or for a 代开发 corp with the token
    `gettoken` gives for its permanent code. A replaced permanent code
    (40084 at the next refresh) needs re-authorization; cancel_auth revokes."""
    suite = f"wwst{uuid.uuid4().hex[:10]}"
    corp, custom = f"wwcorp{uuid.uuid4().hex[:10]}", f"wwdk{uuid.uuid4().hex[:10]}"
    events = []
    sim.control("/config", {"token_ttl_s": 6})
    client = Client({"apps": [{"id": "st", "platform": "wecom-suite", "app_id": suite, "secret": SECRET,
                               "callback": {"token": CB_TOKEN, "encoding_aes_key": AES_KEY},
                               "hosts": [sim.primary]}], "timeout_ms": 3000})
    client.on(events.append)

    pushes, refused = [], []

    def handle(h):
        import urllib.parse as up
        body = h.rfile.read(int(h.headers.get("content-length") or 0))
        query = dict(up.parse_qsl(up.urlsplit(h.path).query))
        try:
            p = client.handle_push("st", h.command, query, body)
            pushes.append(p)
            status, reply = 200, p.reply.encode()
        except WxError as e:
            refused.append(e)
            status, reply = 400, b""
        h.send_response(status)
        h.send_header("content-length", str(len(reply)))
        h.end_headers()
        h.wfile.write(reply)

    from sim import HttpServer
    server = HttpServer(handle)
    try:
        sim.control("/apps", {"app_id": suite, "secret": SECRET})
        sim.control("/suite", {"suite_id": suite, "token": CB_TOKEN, "encoding_aes_key": AES_KEY,
                               "url": server.url + "/wecom/suite", "period_ms": 500})
        wait_for(lambda: any(p.info_type == "suite_ticket" for p in pushes))
        assert sim.control("/suite/authorize", {"suite_id": suite, "corpid": corp})["pushed"] is True
        assert sim.control("/suite/authorize", {"suite_id": suite, "corpid": custom, "customized": True})["pushed"]
        assert [p.info_type for p in pushes if p.info_type == "create_auth"] == ["create_auth"] * 2
        wait_for(lambda: count(sim.counters(), "calls", suite, "/cgi-bin/service/get_permanent_code") == 2)

        for c in (corp, custom):
            assert client.call(f"st/{c}", "GET", "/cgi-bin/user/get", query={"userid": "u1"})["userid"] == "u1"
        counters = sim.counters()
        assert count(counters, "token_fetches", custom) == 1, "代开发: gettoken with the permanent code"
        assert count(counters, "token_fetches", corp) == 0, "a suite corp's token comes from get_corp_token"

        # The corp's permanent code is replaced: its next refresh answers 40084.
        sim.control("/suite/corp", {"suite_id": suite, "corpid": corp, "permanent_invalid": True})
        deadline = time.monotonic() + 15
        while True:
            try:
                client.call(f"st/{corp}", "GET", "/cgi-bin/user/get", query={"userid": "u1"})
            except WxError as e:
                assert e.kind == "not_authorized" and e.code == "needs_reauthorization", e
                break
            assert time.monotonic() < deadline, "never refreshed"
            time.sleep(0.2)
        sim.control("/suite/unauthorize", {"suite_id": suite, "corpid": custom})
        with pytest.raises(WxError) as e:
            client.call(f"st/{custom}", "GET", "/cgi-bin/user/get", query={"userid": "u1"})
        assert e.value.kind == "not_authorized" and e.value.code == "revoked"

        rows = {r["app"]: r for r in client.status()["apps"]}
        assert rows[f"st/{corp}"]["authorizer"]["standing"] == "needs_reauthorization"
        assert rows[f"st/{custom}"]["authorizer"]["standing"] == "revoked"
        assert refused == []
        text = json.dumps(events) + json.dumps(client.status()) + client.metrics() + repr(pushes)
        for secret in ("permanentcode@@@", "corp_at_", "suiteauthcode@@@", "ticket@@@", SECRET, AES_KEY):
            assert secret not in text, secret
    finally:
        server.close()
        client.close()
        sim.control("/config", {"token_ttl_s": 7200})
