"""The default transport (PooledHttp) over loopback: keep-alive reuse, what
it must not reuse, its total deadline, its failure kinds, and proxies."""

import json
import os
import socket
import time

import pytest

from wxcore import Client, PooledHttp
from wxcore._client import transport_kind

from sim import HttpServer as Server


def answer(h, obj, close=False):
    data = json.dumps(obj).encode()
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)
    h.wfile.flush()
    if close:  # a server that drops idle connections without saying so
        h.close_connection = True


def platform(h):
    if h.path.startswith("/cgi-bin/gettoken"):
        return answer(h, {"errcode": 0, "access_token": "POOL-TOKEN", "expires_in": 7200})
    if h.path.startswith("/slow"):
        h.send_response(200)
        h.send_header("Content-Length", "40")
        h.end_headers()
        try:
            for _ in range(40):
                h.wfile.write(b" ")
                h.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass
        return None
    return answer(h, {"errcode": 0, "path": h.path.split("?")[0]})


@pytest.fixture
def server():
    s = Server(platform)
    try:
        yield s
    finally:
        s.close()


def wecom(url):
    return {"apps": [{"id": "hr", "platform": "wecom", "corp_id": "ww", "agent_id": "1", "secret": "POOL-SECRET",
                      "hosts": [url]}]}


def test_sequential_calls_share_one_keep_alive_connection(server):
    with Client(wecom(server.url)) as client:
        assert client.call("hr", "GET", "/a")["path"] == "/a"
        assert client.call("hr", "POST", "/b", json={"x": 1})["path"] == "/b"
    assert [p.split("?")[0] for p in server.paths] == ["/cgi-bin/gettoken", "/a", "/b"]
    assert server.connections == 1
    assert client._pool is not None and client._pool._idle == {}  # `with` closed the pool


def test_close_ends_the_pooled_connections(server):
    pool = PooledHttp()
    pool("GET", server.url + "/a", {}, None, 2.0)
    idle = [c for conns in pool._idle.values() for c, _ in conns]
    assert len(idle) == 1 and idle[0].sock is not None
    pool.close()
    assert idle[0].sock is None
    pool("GET", server.url + "/b", {}, None, 2.0)  # the pool stays usable
    assert server.connections == 2


def test_a_connection_the_server_dropped_is_not_written_to():
    server = Server(lambda h: answer(h, {"path": h.path}, close=True))
    try:
        pool = PooledHttp()
        assert pool("GET", server.url + "/a", {}, None, 2.0)[0] == 200
        time.sleep(0.2)  # the server's FIN arrives while the connection is idle
        status, _, body = pool("POST", server.url + "/b", {}, b"{}", 2.0)
        assert (status, json.loads(body)) == (200, {"path": "/b"})
        assert server.connections == 2
    finally:
        server.close()


def test_a_302_is_returned_not_followed(server):
    def redirect(h):
        h.send_response(302)
        h.send_header("Location", server.url + "/stolen")
        h.send_header("Content-Length", "0")
        h.end_headers()

    api = Server(redirect)
    try:
        status, headers, body = PooledHttp()("GET", api.url + "/x", {"token_id": "T"}, None, 2.0)
        assert (status, headers["Location"], body) == (302, server.url + "/stolen", b"")
        assert server.paths == []
    finally:
        api.close()


def test_the_deadline_bounds_a_reused_connection_and_it_is_not_pooled_again(server):
    pool = PooledHttp()
    pool("GET", server.url + "/fast", {}, None, 2.0)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        pool("GET", server.url + "/slow", {}, None, 0.5)
    assert time.monotonic() - start < 0.5 + 0.5
    assert server.connections == 1  # the slow request rode the pooled connection
    assert pool("GET", server.url + "/after", {}, None, 2.0)[0] == 200
    assert server.connections == 2


def test_failures_keep_their_transport_kinds():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens
    with pytest.raises(OSError) as e:
        PooledHttp()("GET", f"http://127.0.0.1:{port}/x", {}, None, 2.0)
    assert transport_kind(e.value) == "connect"
    with pytest.raises(OSError) as e:
        PooledHttp()("GET", "http://no-such-host.invalid/x", {}, None, 2.0)
    assert transport_kind(e.value) == "dns"


def test_a_proxy_from_the_environment_is_still_used(server, monkeypatch):
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", server.url)
    status, _, body = PooledHttp()("GET", "http://platform.invalid/cgi-bin/x?a=1", {}, None, 2.0)
    assert status == 200
    assert server.paths == ["http://platform.invalid/cgi-bin/x?a=1"]  # the proxy's absolute-form request


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_opens_its_own_connection(server):
    pool = PooledHttp()
    pool("GET", server.url + "/parent", {}, None, 2.0)
    pid = os.fork()
    if pid == 0:  # the child: exit status is the verdict, and it never returns into pytest
        status = 1
        try:
            status = 0 if pool("GET", server.url + "/child", {}, None, 2.0)[0] == 200 else 1
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert server.connections == 2
    assert pool("GET", server.url + "/parent-again", {}, None, 2.0)[0] == 200
    assert server.connections == 2  # the parent's connection survived the child
