"""A 20 MB media download and a 20 MB upload through the Python Client,
each in a fresh process: time, and peak RSS growth over the process's peak
after a warm-up call (the body itself is 20 MB; the goal is at most 2x it).

    python bindings-uniffi/python/bench/bench_big.py
"""

import json
import os
import resource
import subprocess
import sys
import time

SIZE = int(os.environ.get("SIZE", str(20 * 1024 * 1024)))
MIB = 1024 * 1024


def child(direction: str) -> None:
    from wxcore import Client

    state = {"download": None, "uploaded": 0}

    def http(method, url, headers, body, timeout_s):
        if "stable_token" in url:
            return 200, {"Content-Type": "application/json"}, b'{"access_token":"T","expires_in":7200}'
        if body:
            state["uploaded"] = len(body)
        if "/media/get" in url and state["download"] is not None:
            return 200, {"Content-Type": "image/jpeg"}, state["download"]
        return 200, {"Content-Type": "application/json"}, b'{"type":"image","media_id":"M","created_at":1}'

    client = Client({"apps": [{"id": "oa", "platform": "wechat-oa", "app_id": "wx1", "secret": "s"}],
                     "quota": {"mode": "off"}}, http=http)
    client.call("oa", "GET", "/cgi-bin/media/get", query={"media_id": "warm"})
    # The body exists before the measured part, as a file read or a socket's bytes would.
    body = os.urandom(SIZE)
    if direction == "download":
        state["download"] = body
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    if direction == "download":
        got = client.call("oa", "GET", "/cgi-bin/media/get", query={"media_id": "M"})
        assert got == body, "download came back wrong"
    else:
        client.call("oa", "POST", "/cgi-bin/media/upload", query={"type": "image"}, body=body,
                    content_type="image/jpeg")
        assert state["uploaded"] == SIZE
    ms = (time.perf_counter() - t0) * 1000
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"ms": ms, "growth": after - before}))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "child":
        child(sys.argv[2])
        sys.exit(0)
    for direction in ("download", "upload"):
        out = subprocess.run([sys.executable, __file__, "child", direction], check=True, capture_output=True, text=True)
        r = json.loads(out.stdout)
        print(f"python {direction} of {SIZE // MIB} MiB: {r['ms']:.1f} ms, peak RSS +{r['growth'] / MIB:.1f} MiB "
              f"({r['growth'] / SIZE:.2f}x the body)")
