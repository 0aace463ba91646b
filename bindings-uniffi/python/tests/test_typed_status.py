"""The status snapshot's TypedDicts under ``mypy --strict``: a report that
reads it type-checks, and the mistakes they exist to catch (a token that may
be absent, a misspelled key, a category that is no category) do not."""

import subprocess
import sys
import textwrap

import pytest

GOOD = '''
from typing import List

from wxcore import AlertCategory, AsyncClient, Client, HostStatus, Status


def report(client: Client, other: AsyncClient) -> str:
    s: Status = client.status()
    lines: List[str] = [client.metrics(), other.metrics(), str(other.status()["version"])]
    for app in s["apps"]:
        token = app["token"]
        age = token["age_ms"] if token else None
        lines.append(f"{app['app']} {app['credential']} {token['id'] if token else '-'} {age}")
        last = app["last_refresh"]
        if last is not None and last["result"] != "ok":
            lines.append(f"{last['trigger']} {last['result']} {last['code']}")
    hosts: List[HostStatus] = [h for h in s["hosts"] if h["state"] != "closed"]
    for alert in s["alerts"]:
        category: AlertCategory = alert["category"]
        lines.append(f"{category} {alert['count_window']} {alert['sample']['error']}")
    return "\\n".join(lines) + str(len(hosts))
'''

BAD = '''
from wxcore import AlertCategory, Client


def report(client: Client) -> None:
    s = client.status()
    print(s["apps"][0]["token"]["id"])
    print(s["apps"][0]["tokens"])
    wrong: AlertCategory = "timeout"
    print(wrong)
'''


def test_the_snapshot_types_under_mypy_strict(tmp_path):
    pytest.importorskip("mypy")
    (tmp_path / "good.py").write_text(textwrap.dedent(GOOD))
    (tmp_path / "bad.py").write_text(textwrap.dedent(BAD))
    run = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir",
                          str(tmp_path / "cache"), "good.py", "bad.py"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    assert not [e for e in errors if e.startswith("good.py")], run.stdout
    bad = sorted(int(e.split(":")[1]) for e in errors if e.startswith("bad.py"))
    assert bad == [7, 8, 9], run.stdout
