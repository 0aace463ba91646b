"""Helpers for writing conformance scenarios by hand.

Every expected value in the scenarios is written (or computed with plain
arithmetic from the platform rules) here, never taken from the engine.
`make vectors` turns the scenario modules into ../*.json; `make test` checks
that the committed JSON matches this source.
"""

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z = 06:13:20 in Shanghai; T0 % 60000 == 20000
DAY = 86_400_000
SHANGHAI = 8 * 3_600_000
HOUR = 3_600_000

OA = "https://api.weixin.qq.com"
OA2 = "https://api2.weixin.qq.com"
OA_SH = "https://sh.api.weixin.qq.com"
QY = "https://qyapi.weixin.qq.com"


def day_of(ms):
    return (ms + SHANGHAI) // DAY


def next_reset(ms):
    return (day_of(ms) + 1) * DAY - SHANGHAI


class SplitMix64:
    """Reference SplitMix64 (the engine's jitter source), written independently."""

    def __init__(self, seed):
        self.state = seed & 0xFFFFFFFFFFFFFFFF

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        return z ^ (z >> 31)


# ---- configuration ----

def oa(**kw):
    app = {"id": "oa", "platform": "wechat-oa", "app_id": "wxA", "secret": "SECRET"}
    app.update(kw)
    return app


def wecom(**kw):
    app = {"id": "hr", "platform": "wecom", "corp_id": "wwC", "agent_id": "1000002", "secret": "CS2"}
    app.update(kw)
    return app


def jing(**kw):
    app = {"id": "jing", "platform": "jing", "base_url": "https://jing.example", "app_id": "JA",
           "secret": "JS", "token_path": "/oauth/token", "refresh_path": "/oauth/refresh"}
    app.update(kw)
    return app


def cj(**kw):
    app = {"id": "cj", "platform": "cj", "base_url": "https://cj.example", "app_id": "CA",
           "secret": "CSEC", "token_path": "/api/gettoken"}
    app.update(kw)
    return app


def result_app(**kw):
    app = {"id": "res", "platform": "result", "base_url": "https://result.example", "app_id": "AK",
           "secret": "TID", "token_placement": {"in": "header", "name": "token_id", "extra": [["account_key", "{app_id}"]]}}
    app.update(kw)
    return app


def cfg(*apps, retry=None, **kw):
    # The engine's own deadlines are off in the scenarios unless one sets
    # them: each wake time then speaks of the behaviour under test.
    c = {"apps": list(apps), "seed": 1, "retry": {"jitter": False},
         "call_timeout_ms": None, "store_timeout_ms": None}
    if retry:
        c["retry"].update(retry)
    c.update(kw)
    return c


# ---- inputs ----

def submit(t, path, app="oa", method="GET", query=None, json=None, body=None, content_type=None, idempotent=None,
           timeout_ms=None):
    v = {"app": app, "method": method, "path": path}
    if timeout_ms is not None:
        v["timeout_ms"] = timeout_ms
    if query:
        v["query"] = query
    if json is not None:
        v["json"] = json
    if body is not None:
        v["body"] = body
    if content_type:
        v["content_type"] = content_type
    if idempotent is not None:
        v["idempotent"] = idempotent
    return {"now_ms": t, "input": {"submit": v}}


def resp(t, id, json=None, status=None, headers=None, body=None, body_base64=None):
    v = {"id": id}
    if status is not None:
        v["status"] = status
    if headers:
        v["headers"] = headers
    if json is not None:
        v["json"] = json
    if body is not None:
        v["body"] = body
    if body_base64 is not None:
        v["body_base64"] = body_base64
    return {"now_ms": t, "input": {"response": v}}


def terr(t, id, kind):
    return {"now_ms": t, "input": {"transport_error": {"id": id, "kind": kind}}}


def sres(t, id, **v):
    v["id"] = id
    return {"now_ms": t, "input": {"store_result": v}}


def poll(t):
    return {"now_ms": t, "input": {"poll": {}}}


def cancel(t, id):
    return {"now_ms": t, "input": {"cancel": {"id": id}}}


def restart(t):
    return {"now_ms": t, "input": {"restart": {}}}


def restore(t, state):
    return {"now_ms": t, "input": {"restore": {"state": state}}}


def state(apps, circuits=None, version=2):
    return {"version": version, "apps": apps, "circuits": circuits or {}}


def app_state(token=None, expires=None, refresh=None, quota=None, blocked=None, forced=None, refresh_token=None):
    s = {}
    if token is not None:
        s["token"] = {"value": token, "expires_at_ms": expires, "refresh_at_ms": refresh}
    if refresh_token is not None:
        s["refresh_token"] = refresh_token
    if quota is not None:
        s["quota"] = quota
    if blocked is not None:
        s["blocked"] = blocked
    if forced is not None:
        s["forced"] = forced
    return s


# ---- expected outputs ----

def send(id, method, url, json=None, headers=None, body=None):
    v = {"id": id, "method": method, "url": url}
    if json is not None:
        v["json"] = json
    if headers is not None:
        v["headers"] = headers
    if body is not None:
        v["body"] = body
    return {"send": v}


def idle(wake=None):
    return {"idle": {"wake_at_ms": wake}}


def ok(cid, json=None, **kw):
    v = {"call_id": cid, "ok": True}
    if json is not None:
        v["json"] = json
    v.update(kw)
    return {"done": v}


def err(cid, kind, **kw):
    e = {"kind": kind}
    e.update(kw)
    return {"done": {"call_id": cid, "ok": False, "error": e}}


def ev(type_, **kw):
    v = {"type": type_}
    v.update(kw)
    return {"event": v}


def store(id, op, key, **kw):
    v = {"id": id, "op": op, "key": key}
    v.update(kw)
    return {"store": v}


def config_error(field):
    return {"config_error": {"field": field}}


# ---- platform shorthands ----

def stable_fetch(id, force=False, host=OA, appid="wxA", secret="SECRET"):
    return send(id, "POST", f"{host}/cgi-bin/stable_token",
                json={"grant_type": "client_credential", "appid": appid, "secret": secret, "force_refresh": force},
                headers={"content-type": "application/json"})


def classic_fetch(id, host=OA, appid="wxA", secret="SECRET"):
    return send(id, "GET", f"{host}/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={secret}")


def tok(token, expires_in=7200):
    return {"access_token": token, "expires_in": expires_in}


def fetched(exp, refresh, app="oa", source="http", forced=False):
    return ev("token_fetched", app=app, expires_at_ms=exp, refresh_at_ms=refresh, source=source, forced=forced)


def oa_url(path, token, *query, host=OA):
    q = "".join(f"&{k}={v}" for k, v in query)
    return f"{host}{path}?access_token={token}{q}"


def werr(code, msg="error"):
    return {"errcode": code, "errmsg": msg}


OK = {"errcode": 0, "errmsg": "ok"}

# A token restored at T0: valid two hours, refreshed after one.
R = T0 + HOUR


def with_token(token="T1", app="oa", expires=T0 + 2 * HOUR, refresh=R, **extra):
    return restore(T0, state({app: app_state(token, expires, refresh, **extra)}))


def key_part(s):
    """One part of a store key: %, : and = percent-encoded."""
    return s.replace("%", "%25").replace(":", "%3A").replace("=", "%3D")


def account_of(app):
    """(platform, account) an app's state and shared values are bound to."""
    if app.get("corp_id") is not None and app.get("agent_id") is not None:
        acc = f"{key_part(app['corp_id'])}:{key_part(app['agent_id'])}"
    elif app.get("app_id") is not None:
        acc = key_part(app["app_id"])
    else:
        acc = "=" + key_part(app["id"])
    return app["platform"], acc


def bind_state(config, st):
    """Names each app entry's platform and account from the config, unless
    the scenario gives them (to test a mismatch)."""
    if st.get("version") != 2:
        return
    apps = {a["id"]: a for a in config.get("apps", [])}
    for name, entry in st.get("apps", {}).items():
        if name in apps and "platform" not in entry:
            entry["platform"], entry["account"] = account_of(apps[name])


# Host entropy for fleet scenarios (base64 of 32 bytes), and the lease owner
# the engine derives from it: the first 8 bytes of
# SHA-256("wxcore lease owner:" + entropy), in hex, after the instance name.
ENTROPY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


def owner(name="p1", entropy=ENTROPY):
    import hashlib
    return f"{name}-" + hashlib.sha256(b"wxcore lease owner:" + entropy.encode()).hexdigest()[:16]


def lease_ttl(attempts=3, timeout=5000, max_delay=5000):
    """A token fetch's worst case: every attempt timing out and every
    backoff at its ceiling, twice (a forced fetch may follow), plus one
    more timeout."""
    return 2 * (attempts * timeout + (attempts - 1) * max_delay) + timeout


def scenario(name, config, *pairs, about=None):
    """pairs: (step, [expected outputs]) in order."""
    steps, expect = [], []
    for step, outs in pairs:
        if "restore" in step["input"]:
            bind_state(config, step["input"]["restore"]["state"])
        steps.append(step)
        expect.extend(outs)
    s = {"name": name}
    if about:
        s["about"] = about
    s.update({"config": config, "steps": steps, "expect": expect})
    return s


def config_scenario(name, config, field, about=None):
    s = {"name": name}
    if about:
        s["about"] = about
    s.update({"config": config, "steps": [], "expect": [config_error(field)]})
    return s
