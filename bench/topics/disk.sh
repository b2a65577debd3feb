#!/usr/bin/env bash
# The disk's ceiling for a log that fsyncs: sequential writes, each one
# synced before the next (dd oflag=dsync: O_DSYNC, a data sync per write).
#
#   bench/topics/disk.sh [-o json]
#
# In $BENCH_DIR (default /tmp/bench-topics, the same file system as the
# other bench/topics scripts' data), one file written and removed per size:
#   1 MiB per sync:  1024 writes (1 GiB)
#   64 KiB per sync: 4096 writes (256 MiB)
#   4 KiB per sync:  1024 writes (4 MiB): the cost of one small sync
# Prints MB/s, syncs/s and ms per synced write for each, or one JSON line
# with -o json (or BENCH_OUTPUT=json). A replicated log with acks=all needs
# at least one such sync per commit on a majority of its replicas; on one
# machine all three replicas share this disk.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

output=${BENCH_OUTPUT:-text}
while (($#)); do
  case "$1" in
    -o|--output) output="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "disk.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$output" == json || "$output" == text ]] || { echo "disk.sh: -o json or text" >&2; exit 2; }

mkdir -p "$BENCH_DIR"
file="$BENCH_DIR/dd.$$"
trap 'rm -f "$file"' EXIT
rows=()
for spec in 1M:1048576:1024 64k:65536:4096 4k:4096:1024; do
  IFS=: read -r bs bytes count <<<"$spec"
  rm -f "$file"
  out=$(LC_ALL=C dd if=/dev/zero of="$file" bs="$bs" count="$count" oflag=dsync 2>&1) \
    || die "dd failed: $out"
  secs=$(sed -n 's/.* copied, \([0-9.e+-]*\) s,.*/\1/p' <<<"$out")
  [[ -n "$secs" ]] || die "could not read dd's output: $out"
  rows+=("$bs $bytes $count $secs")
done
rm -f "$file"

python3 - "$output" "$(machine_json)" "$(df -PT "$BENCH_DIR" | awk 'NR==2 {print $1, $2}')" "${rows[@]}" <<'EOF'
import json, sys
output, machine, fs = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
res = []
for row in sys.argv[4:]:
    bs, size, count, secs = row.split()
    size, count, secs = int(size), int(count), float(secs)
    res.append({"block": bs, "block_bytes": size, "writes": count, "seconds": secs,
                "mb_per_s": round(size * count / secs / 1e6, 1),
                "syncs_per_s": round(count / secs, 1),
                "ms_per_write": round(secs / count * 1000, 3)})
if output == "json":
    print(json.dumps({"bench": "disk", "tool": "dd oflag=dsync", "fs": fs, "results": res,
                      "machine": machine}, separators=(",", ":")))
else:
    print(f"disk ({fs}), dd oflag=dsync, one sync per write:")
    for r in res:
        print(f"  {r['block']:>3} per sync: {r['mb_per_s']:8.1f} MB/s, {r['syncs_per_s']:7.1f} syncs/s, "
              f"{r['ms_per_write']:.2f} ms per write")
EOF
