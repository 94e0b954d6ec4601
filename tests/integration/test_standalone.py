"""accupredix-fcgi in standalone mode: supervisor, workers, signals, config checks.

Driven directly over FastCGI (fcgi_client), no web server.  The config is a
copy of the stack's (same PostgreSQL), changed per test.
"""

import os
import signal
import threading
import time

import pytest

import fcgi_client
from apxtest import (CORS_ORIGIN, REQUEST_ID_RE, alive, metric_sum, parse_prometheus,
                     SECURITY_HEADERS)
from standalone_app import render_config, wait_gone

pytestmark = pytest.mark.standalone

NEW_CONTACT = "mailto:security-reloaded@accupredix.test"


def contacts(resp):
    return [l.split(":", 1)[1].strip() for l in resp.body.decode().splitlines()
            if l.lower().startswith("contact:")]


def restarts_total(app, secret):
    r = app.request("GET", "/internal/metrics", headers={"X-Internal-Secret": secret})
    assert r.status == 200, r
    return metric_sum(parse_prometheus(r.body.decode())[0], "apx_worker_restarts_total")


def assert_refused(address):
    with pytest.raises((ConnectionRefusedError, FileNotFoundError)):
        fcgi_client.connect(address, timeout=2).close()


# --------------------------------------------------------------------- (a)

@pytest.mark.parametrize("listen", ["tcp", "unix"])
def test_standalone_answers_healthz(standalone, listen):
    app = standalone(listen=listen)
    r = app.request("GET", "/healthz")
    assert r.status == 200, r
    assert r.header("content-type", "").split(";")[0].strip() == "application/json", r
    assert r.json() == {"status": "ok"}, r
    assert REQUEST_ID_RE.match(r.header("x-request-id", "")), r
    for name, ok in SECURITY_HEADERS.items():
        assert r.header(name) is not None and ok(r.header(name)), (name, r)
    assert r.app_status == 0 and r.protocol_status == fcgi_client.FCGI_REQUEST_COMPLETE, r


def test_standalone_pidfile_and_worker_count(standalone):
    app = standalone(workers=2)
    assert int(app.pidfile.read_text().strip()) == app.pid
    kids = app.workers_pids()
    assert len(kids) == 2, "want 2 workers, children of %d are %r" % (app.pid, kids)


def test_standalone_reads_request_body(standalone, stack):
    app = standalone()
    secret = {"X-Internal-Secret": stack["INTERNAL_SECRET"]}
    r = app.request("PATCH", "/internal/settings", headers=secret, body=b"{broken",
                    content_type="application/json")
    assert r.status == 400, r
    assert r.json()["type"].endswith("/malformed-json"), r
    r = app.request("PATCH", "/internal/settings", headers=secret, body=b'{"nope": 1}',
                    content_type="application/json")
    assert r.status == 422 and r.json().get("field") == "nope", r


def test_standalone_cors_header(standalone):
    app = standalone()
    r = app.request("GET", "/healthz", headers={"Origin": CORS_ORIGIN})
    assert r.header("access-control-allow-origin") == CORS_ORIGIN, r


# --------------------------------------------------------------------- (b)

@pytest.mark.slow
def test_standalone_replaces_killed_worker(standalone, stack):
    app = standalone(workers=2)
    secret = stack["INTERNAL_SECRET"]
    before = restarts_total(app, secret)
    kids = app.workers_pids()
    victim = sorted(kids)[0]
    os.kill(victim, signal.SIGKILL)
    new = app.wait_new_workers([victim], timeout=5)
    assert victim not in new and len(new) == 2, new
    assert alive(app.pid), "supervisor died"
    for _ in range(10):
        assert app.request("GET", "/healthz").status == 200
    deadline = time.monotonic() + 20
    after = restarts_total(app, secret)
    while after <= before and time.monotonic() < deadline:
        for _ in range(4):
            app.request("GET", "/healthz")
        time.sleep(0.5)
        after = restarts_total(app, secret)
    assert after > before, "apx_worker_restarts_total stayed at %s after a worker was killed" % before


@pytest.mark.slow
def test_standalone_survives_all_workers_killed(standalone):
    app = standalone(workers=2)
    kids = app.workers_pids()
    for pid in kids:
        os.kill(pid, signal.SIGKILL)
    app.wait_new_workers(kids, timeout=10)
    assert app.request("GET", "/healthz").status == 200


# --------------------------------------------------------------------- (c)

def test_standalone_worker_max_requests_recycles(standalone):
    app = standalone(workers=2, set_keys={"worker.max_requests": "5"})
    first = app.workers_pids()
    statuses = [app.request("GET", "/healthz").status for _ in range(12)]
    assert statuses == [200] * 12, statuses
    # 12 requests over 2 workers: one served > 5 and must have been replaced
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and all(alive(p) for p in first):
        time.sleep(0.1)
    gone = [p for p in first if not alive(p)]
    assert gone, "no worker was replaced after 12 requests with worker.max_requests=5 (pids %r)" % first
    now = app.wait_new_workers(gone, timeout=5)
    assert now != first and len(now) == 2, (first, now)
    assert alive(app.pid)


def test_standalone_max_requests_zero_means_never(standalone):
    app = standalone(workers=1, set_keys={"worker.max_requests": "0"})
    first = app.workers_pids()
    for _ in range(15):
        assert app.request("GET", "/healthz").status == 200
    assert app.workers_pids() == first


# --------------------------------------------------------------------- (d)

@pytest.mark.slow
def test_standalone_sighup_reloads_config(standalone):
    app = standalone(workers=2)
    old_contacts = contacts(app.request("GET", "/.well-known/security.txt"))
    assert NEW_CONTACT not in old_contacts
    old_pids = app.workers_pids()

    # keep traffic flowing during the reload: workers are replaced one by one
    failures, stop = [], threading.Event()

    def traffic():
        while not stop.is_set():
            try:
                r = app.request("GET", "/healthz", timeout=5)
                if r.status != 200:
                    failures.append(r.status)
            except Exception as e:  # noqa: BLE001
                failures.append(repr(e))
            time.sleep(0.02)

    t = threading.Thread(target=traffic)
    t.start()
    try:
        app.config_path.write_text(render_config(app.config_path, {"security.contact": NEW_CONTACT}))
        app.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while NEW_CONTACT not in contacts(app.request("GET", "/.well-known/security.txt")):
            assert time.monotonic() < deadline, "security.txt never showed the reloaded contact"
            time.sleep(0.2)
        app.wait_new_workers(old_pids, timeout=10)
    finally:
        stop.set()
        t.join(10)
    assert alive(app.pid), "supervisor exited on SIGHUP"
    assert int(app.pidfile.read_text().strip()) == app.pid
    assert not (app.workers_pids() & old_pids), "old workers still running"
    for _ in range(6):
        assert contacts(app.request("GET", "/.well-known/security.txt")) == [NEW_CONTACT]
    assert not failures, "requests failed during the reload: %r" % failures[:10]


@pytest.mark.slow
def test_standalone_sighup_with_invalid_config_keeps_old(standalone):
    app = standalone(workers=2)
    old_contacts = contacts(app.request("GET", "/.well-known/security.txt"))
    bad = render_config(app.config_path, {"security.contact": NEW_CONTACT},
                        append_lines=["bogus.reload_key = 1"])
    app.config_path.write_text(bad)
    app.signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while "bogus.reload_key" not in app.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "bogus.reload_key" in app.stderr_text(), \
        "no error naming the bad key; stderr:\n%s" % app.stderr_text()[-2000:]
    time.sleep(1)
    assert alive(app.pid), "supervisor died on a bad reload"
    assert len(app.workers_pids()) == 2
    for _ in range(6):
        r = app.request("GET", "/.well-known/security.txt")
        assert r.status == 200 and contacts(r) == old_contacts, \
            "a rejected config was (partly) applied: %r" % contacts(r)


# --------------------------------------------------------------------- (e)

@pytest.mark.slow
@pytest.mark.parametrize("listen", ["tcp", "unix"])
def test_standalone_sigterm_drains_in_flight_request(standalone, listen):
    app = standalone(workers=2, listen=listen)
    workers = app.workers_pids()
    conn = fcgi_client.FcgiConnection(app.address, timeout=15)
    try:
        conn.begin()
        conn.send_params(fcgi_client.build_params("POST", "/healthz", body_len=100,
                                                  content_type="application/json"))
        conn.send_stdin(b"a" * 50)
        time.sleep(0.5)                      # a worker has accepted it by now
        app.signal(signal.SIGTERM)
        time.sleep(0.5)
        try:
            conn.send_stdin(b"a" * 50)
            conn.end_stdin()
        except OSError:
            pass                             # the app may have answered early
        resp = conn.read_response(timeout=10)
    finally:
        conn.close()
    assert resp.protocol_status == fcgi_client.FCGI_REQUEST_COMPLETE, resp
    assert resp.status == 405, "in-flight request not answered normally: %r" % resp
    try:
        code = app.proc.wait(10)
    except Exception:
        raise AssertionError("supervisor did not exit within 10 s of SIGTERM; stderr:\n%s"
                             % app.stderr_text()[-2000:])
    assert code == 0, "exit status %s; stderr:\n%s" % (code, app.stderr_text()[-2000:])
    for pid in workers:
        assert wait_gone(pid, 5), "worker %d outlived the supervisor" % pid
    assert_refused(app.address)


def test_standalone_sigterm_idle_exits_zero(standalone):
    app = standalone(workers=2)
    workers = app.workers_pids()
    t = time.monotonic()
    app.signal(signal.SIGTERM)
    assert app.proc.wait(10) == 0
    assert time.monotonic() - t < 5, "idle supervisor took long to stop"
    for pid in workers:
        assert wait_gone(pid, 5), "worker %d left behind" % pid
    assert_refused(app.address)


# ----------------------------------------------------- kept connections
# Apache mod_proxy_fcgi with enablereuse=on keeps its FastCGI connections
# (FCGI_KEEP_CONN) and sends the next request on the same one; a leaving
# worker hands its connection to its successor, so the server never sees
# it close (README "Apache + mod_proxy_fcgi").

def test_standalone_kept_connection_serves_many(standalone):
    app = standalone(workers=2)
    with fcgi_client.FcgiConnection(app.address) as c:
        ids = set()
        for _ in range(20):
            r = c.exchange("GET", "/healthz")
            assert r.status == 200, r
            ids.add(r.header("x-request-id"))
        assert len(ids) == 20


def test_standalone_kept_connection_unread_stdin(standalone, stack):
    """What the app did not read of a request's STDIN (the empty record
    that ends it, arriving late; a body it refused) is not taken for the
    next request on the kept connection."""
    app = standalone(workers=1)
    with fcgi_client.FcgiConnection(app.address) as c:
        for _ in range(3):
            r = c.exchange("GET", "/healthz", stdin_delay=0.05)
            assert r.status == 200, r
        # refused before the body is read: declared past the cap
        big = b"x" * (int(stack["MAX_BODY_BYTES"]) + 10)
        r = c.exchange("POST", "/api/v1/auth/login", body=big,
                       content_type="application/json")
        assert r.status == 413, r
        r = c.exchange("GET", "/healthz", stdin_delay=0.05)
        assert r.status == 200, r


def test_standalone_kept_connection_survives_recycling(standalone):
    app = standalone(workers=1, set_keys={"worker.max_requests": "3"})
    first = app.workers_pids()
    with fcgi_client.FcgiConnection(app.address) as c:
        # back to back, as a busy server sends them: request 4 may arrive
        # while worker 1 is still leaving
        statuses = [c.exchange("GET", "/healthz").status for _ in range(10)]
    assert statuses == [200] * 10, statuses
    assert wait_gone(next(iter(first)), 5), "the worker was not recycled after 3 requests"
    assert "cannot hand" not in app.stderr_text()


def test_standalone_kept_connection_survives_reload(standalone):
    app = standalone(workers=1)
    first = app.workers_pids()
    with fcgi_client.FcgiConnection(app.address) as c:
        assert c.exchange("GET", "/healthz").status == 200
        app.signal(signal.SIGHUP)
        assert wait_gone(next(iter(first)), 10), "the worker was not replaced on SIGHUP"
        for _ in range(3):
            r = c.exchange("GET", "/healthz")
            assert r.status == 200, r
    assert app.workers_pids() != first


def test_standalone_sigterm_with_kept_connection_exits_fast(standalone):
    app = standalone(workers=2)
    with fcgi_client.FcgiConnection(app.address) as c:
        assert c.exchange("GET", "/healthz").status == 200
        workers = app.workers_pids()
        t = time.monotonic()
        app.signal(signal.SIGTERM)
        assert app.proc.wait(10) == 0
        assert time.monotonic() - t < 5, "an idle kept connection held the drain"
        for pid in workers:
            assert wait_gone(pid, 5), "worker %d left behind" % pid
        c.sock.settimeout(5)
        assert c.sock.recv(1) == b"", "the kept connection was not closed"


# --------------------------------------------------------------------- (f)

def _refuses(standalone, **kw):
    app = standalone(ready=False, **kw)
    code, err = app.run_to_exit(10)
    assert code != 0, "exit status 0 for a bad config; stderr:\n%s" % err
    return app, err


def test_standalone_unknown_key_refuses_start(standalone):
    app, err = _refuses(standalone, append_lines=["", "bogus.startup_key = 1"])
    lineno = len(app.config_path.read_text().splitlines())
    assert "%s:%d" % (app.config_path, lineno) in err, \
        "stderr does not name %s:%d:\n%s" % (app.config_path, lineno, err)
    assert "bogus.startup_key" in err, err


def test_standalone_bad_value_refuses_start(standalone):
    app, err = _refuses(standalone, set_keys={"worker.max_requests": "lots"})
    lines = app.config_path.read_text().splitlines()
    lineno = next(i for i, l in enumerate(lines, 1) if l.startswith("worker.max_requests"))
    assert "%s:%d" % (app.config_path, lineno) in err, err
    assert "worker.max_requests" in err, err


def test_standalone_expired_security_txt_refuses_start(standalone):
    app, err = _refuses(standalone, set_keys={"security.expires": "2020-01-01T00:00:00Z"})
    assert "security.expires" in err, err


def test_standalone_missing_contact_refuses_start(standalone):
    app, err = _refuses(standalone, remove_keys=("security.contact",))
    assert "security.contact" in err, err


def test_standalone_refusal_does_not_print_secrets(standalone, stack):
    app, err = _refuses(standalone, append_lines=["bogus.key2 = 1"])
    assert stack["INTERNAL_SECRET"] not in err
    from apxtest import config_secrets
    for s in config_secrets(stack):
        assert s not in err, "a secret is printed in the start-up error"


# --------------------------------------------------------------------- no secret

def test_standalone_without_internal_secret_all_internal_404(standalone, stack):
    app = standalone(remove_keys=("internal.secret",))
    ref = app.request("GET", "/definitely/not/a/route")
    assert ref.status == 404, ref
    ref_body = ref.json()
    ref_body.pop("request_id", None)
    for path in ("/internal/metrics", "/internal/settings", "/internal/", "/internal/x"):
        for hdr in ({}, {"X-Internal-Secret": stack["INTERNAL_SECRET"]}, {"X-Internal-Secret": ""},
                    {"X-Internal-Secret": "anything"}):
            for method in ("GET", "PATCH"):
                # a body that changes nothing even if the guard were broken
                r = app.request(method, path, headers=hdr, body=b'{"no_such_setting": 1}',
                                content_type="application/json")
                assert r.status == 404, (method, path, hdr, r)
                body = r.json()
                body.pop("request_id", None)
                assert body == ref_body, (method, path, body, ref_body)
                assert r.header("content-type") == ref.header("content-type")
