#!/usr/bin/env bash
# `make serve`: the token server against the local simulator with a sample
# config (two apps, three callers with fresh keys). Runs until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=target/serve
mkdir -p "$dir"
coproc SIM { exec target/release/wxsim --watch-stdin; }
read -r addrs <&"${SIM[0]}"
primary=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["primary"])' "$addrs")
biz=$(python3 -c 'import secrets; print("biz_" + secrets.token_hex(32))')
app=$(python3 -c 'import secrets; print("app_" + secrets.token_hex(32))')
ops=$(python3 -c 'import secrets; print("ops_" + secrets.token_hex(32))')
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
cat > "$dir/wxcore-server.toml" <<TOML
# The same engine settings as the libraries take, plus [server].
refresh_margin_ms = 600000

[server]
listen = "127.0.0.1:8700"
store = "memory"              # or "redis://127.0.0.1:6379/0" for replicas
audit_log = "$dir/audit.log"

[[server.callers]]            # a business server: tokens, tickets, the facade
name = "billing"
key_sha256 = "$(sha "$biz")"
apps = ["oa", "hr"]
actions = ["token", "ticket", "facade"]

[[server.callers]]            # an operator: the status page and /metrics, every app
name = "ops"
key_sha256 = "$(sha "$ops")"
apps = ["*"]
actions = ["status"]

[[server.callers]]            # a mobile app: the relay only, two APIs
name = "mobile"
key_sha256 = "$(sha "$app")"
apps = ["oa"]
actions = ["relay"]
relay_paths = ["/cgi-bin/user/info", "/cgi-bin/tags/*"]
rate_per_minute = 600

[[apps]]
id = "oa"
platform = "wechat-oa"
app_id = "wxserve0001"
secret = "serve-demo-secret"
base_url = "$primary"

[[apps]]
id = "hr"
platform = "wecom"
corp_id = "wwserve"
agent_id = "1000002"
secret = "serve-demo-corp-secret"
base_url = "$primary"
TOML
cat <<MSG
wxcore-server on http://127.0.0.1:8700 (simulator at $primary)
  config:      $dir/wxcore-server.toml
  audit log:   $dir/audit.log
  keys (shown once; the config holds their SHA-256):
    billing  $biz
    mobile   $app
    ops      $ops
  try:
    curl -H 'X-Wxcore-Request: 1' -H "Authorization: Bearer $biz" http://127.0.0.1:8700/v1/apps/oa/token
    curl -H 'X-Wxcore-Request: 1' -H "Authorization: Bearer $app" 'http://127.0.0.1:8700/v1/relay/oa/cgi-bin/user/info?openid=o1'
    curl 'http://127.0.0.1:8700/cgi-bin/token?grant_type=client_credential&appid=wxserve0001&secret=$biz'
    curl http://127.0.0.1:8700/readyz
    curl -H "Authorization: Bearer $ops" http://127.0.0.1:8700/metrics
  status page: http://127.0.0.1:8700/status (sign in with the ops key)
MSG
target/debug/wxcore-server --config "$dir/wxcore-server.toml" &
SRV_PID=$!
trap 'kill $SRV_PID $SIM_PID 2>/dev/null' EXIT INT TERM
wait $SRV_PID
