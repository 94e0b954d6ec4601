"""/healthz, /readyz, unknown paths and wrong methods."""

import pytest

from apxtest import assert_problem, describe, header_tokens, media_type


@pytest.mark.smoke
def test_healthz_get_ok(http):
    r = http.get("/healthz")
    assert r.status_code == 200, describe(r)
    assert media_type(r) == "application/json", describe(r)
    assert r.json() == {"status": "ok"}, describe(r)


@pytest.mark.smoke
def test_healthz_head_ok_without_body(http):
    r = http.head("/healthz")
    assert r.status_code == 200, describe(r)
    assert r.content == b"", describe(r)
    assert media_type(r) == "application/json", describe(r)


@pytest.mark.smoke
def test_healthz_ignores_query_string(http):
    r = http.get("/healthz", params={"x": "1"})
    assert r.status_code == 200 and r.json() == {"status": "ok"}, describe(r)


@pytest.mark.smoke
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_healthz_other_methods_405_with_allow(http, stack, method):
    r = http.request(method, "/healthz", data=b"{}", headers={"Content-Type": "application/json"})
    assert_problem(r, 405, stack=stack)
    assert header_tokens(r.headers.get("Allow")) == {"GET", "HEAD"}, describe(r)


@pytest.mark.smoke
def test_readyz_ready(http):
    r = http.get("/readyz")
    assert r.status_code == 200, describe(r)
    assert media_type(r) == "application/json", describe(r)
    assert r.json() == {"status": "ready", "database": "ok", "migrations": "current"}, describe(r)


@pytest.mark.smoke
@pytest.mark.parametrize("path", [
    "/no/such/path",
    "/healthz/extra",
    "/HEALTHZ",
    "/api/v1/does-not-exist",
    "/.well-known/nothing-here",
])
def test_unknown_path_404_problem(http, stack, path):
    r = http.get(path)
    assert_problem(r, 404, stack=stack)


@pytest.mark.smoke
def test_unknown_path_404_for_post_too(http, stack):
    # an unknown path is 404 whatever the method (not 405)
    r = http.post("/no/such/path", data=b"{}", headers={"Content-Type": "application/json"})
    assert_problem(r, 404, stack=stack)


@pytest.mark.smoke
def test_readyz_post_405(http, stack):
    r = http.post("/readyz", data=b"")
    assert_problem(r, 405, stack=stack)
    assert "GET" in header_tokens(r.headers.get("Allow")), describe(r)
    assert "POST" not in header_tokens(r.headers.get("Allow")), describe(r)
