"""Fixtures for the AccuPredix integration tests.

Everything is driven by $APX_STACK_ENV, the stack.env written by
`scripts/stack start DIR`.  Without it every test is skipped.
"""

import os
import uuid
from pathlib import Path

import pytest

import apxtest
from standalone_app import Standalone, render_config

NO_STACK_REASON = ("APX_STACK_ENV is not set: start a stack with `scripts/stack start DIR` and "
                   "run with APX_STACK_ENV=DIR/stack.env")


def pytest_collection_modifyitems(config, items):
    if apxtest.stack_env() is None:
        skip = pytest.mark.skip(reason=NO_STACK_REASON)
        for item in items:
            item.add_marker(skip)
        return
    # log audits must see everything the other tests did
    first = [i for i in items if i.get_closest_marker("run_last") is None]
    last = [i for i in items if i.get_closest_marker("run_last") is not None]
    items[:] = first + last


def pytest_report_header(config):
    st = apxtest.stack_env()
    if st is None:
        return "apx stack: none (" + NO_STACK_REASON + ")"
    return "apx stack: SERVER=%s BASE_URL=%s STACK_DIR=%s BUILD_DIR=%s" % (
        st.get("SERVER"), st.get("BASE_URL"), st.get("STACK_DIR"), st.get("BUILD_DIR"))


@pytest.fixture(scope="session")
def stack():
    st = apxtest.stack_env()
    if st is None:
        pytest.skip(NO_STACK_REASON)
    missing = [k for k in ("BASE_URL", "SERVER", "STACK_DIR", "BUILD_DIR", "APX_CONFIG",
                           "INTERNAL_SECRET", "ERROR_LOG") if not st.get(k)]
    assert not missing, "stack.env (%s) lacks %s" % (os.environ["APX_STACK_ENV"], missing)
    return st


class Client:
    """requests.Session bound to BASE_URL with a default timeout."""

    def __init__(self, base_url):
        self.base = base_url.rstrip("/")
        self.session = apxtest.new_session()

    def url(self, path):
        return self.base + path

    def request(self, method, path, **kw):
        kw.setdefault("timeout", apxtest.HTTP_TIMEOUT)
        kw.setdefault("allow_redirects", False)
        return self.session.request(method, self.url(path), **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def head(self, path, **kw):
        return self.request("HEAD", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def options(self, path, **kw):
        return self.request("OPTIONS", path, **kw)

    def close(self):
        self.session.close()


@pytest.fixture(scope="session")
def http(stack):
    c = Client(stack["BASE_URL"])
    yield c
    c.close()


@pytest.fixture(scope="session")
def server(stack):
    return stack["SERVER"]


@pytest.fixture(scope="session")
def secret(stack):
    return stack["INTERNAL_SECRET"]


@pytest.fixture(scope="session")
def internal(secret):
    """Headers that pass the /internal/* guard."""
    return {"X-Internal-Secret": secret}


@pytest.fixture
def rid():
    """A fresh, valid client request id (easy to find in logs)."""
    return "t-" + uuid.uuid4().hex


@pytest.fixture(scope="session")
def app_binary(stack):
    path = Path(stack["BUILD_DIR"]) / "src" / "accupredix-fcgi"
    assert path.exists() and os.access(path, os.X_OK), "%s not built" % path
    return path


@pytest.fixture
def standalone(stack, app_binary, tmp_path):
    """Factory: standalone(set_keys=..., remove_keys=..., workers=2, listen='tcp', ready=True).

    The config is a copy of the stack config; internal.secret is set to the
    stack's secret unless removed.  Every supervisor started is killed (with its
    process group and every worker seen) at teardown.
    """
    started = []

    def start(set_keys=None, remove_keys=(), append_lines=(), workers=2, listen="tcp",
              ready=True, name=None):
        keys = dict(set_keys or {})
        conf = apxtest.config_dict(stack["APX_CONFIG"])
        if "internal.secret" not in conf and "internal.secret" not in remove_keys:
            keys.setdefault("internal.secret", stack["INTERNAL_SECRET"])
        text = render_config(stack["APX_CONFIG"], keys, remove_keys, append_lines)
        workdir = tmp_path / (name or "sa%d" % len(started))
        app = Standalone(app_binary, workdir, text, workers=workers, listen=listen)
        started.append(app)
        app.start()
        if ready:
            app.wait_ready()
        return app

    yield start
    for app in started:
        app.stop(timeout=5)


@pytest.fixture
def refuse_audit(stack):
    """refuse(action): make every audit row of ACTION fail to insert (a
    trigger installed for one test, as the database superuser)."""
    from orghelp import psql
    name = "apx_test_refuse_%s" % uuid.uuid4().hex[:12]
    installed = []

    def refuse(action):
        psql(stack, """
            CREATE FUNCTION %(n)s() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.action = '%(a)s' THEN
                    RAISE EXCEPTION 'audit store refuses (test)';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER %(n)s BEFORE INSERT ON audit_log
                FOR EACH ROW EXECUTE FUNCTION %(n)s();""" % {"n": name, "a": action})
        installed.append(name)

    yield refuse
    for n in installed:
        psql(stack, "DROP TRIGGER IF EXISTS %s ON audit_log; DROP FUNCTION IF EXISTS %s();"
             % (n, n))


@pytest.fixture(scope="module")
def routes(stack):
    """The route table of the stack's binary (`accupredix-fcgi --routes`)."""
    from orghelp import RouteTableError, route_table
    try:
        return route_table(stack)
    except RouteTableError as e:
        pytest.fail(str(e))
