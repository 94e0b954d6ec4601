#!/usr/bin/env python3
"""bench/profile.py STACK_ENV: where a request's time goes (issue 18, bench/
README.md "Where the time goes"), for GET /healthz, GET /api/v1/me and, when
the stack has them, GET /__hello (bench/hello.c) and GET /__peer (the JWT
peer), behind the stack's web server:

  cpu     CPU time (user + system, from /proc/PID/stat) per request of the
          web server's processes, the app's worker processes and the control
          cluster's PostgreSQL processes, over a wrk run of --seconds
  calls   system calls per request of the app's workers (strace -c -f on
          every worker while --requests requests go one at a time)
  pg      round trips to PostgreSQL per request: libpq sends each query
          with one send() (sendto), which nothing else in a worker uses
  idle    the share of the machine's cores left idle during the wrk run
          (/proc/stat), and wrk's own CPU per request: a request handed
          from process to process can leave cores waiting for a wake-up
          even with a full queue of connections

Under mod_proxy_fcgi (stack.env FASTCGI=proxy: `bench/run --server
apache-proxy`, `scripts/stack start --fastcgi proxy`) the app and hello-fcgi
run on their own, not under the web server: they are found by binary and
by the stack's APX_CONFIG in their environment; the app's CPU then includes
its supervisor's and that of the workers it replaced during the run
(worker.max_requests: reaped, their time is in the supervisor's cutime);
its system calls are the workers' only.

Prints one RESULT line per figure. Needs wrk and strace; runs as root.
Only the stdlib. usage: bench/profile.py STACK_ENV [--seconds S]
[--requests N] [--connections C] [--token-file F] [--peer-token-file F]
"""

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request

# The stack.env reader of the integration tests (stdlib only).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from apxtest import parse_env_file  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def pids_all():
    for d in os.listdir("/proc"):
        if d.isdigit():
            yield int(d)


def exe_of(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return ""


def ppid_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except OSError:
        return -1


def cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])      # utime + stime
    except OSError:
        return 0


def reaped_ticks(pid):
    """CPU ticks of PID's children that ended and were reaped (cutime +
    cstime): where a worker the app's supervisor replaced leaves its time."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[13]) + int(fields[14])
    except OSError:
        return 0


def class_ticks(st, cl):
    """{class: CPU ticks} of classes(); under FASTCGI=proxy the app's count
    includes what its supervisor's replaced workers used (they are gone by
    the second reading, their ticks are in the supervisor's cutime)."""
    out = {k: sum(cpu_ticks(p) for p in v) for k, v in cl.items()}
    sup = supervisor_pid(st)
    if sup and sup in cl.get("app workers", []):
        out["app workers"] += reaped_ticks(sup)
    return out


def descendants(root):
    kids = {}
    for p in pids_all():
        kids.setdefault(ppid_of(p), []).append(p)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def cmdline_of(pid):
    try:
        with open("/proc/%d/cmdline" % pid) as f:
            return f.read().replace("\0", " ")
    except OSError:
        return ""


def has_env(pid, entry):
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            return entry.encode() in f.read().split(b"\0")
    except OSError:
        return False


def supervisor_pid(st):
    """The app's supervisor under mod_proxy_fcgi (stack.env FASTCGI=proxy),
    from APP_SUPERVISOR_PIDFILE; None otherwise."""
    if st.get("FASTCGI") != "proxy" or not st.get("APP_SUPERVISOR_PIDFILE"):
        return None
    try:
        with open(st["APP_SUPERVISOR_PIDFILE"]) as f:
            return int(f.readline())
    except (OSError, ValueError):
        return None


def classes(st, app_bin=None):
    """{class: [pids]} of this stack; the app is APP_BIN (or the hello
    responder's binary).  Under mod_fcgid and lighttpd the programs are the
    web server's descendants; under mod_proxy_fcgi (FASTCGI=proxy) they run
    on their own: the processes of that binary whose environment holds the
    stack's APX_CONFIG (the app's supervisor among them: its CPU counts)."""
    app_bin = app_bin or st.get("APP_BIN") or ""
    app_exe = app_bin.split(" (")[0]
    web = [p for p in pids_all() if os.path.basename(exe_of(p)) in ("apache2", "lighttpd")
           and st["STACK_DIR"] in cmdline_of(p)]
    web_all = set()
    for w in web:
        web_all.update(descendants(w))
    app = [p for p in web_all if app_bin and exe_of(p).startswith(app_exe)]
    if not app:
        app = [p for p in web_all if os.path.basename(exe_of(p)) ==
               os.path.basename(app_bin)]
    if st.get("FASTCGI") == "proxy" and app_bin:
        env = "APX_CONFIG=" + st.get("APX_CONFIG", "")
        app = sorted(set(app) | {p for p in pids_all()
                                 if exe_of(p).split(" (")[0] == app_exe and has_env(p, env)})
    server = [p for p in web_all if p not in app and
              os.path.basename(exe_of(p)) in ("apache2", "lighttpd")]
    with open(os.path.join(st["PGDATA"], "postmaster.pid")) as f:
        pm = int(f.readline())
    pg = descendants(pm)
    return {"web server": server, "app workers": app, "postgres (control)": pg}


def idle_ticks():
    """Idle + iowait ticks of all cores (/proc/stat's first line)."""
    with open("/proc/stat") as f:
        v = f.readline().split()[1:]
    return int(v[3]) + int(v[4])


def child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def wrk(url, seconds, lua, conns=4):
    args = ["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds]
    if lua:
        args += ["-s", lua]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    m = re.search(r"(\d+) requests in", out)
    return int(m.group(1))


def lua_for(token, d):
    if not token:
        return None
    path = os.path.join(d, "h%d.lua" % abs(hash(token)))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write('wrk.headers["Authorization"] = "Bearer %s"\n' % token)
    return path


def get(url, token, n):
    hdr = {"Authorization": "Bearer " + token} if token else {}
    for _ in range(n):
        with urllib.request.urlopen(urllib.request.Request(url, headers=hdr)) as r:
            r.read()


def measure(st, name, url, token, args, tmp, app_bin=None):
    lua = lua_for(token, tmp)
    get(url, token, 50)
    cl = classes(st, app_bin)
    before = class_ticks(st, cl)
    idle0, wrk0, t0 = idle_ticks(), child_cpu(), time.monotonic()
    n = wrk(url, args.seconds, lua, args.connections)
    idle1, wrk1, t1 = idle_ticks(), child_cpu(), time.monotonic()
    after = class_ticks(st, classes(st, app_bin))
    for k in cl:
        us = (after[k] - before[k]) * 1e6 / TICK / max(n, 1)
        print("RESULT cpu %s %s: %.0f us per request (%d requests, wrk -c%d)" % (
            name, k, us, n, args.connections))
    print("RESULT cpu %s wrk: %.0f us per request" % (name, (wrk1 - wrk0) * 1e6 / max(n, 1)))
    cores = os.cpu_count() or 1
    print("RESULT idle %s: %.0f %% of the %d cores idle during the run (wrk -c%d)" % (
        name, 100.0 * (idle1 - idle0) / TICK / ((t1 - t0) * cores), cores, args.connections))

    # system calls and PostgreSQL round trips: requests one at a time, in
    # the workers only (not the proxy mode's supervisor, which serves none)
    sup = supervisor_pid(st)
    app = [p for p in classes(st, app_bin)["app workers"] if p != sup]
    out = os.path.join(tmp, "strace-%s" % name)
    tr = subprocess.Popen(["strace", "-f", "-c", "-o", out] +
                          [a for p in app for a in ("-p", str(p))],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    get(url, token, args.requests)
    time.sleep(0.5)
    tr.terminate()
    tr.wait(10)
    total, calls = 0, {}
    for line in open(out):
        f = line.split()
        if len(f) >= 5 and f[-1] not in ("syscall", "total") and f[3].isdigit():
            calls[f[-1]] = int(f[3])
            total += int(f[3])
    top = sorted(calls.items(), key=lambda kv: -kv[1])[:6]
    print("RESULT calls %s: %.1f system calls per request in the app (%s)" % (
        name, total / args.requests,
        ", ".join("%s %.1f" % (k, v / args.requests) for k, v in top)))
    print("RESULT pg %s: %.2f round trips to PostgreSQL per request (sendto)" % (
        name, calls.get("sendto", 0) / args.requests))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("stack_env")
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--token-file")
    ap.add_argument("--peer-token-file")
    args = ap.parse_args()
    st = parse_env_file(args.stack_env)
    base = st["BASE_URL"].rstrip("/")
    tok = open(args.token_file).read().strip() if args.token_file else None
    peer = open(args.peer_token_file).read().strip() if args.peer_token_file else None
    with tempfile.TemporaryDirectory() as tmp:
        if st.get("HELLO_BIN"):
            measure(st, "hello", base + "/__hello", None, args, tmp, st["HELLO_BIN"])
        measure(st, "healthz", base + "/healthz", None, args, tmp)
        if tok:
            measure(st, "me", base + "/api/v1/me", tok, args, tmp)
        if peer:
            measure(st, "peer", base + "/__peer", peer, args, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
