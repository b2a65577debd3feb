#!/usr/bin/env python3
"""Failover time of a 3-member cluster: Nightwatch and etcd 3.4, side by side.

  bench/failover.py [--rounds 20] [--systems etcd,nightwatch] [--nw-build DIR]
                    [--nw-args "ARGS"] [--leader-only]

For each system: start 3 members on 127.0.0.1 (free ports, own temp dir),
then ROUNDS times:
  1. find the leader (all members agree), SIGKILL it: t0;
  2. poll both survivors' local view of the leader every --poll-ms:
     "new leader" = first answer naming a leader other than the killed one;
  3. from t0, start a write every --write-every-ms, alternating survivors,
     each with a --write-timeout deadline: "first write" = the earliest
     completion of a successful one (its resolution is the start interval);
  4. restart the killed member with the same command and wait until the
     cluster is healthy again (one leader, all members caught up).
Prints each round to stderr, then a table (median and max per system) and
one line `SUMMARY failover {json}`.

etcd: Debian's etcd-server 3.4 (scripts/install-deps.sh --bench) with its
default timings, heartbeat 100 ms and election timeout 1000 ms. Leader from
POST /v3/maintenance/status on each member; write: POST /v3/kv/put.
Nightwatch: build/agent/nwagent (or --nw-build DIR / $NW_BUILD) with
--bootstrap-expect 3; leader from GET /v1/cluster/status?stale=true; write:
PUT /v1/cluster/nodes/{id}/labels. A system that cannot run here (binary
missing or without clustering) is reported as skipped.

Python 3 standard library only. Ctrl-C stops every member and removes the
temp dirs.
"""

import argparse
import json
import os
import shlex
import statistics
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import cluster as cl  # noqa: E402


class Round:
    """One kill and what the survivors saw after it. Times in ms from t0."""

    def __init__(self):
        self.lock = threading.Lock()
        self.new_leader_ms = None
        self.new_leader_id = None
        self.write_ms = None
        self.attempts = 0
        self.outcomes = {}  # HTTP status or error kind -> count (guarded by lock)
        self.leader_event = threading.Event()
        self.write_event = threading.Event()
        self.stop = threading.Event()


def run_round(c, n, args):
    old = cl.wait_until(c.leader, 30, "all members to agree on one leader")
    survivors = [m for m in c.members if m is not old]
    r = Round()
    deadline = None

    def poll(m):
        while not r.stop.is_set() and not r.leader_event.is_set():
            try:
                lid = c.seen_leader(m, timeout=0.5)
            except OSError:
                lid = ""
            if lid and lid != old.id:
                t = (time.monotonic() - t0) * 1000
                with r.lock:
                    if r.new_leader_ms is None or t < r.new_leader_ms:
                        r.new_leader_ms, r.new_leader_id = t, lid
                r.leader_event.set()
                return
            if time.monotonic() > deadline:
                return
            time.sleep(args.poll_ms / 1000)

    def attempt(m, k):
        ok, outcome = c.write(m, f"{n}-{k}", args.write_timeout)
        t = (time.monotonic() - t0) * 1000
        with r.lock:
            r.outcomes[outcome] = r.outcomes.get(outcome, 0) + 1
            if ok and (r.write_ms is None or t < r.write_ms):
                r.write_ms = t
        if ok:
            r.write_event.set()

    def writer():
        k = 0
        next_at = time.monotonic()
        while not r.stop.is_set() and not r.write_event.is_set() and time.monotonic() < deadline:
            threading.Thread(target=attempt, args=(survivors[k % len(survivors)], k), daemon=True).start()
            k += 1
            r.attempts = k
            next_at += args.write_every_ms / 1000
            time.sleep(max(0.0, next_at - time.monotonic()))

    t0 = time.monotonic()
    deadline = t0 + args.round_timeout
    old.kill()
    threads = [threading.Thread(target=poll, args=(m,), daemon=True) for m in survivors]
    if args.leader_only:
        r.write_event.set()
    else:
        threads.append(threading.Thread(target=writer, daemon=True))
    for t in threads:
        t.start()
    r.leader_event.wait(max(0.0, deadline - time.monotonic()))
    r.write_event.wait(max(0.0, deadline - time.monotonic()))
    r.stop.set()
    for t in threads:
        t.join()

    old.start()
    c.wait_healthy(args.heal_timeout)
    return old, r


def fmt(v):
    return "-" if v is None else f"{v:.0f}"


def summarize(vals):
    ok = [v for v in vals if v is not None]
    if not ok:
        return {"median_ms": None, "max_ms": None, "n": 0}
    return {"median_ms": round(statistics.median(ok), 1), "max_ms": round(max(ok), 1), "n": len(ok)}


def bench_system(system, args):
    res = {"system": system}
    try:
        c = cl.make_cluster(
            system,
            args.tmp_dir,
            args.nw_build,
            shlex.split(args.nw_args),
            **(
                {"heartbeat_ms": args.etcd_heartbeat_ms, "election_ms": args.etcd_election_ms}
                if system == "etcd"
                else {}
            ),
        )
    except cl.BenchError as e:
        res["skipped"] = str(e)
        print(f"{system}: skipped: {e}", file=sys.stderr)
        return res
    try:
        res["version"] = c.version()
        res["timings"] = c.timings()
        print(f"{system} {res['version']} ({res['timings']}): starting 3 members in {c.tmp}", file=sys.stderr)
        c.start()
        leaders, writes = [], []
        for n in range(1, args.rounds + 1):
            old, r = run_round(c, n, args)
            leaders.append(r.new_leader_ms)
            writes.append(r.write_ms)
            with r.lock:
                done = sum(r.outcomes.values())
                outcomes = ", ".join(f"{k} x{v}" for k, v in sorted(r.outcomes.items()))
            new = c.by_id(r.new_leader_id) if r.new_leader_id else None
            line = (
                f"{system} round {n:2}/{args.rounds}: killed {old.name}; "
                f"new leader {fmt(r.new_leader_ms)} ms ({new.name if new else '-'})"
            )
            if not args.leader_only:
                line += (
                    f", first write {fmt(r.write_ms)} ms ({r.attempts} started; "
                    f"answered by then: {outcomes or 'none'}; {r.attempts - done} still out)"
                )
            print(line, file=sys.stderr)
        res["rounds"] = args.rounds
        res["new_leader"] = summarize(leaders)
        res["first_write"] = summarize(writes)
        res["failed_rounds"] = sum(
            1 for a, b in zip(leaders, writes) if a is None or (b is None and not args.leader_only)
        )
        res["new_leader_ms"] = [None if v is None else round(v, 1) for v in leaders]
        res["first_write_ms"] = [None if v is None else round(v, 1) for v in writes]
    except cl.BenchError as e:
        res["error"] = str(e)
        print(f"{system}: failed: {e}", file=sys.stderr)
        if "\n---" not in str(e):
            print(c.describe_failure(), file=sys.stderr)
    finally:
        c.close()
        cl.install_signal_handlers()  # close() ignored them
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=20, help="leader kills per system (default 20)")
    ap.add_argument("--systems", default="etcd,nightwatch", help="comma-separated: etcd, nightwatch")
    ap.add_argument("--nw-build", default=None, help="Nightwatch build dir (default $NW_BUILD or ./build)")
    ap.add_argument(
        "--nw-args",
        default="",
        help='extra nwagent arguments, e.g. "--raft-tick-interval 100ms --raft-election-ticks 10"',
    )
    ap.add_argument("--tmp-dir", default=None, help="where the members' temp dirs go (default $TMPDIR)")
    ap.add_argument("--poll-ms", type=float, default=5, help="leader poll interval per survivor (default 5)")
    ap.add_argument("--write-every-ms", type=float, default=20, help="write start interval (default 20)")
    ap.add_argument("--write-timeout", type=float, default=10, help="one write's deadline, s (default 10)")
    ap.add_argument("--round-timeout", type=float, default=30, help="give up on a round after, s (default 30)")
    ap.add_argument("--heal-timeout", type=float, default=60, help="wait for health after restart, s (default 60)")
    ap.add_argument(
        "--leader-only",
        action="store_true",
        help="no writes: time only the new leader (shows whether the write load slows it)",
    )
    ap.add_argument("--etcd-heartbeat-ms", type=int, default=cl.ETCD_HEARTBEAT_MS)
    ap.add_argument("--etcd-election-ms", type=int, default=cl.ETCD_ELECTION_MS)
    args = ap.parse_args()
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    for s in systems:
        if s not in ("etcd", "nightwatch"):
            ap.error(f"unknown system '{s}': use etcd and/or nightwatch")
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")

    cl.install_signal_handlers()
    machine = cl.machine_line()
    results = []
    try:
        for s in systems:
            results.append(bench_system(s, args))
    except cl.Interrupted as e:
        print(f"failover.py: interrupted ({e}); members stopped, temp dirs removed", file=sys.stderr)
        return 130

    print(f"# failover: SIGKILL the leader of 3 members, {args.rounds} rounds per system")
    print(cl.machine_text(machine))
    print(f"new leader: a survivor names another leader (polled every {args.poll_ms:g} ms)")
    if args.leader_only:
        print("--leader-only: no writes during the rounds")
    else:
        print(f"first write: earliest success of writes started every {args.write_every_ms:g} ms")
    print()
    print("| system | version | timings | rounds | new leader median (ms) | max | first write median (ms) | max | failed rounds |")
    print("|---|---|---|---|---|---|---|---|---|")
    status = 0
    for r in results:
        if "skipped" in r or "error" in r:
            why = r.get("skipped") or r.get("error")
            kind = "skipped" if "skipped" in r else "error"
            print(f"| {r['system']} | {r.get('version', '-')} | {kind}: {why.splitlines()[0]} | | | | | | |")
            if "error" in r:
                status = 1
            continue
        nl, fw = r["new_leader"], r["first_write"]
        print(
            f"| {r['system']} | {r['version']} | {r['timings']} | {r['rounds']} | {fmt(nl['median_ms'])} | "
            f"{fmt(nl['max_ms'])} | {fmt(fw['median_ms'])} | {fmt(fw['max_ms'])} | {r['failed_rounds']} |"
        )
        if r["failed_rounds"]:
            status = 1
    summary = {
        "bench": "failover",
        "machine": machine,
        "rounds": args.rounds,
        "writes": not args.leader_only,
        "results": results,
    }
    print()
    print("SUMMARY failover " + json.dumps(summary, separators=(",", ":")))
    return status


if __name__ == "__main__":
    sys.exit(main())
