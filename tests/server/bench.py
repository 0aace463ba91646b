"""`make bench-server`: the token server (release build) against the
simulator, loaded by wrk on the same machine.

1. Token endpoint: requests/s and latency at 64 connections.
2. Relay: latency of a call through the relay beside the same call made
   directly to the simulator, in the same run (one connection each).
3. Memory: the server's RSS with 1,000 configured apps, every token fetched.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

from tokenserver import Simulator, TokenServer, caller, new_key, request

DURATION = os.environ.get("BENCH_DURATION", "10s")


def wrk(url, headers, connections, duration=DURATION, threads=2):
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {}
    for p, v, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        pct[p] = float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": pct.get("50"), "p99_ms": pct.get("99"), "non_2xx": int(errors.group(1)) if errors else 0}


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    sim = Simulator()
    key = new_key()
    app = {"id": "oa", "platform": "wechat-oa", "app_id": "wxbench", "secret": "bench-secret", "base_url": sim.primary}
    srv = TokenServer([app], [caller("bench", key, actions=["token", "relay"], relay_paths=["/cgi-bin/user/*"],
                                     rate_per_minute=1_000_000_000)])
    auth = {"authorization": f"Bearer {key}", "x-wxcore-request": "1"}
    results = {}
    try:
        srv.wait_ready()
        # Warm both paths (connections, the relay's token).
        request(srv.url + "/v1/apps/oa/token", headers=auth)
        results["token_64c"] = wrk(srv.url + "/v1/apps/oa/token", auth, 64)
        token = json.loads(request(srv.url + "/v1/apps/oa/token", headers=auth)[2])["token"]
        direct = wrk(f"{sim.primary}/cgi-bin/user/info?access_token={token}&openid=o1", {}, 1, threads=1)
        relay = wrk(f"{srv.url}/v1/relay/oa/cgi-bin/user/info?openid=o1", auth, 1, threads=1)
        results["direct_1c"], results["relay_1c"] = direct, relay
        results["relay_added_p50_ms"] = round(relay["p50_ms"] - direct["p50_ms"], 3)
        results["relay_added_p99_ms"] = round(relay["p99_ms"] - direct["p99_ms"], 3)
    finally:
        srv.stop()
    many = [{"id": f"app{i}", "platform": "wechat-oa", "app_id": f"wxmany{i:04d}", "secret": f"s{i}",
             "base_url": sim.primary} for i in range(1000)]
    srv = TokenServer(many, [caller("bench", key, actions=["token"])])
    try:
        srv.wait_ready(timeout=120)
        time.sleep(1)
        results["rss_1000_apps_kib"] = rss_kib(srv.proc.pid)
    finally:
        srv.stop()
        sim.close()
    print(json.dumps(results, indent=1))
    t = results["token_64c"]
    print(f"token endpoint, 64 connections: {t['rps']:.0f} requests/s, p50 {t['p50_ms']:.2f} ms, "
          f"p99 {t['p99_ms']:.2f} ms, non-2xx {t['non_2xx']}")
    print(f"relay added latency: p50 {results['relay_added_p50_ms']} ms, p99 {results['relay_added_p99_ms']} ms "
          f"(direct p50 {results['direct_1c']['p50_ms']} ms, relay p50 {results['relay_1c']['p50_ms']} ms)")
    print(f"RSS with 1,000 apps: {results['rss_1000_apps_kib'] / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
