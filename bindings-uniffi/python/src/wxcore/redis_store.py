"""Fleet mode over Redis (redis-py): executes the engine's store operations,
nothing more. Which key, when to lock, how long a lease lasts and what to do
when Redis fails are the engine's decisions (core/src/store.rs).

    import redis
    from wxcore import Client
    from wxcore.redis_store import RedisStore

    store = RedisStore.from_url("redis://10.0.0.5:6379/0")
    client = Client({"apps": [...], "store": "external"}, store=store)

A client of your own works too (``RedisStore(redis.Redis(...))``); give it
short socket timeouts and no retries (redis-py retries a failed command for
about 4 s by default): an operation that fails fast lets the engine fall
back to local behaviour at once instead of holding calls.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Tuple

# Delete the lease only if this process still owns it: a lease that expired
# and was taken by another process must survive our late unlock.
UNLOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"
# Count and set the expiry (the next quota reset) in one step, so a crash
# between the two cannot leave a counter that never resets.
INCR_BY = "local n = redis.call('INCRBY', KEYS[1], ARGV[1]) redis.call('PEXPIRE', KEYS[1], ARGV[2]) return n"


def fail_fast(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """redis-py options for a store the engine can fall back from: short
    timeouts, no retries; the caller's own options win."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return {"socket_timeout": 0.5, "socket_connect_timeout": 0.5, "retry": Retry(NoBackoff(), 0), **kwargs}


def _text(v: Any) -> Any:
    return v.decode() if isinstance(v, bytes) else v


def _command(client: Any, scripts: Dict[str, Any], op: Dict[str, Any]) -> Tuple[Any, Callable[[Any], Dict[str, Any]]]:
    """The redis-py call for one operation (unsent: a result, or a coroutine
    on an asyncio client), and how to read its answer."""
    kind, key = op["op"], op["key"]
    if kind == "get":
        return client.get(key), lambda v: {"value": _text(v)}
    if kind == "set":
        # ttl_ms 0: durable state (an authorizer's refresh token), no expiry.
        return client.set(key, op["value"], px=op["ttl_ms"] or None), lambda _: {"ok": True}
    if kind == "lock":
        return client.set(key, op["owner"], px=op["ttl_ms"], nx=True), lambda v: {"locked": bool(v)}
    if kind == "unlock":
        return scripts["unlock"](keys=[key], args=[op["owner"]]), lambda _: {"ok": True}
    if kind == "incr_by":
        return scripts["incr_by"](keys=[key], args=[op["delta"], op["ttl_ms"]]), lambda v: {"count": int(v)}
    raise ValueError(f"unknown store operation {kind!r}")


def _scripts(client: Any) -> Dict[str, Any]:
    # EVALSHA with the script's digest instead of sending its text each time;
    # redis-py loads it on the first NOSCRIPT (a new or restarted Redis) and
    # runs it again, so a restart costs one extra round trip, no error.
    return {"unlock": client.register_script(UNLOCK), "incr_by": client.register_script(INCR_BY)}


class RedisStore:
    """For :class:`wxcore.Client`: ``execute(op) -> result`` over a ``redis.Redis``."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._scripts = _scripts(client)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> "RedisStore":
        """A store over ``redis.Redis.from_url(url)`` with fail-fast defaults."""
        import redis

        return cls(redis.Redis.from_url(url, **fail_fast(kwargs)))

    def execute(self, op: Dict[str, Any]) -> Dict[str, Any]:
        answer, read = _command(self.client, self._scripts, op)
        return read(answer)


class AsyncRedisStore:
    """For :class:`wxcore.AsyncClient`: the same over a ``redis.asyncio.Redis``."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._scripts = _scripts(client)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> "AsyncRedisStore":
        """A store over ``redis.asyncio.Redis.from_url(url)`` with fail-fast defaults."""
        import redis.asyncio

        return cls(redis.asyncio.Redis.from_url(url, **fail_fast(kwargs)))

    async def execute(self, op: Dict[str, Any]) -> Dict[str, Any]:
        pending, read = _command(self.client, self._scripts, op)
        return read(await pending)
