# Helpers shared by the bench/topics scripts (sourced, not run).
# shellcheck shell=bash

BENCH_DIR=${BENCH_DIR:-/tmp/bench-topics}
topics_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034  # used by the scripts that source this file
repo_root=$(cd "$topics_here/../.." && pwd)

# shellcheck source=../lib/procs.sh
source "$topics_here/../lib/procs.sh"

die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# skip MSG: this system cannot run here (a tool or binary is missing):
# exit 3, which run.sh reports as "skipped" rather than as a failure.
skip() {
  echo "$(basename "$0"): skipped: $*" >&2
  exit 3
}

# free_ports N: N distinct TCP ports that are free on 127.0.0.1 right now.
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

# wait_port PORT SECONDS PID: until 127.0.0.1:PORT accepts, PID still alive.
wait_port() {
  local port=$1 pid=$3 end=$((SECONDS + $2))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || return 1
    ((SECONDS < end)) || return 1
    sleep 0.1
  done
}

# fresh_run_dir NAME WHAT: sets `dir` to an empty $BENCH_DIR/NAME and stops
# everything spawn() started when the script ends or is interrupted (WHAT
# names it in the message).
fresh_run_dir() {
  dir="$BENCH_DIR/$1"
  trap 'stop_started' EXIT
  # shellcheck disable=SC2064  # the message is fixed now, on purpose
  trap "echo \"$1.sh: interrupted; $2 stopped\" >&2; exit 130" INT TERM HUP
  rm -rf "$dir"
  mkdir -p "$dir"
}

# machine_json: {"date", "nproc", "cpu", "loadavg_1m", "kernel"} of this machine.
machine_json() {
  python3 - <<'EOF'
import json, os, platform, time
cpu = "?"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
except OSError:
    pass
print(json.dumps({
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "nproc": os.cpu_count(),
    "cpu": cpu,
    "loadavg_1m": round(os.getloadavg()[0], 2),
    "kernel": platform.release(),
}, separators=(",", ":")))
EOF
}

# emit_result JSON: the JSON line on stdout when $output (the caller's -o)
# is json, else a human summary on stdout (the JSON's produce/consume).
emit_result() {
  local json=$1
  if [[ "${output:-text}" == json ]]; then
    printf '%s\n' "$json"
  else
    python3 - "$json" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
name = r["system"]
p, c = r.get("produce"), r.get("consume")
if p:
    lat = ""
    if p.get("p50_ms") is not None:
        lat = f"; ack latency p50 {p['p50_ms']} ms, p99 {p['p99_ms']} ms, p999 {p['p999_ms']} ms"
    print(f"{name} produce: {p['messages']} x {r['size']} B in {p['seconds']} s: "
          f"{p['msgs_per_s']:.0f} msg/s, {p['mb_per_s']:.1f} MB/s{lat}")
if c:
    print(f"{name} consume: {c['messages']} x {r['size']} B in {c['seconds']} s: "
          f"{c['msgs_per_s']:.0f} msg/s, {c['mb_per_s']:.1f} MB/s")
EOF
  fi
}
