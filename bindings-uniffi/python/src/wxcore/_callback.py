"""Callback crypto and JS-SDK signatures (the core's `callback` module)."""

from __future__ import annotations

import json
import os
import secrets
import time
from typing import Any, Dict, Iterable, Mapping, Optional, Union

from ._errors import WxError, _NativeError
from ._hot import HotCrypto
from ._native import CallbackCrypto as _NativeCrypto
from ._native import jssdk_config_json as _jssdk_config_json
from ._native import jssdk_signature as _jssdk_signature


class CallbackMessage(Dict[str, Any]):
    """A decrypted message: a dict of its fields, with typed accessors. As
    the core gives it: text fields are ``str``, an element with child
    elements a ``dict`` (``ScanCodeInfo``, ``SendLocationInfo``), an element
    repeated under one parent a ``list`` (``PicList["item"]``)."""

    @property
    def msg_type(self) -> Optional[str]:
        return self.get("MsgType")

    @property
    def event(self) -> Optional[str]:
        return self.get("Event")

    @property
    def from_user(self) -> Optional[str]:
        return self.get("FromUserName")

    @property
    def to_user(self) -> Optional[str]:
        return self.get("ToUserName")

    @property
    def create_time(self) -> Optional[int]:
        v = self.get("CreateTime")
        return int(v) if isinstance(v, str) and v.strip().isdigit() else None

    @property
    def agent_id(self) -> Optional[int]:
        v = self.get("AgentID")
        return int(v) if isinstance(v, str) and v.strip().isdigit() else None


class Push:
    """What a push to a callback URL came to (:meth:`Client.handle_push`):
    ``reply`` to answer the platform with; the push's ``info_type``;
    ``ticket_kept`` for a ticket push (False: not newer than the held one,
    ignored); ``message`` for any other push, verified, for you to act on;
    ``authorizer`` for an authorization push (``authorized``,
    ``updateauthorized``, ``unauthorized``): the authorizer's app name,
    ``{component}/{authorizer_appid}``, already acted on."""

    __slots__ = ("reply", "info_type", "ticket_kept", "message", "authorizer")

    def __init__(self, reply: str, info_type: str, ticket_kept: Optional[bool],
                 message: Optional[CallbackMessage], authorizer: Optional[str] = None) -> None:
        self.reply = reply
        self.info_type = info_type
        self.ticket_kept = ticket_kept
        self.message = message
        self.authorizer = authorizer

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> "Push":
        message = doc.get("message")
        return cls(doc["reply"], doc["info_type"], doc.get("ticket_kept"),
                   CallbackMessage(message) if isinstance(message, dict) else None, doc.get("authorizer"))

    def __repr__(self) -> str:
        return f"Push(info_type={self.info_type!r}, ticket_kept={self.ticket_kept!r})"


def _bytes(value: Any) -> bytes:
    """Text or bytes as bytes, unchanged: the core judges them (a string the
    framework decoded with surrogates comes out as the bytes it stood for)."""
    if value is None:
        return b""
    if isinstance(value, str):
        try:
            return value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass")
    return bytes(value)


def _str(value: Any) -> str:
    """A parameter as text the boundary can carry: lone surrogates become
    U+FFFD, so the core refuses what they stood for instead of Python."""
    text = value if isinstance(value, str) else (_bytes(value).decode("utf-8", "replace"))
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return _bytes(text).decode("utf-8", "replace")


def _query_json(query: Mapping[str, Any]) -> bytes:
    """Query parameters as JSON text for the core (the first of repeated
    values); lone surrogates travel as JSON escapes, which the core refuses."""
    def one(v: Any) -> str:
        if isinstance(v, (list, tuple)):
            v = v[0] if v else ""
        if isinstance(v, (bytes, bytearray)):
            return bytes(v).decode("utf-8", "surrogateescape")
        return v if isinstance(v, str) else str(v)
    return json.dumps({one(k): one(v) for k, v in (query or {}).items()}).encode()


class CallbackCrypto:
    """WXBizMsgCrypt for one app. The receive id (corp id, suite id, AppID; ""
    for WeCom bots) is checked strictly unless ``accept_receive_ids`` is given;
    ``max_age_s`` turns on a replay window against ``now_s`` (default: the clock).
    ``url_check`` says which URL check the receiver accepts: ``"signature"``
    (Official Accounts), ``"msg_signature"`` (WeCom apps, suites, bots) or
    ``"either"`` (the default); a ``msg_signature`` is only ever checked as
    the four-part signature."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str, *,
                 accept_receive_ids: Optional[Iterable[str]] = None, max_age_s: Optional[int] = None,
                 url_check: Optional[str] = None) -> None:
        try:
            self._c = _NativeCrypto(token, encoding_aes_key, receive_id,
                                    list(accept_receive_ids) if accept_receive_ids is not None else None, max_age_s,
                                    url_check)
        except _NativeError as e:
            raise WxError.from_native(e) from None
        self._max_age = max_age_s
        self._hot = HotCrypto(self._c)

    def _now(self, now_s: Optional[int]) -> Optional[int]:
        if self._max_age is None:
            return None
        return int(time.time()) if now_s is None else now_s

    def verify_url(self, signature: str, timestamp: str, nonce: str, echostr: str, now_s: Optional[int] = None,
                   *, param: Optional[str] = None) -> str:
        """The body to answer a URL check with. ``param`` names the query
        parameter the signature came in (``"signature"`` or
        ``"msg_signature"``); without it the receiver's ``url_check`` decides."""
        args = (_str(signature), _str(timestamp), _str(nonce), _str(echostr), self._now(now_s))
        try:
            if param is not None:
                return self._c.verify_url_param(_str(param), *args)
            return self._c.verify_url(*args)
        except _NativeError as e:
            raise WxError.from_native(e) from None

    def decrypt(self, msg_signature: str, timestamp: str, nonce: str, body: Union[str, bytes],
                now_s: Optional[int] = None) -> str:
        """The plaintext of a callback body (XML with Encrypt, or JSON with encrypt)."""
        # One buffer each way, through the hot path (see _hot.HotCrypto).
        packed = b"\0".join((_bytes(msg_signature), _bytes(timestamp), _bytes(nonce), _bytes(body)))
        now = self._now(now_s)
        ok, out = self._hot.decrypt_packed(packed, now is not None, now or 0)
        if ok:
            return out.decode()
        kind, reason, detail = out.decode(errors="replace").split("\0", 2)
        # As WxError.from_native words a refusal that came through uniffi.
        if kind == "config":
            raise WxError("config", detail or f"config error at `{reason}`: ", field=reason)
        raise WxError(kind, detail or f"{kind} ({reason}): ", reason=reason)

    def decrypt_message(self, msg_signature: str, timestamp: str, nonce: str, body: Union[str, bytes],
                        now_s: Optional[int] = None) -> CallbackMessage:
        try:
            text = self._c.decrypt_message(_str(msg_signature), _str(timestamp), _str(nonce), _bytes(body),
                                           self._now(now_s))
        except _NativeError as e:
            raise WxError.from_native(e) from None
        return CallbackMessage(json.loads(text))

    def handle_request(self, method: str, query: Mapping[str, Any], body: Union[str, bytes, None] = None,
                       now_s: Optional[int] = None) -> "Inbound":
        """Framework glue: the request's method, query parameters and body in;
        an :class:`Inbound` out: ``echo`` (answer a URL check with it as it
        is) or ``message`` (verified and decrypted). Refusals raise WxError."""
        try:
            r = self._c.handle_request(_str(method), _query_json(query), _bytes(body), self._now(now_s))
        except _NativeError as e:
            raise WxError.from_native(e) from None
        if r.is_echo():
            return Inbound(echo=r.body)
        return Inbound(plaintext=r.plaintext, message=CallbackMessage(json.loads(r.message_json)))

    def reply(self, reply: str, now_s: Optional[int] = None) -> str:
        """The encrypted passive-reply body for ``reply``, with a fresh timestamp and nonce."""
        timestamp = str(now_s if now_s is not None else int(time.time()))
        return self.encrypt(reply, timestamp, str(secrets.randbelow(10 ** 10)).zfill(10))

    def encrypt(self, reply: str, timestamp: str, nonce: str, random16: Optional[bytes] = None) -> str:
        """The encrypted passive-reply XML body (16 random bytes from ``os.urandom`` unless given)."""
        try:
            return self._c.encrypt(reply, timestamp, nonce, random16 if random16 is not None else os.urandom(16))
        except _NativeError as e:
            raise WxError.from_native(e) from None


class Inbound:
    """What a callback request asks for: ``echo`` is set for a URL check
    (answer with it, as text); ``message`` and ``plaintext`` for a message."""

    __slots__ = ("echo", "plaintext", "message")

    def __init__(self, echo: Optional[str] = None, plaintext: Optional[str] = None,
                 message: Optional[CallbackMessage] = None) -> None:
        self.echo = echo
        self.plaintext = plaintext
        self.message = message

    def __repr__(self) -> str:
        return f"Inbound(echo={self.echo!r})" if self.echo is not None else f"Inbound(message={self.message!r})"


def jssdk_signature(jsapi_ticket: str, noncestr: str, timestamp: Union[str, int], url: str) -> str:
    """``sha1("jsapi_ticket=…&noncestr=…&timestamp=…&url=…")`` with the URL's fragment removed."""
    return _jssdk_signature(jsapi_ticket, noncestr, str(timestamp), url)


def jssdk_config(app_id: str, jsapi_ticket: str, url: str, noncestr: Optional[str] = None,
                 timestamp: Optional[Union[str, int]] = None) -> Dict[str, str]:
    """The object a page passes to ``wx.config``: appId, timestamp, nonceStr, signature."""
    # The host supplies randomness and the clock; the core builds the object.
    noncestr = noncestr or secrets.token_urlsafe(12)
    ts = str(timestamp if timestamp is not None else int(time.time()))
    return json.loads(_jssdk_config_json(app_id, jsapi_ticket, noncestr, ts, url))
