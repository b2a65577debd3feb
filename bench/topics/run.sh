#!/usr/bin/env bash
# Replicated topics side by side: Nightwatch, NATS JetStream and Redis
# Streams, the same produce/consume workload, interleaved, plus the disk's
# fsync ceiling.
#
#   bench/topics/run.sh [--runs 3] [--messages 200000] [--size 1024]
#                       [--systems nightwatch,nats,redis] [--no-disk]
#                       [--nw-build DIR] [--nightwatch-args "..."]
#                       [--nats-args "..."] [--redis-args "..."]
#
# Each round runs every system once (nightwatch.sh, nats.sh, redis.sh: each
# starts its own servers with fresh data and stops them), the order rotated
# by one per round, then disk.sh. The workload, the same for all: N
# messages of SIZE bytes, 1024 messages in flight, then read them back:
#   nightwatch: 3 agents, topic with 1 partition, 3 replicas; 4 batches of
#               256 in flight, acks=all (fsynced on a majority); consume
#               with nwctl bench consume
#   nats:       3 nats-server, R3 file stream; 1024 async publishes in
#               flight; one pull consumer, batches of 1000
#   redis:      1 redis-server, appendfsync always; redis-benchmark XADD
#               -c 64 -P 16; XRANGE COUNT 1000
# --X-args add flags to that system's script (see its --help), e.g.
# --nightwatch-args "--partitions 3". Prints each run to stderr, then a
# table of the medians per system, the ratios Nightwatch/NATS and
# Nightwatch/Redis, the disk ceiling, and one line `SUMMARY topics {json}`
# with every run. A system that cannot run here (exit status 3) is shown as
# skipped; exit status 1 if any run failed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

runs=3
messages=200000
size=1024
systems=nightwatch,nats,redis
disk=1
nw_build=""
declare -A xargs_=([nightwatch]="" [nats]="" [redis]="")

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    -n|--messages) messages="$2"; shift 2 ;;
    -s|--size) size="$2"; shift 2 ;;
    --systems) systems="$2"; shift 2 ;;
    --no-disk) disk=0; shift ;;
    --nw-build) nw_build="$2"; shift 2 ;;
    --nightwatch-args) xargs_[nightwatch]="$2"; shift 2 ;;
    --nats-args) xargs_[nats]="$2"; shift 2 ;;
    --redis-args) xargs_[redis]="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$runs" "$messages" "$size"; do
  is_pos_int "$v" || { echo "run.sh: '$v' is not a positive integer" >&2; exit 2; }
done
IFS=, read -r -a wanted <<<"$systems"
for s in "${wanted[@]}"; do
  [[ -v "xargs_[$s]" ]] || { echo "run.sh: unknown system '$s': use nightwatch, nats, redis" >&2; exit 2; }
done

mkdir -p "$BENCH_DIR"
results=$(mktemp "$BENCH_DIR/run-XXXXXX.jsonl")
trap 'stop_started; rm -f "$results"' EXIT
trap 'echo "run.sh: interrupted; the running script stopped its servers" >&2; exit 130' INT TERM HUP
machine=$(machine_json)

run_one() {  # SYSTEM ROUND
  local s=$1 r=$2 out rc=0 extra
  local common=(--messages "$messages" --size "$size" -o json)
  read -r -a extra <<<"${xargs_[$s]}"
  if [[ "$s" == nightwatch && -n "$nw_build" ]]; then
    extra=(--nw-build "$nw_build" "${extra[@]}")
  fi
  run_wait "$BENCH_DIR/run-$s.out" "$here/$s.sh" "${common[@]}" "${extra[@]}" 2>"$BENCH_DIR/run-$s.err" || rc=$?
  out=$(cat "$BENCH_DIR/run-$s.out")
  if ((rc == 0)); then
    printf '{"round":%d,"status":"ok","result":%s}\n' "$r" "$out" >>"$results"
    python3 "$here/report.py" line "$r" "$out" >&2
  else
    local status=failed why
    ((rc == 3)) && status=skipped
    why=$(grep -v '^\s*$' "$BENCH_DIR/run-$s.err" | tail -n 1)
    python3 "$here/report.py" failure "$r" "$status" "$s" "$why" >>"$results"
    echo "run $r $s: $status: $why" >&2
    [[ "$status" == skipped ]] || tail -n 20 "$BENCH_DIR/run-$s.err" >&2
  fi
  rm -f "$BENCH_DIR/run-$s.err" "$BENCH_DIR/run-$s.out"
}

for ((r = 1; r <= runs; r++)); do
  n=${#wanted[@]}
  for ((i = 0; i < n; i++)); do
    run_one "${wanted[$(((i + r - 1) % n))]}" "$r"
  done
  if ((disk)); then
    if run_wait "$BENCH_DIR/run-disk.out" "$here/disk.sh" -o json; then
      out=$(cat "$BENCH_DIR/run-disk.out")
      printf '{"round":%d,"status":"ok","result":%s}\n' "$r" "$out" >>"$results"
      python3 "$here/report.py" line "$r" "$out" >&2
    fi
  fi
done

rm -f "$BENCH_DIR/run-disk.out"
python3 "$here/report.py" table "$results" "$machine" "$runs" "$messages" "$size"
