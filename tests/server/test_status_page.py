"""The token server's monitoring surface as its users meet it: the status
page in a real headless Chromium (Debian's, driven by Playwright; no browser
is downloaded), after faults injected into the simulator; `/metrics` read
back by the Prometheus client's own parser; and who may see either."""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

from tokenserver import BINARY, ROOT, Simulator, TokenServer, caller, native, new_key, request

CHROMIUM = os.environ.get("WXCORE_CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "target" / "status-page"
UI = "/cgi-bin/user/info"
TAGS = "/cgi-bin/tags/get"
USERS = "/cgi-bin/user/get"


@pytest.fixture
def sim():
    s = Simulator()
    yield s
    s.close()


def new_app():
    return "wxmon" + uuid.uuid4().hex[:8]


def oa_app(sim, app_id, **kw):
    return {"id": "oa", "platform": "wechat-oa", "app_id": app_id, "secret": "the-app-secret",
            "hosts": [sim.primary, sim.dr], **kw}


def bearer(key):
    return {"authorization": f"Bearer {key}"}


def status_json(srv, key):
    s, _, body = request(srv.url + "/status.json", headers=bearer(key))
    assert s == 200, body
    return json.loads(body)


def relay(srv, key, path, query=""):
    return request(srv.url + f"/v1/relay/oa{path}{query}", headers=native(key))


def form_login(srv, key, **headers):
    """POST the sign-in form; (status, headers, body) without following the redirect."""
    import http.client
    host, port = srv.url.removeprefix("http://").split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    c.request("POST", "/status/login", urllib.parse.urlencode({"key": key}),
              {"content-type": "application/x-www-form-urlencoded", **headers})
    r = c.getresponse()
    out = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    c.close()
    return out


@pytest.fixture
def faulted(sim):
    """A server whose one app has been through the seed's trouble: an early
    invalidation, a burst of malformed answers, a quota at 95 % and its
    primary host down until its circuit opened. Yields (server, keys, token)."""
    app = new_app()
    ops, rl, biz = new_key("ops"), new_key("rl"), new_key("biz")
    srv = TokenServer(
        [oa_app(sim, app, quota={"limits": {TAGS: 20}})],
        [caller("ops", ops, actions=["status"]),
         caller("mobile", rl, apps=["oa"], actions=["relay"], relay_paths=["/cgi-bin/*"]),
         caller("biz", biz, apps=["oa"], actions=["token"])],
        # The circuit stays open for the whole test once it opened.
        failover={"threshold": 3, "cooldown_ms": 120_000})
    try:
        srv.wait_ready()
        # 19 of 20 calls a day: 95 %.
        for _ in range(19):
            s, _, body = relay(srv, rl, TAGS)
            assert s == 200, body
        # The platform drops the token early: the next call meets 40001, the
        # engine refreshes once and resends.
        sim.fault(kind="invalidate", app=app)
        s, _, body = relay(srv, rl, UI, "?openid=o-1")
        assert s == 200 and json.loads(body)["openid"] == "o-1", body
        # Four HTML pages where JSON belongs.
        sim.fault(kind="malformed", count=4, status=200, path=USERS)
        for _ in range(4):
            relay(srv, rl, USERS)
        # The primary goes away: calls fail over to the DR host until the
        # primary's circuit opens (MarkFail).
        sim.fault(kind="host", host="primary", mode="down")
        for _ in range(20):
            s, _, body = relay(srv, rl, UI, "?openid=o-2")
            assert s == 200, body
            hosts = {h["host"]: h["state"] for h in status_json(srv, ops)["hosts"]}
            if hosts[sim.primary] == "open":
                break
        assert hosts[sim.primary] == "open", hosts
        s, _, body = request(srv.url + "/v1/apps/oa/token", headers=native(biz))
        token = json.loads(body)["token"]
        yield srv, {"ops": ops, "mobile": rl, "biz": biz}, token
    finally:
        srv.stop()


def playwright_api():
    try:
        from playwright import sync_api
    except ImportError:
        pytest.fail("the test venv has no playwright: `make server-test-env` installs it")
    return sync_api


def launch(p):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make server-test` installs Debian's chromium")
    # Chromium refuses its sandbox to root (CI runs as root); a container's
    # small /dev/shm would crash its renderer.
    args = ["--disable-dev-shm-usage"] + (["--no-sandbox"] if os.geteuid() == 0 else [])
    return p.chromium.launch(executable_path=CHROMIUM, args=args)


def test_the_status_page_shows_apps_quotas_circuits_and_alerts_in_a_real_browser(sim, faulted, capsys):
    pw = playwright_api()
    expect, sync_playwright = pw.expect, pw.sync_playwright
    srv, keys, token = faulted
    doc = status_json(srv, keys["ops"])
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            desk = browser.new_context(viewport={"width": 1280, "height": 900})
            page = desk.new_page()
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e: errors.append(str(e)))
            # Not signed in: the sign-in form, and nothing else.
            r = page.goto(srv.url + "/status")
            assert r.status == 401
            assert page.locator("#apps").count() == 0
            page.fill("#key", keys["ops"])
            page.click("button[type=submit]")
            page.wait_for_selector("#apps")
            # The key went in a POST body: the address shows none.
            assert page.url == srv.url + "/status"
            errors.clear()  # the 401 of the sign-in page itself
            page.reload()
            page.wait_for_selector("#apps")

            # The app: its token id (a hash), an invalidation-triggered refresh that worked.
            row = page.locator("#apps tr[data-app=oa]")
            text = row.inner_text()
            app_doc = doc["apps"][0]
            assert app_doc["last_refresh"]["trigger"] == "invalidated", app_doc
            assert app_doc["token"]["id"] in text
            assert "invalidated" in text and "ok" in text and "left" in text
            assert "wechat-oa" in text and "secret" in text

            # The quota bar at 95 %, styled as danger.
            q = page.locator(f'#quotas tr[data-api="{TAGS}"]')
            assert "19 / 20" in q.inner_text() and "95%" in q.inner_text()
            assert q.get_attribute("class") == "danger"
            assert q.locator(".bar > span").get_attribute("style") == "width:95%"
            assert "rgb(207, 34, 46)" == q.locator(".bar > span").evaluate(
                "e => getComputedStyle(e).backgroundColor")

            # The primary's circuit is open, the DR host's closed.
            c = page.locator(f'#circuits tr[data-host="{sim.primary}"]')
            assert c.get_attribute("data-state") == "open" and "open (routed around)" in c.inner_text()
            assert page.locator(f'#circuits tr[data-host="{sim.dr}"]').get_attribute("data-state") == "closed"

            # Alerts in the seed's shape: app, first seen, category, counts, one sample.
            alerts = {a["category"]: a for a in doc["alerts"]}
            assert {"mark_fail", "response_invalid"} <= set(alerts), alerts
            mf = page.locator("#alerts tr[data-category=mark_fail]")
            mf_text = mf.inner_text()
            assert "MarkFail" in mf_text and sim.primary in mf.locator(".sample").inner_text()
            assert mf.get_attribute("data-open") == "true"
            ri = page.locator("#alerts tr[data-category=response_invalid]")
            want = alerts["response_invalid"]
            assert want["count_window"] >= 4 and want["sample"]["api"] == USERS, want
            assert ri.locator(".count").inner_text() == str(want["count_window"])
            assert ri.locator(".total").inner_text() == str(want["count_total"])
            assert USERS in ri.locator(".sample").inner_text()
            assert "Response invalid" in ri.inner_text()
            assert want["first_seen"] in ri.inner_text()  # the time of the first occurrence
            assert "No alerts" not in page.content()

            # Callers and when each was last seen.
            assert page.locator("#callers tr[data-caller=mobile]").count() == 1
            assert "never" not in page.locator("#callers tr[data-caller=ops]").inner_text()

            # It refreshes itself (the inline script, allowed by the CSP).
            expect(page.locator("#live")).to_contain_text("Live, updated", timeout=15_000)
            assert page.locator("#apps tr[data-app=oa]").count() == 1

            desktop = SHOTS / "status-desktop.png"
            page.screenshot(path=str(desktop), full_page=True)

            # A phone: 375 px wide, nothing wider than the screen.
            phone_ctx = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2,
                                            is_mobile=True, has_touch=True, storage_state=desk.storage_state())
            phone = phone_ctx.new_page()
            phone.on("console", lambda m: m.type == "error" and errors.append(m.text))
            phone.on("pageerror", lambda e: errors.append(str(e)))
            r = phone.goto(srv.url + "/status")
            assert r.status == 200
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 375, f"the page is {width} px wide at 375"
            assert phone.locator(f'#quotas tr[data-api="{TAGS}"]').is_visible()
            mobile = SHOTS / "status-375.png"
            phone.screenshot(path=str(mobile), full_page=True)

            # Nothing secret anywhere in what the browser received.
            for html in (page.content(), phone.content()):
                for secret in (token, *keys.values(), "the-app-secret"):
                    assert secret not in html
            assert errors == [], errors
            with capsys.disabled():  # shown under `make server-test` too, which captures output
                print(f"\nstatus page screenshots: {desktop} {mobile}")

            # Signing out ends the session: the next refresh is refused.
            page.click("header button[type=submit]")
            page.wait_for_selector("#key")
            s, _, body = request(srv.url + "/status.json",
                                 headers={"cookie": "; ".join(f"{c['name']}={c['value']}" for c in
                                                              desk.cookies())})
            assert s == 401
        finally:
            browser.close()
    srv.stop()
    for secret in (token, *keys.values(), "the-app-secret"):
        assert secret not in srv.output()


def test_status_needs_a_status_key_or_a_session_and_refusals_are_typed(sim):
    app = new_app()
    ops, rl = new_key("ops"), new_key("rl")
    srv = TokenServer([oa_app(sim, app)], [caller("ops", ops, actions=["status"]),
                                           caller("mobile", rl, apps=["oa"], actions=["relay"], relay_paths=[UI])])
    try:
        srv.wait_ready()
        for path in ("/status.json", "/metrics"):
            s, h, body = request(srv.url + path)
            assert s == 401 and h["x-wxcore-error"] == "credential_invalid", body
            assert json.loads(body)["error"]["kind"] == "credential_invalid"
            s, h, body = request(srv.url + path, headers=bearer(rl))
            assert s == 403 and json.loads(body)["error"]["kind"] == "permission_denied"
            s, h, body = request(srv.url + path, headers=bearer(new_key()))
            assert s == 401 and json.loads(body)["error"]["kind"] == "credential_invalid"
            s, h, body = request(srv.url + path, headers={"cookie": "wxcore_status=" + "0" * 64})
            assert s == 401 and "sign in again" in json.loads(body)["error"]["message"]
        # The page: a sign-in form (no script), never the status.
        s, h, body = request(srv.url + "/status")
        assert s == 401 and h["content-type"].startswith("text/html") and b'name="key"' in body
        assert b"<script" not in body and "script-src" not in h["content-security-policy"]
        # The form refuses a key without `status`, and an unknown one, by name.
        s, h, body = form_login(srv, rl)
        assert s == 403 and h["x-wxcore-error"] == "permission_denied" and b"may not `status`" in body
        s, h, body = form_login(srv, "nope")
        assert s == 401 and b"unknown caller key" in body and "set-cookie" not in h
        # The right key: a session cookie that is not the key, HttpOnly, SameSite=Strict.
        s, h, _ = form_login(srv, ops)
        assert s == 303 and h["location"] == "/status"
        cookie = h["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and ops not in cookie
        assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
        session = cookie.split(";")[0]
        # Behind a TLS-terminating proxy the cookie is Secure.
        s, h, _ = form_login(srv, ops, **{"x-forwarded-proto": "https"})
        assert s == 303 and "; Secure" in h["set-cookie"]
        s, h, body = request(srv.url + "/status", headers={"cookie": session})
        assert s == 200 and b'id="apps"' in body
        # Nothing went wrong yet: the empty state says so.
        assert b"No alerts" in body
        csp = h["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'sha256-" in csp and h["x-frame-options"] == "DENY"
        assert ops.encode() not in body and rl.encode() not in body
        s, _, body = request(srv.url + "/status.json", headers={"cookie": session})
        doc = json.loads(body)
        assert s == 200 and doc["server"]["version"] and doc["server"]["started_at_ms"] <= doc["now_ms"]
        by_name = {c["name"]: c for c in doc["callers"]}
        assert by_name["mobile"]["last_seen_ms"] and by_name["ops"]["last_seen_ms"]
        assert set(by_name["ops"]) == {"name", "last_seen_ms", "requests"}
        srv.stop()
        audit = [a for a in srv.audit_lines() if a["action"] == "status_login"]
        assert [(a["caller"], a["result"]) for a in audit] == [("mobile", "forbidden"), ("ops", "ok"),
                                                                ("ops", "ok")]
        for secret in (ops, rl, session.split("=", 1)[1]):
            assert secret not in srv.output()
    finally:
        srv.stop()


def test_a_status_caller_must_see_every_app(sim, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"apps": [oa_app(sim, new_app())], "server": {"listen": "127.0.0.1:0", "callers": [
        caller("ops", new_key(), apps=["oa"], actions=["status"])]}}))
    p = subprocess.run([BINARY, "--config", str(bad)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "server.callers[0].apps" in p.stderr, p.stderr


def test_metrics_parse_with_the_prometheus_client_and_count_what_happened(sim):
    from prometheus_client.parser import text_string_to_metric_families

    app = new_app()
    ops, rl, biz = new_key("ops"), new_key("rl"), new_key("biz")
    srv = TokenServer([oa_app(sim, app, quota={"limits": {TAGS: 10}})],
                      [caller("ops", ops, actions=["status"]),
                       caller("mobile", rl, apps=["oa"], actions=["relay"], relay_paths=["/cgi-bin/*"]),
                       caller("biz", biz, apps=["oa"], actions=["token"])])
    try:
        srv.wait_ready()
        t0 = time.time()
        for _ in range(3):
            assert relay(srv, rl, TAGS)[0] == 200
        s, _, body = request(srv.url + "/v1/apps/oa/token", headers=native(biz))
        token = json.loads(body)["token"]
        assert request(srv.url + "/v1/apps/oa/token", headers=native(new_key()))[0] == 401
        assert request(srv.url + "/v1/relay/oa/cgi-bin/menu/get", headers=native(biz))[0] == 403
        # More 502s than the engine's retries: the platform's page comes back verbatim.
        sim.fault(kind="malformed", count=20, status=502, path=USERS)
        s, h, _ = relay(srv, rl, USERS)
        assert s == 502 and "x-wxcore-error" not in h
        s, h, body = request(srv.url + "/metrics", headers=bearer(ops))
        t1 = time.time()
        assert s == 200 and h["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = body.decode()
        families = {f.name: f for f in text_string_to_metric_families(text)}

        def value(family, **labels):
            got = [x.value for x in families[family].samples
                   if all(x.labels.get(k) == v for k, v in labels.items()) and not x.name.endswith("_created")]
            assert len(got) == 1, (family, labels, families[family].samples)
            return got[0]

        # The core's families, then the server's (the parser drops `_total` from counter names).
        assert {"wxcore_upstream_requests", "wxcore_upstream_request_duration_seconds", "wxcore_quota_used",
                "wxcore_circuit_open", "wxcore_alerts", "wxcore_token_refreshes",
                "wxcore_server_requests", "wxcore_server_audit_records",
                "wxcore_server_caller_last_seen_timestamp_seconds"} <= set(families), sorted(families)
        assert families["wxcore_server_requests"].type == "counter"
        assert families["wxcore_server_caller_last_seen_timestamp_seconds"].type == "gauge"
        assert value("wxcore_quota_used", app="oa", api=TAGS) == 3
        assert value("wxcore_quota_limit", app="oa", api=TAGS) == 10
        assert value("wxcore_alerts", app="oa", category="response_invalid") >= 1
        assert value("wxcore_server_requests", caller="mobile", endpoint="relay", result="2xx") == 3
        assert value("wxcore_server_requests", caller="mobile", endpoint="relay", result="5xx") == 1
        assert value("wxcore_server_requests", caller="biz", endpoint="token", result="2xx") == 1
        assert value("wxcore_server_requests", caller="anonymous", endpoint="token",
                     result="credential_invalid") == 1
        assert value("wxcore_server_requests", caller="biz", endpoint="relay", result="permission_denied") == 1
        assert value("wxcore_server_audit_records", result="ok") == 1
        assert value("wxcore_server_audit_records", result="200") == 3
        assert value("wxcore_server_audit_records", result="forbidden") == 1
        seen = value("wxcore_server_caller_last_seen_timestamp_seconds", caller="mobile")
        assert t0 - 1 <= seen <= t1 + 1
        # ops is seen by this very scrape; nobody unseen gets a sample.
        assert {x.labels["caller"] for x in families["wxcore_server_caller_last_seen_timestamp_seconds"].samples} \
            == {"ops", "mobile", "biz"}
        # Labels hold route names, never raw paths, app ids or keys.
        endpoints = {x.labels["endpoint"] for x in families["wxcore_server_requests"].samples}
        assert endpoints <= {"token", "invalidate", "ticket", "jssdk_config", "relay", "facade", "status",
                             "status_json", "status_login", "status_logout", "metrics", "healthz", "readyz",
                             "not_found"}, endpoints
        for secret in (token, ops, rl, biz, "the-app-secret"):
            assert secret not in text
        # A second scrape counts the first.
        s, _, body = request(srv.url + "/metrics", headers=bearer(ops))
        families = {f.name: f for f in text_string_to_metric_families(body.decode())}
        assert value("wxcore_server_requests", caller="ops", endpoint="metrics", result="2xx") == 1
    finally:
        srv.stop()
