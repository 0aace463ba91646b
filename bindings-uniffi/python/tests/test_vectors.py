"""The conformance scenarios of tests/vectors/*.json, run through the Python
binding exactly as the Rust runner runs them through the core."""

import base64
import glob
import json
import os

import pytest

from wxcore import Engine
from wxcore._errors import _NativeError

VECTORS = os.environ.get("WXCORE_VECTORS") or os.path.join(os.path.dirname(__file__), "..", "..", "..", "tests", "vectors")


def load():
    out = []
    for path in sorted(glob.glob(os.path.join(VECTORS, "*.json"))):
        doc = json.load(open(path, encoding="utf-8"))
        for s in doc.get("scenarios", []):
            out.append(pytest.param(s, id=f"{os.path.basename(path)}::{s['name']}"))
    return out


SCENARIOS = load()


def matches(expected, actual):
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        for k, v in expected.items():
            if k == "json" and "json" in actual:
                if actual["json"] != v:
                    return False
            elif k in ("json", "value_json"):
                text = actual.get("body" if k == "json" else "value")
                try:
                    if text is None or json.loads(text) != v:
                        return False
                except ValueError:
                    return False
            elif k not in actual:
                if v is not None:
                    return False
            elif not matches(v, actual[k]):
                return False
        return True
    return expected == actual and type(expected) is type(actual) or (
        isinstance(expected, (int, float)) and not isinstance(expected, bool)
        and isinstance(actual, (int, float)) and not isinstance(actual, bool) and expected == actual)


def samples(text):
    """The metrics text as the vectors compare it: each sample line split at
    its last space into the series and the value, both as written."""
    out = {}
    for line in text.split("\n"):
        line = line.removesuffix("\r")
        if not line or line.startswith("#"):
            continue
        series, sep, value = line.rpartition(" ")
        assert sep, f"a sample line without a value: {line}"
        out[series] = value
    return out


def run(scenario):
    config = json.dumps(scenario["config"])
    recorded = []
    steps = scenario["steps"]
    try:
        engine = Engine(config, steps[0]["now_ms"] if steps else 0)
    except _NativeError as e:
        return [{"config_error": {"field": e.field, "message": e.detail}}]
    done = set()
    for step in steps:
        now = step["now_ms"]
        (kind, v), = step["input"].items()
        if kind == "submit":
            spec = {k: v[k] for k in ("app", "method", "path", "query", "idempotent", "content_type", "ticket", "timeout_ms") if k in v}
            if "json" in v:
                engine.submit_with_body(json.dumps(spec).encode(), json.dumps(v["json"]).encode(), now)
            elif "body" in v:
                spec.setdefault("content_type", "application/octet-stream")
                engine.submit_with_body(json.dumps(spec).encode(), v["body"].encode(), now)
            else:
                engine.submit(json.dumps(spec).encode(), now)
        elif kind == "response":
            headers = dict(v.get("headers", {}))
            if "json" in v:
                body = json.dumps(v["json"], separators=(",", ":"), ensure_ascii=False).encode()
                if not any(k.lower() == "content-type" for k in headers):
                    headers["content-type"] = "application/json"
            elif "body_base64" in v:
                body = base64.b64decode(v["body_base64"])
            else:
                body = v.get("body", "").encode()
            engine.handle_response(v["id"], v.get("status", 200), json.dumps(headers).encode(), body, now)
        elif kind == "transport_error":
            engine.handle_transport_error(v["id"], v["kind"], now)
        elif kind == "store_result":
            engine.handle_store_result(v["id"], json.dumps({k: x for k, x in v.items() if k != "id"}).encode(), now)
        elif kind in ("restart", "restore"):
            state = engine.export_state() if kind == "restart" else json.dumps(v["state"])
            try:
                engine = Engine.restore(config, state, now)
                done.clear()
            except _NativeError as e:
                recorded.append({"config_error": {"field": e.field, "message": e.detail}})
        elif kind == "cancel":
            engine.cancel(v["id"], now)
        elif kind == "push":
            # Recorded before the step's drain, as the Rust runner does.
            try:
                out = engine.handle_push(v["app"], v["method"], json.dumps(v["query"]).encode(),
                                         v["body"].encode(), now)
                recorded.append({"push": json.loads(out)})
            except _NativeError as e:
                recorded.append({"push_error": {"kind": e.kind, "reason": e.reason, "message": e.detail}})
        elif kind == "status":
            # Recorded before the step's drain, as the Rust runner does.
            recorded.append({"status": json.loads(engine.status_json(now))})
        elif kind == "metrics":
            recorded.append({"metrics": {"samples": samples(engine.metrics_text(now))}})
        elif kind != "poll":
            raise AssertionError(f"unknown input {kind}")
        polled = json.loads(engine.poll(now))
        for o in polled["outputs"]:
            if "done" in o:
                assert o["done"]["call_id"] not in done, "a call completed twice"
                done.add(o["done"]["call_id"])
        recorded.extend(polled["outputs"])
        recorded.append({"idle": {"wake_at_ms": polled["wake_at_ms"]}})
    return recorded


def test_there_are_scenarios_for_every_platform():
    platforms = {a["platform"] for p in SCENARIOS for a in p.values[0]["config"]["apps"]}
    assert len(SCENARIOS) >= 60
    assert {"wechat-oa", "wecom", "jing", "cj", "result", "wechat-component", "wecom-suite"} <= platforms


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_vector(scenario):
    got = run(scenario)
    expect = scenario["expect"]
    for i, e in enumerate(expect):
        assert i < len(got), f"output {i} missing: expected {e}"
        assert matches(e, got[i]), f"output {i} differs\n expected: {e}\n actual:   {got[i]}\n all: {got}"
    assert len(got) == len(expect), f"extra outputs: {got[len(expect):]}"
