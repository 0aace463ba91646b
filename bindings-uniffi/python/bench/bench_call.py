"""Per-call overhead of the Python binding with an in-process transport (no
network): the Client driver over a canned http callable, and the bare
engine cycle.

    python bindings-uniffi/python/bench/bench_call.py
"""

import json
import os
import time

from wxcore import Client, Engine

N = int(os.environ.get("N", "5000"))
REPLY = json.dumps({"subscribe": 1, "openid": "o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "nickname": "Band", "sex": 1,
                    "language": "zh_CN", "city": "Guangzhou", "province": "Guangdong", "country": "China",
                    "headimgurl": "http://thirdwx.qlogo.cn/mmopen/x/0", "tagid_list": [128, 2], "remark": "",
                    "subscribe_scene": "ADD_SCENE_QR_CODE", "pad": "x" * 600}).encode()
TOKEN = json.dumps({"access_token": "TOKEN", "expires_in": 7200}).encode()
CONFIG = {"apps": [{"id": "oa", "platform": "wechat-oa", "app_id": "wx123", "secret": "s"}], "quota": {"mode": "off"}}
HEADERS = {"Content-Type": "application/json"}


ROUNDS = 7


def measure(name, one_call):
    """Median of ROUNDS rounds of N calls each (this VM's timings are noisy)."""
    for _ in range(2000):
        one_call()
    per_call = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        for _ in range(N):
            one_call()
        per_call.append((time.perf_counter() - t0) / N * 1e6)
    per_call.sort()
    med = per_call[len(per_call) // 2]
    print(f"{name}: median {med:.2f} µs per call (min {per_call[0]:.2f}, max {per_call[-1]:.2f}; {ROUNDS} x {N} calls)")
    return med


def bench_client():
    def http(method, url, headers, body, timeout_s):
        return 200, HEADERS, TOKEN if "stable_token" in url else REPLY

    c = Client(CONFIG, http=http)
    return measure("python Client.call (driver + canned http)",
                   lambda: c.call("oa", "GET", "/cgi-bin/user/info", query={"openid": "o1"}))


def bench_engine():
    e = Engine(json.dumps(CONFIG), 1)
    spec = json.dumps({"app": "oa", "method": "GET", "path": "/cgi-bin/user/info", "query": [["openid", "o1"]]}).encode()
    headers = json.dumps(HEADERS).encode()

    def cycle():
        outputs = json.loads(e.submit_poll(spec, 1))["outputs"]
        while True:
            nxt = []
            for o in outputs:
                if "send" in o:
                    s = o["send"]
                    body = TOKEN if "stable_token" in s["url"] else REPLY
                    nxt.extend(json.loads(e.respond_poll(s["id"], 200, headers, body, 1))["outputs"])
                elif "done" in o:
                    return o["done"]["json"]
            outputs = nxt

    return measure("python Engine cycle (submit_poll, respond_poll; reply parsed)", cycle)




def bench_wechatpy():
    """The same call through wechatpy, its requests session given a canned adapter."""
    import requests
    from wechatpy import WeChatClient

    class Canned(requests.adapters.BaseAdapter):
        def send(self, request, **kwargs):
            r = requests.Response()
            r.status_code = 200
            r._content = REPLY
            r.headers["Content-Type"] = "application/json"
            r.encoding = "utf-8"
            r.url = request.url
            r.request = request
            return r

        def close(self):
            pass

    client = WeChatClient("wx123", "s", access_token="TOKEN")
    client._http.mount("https://", Canned())
    return measure("wechatpy WeChatClient.user.get (requests + canned adapter)", lambda: client.user.get("o1"))


if __name__ == "__main__":
    ours = bench_client()
    bench_engine()
    try:
        peer = bench_wechatpy()
    except ImportError:
        print("wechatpy not installed: skipped (make bench-bindings installs it)")
    else:
        print(f"ratio: wxcore Client.call is {peer / ours:.1f}x faster than wechatpy")
