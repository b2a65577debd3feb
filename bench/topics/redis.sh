#!/usr/bin/env bash
# Log produce/consume against one redis-server Stream with appendfsync always.
#
#   bench/topics/redis.sh [--messages N] [--size BYTES] [-c CLIENTS]
#                         [-P PIPELINE] [--consume-clients C] [--count 1000]
#                         [-o json]
#
# Starts redis-server (Debian package) on a free 127.0.0.1 port with
# `appendonly yes`, `appendfsync always` (the AOF is fsynced before any reply
# to the writes it holds; pipelined writes share one fsync), no RDB
# snapshots, data in $BENCH_DIR/redis (BENCH_DIR defaults to
# /tmp/bench-topics, wiped per run). Then, with redis-benchmark:
#   produce: N x `XADD bench * f <SIZE-byte value>` from CLIENTS connections
#            with PIPELINE commands in flight on each (so CLIENTS x PIPELINE
#            messages in flight); prints messages/s, MB/s and the command
#            latency p50/p99/p999 that redis-benchmark measures.
#   consume: max(N/COUNT, 1000) x `XRANGE bench - + COUNT <COUNT>` from C
#            connections, one request in flight each; messages/s =
#            requests/s x COUNT. Every request reads the stream's first
#            COUNT entries: Redis keeps the whole stream in memory, so where
#            a range starts does not change its cost (and at least 1000
#            requests make the run last long enough to time).
# Defaults: N=200000, SIZE=1024, CLIENTS=64, PIPELINE=16 (1024 in flight),
# C=1, COUNT=1000. -o json (or BENCH_OUTPUT=json) prints one JSON line.
# Checks XLEN = N after the produce. Redis keeps one copy: no replication.
# Stops the server it started (also on Ctrl-C). Exit status 3: skipped (a
# tool missing).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

messages=200000
size=1024
clients=64
pipeline=16
consume_clients=1
count=1000
output=${BENCH_OUTPUT:-text}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    -n|--messages) messages="$2"; shift 2 ;;
    -s|--size) size="$2"; shift 2 ;;
    -c|--clients) clients="$2"; shift 2 ;;
    -P|--pipeline) pipeline="$2"; shift 2 ;;
    --consume-clients) consume_clients="$2"; shift 2 ;;
    --count) count="$2"; shift 2 ;;
    -o|--output) output="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "redis.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$messages" "$size" "$clients" "$pipeline" "$consume_clients" "$count"; do
  is_pos_int "$v" || { echo "redis.sh: '$v' is not a positive integer" >&2; exit 2; }
done
[[ "$output" == json || "$output" == text ]] || { echo "redis.sh: -o json or text" >&2; exit 2; }
for t in redis-server redis-benchmark redis-cli python3; do
  command -v "$t" >/dev/null || skip "missing $t: run scripts/install-deps.sh"
done

fresh_run_dir redis "server"
read -r port <<<"$(free_ports 1)"
spawn "$dir/redis.out" redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" \
  --appendonly yes --appendfsync always --save "" \
  --daemonize no --logfile "$dir/redis.log"
wait_port "$port" 30 "${started_pids[0]}" || {
  tail -n 20 "$dir/redis.log" >&2 || true
  die "redis-server did not start"
}
[[ $(redis-cli -p "$port" config get appendfsync | tail -n1) == always ]] || die "appendfsync is not 'always'"
version=$(redis-server --version | awk '{print $1, $2, $3}')
echo "redis.sh: $version on port $port, appendonly yes, appendfsync always, data in $dir" >&2

value=$(head -c "$size" /dev/zero | tr '\0' x)
run_wait "$dir/produce.txt" redis-benchmark -h 127.0.0.1 -p "$port" -n "$messages" -c "$clients" -P "$pipeline" \
  XADD bench '*' f "$value" || { cat "$dir/produce.txt" >&2; die "redis-benchmark XADD failed"; }
xlen=$(redis-cli -p "$port" XLEN bench)
[[ "$xlen" == "$messages" ]] || die "XLEN bench is $xlen after $messages XADDs"

requests=$(((messages + count - 1) / count))
((requests >= 1000)) || requests=1000
((requests >= consume_clients)) || requests=$consume_clients
run_wait "$dir/consume.txt" redis-benchmark -h 127.0.0.1 -p "$port" -n "$requests" -c "$consume_clients" -P 1 \
  XRANGE bench - + COUNT "$count" || { cat "$dir/consume.txt" >&2; die "redis-benchmark XRANGE failed"; }

json=$(python3 - "$dir/produce.txt" "$dir/consume.txt" "$messages" "$size" "$clients" "$pipeline" \
  "$consume_clients" "$count" "$requests" "$version" "$(machine_json)" <<'EOF'
import json, re, sys
prod, cons = open(sys.argv[1]).read(), open(sys.argv[2]).read()
n, size, clients, pipeline, cclients, count, requests = map(int, sys.argv[3:10])
version, machine = sys.argv[10], json.loads(sys.argv[11])

def parse(text):
    # redis-benchmark prints "\r"-separated progress lines first
    text = text.replace("\r", "\n")
    rps = float(re.search(r"throughput summary: ([\d.]+) requests per second", text).group(1))
    secs = float(re.search(r"requests completed in ([\d.]+) seconds", text).group(1))
    dist = [(float(p), float(v)) for p, v in
            re.findall(r"^([\d.]+)% <= ([\d.]+) milliseconds", text.split("Cumulative distribution")[0], re.M)]
    def pct(q):
        for p, v in dist:
            if p >= q:
                return v
        return dist[-1][1] if dist else None
    summ = re.search(r"avg\s+min\s+p50\s+p95\s+p99\s+max\s*\n\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", text)
    p50, p99 = (float(summ.group(3)), float(summ.group(5))) if summ else (pct(50), pct(99))
    return rps, secs, p50, p99, pct(99.9)

rps, secs, p50, p99, p999 = parse(prod)
crps, csecs, _, _, _ = parse(cons)
print(json.dumps({
    "system": "redis", "version": version, "messages": n, "size": size,
    "in_flight": clients * pipeline, "clients": clients, "pipeline": pipeline,
    "produce": {"messages": n, "seconds": secs, "msgs_per_s": round(rps, 1),
                "mb_per_s": round(rps * size / 1e6, 2), "p50_ms": p50, "p99_ms": p99, "p999_ms": p999},
    "consume": {"messages": requests * count, "seconds": csecs, "msgs_per_s": round(crps * count, 1),
                "mb_per_s": round(crps * count * size / 1e6, 2), "clients": cclients, "count": count,
                "requests_per_s": crps},
    "machine": machine,
}, separators=(",", ":")))
EOF
)
stop_started
rm -rf "$dir"
emit_result "$json"
