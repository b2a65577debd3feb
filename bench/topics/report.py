#!/usr/bin/env python3
"""Formatting for bench/topics/run.sh (Python 3 standard library only).

  report.py line ROUND JSON                 one run's result, one line
  report.py failure ROUND STATUS SYSTEM WHY the JSON row of a failed/skipped run
  report.py table RESULTS MACHINE RUNS N SIZE
      RESULTS: JSON lines {"round", "status": ok|failed|skipped, "result"
      (ok) or "system" and "why"}. Prints the medians table, the ratios,
      the disk ceiling and `SUMMARY topics {json}`; exit 1 if a run failed.
"""

import json
import statistics
import sys

sys.dont_write_bytecode = True

SYSTEMS = ["nightwatch", "nats", "redis"]
LABEL = {"nightwatch": "Nightwatch", "nats": "NATS", "redis": "Redis"}


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(v, digits=0):
    return "-" if v is None else f"{v:,.{digits}f}"


def line(rnd, text):
    r = json.loads(text)
    if r.get("bench") == "disk":
        parts = [f"{x['block']} {x['mb_per_s']} MB/s ({x['ms_per_write']} ms/sync)" for x in r["results"]]
        print(f"run {rnd} disk: " + ", ".join(parts))
        return
    p, c = r["produce"], r["consume"]
    print(
        f"run {rnd} {r['system']}: produce {p['msgs_per_s']:.0f} msg/s, {p['mb_per_s']:.1f} MB/s "
        f"(p50 {p['p50_ms']} ms, p99 {p['p99_ms']} ms, p999 {p['p999_ms']} ms), "
        f"consume {c['msgs_per_s']:.0f} msg/s; load average {r['machine']['loadavg_1m']}"
    )


def failure(rnd, status, system, why):
    print(json.dumps({"round": int(rnd), "status": status, "system": system, "why": why}))


def table(path, machine, runs, n, size):
    machine = json.loads(machine)
    runs, n, size = int(runs), int(n), int(size)
    rows = [json.loads(x) for x in open(path) if x.strip()]
    by = {}
    for row in rows:
        if row["status"] == "ok":
            r = row["result"]
            name = r.get("system") or r.get("bench")
        else:
            name, r = row["system"], None
        by.setdefault(name, []).append((row, r))

    print(f"# topics: {n} messages x {size} B, {runs} runs, medians")
    print(
        f"machine: {machine['nproc']} cores, {machine['cpu']}, kernel {machine['kernel']}; "
        f"load average {machine['loadavg_1m']} at start; date {machine['date']}"
    )
    print()
    print(
        "| system | version | runs ok | produce msg/s | produce MB/s | ack p50 ms | p99 ms | p999 ms "
        "| consume msg/s | consume MB/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    summary = {"bench": "topics", "machine": machine, "runs": runs, "messages": n, "size": size, "systems": {}}
    medians = {}
    status = 0
    for name in SYSTEMS:
        if name not in by:
            continue
        ok = [r for _, r in by[name] if r]
        bad = [row for row, r in by[name] if not r]
        if any(b["status"] == "failed" for b in bad):
            status = 1
        if not ok:
            why = bad[0]["why"].replace("|", "/")
            print(f"| {name} | {bad[0]['status']}: {why} | 0/{len(bad)} | | | | | | | |")
            summary["systems"][name] = {"status": bad[0]["status"], "why": bad[0]["why"]}
            continue
        m = {k: med([r["produce"].get(k) for r in ok]) for k in ["msgs_per_s", "mb_per_s", "p50_ms", "p99_ms", "p999_ms"]}
        m.update({"consume_" + k: med([r["consume"][k] for r in ok]) for k in ["msgs_per_s", "mb_per_s"]})
        medians[name] = m
        print(
            f"| {name} | {ok[0].get('version', '?')} | {len(ok)}/{len(ok) + len(bad)} | {fmt(m['msgs_per_s'])} "
            f"| {fmt(m['mb_per_s'], 1)} | {fmt(m['p50_ms'], 2)} | {fmt(m['p99_ms'], 2)} | {fmt(m['p999_ms'], 2)} "
            f"| {fmt(m['consume_msgs_per_s'])} | {fmt(m['consume_mb_per_s'], 1)} |"
        )
        summary["systems"][name] = {"status": "ok", "medians": m, "runs": ok, "failed_or_skipped": bad}
    print()
    print(
        "Ack latency: Nightwatch per batch (request to acks=all answer); NATS per message "
        "(publish to PubAck); Redis per command as redis-benchmark times it."
    )
    ratios = {}
    nw = medians.get("nightwatch")
    for other in ["nats", "redis"]:
        o = medians.get(other)
        if nw and o:
            pr = nw["msgs_per_s"] / o["msgs_per_s"]
            cr = nw["consume_msgs_per_s"] / o["consume_msgs_per_s"]
            ratios[f"nightwatch/{other}"] = {"produce": round(pr, 3), "consume": round(cr, 3)}
            print(f"Nightwatch/{LABEL[other]}: produce {pr:.2f}x, consume {cr:.2f}x")
    summary["ratios"] = ratios
    disk = [r for _, r in by.get("disk", []) if r]
    if disk:
        blocks = [x["block"] for x in disk[0]["results"]]
        d = {}
        for b in blocks:
            xs = [x for run in disk for x in run["results"] if x["block"] == b]
            d[b] = {"mb_per_s": med([x["mb_per_s"] for x in xs]), "ms_per_write": med([x["ms_per_write"] for x in xs])}
        print()
        print(
            "Disk ceiling (dd oflag=dsync, one sync per write, medians): "
            + "; ".join(f"{b} per sync {d[b]['mb_per_s']:.0f} MB/s ({d[b]['ms_per_write']:.2f} ms)" for b in blocks)
        )
        summary["disk"] = d
        summary["disk_runs"] = disk
    print()
    print("SUMMARY topics " + json.dumps(summary, separators=(",", ":")))
    return status


def main(argv):
    if len(argv) >= 3 and argv[0] == "line":
        line(argv[1], argv[2])
        return 0
    if len(argv) == 5 and argv[0] == "failure":
        failure(*argv[1:])
        return 0
    if len(argv) == 6 and argv[0] == "table":
        return table(*argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
