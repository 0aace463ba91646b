"""The types users plug in and pass: transports, stores, the config, error kinds.

The config's shape is the core's (core/src/config.rs): its TypedDicts let a
type checker catch a misspelled key before the engine refuses it at start.
"""

from __future__ import annotations

from typing import Any, Awaitable, Dict, List, Literal, Mapping, Optional, Protocol, Tuple, TypedDict, Union

#: The stable error kind names shared by every language (``KINDS`` holds the
#: same names, read from the core at import; a test keeps the two equal).
ErrorKind = Literal[
    "token_invalid", "credential_invalid", "secret_frozen", "ip_not_whitelisted", "admin_confirmation_required",
    "ip_blocked", "rate_limited", "quota_exhausted", "busy", "invalid_request", "permission_denied",
    "not_following", "business", "malformed_response", "transport", "signature_invalid", "config", "unknown",
    "timeout", "cancelled", "ticket_unavailable", "not_authorized",
]

Headers = Dict[str, str]
#: What a transport answers: the status, the response headers and the body.
HttpAnswer = Tuple[int, Mapping[str, str], bytes]
#: One engine store operation (``{"op": "get", "key": …, "id": …}``, …) and its result.
StoreOp = Dict[str, Any]
StoreResult = Mapping[str, Any]


class HttpTransport(Protocol):
    """``Client(http=…)``: performs one request. Follows no redirect, treats
    ``timeout_s`` as a deadline for the whole exchange, and raises an
    ``OSError`` subclass on failure (``socket.gaierror``, ``ConnectionRefusedError``,
    :class:`~wxcore.ConnectTimeout` while connecting, ``TimeoutError``,
    ``ssl.SSLError``; anything else counts as a reset)."""

    # Positional-only, so a plain function with its own parameter names fits.
    def __call__(self, method: str, url: str, headers: Headers, body: Optional[bytes], timeout_s: float,
                 /) -> HttpAnswer: ...


class AsyncHttpTransport(Protocol):
    """``AsyncClient(http=…)``: the same as :class:`HttpTransport`, awaited."""

    def __call__(self, method: str, url: str, headers: Headers, body: Optional[bytes], timeout_s: float,
                 /) -> Awaitable[HttpAnswer]: ...


class Store(Protocol):
    """``Client(store=…)`` in fleet mode: runs one store operation (see
    :mod:`wxcore.redis_store`); any exception degrades the engine to local behaviour."""

    def execute(self, op: StoreOp, /) -> StoreResult: ...


class AsyncStore(Protocol):
    """``AsyncClient(store=…)``: the same as :class:`Store`, awaited."""

    def execute(self, op: StoreOp, /) -> Awaitable[StoreResult]: ...


class QuotaConfig(TypedDict, total=False):
    mode: Literal["enforce", "warn", "off"]
    tier: str
    limits: Dict[str, int]


class RateLimitConfig(TypedDict, total=False):
    per_minute: int
    burst: int
    concurrency: int


class RetryConfig(TypedDict, total=False):
    max_attempts: int
    base_delay_ms: int
    max_delay_ms: int
    jitter: bool
    max_rate_limit_retries: int


class FailoverConfig(TypedDict, total=False):
    threshold: int
    cooldown_ms: int


class _CredentialRequired(TypedDict):
    source: Literal["server", "relay"]
    url: Union[str, List[str]]
    key: str


class CredentialConfig(_CredentialRequired, total=False):
    """An app's token from a wxcore token server instead of the platform."""

    app: str


# Functional form: ``in`` is a keyword.
TokenPlacement = TypedDict("TokenPlacement", {"in": Literal["query", "header"], "name": str, "prefix": str,
                                              "extra": List[List[str]]}, total=False)


class ApiSecurityConfig(TypedDict):
    sym_key: str
    sym_sn: str
    private_key: str
    platform_keys: Dict[str, str]
    paths: List[str]


class CallbackKeys(TypedDict):
    """The callback URL's keys (the console's Token and EncodingAESKey)."""

    token: str
    encoding_aes_key: str


class _AppRequired(TypedDict):
    id: str
    #: ``wechat-oa``, ``wecom``, ``jing``, ``cj``, ``result``, ``wechat-component``,
    #: ``wecom-suite``, or a custom profile's name.
    platform: str


class AppConfig(_AppRequired, total=False):
    app_id: str
    corp_id: str
    agent_id: str
    secret: str
    token_endpoint: str
    base_url: str
    hosts: List[str]
    regions: List[str]
    token_path: str
    refresh_path: str
    token_placement: TokenPlacement
    rate_limit: RateLimitConfig
    quota: QuotaConfig
    api_security: ApiSecurityConfig
    credential: CredentialConfig
    #: For platforms that push the ticket the token needs (``wechat-component``, ``wecom-suite``).
    callback: CallbackKeys


class _ConfigRequired(TypedDict):
    apps: List[AppConfig]


class Config(_ConfigRequired, total=False):
    """The engine's configuration (README, "Configuration")."""

    refresh_margin_ms: int
    refresh_jitter_ms: int
    prefetch_tokens: bool
    quota: QuotaConfig
    store: Literal["memory", "external"]
    store_prefix: str
    lease_ms: Optional[int]
    store_poll_ms: int
    instance_id: str
    seed: int
    retry: RetryConfig
    failover: FailoverConfig
    rate_limit: RateLimitConfig
    timeout_ms: int
    call_timeout_ms: Optional[int]
    store_timeout_ms: Optional[int]
    profiles: Dict[str, Dict[str, Any]]
    entropy: str


#: What ``Client`` and ``AsyncClient`` take: the config as a dict or as JSON text.
ConfigInput = Union[str, Config]

#: The level the core gives each event; the clients log it at the matching
#: :mod:`logging` level (``warn`` as ``WARNING``).
EventLevel = Literal["debug", "info", "warn", "error"]

#: How a request failed below HTTP (``connect_timeout``: the TCP or TLS
#: connect took too long, so the request never left).
TransportKind = Literal["dns", "dns_timeout", "connect", "connect_timeout", "timeout", "reset", "tls"]

#: What an alert counts, per app.
AlertCategory = Literal["dns_failure", "dns_timeout", "connect_failure", "connect_timeout", "request_timeout",
                        "connection_reset", "tls_failure", "response_invalid", "mark_fail"]


class TokenStatus(TypedDict):
    """The cached token, by id: never its value."""

    #: 16 hex digits of a SHA-256 of the token: tells tokens apart, reveals nothing.
    id: str
    obtained_at_ms: Optional[int]
    age_ms: Optional[int]
    expires_at_ms: int
    remaining_ms: int
    #: When the engine will refresh it; ``None`` if never before it expires.
    refresh_at_ms: Optional[int]


class RefreshStatus(TypedDict):
    at_ms: int
    trigger: Literal["initial", "refresh", "expired", "invalidated"]
    #: ``ok``, or the error kind the fetch failed with.
    result: Union[Literal["ok"], ErrorKind]
    code: Union[int, str, None]


class AppStatus(TypedDict):
    app: str
    platform: str
    #: Where the token comes from: the app's secret, a token server, a relay, or a static token.
    credential: Literal["secret", "server", "relay", "static"]
    token: Optional[TokenStatus]
    fetching: bool
    last_refresh: Optional[RefreshStatus]
    refreshes: int
    #: Calls held back by the rate limit.
    queued: int
    in_flight: int
    waiting_for_token: int
    #: Calls are refused locally until then (IP blocked).
    blocked_until_ms: Optional[int]


class QuotaStatus(TypedDict):
    """Today's use of one API with a daily quota."""

    app: str
    api: str
    used: int
    limit: Optional[int]
    #: ``used * 100 // limit``; ``None`` without a limit.
    percent: Optional[int]
    exhausted: bool
    #: The next reset (00:00 Asia/Shanghai).
    resets_at_ms: int


class HostStatus(TypedDict):
    """A host's circuit."""

    host: str
    state: Literal["closed", "open", "half_open"]
    until_ms: Optional[int]
    failures: int


class AlertSample(TypedDict):
    """The latest failure of an alert: where, and what (never a token or a user id)."""

    host: str
    api: str
    error: str


class AlertStatus(TypedDict):
    app: str
    category: AlertCategory
    #: While its 5-minute window has not ended.
    open: bool
    first_seen_ms: int
    #: ``first_seen_ms`` as UTC text (``2023-11-14 22:13:20 UTC``).
    first_seen: str
    last_seen_ms: int
    window_start_ms: int
    window_ms: int
    #: Failures in the current window; 0 once it has ended.
    count_window: int
    count_total: int
    sample: AlertSample


class Status(TypedDict):
    """The status snapshot (``Client.status()``), the same document in every language."""

    #: The layout's version: bumped when a field changes meaning.
    version: int
    now_ms: int
    apps: List[AppStatus]
    quotas: List[QuotaStatus]
    hosts: List[HostStatus]
    alerts: List[AlertStatus]

__all__ = ["ErrorKind", "Headers", "HttpAnswer", "StoreOp", "StoreResult", "HttpTransport", "AsyncHttpTransport",
           "Store", "AsyncStore", "Config", "AppConfig", "CredentialConfig", "CallbackKeys", "TokenPlacement", "ApiSecurityConfig",
           "QuotaConfig", "RateLimitConfig", "RetryConfig", "FailoverConfig", "ConfigInput", "EventLevel",
           "TransportKind", "AlertCategory", "TokenStatus", "RefreshStatus", "AppStatus", "QuotaStatus", "HostStatus",
           "AlertSample", "AlertStatus", "Status"]
