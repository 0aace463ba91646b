"""Fleet mode end to end: real redis-server, the simulator, Node and Python
worker processes. Slow by nature (seconds of real time each), bounded."""

import threading
import time
import urllib.error
import uuid

import pytest

from fleet import PATH, RedisServer, Simulator, Worker, count, job, rotation_run, start_workers, totals


@pytest.fixture
def sim():
    s = Simulator()
    yield s
    s.close()


@pytest.fixture
def rds():
    r = RedisServer()
    yield r
    r.stop()


def new_app():
    return "wxfleet" + uuid.uuid4().hex[:8]


def test_rotations_cost_one_fetch_each_and_no_caller_sees_a_token_error():
    r = rotation_run()
    print(f"token fetches: {r['x']} (floor {r['y']}), token errors seen by callers: {r['z']}")
    t = r["totals"]
    assert r["y"] >= 4, "the run spans several rotations"
    assert r["x"] <= r["y"] + 1
    assert r["z"] == 0
    assert t["failed"] == 0 and t["ok"] == t["submitted"] > 0


def test_a_worker_killed_holding_the_lease_is_replaced_after_the_lease_ttl(sim, rds):
    app = new_app()
    sim.configure(token_latency_ms=1500)  # the lease holder is still fetching when it dies
    r = rds.client()
    # One attempt of at most 2 s: the lease (derived from a fetch's worst
    # case, 2 × 2 s + 2 s) outlives the holder's fetch by design, and runs
    # out 6 s after the holder took it.
    quick = {"timeout_ms": 2000, "retry": {"max_attempts": 1, "base_delay_ms": 20, "max_delay_ms": 200}}
    [holder] = start_workers(1, job(sim, rds, app, 10_000, concurrency=1, **quick), prefix="holder")
    for _ in range(200):
        if r.keys("wxfleet:lock:*"):
            break
        time.sleep(0.01)
    assert r.keys("wxfleet:lock:*"), "the first worker never took the lease"
    holder.kill()
    others = start_workers(2, job(sim, rds, app, 9_000, concurrency=2, **quick), prefix="heir")
    summaries = [w.wait() for w in others]
    t = totals(summaries)
    assert t["failed"] == 0 and t["ok"] == t["submitted"] > 0, summaries
    fetched_http = sum(s["events"].get("token_fetched:http", 0) for s in summaries)
    assert fetched_http == 1, summaries  # one heir fetched after the lease expired; the other read it
    assert r.keys("wxfleet:token:*")
    assert count(sim.counters(), "token_fetches", app) <= 2  # the dead holder's fetch, if it was sent, and the heir's


def test_redis_stopped_and_restarted_mid_run_loses_no_call(sim, rds):
    app = new_app()
    sim.configure(token_ttl_s=4, stable_renew_s=1)
    ws = start_workers(4, job(sim, rds, app, 11_000, concurrency=2))
    time.sleep(3)
    rds.stop()
    time.sleep(3)
    rds.start()  # same port, empty: no persistence
    summaries = [w.wait() for w in ws]
    t = totals(summaries)
    assert t["failed"] == 0 and t["ok"] == t["submitted"] > 0, summaries
    assert all(s["events"].get("store_unavailable", 0) > 0 for s in summaries), summaries
    # Rejoined: a token fetched after the restart was shared through Redis again.
    assert rds.client().keys("wxfleet:token:*")


def test_daily_quota_is_shared_across_the_fleet(sim, rds):
    app = new_app()
    path = "/cgi-bin/user/get"
    ws = start_workers(4, job(sim, rds, app, 3_000, path=path, concurrency=2, interval_ms=10,
                              app={"quota": {"limits": {path: 40}}}))
    summaries = [w.wait() for w in ws]
    t = totals(summaries)
    assert t["submitted"] > 40
    assert count(sim.counters(), "calls", app, path) == 40
    refused = sum(s["errors"].get("quota_exhausted", 0) for s in summaries)
    assert refused == t["submitted"] - 40 and t["ok"] == 40, summaries


def test_the_python_adapter_executes_each_operation(rds):
    from wxcore.redis_store import RedisStore

    store, r = RedisStore.from_url(f"redis://127.0.0.1:{rds.port}/0"), rds.client()
    assert store.execute({"op": "get", "key": "k"}) == {"value": None}
    store.execute({"op": "set", "key": "k", "value": '{"v":1}', "ttl_ms": 60_000})
    assert store.execute({"op": "get", "key": "k"}) == {"value": '{"v":1}'} and 0 < r.pttl("k") <= 60_000
    assert store.execute({"op": "lock", "key": "l", "owner": "p1", "ttl_ms": 5_000}) == {"locked": True}
    assert store.execute({"op": "lock", "key": "l", "owner": "p2", "ttl_ms": 5_000}) == {"locked": False}
    store.execute({"op": "unlock", "key": "l", "owner": "p2"})  # not the owner: the lease stays
    assert r.get("l") == "p1"
    store.execute({"op": "unlock", "key": "l", "owner": "p1"})
    assert r.get("l") is None
    assert store.execute({"op": "incr_by", "key": "q", "delta": 2, "ttl_ms": 30_000}) == {"count": 2}
    assert 0 < r.pttl("q") <= 30_000
    rds.stop()
    with pytest.raises(Exception):  # fails at once, so the engine can fall back
        store.execute({"op": "get", "key": "k"})


class PushDispatcher:
    """The component's one authorization event URL in front of the fleet:
    each push the platform sends goes on to a random worker's callback URL
    (as a load balancer would), and the worker's answer goes back."""

    def __init__(self, urls):
        import http.server
        import random
        import socketserver
        import urllib.request

        rng = random.Random(7)
        urls = list(urls)
        self.urls = urls
        self.landed = {u: 0 for u in urls}

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(h):
                body = h.rfile.read(int(h.headers.get("content-length") or 0))
                url = rng.choice(urls)
                self.landed[url] += 1
                query = h.path.split("?", 1)[1] if "?" in h.path else ""
                req = urllib.request.Request(f"{url}?{query}", data=body, method="POST",
                                             headers={"content-type": "text/xml"})
                try:
                    with urllib.request.urlopen(req, timeout=5) as r:
                        status, reply = r.status, r.read()
                except urllib.error.HTTPError as e:
                    status, reply = e.code, b""
                h.send_response(status)
                h.send_header("content-length", str(len(reply)))
                h.end_headers()
                h.wfile.write(reply)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/wechat/component"

    def add(self, url):
        """One more worker behind the URL."""
        self.landed[url] = 0
        self.urls.append(url)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_pushed_tickets_landing_on_random_processes_cost_one_component_token_fetch_fleet_wide(sim, rds):
    """Four workers (Node and Python) of one component over Redis; the
    platform's pushes land on random workers; no worker has a ticket of its
    own until one lands on it, so the others must read it from the store.
    One component token fetch for the whole run (a second would start the
    death of the first), no failed call, no refused push."""
    appid = "wxcp" + uuid.uuid4().hex[:10]
    secret, cb = "fleet-component-secret", {"token": "fleet-cb", "encoding_aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"}
    pre = "/cgi-bin/component/api_create_preauthcode"
    sim.control("/apps", {"app_id": appid, "secret": secret})
    config = {"apps": [{"id": "cp", "platform": "wechat-component", "app_id": appid, "secret": secret,
                        "callback": cb, "hosts": [sim.primary, sim.dr]}],
              "store": "external", "store_prefix": "wxfleet:", "store_poll_ms": 100, "timeout_ms": 3000,
              "retry": {"base_delay_ms": 20, "max_delay_ms": 200}}
    j = {"config": config, "redis_port": rds.port, "duration_ms": 4000, "path": pre, "app": "cp",
         "json": {"component_appid": appid}, "concurrency": 2, "interval_ms": 20, "push": True, "wait_for_go": True}
    ws = [Worker(lang, f"c{i}-{lang}", j) for i, lang in enumerate(["node", "python", "node", "python"])]
    d = PushDispatcher([w.ready["push_url"] for w in ws])
    try:
        sim.control("/component", {"component_appid": appid, **cb, "url": d.url, "period_ms": 150})
        deadline = time.monotonic() + 10
        while sim.control(f"/component?component_appid={appid}")["pushes_answered"] < 1:
            assert time.monotonic() < deadline, "no push answered"
            time.sleep(0.02)
        for w in ws:
            w.go()
        # Pushes stop before the workers do: a push answered after a
        # worker's summary would count on the platform's side only.
        time.sleep(3.0)
        sim.control("/component/stop", {"component_appid": appid})
        summaries = [w.wait() for w in ws]
    finally:
        d.close()
    c = sim.counters()
    t = totals(summaries)
    report = sim.control(f"/component?component_appid={appid}")
    print(f"{t['submitted']} calls, {report['pushes_answered']} pushes answered, landed {sorted(d.landed.values())}, "
          f"component token fetches {count(c, 'token_fetches', appid)}")
    assert count(c, "token_fetches", appid) == 1
    assert t["failed"] == 0 and t["ok"] == t["submitted"] > 0
    assert all(not s["push_errors"] for s in summaries)
    assert sum(s["pushes"] for s in summaries) == report["pushes_answered"] >= 20
    assert sum(1 for n in d.landed.values() if n > 0) == 4


def test_fifty_authorizers_over_a_fleet_and_a_redis_flush_recovered_from_the_authorizer_list(sim, rds):
    """Four workers (Node and Python) of one component over Redis; 50
    accounts authorize it, each `authorized` push landing on a random
    worker, which takes the tokens in (api_query_auth) and stores them: the
    refresh token durably (no TTL). All four call for all 50 authorizers
    with no refresh at all. Then Redis is flushed mid-run and two new
    workers join, holding nothing: they recover the refresh tokens through
    api_get_authorizer_list and refresh each authorizer once fleet-wide;
    no call fails, nobody is marked for re-authorization."""
    import redis as redis_py

    comp = "wxcp" + uuid.uuid4().hex[:10]
    auths = [f"wxau{uuid.uuid4().hex[:12]}" for _ in range(50)]
    secret, cb = "fleet-component-secret", {"token": "fleet-cb", "encoding_aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"}
    ui, qa, al = "/cgi-bin/user/info", "/cgi-bin/component/api_query_auth", "/cgi-bin/component/api_get_authorizer_list"
    sim.control("/apps", {"app_id": comp, "secret": secret})
    config = {"apps": [{"id": "cp", "platform": "wechat-component", "app_id": comp, "secret": secret,
                        "callback": cb, "hosts": [sim.primary]}],
              "store": "external", "store_prefix": "wxfleet:", "store_poll_ms": 50, "timeout_ms": 3000,
              "retry": {"base_delay_ms": 20, "max_delay_ms": 200}}
    j = {"config": config, "redis_port": rds.port, "path": ui, "app": "cp", "call_apps": [f"cp/{a}" for a in auths],
         "concurrency": 2, "interval_ms": 10, "push": True, "wait_for_go": True}
    ws = [Worker(lang, f"a{i}-{lang}", {**j, "duration_ms": 5000})
          for i, lang in enumerate(["node", "python", "node", "python"])]
    d = PushDispatcher([w.ready["push_url"] for w in ws])
    r = redis_py.Redis(port=rds.port)
    late = []
    try:
        sim.control("/component", {"component_appid": comp, **cb, "url": d.url, "period_ms": 150})
        deadline = time.monotonic() + 10
        while sim.control(f"/component?component_appid={comp}")["pushes_answered"] < 1:
            assert time.monotonic() < deadline, "no push answered"
            time.sleep(0.02)
        for a in auths:
            assert sim.control("/component/authorize", {"component_appid": comp, "authorizer_appid": a})["pushed"]
        deadline = time.monotonic() + 15
        while count(sim.counters(), "calls", comp, qa) < 50 or len(r.keys("wxfleet:authorizer:*")) < 50:
            assert time.monotonic() < deadline, "authorizations not taken in"
            time.sleep(0.05)
        keys = r.keys("wxfleet:authorizer:*")
        assert len(keys) == 50 and all(r.pttl(k) == -1 for k in keys), "refresh tokens kept without expiry"
        for w in ws:
            w.go()
        time.sleep(2.0)
        # One component token fleet-wide so far, and no authorizer refreshed.
        before = sim.counters()
        assert count(before, "token_fetches", comp) == 1
        assert count(before, "calls", comp, "/cgi-bin/component/api_authorizer_token") == 0
        r.flushall()  # every token, lease, ticket and refresh token gone
        time.sleep(0.5)  # the next kept push stores a ticket again
        late = [Worker(lang, f"b{i}-{lang}", {**j, "duration_ms": 2500}) for i, lang in enumerate(["node", "python"])]
        for w in late:
            d.add(w.ready["push_url"])
            w.go()
        summaries = [w.wait() for w in ws + late]
    finally:
        d.close()
    c = sim.counters()
    t = totals(summaries)
    report = sim.control(f"/component/authorizers?component_appid={comp}")
    refreshes = sorted(row["refreshes"] for row in report.values())
    print(f"{t['submitted']} calls for 50 authorizers, list pages {count(c, 'calls', comp, al)}, "
          f"refreshes per authorizer {refreshes[0]}..{refreshes[-1]}, component token fetches {count(c, 'token_fetches', comp)}")
    assert t["failed"] == 0 and t["ok"] == t["submitted"] > 0, t
    assert all(not s["push_errors"] for s in summaries)
    assert all(row["authorizations"] == 1 and row["refused_refreshes"] == 0 for row in report.values())
    # Before the flush no authorizer was refreshed (the authorizations' tokens
    # served every worker); after it, each once fleet-wide, under the lease.
    assert refreshes == [1] * 50, refreshes
    assert 1 <= count(c, "calls", comp, al) <= 4
    assert not any("authorizer_changed" in s["events"] for s in summaries)
    # The refresh tokens are back in the store, durable again.
    keys = r.keys("wxfleet:authorizer:*")
    assert len(keys) == 50 and all(r.pttl(k) == -1 for k in keys)
    # The new workers found no component token after the flush: one more.
    assert count(c, "token_fetches", comp) <= 2
