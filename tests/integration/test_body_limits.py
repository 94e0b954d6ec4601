"""Request body cap: the app's own 413 and the web server's 413."""

import json

import pytest

import rawhttp
from apxtest import assert_problem, describe, max_body_bytes, media_type

PATH = "/internal/settings"
MiB = 1024 * 1024


def padded_json(size):
    """A JSON object of exactly `size` bytes with one unknown key 'pad'."""
    skeleton = b'{"pad": ""}'
    body = b'{"pad": "' + b"a" * (size - len(skeleton)) + b'"}'
    assert len(body) == size
    json.loads(body)
    return body


@pytest.fixture
def cap(stack):
    return max_body_bytes(stack)


@pytest.fixture
def json_headers(internal):
    h = dict(internal)
    h["Content-Type"] = "application/json"
    return h


def settings_value(http, internal):
    r = http.get(PATH, headers=internal)
    assert r.status_code == 200, describe(r)
    return r.json()["settings"]


@pytest.mark.smoke
def test_body_one_byte_over_cap_is_413_from_app(http, stack, internal, json_headers, cap):
    before = settings_value(http, internal)
    r = http.patch(PATH, headers=json_headers, data=padded_json(cap + 1), timeout=30)
    assert_problem(r, 413, stack=stack)            # app=True: X-Request-Id, request_id, no-store
    assert settings_value(http, internal) == before


@pytest.mark.smoke
def test_body_exactly_at_cap_is_read(http, stack, json_headers, cap):
    # not 413: the body is parsed, and its unknown key is refused
    r = http.patch(PATH, headers=json_headers, data=padded_json(cap), timeout=30)
    assert_problem(r, 422, field="pad", stack=stack)


def test_body_over_cap_on_route_without_body_is_not_500(http, stack, cap):
    r = http.post("/healthz", data=b"a" * (cap + 1), headers={"Content-Type": "application/json"},
                  timeout=30)
    assert r.status_code in (405, 413), describe(r)
    assert_problem(r, r.status_code, stack=stack)


def _server_413(resp, server, stack):
    assert resp.status_code == 413, "want 413, got %r%s" % (resp, describe(resp))
    if server == "apache":
        # Apache's ErrorDocument turns it into problem+json
        assert_problem(resp, 413, stack=stack, app=False)


@pytest.mark.slow
@pytest.mark.parametrize("size", [2 * MiB, 50 * MiB], ids=["2MiB", "50MiB"])
def test_body_far_over_cap_is_413_from_web_server(stack, server, json_headers, size):
    r = rawhttp.send(stack["BASE_URL"], "PATCH", PATH, json_headers, size, timeout=60)
    _server_413(r, server, stack)


@pytest.mark.slow
def test_chunked_body_over_cap_is_413(stack, server, json_headers):
    r = rawhttp.send(stack["BASE_URL"], "PATCH", PATH, json_headers, 3 * MiB, chunked=True,
                     timeout=60)
    assert r.status_code == 413, "want 413, got %r%s" % (r, describe(r))
    if server == "apache" or media_type(r) == "application/problem+json":
        assert_problem(r, 413, stack=stack, app=False)


@pytest.mark.slow
def test_chunked_small_body_is_passed_to_app(stack, json_headers, http, internal):
    # a chunked body under the cap is not refused for being chunked
    before = settings_value(http, internal)
    r = rawhttp.send(stack["BASE_URL"], "PATCH", PATH, json_headers, 100, chunked=True)
    # 100 bytes of 'a' are not JSON: the app must have read them
    assert_problem(r, 400, slug="malformed-json", stack=stack)
    assert settings_value(http, internal) == before


def test_server_still_healthy_after_oversized_bodies(stack, http, json_headers):
    for size in (2 * MiB, 3 * MiB):
        try:
            rawhttp.send(stack["BASE_URL"], "PATCH", PATH, json_headers, size, timeout=60)
        except (ConnectionError, TimeoutError):
            pass
    r = http.get("/healthz")
    assert r.status_code == 200, describe(r)
