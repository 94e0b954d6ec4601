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

Prints one RESULT line per figure. Needs wrk and strace; runs as root.
Only the stdlib. usage: bench/profile.py STACK_ENV [--seconds S]
[--requests N] [--token-file F] [--peer-token-file F]
"""

import argparse
import os
import re
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


def classes(st, app_bin=None):
    """{class: [pids]} of this stack; the app is APP_BIN (or the hello
    responder's binary)."""
    app_bin = app_bin or st.get("APP_BIN") or ""
    web = [p for p in pids_all() if os.path.basename(exe_of(p)) in ("apache2", "lighttpd")
           and st["STACK_DIR"] in open("/proc/%d/cmdline" % p).read().replace("\0", " ")]
    web_all = set()
    for w in web:
        web_all.update(descendants(w))
    app = [p for p in web_all if app_bin and exe_of(p).startswith(app_bin.split(" (")[0])]
    if not app:
        app = [p for p in web_all if os.path.basename(exe_of(p)) ==
               os.path.basename(app_bin)]
    server = [p for p in web_all if p not in app and
              os.path.basename(exe_of(p)) in ("apache2", "lighttpd")]
    with open(os.path.join(st["PGDATA"], "postmaster.pid")) as f:
        pm = int(f.readline())
    pg = descendants(pm)
    return {"web server": server, "app workers": app, "postgres (control)": pg}


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
    before = {k: sum(cpu_ticks(p) for p in v) for k, v in cl.items()}
    n = wrk(url, args.seconds, lua)
    after = {k: sum(cpu_ticks(p) for p in v) for k, v in classes(st, app_bin).items()}
    for k in cl:
        us = (after[k] - before[k]) * 1e6 / TICK / max(n, 1)
        print("RESULT cpu %s %s: %.0f us per request (%d requests, wrk -c4)" % (name, k, us, n))

    # system calls and PostgreSQL round trips: requests one at a time
    app = classes(st, app_bin)["app workers"]
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
