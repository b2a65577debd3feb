#!/usr/bin/env bash
# Replicated-topic produce/consume against 3 local nwagents.
#
#   bench/topics/nightwatch.sh [--messages N] [--size BYTES] [--partitions P]
#                              [--in-flight K] [--batch-size B]
#                              [--consume-in-flight C] [--nw-build DIR]
#                              [--nw-args "EXTRA NWAGENT ARGS"] [-o json]
#
# Starts 3 nwagent on 127.0.0.1 (free ports, --bootstrap-expect 3, each
# --join-ing the other two, as bench/lib/cluster.py does), data in
# $BENCH_DIR/nightwatch/n{1,2,3} (BENCH_DIR defaults to /tmp/bench-topics,
# wiped per run), waits for one leader and 3 healthy voters, then with nwctl
# (--addr: all three agents):
#   nwctl topic create bench --partitions P --replicas 3
#   nwctl bench produce bench --messages N --size SIZE --in-flight K
#         --batch-size B --acks all -o json
#   nwctl bench consume bench --messages N --in-flight C -o json
# produce: K batches of B messages in flight (K x B messages); acks=all
#          answers a batch once it is committed (fsynced on a majority).
#          Latency is per batch (request to answer).
# consume: min(C, P) threads, each fetching its partitions from the start,
#          1 MiB per fetch, up to the end seen when it started.
# Defaults: N=200000, SIZE=1024, P=1, K=4, B=256 (1024 messages in flight,
# as nats.sh and redis.sh), C=4.
# Binaries: $NWAGENT and $NWCTL, else DIR/agent/nwagent and DIR/cli/nwctl
# with DIR from --nw-build, $NW_BUILD or build/.
# -o json (or BENCH_OUTPUT=json) prints one JSON line instead of the text.
# Stops the agents it started (also on Ctrl-C). Exit status 3: skipped (a
# binary or command missing), as nats.sh and redis.sh.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

messages=200000
size=1024
partitions=1
in_flight=4
batch_size=256
consume_in_flight=4
nw_build=${NW_BUILD:-$repo_root/build}
nw_args=""
output=${BENCH_OUTPUT:-text}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    -n|--messages) messages="$2"; shift 2 ;;
    -s|--size) size="$2"; shift 2 ;;
    -p|--partitions) partitions="$2"; shift 2 ;;
    -k|--in-flight) in_flight="$2"; shift 2 ;;
    -b|--batch-size) batch_size="$2"; shift 2 ;;
    --consume-in-flight) consume_in_flight="$2"; shift 2 ;;
    --nw-build) nw_build="$2"; shift 2 ;;
    --nw-args) nw_args="$2"; shift 2 ;;
    -o|--output) output="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "nightwatch.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$messages" "$size" "$partitions" "$in_flight" "$batch_size" "$consume_in_flight"; do
  is_pos_int "$v" || { echo "nightwatch.sh: '$v' is not a positive integer" >&2; exit 2; }
done
[[ "$output" == json || "$output" == text ]] || { echo "nightwatch.sh: -o json or text" >&2; exit 2; }

nwagent=${NWAGENT:-$nw_build/agent/nwagent}
nwctl=${NWCTL:-$nw_build/cli/nwctl}
[[ -x "$nwagent" ]] || skip "$nwagent not found: build it (make build) or set NWAGENT / --nw-build DIR"
[[ -x "$nwctl" ]] || skip "$nwctl not found: build it (make build) or set NWCTL / --nw-build DIR"
"$nwagent" --help 2>&1 | grep -q -- --bootstrap-expect || skip "$nwagent has no --bootstrap-expect (no clustering)"
for sub in "topic create" "bench produce" "bench consume"; do
  # shellcheck disable=SC2086
  "$nwctl" $sub --help >/dev/null 2>&1 || skip "$nwctl has no '$sub' command yet"
done
command -v python3 >/dev/null || skip "missing python3"
read -r -a extra <<<"$nw_args"

fresh_run_dir nightwatch "agents"
read -r -a ports <<<"$(free_ports 6)"
names=(n1 n2 n3)
apis=()
for i in 0 1 2; do
  n=${names[$i]}
  join=()
  for j in 0 1 2; do
    ((j == i)) || join+=("127.0.0.1:${ports[$((3 + j))]}")
  done
  apis+=("127.0.0.1:${ports[$i]}")
  spawn "$dir/$n.log" "$nwagent" --node-id "$n" --data-dir "$dir/$n" \
    --api "127.0.0.1:${ports[$i]}" --peer "127.0.0.1:${ports[$((3 + i))]}" \
    --bootstrap-expect 3 --join "$(IFS=,; echo "${join[*]}")" --log-level warn \
    "${extra[@]}"
done
addr=$(IFS=,; echo "${apis[*]}")
version=$("$nwagent" --version 2>&1 | head -n1)
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$nw_build/CMakeCache.txt" 2>/dev/null || true)
echo "nightwatch.sh: $version (${build_type:-build type unknown}), 3 agents (API $addr), data in $dir" >&2

# One leader that all three agree on, 3 healthy voters (bench/lib/cluster.py).
python3 - "$addr" "${started_pids[@]}" <<'EOF' || { tail -n 20 "$dir"/n*.log >&2; die "the agents did not form a cluster"; }
import json, os, sys, time, urllib.request
apis, pids = sys.argv[1].split(","), [int(p) for p in sys.argv[2:]]
def get(url):
    with urllib.request.urlopen(url, timeout=2) as r:
        return json.load(r)
end = time.monotonic() + 60
while time.monotonic() < end:
    for p in pids:
        os.kill(p, 0)  # raises if an agent exited
    try:
        leaders = {str(get(f"http://{a}/v1/cluster/status?stale=true").get("leader") or "") for a in apis}
        if len(leaders) == 1 and "" not in leaders:
            st = get(f"http://{apis[0]}/v1/cluster/status")
            mem = st.get("members") or []
            if len(mem) == 3 and all(m.get("role", "voter") == "voter" and m.get("state") == "healthy" for m in mem):
                sys.exit(0)
    except (OSError, ValueError):
        pass
    time.sleep(0.2)
sys.exit(1)
EOF

ctl() { "$nwctl" --addr "$addr" --timeout 60s "$@"; }
ctl -o json topic create bench --partitions "$partitions" --replicas 3 >"$dir/topic.json" \
  || die "nwctl topic create failed"
# Every partition has a leader before the clock starts.
end=$((SECONDS + 60))
until ctl -o json topic describe bench 2>/dev/null | python3 -c '
import json, sys
t = json.load(sys.stdin)
t = t.get("topic", t) if isinstance(t, dict) else t
ps = t.get("partition_states") or []
sys.exit(0 if ps and all(p.get("leader") for p in ps) else 1)'; do
  ((SECONDS < end)) || die "topic bench has partitions without a leader after 60 s"
  sleep 0.2
done

run_wait "$dir/produce.json" "$nwctl" --addr "$addr" --timeout 60s -o json bench produce bench \
  --messages "$messages" --size "$size" --in-flight "$in_flight" --batch-size "$batch_size" \
  --acks all || die "nwctl bench produce failed: $(cat "$dir/produce.json")"
run_wait "$dir/consume.json" "$nwctl" --addr "$addr" --timeout 60s -o json bench consume bench \
  --messages "$messages" --in-flight "$consume_in_flight" \
  || die "nwctl bench consume failed: $(cat "$dir/consume.json")"
produce=$(cat "$dir/produce.json")
consume=$(cat "$dir/consume.json")

json=$(python3 - "$produce" "$consume" "$messages" "$size" "$partitions" "$in_flight" "$batch_size" \
  "$consume_in_flight" "$version, ${build_type:-build type unknown}" "$(machine_json)" <<'EOF'
import json, sys
p, c = json.loads(sys.argv[1]), json.loads(sys.argv[2])
n, size, parts, k, b, ck = map(int, sys.argv[3:9])
def conv(r, lat):
    o = {"messages": r["messages"], "seconds": r["seconds"],
         "msgs_per_s": r["messages_per_second"], "mb_per_s": r["mb_per_second"],
         "requests": r.get("requests")}
    if lat:
        l = r.get("latency_ms") or {}
        o.update({"p50_ms": l.get("p50"), "p99_ms": l.get("p99"), "p999_ms": l.get("p999")})
    return o
if p.get("failed"):
    sys.exit(f"nightwatch.sh: {p['failed']} messages were not acknowledged")
if p["messages"] != n or c["messages"] != n:
    sys.exit(f"nightwatch.sh: produced {p['messages']}, consumed {c['messages']}, expected {n}")
print(json.dumps({
    "system": "nightwatch", "version": sys.argv[9], "messages": n, "size": size,
    "partitions": parts, "in_flight": k * b, "in_flight_batches": k, "batch_size": b,
    "consume_in_flight": ck, "latency": "per batch",
    "produce": conv(p, True), "consume": conv(c, False),
    "machine": json.loads(sys.argv[10]),
}, separators=(",", ":")))
EOF
)
stop_started
rm -rf "$dir"
emit_result "$json"
