"""WxError: what a failed call raises."""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union, cast

from ._native import WxError as _NativeError
from ._native import error_kinds
from ._types import ErrorKind

#: The stable kind names shared by every language (from the core).
KINDS: Tuple[ErrorKind, ...] = cast(Tuple[ErrorKind, ...], tuple(error_kinds()))


class WxError(Exception):
    """A call failed. ``kind`` is one of :data:`KINDS` (``"token_invalid"``,
    ``"rate_limited"``, ``"quota_exhausted"``, …); ``code`` is the platform's
    code (int or str) when it gave one; ``retry_after_ms`` says when to try
    again for rate limits, quotas and IP blocks."""

    kind: ErrorKind
    code: Optional[Union[int, str]]
    message: str
    sub_message: Optional[str]
    http_status: Optional[int]
    retry_after_ms: Optional[int]
    app: str
    call_id: int
    field: Optional[str]
    raw_body: Optional[str]
    reason: Optional[str]

    def __init__(self, kind: str, message: str, *, code: Optional[Union[int, str]] = None,
                 sub_message: Optional[str] = None, http_status: Optional[int] = None,
                 retry_after_ms: Optional[int] = None, app: str = "", call_id: int = 0,
                 raw_body: Optional[str] = None, field: Optional[str] = None, reason: Optional[str] = None) -> None:
        super().__init__(f"{kind}: {message}" if message else kind)
        # The core names every kind; a kind outside ErrorKind would be a core bug.
        self.kind = cast(ErrorKind, kind)
        self.code = code
        self.message = message
        self.sub_message = sub_message
        self.http_status = http_status
        self.retry_after_ms = retry_after_ms
        self.app = app
        self.call_id = call_id
        self.raw_body = raw_body
        self.field = field
        #: For callback refusals: exactly why (``bad_signature``, ``receive_id_mismatch``, …).
        self.reason = reason

    @classmethod
    def from_output(cls, error: Dict[str, Any]) -> "WxError":
        return cls(error["kind"], error.get("message") or "", code=error.get("code"),
                   sub_message=error.get("sub_message"), http_status=error.get("http_status"),
                   retry_after_ms=error.get("retry_after_ms"), app=error.get("app") or "",
                   call_id=error.get("call_id") or 0, raw_body=error.get("raw_body"))

    @classmethod
    def from_native(cls, e: Any) -> "WxError":
        message = getattr(e, "detail", None) or str(e)
        if hasattr(e, "reason"):  # a refused callback
            return cls(e.kind, message, reason=e.reason)
        return cls("config", message, field=getattr(e, "field", None))

    def __repr__(self) -> str:
        return f"WxError(kind={self.kind!r}, code={self.code!r}, message={self.message!r})"


__all__ = ["WxError", "KINDS", "_NativeError"]
