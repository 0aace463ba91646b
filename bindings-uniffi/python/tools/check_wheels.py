"""Checks what `make python-wheels` built: one manylinux2014 wheel per target
(tag in the name and `auditwheel show`'s verdict on the binary itself), each
carrying the typing marker and the native library, and an sdist that builds.

    python check_wheels.py target/wheels x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu
    python check_wheels.py --no-sdist target/wheels x86_64-unknown-linux-gnu   (make test)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


def fail(message: str) -> None:
    sys.exit(f"check_wheels: {message}")


def check_wheel(wheel: Path, arch: str) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("wxcore/py.typed", "wxcore/__init__.py", "wxcore/_native/__init__.py", "wxcore/_native/wxcore_ffi.py"):
        if needed not in names:
            fail(f"{wheel.name} lacks {needed}")
    if not any(n.startswith("wxcore/") and n.endswith(".so") for n in names):
        fail(f"{wheel.name} has no native library")
    # The filename is only a claim; auditwheel reads the binary's symbol versions.
    tools = Path(sys.executable).parent
    shown = subprocess.run([str(tools / "auditwheel"), "show", str(wheel)], capture_output=True, text=True)
    verdict = " ".join((shown.stdout + shown.stderr).split())
    if shown.returncode != 0 or f'"manylinux_2_17_{arch}"' not in verdict:
        fail(f"auditwheel does not find {wheel.name} manylinux_2_17_{arch}:\n{shown.stdout}{shown.stderr}")
    print(f"ok {wheel.name}: {len(names)} files, auditwheel: manylinux_2_17_{arch}")


def check_sdist(sdist: Path) -> None:
    # A wheel from the sdist alone proves it carries every crate the build needs.
    env = dict(os.environ, CARGO_TARGET_DIR=str(Path("target/sdist-check").resolve()))
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, str(sdist)],
                       check=True, env=env)
        built = list(Path(out).glob("wxcore-*.whl"))
        if len(built) != 1:
            fail(f"the sdist built {built}")
        print(f"ok {sdist.name}: builds {built[0].name}")


def main() -> None:
    args = sys.argv[1:]
    with_sdist = "--no-sdist" not in args
    args = [a for a in args if a != "--no-sdist"]
    out, targets = Path(args[0]), args[1:]
    wheels = sorted(out.glob("wxcore-*.whl"))
    for target in targets:
        arch = target.split("-", 1)[0]
        mine = [w for w in wheels if w.name.endswith(f"_{arch}.whl")]
        if len(mine) != 1:
            fail(f"expected one {arch} wheel in {out}, found {[w.name for w in mine]}")
        if "manylinux_2_17" not in mine[0].name and "manylinux2014" not in mine[0].name:
            fail(f"{mine[0].name} is not tagged manylinux2014")
        check_wheel(mine[0], arch)
    if not with_sdist:
        return
    sdists = sorted(out.glob("wxcore-*.tar.gz"))
    if len(sdists) != 1:
        fail(f"expected one sdist in {out}, found {sdists}")
    check_sdist(sdists[0])


if __name__ == "__main__":
    main()
