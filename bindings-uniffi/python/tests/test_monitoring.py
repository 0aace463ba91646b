"""Monitoring from Python: the status snapshot and the metrics through the
real clients against the simulator, the metrics read back by Prometheus's
own parser, events on the ``wxcore`` logger at the core's levels, and
connect timeouts told apart. Every test that captures output searches it
for the tokens the platform issued and the app's secret."""

import asyncio
import itertools
import json
import logging
import socket
import time
import urllib.parse
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sim import Simulator
from wxcore import AsyncClient, Client, ConnectTimeout, PooledHttp, WxError, urllib_http
from wxcore._client import transport_kind

UI = "/cgi-bin/user/info"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


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
    return f"wxmon{next(_ids)}{uuid.uuid4().hex[:6]}"


def new_secret():
    return f"sec-{uuid.uuid4().hex}"


class Recording:
    """The default transport, recording every token and ticket the platform hands out."""

    def __init__(self):
        self.http = PooledHttp()
        self.issued = []

    def __call__(self, method, url, headers, body, timeout_s, /):
        status, h, payload = self.http(method, url, headers, body, timeout_s)
        # Each exchange lasts at least 2 ms: a loopback answer within the
        # millisecond the request left would record a zero duration.
        time.sleep(0.002)
        path = urllib.parse.urlsplit(url).path
        if "token" in path or "ticket" in path:
            try:
                doc = json.loads(payload)
            except ValueError:
                doc = {}
            self.issued += [doc[k] for k in ("access_token", "ticket") if isinstance(doc.get(k), str)]
        return status, h, payload


def config(sim, app_id, secret, **extra):
    return {"apps": [{"id": "oa", "platform": "wechat-oa", "app_id": app_id, "secret": secret,
                      "hosts": [sim.primary, sim.dr], "quota": {"limits": {UI: 10}}}],
            "retry": {"jitter": False, "base_delay_ms": 10, "max_delay_ms": 50},
            "failover": {"threshold": 1, "cooldown_ms": 60000}, "timeout_ms": 3000, **extra}


def families(text):
    """The exposition as Prometheus reads it: family name to family."""
    return {f.name: f for f in text_string_to_metric_families(text)}


def sample(fams, family, name, **labels):
    """One sample's value; fails when absent."""
    for s in fams[family].samples:
        if s.name == name and s.labels == labels:
            return s.value
    raise AssertionError(f"no {name}{labels} in {fams[family].samples}")


def assert_no_secret(text, secrets, where):
    assert secrets
    for s in secrets:
        assert s not in text, f"{where} holds a secret or token"


def test_status_and_metrics_through_the_simulator(sim):
    app, secret, http = new_app_id(), new_secret(), Recording()
    client = Client(config(sim, app, secret), http=http)
    for i in range(3):
        client.call("oa", "GET", UI, query={"openid": f"o{i}"})
    assert len(http.issued) == 1

    s = client.status()
    assert s["version"] == 1
    assert abs(s["now_ms"] - time.time() * 1000) < 5000
    (a,) = s["apps"]
    assert (a["app"], a["platform"], a["credential"]) == ("oa", "wechat-oa", "secret")
    token = a["token"]
    assert token is not None and len(token["id"]) == 16 and int(token["id"], 16) >= 0
    assert token["id"] not in http.issued[0]
    assert token["remaining_ms"] == token["expires_at_ms"] - s["now_ms"] > 0
    refresh = a["last_refresh"]
    assert refresh is not None
    assert (refresh["trigger"], refresh["result"], refresh["code"]) == ("initial", "ok", None)
    assert (a["refreshes"], a["fetching"], a["queued"], a["in_flight"], a["waiting_for_token"],
            a["blocked_until_ms"]) == (1, False, 0, 0, 0, None)
    assert s["hosts"] == [{"host": sim.primary, "state": "closed", "until_ms": None, "failures": 0},
                          {"host": sim.dr, "state": "closed", "until_ms": None, "failures": 0}]
    (q,) = [r for r in s["quotas"] if r["api"] == UI]
    assert q["resets_at_ms"] > s["now_ms"]
    assert {**q, "resets_at_ms": 0} == {"app": "oa", "api": UI, "used": 3, "limit": 10, "percent": 30,
                                        "exhausted": False, "resets_at_ms": 0}
    assert s["alerts"] == []

    text = client.metrics()
    fams = families(text)
    kinds = {name: f.type for name, f in fams.items()}
    assert kinds == {
        "wxcore_upstream_requests": "counter", "wxcore_upstream_request_duration_seconds": "histogram",
        "wxcore_retries": "counter", "wxcore_token_expiry_timestamp_seconds": "gauge",
        "wxcore_token_refreshes": "counter", "wxcore_quota_used": "gauge", "wxcore_quota_limit": "gauge",
        "wxcore_circuit_open": "gauge", "wxcore_alerts": "counter", "wxcore_queued_calls": "gauge",
        "wxcore_in_flight_calls": "gauge"}
    assert all(f.documentation for f in fams.values()), "every family has its HELP"
    assert sample(fams, "wxcore_upstream_requests", "wxcore_upstream_requests_total",
                  app="oa", api=UI, outcome="ok") == 3
    h = "wxcore_upstream_request_duration_seconds"
    assert sample(fams, h, h + "_count", app="oa", api=UI) == 3
    assert sample(fams, h, h + "_bucket", app="oa", api=UI, le="+Inf") == 3
    buckets = [x.value for x in fams[h].samples if x.name == h + "_bucket" and x.labels["api"] == UI]
    assert buckets == sorted(buckets) and len(buckets) > 2
    assert 0 < sample(fams, h, h + "_sum", app="oa", api=UI) < 3 * 3.0
    assert sample(fams, "wxcore_token_refreshes", "wxcore_token_refreshes_total",
                  app="oa", trigger="initial", result="ok") == 1
    assert sample(fams, "wxcore_token_expiry_timestamp_seconds", "wxcore_token_expiry_timestamp_seconds",
                  app="oa") == pytest.approx(token["expires_at_ms"] / 1000)
    assert sample(fams, "wxcore_quota_used", "wxcore_quota_used", app="oa", api=UI) == 3
    assert sample(fams, "wxcore_quota_limit", "wxcore_quota_limit", app="oa", api=UI) == 10
    assert sample(fams, "wxcore_circuit_open", "wxcore_circuit_open", host=sim.primary) == 0
    assert sample(fams, "wxcore_in_flight_calls", "wxcore_in_flight_calls", app="oa") == 0
    assert fams["wxcore_alerts"].samples == []

    sim.fault(kind="host", host="primary", mode="down")
    try:
        assert client.call("oa", "GET", UI, query={"openid": "o9"})["openid"] == "o9"  # served by dr
        down = client.status()
        (primary,) = [x for x in down["hosts"] if x["host"] == sim.primary]
        assert primary["state"] == "open"
        assert primary["until_ms"] is not None and primary["until_ms"] > down["now_ms"]
        alert = next(x for x in down["alerts"] if x["category"] == "connect_failure")
        assert (alert["app"], alert["open"], alert["count_window"]) == ("oa", True, 1)
        assert alert["sample"]["host"] == sim.primary and alert["sample"]["api"] == UI
        text2 = client.metrics()
        fams = families(text2)
        assert sample(fams, "wxcore_circuit_open", "wxcore_circuit_open", host=sim.primary) == 1
        assert sample(fams, "wxcore_alerts", "wxcore_alerts_total", app="oa", category="connect_failure") == 1
        assert sample(fams, "wxcore_upstream_requests", "wxcore_upstream_requests_total",
                      app="oa", api=UI, outcome="connect_failure") == 1
    finally:
        sim.fault(kind="host", host="primary", mode="up")
    assert_no_secret(json.dumps(s) + json.dumps(down) + text + text2, [secret, *http.issued], "status or metrics")
    client.close()


def test_async_client_status_and_metrics(sim):
    app, secret = new_app_id(), new_secret()

    async def main():
        async with AsyncClient(config(sim, app, secret)) as client:
            await client.call("oa", "GET", UI, query={"openid": "o1"})
            return client.status(), client.metrics()

    s, text = asyncio.run(main())
    assert s["apps"][0]["token"] is not None and s["apps"][0]["refreshes"] == 1
    assert [r["used"] for r in s["quotas"] if r["api"] == UI] == [1]
    assert sample(families(text), "wxcore_upstream_requests", "wxcore_upstream_requests_total",
                  app="oa", api=UI, outcome="ok") == 1
    assert secret not in json.dumps(s) + text


def wxcore_records(caplog):
    return [r for r in caplog.records if r.name == "wxcore"]


def test_events_are_logged_at_the_cores_level_without_secrets(sim, caplog):
    caplog.set_level(logging.DEBUG, logger="wxcore")
    app, secret, http = new_app_id(), new_secret(), Recording()
    events = []
    client = Client(config(sim, app, secret), http=http)
    client.on(events.append)
    client.call("oa", "GET", UI, query={"openid": "o1"})  # token_fetched
    sim.fault(kind="errcode", code=-1, count=1, path=UI)
    client.call("oa", "GET", UI, query={"openid": "o2"})  # retry_scheduled
    sim.fault(kind="host", host="primary", mode="down")
    try:
        client.call("oa", "GET", UI, query={"openid": "o3"})  # failover, circuit_opened
    finally:
        sim.fault(kind="host", host="primary", mode="up")
    # A registered app asked with a wrong secret: token_fetch_failed.
    other = new_app_id()
    sim.control("/apps", {"app_id": other, "secret": new_secret()})
    wrong = Client(config(sim, other, secret), http=http)
    wrong.on(events.append)
    with pytest.raises(WxError) as e:
        wrong.call("oa", "GET", UI)
    assert e.value.kind == "credential_invalid"

    types = [ev["type"] for ev in events]
    for t in ("token_fetched", "retry_scheduled", "failover", "circuit_opened", "token_fetch_failed"):
        assert t in types, types
    records = wxcore_records(caplog)
    assert len(records) == len(events)
    for record, event in zip(records, events):
        assert record.wxcore_event == event
        assert record.levelno == LEVELS[event["level"]]
        message = record.getMessage()
        assert message.startswith(event["type"] + " ")
        assert "app" not in event or f" app={event['app']}" in message
    level = {r.wxcore_event["type"]: r.levelno for r in records}
    assert level["retry_scheduled"] == logging.DEBUG
    assert level["token_fetched"] == logging.INFO
    assert level["circuit_opened"] == logging.WARNING
    assert level["token_fetch_failed"] == logging.ERROR
    fetched = next(r.getMessage() for r in records if r.wxcore_event["type"] == "token_fetched")
    assert fetched.startswith("token_fetched app=oa ") and " source=http" in fetched
    assert f"expires_at_ms={events[0]['expires_at_ms']}" in fetched
    failed = next(r.getMessage() for r in records if r.wxcore_event["type"] == "token_fetch_failed")
    assert failed == "token_fetch_failed app=oa code=40125 kind=credential_invalid"
    assert_no_secret(caplog.text + "".join(r.getMessage() for r in records), [secret, *http.issued], "the log")
    client.close()


def test_async_client_logs_events_and_a_listeners_failure_costs_nothing(sim, caplog):
    caplog.set_level(logging.INFO, logger="wxcore")
    app, secret = new_app_id(), new_secret()

    def broken(event):
        raise RuntimeError("listener bug")

    async def main():
        async with AsyncClient(config(sim, app, secret)) as client:
            client.on(broken)
            sim.control("/fault", {"kind": "invalidate", "app": app})
            await client.call("oa", "GET", UI, query={"openid": "o1"})
            sim.control("/fault", {"kind": "invalidate", "app": app})
            return await client.call("oa", "GET", UI, query={"openid": "o2"})

    assert asyncio.run(main())["openid"] == "o2"
    logged = [(r.levelname, r.getMessage().split(" ")[0]) for r in wxcore_records(caplog) if hasattr(r, "wxcore_event")]
    assert logged == [("INFO", "token_fetched"), ("WARNING", "token_invalidated"), ("INFO", "token_fetched")]
    assert secret not in caplog.text


def test_below_info_nothing_is_formatted(sim, caplog):
    caplog.set_level(logging.WARNING, logger="wxcore")
    client = Client(config(sim, new_app_id(), new_secret()))
    client.call("oa", "GET", UI, query={"openid": "o1"})
    assert wxcore_records(caplog) == []  # token_fetched is INFO
    client.close()


class Blackhole:
    """A loopback port whose connects hang: it listens with a backlog of
    one, taken by a connection of its own, and never accepts, so the kernel
    drops every further SYN (what a firewalled host looks like)."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(0)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.filler = socket.create_connection(self.server.getsockname(), timeout=2)

    def close(self):
        self.filler.close()
        self.server.close()


@pytest.fixture
def blackhole():
    b = Blackhole()
    try:
        yield b
    finally:
        b.close()


def test_transport_kinds():
    assert transport_kind(ConnectTimeout()) == "connect_timeout"
    assert transport_kind(TimeoutError()) == "timeout"
    assert transport_kind(socket.timeout()) == "timeout"
    assert transport_kind(socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")) == "dns"
    assert transport_kind(socket.gaierror(socket.EAI_NONAME, "Name or service not known")) == "dns"
    assert transport_kind(ConnectionRefusedError()) == "connect"
    assert transport_kind(ConnectionResetError()) == "reset"


@pytest.mark.parametrize("http", [PooledHttp(), urllib_http], ids=["pooled", "urllib"])
def test_a_connect_that_hangs_is_a_connect_timeout(blackhole, http):
    start = time.monotonic()
    with pytest.raises(ConnectTimeout):
        http("GET", blackhole.url + "/x", {}, None, 0.3)
    assert time.monotonic() - start < 2


def test_a_request_that_hangs_after_connecting_stays_a_request_timeout(sim):
    sim.fault(kind="host", host="primary", mode="stall")
    try:
        with pytest.raises(TimeoutError) as e:
            PooledHttp()("GET", sim.primary + "/cgi-bin/user/info", {}, None, 0.3)
        assert not isinstance(e.value, ConnectTimeout)
    finally:
        sim.fault(kind="host", host="primary", mode="up")


def static_config(url):
    # A result-style app with its token in the config: the first request is the call itself.
    return {"apps": [{"id": "res", "platform": "result", "base_url": url, "app_id": "AK", "secret": "TID",
                      "token_placement": {"in": "header", "name": "token_id"}}],
            "retry": {"max_attempts": 1}, "timeout_ms": 300}


def assert_connect_timeout(error, status):
    assert (error.kind, error.code) == ("transport", "connect_timeout")
    (alert,) = status["alerts"]
    assert alert["category"] == "connect_timeout"
    assert alert["sample"]["api"] == "/api/x"


def test_client_reports_a_connect_timeout(blackhole):
    client = Client(static_config(blackhole.url))
    with pytest.raises(WxError) as e:
        client.call("res", "POST", "/api/x", json={})
    assert_connect_timeout(e.value, client.status())
    client.close()


def test_async_client_reports_a_connect_timeout(blackhole):
    async def main():
        async with AsyncClient(static_config(blackhole.url)) as client:
            with pytest.raises(WxError) as e:
                await client.call("res", "POST", "/api/x", json={})
            return e.value, client.status()

    assert_connect_timeout(*asyncio.run(main()))
