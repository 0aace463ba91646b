"""The installed distribution's version (pyproject.toml is its one source)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__: str = version("wxcore")
except PackageNotFoundError:
    # Imported from a source tree that was never installed: no metadata to read.
    __version__ = "0+unknown"
