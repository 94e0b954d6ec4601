"""Configuration honesty (issue 10, point 4), through the running stack:
problem `type` URLs from the configuration (the app's answers and the web
server's own error pages), security headers on the web server's own
errors, and the max_connections warning at start / --check-config."""

import subprocess
from pathlib import Path

import pytest

import rawhttp
from apxtest import (SECURITY_HEADERS, assert_problem, config_dict, describe,
                     media_type)

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def base(stack):
    conf = config_dict(stack["APX_CONFIG"])
    want = conf.get("http.problem_type_base") or conf["http.public_origin"] + "/problems/"
    assert "accupredix.test" not in want, "the stack should not use the old built-in host"
    return want


def test_problem_type_base_comes_from_the_config(http, stack, base):
    r = http.get("/no/such/path")
    body = assert_problem(r, 404, stack=stack)
    assert body["type"] == base + "not-found", describe(r)


def test_web_server_error_page_carries_the_config_base_and_headers(stack, server, base):
    # over the web server's own limit: its 413, not the app's
    r = rawhttp.send(stack["BASE_URL"], "PATCH", "/internal/settings",
                     {"Content-Type": "application/json"}, 2 * MiB, timeout=60)
    assert r.status_code == 413, describe(r)
    assert media_type(r) == "application/problem+json", describe(r)
    body = r.json()
    assert body["type"] == base + "body-too-large", describe(r)
    assert "@PROBLEM_TYPE_BASE@" not in r.text
    bad = ["%s=%r" % (k, r.headers.get(k)) for k, ok in SECURITY_HEADERS.items()
           if r.headers.get(k) is None or not ok(r.headers[k])]
    assert not bad, "%s's own 413 lacks security headers %s%s" % (server, bad, describe(r))


def test_rendered_error_pages_on_disk(stack, base):
    errors = sorted(Path(stack["APX_CONFIG"]).parent.glob("www/errors/*.json"))
    if not errors:     # staged runtime dir: the config is a copy
        pytest.skip("error pages not next to the config")
    for f in errors:
        text = f.read_text()
        assert base in text and "accupredix.test" not in text, f


def _check_config(stack, processes):
    fcgi = Path(stack["BUILD_DIR"]) / "src" / "accupredix-fcgi"
    env = {"PATH": "/usr/bin:/bin", "APX_CAPACITY_PROCESSES": str(processes)}
    return subprocess.run([str(fcgi), "--config", stack["APX_CONFIG"], "--check-config"],
                          env=env, capture_output=True, text=True, timeout=60)


def test_max_connections_warning(stack):
    r = _check_config(stack, 1000)
    assert r.returncode == 0, r.stderr
    warn = [l for l in r.stderr.splitlines() if "max_connections" in l and "warn" in l]
    # the control server and each region's: 1000 x (1 + 8) = 9000 > 200 - 3
    assert any("control-plane PostgreSQL server" in l for l in warn), r.stderr
    assert any("region eu" in l for l in warn), r.stderr
    assert all("max_connections = 200" in l and "may open 9000" in l for l in warn), r.stderr
    ok = _check_config(stack, 8)
    assert ok.returncode == 0, ok.stderr
    assert "max_connections" not in ok.stderr, ok.stderr
