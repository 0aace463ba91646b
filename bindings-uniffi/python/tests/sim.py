"""Starts the local platform simulator (tests/simulator) for end-to-end tests."""

from __future__ import annotations

import http.server
import json
import os
import socketserver
import subprocess
import threading
import urllib.request
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[3]


class Simulator:
    """One `wxsim` process: its three addresses, its control endpoint, and a
    guaranteed stop (it also exits when this process's pipe to it closes)."""

    def __init__(self, binary: Optional[str] = None, *args: str) -> None:
        exe = binary or os.environ.get("WXSIM") or str(ROOT / "target" / "release" / "wxsim")
        self.proc = subprocess.Popen([exe, "--watch-stdin", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.kill()
            raise RuntimeError(f"the simulator ({exe}) printed no addresses")
        addrs = json.loads(line)
        self.primary: str = addrs["primary"]
        self.dr: str = addrs["dr"]
        self.control_url: str = addrs["control"]

    def control(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.control_url + path, data=data, method="GET" if body is None else "POST",
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def fault(self, **fault: Any) -> Any:
        return self.control("/fault", fault)

    def configure(self, **config: Any) -> Any:
        return self.control("/config", config)

    def counters(self) -> dict:
        return self.control("/counters")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            if f:
                f.close()


def count(counters: dict, table: str, app: str, key: Optional[str] = None) -> int:
    """A counter, 0 when absent."""
    row = counters.get(table, {}).get(app, 0 if key is None else {})
    return row if key is None else row.get(key, 0)


class HttpServer:
    """A loopback HTTP/1.1 server running ``handle(request)`` per request; it
    records the paths asked for and counts the TCP connections it accepted."""

    def __init__(self, handle: Any) -> None:
        outer = self
        self.connections = 0
        self.paths: list = []
        self._lock = threading.Lock()

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                with outer._lock:
                    outer.connections += 1
                super().setup()

            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.paths.append(self.path)
                handle(self)

            do_POST = do_GET

        self.httpd = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
