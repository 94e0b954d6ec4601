"""PostgreSQL stopped and started again under a running web server.

Every test stops the stack's PostgreSQL with `scripts/stack pg-stop` and
always starts it again (postgres_stopped() uses try/finally).
"""

import re
import time
from email.utils import parsedate_to_datetime

import pytest

from apxtest import assert_problem, describe, metric_sum, parse_prometheus, postgres_stopped

pytestmark = [pytest.mark.pgstop, pytest.mark.slow]


def wait_status(http, path, status, headers=None, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        r = http.get(path, headers=headers or {})
        if r.status_code == status or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def wait_recovered(http, path, headers=None, streak=10, timeout=30):
    """After the restart: `streak` consecutive 200s (every worker reconnected)."""
    deadline = time.monotonic() + timeout
    good = 0
    history = []
    while time.monotonic() < deadline:
        r = http.get(path, headers=headers or {})
        history.append(r.status_code)
        good = good + 1 if r.status_code == 200 else 0
        if good >= streak:
            return r
        time.sleep(0.1)
    raise AssertionError("%s did not recover within %ss after PostgreSQL came back; statuses: %r"
                         % (path, timeout, history[-40:]))


def assert_retry_after(r):
    v = r.headers.get("Retry-After")
    assert v, "503 without Retry-After%s" % describe(r)
    if re.fullmatch(r"\d+", v):
        assert 0 < int(v) <= 3600, "Retry-After %r" % v
    else:
        parsedate_to_datetime(v)  # HTTP-date


def test_readyz_503_while_db_down_then_recovers(http, stack):
    assert http.get("/readyz").status_code == 200
    with postgres_stopped(stack):
        r = wait_status(http, "/readyz", 503)
        assert_problem(r, 503, slug="database-unavailable", stack=stack)
        assert_retry_after(r)
        # every worker that is asked says so, quickly
        for _ in range(5):
            t = time.monotonic()
            r = http.get("/readyz")
            assert time.monotonic() - t < 5, "readyz took too long with the DB down"
            assert_problem(r, 503, slug="database-unavailable", stack=stack)
    r = wait_recovered(http, "/readyz")
    assert r.json() == {"status": "ready", "database": "ok", "migrations": "current"}, describe(r)


def test_healthz_stays_ok_while_db_down(http, stack):
    with postgres_stopped(stack):
        wait_status(http, "/readyz", 503)
        for _ in range(10):
            r = http.get("/healthz")
            assert r.status_code == 200 and r.json() == {"status": "ok"}, describe(r)
    wait_recovered(http, "/readyz")


def test_settings_503_while_db_down_then_recovers(http, stack, internal):
    before = http.get("/internal/settings", headers=internal)
    assert before.status_code == 200, describe(before)
    with postgres_stopped(stack):
        r = wait_status(http, "/internal/settings", 503, headers=internal)
        assert_problem(r, 503, slug="database-unavailable", stack=stack)
        assert_retry_after(r)
        r = http.patch("/internal/settings", headers=dict(internal, **{"Content-Type": "application/json"}),
                       data=b'{"access_token_lifetime": 601}')
        assert_problem(r, 503, slug="database-unavailable", stack=stack)
    r = wait_recovered(http, "/internal/settings", headers=internal)
    assert r.json() == before.json(), "settings differ after the outage:%s" % describe(r)


def test_db_errors_are_counted(http, stack, internal):
    def db_errors():
        r = http.get("/internal/metrics", headers=internal)
        assert r.status_code == 200, describe(r)
        return metric_sum(parse_prometheus(r.text)[0], "apx_db_errors_total")

    before = db_errors()
    with postgres_stopped(stack):
        for _ in range(5):
            http.get("/readyz")
    wait_recovered(http, "/readyz")
    deadline = time.monotonic() + 20
    after = db_errors()
    while after <= before and time.monotonic() < deadline:
        time.sleep(0.5)
        http.get("/readyz")
        after = db_errors()
    assert after > before, "apx_db_errors_total stayed at %s through a DB outage" % before
