"""A worker killed in the middle of a burst behind the web server."""

import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import apxtest
from apxtest import describe, media_type

pytestmark = pytest.mark.slow


def test_burst_survives_sigkill_of_a_worker(http, stack):
    def app_worker_pids():
        return apxtest.stack_app_pids(stack)

    # warm up so that processes exist
    for _ in range(5):
        assert http.get("/healthz").status_code == 200
    pids = app_worker_pids()
    assert pids, "no accupredix-fcgi process found (pgrep -f accupredix-fcgi)"

    total, kill_after = 200, 40
    done = 0
    lock = threading.Lock()
    reached = threading.Event()
    sessions = threading.local()

    def one(i):
        nonlocal done
        s = getattr(sessions, "s", None)
        if s is None:
            s = sessions.s = apxtest.new_session()
        try:
            r = s.get(stack["BASE_URL"] + "/healthz", timeout=10)
            out = ("ok", r)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            out = ("error", e)
        with lock:
            done += 1
            if done >= kill_after:
                reached.set()
        return out

    killed = []
    with ThreadPoolExecutor(max_workers=32) as ex:
        futures = [ex.submit(one, i) for i in range(total)]
        reached.wait(30)
        victims = sorted(app_worker_pids())
        if victims:
            victim = victims[len(victims) // 2]
            try:
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
            except ProcessLookupError:
                pass
        results = [f.result(timeout=60) for f in futures]

    assert killed, "could not kill any accupredix-fcgi process during the burst"
    errors = [repr(x) for kind, x in results if kind == "error"]
    assert not errors, "%d of %d requests failed at the client (hang/reset): %s" % (
        len(errors), total, errors[:5])
    bad = []
    for _, r in results:
        if r.status_code == 200:
            continue
        if r.status_code >= 500 and media_type(r) == "application/problem+json":
            try:
                body = json.loads(r.text)
                if isinstance(body, dict) and body.get("status") == r.status_code:
                    continue
            except ValueError:
                pass
        bad.append(describe(r))
    assert not bad, "%d answers neither 200 nor a problem+json 5xx; first:%s" % (len(bad), bad[0])

    # and the service is healthy again
    deadline = time.monotonic() + 10
    while True:
        r = http.get("/healthz")
        if r.status_code == 200:
            break
        assert time.monotonic() < deadline, "healthz not 200 after the kill%s" % describe(r)
        time.sleep(0.2)
    # a SIGKILLed process is gone once the kernel has torn it down, which
    # for a sanitizer build's large address space on a busy machine can
    # outlast the first healthy answer
    while apxtest.alive(killed[0]):
        assert time.monotonic() < deadline + 10, "killed worker %d still alive" % killed[0]
        time.sleep(0.1)
    assert app_worker_pids(), "no worker process left"
