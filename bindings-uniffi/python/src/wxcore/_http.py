"""The default blocking transport: keep-alive connections pooled per host."""

from __future__ import annotations

import http.client
import os
import select
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._types import Headers, HttpAnswer
from ._version import __version__

_Key = Tuple[str, str, int]
_Conn = http.client.HTTPConnection

#: What a socket raises when it times out (one class from Python 3.10 on).
_TIMEOUTS = (TimeoutError, socket.timeout)


class ConnectTimeout(TimeoutError):
    """The TCP connect or TLS handshake took too long: the request never
    left, so the engine may resend even a POST (kind ``connect_timeout``).
    Raised by the default transports; a transport of one's own may raise it
    too when it knows it was still connecting."""


class _Cutoff:
    """One request's total deadline: at ``timeout_s`` the connection's socket
    is shut down whatever phase the exchange is in (a body trickling in byte
    by byte included), so the request ends within the deadline. A per-socket
    timeout alone would restart with every byte."""

    def __init__(self, conn: _Conn, timeout_s: float) -> None:
        self.conn = conn
        self.expired = False
        self._done = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, timeout_s), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            if self._done:  # the connection may already serve another request
                return
            self.expired = True
        self.check()

    def check(self) -> None:
        """Shuts the socket if the deadline passed (also called right after a
        connect, which the timer could not see the socket of)."""
        with self._lock:
            sock = self.conn.sock if self.expired else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def finish(self) -> bool:
        """Ends the watch; whether the deadline passed first."""
        self._timer.cancel()
        with self._lock:
            self._done = True
            return self.expired


def _idle_and_open(sock: Optional[socket.socket]) -> bool:
    """Whether a pooled connection can carry another request: a socket with
    anything to read while idle was closed by the server (EOF) or holds bytes
    no request asked for. Checked before sending, so a connection the server
    dropped is never written to."""
    if sock is None:
        return False
    try:
        if hasattr(select, "poll"):  # select() fails on descriptors above FD_SETSIZE
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return not poller.poll(0)
        return not select.select([sock], [], [], 0)[0]
    except (OSError, ValueError):
        return False


class PooledHttp:
    """``Client``'s default transport (stdlib only): HTTP/1.1 keep-alive
    connections reused per scheme, host and port, safe to share between
    threads (each request has a connection to itself). Follows no redirect: a
    3xx is the API's answer. ``timeout_s`` bounds the whole exchange,
    connect to last body byte. Failures raise what the socket raised
    (``socket.gaierror``, ``ConnectionRefusedError``, ``ssl.SSLError``,
    ``TimeoutError``, …), which the client maps to the engine's transport kinds.

    URLs that the environment sends through a proxy (``https_proxy``,
    ``no_proxy``, …) go through ``urllib`` instead, as before, one connection
    per request."""

    def __init__(self, max_idle_per_host: int = 8, idle_s: float = 30.0,
                 ssl_context: Optional[ssl.SSLContext] = None) -> None:
        self.max_idle_per_host = max_idle_per_host
        # Past this a firewall or NAT may have forgotten the connection without
        # a word; writing to it would hang until the deadline instead of failing fast.
        self.idle_s = idle_s
        self._ssl = ssl_context
        self._idle: Dict[_Key, List[Tuple[_Conn, float]]] = {}
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._proxies = urllib.request.getproxies()

    def __call__(self, method: str, url: str, headers: Headers, body: Optional[bytes], timeout_s: float,
                 /) -> HttpAnswer:
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise OSError(f"not an http(s) URL: {scheme}://{parts.hostname or ''}")
        if scheme in self._proxies and not urllib.request.proxy_bypass(parts.hostname):
            return urllib_http(method, url, headers, body, timeout_s)
        key = (scheme, parts.hostname, parts.port or (443 if scheme == "https" else 80))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sent = dict(headers)
        names = {k.lower() for k in sent}
        if "user-agent" not in names:
            sent["User-Agent"] = f"wxcore-python/{__version__}"
        if body is not None and "content-type" not in names:
            sent["Content-Type"] = "application/x-www-form-urlencoded"  # what urllib sent
        conn = self._take(key) or self._new(key, timeout_s)
        cutoff = _Cutoff(conn, timeout_s)
        connecting = False
        try:
            if conn.sock is None:
                connecting = True
                conn.connect()
                connecting = False
                cutoff.check()
            else:
                conn.sock.settimeout(timeout_s)
            conn.request(method, target, body=body, headers=sent)
            response = conn.getresponse()
            payload = response.read()
        except BaseException as e:
            expired = cutoff.finish()
            conn.close()
            # The socket's own timeout is the deadline, so a connect that hangs
            # ends as a timeout here, with the cutoff's timer racing it.
            if connecting and isinstance(e, _TIMEOUTS):
                raise ConnectTimeout("connecting took longer than the call's deadline") from None
            if expired and isinstance(e, Exception):
                raise TimeoutError("the call's deadline passed") from None
            raise
        if cutoff.finish():  # a body cut short at EOF can look complete
            conn.close()
            raise TimeoutError("the call's deadline passed")
        answer = response.status, dict(response.getheaders()), payload
        if response.will_close:
            conn.close()
        else:
            self._give_back(key, conn)
        return answer

    def _new(self, key: _Key, timeout_s: float) -> _Conn:
        scheme, host, port = key
        if scheme == "http":
            return http.client.HTTPConnection(host, port, timeout=timeout_s)
        if self._ssl is None:
            # One context for every connection: each costs a read of the CA store.
            self._ssl = ssl.create_default_context()
        return http.client.HTTPSConnection(host, port, timeout=timeout_s, context=self._ssl)

    def _take(self, key: _Key) -> Optional[_Conn]:
        now = time.monotonic()
        stale: List[_Conn] = []
        found: Optional[_Conn] = None
        with self._lock:
            if self._pid != os.getpid():
                # A forked child shares the parent's sockets: two processes
                # writing to one connection would mix their requests. Its
                # copies are dropped unclosed, so the parent's stay usable.
                self._pid, self._idle = os.getpid(), {}
            idle = self._idle.get(key, [])
            while idle:
                conn, since = idle.pop()  # the most recent: the likeliest still open
                if now - since <= self.idle_s and _idle_and_open(conn.sock):
                    found = conn
                    break
                stale.append(conn)
        for conn in stale:
            conn.close()
        return found

    def _give_back(self, key: _Key, conn: _Conn) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.max_idle_per_host:
                idle.append((conn, time.monotonic()))
                return
        conn.close()

    def close(self) -> None:
        """Closes the idle connections (the pool stays usable)."""
        with self._lock:
            conns = [c for idle in self._idle.values() for c, _ in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx is the API's answer, never followed: a redirect would carry a
    header credential to whatever origin it names."""

    def redirect_request(self, req: Any, fp: Any, code: Any, msg: Any, headers: Any, newurl: Any) -> None:  # noqa: D102
        return None


class _Deadline:
    """The call's total deadline over urllib: at ``timeout_s`` the request's
    sockets are shut down, whatever phase it is in (a body trickling in
    byte by byte included), and the request ends as a ``TimeoutError``."""

    def __init__(self, timeout_s: float) -> None:
        self.sockets: List[socket.socket] = []
        self.expired = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, timeout_s), self._expire)
        self._timer.daemon = True

    def connection(self, cls: type) -> Callable[..., Any]:
        """An ``http.client`` connection class whose sockets this deadline can close."""
        deadline = self

        class _Conn(cls):  # type: ignore[misc]
            def connect(self) -> None:
                try:
                    super().connect()
                except _TIMEOUTS:
                    raise ConnectTimeout("connecting took longer than the call's deadline") from None
                with deadline._lock:
                    deadline.sockets.append(self.sock)
                    expired = deadline.expired
                if expired:
                    deadline._shut(self.sock)

        return _Conn

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self.sockets)
        for sock in sockets:
            self._shut(sock)

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._timer.cancel()


def urllib_http(method: str, url: str, headers: Headers, body: Optional[bytes], timeout_s: float) -> HttpAnswer:
    """A transport over ``urllib`` (one connection per request; honours the
    environment's proxies): no redirects followed, and ``timeout_s`` a total
    deadline for the whole exchange."""
    import urllib.error

    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    with _Deadline(timeout_s) as deadline:
        http_conn = deadline.connection(http.client.HTTPConnection)
        https_conn = deadline.connection(http.client.HTTPSConnection)

        class _Http(urllib.request.HTTPHandler):
            def http_open(self, r: Any) -> Any:  # noqa: D102
                return self.do_open(http_conn, r)

        class _Https(urllib.request.HTTPSHandler):
            def https_open(self, r: Any) -> Any:  # noqa: D102
                return self.do_open(https_conn, r, context=getattr(self, "_context", None))

        opener = urllib.request.build_opener(_NoRedirect, _Http, _Https)
        answer: HttpAnswer
        try:
            with opener.open(req, timeout=timeout_s) as r:
                answer = r.status, dict(r.headers.items()), r.read()
        except urllib.error.HTTPError as e:  # an answer, whatever its status
            try:
                answer = e.code, dict(e.headers.items()), e.read()
            except Exception:  # noqa: BLE001 - the deadline cut the body short
                if not deadline.expired:
                    raise
        except urllib.error.URLError as e:
            if isinstance(e.reason, ConnectTimeout):
                raise e.reason from None
            if deadline.expired:
                raise TimeoutError("the call's deadline passed") from None
            raise e.reason if isinstance(e.reason, OSError) else OSError(str(e.reason))
        except Exception:
            if deadline.expired:
                raise TimeoutError("the call's deadline passed") from None
            raise
        if deadline.expired:  # a body cut short can look complete
            raise TimeoutError("the call's deadline passed")
        return answer
