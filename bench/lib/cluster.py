#!/usr/bin/env python3
"""Three-member test clusters on 127.0.0.1 for the side-by-side benchmarks.

A cluster is either etcd 3.4 (Debian's etcd-server) or Nightwatch (nwagent
with --bootstrap-expect 3). Both get free ports and a temp dir of their own;
every member runs in its own session (so Ctrl-C reaches only the bench, which
then stops them) and, where util-linux's setpriv exists, with a parent-death
signal so that no member outlives a bench killed with SIGKILL.

Used as a module by bench/failover.py, and as a command by bench/commit.sh:

  cluster.py up --system etcd|nightwatch --info FILE [--nw-build DIR]
                [--nw-args "ARGS"]
      start the cluster, wait until it is healthy, write FILE (JSON: the
      members' URLs and ids), then wait for SIGTERM/SIGINT and clean up
  cluster.py target --info FILE
      print "URL NODE_ID NAME" of the current leader
  cluster.py check --system etcd|nightwatch [--nw-build DIR]
      exit 0 if that system can run here, else print why and exit 1
  cluster.py machine [--json]
      print the machine line (cores, CPU model, date), or it as JSON

Python 3 standard library only.
"""

import argparse
import base64
import datetime
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# etcd's defaults (etcd 3.4 `etcd --help`), passed explicitly so the command
# line documents them.
ETCD_HEARTBEAT_MS = 100
ETCD_ELECTION_MS = 1000


class BenchError(Exception):
    """A setup step failed; the message says what to do next."""


# ---------------------------------------------------------------- helpers


def machine_line():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/loadavg") as f:
            load = f.read().split()[0]
    except OSError:
        load = "?"
    now = datetime.datetime.now(datetime.timezone.utc)
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "date": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "loadavg_1m": load,
    }


def machine_text(m):
    return f"machine: {m['nproc']} cores, {m['cpu']}; load average {m['loadavg_1m']} at start; date {m['date']}"


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (bound together, then freed)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http_json(method, url, body=None, timeout=1.0):
    """One request on a fresh connection. Returns (status, parsed JSON or
    None). Raises OSError (incl. timeouts) when no answer came."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        path = u.path + ("?" + u.query if u.query else "")
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return resp.status, parsed
    except http.client.HTTPException as e:
        raise OSError(str(e)) from e
    finally:
        conn.close()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def wait_until(pred, timeout, what, interval=0.05):
    """Polls pred() until it returns a true value or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    last_err = None
    while True:
        try:
            v = pred()
            if v:
                return v
        except OSError as e:
            last_err = e
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_err})" if last_err else ""
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


_SETPRIV = shutil.which("setpriv")


class Member:
    """One member process: its command, its data dir and log, its Popen."""

    def __init__(self, name, cmd, data_dir, log_path, url):
        self.name = name
        self.cmd = cmd
        self.data_dir = data_dir
        self.log_path = log_path
        self.url = url  # client URL (etcd) or API URL (Nightwatch)
        self.id = None  # the id the cluster reports for this member
        self.proc = None

    def start(self):
        cmd = list(self.cmd)
        if _SETPRIV:
            # setpriv execs the command: the pid stays the member's own.
            cmd = [_SETPRIV, "--pdeathsig", "KILL", "--"] + cmd
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL and reap."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def log_tail(self, n=15):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""


class Cluster:
    """Common lifecycle. Subclasses provide the commands and the probes."""

    system = "?"

    def __init__(self, tmp_root=None):
        self.tmp = tempfile.mkdtemp(prefix=f"nw-bench-{self.system}-", dir=tmp_root)
        self.members = []

    # ----- lifecycle
    def start(self, timeout=60):
        for m in self.members:
            m.start()
        try:
            self.wait_formed(timeout)
        except BenchError as e:
            raise BenchError(f"{e}\n{self.describe_failure()}") from None

    def close(self):
        """SIGKILLs every member (their data is thrown away, so a graceful
        stop buys nothing) and removes the temp dir. Further SIGINT/SIGTERM
        are ignored while it runs."""
        ignore_signals()
        for m in self.members:
            try:
                m.kill()
            except Exception:  # keep cleaning up the others
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    def describe_failure(self):
        out = []
        for m in self.members:
            state = "running" if m.alive() else f"exited ({m.proc.returncode if m.proc else '-'})"
            out.append(f"--- {self.system} {m.name} {state}; last log lines:\n{m.log_tail()}")
        return "\n".join(out)

    def by_id(self, member_id):
        for m in self.members:
            if m.id == member_id:
                return m
        return None

    # ----- probes (overridden)
    def seen_leader(self, m, timeout=0.5):
        """The leader id member m reports from its own state ('' if none)."""
        raise NotImplementedError

    def write(self, m, n, timeout):
        """One replicated write through member m: (True, "200") on success,
        else (False, the HTTP status or the kind of transport error)."""
        raise NotImplementedError

    def leader(self, timeout=0.5):
        """The leader all live members agree on, or None."""
        seen = set()
        for m in self.members:
            if not m.alive():
                continue
            seen.add(self.seen_leader(m, timeout))
        if len(seen) == 1:
            lid = seen.pop()
            return self.by_id(lid) if lid else None
        return None

    def wait_formed(self, timeout):
        raise NotImplementedError

    def wait_healthy(self, timeout):
        """All members up, agreeing on one leader, and caught up."""
        raise NotImplementedError

    def info(self):
        return {
            "system": self.system,
            "tmp": self.tmp,
            "members": [
                {"name": m.name, "id": m.id, "url": m.url, "pid": m.proc.pid if m.proc else None}
                for m in self.members
            ],
        }


# ---------------------------------------------------------------- etcd


class EtcdCluster(Cluster):
    system = "etcd"

    def __init__(self, tmp_root=None, heartbeat_ms=ETCD_HEARTBEAT_MS, election_ms=ETCD_ELECTION_MS):
        self.etcd = shutil.which("etcd")
        if not self.etcd:
            raise BenchError("etcd not found: run scripts/install-deps.sh --bench (Debian etcd-server)")
        super().__init__(tmp_root)
        self.heartbeat_ms = heartbeat_ms
        self.election_ms = election_ms
        ports = free_ports(6)
        names = ["e1", "e2", "e3"]
        peer = {n: f"http://127.0.0.1:{ports[3 + i]}" for i, n in enumerate(names)}
        initial = ",".join(f"{n}={peer[n]}" for n in names)
        token = f"nw-bench-{os.getpid()}-{ports[0]}"
        for i, n in enumerate(names):
            client = f"http://127.0.0.1:{ports[i]}"
            data = os.path.join(self.tmp, n)
            cmd = [
                self.etcd,
                "--name", n,
                "--data-dir", data,
                "--listen-client-urls", client,
                "--advertise-client-urls", client,
                "--listen-peer-urls", peer[n],
                "--initial-advertise-peer-urls", peer[n],
                "--initial-cluster", initial,
                "--initial-cluster-state", "new",
                "--initial-cluster-token", token,
                "--heartbeat-interval", str(heartbeat_ms),
                "--election-timeout", str(election_ms),
                "--logger", "zap",
                "--log-level", "warn",
            ]
            self.members.append(Member(n, cmd, data, os.path.join(self.tmp, n + ".log"), client))

    def version(self):
        out = subprocess.run([self.etcd, "--version"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("etcd Version:"):
                return line.split(":", 1)[1].strip()
        return "?"

    def timings(self):
        return f"heartbeat {self.heartbeat_ms} ms, election timeout {self.election_ms} ms"

    def status(self, m, timeout=0.5):
        code, body = http_json("POST", m.url + "/v3/maintenance/status", {}, timeout)
        if code != 200 or not isinstance(body, dict):
            raise OSError(f"{m.name}: status answered {code}")
        return body

    def seen_leader(self, m, timeout=0.5):
        lid = str(self.status(m, timeout).get("leader", "0"))
        return "" if lid in ("", "0") else lid

    def write(self, m, n, timeout):
        body = {"key": b64("bench/failover"), "value": b64(str(n))}
        try:
            code, resp = http_json("POST", m.url + "/v3/kv/put", body, timeout)
        except OSError as e:
            return False, type(e).__name__
        ok = code == 200 and isinstance(resp, dict) and "header" in resp and "error" not in resp
        return ok, str(code)

    def wait_formed(self, timeout):
        def ids_known():
            for m in self.members:
                if m.id is None:
                    m.id = str(self.status(m)["header"]["member_id"])
            return True

        wait_until(ids_known, timeout, "every etcd member to answer /v3/maintenance/status")
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout):
        def healthy():
            if not all(m.alive() for m in self.members):
                raise BenchError("an etcd member exited")
            sts = [self.status(m) for m in self.members]
            leaders = {str(s.get("leader", "0")) for s in sts}
            if len(leaders) != 1 or leaders.pop() in ("", "0"):
                return False
            for m in self.members:
                code, body = http_json("GET", m.url + "/health", None, 2.0)
                if code != 200 or not body or str(body.get("health")) != "true":
                    return False
            applied = [int(s.get("raftAppliedIndex", 0)) for s in sts]
            return max(applied) - min(applied) <= 1

        wait_until(healthy, timeout, "the etcd cluster to be healthy (one leader, all caught up)")


# ---------------------------------------------------------------- Nightwatch


def nw_binaries(build=None):
    build = build or os.environ.get("NW_BUILD") or os.path.join(REPO, "build")
    agent = os.path.join(build, "agent", "nwagent")
    return build, agent


def nw_supports_cluster(build=None):
    """(True, '') if nwagent exists and knows --bootstrap-expect, else
    (False, why)."""
    _, agent = nw_binaries(build)
    if not os.access(agent, os.X_OK):
        return False, f"{agent} not found: build it (make build) or pass --nw-build DIR / NW_BUILD"
    try:
        out = subprocess.run([agent, "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"{agent} --help failed: {e}"
    if "--bootstrap-expect" not in out.stdout + out.stderr:
        return False, f"{agent} has no --bootstrap-expect yet (clustering not built in): rebuild it from a newer main"
    return True, ""


class NightwatchCluster(Cluster):
    system = "nightwatch"

    def __init__(self, tmp_root=None, build=None, extra_args=()):
        ok, why = nw_supports_cluster(build)
        if not ok:
            raise BenchError(why)
        super().__init__(tmp_root)
        self.build, self.agent = nw_binaries(build)
        self.extra_args = list(extra_args)
        ports = free_ports(6)
        names = ["n1", "n2", "n3"]
        peers = {n: f"127.0.0.1:{ports[3 + i]}" for i, n in enumerate(names)}
        for i, n in enumerate(names):
            api = f"127.0.0.1:{ports[i]}"
            data = os.path.join(self.tmp, n)
            join = ",".join(peers[o] for o in names if o != n)
            cmd = [
                self.agent,
                "--node-id", n,
                "--data-dir", data,
                "--api", api,
                "--peer", peers[n],
                "--bootstrap-expect", "3",
                "--join", join,
                "--log-level", "warn",
            ] + list(extra_args)
            m = Member(n, cmd, data, os.path.join(self.tmp, n + ".log"), "http://" + api)
            m.id = n
            self.members.append(m)

    def version(self):
        """`nwagent --version` and the build type from the build dir's
        CMakeCache.txt (a Debug build is not worth comparing)."""
        out = subprocess.run([self.agent, "--version"], capture_output=True, text=True)
        text = (out.stdout or out.stderr).strip()
        version = text.splitlines()[0] if text else "?"
        build_type = "build type unknown"
        try:
            with open(os.path.join(self.build, "CMakeCache.txt")) as f:
                for line in f:
                    if line.startswith("CMAKE_BUILD_TYPE:"):
                        build_type = line.split("=", 1)[1].strip() or "no build type"
        except OSError:
            pass
        return f"{version}, {build_type}"

    def timings(self):
        """The Raft timings in force: --help's defaults, or the extra
        arguments that override them."""
        try:
            help_text = subprocess.run([self.agent, "--help"], capture_output=True, text=True).stdout
        except OSError:
            help_text = ""
        val = {}
        for key, flag in (
            ("tick_interval", "--raft-tick-interval"),
            ("election_ticks", "--raft-election-ticks"),
            ("heartbeat_ticks", "--raft-heartbeat-ticks"),
        ):
            mt = re.search(r"raft\." + key + r"; default: ([^\]]+)\]", help_text)
            val[key] = mt.group(1).strip() if mt else None
            for i, a in enumerate(self.extra_args):
                if a == flag and i + 1 < len(self.extra_args):
                    val[key] = self.extra_args[i + 1]
                elif a.startswith(flag + "="):
                    val[key] = a.split("=", 1)[1]
        if None in val.values():
            text = "its built-in defaults"
        else:
            tick = re.fullmatch(r"(\d+)ms", val["tick_interval"])
            text = (
                f"tick {val['tick_interval']}, election {val['election_ticks']} ticks, "
                f"heartbeat {val['heartbeat_ticks']} tick(s)"
            )
            if tick:
                ms = int(tick.group(1))
                text = (
                    f"heartbeat {ms * int(val['heartbeat_ticks'])} ms, "
                    f"election timeout {ms * int(val['election_ticks'])} ms "
                    f"(tick {ms} ms)"
                )
        if self.extra_args:
            text += "; args: " + " ".join(self.extra_args)
        return text

    def stale_status(self, m, timeout=0.5):
        code, body = http_json("GET", m.url + "/v1/cluster/status?stale=true", None, timeout)
        if code != 200 or not isinstance(body, dict):
            raise OSError(f"{m.name}: /v1/cluster/status?stale=true answered {code}")
        return body

    def seen_leader(self, m, timeout=0.5):
        return str(self.stale_status(m, timeout).get("leader") or "")

    def write(self, m, n, timeout):
        try:
            code, _ = http_json(
                "PUT", f"{m.url}/v1/cluster/nodes/{m.id}/labels", {"set": {"bench": str(n)}}, timeout
            )
        except OSError as e:
            return False, type(e).__name__
        return code == 200, str(code)

    def check_pids(self):
        """The pid each agent reports is the one we started (so a SIGKILL
        hits the agent itself, not a wrapper)."""
        for m in self.members:
            code, body = http_json("GET", m.url + "/v1/status", None, 2.0)
            if code == 200 and isinstance(body, dict) and "pid" in body:
                if int(body["pid"]) != m.proc.pid:
                    raise BenchError(
                        f"{m.name} reports pid {body['pid']}, we started {m.proc.pid}: "
                        "is another agent on that port?"
                    )

    def wait_formed(self, timeout):
        self.wait_healthy(timeout)
        self.check_pids()

    def wait_healthy(self, timeout):
        def healthy():
            if not all(m.alive() for m in self.members):
                raise BenchError("an nwagent exited")
            leaders = {self.seen_leader(m) for m in self.members}
            if len(leaders) != 1:
                return False
            lid = leaders.pop()
            leader = self.by_id(lid)
            if leader is None:
                return False
            code, st = http_json("GET", leader.url + "/v1/cluster/status", None, 2.0)
            if code != 200 or not isinstance(st, dict):
                return False
            mem = st.get("members") or []
            if len(mem) != len(self.members):
                return False
            for x in mem:
                if x.get("role", "voter") != "voter" or x.get("state") != "healthy":
                    return False
                if int(x.get("lag", 0) or 0) > 1:
                    return False
            return True

        wait_until(healthy, timeout, "the Nightwatch cluster to be healthy (one leader, 3 healthy voters, no lag)")


def make_cluster(system, tmp_root=None, nw_build=None, nw_args=(), **kw):
    if system == "etcd":
        return EtcdCluster(tmp_root, **kw)
    if system == "nightwatch":
        return NightwatchCluster(tmp_root, nw_build, nw_args)
    raise BenchError(f"unknown system '{system}': use etcd or nightwatch")


# ---------------------------------------------------------------- signals


class Interrupted(Exception):
    pass


def ignore_signals():
    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)


def install_signal_handlers():
    """SIGINT/SIGTERM/SIGHUP raise Interrupted in the main thread so that
    the callers' finally blocks stop the members and remove the temp dirs."""

    def handler(signum, _frame):
        raise Interrupted(signal.Signals(signum).name)

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)


# ---------------------------------------------------------------- command


def cmd_up(args):
    install_signal_handlers()
    cluster = None
    try:
        cluster = make_cluster(args.system, args.tmp_dir, args.nw_build, shlex.split(args.nw_args))
        cluster.start()
        info = cluster.info()
        info["version"] = cluster.version()
        info["timings"] = cluster.timings()
        tmp_info = args.info + ".tmp"
        with open(tmp_info, "w") as f:
            json.dump(info, f)
        os.replace(tmp_info, args.info)  # appears whole
        while all(m.alive() for m in cluster.members):
            time.sleep(0.5)
        print("cluster.py: a member exited:\n" + cluster.describe_failure(), file=sys.stderr)
        return 1
    except Interrupted:
        return 0
    except BenchError as e:
        print(f"cluster.py: {e}", file=sys.stderr)
        return 1
    finally:
        if cluster:
            cluster.close()


def cmd_target(args):
    with open(args.info) as f:
        info = json.load(f)
    system = info["system"]
    seen = set()
    for m in info["members"]:
        try:
            if system == "etcd":
                code, body = http_json("POST", m["url"] + "/v3/maintenance/status", {}, 2.0)
                seen.add(str((body or {}).get("leader", "0")) if code == 200 else "?")
            else:
                code, body = http_json("GET", m["url"] + "/v1/cluster/status?stale=true", None, 2.0)
                seen.add(str((body or {}).get("leader") or "") if code == 200 else "?")
        except OSError:
            seen.add("?")
    if len(seen) != 1:
        print(f"cluster.py: members disagree on the leader: {sorted(seen)}", file=sys.stderr)
        return 1
    lid = seen.pop()
    for m in info["members"]:
        if m["id"] == lid:
            print(m["url"], m["id"], m["name"])
            return 0
    print(f"cluster.py: no leader (members report '{lid}')", file=sys.stderr)
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up")
    up.add_argument("--system", required=True, choices=["etcd", "nightwatch"])
    up.add_argument("--info", required=True)
    up.add_argument("--nw-build", default=None)
    up.add_argument("--nw-args", default="", help="extra nwagent arguments (one string)")
    up.add_argument("--tmp-dir", default=None)
    tg = sub.add_parser("target")
    tg.add_argument("--info", required=True)
    ck = sub.add_parser("check")
    ck.add_argument("--system", required=True, choices=["etcd", "nightwatch"])
    ck.add_argument("--nw-build", default=None)
    mc = sub.add_parser("machine")
    mc.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.cmd == "up":
        return cmd_up(args)
    if args.cmd == "check":
        if args.system == "etcd":
            ok, why = bool(shutil.which("etcd")), "etcd not found: run scripts/install-deps.sh --bench"
        else:
            ok, why = nw_supports_cluster(args.nw_build)
        if not ok:
            print(why)
        return 0 if ok else 1
    if args.cmd == "target":
        return cmd_target(args)
    m = machine_line()
    if args.json:
        print(json.dumps(m))
        return 0
    print(machine_text(m))
    return 0


if __name__ == "__main__":
    sys.exit(main())
