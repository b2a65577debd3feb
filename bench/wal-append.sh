#!/usr/bin/env bash
# Durable appends to the controller's write-ahead log (agent/wal): the time
# of one fsynced append of a 100-byte entry, from 1000 appends, repeated.
#
#   bench/wal-append.sh [BUILD_DIR] [RUNS]
#
# Prints each run and the median, in microseconds per append. The figure is
# the disk's fsync latency more than our code's: compare runs on the same
# machine, and expect shared or virtual disks to vary widely.
set -euo pipefail
build="${1:-build}"
runs="${2:-5}"
bin="$build/tests/unit/agent/wal/wal_test"
[[ -x "$bin" ]] || { echo "missing $bin: run make build" >&2; exit 1; }
vals=()
for r in $(seq 1 "$runs"); do
  us=$("$bin" -ts=wal.bench --no-skip 2>&1 |
       sed -n 's/.*1000 durable appends of 100 B: \([0-9.]*\) ms total.*/\1/p')
  [[ -n "$us" ]] || { echo "no figure from $bin" >&2; exit 1; }
  vals+=("$us")   # ms per 1000 appends == us per append
  echo "run $r: $us us per append" >&2
done
printf '%s\n' "${vals[@]}" | sort -g |
  awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2;
       printf "median of %d runs: %.0f us per durable append (min %.0f, max %.0f)\n", NR, m, a[1], a[NR]}'
