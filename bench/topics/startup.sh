#!/usr/bin/env bash
# How long an agent takes to start with a large partition, and what the
# partition costs in memory: one agent, one topic of 1 partition and 1
# replica filled with MESSAGES x SIZE bytes in batches of BATCH, then
# RESTARTS times: stop the agent (SIGTERM), start it again and time
#   ready:  until GET /v1/health/ready answers 200;
#   online: until `nwctl topic describe` shows the partition online (its
#           segments recovered: every batch read and its CRC checked).
# Prints each restart's times and the agent's VmRSS once online.
#
#   bench/topics/startup.sh [--messages N] [--size BYTES] [--batch-size B]
#                           [--restarts R] [--cold] [--nw-build DIR]
#                           [-o json]
#
# Defaults: N=1000000, SIZE=1024, B=500 (1 GB of data), R=3. --batch-size 1
# gives one batch per message, the most batches for the data (the agent
# keeps about 40 bytes per batch in memory: agent/storage/README.md).
# Data in $BENCH_DIR/startup (BENCH_DIR defaults to /tmp/bench-topics,
# wiped per run). Restarts read the segments from the page cache unless
# the machine has less free memory than the data; --cold (root only) drops
# the page cache (sync; echo 3 > /proc/sys/vm/drop_caches) before each
# start, so they are read from the disk.
# Binaries: $NWAGENT and $NWCTL, else DIR/agent/nwagent and DIR/cli/nwctl
# (DIR: --nw-build, $NW_BUILD, or build).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

messages=1000000
size=1024
batch=500
restarts=3
cold=0
nw_build=${NW_BUILD:-$repo_root/build}
output=${BENCH_OUTPUT:-text}
while (($#)); do
  case "$1" in
    --messages) messages="$2"; shift 2 ;;
    --size) size="$2"; shift 2 ;;
    --batch-size) batch="$2"; shift 2 ;;
    --restarts) restarts="$2"; shift 2 ;;
    --cold) cold=1; shift ;;
    --nw-build) nw_build="$2"; shift 2 ;;
    -o|--output) output="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "startup.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$messages" "$size" "$batch" "$restarts"; do
  is_pos_int "$v" || { echo "startup.sh: '$v' is not a positive integer" >&2; exit 2; }
done
[[ "$output" == json || "$output" == text ]] || { echo "startup.sh: -o json or text" >&2; exit 2; }
nwagent=${NWAGENT:-$nw_build/agent/nwagent}
nwctl=${NWCTL:-$nw_build/cli/nwctl}
[[ -x "$nwagent" && -x "$nwctl" ]] || skip "no $nwagent or $nwctl (make build, or --nw-build DIR)"
command -v curl >/dev/null || skip "needs curl"
if ((cold)) && [[ ! -w /proc/sys/vm/drop_caches ]]; then
  echo "startup.sh: --cold needs root (it writes /proc/sys/vm/drop_caches)" >&2
  exit 2
fi

fresh_run_dir startup "the agent"
read -r api peer < <(free_ports 2)
ctl=("$nwctl" --addr "127.0.0.1:$api")

start_agent() {
  spawn "$dir/agent.log" "$nwagent" --node-id s1 --data-dir "$dir/s1" \
    --api "127.0.0.1:$api" --peer "127.0.0.1:$peer" --log-level warn
  agent_pid=${started_pids[-1]}
}
now() { date +%s.%N; }
wait_ready() {  # DEADLINE_SECONDS
  local end=$((SECONDS + $1))
  until curl -sf "http://127.0.0.1:$api/v1/health/ready" >/dev/null; do
    kill -0 "$agent_pid" 2>/dev/null || die "the agent exited (see $dir/agent.log)"
    ((SECONDS < end)) || die "the agent was not ready after $1 s"
    sleep 0.01
  done
}
online() {
  "${ctl[@]}" -o json topic describe big 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if d["partition_states"] and all(p["status"] == "online" for p in d["partition_states"]) else 1)'
}

start_agent
wait_ready 60
"${ctl[@]}" topic create big --partitions 1 --replicas 1 >/dev/null
run_wait "$dir/produce.json" "${ctl[@]}" bench produce big --messages "$messages" \
  --size "$size" --batch-size "$batch" --in-flight 32 -o json \
  || die "nwctl bench produce failed"
data_bytes=$(du -sb "$dir/s1/partitions" | cut -f1)

rows=()
for ((r = 1; r <= restarts; r++)); do
  stop_started
  if ((cold)); then
    sync
    echo 3 >/proc/sys/vm/drop_caches
  fi
  start_agent
  t0=$(now)
  wait_ready 600
  t1=$(now)
  end=$((SECONDS + 600))
  until online; do
    ((SECONDS < end)) || die "the partition was not online after 600 s"
    sleep 0.02
  done
  t2=$(now)
  rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$agent_pid/status")
  rows+=("$t0 $t1 $t2 $rss_kib")
done
stop_started

python3 - "$output" "$(machine_json)" "$("$nwagent" --version 2>&1 | head -n1)" \
  "$messages" "$size" "$batch" "$data_bytes" "$(tail -n 1 "$dir/produce.json")" "$cold" "${rows[@]}" <<'EOF'
import json, statistics, sys
output, machine, version = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
messages, size, batch, data_bytes = (int(x) for x in sys.argv[4:8])
produce = json.loads(sys.argv[8])
runs = []
for row in sys.argv[10:]:
    t0, t1, t2, rss = row.split()
    runs.append({"ready_s": round(float(t1) - float(t0), 3),
                 "online_s": round(float(t2) - float(t0), 3),
                 "rss_mib": round(int(rss) / 1024, 1)})
res = {"bench": "startup", "version": version, "cold": sys.argv[9] == "1", "messages": messages, "size": size,
       "batch_size": batch, "batches": -(-messages // batch), "data_bytes": data_bytes,
       "produce_msgs_per_s": produce.get("messages_per_second"), "restarts": runs,
       "median": {k: statistics.median(r[k] for r in runs) for k in ("ready_s", "online_s", "rss_mib")},
       "machine": machine}
if output == "json":
    print(json.dumps(res, separators=(",", ":")))
else:
    print(f"{version}: {messages} x {size} B in batches of {batch} "
          f"({res['batches']} batches, {data_bytes / 1e6:.0f} MB on disk)"
          + ("; page cache dropped before each start" if res["cold"] else ""))
    for i, r in enumerate(runs, 1):
        print(f"restart {i}: ready {r['ready_s']} s, partition online {r['online_s']} s, "
              f"RSS {r['rss_mib']} MiB")
    m = res["median"]
    print(f"median: ready {m['ready_s']} s, online {m['online_s']} s, RSS {m['rss_mib']} MiB")
EOF
