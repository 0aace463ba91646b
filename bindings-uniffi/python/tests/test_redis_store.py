"""The Redis store over a real redis-server: each script travels once and is
then called by its digest, and a Redis that lost its scripts (a restart,
SCRIPT FLUSH) costs a reload, not a failed operation."""

import asyncio
import shutil
import socket
import subprocess
import time

import pytest

redis = pytest.importorskip("redis")

from wxcore.redis_store import AsyncRedisStore, RedisStore  # noqa: E402


@pytest.fixture(scope="module")
def url():
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.skip("redis-server not installed (make redis)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    probe = redis.Redis.from_url(url)
    try:
        for _ in range(100):
            try:
                probe.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(5)


def calls(r, command):
    return r.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)


def loads(r):
    return calls(r, "script|load") + calls(r, "script")  # Redis 7 names the subcommand, 6 does not


def test_scripts_run_by_digest_and_survive_a_script_flush(url):
    admin = redis.Redis.from_url(url)
    admin.flushall()
    admin.script_flush()  # flushall keeps scripts: each test starts without any
    admin.config_resetstat()
    store = RedisStore.from_url(url)
    assert store.execute({"op": "lock", "key": "k:lock", "owner": "me", "ttl_ms": 5000}) == {"locked": True}
    assert store.execute({"op": "incr_by", "key": "k:q", "delta": 2, "ttl_ms": 5000}) == {"count": 2}
    assert store.execute({"op": "incr_by", "key": "k:q", "delta": 3, "ttl_ms": 5000}) == {"count": 5}
    assert 0 < admin.pttl("k:q") <= 5000
    assert calls(admin, "eval") == 0
    assert loads(admin) == 1  # incr_by's script, once; unlock's is not needed yet

    admin.script_flush()  # what a restarted Redis knows
    store.execute({"op": "unlock", "key": "k:lock", "owner": "someone-else"})
    assert admin.get("k:lock") == b"me"  # not ours to delete
    store.execute({"op": "unlock", "key": "k:lock", "owner": "me"})
    assert admin.get("k:lock") is None
    assert store.execute({"op": "incr_by", "key": "k:q", "delta": 1, "ttl_ms": 5000}) == {"count": 6}
    assert calls(admin, "eval") == 0
    assert calls(admin, "evalsha") >= 5
    assert loads(admin) == 1 + 2  # after the flush, each script once more


def test_a_set_with_ttl_0_is_durable_and_one_with_a_ttl_expires(url):
    admin = redis.Redis.from_url(url)
    store = RedisStore.from_url(url)
    store.execute({"op": "set", "key": "d:refresh", "value": '{"v":1}', "ttl_ms": 0})
    store.execute({"op": "set", "key": "d:token", "value": '{"v":1}', "ttl_ms": 5000})
    assert admin.pttl("d:refresh") == -1  # no expiry: no cache policy of volatile keys evicts it
    assert 0 < admin.pttl("d:token") <= 5000


def test_the_async_store_runs_scripts_by_digest(url):
    admin = redis.Redis.from_url(url)
    admin.flushall()
    admin.script_flush()  # flushall keeps scripts: each test starts without any
    admin.config_resetstat()

    async def main():
        store = AsyncRedisStore.from_url(url)
        try:
            first = await store.execute({"op": "incr_by", "key": "a:q", "delta": 4, "ttl_ms": 5000})
            admin.script_flush()
            second = await store.execute({"op": "incr_by", "key": "a:q", "delta": 1, "ttl_ms": 5000})
            return first, second
        finally:
            await store.client.aclose()

    assert asyncio.run(main()) == ({"count": 4}, {"count": 5})
    assert calls(admin, "eval") == 0
    assert calls(admin, "evalsha") >= 2
    assert loads(admin) == 2
