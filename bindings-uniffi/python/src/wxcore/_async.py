"""The asyncio driver over httpx: many concurrent calls share one engine;
one pump task drains outputs and runs each request as its own task."""

from __future__ import annotations

import asyncio
import json as _json
import logging
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Mapping, Optional, Set, Type, Union

from ._callback import Push, _bytes, _query_json
from ._errors import WxError, _NativeError
from ._client import (Event, Query, call_spec, done_value, log_event, new_engine, now_ms, ticket_spec,
                      transport_kind)
from ._hot import Hot
from ._native import Engine
from ._http import ConnectTimeout
from ._types import AsyncHttpTransport, AsyncStore, ConfigInput, Headers, HttpAnswer, Status

if TYPE_CHECKING:
    import httpx

#: What a missing httpx says: the extra that installs it.
HTTPX_MISSING = "AsyncClient's default transport needs httpx: pip install 'wxcore[async]' (or pass http=)"


def _import_httpx() -> Any:
    # Imported on first use, so AsyncClient over a transport of the caller's
    # own works without httpx, and without it the error names the extra.
    try:
        import httpx
    except ImportError as e:
        raise ImportError(HTTPX_MISSING, name="httpx") from e
    return httpx


class _RedactQuery(logging.Filter):
    """httpx logs every request's URL at INFO, query and all: the access
    token, WeCom's ``corpsecret``, the OA ``secret``. Each URL in a record
    of the ``httpx`` logger is logged without its query's values."""

    def filter(self, record: logging.LogRecord) -> bool:
        httpx = sys.modules.get("httpx")  # installed only once httpx is in use
        if httpx is not None and isinstance(record.args, tuple):
            record.args = tuple(_redacted(a) if isinstance(a, httpx.URL) else a for a in record.args)
        elif isinstance(record.msg, str) and "?" in record.msg:
            record.msg = _redact_text(record.msg)
        return True


def _redacted(url: "httpx.URL") -> str:
    if not url.query:
        return str(url)
    names = [kv.split(b"=", 1)[0].decode("ascii", "replace") for kv in url.query.split(b"&")]
    return str(url.copy_with(query=None)) + "?" + "&".join(f"{n}=<redacted>" for n in names)


def _redact_text(text: str) -> str:
    import re

    return re.sub(r"(\?|&)([^=&\s\"']+)=[^&\s\"']*", lambda m: f"{m.group(1)}{m.group(2)}=<redacted>", text)


_REDACT = _RedactQuery()


def _redact_httpx_logs() -> None:
    """Installs the redaction on the ``httpx`` logger (once)."""
    logger = logging.getLogger("httpx")
    if _REDACT not in logger.filters:
        logger.addFilter(_REDACT)


AsyncHttp = AsyncHttpTransport


def _httpx_kind(e: Exception) -> str:
    httpx = sys.modules.get("httpx")  # a caller's own transport may run without it
    if httpx is not None and isinstance(e, httpx.ConnectTimeout):
        return "connect_timeout"
    if httpx is not None and isinstance(e, httpx.TimeoutException):
        return "timeout"
    if httpx is not None and isinstance(e, httpx.ConnectError):
        cause = e.__cause__ or e.__context__
        while cause is not None and not isinstance(cause, OSError):
            cause = cause.__cause__ or cause.__context__
        if cause is not None:
            return transport_kind(cause)
        text = str(e).lower()
        return "dns" if "name or service" in text or "nodename" in text or "temporary failure" in text else "connect"
    if isinstance(e, OSError):
        return transport_kind(e)
    return "reset"


class AsyncClient:
    """``await client.call(app, method, path, query=None, json=None, idempotent=False)``.

    ``http`` is an async ``(method, url, headers, body, timeout_s) -> (status,
    headers, body)`` (:class:`~wxcore.AsyncHttpTransport`); by default an
    ``httpx.AsyncClient`` (``pip install 'wxcore[async]'``; without httpx
    this raises ``ImportError`` naming it). ``store`` (fleet mode,
    :class:`~wxcore.AsyncStore`) has ``async execute(op: dict) -> dict``.
    ``async with`` closes the default transport at the end, as :meth:`aclose`.
    Events are logged to the ``wxcore`` logger as :class:`Client` logs them."""

    def __init__(self, config: ConfigInput, http: Optional[AsyncHttpTransport] = None,
                 store: Optional[AsyncStore] = None, now: Optional[Callable[[], int]] = None) -> None:
        if http is None:
            _import_httpx()  # fail here, not at the first call
        self._now = now or now_ms
        self.engine = new_engine(config, self._now())
        self._http: AsyncHttpTransport = http or self._httpx
        self._client: Optional[httpx.AsyncClient] = None
        self._store = store
        self._listeners: List[Callable[[Event], None]] = []
        self._futures: Dict[int, asyncio.Future[Dict[str, Any]]] = {}
        self._wakeup: Optional[asyncio.Event] = None
        self._pump_task: Optional[asyncio.Task[None]] = None
        self._tasks: Set[asyncio.Future[None]] = set()

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
        """Calls ``listener(event)`` for each engine event, as :meth:`Client.on`."""
        self._listeners.append(listener)

    async def call(self, app: str, method: str, path: str, query: Query = None, json: Any = None,
                   idempotent: bool = False, *, body: Optional[bytes] = None, content_type: Optional[str] = None,
                   full: bool = False, timeout_ms: Optional[int] = None) -> Any:
        """One API call, as :meth:`Client.call`. Cancelling the task withdraws
        the call from the engine: never sent if it was not yet."""
        raw, body = call_spec(app, method, path, query, json, idempotent, body, content_type, timeout_ms)
        doc = self._hot.submit(raw, body, self._now())
        return done_value(await self._wait(doc), full)

    async def ticket(self, app: str, kind: str = "jsapi") -> str:
        """A JS-SDK ticket, cached and renewed by the engine (one fetch however many callers)."""
        return str((await self._ticket(app, kind))["ticket"])

    async def jssdk_config(self, app: str, url: str, kind: str = "jsapi") -> Dict[str, str]:
        """The ``wx.config`` object for a page at ``url``, signed with the app's cached ticket."""
        from ._callback import jssdk_config

        t = await self._ticket(app, kind)
        return jssdk_config(t["app_id"], t["ticket"], url)

    async def _ticket(self, app: str, kind: str) -> Dict[str, Any]:
        doc = self._hot.submit(ticket_spec(app, kind), None, self._now())
        result: Dict[str, Any] = done_value(await self._wait(doc), False)
        return result

    async def handle_push(self, app: str, method: str, query: Mapping[str, Any], body: Union[bytes, str]) -> Push:
        """A request to the callback URL of an app whose token needs a pushed
        ticket, as :meth:`Client.handle_push`: in fleet mode the kept ticket
        is in the store when this returns. Answer the platform with ``reply``."""
        try:
            text = self.engine.handle_push(app, method, _query_json(query), _bytes(body), self._now())
        except _NativeError as e:
            raise WxError.from_native(e) from None
        outputs = self._hot.poll(self._now())["outputs"]
        self._process([o for o in outputs if "store" not in o])
        for o in outputs:
            if "store" in o:
                await self._run_store(o["store"])
        return Push.from_json(_json.loads(text))

    def export_state(self) -> str:
        """The engine's durable state as JSON, as :meth:`Client.export_state`
        (no I/O, so not a coroutine). It holds access tokens: store it as you store secrets."""
        return str(self.engine.export_state())

    def status(self) -> Status:
        """The status snapshot, as :meth:`Client.status` (no I/O, so not a coroutine)."""
        snapshot: Status = _json.loads(self.engine.status_json(self._now()))
        return snapshot

    def metrics(self) -> str:
        """The Prometheus text exposition, as :meth:`Client.metrics` (no I/O, so not a coroutine)."""
        return str(self.engine.metrics_text(self._now()))

    async def _wait(self, doc: Dict[str, Any]) -> Dict[str, Any]:
        future: asyncio.Future[Dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._futures[doc["call_id"]] = future
        self._process(doc["outputs"])
        self._kick()
        try:
            return await future
        except asyncio.CancelledError:
            call_id = doc["call_id"]
            if self._futures.pop(call_id, None) is not None and self.engine.cancel(call_id, self._now()):
                self._process(self._hot.poll(self._now())["outputs"])
            raise

    async def aclose(self) -> None:
        """Closes the default transport's connections (a transport passed as
        ``http`` is the caller's to close); a later call opens new ones."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                        tb: Optional[TracebackType]) -> None:
        await self.aclose()

    # -- the loop --

    def _kick(self) -> None:
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        self._wakeup.set()
        if self._pump_task is None or self._pump_task.done():
            self._pump_task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        assert self._wakeup is not None
        while self._futures:
            self._wakeup.clear()
            polled = self._hot.poll(self._now())
            self._process(polled["outputs"])
            if polled["outputs"] or not self._futures:
                continue
            wake = polled["wake_at_ms"]
            timeout = None if wake is None else max(0, wake - self._now()) / 1000
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    def _process(self, outputs: List[Dict[str, Any]]) -> None:
        for output in outputs:
            if "send" in output:
                self._spawn(self._send(output["send"]))
            elif "store" in output:
                self._spawn(self._run_store(output["store"]))
            elif "done" in output:
                future = self._futures.pop(output["done"]["call_id"], None)
                if future is not None and not future.done():
                    future.set_result(output["done"])
            elif "event" in output:
                log_event(output["event"])
                for listener in self._listeners:
                    try:
                        listener(output["event"])
                    except Exception:  # noqa: BLE001 - never propagated into the loop
                        logging.getLogger("wxcore").exception("event listener failed")

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _httpx(self, method: str, url: str, headers: Headers, body: Optional[bytes], timeout_s: float,
                     /) -> HttpAnswer:
        client = self._client
        if client is None:
            _redact_httpx_logs()
            client = self._client = _import_httpx().AsyncClient(follow_redirects=False)
        connecting = False

        async def trace(name: str, info: Dict[str, Any]) -> None:
            # httpcore's connection phases: a deadline that passes after a
            # connect (or TLS handshake) started and before it completed is a
            # connect timeout. Not reset on `.failed`: the cancellation by
            # the deadline ends the phase as failed before we see the timeout.
            nonlocal connecting
            if name.startswith(("connection.connect_tcp.", "connection.start_tls.")):
                if name.endswith(".started"):
                    connecting = True
                elif name.endswith(".complete"):
                    connecting = False

        try:
            # httpx's timeout is per operation; the call's is a total deadline.
            r = await asyncio.wait_for(
                client.request(method, url, headers=headers, content=body, timeout=timeout_s,
                               extensions={"trace": trace}), timeout_s)
        except asyncio.TimeoutError:
            if connecting:
                raise ConnectTimeout("connecting took longer than the call's deadline") from None
            raise TimeoutError("the call's deadline passed") from None
        return r.status_code, dict(r.headers.items()), r.content

    async def _send(self, req: Dict[str, Any]) -> None:
        try:
            status, headers, payload = await self._http(req["method"], req["url"], req["headers"], req["body"],
                                                        req["timeout_ms"] / 1000)
            headers = dict(headers)
            payload = bytes(payload)
        except BaseException as e:  # transport failure of any flavour, cancellation included
            self.engine.handle_transport_error(req["id"], _httpx_kind(e) if isinstance(e, Exception) else "reset",
                                               self._now())
            if not isinstance(e, Exception):
                self._kick()
                raise
        else:
            doc = self._hot.respond(req["id"], int(status), headers, payload, self._now())
            self._process(doc["outputs"])
        self._kick()

    async def _run_store(self, op: Dict[str, Any]) -> None:
        try:
            if self._store is None:
                raise OSError('the config says "store": "external" but no store was given to AsyncClient')
            text = _json.dumps(await self._store.execute(op)).encode()
        except BaseException as e:  # the class name only: a store's message can carry a connection string
            text = _json.dumps({"error": type(e).__name__}).encode()
            if not isinstance(e, Exception):  # cancelled: the engine still hears of it
                self.engine.handle_store_result(op["id"], text, self._now())
                self._kick()
                raise
        self.engine.handle_store_result(op["id"], text, self._now())
        self._kick()
