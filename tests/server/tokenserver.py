"""The token server (`wxcore-server`) as its own process, for the tests:
a config written from Python, the address it printed, its captured output,
and a guaranteed stop."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fleet"))
sys.path.insert(0, str(ROOT / "bindings-uniffi" / "python" / "tests"))
from sim import Simulator, count  # noqa: E402,F401

BINARY = os.environ.get("WXCORE_SERVER") or str(ROOT / "target" / "debug" / "wxcore-server")


def new_key(tag: str = "ck") -> str:
    """A caller key: 32 random bytes, hex, with a readable prefix."""
    return f"{tag}_{secrets.token_hex(32)}"


def sha256(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def caller(name: str, key: str, apps=("*",), actions=("token",), relay_paths=(), **extra) -> dict:
    c = {"name": name, "key_sha256": sha256(key), "apps": list(apps), "actions": list(actions)}
    if relay_paths:
        c["relay_paths"] = list(relay_paths)
    c.update(extra)
    return c


class TokenServer:
    """One `wxcore-server` process. `out`/`err` are files holding everything
    it printed; `audit` its audit log."""

    def __init__(self, apps: List[dict], callers: List[dict], listen: str = "127.0.0.1:0",
                 store: str = "memory", server: Optional[dict] = None, **engine: Any) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="wxsrv-"))
        self.audit = self.dir / "audit.log"
        section = {"listen": listen, "store": store, "audit_log": str(self.audit), "callers": callers,
                   **(server or {})}
        self.config = {"apps": apps, "server": section, "timeout_ms": 3000,
                       "retry": {"base_delay_ms": 20, "max_delay_ms": 200}, **engine}
        self.path = self.dir / "server.json"
        self.path.write_text(json.dumps(self.config))
        self.proc: Optional[subprocess.Popen] = None
        self.url = ""
        self.runs = 0
        self.start()

    def start(self) -> None:
        self.runs += 1
        self.out = self.dir / f"stdout-{self.runs}.txt"
        self.err = self.dir / f"stderr-{self.runs}.txt"
        self.proc = subprocess.Popen([BINARY, "--config", str(self.path)], stdout=open(self.out, "w"),
                                     stderr=open(self.err, "w"))
        for _ in range(400):
            text = self.out.read_text()
            if text:
                line = text.splitlines()[0]
                self.url = json.loads(line)["listening"]
                # Later starts bind the same port, so clients find it again.
                if self.config["server"]["listen"].endswith(":0"):
                    self.config["server"]["listen"] = self.url.removeprefix("http://")
                    self.path.write_text(json.dumps(self.config))
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"wxcore-server exited {self.proc.returncode}: {self.err.read_text()}")
            time.sleep(0.025)
        raise RuntimeError("wxcore-server printed no address")

    def wait_ready(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, _, _ = request(self.url + "/readyz")
            if status == 200:
                return
            time.sleep(0.05)
        raise RuntimeError("the token server never became ready")

    def output(self) -> str:
        """Everything every run of it printed, and its audit log."""
        parts = []
        for i in range(1, self.runs + 1):
            for kind in ("stdout", "stderr"):
                f = self.dir / f"{kind}-{i}.txt"
                if f.exists():
                    parts.append(f.read_text())
        if self.audit.exists():
            parts.append(self.audit.read_text())
        return "\n".join(parts)

    def audit_lines(self) -> List[dict]:
        return [json.loads(ln) for ln in self.audit.read_text().splitlines() if ln.strip()]

    def kill(self) -> None:
        """SIGKILL: no goodbye."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def request(url: str, method: str = "GET", headers: Optional[Dict[str, str]] = None, body: Any = None,
            raw: Optional[bytes] = None) -> Tuple[int, Dict[str, str], bytes]:
    """(status, headers, body) of one request; HTTP errors are answers too."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    h = dict(headers or {})
    if data is not None and "content-type" not in {k.lower() for k in h}:
        h["content-type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def native(key: Optional[str], ssrf: bool = True) -> Dict[str, str]:
    h = {}
    if key is not None:
        h["authorization"] = f"Bearer {key}"
    if ssrf:
        h["x-wxcore-request"] = "1"
    return h
