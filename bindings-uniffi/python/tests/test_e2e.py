"""End to end: the Python drivers over real HTTP against the local simulator.

Each test uses its own app id, so the simulator's counters (platform-side
facts) belong to that test alone."""

import asyncio
import itertools
import threading
import time
import uuid

import pytest

from sim import Simulator, count
from wxcore import AsyncClient, Client, WxError

UI = "/cgi-bin/user/info"


@pytest.fixture(scope="module")
def sim():
    s = Simulator()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(autouse=True)
def fresh(sim):
    sim.control("/reset", {})


_ids = itertools.count(1)


def new_app_id():
    return f"wxe2e{next(_ids)}{uuid.uuid4().hex[:6]}"


def oa_config(sim, app_id, **extra):
    return {"apps": [{"id": "oa", "platform": "wechat-oa", "app_id": app_id, "secret": "e2e-secret",
                      "hosts": [sim.primary, sim.dr]}],
            "retry": {"jitter": False, "base_delay_ms": 10, "max_delay_ms": 50},
            "failover": {"threshold": 1, "cooldown_ms": 300}, "timeout_ms": 3000, **extra}


def test_concurrent_calls_share_one_token_fetch(sim):
    app = new_app_id()
    sim.configure(latency_ms=50)  # so the calls overlap at the platform

    async def main():
        client = AsyncClient(oa_config(sim, app))
        try:
            return await asyncio.gather(*(client.call("oa", "GET", UI, query={"openid": f"o{i}"}) for i in range(20)))
        finally:
            await client.aclose()

    users = asyncio.run(main())
    assert [u["openid"] for u in users] == [f"o{i}" for i in range(20)]
    c = sim.counters()
    assert count(c, "token_fetches", app) == 1
    assert count(c, "calls", app, UI) == 20
    assert c["max_in_flight"][app] > 1, "the calls did not overlap"


def test_threads_share_one_client_and_one_token(sim):
    app = new_app_id()
    sim.configure(latency_ms=50)
    client = Client(oa_config(sim, app))
    results, errors = [], []

    def worker(i):
        try:
            results.append(client.call("oa", "GET", UI, query={"openid": f"t{i}"})["openid"])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(results) == sorted(f"t{i}" for i in range(8))
    c = sim.counters()
    assert count(c, "token_fetches", app) == 1
    assert c["max_in_flight"][app] > 1, "the sync client serialised the threads' calls"


def test_early_invalidation_costs_one_refresh_and_no_error(sim):
    app = new_app_id()
    client = Client(oa_config(sim, app))
    events = []
    client.on(events.append)
    client.call("oa", "GET", UI, query={"openid": "o1"})
    sim.fault(kind="invalidate", app=app)
    assert client.call("oa", "GET", UI, query={"openid": "o2"})["openid"] == "o2"
    c = sim.counters()
    assert count(c, "token_fetches", app) == 2
    assert count(c, "rejected", app, "40001") == 1
    assert [e["type"] for e in events if e["type"].startswith("token_")] == \
        ["token_fetched", "token_invalidated", "token_fetched"]


def test_failover_to_dr_and_back_after_cooldown(sim):
    app = new_app_id()
    client = Client(oa_config(sim, app))
    events = []
    client.on(events.append)
    client.call("oa", "GET", UI, query={"openid": "o1"})
    sim.fault(kind="host", host="primary", mode="down")
    before = sim.counters()["requests"]
    assert client.call("oa", "GET", UI, query={"openid": "o2"})["openid"] == "o2"
    after = sim.counters()["requests"]
    assert after["dr"] == before["dr"] + 1 and after["primary"] == before["primary"]
    assert any(e["type"] == "failover" and e["to"] == sim.dr for e in events)
    assert any(e["type"] == "circuit_opened" and e["host"] == sim.primary for e in events)

    sim.fault(kind="host", host="primary", mode="up")
    time.sleep(0.4)  # the configured 300 ms cool-down
    client.call("oa", "GET", UI, query={"openid": "o3"})
    final = sim.counters()["requests"]
    assert final["primary"] == after["primary"] + 1 and final["dr"] == after["dr"]
    assert any(e["type"] == "circuit_closed" and e["host"] == sim.primary for e in events)


def test_daily_quota_ends_in_quota_exhausted_without_more_calls(sim):
    app = new_app_id()
    sim.configure(daily_limits={"/cgi-bin/user/get": 2})
    client = Client(oa_config(sim, app))
    client.call("oa", "GET", "/cgi-bin/user/get")
    client.call("oa", "GET", "/cgi-bin/user/get")
    for _ in range(2):  # the platform's 45009, then the engine's own refusal
        with pytest.raises(WxError) as e:
            client.call("oa", "GET", "/cgi-bin/user/get")
        assert e.value.kind == "quota_exhausted" and e.value.retry_after_ms > 0
    c = sim.counters()
    assert count(c, "calls", app, "/cgi-bin/user/get") == 3
    assert count(c, "rejected", app, "45009") == 1
    # Other APIs are not affected.
    client.call("oa", "GET", UI, query={"openid": "o1"})


def test_busy_burst_is_retried_for_get_and_not_for_post(sim):
    app = new_app_id()
    client = Client(oa_config(sim, app))
    sim.fault(kind="errcode", code=-1, count=2, path=UI)
    assert client.call("oa", "GET", UI, query={"openid": "o1"})["openid"] == "o1"
    sim.fault(kind="errcode", code=-1, count=1, path="/cgi-bin/message/custom/send")
    with pytest.raises(WxError) as e:
        client.call("oa", "POST", "/cgi-bin/message/custom/send", json={"touser": "o1", "msgtype": "text"})
    assert e.value.kind == "busy" and e.value.code == -1
    c = sim.counters()
    assert count(c, "calls", app, UI) == 3
    assert count(c, "calls", app, "/cgi-bin/message/custom/send") == 1


def test_admin_confirmation_after_exactly_one_attempt(sim):
    app = new_app_id()
    client = Client(oa_config(sim, app))
    sim.fault(kind="errcode", code=89503, count=5, path="/cgi-bin/tags/get")
    with pytest.raises(WxError) as e:
        client.call("oa", "GET", "/cgi-bin/tags/get")
    assert e.value.kind == "admin_confirmation_required" and e.value.code == 89503
    assert count(sim.counters(), "calls", app, "/cgi-bin/tags/get") == 1


def test_media_upload_and_binary_download(sim):
    app = new_app_id()
    client = Client(oa_config(sim, app))
    image = bytes(range(256)) * 40
    boundary = "wxcore" + uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + image + f"\r\n--{boundary}--\r\n".encode()
    up = client.call("oa", "POST", "/cgi-bin/media/upload", query={"type": "image"}, body=body,
                     content_type=f"multipart/form-data; boundary={boundary}")
    got = client.call("oa", "GET", "/cgi-bin/media/get", query={"media_id": up["media_id"]}, full=True)
    assert got.data == image
    assert dict((k.lower(), v) for k, v in got.headers)["content-type"] == "image/jpeg"


def test_malformed_body_is_a_typed_error_keeping_the_body(sim):
    app = new_app_id()
    client = Client(oa_config(sim, app))
    client.call("oa", "GET", UI, query={"openid": "o1"})
    sim.fault(kind="malformed", count=1, status=200)
    with pytest.raises(WxError) as e:
        client.call("oa", "POST", "/cgi-bin/message/custom/send", json={"touser": "o1"})
    assert e.value.kind == "malformed_response"


def test_every_platform_over_http(sim):
    corp, jing, cj, acct = new_app_id(), new_app_id(), new_app_id(), new_app_id()
    config = {"apps": [
        {"id": "wecom", "platform": "wecom", "corp_id": corp, "agent_id": "1000002", "secret": "cs",
         "hosts": [sim.primary]},
        {"id": "jing", "platform": "jing", "app_id": jing, "secret": "js", "base_url": sim.primary,
         "token_path": "/jing/token", "refresh_path": "/jing/refresh"},
        {"id": "cj", "platform": "cj", "app_id": cj, "secret": "cjs", "base_url": sim.primary,
         "token_path": "/cj/token"},
        {"id": "result", "platform": "result", "app_id": acct, "secret": "tid", "base_url": sim.primary,
         "token_placement": {"in": "query", "name": "token_id", "extra": [["account_key", "{app_id}"]]}},
    ]}
    client = Client(config)
    assert client.call("wecom", "GET", "/cgi-bin/user/get", query={"userid": "zhangsan"})["userid"] == "zhangsan"
    assert client.call("wecom", "POST", "/cgi-bin/message/send", json={"touser": "zhangsan"})["errcode"] == 0
    with pytest.raises(WxError) as e:
        client.call("wecom", "GET", "/cgi-bin/user/get", query={"userid": "nobody"})
    assert e.value.kind == "unknown" and e.value.code == 60111  # not in the profile: kept, typed unknown
    assert client.call("jing", "GET", "/jing/api/shop/info")["data"]["app_id"] == jing
    assert client.call("cj", "GET", "/cj/api/orders")["data"]["appid"] == cj
    assert client.call("result", "GET", "/result/events")["data"]["account_key"] == acct
    sim.fault(kind="invalidate", app=jing)
    assert client.call("jing", "POST", "/jing/api/shop/update", json={"name": "x"})["code"] == 0
    c = sim.counters()
    assert count(c, "token_fetches", corp) == 1 and count(c, "token_fetches", cj) == 1
    assert count(c, "token_fetches", jing) == 2


def test_jsapi_tickets_one_fetch_for_many_pages(sim):
    from wxcore import jssdk_signature

    app = new_app_id()
    sim.configure(latency_ms=30)

    async def main():
        client = AsyncClient(oa_config(sim, app))
        try:
            return await asyncio.gather(*(client.ticket("oa") for _ in range(10)))
        finally:
            await client.aclose()

    tickets = asyncio.run(main())
    assert len(set(tickets)) == 1 and tickets[0]
    assert count(sim.counters(), "ticket_fetches", app) == 1
    client = Client(oa_config(sim, app))
    cfg = client.jssdk_config("oa", "https://shop.example/p?id=1#top")
    assert cfg["appId"] == app
    ticket = client.ticket("oa")
    assert cfg["signature"] == jssdk_signature(ticket, cfg["nonceStr"], cfg["timestamp"], "https://shop.example/p?id=1")
    client.ticket("oa", "wx_card")
    assert count(sim.counters(), "ticket_fetches", app) == 3  # a second process (client), and wx_card


def test_api_security_sealed_call_end_to_end(sim):
    import json as _json
    import os

    root = os.path.join(os.path.dirname(__file__), "..", "..", "..")
    v = _json.load(open(os.path.join(root, "tests", "vectors", "crypto-official.json")))["api_security_request"][0]
    app = new_app_id()
    # The simulator plays the platform; the published example's key pair
    # stands in for both the app's key and the platform's.
    sim.control("/apps", {"app_id": app, "secret": "e2e-secret", "api_security": {
        "sym_key": v["sym_key"], "sym_sn": v["sym_sn"], "app_key": v["rsa_private_key_pem"],
        "platform_key": v["rsa_private_key_pem"], "platform_serial": "SIM-SN"}})
    security = {"sym_key": v["sym_key"], "sym_sn": v["sym_sn"], "private_key": v["rsa_private_key_pem"],
                "platform_keys": {"SIM-SN": v["rsa_private_key_pem"]}, "paths": ["/wxa/getuserriskrank"]}
    config = oa_config(sim, app)
    config["apps"][0]["api_security"] = security
    client = Client(config)
    r = client.call("oa", "POST", "/wxa/getuserriskrank", json={"appid": app, "openid": "o-secure", "scene": 0})
    assert r["risk_rank"] == 0 and r["openid"] == "o-secure"  # opened from the sealed reply
    # The platform with another symmetric key cannot open our request: 40235, typed.
    sim.control("/apps", {"app_id": app, "secret": "e2e-secret", "api_security": {
        "sym_key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "sym_sn": v["sym_sn"],
        "app_key": v["rsa_private_key_pem"], "platform_key": v["rsa_private_key_pem"], "platform_serial": "SIM-SN"}})
    with pytest.raises(WxError) as e:
        client.call("oa", "POST", "/wxa/getuserriskrank", json={"openid": "o2"})
    assert e.value.kind == "signature_invalid" and e.value.code == 40235


def test_async_client_matches_client_jssdk_config_export_state_and_with(sim):
    from wxcore import Engine, jssdk_signature
    from wxcore._client import now_ms, with_entropy

    app = new_app_id()
    config = oa_config(sim, app)

    async def main():
        async with AsyncClient(config) as client:
            user = await client.call("oa", "GET", UI, query={"openid": "p1"})
            page = await client.jssdk_config("oa", "https://shop.example/p?id=1#top")
            ticket = await client.ticket("oa")
            return user, page, ticket, client.export_state(), client._client

    user, page, ticket, state, transport = asyncio.run(main())
    assert user["openid"] == "p1"
    assert page["appId"] == app
    assert page["signature"] == jssdk_signature(ticket, page["nonceStr"], page["timestamp"],
                                                "https://shop.example/p?id=1")
    assert transport is not None and transport.is_closed  # `async with` closed the httpx client
    assert "e2e-secret" not in state
    # The exported state is the engine's: a process restored from it needs no token fetch.
    client = Client(config)
    client.engine = Engine.restore(with_entropy(config), state, now_ms())
    assert client.call("oa", "GET", UI, query={"openid": "p2"})["openid"] == "p2"
    c = sim.counters()
    assert count(c, "token_fetches", app) == 1 and count(c, "ticket_fetches", app) == 1
