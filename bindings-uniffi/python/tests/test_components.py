"""Third-party platform (open-platform component), end to end: the simulator
pushes encrypted component_verify_tickets over real HTTP to a callback URL
this test serves with ``Client.handle_push``; calls fetch the component token
with the pushed ticket, pushes never fetch one, and nothing secret shows."""

import io
import json
import logging
import time
import urllib.parse
import uuid

import pytest

from sim import HttpServer, Simulator, count
from wxcore import Client, WxError

CB_TOKEN = "cb-token-e2e"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
SECRET = "component-secret-e2e"
PRE = "/cgi-bin/component/api_create_preauthcode"


@pytest.fixture(scope="module")
def sim():
    s = Simulator()
    try:
        yield s
    finally:
        s.close()


def config(sim, appid):
    return {"apps": [{"id": "cp", "platform": "wechat-component", "app_id": appid, "secret": SECRET,
                      "callback": {"token": CB_TOKEN, "encoding_aes_key": AES_KEY},
                      "hosts": [sim.primary]}],
            "timeout_ms": 3000}


class PushEndpoint:
    """The component's authorization event URL: every request goes to
    ``client.handle_push`` and is answered with its reply (400 if refused)."""

    def __init__(self, client):
        self.client = client
        self.pushes = []
        self.refused = []

        def handle(h):
            body = h.rfile.read(int(h.headers.get("content-length") or 0))
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(h.path).query))
            try:
                push = client.handle_push("cp", h.command, query, body)
                self.pushes.append(push)
                status, reply = 200, push.reply.encode()
            except WxError as e:
                self.refused.append(e)
                status, reply = 400, b""
            h.send_response(status)
            h.send_header("content-type", "text/plain")
            h.send_header("content-length", str(len(reply)))
            h.end_headers()
            h.wfile.write(reply)

        self.server = HttpServer(handle)

    def close(self):
        self.server.close()


def wait_for(cond, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_pushed_tickets_feed_the_component_token_and_never_fetch_one(sim):
    appid = f"wxcp{uuid.uuid4().hex[:10]}"
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    logging.getLogger("wxcore").addHandler(handler)
    logging.getLogger("wxcore").setLevel(logging.DEBUG)
    events = []
    client = Client(config(sim, appid))
    client.on(events.append)
    endpoint = PushEndpoint(client)
    try:
        sim.control("/apps", {"app_id": appid, "secret": SECRET})
        sim.control("/component", {"component_appid": appid, "token": CB_TOKEN, "encoding_aes_key": AES_KEY,
                                   "url": endpoint.server.url + "/wechat/component", "period_ms": 100})
        wait_for(lambda: len(endpoint.pushes) >= 1)
        assert endpoint.pushes[0].info_type == "component_verify_ticket"
        assert endpoint.pushes[0].ticket_kept is True

        first = client.call("cp", "POST", PRE, json={"component_appid": appid})
        assert first["expires_in"] == 600 and first["pre_auth_code"].startswith("preauthcode@@@")

        # Pushes keep coming, each a newer ticket; none of them fetches a token.
        seen = len(endpoint.pushes)
        wait_for(lambda: len(endpoint.pushes) >= seen + 5)
        for _ in range(3):
            client.call("cp", "POST", PRE, json={"component_appid": appid})
        counters = sim.counters()
        assert count(counters, "token_fetches", appid) == 1
        assert count(counters, "calls", appid, PRE) == 4
        report = sim.control(f"/component?component_appid={appid}")
        assert report["pushes_answered"] == report["pushes_sent"] >= seen + 5
        assert endpoint.refused == []

        status = client.status()["apps"][0]
        assert status["pushed_ticket"]["usable"] is True
        assert status["pushed_ticket"]["age_ms"] < 5_000

        text = "\n".join([log.getvalue(), json.dumps(events), json.dumps(client.status()), client.metrics(),
                          repr(endpoint.pushes)])
        assert "ticket_pushed" in text
        for secret in (SECRET, CB_TOKEN, AES_KEY, "ticket@@@", "ct_"):
            assert secret not in text, secret
    finally:
        logging.getLogger("wxcore").removeHandler(handler)
        endpoint.close()
        client.close()


def test_without_a_ticket_calls_fail_at_once_and_a_forged_push_changes_nothing(sim):
    appid = f"wxcp{uuid.uuid4().hex[:10]}"
    client = Client(config(sim, appid))
    try:
        with pytest.raises(WxError) as e:
            client.call("cp", "POST", PRE, json={"component_appid": appid})
        assert e.value.kind == "ticket_unavailable"
        assert count(sim.counters(), "token_fetches", appid) == 0

        # A push signed with another token is refused by name, and the engine still has no ticket.
        endpoint = PushEndpoint(client)
        try:
            sim.control("/component", {"component_appid": appid, "token": "not-our-token",
                                       "encoding_aes_key": AES_KEY, "url": endpoint.server.url + "/cb",
                                       "period_ms": 100})
            wait_for(lambda: len(endpoint.refused) >= 2)
            assert {r.reason for r in endpoint.refused} == {"bad_signature"}
            assert endpoint.pushes == []
            report = sim.control(f"/component?component_appid={appid}")
            assert report["pushes_answered"] == 0
            with pytest.raises(WxError) as e:
                client.call("cp", "POST", PRE, json={"component_appid": appid})
            assert e.value.kind == "ticket_unavailable"
            assert count(sim.counters(), "token_fetches", appid) == 0
        finally:
            endpoint.close()
    finally:
        client.close()


def test_a_wecom_suite_takes_its_suite_ticket_and_refetches_once_on_an_invalid_suite_token(sim):
    suite = f"wwsuite{uuid.uuid4().hex[:8]}"
    client = Client({"apps": [{"id": "suite", "platform": "wecom-suite", "app_id": suite, "secret": SECRET,
                               "callback": {"token": CB_TOKEN, "encoding_aes_key": AES_KEY},
                               "hosts": [sim.primary]}], "timeout_ms": 3000})
    pushes = []

    def handle(h):
        body = h.rfile.read(int(h.headers.get("content-length") or 0))
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(h.path).query))
        push = client.handle_push("suite", h.command, query, body)
        pushes.append(push)
        reply = push.reply.encode()
        h.send_response(200)
        h.send_header("content-length", str(len(reply)))
        h.end_headers()
        h.wfile.write(reply)

    server = HttpServer(handle)
    try:
        sim.control("/apps", {"app_id": suite, "secret": SECRET})
        sim.control("/suite", {"suite_id": suite, "token": CB_TOKEN, "encoding_aes_key": AES_KEY,
                               "url": server.url + "/wecom/suite", "period_ms": 100})
        wait_for(lambda: len(pushes) >= 1)
        assert (pushes[0].info_type, pushes[0].ticket_kept) == ("suite_ticket", True)
        first = client.call("suite", "GET", "/cgi-bin/service/get_pre_auth_code")
        assert first["expires_in"] == 1200
        # The platform drops the suite token early: 40082, one refetch with the held ticket, one resend.
        sim.fault(kind="invalidate", app=suite)
        again = client.call("suite", "GET", "/cgi-bin/service/get_pre_auth_code")
        assert again["pre_auth_code"] != first["pre_auth_code"]
        c = sim.counters()
        assert count(c, "token_fetches", suite) == 2
        assert count(c, "rejected", suite, "40082") == 1
    finally:
        server.close()
        client.close()


def test_the_async_client_takes_pushes_too(sim):
    """AsyncClient.handle_push: the push's reply, the ticket kept, and the
    first call fetching the component token with it over httpx."""
    import asyncio

    from wxcore import AsyncClient

    appid = f"wxcp{uuid.uuid4().hex[:10]}"
    captured = {}

    def handle(h):
        # The platform's push, captured as sent (real HTTP from the simulator).
        captured["query"] = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(h.path).query))
        captured["body"] = h.rfile.read(int(h.headers.get("content-length") or 0))
        h.send_response(200)
        h.send_header("content-length", "7")
        h.end_headers()
        h.wfile.write(b"success")

    server = HttpServer(handle)
    try:
        sim.control("/component", {"component_appid": appid, "token": CB_TOKEN, "encoding_aes_key": AES_KEY,
                                   "url": server.url + "/cb", "period_ms": 60_000})
        wait_for(lambda: "body" in captured)
    finally:
        server.close()

    async def main():
        async with AsyncClient(config(sim, appid)) as client:
            push = await client.handle_push("cp", "POST", captured["query"], captured["body"])
            assert (push.reply, push.info_type, push.ticket_kept) == ("success", "component_verify_ticket", True)
            again = await client.handle_push("cp", "POST", captured["query"], captured["body"])
            assert again.ticket_kept is False  # the same push again is not newer
            reply = await client.call("cp", "POST", PRE, json={"component_appid": appid})
            assert reply["expires_in"] == 600
            with pytest.raises(WxError) as e:
                await client.handle_push("cp", "POST", {**captured["query"], "nonce": "0"}, captured["body"])
            assert (e.value.kind, e.value.reason) == ("signature_invalid", "bad_signature")

    asyncio.run(main())
    assert count(sim.counters(), "token_fetches", appid) == 1
