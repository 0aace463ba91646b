"""Per-call overhead of the Python binding with an in-process transport (no
network): the Client driver over a canned http callable, and the bare
engine cycle.

    python bindings-uniffi/python/bench/bench_call.py
"""

import json
import os
import time

from wxcore import Client, Engine

N = int(os.environ.get("N", "20000"))
REPLY = json.dumps({"subscribe": 1, "openid": "o6_bmjrPTlm6_2sgVt7hMZOPfL2M", "nickname": "Band", "sex": 1,
                    "language": "zh_CN", "city": "Guangzhou", "province": "Guangdong", "country": "China",
                    "headimgurl": "http://thirdwx.qlogo.cn/mmopen/x/0", "tagid_list": [128, 2], "remark": "",
                    "subscribe_scene": "ADD_SCENE_QR_CODE", "pad": "x" * 600}).encode()
TOKEN = json.dumps({"access_token": "TOKEN", "expires_in": 7200}).encode()
CONFIG = {"apps": [{"id": "oa", "platform": "wechat-oa", "app_id": "wx123", "secret": "s"}], "quota": {"mode": "off"}}
HEADERS = {"Content-Type": "application/json"}


def report(name, t0, n):
    us = (time.perf_counter() - t0) / n * 1e6
    print(f"{name}: {us:.2f} µs per call ({n} calls)")
    return us


def bench_client():
    def http(method, url, headers, body, timeout_s):
        return 200, HEADERS, TOKEN if "stable_token" in url else REPLY

    c = Client(CONFIG, http=http)
    for _ in range(2000):
        c.call("oa", "GET", "/cgi-bin/user/info", query={"openid": "o1"})
    t0 = time.perf_counter()
    for _ in range(N):
        c.call("oa", "GET", "/cgi-bin/user/info", query={"openid": "o1"})
    return report("python Client.call (driver + canned http)", t0, N)


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

    for _ in range(5000):
        cycle()
    t0 = time.perf_counter()
    for _ in range(N):
        cycle()
    return report("python Engine cycle (submit_poll, respond_poll; reply parsed)", t0, N)


if __name__ == "__main__":
    bench_client()
    bench_engine()
