"""The synchronous and asyncio drivers over an in-process transport."""

import asyncio
import base64
import json
import re
import socket

import pytest

import wxcore
from wxcore import Client, WxError

CONFIG = {"apps": [{"id": "oa", "platform": "wechat-oa", "app_id": "wxA", "secret": "SECRET"}],
          "retry": {"jitter": False, "base_delay_ms": 1, "max_delay_ms": 2}}


class FakePlatform:
    """Answers like the OA platform; records what it was asked."""

    def __init__(self):
        self.requests = []
        self.token = 0
        self.fail_next = []

    def __call__(self, method, url, headers, body, timeout_s):
        self.requests.append((method, url, headers, body))
        if self.fail_next:
            f = self.fail_next.pop(0)
            if isinstance(f, BaseException):
                raise f
            return 200, {"Content-Type": "application/json"}, json.dumps(f).encode()
        if "/cgi-bin/stable_token" in url:
            self.token += 1
            return 200, {"Content-Type": "application/json"}, json.dumps({"access_token": f"T{self.token}", "expires_in": 7200}).encode()
        if "/cgi-bin/media/get" in url:
            return 200, {"Content-Type": "image/jpeg"}, b"\xff\xd8\xff\xe0JPEG"
        return 200, {"Content-Type": "application/json"}, json.dumps({"url": url, "body": body.decode() if body else None}).encode()


def test_call_fetches_a_token_once_and_returns_parsed_json():
    http = FakePlatform()
    client = Client(CONFIG, http=http)
    a = client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": "o 1"})
    b = client.call("oa", "GET", "/cgi-bin/user/info", query=[("openid", "o2")])
    assert a["url"] == "https://api.weixin.qq.com/cgi-bin/user/info?access_token=T1&openid=o%201"
    assert b["url"].endswith("openid=o2")
    assert sum("stable_token" in r[1] for r in http.requests) == 1


def test_json_body_and_full_reply():
    http = FakePlatform()
    client = Client(CONFIG, http=http)
    reply = client.call("oa", "POST", "/cgi-bin/message/custom/send", json={"touser": "o1", "text": "你好"}, full=True)
    assert reply.status == 200
    assert json.loads(reply.data["body"]) == {"touser": "o1", "text": "你好"}
    assert http.requests[-1][2]["content-type"] == "application/json"


def test_binary_reply_is_bytes():
    client = Client(CONFIG, http=FakePlatform())
    assert client.call("oa", "GET", "/cgi-bin/media/get", query={"media_id": "M1"}) == b"\xff\xd8\xff\xe0JPEG"


def test_errors_raise_wxerror_with_kind_code_and_retry_after():
    http = FakePlatform()
    client = Client(CONFIG, http=http)
    client.call("oa", "GET", "/cgi-bin/user/info")
    http.fail_next = [{"errcode": 45009, "errmsg": "reach max api daily quota limit"}]
    with pytest.raises(WxError) as e:
        client.call("oa", "POST", "/cgi-bin/message/mass/sendall", json={})
    assert e.value.kind == "quota_exhausted" and e.value.code == 45009
    assert e.value.retry_after_ms > 0 and e.value.app == "oa"
    with pytest.raises(WxError) as e2:  # refused locally now: no request
        n = len(http.requests)
        client.call("oa", "POST", "/cgi-bin/message/mass/sendall", json={})
    assert e2.value.kind == "quota_exhausted" and len(http.requests) == n


def test_invalid_token_is_refreshed_without_the_caller_noticing():
    http = FakePlatform()
    events = []
    client = Client(CONFIG, http=http)
    client.on(events.append)
    client.call("oa", "GET", "/cgi-bin/user/info")
    http.fail_next = [{"errcode": 40001, "errmsg": "invalid credential"}]
    out = client.call("oa", "GET", "/cgi-bin/user/info")
    assert "access_token=T2" in out["url"]
    assert [e["type"] for e in events].count("token_invalidated") == 1


def test_busy_get_is_retried_after_the_engine_backoff():
    http = FakePlatform()
    client = Client(CONFIG, http=http)
    client.call("oa", "GET", "/cgi-bin/user/info")
    http.fail_next = [{"errcode": -1, "errmsg": "busy"}]
    assert client.call("oa", "GET", "/cgi-bin/user/info")["url"]


def test_transport_errors_map_to_engine_kinds_and_fail_over():
    http = FakePlatform()
    client = Client(CONFIG, http=http)
    client.call("oa", "GET", "/cgi-bin/user/info")
    http.fail_next = [ConnectionRefusedError(111, "refused")]
    out = client.call("oa", "POST", "/cgi-bin/message/custom/send", json={})
    assert out["url"].startswith("https://api2.weixin.qq.com/")
    http.fail_next = [socket.timeout("timed out")]
    with pytest.raises(WxError) as e:
        client.call("oa", "POST", "/cgi-bin/message/custom/send", json={})
    assert e.value.kind == "transport" and e.value.code == "timeout"


def test_bad_config_raises_wxerror_naming_the_field():
    with pytest.raises(WxError) as e:
        Client({"apps": [{"id": "j", "platform": "jing", "app_id": "a", "secret": "s", "base_url": "https://j"}]})
    assert e.value.kind == "config" and e.value.field == "apps[0].token_path"


def test_unknown_app_is_a_config_error():
    with pytest.raises(WxError) as e:
        Client(CONFIG, http=FakePlatform()).call("nope", "GET", "/x")
    assert e.value.kind == "config"


def test_kinds_come_from_the_core():
    assert "token_invalid" in wxcore.KINDS and "timeout" in wxcore.KINDS and len(wxcore.KINDS) == 22


def test_async_client_runs_concurrent_calls_with_one_token_fetch():
    pytest.importorskip("httpx")
    from wxcore import AsyncClient

    sync = FakePlatform()

    async def http(method, url, headers, body, timeout_s):
        await asyncio.sleep(0.01)
        return sync(method, url, headers, body, timeout_s)

    async def main():
        client = AsyncClient(CONFIG, http=http)
        results = await asyncio.gather(*[client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": f"o{i}"}) for i in range(20)])
        return results

    results = asyncio.run(main())
    assert [r["url"].rsplit("=", 1)[1] for r in results] == [f"o{i}" for i in range(20)]
    assert sum("stable_token" in r[1] for r in sync.requests) == 1


def test_a_throwing_listener_or_transport_bug_never_hangs_a_call():
    http = FakePlatform()
    client = Client(CONFIG, http=http)

    def bad_listener(event):
        raise RuntimeError("listener bug")

    client.on(bad_listener)
    assert client.call("oa", "GET", "/cgi-bin/user/info")["url"]
    http.fail_next = [ValueError("not an OSError")]
    with pytest.raises(WxError) as e:
        client.call("oa", "POST", "/cgi-bin/message/custom/send", json={})
    assert (e.value.kind, e.value.code) == ("transport", "reset")
    assert client.call("oa", "GET", "/cgi-bin/user/info")["url"]


def test_a_store_returning_bytes_degrades_instead_of_hanging():
    class BytesStore:
        def execute(self, op):
            return {"value": b"not json-serialisable"}

    events = []
    config = dict(CONFIG, store="external", instance_id="p1")
    client = Client(config, http=FakePlatform(), store=BytesStore())
    client.on(events.append)
    assert client.call("oa", "GET", "/cgi-bin/user/info")["url"]
    assert any(e["type"] == "store_unavailable" for e in events)


def test_threads_overlap_their_requests_and_share_one_token_fetch():
    import threading
    import time

    class SlowPlatform(FakePlatform):
        def __init__(self):
            super().__init__()
            self.active = self.peak = 0
            self.guard = threading.Lock()

        def __call__(self, *args):
            with self.guard:
                self.active += 1
                self.peak = max(self.peak, self.active)
            time.sleep(0.02)
            try:
                return super().__call__(*args)
            finally:
                with self.guard:
                    self.active -= 1

    http = SlowPlatform()
    client = Client(CONFIG, http=http)
    results = []
    threads = [threading.Thread(target=lambda i=i: results.append(
        client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": f"o{i}"})["url"])) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.split("openid=")[1] for r in results) == sorted(f"o{i}" for i in range(8))
    assert sum("stable_token" in r[1] for r in http.requests) == 1
    assert http.peak > 1, "requests of different threads did not overlap"


def test_a_listener_may_call_the_client_from_inside_the_loop():
    client = Client(CONFIG, http=FakePlatform())
    inner = []

    def listener(event):
        if event["type"] == "token_fetched" and not inner:
            inner.append(client.call("oa", "GET", "/cgi-bin/tags/get")["url"])

    client.on(listener)
    outer = client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": "o1"})
    assert outer["url"].endswith("openid=o1") and inner[0].endswith("/cgi-bin/tags/get?access_token=T1")


def test_a_listener_may_wait_on_a_call_made_by_another_thread():
    from concurrent.futures import ThreadPoolExecutor

    client = Client(CONFIG, http=FakePlatform())
    results = []

    def listener(event):
        if event["type"] == "token_fetched" and not results:
            with ThreadPoolExecutor(1) as pool:  # listeners run outside the client's lock
                results.append(pool.submit(client.call, "oa", "GET", "/cgi-bin/tags/get").result(timeout=5)["url"])

    client.on(listener)
    client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": "o1"})
    assert results and results[0].endswith("/cgi-bin/tags/get?access_token=T1")


def test_clients_draw_fresh_entropy_even_over_a_configured_value():
    from wxcore._client import with_entropy

    a = json.loads(with_entropy({**CONFIG, "entropy": "c2hhcmVkIGJ5IGV2ZXJ5IHByb2Nlc3MgYW5kIGZpbGU="}))
    b = json.loads(with_entropy(CONFIG))
    assert a["entropy"] != "c2hhcmVkIGJ5IGV2ZXJ5IHByb2Nlc3MgYW5kIGZpbGU=" and a["entropy"] != b["entropy"]
    assert len(base64.b64decode(a["entropy"])) == 32


def test_bodies_and_replies_past_the_native_buffer_come_through_whole():
    """The driver's output buffer holds 16 KiB: a larger frame is copied out
    of Rust's memory and freed. Bodies each way on both sides of it, byte
    for byte, with headers, in the sync and the asyncio driver."""
    sizes = [0, 100, 17_000, 2_500_000]

    def pattern(n):
        return bytes((i * 31 + 7) & 0xFF for i in range(n)) if n < 100_000 else (bytes(range(256)) * (n // 256 + 1))[:n]

    seen = []

    def http(method, url, headers, body, timeout_s):
        if "stable_token" in url:
            return 200, {"Content-Type": "application/json"}, b'{"access_token":"T1","expires_in":7200}'
        seen.append(body)
        n = int(re.search(r"[?&]n=(\d+)", url).group(1))
        return 200, {"Content-Type": "application/octet-stream", "X-Size": str(n)}, pattern(n)

    async def ahttp(*args):
        return http(*args)

    c = Client(CONFIG, http=http)
    ac = wxcore.AsyncClient(CONFIG, http=ahttp)
    for up in sizes:
        for down in sizes:
            r = c.call("oa", "POST", "/cgi-bin/media/upload", query={"n": down}, body=pattern(up),
                       content_type="application/octet-stream", full=True)
            assert r.data == pattern(down) and {k.lower(): v for k, v in r.headers}["x-size"] == str(down)
            assert (seen[-1] or b"") == pattern(up)
            data = asyncio.run(ac.call("oa", "POST", "/cgi-bin/media/upload", query={"n": down}, body=pattern(up),
                                       content_type="application/octet-stream"))
            assert data == pattern(down) and (seen[-1] or b"") == pattern(up)
    assert c.call("oa", "GET", "/cgi-bin/media/get", query={"n": 5}) == pattern(5)
