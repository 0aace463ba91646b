"""WeChat server API security, for tests and custom drivers.

The engine seals and signs calls to the APIs listed in an app's
``api_security`` option and verifies and opens their replies by itself;
these functions expose the same primitives (AES-256-GCM sealing, RSA-PSS
SHA-256 signatures) for checking published values and for tooling."""

from __future__ import annotations

import os
from typing import Optional, Union

from ._errors import WxError, _NativeError
from ._native import api_security_open as _open
from ._native import api_security_seal as _seal
from ._native import api_security_sign as _sign
from ._native import api_security_verify as _verify

Bytes = Union[str, bytes]


def _b(v: Bytes) -> bytes:
    return v.encode() if isinstance(v, str) else bytes(v)


def api_security_seal(sym_key: str, sym_sn: str, app_id: str, url_path: str, timestamp: int, iv: bytes,
                      plaintext: Bytes) -> str:
    """The sealed body ``{"iv","data","authtag"}`` (AAD ``url_path|app_id|timestamp|sym_sn``)."""
    try:
        return _seal(sym_key, sym_sn, app_id, url_path, timestamp, bytes(iv), _b(plaintext))
    except _NativeError as e:
        raise WxError.from_native(e) from None


def api_security_open(sym_key: str, sym_sn: str, app_id: str, url_path: str, timestamp: int, body: Bytes) -> bytes:
    """The plaintext of a sealed body; ``WxError`` (``signature_invalid``) if it does not open."""
    try:
        return bytes(_open(sym_key, sym_sn, app_id, url_path, timestamp, _b(body)))
    except _NativeError as e:
        raise WxError.from_native(e) from None


def api_security_sign(private_key_pem: str, url_path: str, app_id: str, timestamp: int, data: Bytes,
                      seed: Optional[bytes] = None) -> str:
    """RSA-PSS SHA-256 (salt 32) signature, base64, of ``url_path\\napp_id\\ntimestamp\\ndata``."""
    try:
        return _sign(private_key_pem, url_path, app_id, timestamp, _b(data), seed if seed is not None else os.urandom(32))
    except _NativeError as e:
        raise WxError.from_native(e) from None


def api_security_verify(key_pem: str, url_path: str, app_id: str, timestamp: int, data: Bytes, signature: str) -> bool:
    """Whether ``signature`` verifies under ``key_pem`` (certificate, public or private key)."""
    try:
        return _verify(key_pem, url_path, app_id, timestamp, _b(data), signature)
    except _NativeError as e:
        raise WxError.from_native(e) from None
