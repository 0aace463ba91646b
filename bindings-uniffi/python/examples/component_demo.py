"""A third-party platform (open-platform component) for three authorizers,
against the local simulator (`make demo`): the platform pushes tickets and
authorizations to this program's callback URL, calls go out for each
authorizer with its own token, one authorizer revokes midway.

Every decision (which token, when to fetch, what a push changes, refusing
the revoked one) is the wxcore engine's; this file serves a URL and calls."""

import http.server
import json
import os
import socketserver
import sys
import threading
import time
import urllib.parse
import urllib.request

from wxcore import Client, WxError

sim = json.loads(os.environ.get("WXSIM_ADDRS") or "{}")
if "primary" not in sim:
    sys.exit("WXSIM_ADDRS is not set: run `make demo`, which starts the simulator")
COMPONENT = "wx_demo_component"
AUTHORIZERS = ["wx_demo_shop", "wx_demo_news", "wx_demo_club"]
CALLBACK = {"token": "demo-callback-token", "encoding_aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"}
T0 = time.monotonic()


def control(path, body=None):
    req = urllib.request.Request(sim["control"] + path, data=None if body is None else json.dumps(body).encode(),
                                 method="GET" if body is None else "POST", headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def say(text):
    print(f"  [cp   +{int((time.monotonic() - T0) * 1000):5d} ms] {text}", flush=True)


client = Client({"apps": [{"id": "cp", "platform": "wechat-component", "app_id": COMPONENT,
                           "secret": "demo-component-secret", "callback": CALLBACK, "hosts": [sim["primary"]]}]})


def on_event(e):
    if e["type"] == "authorizer_changed":
        say(f"event: {e['app']} is now {e['standing']}")
    elif e["type"] == "token_fetched":
        say(f"event: token for {e['app']} ({e['source']})")


client.on(on_event)


class Callback(http.server.BaseHTTPRequestHandler):
    """The authorization event URL: every push goes to the engine, answered at once."""

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        try:
            push = client.handle_push("cp", "POST", query, body)
            if push.authorizer:
                say(f"push: {push.info_type} for {push.authorizer}")
            status, reply = 200, push.reply.encode()
        except WxError as e:
            say(f"push refused: {e.kind} ({e.reason})")
            status, reply = 400, b""
        self.send_response(status)
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Callback)
server.daemon_threads = True
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}/wechat/component"

print("\n=== a third-party platform with three authorizers ===")
control("/apps", {"app_id": COMPONENT, "secret": "demo-component-secret"})
control("/component", {"component_appid": COMPONENT, **CALLBACK, "url": url, "period_ms": 1000})
while control(f"/component?component_appid={COMPONENT}")["pushes_answered"] < 1:
    time.sleep(0.02)
say("the platform pushed a component_verify_ticket; nothing fetched yet")
for a in AUTHORIZERS:
    control("/component/authorize", {"component_appid": COMPONENT, "authorizer_appid": a})
for a in AUTHORIZERS:
    info = client.call(f"cp/{a}", "GET", "/cgi-bin/user/info", query={"openid": "o_demo"})
    say(f"cp/{a}: user/info answered (subscribe={info.get('subscribe')})")
control("/component/unauthorize", {"component_appid": COMPONENT, "authorizer_appid": AUTHORIZERS[1]})
for a in AUTHORIZERS:
    try:
        client.call(f"cp/{a}", "GET", "/cgi-bin/user/info", query={"openid": "o_demo"})
        say(f"cp/{a}: still served")
    except WxError as e:
        say(f"cp/{a}: refused at once, {e.kind} ({e.code}); nothing sent to the platform")
for row in client.status()["apps"]:
    if "authorizer" in row:
        au = row["authorizer"]
        say(f"status: {row['app']} {au['standing']}, refresh token held: {au['refresh_token_held']}")
report = control(f"/component/authorizers?component_appid={COMPONENT}")
say("the platform saw: " + ", ".join(f"{a} authorized {r['authorizations']}x{' (revoked)' if r['revoked'] else ''}"
                                     for a, r in sorted(report.items())))
client.close()
server.shutdown()
