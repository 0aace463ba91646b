"""The synchronous driver: submit, drain outputs, execute them, feed results back."""

from __future__ import annotations

import base64
import collections
import json as _json
import logging
import os
import socket
import ssl
import threading
import time
from types import TracebackType
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Type, Union

from ._callback import Push, _bytes, _query_json
from ._errors import WxError, _NativeError
from ._hot import Hot
from ._http import ConnectTimeout, PooledHttp, urllib_http  # noqa: F401 - urllib_http was the default here
from ._native import Engine
from ._types import ConfigInput, Headers, HttpTransport, Status, Store

Http = HttpTransport
Query = Union[Mapping[str, Any], Sequence[Tuple[str, Any]], None]
#: An engine event (``{"type": "token_fetched", "app": …}``, …).
Event = Dict[str, Any]


#: The longest single wait the driver asks of ``threading`` (its ``TIMEOUT_MAX``
#: and a day, whichever is shorter): a timer further off is waited for in steps.
WAIT_MAX_S = min(threading.TIMEOUT_MAX, 86400.0)


def now_ms() -> int:
    return int(time.time() * 1000)


def transport_kind(e: BaseException) -> str:
    """Maps a Python transport failure to the engine's kinds."""
    if isinstance(e, socket.gaierror):
        # EAI_AGAIN included: a resolver's "temporary failure" is not proof
        # that the lookup timed out, so never ``dns_timeout``.
        return "dns"
    if isinstance(e, ConnectTimeout):
        return "connect_timeout"
    if isinstance(e, (TimeoutError, socket.timeout)):
        return "timeout"
    if isinstance(e, ssl.SSLError):
        return "tls"
    if isinstance(e, ConnectionRefusedError):
        return "connect"
    # Anything else may have happened after the request left: never "connect",
    # which would make a POST safe to resend.
    return "reset"


_LOG = logging.getLogger("wxcore")
#: The core's level names as :mod:`logging`'s.
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}
def log_event(event: Event) -> None:
    """Logs an engine event to the ``wxcore`` logger at the level the core
    gave it, as the line the core wrote for it (``text``: the same in every
    language, never a token or secret); the event itself rides along as the
    record's ``wxcore_event``."""
    level = _LEVELS.get(event.get("level", ""), logging.INFO)
    if _LOG.isEnabledFor(level):
        _LOG.log(level, "%s", event.get("text") or event.get("type"), extra={"wxcore_event": event})


def query_pairs(query: Query) -> List[List[str]]:
    if not query:
        return []
    items = query.items() if isinstance(query, Mapping) else query
    return [[str(k), str(v)] for k, v in items]


def with_entropy(config: Union[ConfigInput, Mapping[str, Any]]) -> str:
    """The config as JSON text with 32 fresh bytes from the OS generator as
    the engine's ``entropy`` (the core reads no randomness of its own; API
    security's IVs come from it). Always fresh, even over a value in the
    config: processes sharing one config file must never share IVs."""
    if isinstance(config, str):
        try:
            parsed = _json.loads(config)
        except ValueError:
            return config  # the engine names what is wrong with it
        if not isinstance(parsed, dict):
            return config
        config = parsed
    return _json.dumps({**config, "entropy": base64.b64encode(os.urandom(32)).decode()})


def new_engine(config: Union[ConfigInput, Mapping[str, Any]], now: int) -> Engine:
    """The engine for a config given as JSON text or a mapping."""
    text = with_entropy(config)
    try:
        return Engine(text, now)
    except _NativeError as e:
        raise WxError.from_native(e) from None


def ticket_spec(app: str, kind: str) -> bytes:
    """The call spec of a JS-SDK ticket request."""
    return _json.dumps({"app": app, "ticket": kind}).encode()


# The C string escaper `json.dumps` itself uses: the spec is written directly
# rather than through a dict and the encoder (a third of the driver's own time).
_escape = _json.encoder.encode_basestring_ascii


def _quote(v: Any) -> str:
    # Anything but a string as JSON would have it, for the engine to name what is wrong.
    return _escape(v) if type(v) is str else _json.dumps(v)


def call_spec(app: str, method: str, path: str, query: Query, json: Any, idempotent: bool,
              body: Optional[bytes], content_type: Optional[str],
              timeout_ms: Optional[int] = None) -> Tuple[bytes, Optional[bytes]]:
    """The engine's call spec (JSON bytes) and the body to send with it."""
    pairs = ",".join(f"[{_quote(k)},{_quote(v)}]" for k, v in query_pairs(query))
    spec = (f'{{"app":{_quote(app)},"method":{_quote(method)},"path":{_quote(path)},'
            f'"query":[{pairs}],"idempotent":{"true" if idempotent else "false"}')
    if timeout_ms is not None:
        spec += f',"timeout_ms":{_json.dumps(timeout_ms)}'
    if json is not None:
        body = _json.dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
        content_type = "application/json"
    if content_type:
        spec += f',"content_type":{_quote(content_type)}'
    return (spec + "}").encode(), body


class Reply:
    """The full answer of a successful call (``Client.call(..., full=True)``)."""

    __slots__ = ("status", "headers", "data")

    def __init__(self, status: int, headers: List[Tuple[str, str]], data: Any) -> None:
        self.status = status
        self.headers = headers
        self.data = data

    def __repr__(self) -> str:
        return f"Reply(status={self.status}, data={self.data!r})"


def done_value(done: Dict[str, Any], full: bool) -> Any:
    """The value a completed call returns, or the WxError it raises."""
    if not done["ok"]:
        raise WxError.from_output(done["error"])
    if "json" in done:
        data = done["json"]
    elif "bytes" in done:  # the hot path's form
        data = done["bytes"]
    elif "body_base64" in done:
        data = base64.b64decode(done["body_base64"])
    else:
        data = done.get("body", "").encode()
    if full:
        return Reply(done["status"], [tuple(h) for h in done.get("headers", [])], data)
    return data


class Client:
    """Runs the engine's loop over a blocking HTTP transport.

    ``http(method, url, headers, body, timeout_s) -> (status, headers, body)``
    (:class:`~wxcore.HttpTransport`; default: a :class:`~wxcore.PooledHttp`
    of this client's own, closed by :meth:`close` or ``with``); transport
    failures raise ``OSError`` subclasses. ``store`` (fleet mode,
    :class:`~wxcore.Store`) has ``execute(op: dict) -> dict`` answering the
    engine's store operations. ``now`` returns Unix milliseconds.

    One client serves many threads at once: each calling thread runs the
    loop, taking whatever output is next (its own call's or another's) and
    performing it outside the lock, so requests of different threads overlap
    while the engine still sees one token fetch per app.

    Each engine event is logged to ``logging.getLogger("wxcore")`` at the
    level the core gave it (its ``level``: ``warn`` is ``WARNING``), one line
    such as ``token_fetched app=oa expires_at_ms=… source=http``, the event
    itself as the record's ``wxcore_event``; then passed to the :meth:`on` listeners.
    """

    def __init__(self, config: ConfigInput, http: Optional[HttpTransport] = None, store: Optional[Store] = None,
                 now: Optional[Callable[[], int]] = None) -> None:
        self._now = now or now_ms
        self.engine = new_engine(config, self._now())
        self._pool: Optional[PooledHttp] = None
        if http is None:
            http = self._pool = PooledHttp()
        self._http = http
        self._store = store
        self._listeners: List[Callable[[Event], None]] = []
        self._done: Dict[int, Dict[str, Any]] = {}
        self._queue: Deque[Dict[str, Any]] = collections.deque()
        self._wake: Optional[int] = None
        self._in_flight = 0  # outputs taken from the queue and not yet answered
        self._abandoned: Set[int] = set()  # calls withdrawn by their caller: their Done is dropped
        # Reentrant: a listener may call the client from inside the loop.
        # `with self._lock` (C) rather than `with self._cond` (Python): the
        # condition is over the same lock, and the loop takes it five times a call.
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._waiting = 0  # threads in self._cond.wait(): no notify when none

    @property
    def engine(self) -> Engine:
        """The native engine this client drives. Assigning one (say, from
        ``Engine.restore``) makes the client drive that one."""
        return self._engine

    @engine.setter
    def engine(self, engine: Engine) -> None:
        self._engine = engine
        self._hot = Hot(engine)  # submit, respond and poll go this way

    def on(self, listener: Callable[[Event], None]) -> None:
        """Calls ``listener(event)`` for each engine event (token fetched, failover, quota warning, …)."""
        self._listeners.append(listener)

    def call(self, app: str, method: str, path: str, query: Query = None, json: Any = None,
             idempotent: bool = False, *, body: Optional[bytes] = None, content_type: Optional[str] = None,
             full: bool = False, timeout_ms: Optional[int] = None) -> Any:
        """Makes one API call: the parsed JSON reply, or ``bytes`` for a binary
        one (media); ``full=True`` gives a :class:`Reply`. ``timeout_ms`` is this
        call's deadline (default: the config's ``call_timeout_ms``). Raises
        :class:`WxError`; a ``KeyboardInterrupt`` (or any exception) while the
        call waits withdraws it from the engine before it propagates."""
        raw, body = call_spec(app, method, path, query, json, idempotent, body, content_type, timeout_ms)
        with self._lock:
            doc = self._hot.submit(raw, body, self._now())
            self._take(doc)
        return done_value(self._result(doc["call_id"]), full)

    def ticket(self, app: str, kind: str = "jsapi") -> str:
        """A JS-SDK ticket (``jsapi``, ``wx_card``; WeCom ``jsapi``, ``agent_config``),
        cached and renewed by the engine: one fetch however many callers."""
        return str(self._ticket(app, kind)["ticket"])

    def jssdk_config(self, app: str, url: str, kind: str = "jsapi") -> Dict[str, str]:
        """The ``wx.config`` object for a page at ``url``, signed with the app's cached ticket."""
        from ._callback import jssdk_config

        t = self._ticket(app, kind)
        return jssdk_config(t["app_id"], t["ticket"], url)

    def _ticket(self, app: str, kind: str) -> Dict[str, Any]:
        with self._lock:
            doc = self._hot.submit(ticket_spec(app, kind), None, self._now())
            self._take(doc)
        result: Dict[str, Any] = done_value(self._result(doc["call_id"]), False)
        return result

    def handle_push(self, app: str, method: str, query: Mapping[str, Any], body: Union[bytes, str]) -> Push:
        """A request to the callback URL of an app whose token needs a pushed
        ticket (``wechat-component``, ``wecom-suite``): the engine verifies
        it, checks that it names the app and keeps a newer ticket (written to
        the store in fleet mode, before this returns); it never fetches a
        token by itself. Answer the platform with ``reply`` at once. Other
        pushes (authorizations, suite events) come back verified as
        ``message``. A refused push raises :class:`WxError` (``reason`` says
        why) and changes nothing."""
        with self._lock:
            try:
                text = self.engine.handle_push(app, method, _query_json(query), _bytes(body), self._now())
            except _NativeError as e:
                raise WxError.from_native(e) from None
        self._drain()
        return Push.from_json(_json.loads(text))

    def export_state(self) -> str:
        """The engine's durable state (tokens, counters, blocks, circuits) as
        JSON, for ``Engine.restore`` in the next process. It holds access
        tokens: store it as you store secrets."""
        with self._lock:
            return str(self.engine.export_state())

    def status(self) -> Status:
        """The status snapshot (:class:`~wxcore.Status`): per app its token
        by id (never its value), last refresh and load; today's quotas; each
        host's circuit; the alerts."""
        with self._lock:
            text = self.engine.status_json(self._now())
        snapshot: Status = _json.loads(text)
        return snapshot

    def metrics(self) -> str:
        """The Prometheus text exposition (format 0.0.4) of the engine's
        counters and gauges, for a ``/metrics`` endpoint."""
        with self._lock:
            return str(self.engine.metrics_text(self._now()))

    def close(self) -> None:
        """Closes the default transport's pooled connections (a transport
        passed as ``http`` is the caller's to close)."""
        if self._pool is not None:
            self._pool.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()

    # -- the loop --

    def _notify(self) -> None:
        """Wakes the threads waiting for an output or a result (lock held)."""
        if self._waiting:
            self._cond.notify_all()

    def _take(self, doc: Dict[str, Any]) -> None:
        """Queues an engine answer's outputs (lock held)."""
        self._queue.extend(doc["outputs"])
        self._wake = doc["wake_at_ms"]
        if doc["outputs"]:
            self._notify()

    def _result(self, call_id: int) -> Dict[str, Any]:
        try:
            return self._run(call_id)
        except BaseException:
            # The caller gave up (Ctrl-C, a timeout of its own): the engine
            # withdraws the call, so it is not sent or counted later.
            with self._lock:
                if call_id not in self._done and self.engine.cancel(call_id, self._now()):
                    self._abandoned.add(call_id)
                    self._take(self._hot.poll(self._now()))
                self._done.pop(call_id, None)
            raise

    def _run(self, call_id: int) -> Dict[str, Any]:
        # Outputs arrive with each input (submit, response), so a plain call
        # costs two boundary crossings; poll only when nothing is queued.
        while True:
            with self._lock:
                while True:
                    if call_id in self._done:
                        return self._done.pop(call_id)
                    if not self._queue and (self._wake is None or self._wake <= self._now()):
                        self._take(self._hot.poll(self._now()))
                    if self._queue:
                        break
                    if self._wake is None and self._in_flight == 0:
                        # Nothing queued, in flight or timed: the engine lost the call (a core bug).
                        raise WxError("unknown", "engine idle with the call unfinished", call_id=call_id)
                    # Another thread performs what this call waits for, or a timer is due later.
                    timeout = None if self._wake is None else max(0, self._wake - self._now()) / 1000
                    # Clamped to what the runtime can wait (a far timer wakes early, harmlessly).
                    self._waiting += 1
                    try:
                        self._cond.wait(None if timeout is None else min(timeout, WAIT_MAX_S))
                    finally:
                        self._waiting -= 1
                output = self._pop()
            if output is not None:
                self._perform(output)

    def _pop(self) -> Optional[Dict[str, Any]]:
        """Takes the next queued output (lock held): a call's result is filed
        for its caller (None comes back); anything else is the caller's to perform."""
        output = self._queue.popleft()
        if "done" in output:
            done_id = output["done"]["call_id"]
            if done_id in self._abandoned:
                self._abandoned.discard(done_id)
            else:
                self._done[done_id] = output["done"]
                self._notify()
            return None
        if "event" not in output:
            self._in_flight += 1
        return output

    def _drain(self) -> None:
        """Performs what the engine queued until nothing is left (say, a
        pushed ticket's store write), in this thread as any caller would."""
        while True:
            with self._lock:
                if not self._queue:
                    self._take(self._hot.poll(self._now()))
                if not self._queue:
                    return
                output = self._pop()
            if output is not None:
                self._perform(output)

    def _perform(self, output: Dict[str, Any]) -> None:
        """One output taken from the queue, outside the lock: an event to
        the listeners, or a request or store operation whose answer goes
        back to the engine."""
        if "event" in output:
            # Outside the lock: a listener may block, or call the client.
            self._emit(output["event"])
            return
        answer: Optional[Callable[[], Optional[Dict[str, Any]]]] = None
        try:  # outside the lock: other threads' requests overlap with this one
            answer = self._send(output["send"]) if "send" in output else self._run_store(output["store"])
        except BaseException as e:
            # KeyboardInterrupt, SystemExit, a gevent timeout, …: the engine is
            # told the request (or store operation) failed before it propagates,
            # so no request is left unanswered.
            answer = self._failed(output, e)
            raise
        finally:
            # One lock for the engine's answer and its outputs.
            with self._lock:
                self._in_flight -= 1
                doc = answer() if answer is not None else None
                self._take(doc if doc is not None else self._hot.poll(self._now()))
                self._notify()

    def _failed(self, output: Dict[str, Any], e: BaseException) -> Callable[[], Optional[Dict[str, Any]]]:
        """How to tell the engine an output failed with ``e`` (run under the lock)."""
        if "send" in output:
            req_id = output["send"]["id"]
            kind = transport_kind(e) if isinstance(e, OSError) else "reset"
            return lambda: self.engine.handle_transport_error(req_id, kind, self._now())
        op_id = output["store"]["id"]
        text = _json.dumps({"error": type(e).__name__}).encode()
        return lambda: self.engine.handle_store_result(op_id, text, self._now())

    def _emit(self, event: Dict[str, Any]) -> None:
        log_event(event)
        # A listener's exception must not cost the outputs queued after its event.
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - reported, never propagated into the loop
                logging.getLogger("wxcore").exception("event listener failed")

    def _send(self, req: Dict[str, Any]) -> Callable[[], Optional[Dict[str, Any]]]:
        """Performs one request; returns how to tell the engine (run under the lock)."""
        try:
            status, headers, payload = self._http(req["method"], req["url"], req["headers"], req["body"],
                                                  req["timeout_ms"] / 1000)
            status = int(status)
            headers = dict(headers)
            payload = bytes(payload)
        except Exception as e:  # noqa: BLE001 - any failure must still answer the engine
            kind = transport_kind(e) if isinstance(e, OSError) else "reset"
            return lambda: self.engine.handle_transport_error(req["id"], kind, self._now())
        return lambda: self._hot.respond(req["id"], status, headers, payload, self._now())

    def _run_store(self, op: Dict[str, Any]) -> Callable[[], None]:
        try:
            if self._store is None:
                raise OSError('the config says "store": "external" but no store was given to Client')
            text = _json.dumps(self._store.execute(op)).encode()
        except Exception as e:  # any store failure degrades to local behaviour in the engine
            # The class name only: a store's message can carry a connection string.
            text = _json.dumps({"error": type(e).__name__}).encode()
        return lambda: self.engine.handle_store_result(op["id"], text, self._now())
