#!/usr/bin/env bash
# Scheduled jobs at scale: N jobs `@every 10s` running /bin/true over 3 real
# agents; how late the runs start after their slot, runs/s, missed slots,
# and the agents' CPU and memory (issue 5).
#
#   bench/jobs/run.sh [--jobs 10000] [--every 10s] [--duration 60]
#                     [--runs 3] [--workers 16] [--warmup S]
#                     [--nw-build DIR] [--build] [--nw-args "..."]
#                     [--port-base 18100] [--apply-batch 500]
#                     [--apply-parallel 8] [--keep] [-o json]
#
# Per run (each run has a fresh cluster):
#  1. starts 3 nwagent on 127.0.0.1 (API ports PORT_BASE+1..3, peer ports
#     PORT_BASE+11..13; --bootstrap-expect 3, each --join-ing the other two;
#     --jobs-workers W, --log-level warn), data in
#     /tmp/nw-bench-jobs-<pid>/runR/n{1,2,3}; waits for one leader and 3
#     healthy voters;
#  2. applies N jobs bench-00001.. {"schedule": "@every 10s", "command":
#     ["/bin/true"]} with POST /v1/jobs/apply on the leader, in requests of
#     --apply-batch jobs, --apply-parallel of them at once (the server
#     proposes one Raft entry per new job, one after the other per request);
#  3. waits --warmup seconds (default: one interval + 2 s), so every job has
#     run once;
#  4. measures a window of --duration seconds [t0, t1): /proc/PID/stat
#     utime+stime of each agent (and of its reaped children, the jobs) at
#     t0 and t1, /proc/stat of the machine, GET /metrics of each agent at
#     t0 and t1 (lateness and Raft commit-latency histograms, commit
#     index, snapshots) and every second in between (nw_job_runs_queued,
#     nw_job_runs_running); VmRSS and VmHWM of each agent at t1;
#  5. waits until the window's slots have had time to run (5 s), then
#     reads every job's GET /v1/jobs/{name}/history (one keep-alive
#     connection per thread, to the leader) and GET /v1/jobs/missed.
#
# Figures of a run, over the slots in [t0, t1) (a job's slots are
# k * every + phase, the phase from the job's name as the scheduler's
# Schedule::spread_by computes it, so the expected slots are known):
#   lateness  started - slot of each scheduled first attempt (p50, p99,
#             p999, max, ms); also split as created - slot (when the
#             leader's scheduler built the CreateRun, before proposing it)
#             and started - created (the proposal waiting for a pool
#             thread, its commit, the agent seeing it, a free worker, the
#             spawn)
#   runs/s    runs that ended in the window / window
#   missed    missed-slot records with a slot in the window
#   unrun     expected slots with neither a run that started nor a
#             missed record when the history was read (the scheduler fell
#             behind, or a run never started): they count against the result
#   cpu       per agent, % of one core over the window; rss/hwm in MiB
# Prints one line per run on stderr, then a table of the medians over the
# runs and the line `SUMMARY jobs {json}` (every run's figures). With
# -o json, only one JSON line on stdout.
#
# Binary: $NWAGENT, else DIR/agent/nwagent with DIR from --nw-build,
# $NW_BUILD, or build-bench/ (built with `cmake --build DIR --target
# nwagent` when missing, or always with --build). The client is python3's
# http.client (no nwctl needed). --keep leaves the data dirs and logs.
# Stops every agent it started on exit, Ctrl-C included (only those PIDs).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$here/../.." && pwd)
# shellcheck source=../lib/procs.sh
source "$here/../lib/procs.sh"
STOP_GRACE=15

jobs=10000
every=10s
duration=60
runs=3
# 16 workers per agent, not the default 4: ~1000 slots/s over 3 agents is
# ~333 runs/s per agent, and a worker holds a run from spawn until its end
# report is committed through Raft (a few ms to tens of ms under this load),
# so by Little's law ~5-10 are busy on average; 16 leaves room for
# commit-latency spikes. `--workers 4` measures the default.
workers=16
warmup=""
nw_build=${NW_BUILD:-$repo_root/build-bench}
force_build=0
nw_args=""
port_base=18100
apply_batch=500
apply_parallel=8
keep=0
output=text

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    -n|--jobs) jobs="$2"; shift 2 ;;
    --every) every="$2"; shift 2 ;;
    -d|--duration) duration="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    -w|--workers) workers="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --nw-build) nw_build="$2"; shift 2 ;;
    --build) force_build=1; shift ;;
    --nw-args) nw_args="$2"; shift 2 ;;
    --port-base) port_base="$2"; shift 2 ;;
    --apply-batch) apply_batch="$2"; shift 2 ;;
    --apply-parallel) apply_parallel="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -o|--output) output="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for v in "$jobs" "$duration" "$runs" "$workers" "$port_base" "$apply_batch" "$apply_parallel"; do
  is_pos_int "$v" || { echo "run.sh: '$v' is not a positive integer" >&2; exit 2; }
done
[[ "$every" =~ ^([1-9][0-9]*)(s|m)$ ]] || { echo "run.sh: --every takes Ns or Nm (e.g. 10s)" >&2; exit 2; }
every_s=${BASH_REMATCH[1]}
[[ ${BASH_REMATCH[2]} == m ]] && every_s=$((every_s * 60))
[[ -n "$warmup" ]] || warmup=$((every_s + 2))
is_pos_int "$warmup" || { echo "run.sh: --warmup '$warmup' is not a positive integer" >&2; exit 2; }
[[ "$output" == json || "$output" == text ]] || { echo "run.sh: -o json or text" >&2; exit 2; }
((jobs <= 99999)) || { echo "run.sh: at most 99999 jobs (names bench-00001..)" >&2; exit 2; }
# The controller keeps the last 50 finished runs of each job: the window's
# runs must still be there when the history is read.
if ((duration / every_s + 10 > 50)); then
  echo "run.sh: --duration $duration is too long for --every $every: the cluster keeps 50 runs per job" >&2
  exit 2
fi
command -v python3 >/dev/null || { echo "run.sh: needs python3" >&2; exit 2; }

nwagent=${NWAGENT:-$nw_build/agent/nwagent}
if ((force_build)) || [[ ! -x "$nwagent" ]]; then
  if [[ ! -f "$nw_build/CMakeCache.txt" ]]; then
    echo "run.sh: configuring $nw_build (RelWithDebInfo)" >&2
    cmake -S "$repo_root" -B "$nw_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
  fi
  echo "run.sh: building nwagent in $nw_build" >&2
  cmake --build "$nw_build" -j"$(nproc)" --target nwagent >&2
fi
[[ -x "$nwagent" ]] || { echo "run.sh: $nwagent not found" >&2; exit 2; }
"$nwagent" --help 2>&1 | grep -q -- --jobs-workers \
  || { echo "run.sh: $nwagent has no --jobs-workers (an older build?)" >&2; exit 2; }
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$nw_build/CMakeCache.txt" 2>/dev/null || true)
version=$("$nwagent" --version 2>&1 | head -n1)
read -r -a extra <<<"$nw_args"

top=/tmp/nw-bench-jobs-$$
mkdir -p "$top"
py="$top/bench.py"
results="$top/results.jsonl"
: >"$results"

cleanup() {
  stop_started
  if ((keep)); then
    echo "run.sh: data and logs kept in $top" >&2
  else
    rm -rf "$top"
  fi
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted; agents stopped" >&2; exit 130' INT TERM HUP

cat >"$py" <<'PYEOF'
import http.client, json, math, os, re, statistics, sys, threading, time

def now_ms():
    return time.time_ns() // 1_000_000

class Conn:
    """One keep-alive HTTP connection to host:port."""
    def __init__(self, addr, timeout=30):
        h, p = addr.rsplit(":", 1)
        self.h, self.p, self.timeout = h, int(p), timeout
        self.c = None
    def req(self, method, path, body=None):
        for attempt in range(3):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection(self.h, self.p, timeout=self.timeout)
                hdr = {"Content-Type": "application/json"} if body is not None else {}
                self.c.request(method, path, body=body, headers=hdr)
                r = self.c.getresponse()
                data = r.read()
                return r.status, data
            except (OSError, http.client.HTTPException):
                if self.c is not None:
                    self.c.close()
                self.c = None
                if attempt == 2:
                    raise
                time.sleep(0.2)

def get_json(addr, path, timeout=5):
    st, data = Conn(addr, timeout).req("GET", path)
    if st != 200:
        raise OSError(f"GET {path}: {st} {data[:200]!r}")
    return json.loads(data)

def job_name(i):
    return f"bench-{i:05d}"

def phase_ms(name, every_ms):
    h = 1469598103934665603
    for c in name.encode():
        h ^= c
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h % every_ms

def slots_in(name, every_ms, t0, t1):
    ph = phase_ms(name, every_ms)
    k = -((-(t0 - ph)) // every_ms)  # ceil((t0 - ph) / every)
    out = []
    s = k * every_ms + ph
    while s < t1:
        out.append(s)
        s += every_ms
    return out

def parse_ts(s):
    # "2026-12-01T02:30:00.009Z" -> ms
    if s is None:
        return None
    m = re.match(r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)(?:\.(\d+))?Z$", s)
    if not m:
        return None
    import calendar
    y, mo, d, H, M, S = (int(x) for x in m.groups()[:6])
    frac = (m.group(7) or "0")[:3].ljust(3, "0")
    return calendar.timegm((y, mo, d, H, M, S)) * 1000 + int(frac)

def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, math.ceil(p / 100 * len(xs)) - 1))
    return xs[k]

# ---------------------------------------------------------------- cluster
def cmd_wait_cluster(addrs, pids):
    apis = addrs.split(",")
    pids = [int(p) for p in pids]
    end = time.monotonic() + 120
    last = "no answer yet"
    while time.monotonic() < end:
        for p in pids:
            os.kill(p, 0)
        try:
            leaders = {str(get_json(a, "/v1/cluster/status?stale=true", 2).get("leader") or "") for a in apis}
            if len(leaders) == 1 and "" not in leaders:
                st = get_json(apis[0], "/v1/cluster/status", 2)
                mem = st.get("members") or []
                if len(mem) == 3 and all(m.get("role", "voter") == "voter" and m.get("state") == "healthy"
                                         and m.get("api_addr") for m in mem):
                    leader = leaders.pop()
                    for m in mem:
                        if m.get("id") == leader:
                            print(leader, m["api_addr"])
                            return 0
                last = json.dumps(st)[:600]
            else:
                last = f"leaders seen: {sorted(leaders)}"
        except (OSError, ValueError) as e:
            last = str(e)
        time.sleep(0.2)
    print(f"no cluster after 120 s; last: {last}", file=sys.stderr)
    return 1

# ---------------------------------------------------------------- apply
def cmd_apply(addr, n, every, batch, parallel):
    n, batch, parallel = int(n), int(batch), int(parallel)
    chunks = [list(range(i, min(i + batch, n + 1))) for i in range(1, n + 1, batch)]
    lock = threading.Lock()
    errors, added = [], [0]
    def worker():
        c = Conn(addr, timeout=600)
        while True:
            with lock:
                if not chunks or errors:
                    return
                ids = chunks.pop(0)
            body = json.dumps({"jobs": [{"name": job_name(i), "schedule": "@every " + every,
                                         "command": ["/bin/true"]} for i in ids]})
            try:
                st, data = c.req("POST", "/v1/jobs/apply", body)
            except OSError as e:
                st, data = 0, str(e).encode()
            with lock:
                if st != 200:
                    errors.append(f"{st} {data[:300]!r}")
                else:
                    added[0] += len(json.loads(data).get("added", []))
    t = time.monotonic()
    ths = [threading.Thread(target=worker) for _ in range(parallel)]
    for th in ths: th.start()
    for th in ths: th.join()
    secs = time.monotonic() - t
    if errors:
        print(f"apply failed: {errors[0]}", file=sys.stderr)
        return 1
    print(json.dumps({"added": added[0], "seconds": round(secs, 2),
                      "jobs_per_s": round(added[0] / secs, 1)}))
    return 0

# ---------------------------------------------------------------- sampling
def proc_sample(pids):
    tck = os.sysconf("SC_CLK_TCK")
    out = {}
    for p in pids:
        with open(f"/proc/{p}/stat") as f:
            fs = f.read().rsplit(")", 1)[1].split()
        # fields after ")" start at field 3 (state): utime=14 -> idx 11
        ut, st, cut, cst = (int(fs[i]) for i in (11, 12, 13, 14))
        mem = {}
        with open(f"/proc/{p}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    k, v = line.split(":")
                    mem[k] = int(v.split()[0])  # kB
        out[str(p)] = {"cpu_s": (ut + st) / tck, "child_cpu_s": (cut + cst) / tck,
                       "rss_kb": mem.get("VmRSS"), "hwm_kb": mem.get("VmHWM")}
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    idle = cpu[3] + cpu[4]
    return {"t": time.monotonic(), "ms": now_ms(), "procs": out,
            "sys": {"total": sum(cpu[:8]), "idle": idle, "iowait": cpu[4]}}

METRIC_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')
def metrics(addr):
    st, data = Conn(addr, 5).req("GET", "/metrics")
    out = {}
    for line in data.decode(errors="replace").splitlines():
        if not line or line.startswith("#"):
            continue
        m = METRIC_RE.match(line)
        if m:
            # Only the controller's Raft group runs here (no topics): drop
            # the group label so the series read as plain names.
            labels = re.sub(r'(^\{|,)group="[^"]*"', r"\1", m.group(2) or "")
            labels = labels.replace("{,", "{")
            labels = "" if labels == "{}" else labels
            try:
                key = m.group(1) + labels
                out[key] = out.get(key, 0.0) + float(m.group(3))
            except ValueError:
                pass
    return out

def hist_delta(m0, m1, name):
    """{le: count} of the histogram `name` over the window, and sum, count."""
    b = {}
    for k, v in m1.items():
        if k.startswith(name + "_bucket"):
            le = re.search(r'le="([^"]+)"', k).group(1)
            b[le] = v - m0.get(k, 0.0)
    cnt = m1.get(name + "_count", 0) - m0.get(name + "_count", 0)
    sm = m1.get(name + "_sum", 0) - m0.get(name + "_sum", 0)
    return b, cnt, sm

def hist_quantile(buckets, cnt, q):
    """The upper bound of the bucket holding quantile q (Prometheus style, no interpolation)."""
    if cnt <= 0:
        return None
    items = sorted(((float("inf") if le == "+Inf" else float(le)), c) for le, c in buckets.items())
    for le, c in items:
        if c >= q * cnt:
            return le
    return float("inf")

def cmd_window(addrs, pids, duration, out_path):
    """Samples at t0, every second, and at t1; writes one JSON file."""
    apis = addrs.split(",")
    pids = pids.split(",")
    duration = float(duration)
    load0 = round(os.getloadavg()[0], 2)
    m0 = [metrics(a) for a in apis]
    p0 = proc_sample(pids)
    end = p0["t"] + duration
    series = []
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(1.0, left))
        if time.monotonic() >= end:
            break
        row = []
        for a in apis:
            try:
                m = metrics(a)
                row.append({"queued": m.get("nw_job_runs_queued"), "running": m.get("nw_job_runs_running")})
            except OSError:
                row.append(None)
        series.append(row)
    p1 = proc_sample(pids)
    m1 = [metrics(a) for a in apis]
    with open(out_path, "w") as f:
        json.dump({"loadavg_t0": load0, "t0_ms": p0["ms"], "t1_ms": p1["ms"], "p0": p0, "p1": p1,
                   "m0": m0, "m1": m1, "series": series, "apis": apis, "pids": pids}, f)
    return 0

# ---------------------------------------------------------------- collect
def cmd_collect(leader_addr, n, every_ms, window_path, out_path, threads=4):
    n, every_ms = int(n), int(every_ms)
    w = json.load(open(window_path))
    t0, t1 = w["t0_ms"], w["t1_ms"]
    limit = min(50, (now_ms() - t0) // every_ms + 6)
    names = [job_name(i) for i in range(1, n + 1)]
    todo = list(names)
    lock = threading.Lock()
    hist, errors = {}, []
    def worker():
        c = Conn(leader_addr, 30)
        while True:
            with lock:
                if not todo or errors:
                    return
                name = todo.pop()
            try:
                st, data = c.req("GET", f"/v1/jobs/{name}/history?limit={limit}")
            except OSError as e:
                st, data = 0, str(e).encode()
            with lock:
                if st != 200:
                    errors.append(f"{name}: {st} {data[:200]!r}")
                else:
                    hist[name] = json.loads(data)["runs"]
    tc = time.monotonic()
    ths = [threading.Thread(target=worker) for _ in range(threads)]
    for th in ths: th.start()
    for th in ths: th.join()
    collect_s = time.monotonic() - tc
    if errors:
        print(f"collect failed: {errors[0]}", file=sys.stderr)
        return 1
    missed = get_json(leader_addr, "/v1/jobs/missed", 60)["missed"]
    missed_in = [m for m in missed if t0 <= m["slot_ms"] < t1]
    missed_keys = {(m["job"], m["slot_ms"]) for m in missed_in}
    reasons = {}
    for m in missed_in:
        reasons[m["reason"]] = reasons.get(m["reason"], 0) + 1

    late, sched, disp = [], [], []
    states, ended_in, unrun, expected = {}, 0, 0, 0
    per_agent = {}
    for name in names:
        runs = hist.get(name, [])
        first = {}
        for r in runs:
            e = parse_ts(r.get("ended"))
            if e is not None and t0 <= e < t1:
                ended_in += 1
            if r["trigger"] == "schedule" and r["attempt"] == 1:
                first[r["slot_ms"]] = r
        for s in slots_in(name, every_ms, t0, t1):
            expected += 1
            r = first.get(s)
            if r is None or r.get("started") is None:
                if (name, s) not in missed_keys:
                    unrun += 1
                if r is not None:
                    states[r["state"]] = states.get(r["state"], 0) + 1
                continue
            states[r["state"]] = states.get(r["state"], 0) + 1
            st, cr = parse_ts(r["started"]), parse_ts(r["created"])
            late.append(st - s)
            sched.append(cr - s)
            disp.append(st - cr)
            per_agent.setdefault(r["agent"], []).append(st - s)
    window_s = (t1 - t0) / 1000
    def q(xs):
        return {"p50": pct(xs, 50), "p99": pct(xs, 99), "p999": pct(xs, 99.9),
                "max": max(xs) if xs else None}
    # agents: CPU over the window, memory at t1
    p0, p1 = w["p0"], w["p1"]
    wall = p1["t"] - p0["t"]
    agents = []
    for i, pid in enumerate(w["pids"]):
        a0, a1 = p0["procs"][pid], p1["procs"][pid]
        lq = [row[i]["queued"] for row in w["series"] if row[i] and row[i]["queued"] is not None]
        lb, lc, ls = hist_delta(w["m0"][i], w["m1"][i], "nw_job_start_lateness_seconds")
        cb, cc, cs = hist_delta(w["m0"][i], w["m1"][i], "nw_raft_commit_latency_seconds")
        m0, m1 = w["m0"][i], w["m1"][i]
        agents.append({
            "node": f"n{i + 1}", "api": w["apis"][i], "pid": int(pid),
            "leader": m1.get("nw_raft_is_leader") == 1.0,
            "cpu_pct": round(100 * (a1["cpu_s"] - a0["cpu_s"]) / wall, 1),
            "jobs_cpu_pct": round(100 * (a1["child_cpu_s"] - a0["child_cpu_s"]) / wall, 1),
            "rss_mib": round(a1["rss_kb"] / 1024, 1), "hwm_mib": round(a1["hwm_kb"] / 1024, 1),
            "runs_started": int(lc),
            "lateness_hist_p50_ms": (lambda v: None if v is None else v * 1000)(hist_quantile(lb, lc, 0.5)),
            "lateness_hist_p99_ms": (lambda v: None if v is None else v * 1000)(hist_quantile(lb, lc, 0.99)),
            "lateness_mean_ms": round(1000 * ls / lc, 2) if lc else None,
            "queued_max": max(lq) if lq else None,
            "queued_mean": round(sum(lq) / len(lq), 1) if lq else None,
            "commit_latency_mean_ms": round(1000 * cs / cc, 2) if cc else None,
            "commit_latency_p99_ms": (lambda v: None if v is None else v * 1000)(hist_quantile(cb, cc, 0.99)),
            "commits_per_s": round((m1.get("nw_raft_commit_index", 0) - m0.get("nw_raft_commit_index", 0)) / wall, 1),
            "snapshots": int(sum(v for k, v in m1.items() if k.startswith("nw_raft_snapshots_total"))
                             - sum(v for k, v in m0.items() if k.startswith("nw_raft_snapshots_total"))),
            "lateness_p99_ms_from_history": pct(per_agent.get(f"n{i + 1}", []), 99),
            "runs_from_history": len(per_agent.get(f"n{i + 1}", [])),
        })
    s0, s1 = p0["sys"], p1["sys"]
    tot = s1["total"] - s0["total"]
    machine_busy = round(100 * (1 - (s1["idle"] - s0["idle"]) / tot), 1) if tot else None
    # CPU of everything else on the machine (other users' work, this
    # script's sampler, kernel threads), % of one core.
    ncpu = os.cpu_count()
    other_cpu = None if machine_busy is None else round(
        machine_busy * ncpu - sum(x["cpu_pct"] + x["jobs_cpu_pct"] for x in agents), 1)
    res = {
        "window_s": round(window_s, 2), "t0_ms": t0, "t1_ms": t1,
        "expected_slots": expected, "runs_measured": len(late),
        "lateness_ms": q(late), "schedule_delay_ms": q(sched), "dispatch_to_start_ms": q(disp),
        "over_50ms": sum(1 for x in late if x > 50),
        "runs_per_s": round(ended_in / window_s, 1),
        "expected_per_s": round(expected / window_s, 1),
        "missed": len(missed_in), "missed_reasons": reasons, "unrun": unrun,
        "states": states, "machine_busy_pct": machine_busy, "other_cpu_pct": other_cpu,
        "loadavg_1m_at_t0": w.get("loadavg_t0"),
        "collect_s": round(collect_s, 1),
        "agents": agents,
    }
    with open(out_path, "w") as f:
        json.dump(res, f)
    return 0

def fmt(v, nd=1):
    return "-" if v is None else (f"{v:.{nd}f}" if isinstance(v, float) else str(v))

def run_line(r):
    a = r["result"]
    L = a["lateness_ms"]
    cpu = " ".join(f"{x['node']}{'*' if x['leader'] else ''} {x['cpu_pct']:.0f}%/{x['rss_mib']:.0f}MiB" for x in a["agents"])
    return (f"run {r['run']}: {a['runs_measured']}/{a['expected_slots']} slots ran; lateness p50 {fmt(L['p50'])} "
            f"p99 {fmt(L['p99'])} p999 {fmt(L['p999'])} max {fmt(L['max'])} ms; {a['runs_per_s']} runs/s "
            f"(expected {a['expected_per_s']}); missed {a['missed']}, unrun {a['unrun']}; "
            f"scheduler delay p99 {fmt(a['schedule_delay_ms']['p99'])} ms, dispatch->start p99 "
            f"{fmt(a['dispatch_to_start_ms']['p99'])} ms; CPU/RSS {cpu} (* leader); machine busy {a['machine_busy_pct']}%, "
            f"other processes {a['other_cpu_pct']}% of a core")

def cmd_line(path):
    print(run_line(json.loads(open(path).read())))
    return 0

def cmd_table(results_path, meta_json):
    meta = json.loads(meta_json)
    rs = [json.loads(l) for l in open(results_path) if l.strip()]
    ok = [r for r in rs if r.get("status") == "ok"]
    def med(f):
        xs = [f(r["result"]) for r in ok]
        xs = [x for x in xs if x is not None]
        return statistics.median(xs) if xs else None
    rows = [
        ("lateness p50 (ms)", lambda a: a["lateness_ms"]["p50"]),
        ("lateness p99 (ms)", lambda a: a["lateness_ms"]["p99"]),
        ("lateness p999 (ms)", lambda a: a["lateness_ms"]["p999"]),
        ("lateness max (ms)", lambda a: a["lateness_ms"]["max"]),
        ("runs over 50 ms", lambda a: a["over_50ms"]),
        ("scheduler delay (created - slot) p99 (ms)", lambda a: a["schedule_delay_ms"]["p99"]),
        ("dispatch to start (started - created) p99 (ms)", lambda a: a["dispatch_to_start_ms"]["p99"]),
        ("runs/s finished in the window", lambda a: a["runs_per_s"]),
        ("slots/s expected", lambda a: a["expected_per_s"]),
        ("missed slots in the window", lambda a: a["missed"]),
        ("slots not run when read", lambda a: a["unrun"]),
        ("machine CPU busy (% of all cores)", lambda a: a["machine_busy_pct"]),
        ("other processes' CPU (% of one core)", lambda a: a["other_cpu_pct"]),
        ("load average (1 min) at the window's start", lambda a: a["loadavg_1m_at_t0"]),
    ]
    for i in range(3):
        rows.append((f"agent {i + 1} CPU (% of one core; leader in *)", (lambda i: lambda a: a["agents"][i]["cpu_pct"])(i)))
    for i in range(3):
        rows.append((f"agent {i + 1} RSS / HWM at end (MiB)", (lambda i: lambda a: a["agents"][i]["rss_mib"])(i)))
    rows.append(("jobs' own CPU, all agents (% of one core)", lambda a: round(sum(x["jobs_cpu_pct"] for x in a["agents"]), 1)))
    rows.append(("leader Raft commits/s", lambda a: max(x["commits_per_s"] for x in a["agents"])))
    rows.append(("leader commit latency mean (ms)", lambda a: next((x["commit_latency_mean_ms"] for x in a["agents"] if x["leader"]), None)))
    rows.append(("max nw_job_runs_queued seen (any agent)", lambda a: max((x["queued_max"] or 0) for x in a["agents"])))
    hdr = "| figure | " + " | ".join(f"run {r['run']}" for r in ok) + " | median |"
    print(f"\n{meta['jobs']} jobs @every {meta['every']} over 3 agents, {meta['workers']} workers each, "
          f"{meta['duration']} s window, {len(ok)}/{len(rs)} runs ok; {meta['version']}\n", file=sys.stderr)
    print(hdr, file=sys.stderr)
    print("|---|" + "---|" * (len(ok) + 1), file=sys.stderr)
    for label, f in rows:
        vals = []
        for r in ok:
            try:
                vals.append(f(r["result"]))
            except (KeyError, IndexError, TypeError):
                vals.append(None)
        good = [v for v in vals if v is not None]
        m = statistics.median(good) if good else None
        if label.startswith("agent") and "RSS" in label:
            i = int(label.split()[1]) - 1
            vals = [f"{r['result']['agents'][i]['rss_mib']:.0f} / {r['result']['agents'][i]['hwm_mib']:.0f}" for r in ok]
            m = fmt(m, 0)
        elif label.startswith("agent") and "CPU" in label:
            i = int(label.split()[1]) - 1
            vals = [f"{r['result']['agents'][i]['cpu_pct']:.0f}{'*' if r['result']['agents'][i]['leader'] else ''}" for r in ok]
            m = fmt(m, 0)
        else:
            vals = [fmt(v) for v in vals]
            m = fmt(m)
        print(f"| {label} | " + " | ".join(vals) + f" | {m} |", file=sys.stderr)
    summary = dict(meta)
    summary["runs"] = rs
    summary["median"] = {
        "lateness_p50_ms": med(lambda a: a["lateness_ms"]["p50"]),
        "lateness_p99_ms": med(lambda a: a["lateness_ms"]["p99"]),
        "lateness_max_ms": med(lambda a: a["lateness_ms"]["max"]),
        "runs_per_s": med(lambda a: a["runs_per_s"]),
        "missed": med(lambda a: a["missed"]),
        "unrun": med(lambda a: a["unrun"]),
    }
    return summary, ok, rs

def cmd_summary(results_path, meta_json, output):
    summary, ok, rs = cmd_table(results_path, meta_json)
    line = json.dumps(summary, separators=(",", ":"))
    if output == "json":
        print(line)
    else:
        print("SUMMARY jobs " + line)
    return 0 if len(ok) == len(rs) else 1

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    f = {"wait-cluster": lambda: cmd_wait_cluster(args[0], args[1:]),
         "apply": lambda: cmd_apply(*args),
         "window": lambda: cmd_window(*args),
         "collect": lambda: cmd_collect(*args),
         "line": lambda: cmd_line(*args),
         "summary": lambda: cmd_summary(*args)}[cmd]
    sys.exit(f())
PYEOF

machine=$(python3 - <<'EOF'
import json, os, platform, time
cpu = "?"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
mem = 0
for line in open("/proc/meminfo"):
    if line.startswith("MemTotal:"):
        mem = round(int(line.split()[1]) / 1024 / 1024, 1)
print(json.dumps({"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "nproc": os.cpu_count(), "cpu": cpu, "mem_gib": mem,
                  "loadavg_1m": round(os.getloadavg()[0], 2),
                  "kernel": platform.release()}, separators=(",", ":")))
EOF
)
echo "run.sh: $version (${build_type:-build type unknown}); $jobs jobs @every $every, $workers workers per agent, window ${duration}s, $runs runs; machine $machine" >&2

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

one_run() {  # RUN
  local r=$1 dir="$top/run$1" i j join n apis=() pids=() addr leader leader_addr
  mkdir -p "$dir"
  for i in 1 2 3 11 12 13; do
    port_free $((port_base + i)) || { echo "run.sh: port $((port_base + i)) is in use (see --port-base)" >&2; return 1; }
  done
  for i in 1 2 3; do
    n=n$i
    join=()
    for j in 1 2 3; do
      ((j == i)) || join+=("127.0.0.1:$((port_base + 10 + j))")
    done
    apis+=("127.0.0.1:$((port_base + i))")
    spawn "$dir/$n.log" "$nwagent" --node-id "$n" --data-dir "$dir/$n" \
      --api "127.0.0.1:$((port_base + i))" --peer "127.0.0.1:$((port_base + 10 + i))" \
      --bootstrap-expect 3 --join "$(IFS=,; echo "${join[*]}")" --log-level warn \
      --jobs-workers "$workers" "${extra[@]}"
    pids+=("${started_pids[-1]}")
  done
  addr=$(IFS=,; echo "${apis[*]}")
  if ! read -r leader leader_addr < <(python3 "$py" wait-cluster "$addr" "${pids[@]}"); then
    tail -n 20 "$dir"/n*.log >&2
    echo "run.sh: run $r: the agents did not form a cluster" >&2
    return 1
  fi
  echo "run $r: cluster up (leader $leader at $leader_addr, pids ${pids[*]}); applying $jobs jobs" >&2
  python3 "$py" apply "$leader_addr" "$jobs" "$every" "$apply_batch" "$apply_parallel" >"$dir/apply.json" \
    || { echo "run.sh: run $r: apply failed" >&2; return 1; }
  echo "run $r: applied: $(cat "$dir/apply.json"); warm-up ${warmup}s" >&2
  sleep "$warmup"
  python3 "$py" window "$addr" "$(IFS=,; echo "${pids[*]}")" "$duration" "$dir/window.json" \
    || { echo "run.sh: run $r: sampling failed" >&2; return 1; }
  for i in 0 1 2; do
    kill -0 "${pids[$i]}" 2>/dev/null || { echo "run.sh: run $r: agent n$((i + 1)) exited" >&2; tail -n 20 "$dir/n$((i + 1)).log" >&2; return 1; }
  done
  # Runs of the window's last slots: let them start and end before reading.
  sleep 5
  python3 "$py" collect "$leader_addr" "$jobs" "$((every_s * 1000))" "$dir/window.json" "$dir/result.json" \
    || { echo "run.sh: run $r: reading the history failed" >&2; return 1; }
  python3 - "$r" "$dir/apply.json" "$dir/result.json" "$leader" >>"$results" <<'EOF'
import json, sys
res = json.load(open(sys.argv[3]))
res["apply"] = json.load(open(sys.argv[2]))
res["leader"] = sys.argv[4]
print(json.dumps({"run": int(sys.argv[1]), "status": "ok", "result": res}, separators=(",", ":")))
EOF
  tail -n 1 "$results" >"$dir/line.json"
  python3 "$py" line "$dir/line.json" >&2
  stop_started
  if ((!keep)); then rm -rf "$dir"; fi
}

for ((r = 1; r <= runs; r++)); do
  # The previous run's agents and their jobs are gone; let the machine settle.
  ((r == 1)) || sleep 5
  if ! one_run "$r"; then
    printf '{"run":%d,"status":"failed"}\n' "$r" >>"$results"
    stop_started
  fi
done

meta=$(python3 - "$jobs" "$every" "$duration" "$workers" "$warmup" "$version, ${build_type:-?}" "$machine" "$nw_args" <<'EOF'
import json, sys
print(json.dumps({"jobs": int(sys.argv[1]), "every": sys.argv[2], "duration": int(sys.argv[3]),
                  "workers": int(sys.argv[4]), "warmup": int(sys.argv[5]), "version": sys.argv[6],
                  "machine": json.loads(sys.argv[7]), "nw_args": sys.argv[8]}))
EOF
)
python3 "$py" summary "$results" "$meta" "$output"
