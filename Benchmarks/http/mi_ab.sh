#!/usr/bin/env bash
# MI over HTTP with ab (Debian apache2-utils): 5000 `version` POSTs, sequential and 8 concurrent clients, a new
# connection per request (as opensips-cli) and keep-alive. Usage: Benchmarks/http/mi_ab.sh [build-dir] [port]
# (build-dir defaults to .build/debug; an older build whose mi_http has its own port param is detected).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-.build/debug}; port=${2:-29301}
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
echo -n '{"jsonrpc":"2.0","method":"version","id":"1"}' > "$dir/body.json"
if [ -f "$build/libhttpd.so" ]; then
  printf 'mpath = "%s"\nloadmodule "httpd.so"\nloadmodule "mi_http.so"\nmodparam("httpd", "port", %s)\n' "$(realpath "$build")" "$port" > "$dir/cfg"
else
  printf 'mpath = "%s"\nloadmodule "mi_http.so"\nmodparam("mi_http", "port", %s)\n' "$(realpath "$build")" "$port" > "$dir/cfg"
fi
"$build/switchyard" -f "$dir/cfg" > "$dir/log" 2>&1 & pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 50); do curl -s -o /dev/null -d @"$dir/body.json" "http://127.0.0.1:$port/mi" && break; sleep 0.2; done
for mode in "-c 1" "-c 8" "-k -c 1" "-k -c 8"; do
  r=$(ab -q -n 5000 $mode -p "$dir/body.json" -T application/json "http://127.0.0.1:$port/mi" 2>&1 \
      | grep -E "Requests per second|Failed requests" | tr -s ' ' | tr '\n' ' ')
  echo "ab $mode: $r"
done
