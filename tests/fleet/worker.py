"""One fleet worker (Python): an engine in fleet mode over Redis (redis-py),
making calls to one app from several threads until its deadline; prints a
JSON summary line. With `push`, it also serves the app's callback URL
(pushed tickets, `Client.handle_push`) and names it in its ready line; with
`wait_for_go`, its calls start on a line on stdin."""

import collections
import http.server
import json
import socketserver
import sys
import threading
import time
import urllib.parse

from wxcore import Client
from wxcore.redis_store import RedisStore

job = json.loads(sys.argv[1])
# Fail fast while Redis is away (from_url's defaults): the engine then works locally.
if job.get("store") == "memory":
    client = Client({**job["config"], "store": "memory", "instance_id": job["name"]})
else:
    store = RedisStore.from_url(f"redis://127.0.0.1:{job['redis_port']}/0")
    client = Client({**job["config"], "store": "external", "instance_id": job["name"]}, store=store)
lock = threading.Lock()
summary = {"name": job["name"], "submitted": 0, "ok": 0, "errors": collections.Counter(), "events": collections.Counter(),
           "pushes": 0, "push_errors": collections.Counter()}
APP = job.get("app", "oa")
# Calls go to these apps in turn (authorizers `cp/{appid}`); pushes to APP.
CALL_APPS = job.get("call_apps") or [APP]
turn = iter(range(1 << 62))


def on_event(e):
    with lock:
        summary["events"][f"{e['type']}:{e['source']}" if "source" in e else e["type"]] += 1


client.on(on_event)


class PushHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        try:
            reply, status = client.handle_push(APP, "POST", query, body).reply.encode(), 200
            with lock:
                summary["pushes"] += 1
        except Exception as e:  # noqa: BLE001 - every outcome is counted
            reply, status = b"", 400
            with lock:
                summary["push_errors"][getattr(e, "reason", None) or type(e).__name__] += 1
        self.send_response(status)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


push_url = None
if job.get("push"):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), PushHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    push_url = f"http://127.0.0.1:{server.server_address[1]}/push"


def loop(i):
    while time.monotonic() < deadline:
        with lock:
            summary["submitted"] += 1
        try:
            with lock:
                app = CALL_APPS[next(turn) % len(CALL_APPS)]
            if "json" in job:
                client.call(app, job.get("method", "POST"), job["path"], json=job["json"])
            else:
                client.call(app, "GET", job["path"], query={"openid": f"{job['name']}-{i}"})
            with lock:
                summary["ok"] += 1
        except Exception as e:  # noqa: BLE001 - every outcome is counted
            with lock:
                summary["errors"][getattr(e, "kind", type(e).__name__)] += 1
        if job["interval_ms"] > 0:
            time.sleep(job["interval_ms"] / 1000)


print(json.dumps({"ready": job["name"], "push_url": push_url}), flush=True)
if job.get("wait_for_go"):
    sys.stdin.readline()
deadline = time.monotonic() + job["duration_ms"] / 1000
threads = [threading.Thread(target=loop, args=(i,)) for i in range(job["concurrency"])]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(summary), flush=True)
