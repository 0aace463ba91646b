"""A business server that holds no AppSecret (`make demo`, token server part).

Its app has a `credential` source instead of a secret: the engine takes the
token from the token server, caches it, renews it in the background, and
on the platform's invalid-token answer asks the server to compare-and-
invalidate, then resends. The page server gets a signed `wx.config` from
the server and never holds the ticket either."""

import json
import os
import time
import urllib.parse
import urllib.request

from wxcore import Client

sim = json.loads(os.environ["WXSIM_ADDRS"])
SERVER, KEY, APP = os.environ["WXCORE_SERVER_URL"], os.environ["WXCORE_BIZ_KEY"], os.environ["WXCORE_APP_ID"]
T0 = time.monotonic()


def say(text):
    print(f"  [biz  +{int((time.monotonic() - T0) * 1000):5d} ms] {text}", flush=True)


def on_event(e):
    if e["type"] == "token_fetched":
        say(f"event: token from the {e['source']} (expires in {round((e['expires_at_ms'] - time.time() * 1000) / 1000)} s)")
    elif e["type"] == "token_invalidated":
        say(f"event: the platform rejected the token ({e['code']}): asking the token server to compare-and-invalidate")
    else:
        say(f"event: {e['type']}")


config = {"apps": [{"id": "oa", "platform": "wechat-oa", "app_id": APP, "hosts": [sim["primary"], sim["dr"]],
                    "credential": {"source": "server", "url": SERVER, "key": KEY}}]}
client = Client(config)
client.on(on_event)
say(f"config has no secret: {'secret' not in json.dumps(config)}")
for openid in ("o-alice", "o-bob", "o-carol"):
    user = client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": openid})
    say(f"user/info {openid}: {user['nickname']}")

req = urllib.request.Request(sim["control"] + "/fault", data=json.dumps({"kind": "invalidate", "app": APP}).encode(),
                             method="POST", headers={"content-type": "application/json"})
urllib.request.urlopen(req, timeout=5).read()
say("the platform invalidated every token early (simulator fault)")
user = client.call("oa", "GET", "/cgi-bin/user/info", query={"openid": "o-dave"})
say(f"user/info o-dave: {user['nickname']} (resent once with the server's new token; no error reached us)")

page = "https://shop.example/product?id=42"
req = urllib.request.Request(f"{SERVER}/v1/apps/oa/jssdk-config?url={urllib.parse.quote(page, safe='')}",
                             headers={"authorization": f"Bearer {KEY}", "x-wxcore-request": "1"})
cfg = json.loads(urllib.request.urlopen(req, timeout=5).read())
say(f"wx.config for {page}: appId {cfg['appId']}, signature {cfg['signature'][:12]}… (no ticket on this side)")
