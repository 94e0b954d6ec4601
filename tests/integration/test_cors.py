"""CORS for the configured frontend origin only."""

import pytest

from apxtest import CORS_ORIGIN, assert_problem, config_dict, describe, header_tokens

EVIL = "https://evil.example"


@pytest.fixture(scope="module", autouse=True)
def origin_is_configured(stack):
    origins = config_dict(stack["APX_CONFIG"]).get("http.cors_origins", "").split()
    assert CORS_ORIGIN in origins, \
        "stack config does not list %s in http.cors_origins (%r): stack script issue" % (CORS_ORIGIN, origins)


def vary_tokens(r):
    return {t.strip().lower() for t in r.headers.get("Vary", "").split(",")}


@pytest.mark.smoke
def test_cors_allowed_origin_simple_request(http):
    r = http.get("/healthz", headers={"Origin": CORS_ORIGIN})
    assert r.status_code == 200, describe(r)
    assert r.headers.get("Access-Control-Allow-Origin") == CORS_ORIGIN, describe(r)
    assert r.headers.get("Access-Control-Allow-Credentials") == "true", describe(r)
    assert "origin" in vary_tokens(r), describe(r)


def test_cors_allowed_origin_on_error_answer(http):
    r = http.get("/no/such/path", headers={"Origin": CORS_ORIGIN})
    assert r.status_code == 404, describe(r)
    assert r.headers.get("Access-Control-Allow-Origin") == CORS_ORIGIN, describe(r)


@pytest.mark.smoke
@pytest.mark.parametrize("origin", [
    EVIL,
    "null",
    "http://app.example.test",                 # wrong scheme
    "https://app.example.test:8443",           # wrong port
    "https://app.example.test.evil.example",   # suffix attack
    "https://evilapp.example.test",
    "https://sub.app.example.test",
    "https://app.example.tes",                 # prefix of the allowed origin
    "https://app.example.test/",
    "https://app.example.test https://evil.example",
])
def test_cors_foreign_origin_gets_no_acao(http, origin):
    r = http.get("/healthz", headers={"Origin": origin})
    assert r.status_code == 200, describe(r)
    assert "Access-Control-Allow-Origin" not in r.headers, describe(r)
    assert "Access-Control-Allow-Credentials" not in r.headers, describe(r)


@pytest.mark.smoke
def test_cors_no_origin_no_acao(http):
    r = http.get("/healthz")
    assert "Access-Control-Allow-Origin" not in r.headers, describe(r)


def _preflight(http, origin, method="GET", path="/healthz",
               req_headers="content-type, authorization, x-csrf-token"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if req_headers:
        h["Access-Control-Request-Headers"] = req_headers
    return http.options(path, headers=h)


def _assert_preflight_ok(r, route_methods):
    assert r.status_code == 204, describe(r)
    assert r.content == b"", describe(r)
    assert r.headers.get("Access-Control-Allow-Origin") == CORS_ORIGIN, describe(r)
    assert r.headers.get("Access-Control-Allow-Credentials") == "true", describe(r)
    methods = header_tokens(r.headers.get("Access-Control-Allow-Methods"))
    assert methods == set(route_methods), \
        "Allow-Methods %r, the route has %r%s" % (methods, route_methods, describe(r))
    allowed = {t.lower() for t in header_tokens(r.headers.get("Access-Control-Allow-Headers"))}
    assert {"content-type", "authorization", "x-csrf-token"} <= allowed, describe(r)
    max_age = r.headers.get("Access-Control-Max-Age", "")
    assert max_age.isdigit() and int(max_age) > 0, describe(r)
    assert "origin" in vary_tokens(r), describe(r)


@pytest.mark.smoke
def test_cors_preflight_allowed_origin(http):
    _assert_preflight_ok(_preflight(http, CORS_ORIGIN), {"GET", "HEAD"})


@pytest.mark.smoke
def test_cors_preflight_internal_is_404_without_cors(http, stack):
    # /internal/* is for operators, never for browsers: a preflight cannot carry
    # X-Internal-Secret, so the guard answers first with the unknown-path 404
    # and no CORS header grants anything.
    r = _preflight(http, CORS_ORIGIN, method="PATCH", path="/internal/settings")
    assert_problem(r, 404, stack=stack)
    assert "Access-Control-Allow-Origin" not in r.headers, describe(r)
    assert "Access-Control-Allow-Methods" not in r.headers, describe(r)


@pytest.mark.smoke
def test_cors_preflight_unknown_path_is_not_204(http):
    r = _preflight(http, CORS_ORIGIN, path="/no/such/path")
    assert r.status_code == 404, describe(r)


@pytest.mark.smoke
@pytest.mark.parametrize("origin", [EVIL, "null", "https://app.example.test.evil.example"])
def test_cors_preflight_foreign_origin_403(http, stack, origin):
    r = _preflight(http, origin)
    assert_problem(r, 403, stack=stack)
    assert "Access-Control-Allow-Origin" not in r.headers, describe(r)
    assert "Access-Control-Allow-Methods" not in r.headers, describe(r)
