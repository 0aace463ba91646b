"""A caller that gives up withdraws its call (the engine's `cancel`), and a
call's own deadline bounds it: in both drivers, over an in-process transport."""

import asyncio
import json
import time

import pytest

from wxcore import AsyncClient, Client, WxError

CONFIG = {"apps": [{"id": "oa", "platform": "wechat-oa", "app_id": "wxA", "secret": "SECRET"}],
          "retry": {"jitter": False, "base_delay_ms": 1, "max_delay_ms": 2}}
JSON = {"Content-Type": "application/json"}


def test_a_keyboard_interrupt_withdraws_the_call_so_it_is_never_sent():
    seen = []
    interrupt = [True]

    def http(method, url, headers, body, timeout_s):
        seen.append(url)
        if "stable_token" in url:
            if interrupt:
                interrupt.pop()
                raise KeyboardInterrupt  # Ctrl-C while the token is fetched
            return 200, JSON, json.dumps({"access_token": "T1", "expires_in": 7200}).encode()
        return 200, JSON, json.dumps({"url": url}).encode()

    client = Client(CONFIG, http=http)
    with pytest.raises(KeyboardInterrupt):
        client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": "first"})
    out = client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": "second"})
    assert out["url"].endswith("openid=second")
    calls = [u for u in seen if "/user/info" in u]
    assert calls == [out["url"]], seen  # the interrupted call never went out
    assert not client._done and not client._abandoned  # nothing left behind


def test_a_calls_own_timeout_ms_ends_it_with_timeout():
    def http(method, url, headers, body, timeout_s):
        if "stable_token" in url:
            time.sleep(0.4)  # slower than the call may take
            return 200, JSON, json.dumps({"access_token": "T1", "expires_in": 7200}).encode()
        return 200, JSON, b"{}"

    client = Client(CONFIG, http=http)
    with pytest.raises(WxError) as e:
        client.call("oa", "GET", "/cgi-bin/user/info", timeout_ms=100)
    assert e.value.kind == "timeout" and e.value.code == "token"
    # The fetch it waited for was still adopted: the next call needs none.
    assert client.call("oa", "GET", "/cgi-bin/user/info") == {}


def test_cancelling_an_async_call_withdraws_it_and_the_token_still_serves_the_next():
    seen = []

    async def main():
        release = asyncio.Event()

        async def http(method, url, headers, body, timeout_s):
            seen.append(url)
            if "stable_token" in url:
                await release.wait()
                return 200, JSON, json.dumps({"access_token": "T1", "expires_in": 7200}).encode()
            return 200, JSON, json.dumps({"url": url}).encode()

        client = AsyncClient(CONFIG, http=http)
        first = asyncio.ensure_future(client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": "first"}))
        await asyncio.sleep(0.05)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        release.set()
        return await client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": "second"})

    out = asyncio.run(main())
    assert out["url"].endswith("openid=second")
    assert [u for u in seen if "/user/info" in u] == [out["url"]]
    assert sum("stable_token" in u for u in seen) == 1
