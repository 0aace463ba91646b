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
"$PY" bindings-uniffi/python/examples/component_demo.py

# The token server: one process holds the AppSecret; a business server and
# a mobile app hold neither it nor (the app) any token.
echo
echo "=== the token server ==="
srv_dir=$(mktemp -d)
WXCORE_APP_ID=wx_demo_tokens
WXCORE_BIZ_KEY=$("$PY" -c 'import secrets; print("biz_" + secrets.token_hex(32))')
WXCORE_MOBILE_KEY=$("$PY" -c 'import secrets; print("app_" + secrets.token_hex(32))')
primary=$("$PY" -c 'import json, os; print(json.loads(os.environ["WXSIM_ADDRS"])["primary"])')
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
cat > "$srv_dir/server.toml" <<TOML
[server]
listen = "127.0.0.1:0"
audit_log = "$srv_dir/audit.log"
[[server.callers]]
name = "business-server"
key_sha256 = "$(sha "$WXCORE_BIZ_KEY")"
apps = ["oa"]
actions = ["token", "ticket"]
[[server.callers]]
name = "mobile-app"
key_sha256 = "$(sha "$WXCORE_MOBILE_KEY")"
apps = ["oa"]
actions = ["relay"]
relay_paths = ["/cgi-bin/user/info"]
[[apps]]
id = "oa"
platform = "wechat-oa"
app_id = "$WXCORE_APP_ID"
secret = "only-the-token-server-knows"
hosts = ["$primary"]
TOML
target/debug/wxcore-server --config "$srv_dir/server.toml" >"$srv_dir/out" 2>"$srv_dir/err" &
srv_pid=$!
trap 'kill "$srv_pid" "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null; rm -rf "$addr_file" "$srv_dir"' EXIT
for _ in $(seq 200); do [ -s "$srv_dir/out" ] && break; sleep 0.05; done
WXCORE_SERVER_URL=$("$PY" -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())["listening"])' "$srv_dir/out")
export WXCORE_SERVER_URL WXCORE_BIZ_KEY WXCORE_MOBILE_KEY WXCORE_APP_ID
for _ in $(seq 200); do curl -sf "$WXCORE_SERVER_URL/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
echo "  token server at $WXCORE_SERVER_URL: it fetched the token before anyone asked"
"$PY" bindings-uniffi/python/examples/token_server_demo.py
# A Kotlin client playing a mobile app: its calls go through the relay.
WXCORE_RELAY_URL=$WXCORE_SERVER_URL java -Djna.library.path=target/release \
  -cp "$(cat bindings-uniffi/kotlin/target/run-classpath.txt)" wxcore.examples.MobileAppKt | grep -v '^{'
echo "  audit log (what each caller did; token ids, never tokens):"
sed 's/^/    /' "$srv_dir/audit.log"

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
