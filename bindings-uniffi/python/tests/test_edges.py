"""Issue 12, hardening at the edges: forged URL checks, plaintexts that are
not one message, nested events, non-UTF-8 bodies (tests/vectors/callback-edges.json,
shared with every language); and the drivers over real loopback HTTP: no
secret in the logs, no redirect followed, total deadlines, far timers, and
every request answered whatever escapes the transport."""

import asyncio
import base64
import json
import logging
import os
import threading
import time

import pytest

import wxcore._client as client_mod
from wxcore import AsyncClient, CallbackCrypto, Client, WxError

from sim import HttpServer as Server  # noqa: E402

EDGES = json.load(open(os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests", "vectors",
                                    "callback-edges.json"), encoding="utf-8"))
R = EDGES["receiver"]


def receiver(**kw):
    return CallbackCrypto(R["token"], R["encoding_aes_key"], R["receive_id"], **kw)


# ---- callbacks ----

@pytest.mark.parametrize("forged", EDGES["forged_url_checks"], ids=lambda f: f["name"])
def test_forged_url_check_is_refused(forged):
    wecom = receiver(url_check="msg_signature")
    observed = EDGES["observed_url_check"]
    assert wecom.handle_request("GET", observed["query"]).echo == observed["echo"]
    receivers = [wecom] + ([receiver(), receiver(url_check="signature")] if forged.get("any_receiver") else [])
    for c in receivers:
        with pytest.raises(WxError) as e:
            c.handle_request("GET", forged["query"])
        assert (e.value.kind, e.value.reason) == ("signature_invalid", "bad_signature")
    q = forged["query"]
    param = "msg_signature" if "msg_signature" in q else "signature"
    with pytest.raises(WxError) as e:
        wecom.verify_url(q[param], q["timestamp"], q["nonce"], q["echostr"])
    assert e.value.reason == "bad_signature"
    with pytest.raises(WxError):
        receiver().verify_url(q[param], q["timestamp"], q["nonce"], q["echostr"], param=param) \
            if param == "msg_signature" else wecom.verify_url(q[param], q["timestamp"], q["nonce"], q["echostr"],
                                                              param=param)


def test_url_check_name_is_checked_by_the_core():
    with pytest.raises(WxError) as e:
        receiver(url_check="sometimes")
    assert (e.value.kind, e.value.reason) == ("config", "invalid_url_check")


def _post(c, plaintext):
    reply = c.encrypt(plaintext, "1700000000", "n1", b"\x05" * 16)
    sig = reply.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    return {"msg_signature": sig, "timestamp": "1700000000", "nonce": "n1"}, reply


@pytest.mark.parametrize("plaintext", EDGES["not_one_message"])
def test_plaintext_that_is_not_one_message_is_malformed(plaintext):
    c = receiver()
    q, body = _post(c, plaintext)
    for call in (lambda: c.decrypt_message(q["msg_signature"], q["timestamp"], q["nonce"], body),
                 lambda: c.handle_request("POST", q, body)):
        with pytest.raises(WxError) as e:
            call()
        assert (e.value.kind, e.value.reason) == ("invalid_request", "malformed_body")


@pytest.mark.parametrize("case", EDGES["nested_messages"], ids=lambda m: m["name"])
def test_nested_elements_are_kept(case):
    c = receiver()
    q, body = _post(c, case["plaintext"])
    m = c.decrypt_message(q["msg_signature"], q["timestamp"], q["nonce"], body)
    assert dict(m) == case["message"]
    assert dict(c.handle_request("POST", q, body).message) == case["message"]


def test_scancode_and_location_events_carry_their_data():
    c = receiver()
    by_event = {m["message"].get("Event"): m for m in EDGES["nested_messages"]}
    q, body = _post(c, by_event["scancode_waitmsg"]["plaintext"])
    m = c.handle_request("POST", q, body).message
    assert m.event == "scancode_waitmsg" and m["ScanCodeInfo"] == {"ScanType": "qrcode", "ScanResult": "2"}
    q, body = _post(c, by_event["location_select"]["plaintext"])
    m = c.handle_request("POST", q, body).message
    assert m["SendLocationInfo"]["Label"] == " 广州市海珠区客村艺苑路 106号"
    q, body = _post(c, by_event["pic_photo_or_album"]["plaintext"])
    items = c.decrypt_message(q["msg_signature"], q["timestamp"], q["nonce"], body)["SendPicsInfo"]["PicList"]["item"]
    assert [i["PicMd5Sum"] for i in items] == ["5a75aaca956d97be686719218f275c6b", "1b5f7c23b5bf75682a53e7b6d163e185"]


def test_a_body_that_is_not_utf8_raises_wx_error():
    c = receiver()
    raw = base64.b64decode(EDGES["not_utf8_body"])
    q = {"msg_signature": "0" * 40, "timestamp": "1", "nonce": "n"}
    calls = [lambda: c.handle_request("POST", q, raw),
             lambda: c.decrypt_message(q["msg_signature"], "1", "n", raw),
             lambda: c.decrypt(q["msg_signature"], "1", "n", raw),
             # What a WSGI framework hands over for such bytes: surrogate escapes.
             lambda: c.handle_request("POST", q, raw.decode("utf-8", "surrogateescape")),
             lambda: c.handle_request("GET", {"signature": "\udcff", "timestamp": "1", "nonce": "n",
                                              "echostr": "e"}),
             lambda: c.verify_url("\udcff", "1", "n", "e")]
    for call in calls:
        with pytest.raises(WxError):
            call()


# ---- drivers over loopback HTTP ----

def answer(h, obj, status=200, headers=()):
    data = json.dumps(obj).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    for k, v in headers:
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(data)


SECRET_OA = "OA-APPSECRET-5f1e"
SECRET_WECOM = "WECOM-CORPSECRET-9c2d"
TOKEN = "ACCESS-TOKEN-7a7a"


def platform(h):
    if h.path.startswith("/cgi-bin/gettoken") or h.path.startswith("/cgi-bin/token"):
        answer(h, {"errcode": 0, "access_token": TOKEN, "expires_in": 7200})
    else:
        answer(h, {"errcode": 0, "errmsg": "ok"})


def test_async_client_logs_no_secret_or_token_at_debug(caplog):
    server = Server(platform)
    config = {"apps": [
        {"id": "hr", "platform": "wecom", "corp_id": "wwCORP", "agent_id": "1000002", "secret": SECRET_WECOM,
         "hosts": [server.url]},
        {"id": "oa", "platform": "wechat-oa", "app_id": "wxAPP", "secret": SECRET_OA, "token_endpoint": "classic",
         "hosts": [server.url]}]}

    async def main():
        client = AsyncClient(config)
        try:
            await client.call("hr", "GET", "/cgi-bin/user/get", query={"userid": "u1"})
            await client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": "o1"})
        finally:
            await client.aclose()

    caplog.set_level(logging.DEBUG)
    try:
        asyncio.run(main())
    finally:
        server.close()
    assert any(r.name == "httpx" for r in caplog.records), "httpx logged no request: the test proves nothing"
    text = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    for secret in (SECRET_OA, SECRET_WECOM, TOKEN):
        assert secret not in text
    assert "access_token=<redacted>" in text


def redirecting(target):
    def handle(h):
        h.send_response(302)
        h.send_header("Location", target + "/stolen")
        h.send_header("Content-Length", "0")
        h.end_headers()
    return handle


RESULT_APP = {"id": "res", "platform": "result", "app_id": "ACCOUNT", "secret": "TOKEN-ID-SECRET",
              "token_placement": {"in": "header", "name": "token_id", "extra": [["account_key", "{app_id}"]]}}


def test_a_302_is_an_answer_never_followed():
    thief = Server(lambda h: answer(h, {"result": 0}))
    api = Server(redirecting(thief.url))
    config = {"apps": [dict(RESULT_APP, base_url=api.url)], "retry": {"max_attempts": 1}}
    try:
        with pytest.raises(WxError) as e:
            Client(config).call("res", "GET", "/x")
        assert (e.value.kind, e.value.http_status) != ("transport", None)
        assert e.value.http_status == 302

        async def main():
            c = AsyncClient(config)
            try:
                with pytest.raises(WxError):
                    await c.call("res", "GET", "/x")
            finally:
                await c.aclose()
        asyncio.run(main())
        assert len(api.paths) == 2
        assert thief.paths == []
    finally:
        api.close()
        thief.close()


def trickle(h):
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", "40")
    h.end_headers()
    h.wfile.flush()
    try:
        for _ in range(40):
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(1)
    except OSError:
        pass


@pytest.mark.parametrize("driver", ["pooled", "httpx"])
def test_a_trickled_body_ends_at_the_calls_deadline(driver):
    server = Server(trickle)
    config = {"apps": [dict(RESULT_APP, base_url=server.url)], "retry": {"max_attempts": 1}, "timeout_ms": 1000}
    start = time.monotonic()
    try:
        with pytest.raises(WxError) as e:
            if driver == "pooled":
                Client(config).call("res", "GET", "/slow")
            else:
                async def main():
                    c = AsyncClient(config)
                    try:
                        await c.call("res", "GET", "/slow")
                    finally:
                        await c.aclose()
                asyncio.run(main())
        elapsed = time.monotonic() - start
        assert e.value.kind == "transport"
        assert elapsed < 1.0 + 0.75, elapsed
    finally:
        server.close()


def test_a_timer_beyond_timeout_max_does_not_overflow_the_wait():
    # A token whose life is beyond threading.TIMEOUT_MAX (about 292 years):
    # the engine's next wake-up is that far off while this thread waits for
    # another thread's request (one request at a time), and the wait is clamped.
    release = threading.Event()
    far = int(threading.TIMEOUT_MAX) * 10

    def handle(h):
        if h.path.startswith("/cgi-bin/gettoken"):
            return answer(h, {"errcode": 0, "access_token": "T", "expires_in": far})
        if h.path.startswith("/slow"):
            release.wait(5)
        answer(h, {"errcode": 0, "errmsg": "ok"})

    server = Server(handle)
    c = Client({"apps": [{"id": "hr", "platform": "wecom", "corp_id": "ww", "agent_id": "1", "secret": "s",
                          "hosts": [server.url]}], "rate_limit": {"concurrency": 1}})
    try:
        c.call("hr", "GET", "/fast")
        results, errors = [], []

        def call(path):
            try:
                results.append(c.call("hr", "GET", path))
            except BaseException as e:  # noqa: BLE001 - recorded for the assertion
                errors.append(e)

        first = threading.Thread(target=call, args=("/slow",))
        first.start()
        while not server.paths or not server.paths[-1].startswith("/slow"):
            time.sleep(0.01)
        second = threading.Thread(target=call, args=("/after",))
        second.start()
        time.sleep(0.2)
        release.set()
        first.join(5)
        second.join(5)
        assert errors == []
        assert results == [{"errcode": 0, "errmsg": "ok"}] * 2
    finally:
        release.set()
        server.close()


def test_keyboard_interrupt_in_http_then_a_call_succeeds():
    state = {"n": 0}
    server = Server(platform)

    def http(method, url, headers, body, timeout_s):
        state["n"] += 1
        if state["n"] == 1:
            raise KeyboardInterrupt
        return client_mod.urllib_http(method, url, headers, body, timeout_s)

    c = Client({"apps": [{"id": "hr", "platform": "wecom", "corp_id": "ww", "agent_id": "1", "secret": "s",
                          "hosts": [server.url]}]}, http=http)
    try:
        with pytest.raises(KeyboardInterrupt):
            c.call("hr", "GET", "/cgi-bin/user/get", query={"userid": "u"})
        assert c.call("hr", "GET", "/cgi-bin/user/get", query={"userid": "u"}) == {"errcode": 0, "errmsg": "ok"}
    finally:
        server.close()
