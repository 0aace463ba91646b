"""wxcore: the client core for the WeChat family of server APIs.

    from wxcore import Client, WxError

    client = Client({"apps": [{"id": "oa", "platform": "wechat-oa",
                               "app_id": "wx…", "secret": "…"}]})
    user = client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": "o1"})

Tokens, retries, quotas, rate limits and host failover are decided by the
Rust engine (`wxcore._native.Engine`); this package only runs its loop.
"""

from ._async import AsyncClient
from ._callback import CallbackCrypto, CallbackMessage, Inbound, Push, jssdk_config, jssdk_signature
from ._client import Client, Reply
from ._errors import KINDS, WxError
from ._http import ConnectTimeout, PooledHttp, urllib_http
from ._native import Engine
from ._security import api_security_open, api_security_seal, api_security_sign, api_security_verify
from ._types import (AlertCategory, AlertStatus, AppConfig, AppStatus, AsyncHttpTransport, AsyncStore,
                     CallbackKeys, Config, CredentialConfig, ErrorKind, EventLevel, HostStatus, HttpTransport, QuotaStatus, Status, Store,
                     TokenStatus, TransportKind)
from ._version import __version__

__all__ = ["Client", "AsyncClient", "Reply", "WxError", "KINDS", "Engine", "CallbackCrypto", "CallbackMessage", "Inbound", "Push",
           "jssdk_signature", "jssdk_config", "api_security_seal", "api_security_open", "api_security_sign",
           "api_security_verify", "PooledHttp", "urllib_http", "HttpTransport", "AsyncHttpTransport", "Store",
           "AsyncStore", "Config", "AppConfig", "CredentialConfig", "CallbackKeys", "ErrorKind", "ConnectTimeout", "Status", "AppStatus",
           "TokenStatus", "QuotaStatus", "HostStatus", "AlertStatus", "AlertCategory", "EventLevel", "TransportKind",
           "__version__"]
