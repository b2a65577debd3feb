#!/usr/bin/env bash
# Replicated-log produce/consume against a 3-node nats-server JetStream
# cluster with an R3 file-storage stream.
#
#   bench/topics/nats.sh [--messages N] [--size BYTES] [--in-flight K]
#                        [--fetch-batch B] [--publish-mode async|js]
#                        [--consume-mode pull|fetch|consume] [-o json]
#
# Starts 3 nats-server (Debian package; scripts/install-deps.sh --bench) on
# 127.0.0.1 with free ports, JetStream store dirs in
# $BENCH_DIR/nats/n{1,2,3} (BENCH_DIR defaults to /tmp/bench-topics, wiped
# per run). bench/topics/nats-bench.js (npm package `nats`, installed here
# into bench/topics/node_modules from package-lock.json on first use) then:
#   produce: creates stream `bench` (file storage, 3 replicas) and publishes
#            N messages of SIZE bytes with K publishes in flight, each
#            answered by the stream leader once a quorum stored it; prints
#            messages/s, MB/s and publish-to-ack latency p50/p99/p999.
#            async: acks collected on one wildcard inbox, as the Go client's
#            PublishAsync; js: one js.publish() promise per message.
#   consume: one pull consumer (ack policy none) reads the N messages back
#            in batches of B and prints messages/s and MB/s. pull: its own
#            pull requests, 2 batches outstanding; fetch/consume: the
#            client's consumer.fetch() (one batch at a time)/consume().
# Defaults: N=200000, SIZE=1024, K=1024, B=1000, publish mode async,
# consume mode pull.
# -o json (or BENCH_OUTPUT=json) prints one JSON line instead of the text.
# Stops the servers it started (also on Ctrl-C). Exit status 3: skipped
# (a tool missing).
#
# Durability: nats-server 2.9.10 (Debian 12) has no per-write fsync option
# (sync_interval: always came in 2.10): it acks once the message is in a
# quorum's page cache and fsyncs in the background. See README.md.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"

messages=200000
size=1024
in_flight=1024
fetch_batch=1000
consume_mode=pull
publish_mode=async
output=${BENCH_OUTPUT:-text}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    -n|--messages) messages="$2"; shift 2 ;;
    -s|--size) size="$2"; shift 2 ;;
    -k|--in-flight) in_flight="$2"; shift 2 ;;
    -b|--fetch-batch) fetch_batch="$2"; shift 2 ;;
    --consume-mode) consume_mode="$2"; shift 2 ;;
    --publish-mode) publish_mode="$2"; shift 2 ;;
    -o|--output) output="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "nats.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$messages" "$size" "$in_flight" "$fetch_batch"; do
  is_pos_int "$v" || { echo "nats.sh: '$v' is not a positive integer" >&2; exit 2; }
done
[[ "$output" == json || "$output" == text ]] || { echo "nats.sh: -o json or text" >&2; exit 2; }

for t in nats-server node npm python3; do
  command -v "$t" >/dev/null || skip "missing $t: run scripts/install-deps.sh --bench (node/npm: install nodejs and npm)"
done
if [[ ! -d "$here/node_modules/nats" ]]; then
  echo "nats.sh: installing the nats client into $here/node_modules (npm ci)" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

fresh_run_dir nats "servers"
read -r -a ports <<<"$(free_ports 6)"
names=(n1 n2 n3)
servers=()
for i in 0 1 2; do
  n=${names[$i]}
  routes=()
  for j in 0 1 2; do
    ((j == i)) || routes+=("\"nats-route://127.0.0.1:${ports[$((3 + j))]}\"")
  done
  mkdir -p "$dir/$n"
  cat >"$dir/$n.conf" <<EOF
server_name: $n
listen: 127.0.0.1:${ports[$i]}
jetstream {
  store_dir: "$dir/$n"
  max_memory_store: 256MB
  max_file_store: 16GB
}
cluster {
  name: bench
  listen: 127.0.0.1:${ports[$((3 + i))]}
  routes: [$(IFS=,; echo "${routes[*]}")]
}
EOF
  spawn "$dir/$n.out" nats-server -c "$dir/$n.conf" -l "$dir/$n.log"
  servers+=("nats://127.0.0.1:${ports[$i]}")
done
for i in 0 1 2; do
  wait_port "${ports[$i]}" 30 "${started_pids[$i]}" || {
    tail -n 20 "$dir/${names[$i]}.log" >&2 || true
    die "nats-server ${names[$i]} did not start"
  }
done
version=$(nats-server --version 2>&1 | head -n1)
echo "nats.sh: $version, 3 nodes (client ports ${ports[*]:0:3}), data in $dir" >&2

run_wait "$dir/result.json" node "$here/nats-bench.js" --servers "$(IFS=,; echo "${servers[*]}")" \
  --stream bench --messages "$messages" --size "$size" --in-flight "$in_flight" \
  --replicas 3 --fetch-batch "$fetch_batch" --consume-mode "$consume_mode" \
  --publish-mode "$publish_mode" || die "the JetStream client failed (server logs: $dir/n*.log)"
json=$(cat "$dir/result.json")
json=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r["version"]=sys.argv[2]; r["machine"]=json.loads(sys.argv[3]); print(json.dumps(r, separators=(",", ":")))' \
  "$json" "$version" "$(machine_json)")
stop_started
rm -rf "$dir"
emit_result "$json"
