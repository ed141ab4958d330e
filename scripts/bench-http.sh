#!/usr/bin/env bash
# HTTP requests per second the supervisor example serves (a Rust-bound port,
# N Node HTTP workers), for 1 and 2 workers, measured by wrk on loopback.
#   scripts/bench-http.sh [SECONDS] [CONNECTIONS]
# Installs wrk from Debian's packages when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-64}
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
cargo build --release --example supervisor -q
port=18080
echo "| workers | requests/s | p50 latency |"
echo "|---|---|---|"
for n in 1 2; do
  log=$(mktemp)
  target/release/examples/supervisor --workers "$n" --port "$port" --serve >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do [ "$(grep -c serves "$log")" -ge "$n" ] && break; sleep 0.1; done
  out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:$port/")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  echo "| $n | $rps | $p50 |"
  rm -f "$log"
  port=$((port + 1))
done
