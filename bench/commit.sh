#!/usr/bin/env bash
# Controller commit throughput and latency on 3 members: Nightwatch and
# etcd 3.4, driven the same way, side by side.
#
#   bench/commit.sh [--runs 5] [--duration 10] [--threads 2] [--conns 32]
#                   [--systems etcd,nightwatch] [--nw-build DIR]
#                   [--nw-args "EXTRA NWAGENT ARGS"]
#
# For each system: start 3 members on 127.0.0.1 (bench/lib/cluster.py: free
# ports, own temp dir, default timings), then for each load, one request at
# a time (wrk -t1 -c1) and many in flight (wrk -tTHREADS -cCONNS): a 2 s
# warm-up, then RUNS runs of DURATION seconds against the current leader:
#   etcd:       POST /v3/kv/put to the leader's client URL
#               (bench/lua/commit-etcd.lua)
#   Nightwatch: PUT /v1/cluster/nodes/{leader id}/labels to the leader's API
#               (bench/lua/commit-nightwatch.lua)
# Every request writes a new value, so each is a commit through Raft.
# --nw-args adds arguments to every nwagent (e.g. "--api-threads 64"). Prints each run to stderr, then a table of the medians
# over the runs and one line `SUMMARY commit {json}`.
# Needs wrk, python3, and etcd for the etcd side
# (scripts/install-deps.sh --bench). A system that cannot run here (nwagent
# missing or without clustering) is reported as skipped.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
runs=5
duration=10
threads=2
conns=32
systems=etcd,nightwatch
nw_build=""
nw_args=""

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --conns) conns="$2"; shift 2 ;;
    --systems) systems="$2"; shift 2 ;;
    --nw-build) nw_build="$2"; shift 2 ;;
    --nw-args) nw_args="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "commit.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$runs" "$duration" "$threads" "$conns"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "commit.sh: '$v' is not a positive integer" >&2; exit 2; }
done
((conns >= threads)) || { echo "commit.sh: --conns must be at least --threads (wrk needs a connection per thread)" >&2; exit 2; }
for t in wrk python3; do
  command -v "$t" >/dev/null || { echo "commit.sh: missing $t: run scripts/install-deps.sh --bench" >&2; exit 1; }
done

cluster=("python3" "$here/lib/cluster.py")
tmp=$(mktemp -d -t nw-bench-commit-XXXXXX)
up_pid=""
stop_cluster() {
  if [[ -n "$up_pid" ]]; then
    kill -TERM "$up_pid" 2>/dev/null || true
    wait "$up_pid" 2>/dev/null || true
    up_pid=""
  fi
}
trap 'stop_cluster; rm -rf "$tmp"' EXIT
trap 'echo "commit.sh: interrupted; members stopped, temp dirs removed" >&2; exit 130' INT TERM HUP

machine=$("${cluster[@]}" machine --json)
results="$tmp/results.tsv"  # system, load, run, rps, p50 ms, p99 ms, errors
: >"$results"
meta="$tmp/meta.tsv"        # system, status (ok|skipped|error), detail, version, timings
: >"$meta"

# wrk's "1.23ms" / "456.00us" / "1.02s" -> ms
to_ms() {
  awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)}
        else if (v ~ /m$/) {sub(/m$/,"",v); v*=60000} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}'
}

# run_wrk SYSTEM LOAD_NAME T C SECONDS RUN -> appends a row to $results
# (RUN 0 is the warm-up and is not kept).
run_wrk() {
  local system=$1 load=$2 t=$3 c=$4 secs=$5 run=$6 target url id name out rps p50 p99 errs
  target=$("${cluster[@]}" target --info "$tmp/$system.json") || {
    echo "commit.sh: $system has no leader before run $run" >&2
    return 1
  }
  read -r url id name <<<"$target"
  if [[ "$system" == etcd ]]; then
    url="$url/v3/kv/put"
  else
    url="$url/v1/cluster/nodes/$id/labels"
  fi
  out=$(wrk -t"$t" -c"$c" -d"${secs}s" --timeout 10s --latency \
    -s "$here/lua/commit-$system.lua" "$url")
  ((run > 0)) || return 0
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out" | to_ms)
  p99=$(awk '$1=="99%" {print $2}' <<<"$out" | to_ms)
  errs=$(awk '/Non-2xx or 3xx responses/ {n+=$NF}
              /Socket errors/ {gsub(/,/,""); n+=$4+$6+$8+$10} END {print n+0}' <<<"$out")
  if [[ -z "$rps" || -z "$p50" || -z "$p99" ]]; then
    echo "commit.sh: could not read wrk's output:" >&2
    echo "$out" >&2
    return 1
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$system" "$load" "$run" "$rps" "$p50" "$p99" "$errs" >>"$results"
  echo "$system $load run $run/$runs: $rps req/s, p50 $p50 ms, p99 $p99 ms, errors $errs (leader $name)" >&2
}

bench_system() {
  local system=$1 why info version timings
  if ! why=$("${cluster[@]}" check --system "$system" ${nw_build:+--nw-build "$nw_build"}); then
    echo "commit.sh: $system: skipped: $why" >&2
    printf '%s\tskipped\t%s\t-\t-\n' "$system" "$why" >>"$meta"
    return 0
  fi
  info="$tmp/$system.json"
  "${cluster[@]}" up --system "$system" --info "$info" ${nw_build:+--nw-build "$nw_build"} \
    --nw-args "$nw_args" --tmp-dir "$tmp" 2>"$tmp/$system.up.log" &
  up_pid=$!
  # The helper writes $info once the cluster is healthy (its own deadline
  # is 60 s); stop waiting early if it exits.
  local deadline=$((SECONDS + 90))
  until [[ -f "$info" ]]; do
    if ! kill -0 "$up_pid" 2>/dev/null || ((SECONDS > deadline)); then
      echo "commit.sh: $system cluster did not come up:" >&2
      cat "$tmp/$system.up.log" >&2
      stop_cluster
      printf '%s\terror\t%s\t-\t-\n' "$system" "cluster did not come up" >>"$meta"
      return 0
    fi
    sleep 0.1
  done
  IFS=$'\t' read -r version timings < <(python3 -c 'import json,sys; i=json.load(open(sys.argv[1])); print(i["version"].replace("\t"," ") + "\t" + i["timings"])' "$info")
  echo "$system $version ($timings): 3 members up" >&2
  local ok=1
  for load in "1 1" "$threads $conns"; do
    read -r t c <<<"$load"
    local name="t${t}c${c}"
    run_wrk "$system" "$name" "$t" "$c" 2 0 || { ok=0; break; }
    for r in $(seq 1 "$runs"); do
      run_wrk "$system" "$name" "$t" "$c" "$duration" "$r" || { ok=0; break 2; }
    done
  done
  stop_cluster
  if ((ok)); then
    printf '%s\tok\t-\t%s\t%s\n' "$system" "$version" "$timings" >>"$meta"
  else
    printf '%s\terror\t%s\t%s\t%s\n' "$system" "a run failed (see above)" "$version" "$timings" >>"$meta"
  fi
}

IFS=, read -ra wanted <<<"$systems"
for s in "${wanted[@]}"; do
  case "$s" in
    etcd|nightwatch) bench_system "$s" ;;
    *) echo "commit.sh: unknown system '$s': use etcd and/or nightwatch" >&2; exit 2 ;;
  esac
done

python3 - "$results" "$meta" "$machine" "$runs" "$duration" "$threads" "$conns" <<'EOF'
import json, statistics, sys
results, meta, machine, runs, duration, threads, conns = sys.argv[1:]
machine = json.loads(machine)
rows = [l.rstrip("\n").split("\t") for l in open(results) if l.strip()]
metas = [l.rstrip("\n").split("\t") for l in open(meta) if l.strip()]
print(f"# commit: controller writes on 3 members, {runs} runs x {duration} s per load, medians")
print(f"machine: {machine['nproc']} cores, {machine['cpu']}; load average {machine['loadavg_1m']} at start; date {machine['date']}")
print()
print("| system | version | load | runs | requests/s | p50 (ms) | p99 (ms) | errors (all runs) |")
print("|---|---|---|---|---|---|---|---|")
summary = {"bench": "commit", "machine": machine, "runs": int(runs), "duration_s": int(duration), "results": []}
status = 0
for system, st, detail, version, timings in metas:
    if st != "ok" and not any(r[0] == system for r in rows):
        print(f"| {system} | {version} | {st}: {detail} | | | | | |")
        summary["results"].append({"system": system, st: detail})
        status = status or (1 if st == "error" else 0)
        continue
    if st == "error":
        status = 1
    for load in dict.fromkeys(r[1] for r in rows if r[0] == system):
        rs = [r for r in rows if r[0] == system and r[1] == load]
        med = lambda i: statistics.median(float(r[i]) for r in rs)
        errs = sum(int(r[6]) for r in rs)
        t, c = load[1:].split("c")
        label = f"wrk -t{t} -c{c}"
        print(f"| {system} | {version} | {label} | {len(rs)} | {med(3):.0f} | {med(4):.2f} | {med(5):.2f} | {errs} |")
        summary["results"].append({
            "system": system, "version": version, "timings": timings, "load": label,
            "runs": len(rs), "rps_median": round(med(3), 1), "p50_ms_median": round(med(4), 3),
            "p99_ms_median": round(med(5), 3), "errors": errs,
            "rps": [float(r[3]) for r in rs], "p50_ms": [float(r[4]) for r in rs],
            "p99_ms": [float(r[5]) for r in rs]})
        if errs:
            status = 1
print()
print("SUMMARY commit " + json.dumps(summary, separators=(",", ":")))
sys.exit(status)
EOF
