"""What the installed package promises beyond its behaviour: its version,
its typing marker and types, and the message when an extra is missing."""

import asyncio
import importlib
import json
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import get_args

import pytest

import wxcore

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_version_is_the_installed_distributions():
    declared = re.search(r'^version = "([^"]+)"', PYPROJECT.read_text(encoding="utf-8"), re.M).group(1)
    assert wxcore.__version__ == metadata.version("wxcore") == declared


def test_version_falls_back_when_there_is_no_metadata(monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    import wxcore._version as v

    try:
        assert importlib.reload(v).__version__ == "0+unknown"
    finally:
        monkeypatch.undo()
        importlib.reload(v)
    assert v.__version__ == metadata.version("wxcore")


def test_the_wheel_carries_the_typing_marker():
    assert (Path(wxcore.__file__).parent / "py.typed").is_file()
    files = [str(f) for f in metadata.files("wxcore") or []]
    assert "wxcore/py.typed" in files


def test_error_kind_literal_names_exactly_the_cores_kinds():
    assert sorted(get_args(wxcore.ErrorKind)) == sorted(wxcore.KINDS)


def test_async_client_without_httpx_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "httpx", None)  # what an environment without it imports
    config = {"apps": [{"id": "oa", "platform": "wechat-oa", "app_id": "wxA", "secret": "SECRET"}]}
    with pytest.raises(ImportError, match=re.escape("pip install 'wxcore[async]'")) as e:
        wxcore.AsyncClient(config)
    assert "SECRET" not in str(e.value)

    # A transport of one's own needs no httpx.
    async def http(method, url, headers, body, timeout_s):
        answer = {"access_token": "T", "expires_in": 7200} if "stable_token" in url else {"ok": 1}
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()

    async def main():
        async with wxcore.AsyncClient(config, http=http) as client:
            return await client.call("oa", "GET", "/x")

    assert asyncio.run(main()) == {"ok": 1}
