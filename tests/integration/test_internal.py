"""/internal/*: the shared-secret guard and the Prometheus metrics."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from apxtest import (assert_no_leak, assert_problem, describe, metric_present, metric_sum,
                     parse_prometheus, problem_shape)
from orghelp import psql

FLUSH_S = 5     # a worker adds its counts to the database at most this often

UNKNOWN = "/definitely/not/a/route"


def wrong_secrets(secret):
    cands = ["wrong", "x" * len(secret), secret + "x", secret[:-1], secret[1:], "0",
             secret.swapcase(), secret[:len(secret) // 2]]
    return [c for c in dict.fromkeys(cands) if c and c != secret]


def _assert_indistinguishable(stack, resp, reference):
    """A guard 404 must look exactly like the 404 of an unknown path."""
    assert_problem(resp, 404, stack=stack)
    assert problem_shape(resp) == problem_shape(reference), \
        "guard 404 differs from unknown-path 404:%s%s" % (describe(resp), describe(reference))
    for h in ("Content-Type", "Allow", "WWW-Authenticate", "Cache-Control"):
        assert resp.headers.get(h) == reference.headers.get(h), \
            "header %s differs: %r vs %r" % (h, resp.headers.get(h), reference.headers.get(h))


@pytest.fixture
def unknown_404(http, stack):
    r = http.get(UNKNOWN)
    assert_problem(r, 404, stack=stack)
    return r


# ---------------------------------------------------------------- the guard

@pytest.mark.smoke
@pytest.mark.parametrize("path", ["/internal/metrics", "/internal/settings", "/internal/",
                                  "/internal/nope"])
def test_internal_without_secret_is_plain_404(http, stack, unknown_404, path):
    _assert_indistinguishable(stack, http.get(path), unknown_404)


@pytest.mark.smoke
def test_internal_with_wrong_secret_is_plain_404(http, stack, secret, unknown_404):
    for bad in wrong_secrets(secret):
        r = http.get("/internal/metrics", headers={"X-Internal-Secret": bad})
        _assert_indistinguishable(stack, r, unknown_404)


@pytest.mark.smoke
def test_internal_with_empty_secret_is_plain_404(http, stack, unknown_404):
    r = http.get("/internal/metrics", headers={"X-Internal-Secret": ""})
    _assert_indistinguishable(stack, r, unknown_404)


@pytest.mark.smoke
@pytest.mark.parametrize("method", ["DELETE", "POST", "PUT", "PATCH"])
def test_internal_wrong_secret_never_reveals_methods(http, stack, unknown_404, method):
    # 405/415/400 here would reveal that /internal/settings exists
    r = http.request(method, "/internal/settings", headers={"X-Internal-Secret": "wrong",
                                                            "Content-Type": "text/plain"},
                     data=b"not json")
    _assert_indistinguishable(stack, r, unknown_404)


@pytest.mark.smoke
def test_internal_secret_elsewhere_is_not_accepted(http, stack, secret, unknown_404):
    # only the X-Internal-Secret header counts: not the query, not another header
    r = http.get("/internal/metrics", params={"secret": secret})
    _assert_indistinguishable(stack, r, unknown_404)
    assert secret not in r.text
    r = http.get("/internal/metrics", headers={"Authorization": "Bearer " + secret})
    _assert_indistinguishable(stack, r, unknown_404)
    r = http.get("/internal/metrics", headers={"X-Internal-Token": secret})
    _assert_indistinguishable(stack, r, unknown_404)


@pytest.mark.smoke
def test_internal_unknown_subpath_with_secret_is_404(http, stack, internal, unknown_404):
    r = http.get("/internal/nope", headers=internal)
    _assert_indistinguishable(stack, r, unknown_404)


@pytest.mark.smoke
def test_internal_metrics_with_right_secret(http, internal, stack):
    r = http.get("/internal/metrics", headers=internal)
    assert r.status_code == 200, describe(r)
    ctype = r.headers.get("Content-Type", "").replace(" ", "").lower()
    assert ctype.startswith("text/plain;") and "version=0.0.4" in ctype.split(";"), describe(r)
    samples, _ = parse_prometheus(r.text)
    assert metric_present(samples, "apx_http_requests_total"), r.text[:2000]


# ---------------------------------------------------------------- metrics

def fetch_metrics(http, internal):
    r = http.get("/internal/metrics", headers=internal)
    assert r.status_code == 200, describe(r)
    return parse_prometheus(r.text)[0]


def nudge(http, n=8):
    """Concurrent requests so that several workers get one (and flush)."""
    with ThreadPoolExecutor(n) as ex:
        list(ex.map(lambda _: http.get("/.well-known/security.txt").status_code, range(n)))


def wait_metric(http, internal, predicate, timeout=15):
    deadline = time.monotonic() + timeout
    samples = fetch_metrics(http, internal)
    while not predicate(samples):
        if time.monotonic() > deadline:
            return False, samples
        nudge(http)
        time.sleep(0.5)
        samples = fetch_metrics(http, internal)
    return True, samples


def test_metrics_families_present(http, internal):
    http.get("/healthz")
    ok, samples = wait_metric(http, internal,
                              lambda s: metric_sum(s, "apx_http_requests_total", route="/healthz") > 0)
    names = {n for n, _, _ in samples}
    for family in ("apx_http_requests_total", "apx_http_request_duration_seconds_bucket",
                   "apx_http_request_duration_seconds_sum", "apx_http_request_duration_seconds_count",
                   "apx_worker_restarts_total", "apx_db_errors_total"):
        assert family in names, "metric %s missing; have %s" % (family, sorted(names))
    for n, labels, _ in samples:
        if n == "apx_http_requests_total":
            assert {"route", "method", "status"} <= set(labels), labels
        if n == "apx_http_request_duration_seconds_bucket":
            assert {"route", "le"} <= set(labels), labels
    assert ok, "no apx_http_requests_total{route=\"/healthz\"} after a /healthz request"


def test_metrics_counter_counts_healthz_requests(http, internal):
    key = dict(route="/healthz", method="GET", status="200")
    # settle: let earlier unflushed counts arrive before taking the baseline
    before = metric_sum(fetch_metrics(http, internal), "apx_http_requests_total", **key)
    n = 25
    for _ in range(n):
        assert http.get("/healthz").status_code == 200
    ok, samples = wait_metric(
        http, internal, lambda s: metric_sum(s, "apx_http_requests_total", **key) - before >= n)
    after = metric_sum(samples, "apx_http_requests_total", **key)
    assert ok, "after %d GET /healthz the counter rose by only %s (from %s to %s)" % (
        n, after - before, before, after)


def test_metrics_counter_has_404_status(http, internal):
    before = metric_sum(fetch_metrics(http, internal), "apx_http_requests_total",
                        method="GET", status="404")
    for _ in range(3):
        assert http.get(UNKNOWN).status_code == 404
    ok, samples = wait_metric(
        http, internal,
        lambda s: metric_sum(s, "apx_http_requests_total", method="GET", status="404") - before >= 3)
    assert ok, "404 answers are not counted with status=\"404\""


def stored_count(stack, name, labels):
    """NAME{LABELS} as the workers have added it to metric_counters, read
    from the database: no request reaches (and so wakes) any worker."""
    out = psql(stack, "SELECT coalesce(sum(value), 0) FROM metric_counters "
               "WHERE name = '%s' AND labels = '%s'" % (name, labels)).stdout
    return float(out.strip())


def test_an_idle_workers_counts_reach_the_database_without_another_request(http, stack):
    """Three requests in a row: the first may flush its worker's counts,
    the others are held for the next flush, at most FLUSH_S seconds later.
    No request follows, so the worker must add them while it waits, not
    with a next request that may never come (a kept connection that the
    web server stopped using, a quiet night)."""
    name = "apx_http_requests_total"
    labels = 'route="/healthz",method="GET",status="200"'
    before = stored_count(stack, name, labels)
    for _ in range(3):
        assert http.get("/healthz").status_code == 200
    deadline = time.monotonic() + FLUSH_S + 10
    now = stored_count(stack, name, labels)
    while now < before + 3 and time.monotonic() < deadline:
        time.sleep(0.25)
        now = stored_count(stack, name, labels)
    assert now >= before + 3, (
        "%d s after 3 GET /healthz and no request since, the database counts %s of them"
        % (FLUSH_S + 10, now - before))


def test_metrics_histogram_is_consistent(http, internal):
    for _ in range(5):
        http.get("/healthz")
    ok, samples = wait_metric(
        http, internal,
        lambda s: metric_sum(s, "apx_http_request_duration_seconds_count", route="/healthz") > 0)
    assert ok, "no duration histogram for /healthz"
    routes = {l["route"] for n, l, _ in samples if n == "apx_http_request_duration_seconds_bucket"}
    for route in routes:
        buckets = [(l["le"], v) for n, l, v in samples
                   if n == "apx_http_request_duration_seconds_bucket" and l.get("route") == route]
        les = [float("inf") if le == "+Inf" else float(le) for le, _ in buckets]
        assert "+Inf" in [le for le, _ in buckets], "no le=\"+Inf\" bucket for %s" % route
        ordered = [v for _, v in sorted(zip(les, [v for _, v in buckets]))]
        assert ordered == sorted(ordered), "buckets of %s are not cumulative: %r" % (route, buckets)
        inf = dict(buckets)["+Inf"]
        count = metric_sum(samples, "apx_http_request_duration_seconds_count", route=route)
        total = metric_sum(samples, "apx_http_request_duration_seconds_sum", route=route)
        assert inf == count, "+Inf bucket %s != _count %s for %s" % (inf, count, route)
        assert total >= 0 and (count == 0 or total > 0), "_sum %s for %s" % (total, route)


def test_metrics_values_are_sane(http, internal, stack):
    r = http.get("/internal/metrics", headers=internal)
    assert_no_leak(r.text, stack)
    samples, types = parse_prometheus(r.text)
    for n, l, v in samples:
        assert v >= 0, "negative sample %s%s = %s" % (n, l, v)
    for fam, typ in (("apx_http_requests_total", "counter"),
                     ("apx_http_request_duration_seconds", "histogram")):
        if fam in types:
            assert types[fam] == typ, "# TYPE %s is %s" % (fam, types[fam])
