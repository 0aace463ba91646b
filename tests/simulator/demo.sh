#!/usr/bin/env bash
# `make demo`: start the simulator, run the Node and the Python backends'
# working day against it, print what the platform saw, stop the simulator
# (on success, failure or Ctrl-C alike).
set -euo pipefail
cd "$(dirname "$0")/../.."
SIM=${WXSIM:-target/release/wxsim}
PY=${PY:-target/venv-py/bin/python}

addr_file=$(mktemp)
"$SIM" >"$addr_file" &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null; rm -f "$addr_file"' EXIT
for _ in $(seq 100); do [ -s "$addr_file" ] && break; sleep 0.05; done
WXSIM_ADDRS=$(head -n1 "$addr_file")
export WXSIM_ADDRS
echo "simulator: $WXSIM_ADDRS"

node npm/examples/demo.mjs
"$PY" bindings-uniffi/python/examples/demo.py

echo
echo "=== what the platform saw (simulator counters) ==="
"$PY" - <<'PY'
import json, os, urllib.request
c = json.load(urllib.request.urlopen(json.loads(os.environ["WXSIM_ADDRS"])["control"] + "/counters"))
for app in sorted(c["token_fetches"]):
    calls = c["calls"].get(app, {})
    print(f"  {app}: {c['token_fetches'][app]} token fetches, {sum(calls.values())} API calls "
          f"({', '.join(f'{p} {n}' for p, n in sorted(calls.items()))})")
    rejected = c["rejected"].get(app, {})
    if rejected:
        print(f"  {' ' * len(app)}  answered with errors: " + ", ".join(f"{k} ×{v}" for k, v in sorted(rejected.items())))
print(f"  requests per host: primary {c['requests']['primary']}, disaster recovery {c['requests']['dr']}")
PY
