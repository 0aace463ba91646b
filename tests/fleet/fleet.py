"""The fleet harness: a real redis-server and the simulator on loopback,
Node and Python worker processes in fleet mode, faults on demand.

`python fleet.py` (what `make fleet` runs) is the main scenario: 8 workers
(Node and Python mixed) call one app through several token rotations with
early invalidations injected, and the last line printed is

    token fetches: X (floor Y), token errors seen by callers: Z

X is the simulator's count of token fetches for the app; Y = rotations +
injected invalidations, where a rotation is a token the platform issued
because its predecessor reached the end of its life (the simulator's
`renewals` counter); Z counts `token_invalid` errors that reached any caller.
The run passes when X <= Y + 1 (the +1 is the first fetch) and Z = 0.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import redis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "bindings-uniffi" / "python" / "tests"))
from sim import Simulator, count  # noqa: E402

PATH = "/cgi-bin/user/info"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A throwaway redis-server on a loopback port: no persistence, stopped on close."""

    def __init__(self, port: Optional[int] = None) -> None:
        self.port = port or free_port()
        self.proc: Optional[subprocess.Popen] = None
        self.start()

    def start(self) -> None:
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen([exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--loglevel", "warning"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = self.client()
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1, decode_responses=True)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    close = stop


KOTLIN = HERE.parents[1] / "bindings-uniffi" / "kotlin"


def kotlin_command(main: str, *args: str) -> List[str]:
    """A JVM running `main` from the Kotlin binding's classes (`make kotlin-classes`)."""
    classpath = (KOTLIN / "target" / "run-classpath.txt").read_text().strip()
    lib = HERE.parents[1] / "target" / "release"
    return ["java", f"-Djna.library.path={lib}", "-cp", classpath, main, *args]


class Worker:
    """One worker process; its summary once it has finished."""

    def __init__(self, lang: str, name: str, job: dict) -> None:
        job = {**job, "name": name}
        if lang == "node":
            cmd = ["node", str(HERE / "worker.mjs"), json.dumps(job)]
        elif lang == "kotlin":
            cmd = kotlin_command("wxcore.FleetWorkerKt", json.dumps(job))
        else:
            cmd = [sys.executable, str(HERE / "worker.py"), json.dumps(job)]
        self.name = name
        self.proc = subprocess.Popen(cmd, cwd=HERE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline()
        if not first:
            raise RuntimeError(f"worker {name} died before starting")
        #: The worker's ready line (`push_url`: its callback URL, for a `push` job).
        self.ready = json.loads(first)
        self.summary: Optional[dict] = None

    def go(self) -> None:
        """Starts the calls of a `wait_for_go` job."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def wait(self, timeout: float = 120) -> dict:
        out, _ = self.proc.communicate(timeout=timeout)
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        if self.proc.returncode != 0 or not lines:
            raise RuntimeError(f"worker {self.name} exited with {self.proc.returncode}")
        self.summary = json.loads(lines[-1])
        return self.summary

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def worker_config(sim: Simulator, app_id: str, **extra) -> dict:
    return {
        "apps": [{"id": "oa", "platform": "wechat-oa", "app_id": app_id, "secret": "fleet-secret",
                  "hosts": [sim.primary, sim.dr], **extra.pop("app", {})}],
        "store": "external", "store_prefix": "wxfleet:", "store_poll_ms": 100,
        "refresh_margin_ms": 500, "timeout_ms": 3000,
        "retry": {"base_delay_ms": 20, "max_delay_ms": 200},
        **extra,
    }


def job(sim: Simulator, rds: RedisServer, app_id: str, duration_ms: int, path: str = PATH, concurrency: int = 3,
        interval_ms: int = 20, **config) -> dict:
    return {"config": worker_config(sim, app_id, **config), "redis_port": rds.port, "duration_ms": duration_ms,
            "path": path, "concurrency": concurrency, "interval_ms": interval_ms}


def start_workers(n: int, j: dict, prefix: str = "w") -> List[Worker]:
    # Mixed: even-numbered workers are Node, odd-numbered Python.
    return [Worker("node" if i % 2 == 0 else "python", f"{prefix}{i}-{'node' if i % 2 == 0 else 'py'}", j)
            for i in range(n)]


def totals(summaries: List[dict]) -> Dict[str, int]:
    t = {"submitted": 0, "ok": 0, "failed": 0, "token_invalid": 0}
    for s in summaries:
        t["submitted"] += s["submitted"]
        t["ok"] += s["ok"]
        t["failed"] += sum(s["errors"].values())
        t["token_invalid"] += s["errors"].get("token_invalid", 0)
    return t


def rotation_run(duration_s: float = 24, ttl_s: int = 6, invalidations=(7.0, 15.5), workers: int = 8) -> dict:
    """The main scenario; returns the figures of the summary line and more."""
    sim = Simulator()
    rds = RedisServer()
    try:
        # The platform renews a stable token in its last second; the engine
        # refreshes 500 ms before expiry, inside that window.
        sim.configure(token_ttl_s=ttl_s, stable_renew_s=1)
        app = "wxfleet" + uuid.uuid4().hex[:8]
        ws = start_workers(workers, job(sim, rds, app, int(duration_s * 1000)))
        t0 = time.monotonic()
        for at in invalidations:
            time.sleep(max(0.0, at - (time.monotonic() - t0)))
            sim.fault(kind="invalidate", app=app)
        summaries = [w.wait() for w in ws]
        c = sim.counters()
        x = count(c, "token_fetches", app)
        y = count(c, "renewals", app) + len(invalidations)
        t = totals(summaries)
        return {"x": x, "y": y, "z": t["token_invalid"], "totals": t, "summaries": summaries,
                "calls": count(c, "calls", app, PATH), "duration_s": duration_s}
    finally:
        rds.stop()
        sim.close()


def bench(duration_s: float = 5, concurrency: int = 8) -> None:
    """Calls per second of one worker process, in-memory engine vs fleet mode
    over Redis, against the simulator on this machine (which shares its 2 cores)."""
    sim = Simulator()
    rds = RedisServer()
    try:
        print(f"one worker process, {concurrency} concurrent loops, {duration_s:.0f} s each, simulator on loopback")
        for lang in ("node", "python"):
            for store in ("memory", "redis"):
                app = "wxbench" + uuid.uuid4().hex[:8]
                j = job(sim, rds, app, int(duration_s * 1000), concurrency=concurrency, interval_ms=0)
                j["store"] = "memory" if store == "memory" else "redis"
                [w] = [Worker(lang, f"bench-{lang}-{store}", j)]
                s = w.wait()
                print(f"  {lang:6} {store:6}: {s['ok'] / duration_s:8.0f} calls/s  ({s['ok']} ok, "
                      f"{sum(s['errors'].values())} failed, {count(sim.counters(), 'token_fetches', app)} token fetch)")
    finally:
        rds.stop()
        sim.close()


def main() -> int:
    if "--bench" in sys.argv:
        bench()
        return 0
    r = rotation_run()
    t = r["totals"]
    print(f"{len(r['summaries'])} workers (Node and Python), {r['duration_s']:.0f} s: "
          f"{t['submitted']} calls submitted, {t['ok']} succeeded, {t['failed']} failed, "
          f"{t['submitted'] - t['ok'] - t['failed']} lost; the platform saw {r['calls']} calls "
          "(resends after invalidations included)")
    print(f"token fetches: {r['x']} (floor {r['y']}), token errors seen by callers: {r['z']}")
    ok = r["x"] <= r["y"] + 1 and r["z"] == 0 and t["failed"] == 0 and t["submitted"] == t["ok"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
