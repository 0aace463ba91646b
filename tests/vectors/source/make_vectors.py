#!/usr/bin/env python3
"""Writes tests/vectors/*.json from the scenario modules beside this file.

    python3 tests/vectors/source/make_vectors.py          # write
    python3 tests/vectors/source/make_vectors.py --check  # fail if the JSON is stale
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import components, config_errors, fleet, monitoring, oa_policies, oa_tokens, platforms, regressions, robustness, sources, tickets  # noqa: E402

MODULES = [oa_tokens, oa_policies, platforms, tickets, fleet, config_errors, regressions, robustness, sources, monitoring, components]


def render(mod):
    doc = {"about": (mod.__doc__ or "").strip(), "scenarios": mod.SCENARIOS}
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def main():
    check = "--check" in sys.argv
    out_dir = os.path.dirname(HERE)
    stale = []
    total = 0
    for mod in MODULES:
        path = os.path.join(out_dir, mod.FILE + ".json")
        text = render(mod)
        total += len(mod.SCENARIOS)
        names = [s["name"] for s in mod.SCENARIOS]
        assert len(names) == len(set(names)), f"duplicate scenario names in {mod.FILE}"
        if check:
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read() != text:
                        stale.append(path)
            except FileNotFoundError:
                stale.append(path)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if stale:
        sys.exit("stale vectors (run make vectors): " + ", ".join(stale))
    print(f"{total} scenarios {'checked' if check else 'written'}")


if __name__ == "__main__":
    main()
