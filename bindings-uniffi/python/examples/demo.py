"""A working day of a Python backend, against the local simulator (`make demo`).

Every decision you see (when to fetch a token, when to retry, where to fail
over, when to refuse) is the wxcore engine's; this file only calls."""

import json
import os
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from wxcore import CallbackCrypto, Client, WxError

sim = json.loads(os.environ.get("WXSIM_ADDRS") or "{}")
if "primary" not in sim:
    sys.exit("WXSIM_ADDRS is not set: run `make demo`, which starts the simulator")
APP = "wx_demo_py"
T0 = time.monotonic()


def control(path, body):
    req = urllib.request.Request(sim["control"] + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def say(text):
    print(f"  [py   +{int((time.monotonic() - T0) * 1000):5d} ms] {text}", flush=True)


def on_event(e):
    t = e["type"]
    if t == "token_fetched":
        say(f"event: token fetched from {e['source']}, expires in {round((e['expires_at_ms'] - time.time() * 1000) / 1000)} s")
    elif t == "ticket_fetched":
        say(f"event: {e['kind']} ticket fetched from {e['source']} (cached for the next pages)")
    elif t == "token_invalidated":
        say(f"event: the platform rejected our token ({e['code']}); dropped it")
    elif t == "failover":
        say(f"event: failover {e['from']} → {e['to']}")
    elif t == "circuit_opened":
        say(f"event: circuit open for {e['host']}")
    elif t == "circuit_closed":
        say(f"event: {e['host']} answered again; circuit closed")
    elif t == "quota_warning":
        say(f"event: quota warning: {e['path']} {e['used']}/{e['limit']} ({e['percent']}%)")
    elif t == "quota_exhausted":
        say(f"event: {e['path']} exhausted until the next 00:00 Asia/Shanghai")
    elif t == "retry_scheduled":
        say(f"event: retry #{e['attempt']} in {e['delay_ms']} ms ({e['reason']})")
    else:
        say(f"event: {t}")


client = Client({
    "apps": [{"id": "oa", "platform": "wechat-oa", "app_id": APP, "secret": "demo-secret",
              "hosts": [sim["primary"], sim["dr"]], "quota": {"limits": {"/cgi-bin/user/get": 10}}}],
    "failover": {"threshold": 1, "cooldown_ms": 1000},
    "retry": {"base_delay_ms": 50},
})
client.on(on_event)

print("\n=== Python backend (module `wxcore`, engine through uniffi) ===")
say("morning: five threads look users up at once: one token fetch serves them all")
with ThreadPoolExecutor(5) as pool:
    users = list(pool.map(lambda o: client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": o}),
                          ["o1", "o2", "o3", "o4", "o5"]))
say("got " + ", ".join(u["nickname"] for u in users))

say("a customer-service message (POST, not idempotent)")
client.call("oa", "POST", "/cgi-bin/message/custom/send",
            json={"touser": "o1", "msgtype": "text", "text": {"content": "早上好"}})
say("sent")

say("a JS-SDK page: ticket fetched with the token, wx.config signed in the core")
cfg = client.jssdk_config("oa", "https://shop.example.com/page?id=1#top")
say(f"wx.config(appId={cfg['appId']}, timestamp={cfg['timestamp']}, nonceStr={cfg['nonceStr']}, "
    f"signature={cfg['signature'][:24]}…)")

say("noon: the platform invalidates our token early (another system refreshed it)")
control("/fault", {"kind": "invalidate", "app": APP})
say(f"the caller never saw it: got {client.call('oa', 'GET', '/cgi-bin/user/info', query={'openid': 'o6'})['nickname']}")

say("afternoon: api.weixin.qq.com goes down")
control("/fault", {"kind": "host", "host": "primary", "mode": "down"})
client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": "o7"})
say("served by the disaster-recovery host")
control("/fault", {"kind": "host", "host": "primary", "mode": "up"})
say("primary back; waiting out the 1 s cool-down")
time.sleep(1.1)
client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": "o8"})
say("served by the primary again")

say("a system-busy burst (-1 twice): GET retried with backoff")
control("/fault", {"kind": "errcode", "code": -1, "count": 2, "path": "/cgi-bin/user/info"})
client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": "o9"})
say("succeeded on the third attempt")

say("evening: the follower list, limited to 10 calls today on this account")
for i in range(1, 12):
    try:
        client.call("oa", "GET", "/cgi-bin/user/get")
    except WxError as e:
        say(f"call {i}: {e.kind} (refused locally, retry after {round(e.retry_after_ms / 60000)} min); "
            "the platform was not asked")
        break

say("an encrypted callback arrives (the platform's published sample)")
vectors = json.loads((Path(__file__).resolve().parents[3] / "tests/vectors/crypto-official.json").read_text())
v = vectors["callback"][0]
crypto = CallbackCrypto(v["token"], v["encoding_aes_key"], v["receive_id"])
body = f"<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><Encrypt><![CDATA[{v['encrypt']}]]></Encrypt></xml>"
msg = crypto.decrypt_message(v["msg_signature"], v["timestamp"], v["nonce"], body)
say(f"verified and decrypted: {msg.msg_type} from {msg.from_user}: \"{msg['Content']}\"")
reply = crypto.encrypt(f"<xml><ToUserName><![CDATA[{msg.from_user}]]></ToUserName><MsgType><![CDATA[text]]></MsgType>"
                       "<Content><![CDATA[收到]]></Content></xml>", v["timestamp"], v["nonce"])
say(f"encrypted reply: {len(reply)} bytes of <xml><Encrypt/><MsgSignature/>…")
