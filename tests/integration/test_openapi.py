"""The OpenAPI document (docs/openapi.json, served at /api/v1/openapi.json)
against the binary's route table (`accupredix-fcgi --routes`): every route
has an operation and every operation a route, with the route's permission
row as `x-apx-permission`.  The lint and the Portman/Newman contract run
are tests/contract/run (a step of scripts/test)."""

import json
import re

import pytest

from apxtest import REPO_ROOT, assert_security_headers, describe, media_type

DOC_PATH = REPO_ROOT / "docs" / "openapi.json"
SERVED = "/api/v1/openapi.json"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PERM_KEYS = ("perm", "scope", "role", "plan", "user_only")


def _shape(pattern):
    """A path with every {param} as {} (parameter names do not matter)."""
    return re.sub(r"\{[^/}]*\}", "{}", pattern)


@pytest.fixture(scope="module")
def doc():
    return json.loads(DOC_PATH.read_text())


def _route_ops(routes):
    """{(METHOD, shape): row}; HEAD rows count as their GET."""
    out = {}
    for r in routes:
        m = r["method"].upper()
        if m == "HEAD":
            assert any(x["method"].upper() == "GET" and x["pattern"] == r["pattern"]
                       for x in routes), "HEAD %s without its GET" % r["pattern"]
            continue
        out[(m, _shape(r["pattern"]))] = r
    return out


def _doc_ops(doc):
    out = {}
    for path, item in doc["paths"].items():
        for m, o in item.items():
            if m in METHODS:
                out[(m.upper(), _shape(path))] = (path, o)
    return out


def test_served_document_is_the_file_in_the_tree(http):
    r = http.get(SERVED)
    assert r.status_code == 200, describe(r)
    assert media_type(r) == "application/json", describe(r)
    assert r.content == DOC_PATH.read_bytes(), "the served document differs from docs/openapi.json"
    assert "max-age=" in r.headers.get("Cache-Control", ""), describe(r)
    assert_security_headers(r)
    h = http.head(SERVED)
    assert h.status_code == 200 and not h.content, describe(h)
    assert_security_headers(h)


def test_document_is_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1."), doc["openapi"]
    schemes = doc["components"]["securitySchemes"]
    kinds = {(s["type"], s.get("scheme"), s.get("in")) for s in schemes.values()}
    assert ("http", "bearer", None) in kinds                       # JWT and API key
    assert ("apiKey", None, "cookie") in kinds                     # the access cookie
    assert ("apiKey", None, "header") in kinds                     # X-CSRF-Token, internal secret


def test_every_route_has_an_operation_and_every_operation_a_route(routes, doc):
    have = _route_ops(routes)
    documented = _doc_ops(doc)
    no_op = sorted("%s %s" % (m, have[(m, s)]["pattern"]) for m, s in set(have) - set(documented))
    no_route = sorted("%s %s" % (m, documented[(m, s)][0]) for m, s in set(documented) - set(have))
    assert not no_op, "routes without an operation in docs/openapi.json:\n" + "\n".join(no_op)
    assert not no_route, "operations of docs/openapi.json without a route:\n" + "\n".join(no_route)


def test_operations_carry_their_permission_row(routes, doc):
    documented = _doc_ops(doc)
    bad = []
    for key, row in _route_ops(routes).items():
        path, o = documented.get(key, (None, None))
        if o is None:
            continue
        want = {k: row[k] for k in PERM_KEYS}
        if o.get("x-apx-permission") != want:
            bad.append("%s %s: x-apx-permission %r, --routes says %r"
                       % (key[0], path, o.get("x-apx-permission"), want))
        # the public routes and only they need no credentials
        if (o.get("security") == []) != (row["scope"] == "public"):
            bad.append("%s %s: security %r for scope %s" % (key[0], path, o.get("security"),
                                                          row["scope"]))
        # org routes that refuse API keys do not offer the apiKey scheme
        offers_key = any("apiKey" in req for req in o.get("security", []))
        if offers_key != (row["scope"] == "org" and not row["user_only"]):
            bad.append("%s %s: apiKey offered=%r, scope %s user_only %r"
                       % (key[0], path, offers_key, row["scope"], row["user_only"]))
    assert not bad, "\n".join(bad)


def test_path_parameters_match_the_pattern(doc):
    params = doc["components"]["parameters"]
    bad = []
    for path, item in doc["paths"].items():
        want = set(re.findall(r"\{([^}]+)\}", path))
        for m, o in item.items():
            if m not in METHODS:
                continue
            got = set()
            for p in o.get("parameters", []):
                if "$ref" in p:
                    p = params[p["$ref"].rsplit("/", 1)[1]]
                if p["in"] == "path":
                    got.add(p["name"])
            if got != want:
                bad.append("%s %s: path parameters %r" % (m.upper(), path, sorted(got)))
    assert not bad, "\n".join(bad)


def test_error_answers_are_problem_documents(doc):
    """Every 4xx/5xx response is application/problem+json naming its type slugs."""
    responses = doc["components"]["responses"]
    bad = []
    for path, item in doc["paths"].items():
        for m, o in item.items():
            if m not in METHODS:
                continue
            # success: 2xx, or a redirect (the OAuth callback answers 303)
            assert any(c[0] in "23" for c in o["responses"]), "%s %s: no 2xx/3xx" % (m, path)
            for code, r in o["responses"].items():
                if code[0] in "23":
                    continue
                if "$ref" in r:
                    r = responses[r["$ref"].rsplit("/", 1)[1]]
                if r.get("x-apx-empty-body") is True:
                    # a webhook's 401: no body at all, as the providers
                    # expect (docs/api.md "Webhooks and sync")
                    assert code == "401" and path.startswith("/webhooks/"), (m, path, code)
                    continue
                content = r.get("content", {})
                if list(content) != ["application/problem+json"]:
                    bad.append("%s %s %s: %r" % (m.upper(), path, code, list(content)))
                    continue
                pat = json.dumps(content["application/problem+json"]["schema"])
                if "/(" not in pat:
                    bad.append("%s %s %s: no type slugs in the schema" % (m.upper(), path, code))
    assert not bad, "\n".join(bad)
