"""The drivers' path into the engine for the loop's three busy crossings
(submit, respond, poll): the native library's ``wxcore_hot_*`` functions
(described in ``bindings-uniffi/src/lib.rs``) through ctypes, integers and
``bytes`` objects in, a compact frame out, instead of uniffi's generated
calls, which build ctypes objects per argument and hand back a JSON
document per crossing. Same engine object and lock; conversion only.

The documents returned have the canonical JSON shapes the drivers read
(``{"call_id", "wake_at_ms", "outputs": [...]}``), with two differences
that save a copy each: a ``send`` carries its body as ``bytes`` (``None``
when empty) and a successful ``done`` carries a non-JSON body as
``bytes``.
"""

from __future__ import annotations

import ctypes
import json
import struct
import threading
import weakref
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ._native import Engine
from ._native import wxcore_ffi as _ffi

_lib = _ffi._UniffiLib

# Addresses are i64 in the native signatures (so the JVM's `Long` fits every
# target); on a 64-bit Python a `bytes` object or buffer passes its own
# address as a c_void_p, without a copy.
if ctypes.sizeof(ctypes.c_void_p) == 8:
    _ADDR: Any = ctypes.c_void_p

    def _addr(b: Any) -> Any:
        return b
else:  # pragma: no cover - no 32-bit wheel is built
    _ADDR = ctypes.c_int64

    def _addr(b: Any) -> Any:
        return ctypes.cast(ctypes.c_char_p(bytes(b)), ctypes.c_void_p).value or 0

_I32, _I64, _U64 = ctypes.c_int32, ctypes.c_int64, ctypes.c_uint64
_lib.wxcore_hot_submit.argtypes = (_U64, _ADDR, _I32, _ADDR, _I32, _I64, _ADDR, _I32)
_lib.wxcore_hot_submit.restype = _I64
_lib.wxcore_hot_respond.argtypes = (_U64, _I64, _I32, _ADDR, _I32, _ADDR, _I32, _I64, _ADDR, _I32)
_lib.wxcore_hot_respond.restype = _I64
_lib.wxcore_hot_poll.argtypes = (_U64, _I64, _ADDR, _I32)
_lib.wxcore_hot_poll.restype = _I64
_lib.wxcore_hot_free.argtypes = (_I64, _I64)
_lib.wxcore_hot_free.restype = None
_lib.wxcore_hot_release.argtypes = (_U64,)
_lib.wxcore_hot_release.restype = None
_lib.wxcore_hot_detach.argtypes = (_U64, _I32)
_lib.wxcore_hot_detach.restype = None
_lib.wxcore_hot_body.argtypes = (_U64, _I32, _ADDR)
_lib.wxcore_hot_body.restype = _I64
_lib.wxcore_hot_decrypt.argtypes = (_U64, _ADDR, _I32, _I32, _I64, _ADDR, _I32)
_lib.wxcore_hot_decrypt.restype = _I64
_lib.wxcore_hot_crypto_release.argtypes = (_U64,)
_lib.wxcore_hot_crypto_release.restype = None

_HOT_PANIC = -(1 << 63)
_HOT_BAD_ARGS = _HOT_PANIC + 1
_OUT_SIZE = 16 * 1024

_HEAD = struct.Struct("<QqI").unpack_from  # call id, wake (-1: none), output count
_SEND = struct.Struct("<QQI").unpack_from  # request id, timeout, method length
_DONE = struct.Struct("<QIBI").unpack_from  # call id, status, body kind, header count
_U32 = struct.Struct("<I").unpack_from
_U64_AT = struct.Struct("<Q").unpack_from
_PAIR = struct.Struct("<I")


def _headers(b: bytes, p: int, n: int) -> Tuple[List[Tuple[str, str]], int]:
    out = []
    for _ in range(n):
        (k,) = _U32(b, p)
        p += 4
        name = b[p:p + k].decode()
        p += k
        (v,) = _U32(b, p)
        p += 4
        out.append((name, b[p:p + v].decode()))
        p += v
    return out, p


_DETACHED = 0xFFFFFFFF


def decode(b: bytes, take: Callable[[int], bytes]) -> Dict[str, Any]:
    """A frame as the document the drivers read; ``take(index)`` copies a
    body the frame carries beside it (64 KiB or more)."""
    call_id, wake, count = _HEAD(b, 0)
    p = 20
    outputs: List[Dict[str, Any]] = []
    for _ in range(count):
        tag = b[p]
        p += 1
        if tag == 1:
            req_id, timeout_ms, n = _SEND(b, p)
            p += 20
            method = b[p:p + n].decode()
            p += n
            (n,) = _U32(b, p)
            p += 4
            url = b[p:p + n].decode()
            p += n
            (n,) = _U32(b, p)
            pairs, p = _headers(b, p + 4, n)
            (n,) = _U32(b, p)
            if n == _DETACHED:
                body = take(_U32(b, p + 4)[0])
                p += 8
            else:
                body = b[p + 4:p + 4 + n] if n else None
                p += 4 + n
            outputs.append({"send": {"id": req_id, "method": method, "url": url, "headers": dict(pairs),
                                     "body": body, "timeout_ms": timeout_ms}})
        elif tag == 2:
            done_id, status, kind, n = _DONE(b, p)
            pairs, p = _headers(b, p + 17, n)
            (n,) = _U32(b, p)
            if n == _DETACHED:
                body = take(_U32(b, p + 4)[0])
                p += 8
            else:
                body = b[p + 4:p + 4 + n]
                p += 4 + n
            done: Dict[str, Any] = {"call_id": done_id, "ok": True, "status": status, "headers": pairs}
            if kind == 0:
                done["json"] = json.loads(body)
            else:
                done["bytes"] = body
            outputs.append({"done": done})
        else:
            (n,) = _U32(b, p)
            p += 4
            outputs.append(json.loads(b[p:p + n]))
            p += n
    return {"call_id": call_id, "wake_at_ms": None if wake < 0 else wake, "outputs": outputs}


def encode_headers(headers: Mapping[str, Any]) -> bytes:
    """Response headers as the hot path reads them: a count, then each name and value length-prefixed."""
    parts = [_PAIR.pack(len(headers))]
    for k, v in headers.items():
        kb, vb = str(k).encode(), str(v).encode()
        parts += (_PAIR.pack(len(kb)), kb, _PAIR.pack(len(vb)), vb)
    return b"".join(parts)


class Hot:
    """One engine's hot path. Not thread-safe: each driver calls it under its own lock."""

    __slots__ = ("_handle", "_out", "__weakref__")

    def __init__(self, engine: Engine) -> None:
        self._handle = engine.hot_handle()
        self._out = ctypes.create_string_buffer(_OUT_SIZE)
        # The handle holds a reference to the engine: released with this object.
        weakref.finalize(self, _lib.wxcore_hot_release, self._handle)
        # Large bodies beside the frame: copied once (``_body``), not out of the frame and again out of that.
        _lib.wxcore_hot_detach(self._handle, 1)

    def submit(self, spec: bytes, body: Optional[bytes], now: int) -> Dict[str, Any]:
        return self._frame(_lib.wxcore_hot_submit(self._handle, _addr(spec), len(spec), _addr(body),
                                                  -1 if body is None else len(body), now, self._out, _OUT_SIZE))

    def respond(self, request_id: int, status: int, headers: Mapping[str, Any], body: bytes,
                now: int) -> Dict[str, Any]:
        h = encode_headers(headers)
        return self._frame(_lib.wxcore_hot_respond(self._handle, request_id, status, _addr(h), len(h), _addr(body),
                                                   len(body), now, self._out, _OUT_SIZE))

    def poll(self, now: int) -> Dict[str, Any]:
        return self._frame(_lib.wxcore_hot_poll(self._handle, now, self._out, _OUT_SIZE))

    def _frame(self, ret: int) -> Dict[str, Any]:
        return decode(_take(self._out, ret), self._body)

    def _body(self, index: int) -> bytes:
        n = _lib.wxcore_hot_body(self._handle, index, self._out)
        if n < 0:
            raise RuntimeError(f"the wxcore hot path has no body {index}")
        (addr,) = _U64_AT(self._out, 0)
        return ctypes.string_at(addr, n)


def _take(out: Any, ret: int) -> bytes:
    """The frame a hot-path function reported: in ``out``, or copied from Rust's memory and freed."""
    if ret >= 0:
        return ctypes.string_at(out, ret)
    if ret == _HOT_PANIC:
        raise RuntimeError("the wxcore engine panicked")
    if ret == _HOT_BAD_ARGS:
        raise ValueError("the wxcore hot path refused its arguments")
    (addr,) = _U64_AT(out, 0)
    try:
        return ctypes.string_at(addr, -ret)
    finally:
        _lib.wxcore_hot_free(addr, -ret)


class HotCrypto:
    """A native CallbackCrypto's ``decrypt_packed`` through ``wxcore_hot_decrypt``.
    Thread-safe: each call has its own output buffer (a callback server decrypts on many threads)."""

    __slots__ = ("_handle", "_local", "__weakref__")

    def __init__(self, native: Any) -> None:
        self._handle = native.hot_handle()
        self._local = threading.local()
        weakref.finalize(self, _lib.wxcore_hot_crypto_release, self._handle)

    def decrypt_packed(self, packed: bytes, check_age: bool, now_s: int) -> Tuple[bool, bytes]:
        """``(True, plaintext)``, or ``(False, b"kind\\0reason\\0detail")`` for a refusal."""
        out = getattr(self._local, "out", None)
        if out is None:
            out = self._local.out = ctypes.create_string_buffer(_OUT_SIZE)
        frame = _take(out, _lib.wxcore_hot_decrypt(self._handle, _addr(packed), len(packed), check_age, now_s, out,
                                                   _OUT_SIZE))
        return frame[0] == 0, frame[1:]
