"""wxcore: the client core for the WeChat family of server APIs.

    from wxcore import Client, WxError

    client = Client({"apps": [{"id": "oa", "platform": "wechat-oa",
                               "app_id": "wx…", "secret": "…"}]})
    user = client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": "o1"})

Tokens, retries, quotas, rate limits and host failover are decided by the
Rust engine (`wxcore._native.Engine`); this package only runs its loop.
"""

from ._callback import CallbackCrypto, CallbackMessage, Inbound, jssdk_config, jssdk_signature
from ._client import Client, Reply
from ._errors import KINDS, WxError
from ._native import Engine
from ._security import api_security_open, api_security_seal, api_security_sign, api_security_verify

try:  # optional: needs httpx
    from ._async import AsyncClient
except ImportError:  # pragma: no cover - exercised when httpx is absent
    AsyncClient = None  # type: ignore[assignment,misc]

__all__ = ["Client", "AsyncClient", "Reply", "WxError", "KINDS", "Engine", "CallbackCrypto", "CallbackMessage", "Inbound",
           "jssdk_signature", "jssdk_config", "api_security_seal", "api_security_open", "api_security_sign",
           "api_security_verify"]
