"""Headers every answer carries: security headers, X-Request-Id, Cache-Control."""

import json

import pytest

from apxtest import REQUEST_ID_RE, assert_security_headers, describe, media_type

# (method, path, needs_secret, body, content_type) -> answers of many kinds
ANSWERS = [
    ("GET", "/healthz", False, None, None),                       # 200 JSON
    ("HEAD", "/healthz", False, None, None),                      # 200, no body
    ("GET", "/readyz", False, None, None),                        # 200 JSON (DB)
    ("GET", "/.well-known/security.txt", False, None, None),      # 200 text
    ("GET", "/no/such/path", False, None, None),                  # 404
    ("POST", "/healthz", False, b"{}", "application/json"),       # 405
    ("GET", "/internal/metrics", False, None, None),              # guarded 404
    ("GET", "/internal/metrics", True, None, None),               # 200 Prometheus
    ("GET", "/internal/settings", True, None, None),              # 200 JSON (DB)
    ("PATCH", "/internal/settings", True, b"{oops", "application/json"),  # 400
]


def _send(http, internal, method, path, needs_secret, body, ctype):
    headers = dict(internal) if needs_secret else {}
    if ctype:
        headers["Content-Type"] = ctype
    return http.request(method, path, headers=headers, data=body)


@pytest.mark.smoke
@pytest.mark.parametrize("method,path,needs_secret,body,ctype", ANSWERS,
                         ids=["%s %s%s" % (a[0], a[1], " +secret" if a[2] else "") for a in ANSWERS])
def test_every_answer_carries_security_headers(http, internal, method, path, needs_secret, body, ctype):
    r = _send(http, internal, method, path, needs_secret, body, ctype)
    assert r.status_code < 500, describe(r)
    assert_security_headers(r)


JSON_ANSWERS = [a for a in ANSWERS
                if a[0] != "HEAD" and a[1] not in ("/.well-known/security.txt",)
                and not (a[1] == "/internal/metrics" and a[2])]


@pytest.mark.parametrize("method,path,needs_secret,body,ctype", JSON_ANSWERS,
                         ids=["%s %s%s" % (a[0], a[1], " +secret" if a[2] else "")
                              for a in JSON_ANSWERS])
def test_json_answers_are_not_cacheable(http, internal, method, path, needs_secret, body, ctype):
    r = _send(http, internal, method, path, needs_secret, body, ctype)
    assert media_type(r) in ("application/json", "application/problem+json"), describe(r)
    json.loads(r.text)  # and the JSON is well-formed
    assert "no-store" in r.headers.get("Cache-Control", "").lower(), describe(r)


def test_request_ids_are_unique(http):
    seen = set()
    for _ in range(30):
        r = http.get("/healthz")
        rid = r.headers.get("X-Request-Id")
        assert rid and REQUEST_ID_RE.match(rid), describe(r)
        assert rid not in seen, "X-Request-Id %r repeated" % rid
        seen.add(rid)


def test_request_id_unique_on_errors_too(http):
    ids = {http.get("/no/such/path").headers.get("X-Request-Id") for _ in range(10)}
    assert None not in ids and len(ids) == 10, ids


@pytest.mark.parametrize("client_rid", [
    "abc-123_XYZ.9",
    "a",
    "x" * 64,
    "0123456789.-_",
])
def test_client_request_id_is_not_ours(http, client_rid):
    """A client's X-Request-Id is only correlated in the access line (see
    test_logs); the answer, its problem body and the audit log carry the id
    the server made (issue 9: a client must not choose audit request ids)."""
    r = http.get("/healthz", headers={"X-Request-Id": client_rid})
    rid = r.headers.get("X-Request-Id")
    assert rid and rid != client_rid and REQUEST_ID_RE.match(rid), describe(r)


def test_problem_body_carries_the_server_request_id(http):
    r = http.get("/no/such/path", headers={"X-Request-Id": "probe-4711"})
    assert r.status_code == 404, describe(r)
    rid = r.headers.get("X-Request-Id")
    assert rid != "probe-4711", describe(r)
    assert r.json().get("request_id") == rid, describe(r)


@pytest.mark.parametrize("client_rid", [
    "x" * 65,                 # too long
    "has space",
    "semi;colon",
    "<script>",
    "quote\"d",
    "percent%0d%0a",
    "slash/ed",
    "tab\tinside",
    "ümlaut",
])
def test_invalid_client_request_id_is_replaced(http, client_rid):
    r = http.get("/healthz", headers={"X-Request-Id": client_rid.encode("utf-8")})
    rid = r.headers.get("X-Request-Id")
    assert r.status_code == 200, describe(r)
    assert rid and rid != client_rid, "invalid X-Request-Id %r echoed%s" % (client_rid, describe(r))
    assert REQUEST_ID_RE.match(rid), "generated X-Request-Id %r has a bad form" % rid


def test_empty_client_request_id_is_replaced(http):
    r = http.get("/healthz", headers={"X-Request-Id": ""})
    rid = r.headers.get("X-Request-Id")
    assert rid and REQUEST_ID_RE.match(rid), describe(r)
