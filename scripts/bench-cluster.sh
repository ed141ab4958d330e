#!/usr/bin/env bash
# Requests per second and p99 latency of one Node HTTP app (the cluster
# test app, crates/nodeipc-cli/tests/peers/cluster-app.js) on loopback under
# Node's own cluster primary (rr and none), `nodeipc cluster` (rr and none)
# and PM2's cluster mode (pm2-runtime, Node's cluster underneath: rr), with
# 1 and 2 workers, keep-alive and a new connection per request
# (the primary is on the accept path in rr), measured by wrk in one run,
# with the CPU time the primary process itself spent per request (from
# /proc: steadier than requests/s on a loaded machine).
#   scripts/bench-cluster.sh [SECONDS] [CONNECTIONS]
# Installs wrk from Debian's packages when it is missing, and PM2 from the
# npm registry into ~/.cache/nodeipc/pm2/<version> (once). Prints a
# markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
conns=${2:-32}
command -v wrk >/dev/null || { apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
pm2_version=7.0.4
pm2_dir=${XDG_CACHE_HOME:-$HOME/.cache}/nodeipc/pm2/$pm2_version
pm2=$pm2_dir/node_modules/.bin/pm2-runtime
[ -x "$pm2" ] || npm install --no-save --no-audit --no-fund --prefix "$pm2_dir" "pm2@$pm2_version" >/dev/null
cargo build --release -p nodeipc-cli -q
bin=${CARGO_TARGET_DIR:-target}/release/nodeipc
app=crates/nodeipc-cli/tests/peers/cluster-app.js
port=18300

# cpu PID: user + system clock ticks PID has used.
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run NAME WORKERS CMD...: starts the primary, waits until its workers listen,
# then runs wrk with keep-alive and with "Connection: close".
run() {
  local name=$1 n=$2; shift 2
  local log
  log=$(mktemp)
  PORT=$port "$@" >"$log" 2>&1 &
  local pid=$!
  for _ in $(seq 200); do
    if grep -q ready "$log" || [ "$(grep -c 'listening on' "$log")" -ge "$n" ]; then break; fi
    # pm2-runtime says `online` when a worker starts, not when it listens.
    if [ "$(grep -c '] online' "$log")" -ge "$n" ] && curl -so /dev/null "http://127.0.0.1:$port/"; then
      sleep 1
      break
    fi
    sleep 0.05
  done
  for conn in keep-alive close; do
    local hdr=()
    [ "$conn" = close ] && hdr=(-H "Connection: close")
    local out cpu0 cpu1 reqs
    cpu0=$(cpu "$pid")
    out=$(wrk -t1 -c"$conns" -d"${secs}s" --latency "${hdr[@]}" "http://127.0.0.1:$port/")
    cpu1=$(cpu "$pid")
    local rps p99 errs us
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    us=$(awk -v a="$cpu0" -v b="$cpu1" -v n="$reqs" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", (b - a) / hz * 1e6 / n}')
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    errs=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$out" | tr '\n' ' ')
    echo "| $name | $n | $conn | $rps | $p99 | $us | ${errs:-0} |"
  done
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  rm -f "$log"
  port=$((port + 1))
}

echo "Node $(node --version), $(nproc) CPUs, wrk -t1 -c$conns -d${secs}s, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| primary | workers | connection | requests/s | p99 | primary CPU µs/req | errors |"
echo "|---|---|---|---|---|---|---|"
for n in 1 2; do
  for sched in rr none; do
    run "node cluster $sched" "$n" node scripts/bench-cluster-primary.js "$n" "$sched" "$app" http
    run "nodeipc cluster $sched" "$n" "$bin" cluster --workers "$n" --sched "$sched" -- node "$app" http
  done
  home=$(mktemp -d)
  run "PM2 cluster mode" "$n" env PM2_HOME="$home" APP_MODE=http "$pm2" start "$app" -i "$n" --name app
  rm -rf "$home"
done
