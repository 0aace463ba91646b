"""One fleet worker (Python): an engine in fleet mode over Redis (redis-py),
making calls to one app from several threads until its deadline; prints a
JSON summary line."""

import collections
import json
import sys
import threading
import time

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
summary = {"name": job["name"], "submitted": 0, "ok": 0, "errors": collections.Counter(), "events": collections.Counter()}


def on_event(e):
    with lock:
        summary["events"][f"{e['type']}:{e['source']}" if "source" in e else e["type"]] += 1


client.on(on_event)
deadline = time.monotonic() + job["duration_ms"] / 1000


def loop(i):
    while time.monotonic() < deadline:
        with lock:
            summary["submitted"] += 1
        try:
            client.call("oa", "GET", job["path"], query={"openid": f"{job['name']}-{i}"})
            with lock:
                summary["ok"] += 1
        except Exception as e:  # noqa: BLE001 - every outcome is counted
            with lock:
                summary["errors"][getattr(e, "kind", type(e).__name__)] += 1
        if job["interval_ms"] > 0:
            time.sleep(job["interval_ms"] / 1000)


print(json.dumps({"ready": job["name"]}), flush=True)
threads = [threading.Thread(target=loop, args=(i,)) for i in range(job["concurrency"])]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(summary), flush=True)
