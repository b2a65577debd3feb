#!/usr/bin/env bash
# API request rate and command latency of a real agent on loopback.
#
#   bench/api-requests.sh [BUILD_DIR] [RUNS]
#
# Starts one nwagent (own temp data dir, free port), then RUNS times:
#   1. wrk: GET /v1/status for 5 s over 4 keep-alive connections, 1 thread;
#   2. hyperfine: whole `nwctl status -o json` invocations next to
#      `curl -s` of the same URL (the ratio is nwctl's cost over a bare
#      HTTP client: process start, flag parsing, JSON decode and encode).
# Prints the median of each figure over the runs, as a markdown table.
# Needs wrk, hyperfine and curl (scripts/install-deps.sh installs them).
set -euo pipefail
build="${1:-build}"
runs="${2:-5}"
agent="$build/agent/nwagent"
ctl="$build/cli/nwctl"
for t in wrk hyperfine curl "$agent" "$ctl"; do
  command -v "$t" >/dev/null || { echo "missing: $t (run make build and scripts/install-deps.sh)" >&2; exit 1; }
done

tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$agent" --data-dir "$tmp/data" --api "127.0.0.1:$port" --log-level warn \
  >"$tmp/agent.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/v1/health/ready" >/dev/null && break
  sleep 0.05
done
url="http://127.0.0.1:$port/v1/status"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

rps=(); p50=(); p99=(); nwctl_ms=(); curl_ms=(); ratio=()
for r in $(seq 1 "$runs"); do
  out=$(wrk -t1 -c4 -d5s --latency "$url")
  rps+=("$(awk '/Requests\/sec/ {print $2}' <<<"$out")")
  to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}'; }
  p50+=("$(awk '$1=="50%" {print $2}' <<<"$out" | to_ms)")
  p99+=("$(awk '$1=="99%" {print $2}' <<<"$out" | to_ms)")
  hyperfine -N --warmup 5 --runs 100 --export-json "$tmp/h.json" \
    "$ctl --addr 127.0.0.1:$port -o json status" "curl -s $url" >/dev/null
  n=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(r[0]["median"]*1000, r[1]["median"]*1000, r[0]["median"]/r[1]["median"])' "$tmp/h.json")
  read -r a b c <<<"$n"
  nwctl_ms+=("$a"); curl_ms+=("$b"); ratio+=("$c")
  echo "run $r: ${rps[-1]} req/s, p50 ${p50[-1]} ms, p99 ${p99[-1]} ms; nwctl ${a} ms, curl ${b} ms" >&2
done

m() { printf '%s\n' "$@" | median; }
r0() { printf '%.0f' "$(m "$@")"; }
r2() { printf '%.2f' "$(m "$@")"; }
echo "| figure (median of $runs runs) | value |"
echo "|---|---|"
echo "| GET /v1/status, wrk 1 thread 4 connections: requests/s | $(r0 "${rps[@]}") |"
echo "| GET /v1/status latency p50 (ms) | $(r2 "${p50[@]}") |"
echo "| GET /v1/status latency p99 (ms) | $(r2 "${p99[@]}") |"
echo "| \`nwctl -o json status\`, whole command (ms) | $(r2 "${nwctl_ms[@]}") |"
echo "| \`curl -s\` of the same URL (ms) | $(r2 "${curl_ms[@]}") |"
echo "| ratio nwctl / curl | $(r2 "${ratio[@]}") |"
