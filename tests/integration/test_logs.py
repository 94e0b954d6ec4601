"""One access line per request on the app's stderr, and no secrets in any log."""

import os
import re
import time
import uuid
from pathlib import Path

import pytest

from apxtest import config_secrets, describe


def log_text(stack):
    return Path(stack["ERROR_LOG"]).read_text(errors="replace")


def access_lines(stack, rid, timeout=5):
    """Access lines of the app log naming this request id (waits for them)."""
    # the server's own id (rid=) or a client's X-Request-Id (client_rid=)
    pat = re.compile(r"\baccess\b.*\b(?:client_)?rid=%s(\s|$)" % re.escape(rid))
    deadline = time.monotonic() + timeout
    while True:
        lines = [l for l in log_text(stack).splitlines() if pat.search(l)]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)


def line_fields(line):
    return dict(re.findall(r"\b([a-z_]+)=(\S*)", line[line.index("access"):]))


def find_line(stack, rid, method, path, status):
    """The single access line of a request; its method/path/status fields."""
    lines = access_lines(stack, rid)
    assert len(lines) == 1, "want exactly one access line for rid=%s in %s, got %r" % (
        rid, stack["ERROR_LOG"], lines)
    f = line_fields(lines[0])
    assert (f.get("method"), f.get("path"), f.get("status")) == (method, path, str(status)), \
        "access line %r: want method=%s path=%s status=%s" % (lines[0], method, path, status)
    return lines[0]


def test_access_line_matches_contract_format(http, stack, rid):
    # docs/contract.md: `accupredix-fcgi[PID]: info: access: rid=<id> method=GET path=/healthz
    #                    route=/healthz status=200 dur_us=123 bytes=15 client=127.0.0.1
    #                    [client_rid=<the client's X-Request-Id>]`
    r = http.get("/healthz", headers={"X-Request-Id": rid})
    assert r.status_code == 200
    line = find_line(stack, rid, "GET", "/healthz", 200)
    want = re.compile(r"accupredix-fcgi\[\d+\]: info: access: rid=%s method=GET path=/healthz "
                      r"route=/healthz status=200 dur_us=\d+ bytes=15 client=\S+ client_rid=%s$"
                      % (re.escape(r.headers["X-Request-Id"]), re.escape(rid)))
    assert want.search(line), "access line %r does not have the contract's form %r" % (
        line, want.pattern)


def test_access_line_keeps_client_request_id_beside_ours(http, stack, rid):
    r = http.get("/healthz", headers={"X-Request-Id": rid})
    assert r.status_code == 200
    line = find_line(stack, rid, "GET", "/healthz", 200)
    f = line_fields(line)
    assert f.get("dur_us", "").isdigit() and f.get("bytes", "").isdigit(), line
    assert f.get("client_rid") == rid and f.get("rid") == r.headers["X-Request-Id"], line


def test_access_line_uses_generated_request_id(http, stack):
    r = http.get("/healthz")
    rid = r.headers["X-Request-Id"]
    find_line(stack, rid, "GET", "/healthz", 200)


def test_access_line_for_errors(http, stack, rid):
    r = http.post("/healthz", headers={"X-Request-Id": rid}, data=b"")
    assert r.status_code == 405, describe(r)
    find_line(stack, rid, "POST", "/healthz", 405)
    rid2 = rid + "-b"
    r = http.get("/no/such/path", headers={"X-Request-Id": rid2})
    find_line(stack, rid2, "GET", "/no/such/path", 404)


def test_access_line_one_per_request(http, stack):
    rids = ["one-%d-%s" % (i, uuid.uuid4().hex[:8]) for i in range(8)]
    for rid in rids:
        http.get("/healthz", headers={"X-Request-Id": rid})
    for rid in rids:
        find_line(stack, rid, "GET", "/healthz", 200)


def test_access_line_omits_query_string(http, stack, rid):
    canary = "q" + uuid.uuid4().hex
    r = http.get("/healthz", params={"token": canary, "x": "1"}, headers={"X-Request-Id": rid})
    assert r.status_code == 200
    line = find_line(stack, rid, "GET", "/healthz", 200)
    assert "?" not in line and canary not in line, line
    assert canary not in log_text(stack), "query string value found in the log"


def test_access_line_uses_replacement_for_invalid_request_id(http, stack):
    bad = "bad<id>" + uuid.uuid4().hex
    r = http.get("/healthz", headers={"X-Request-Id": bad})
    rid = r.headers["X-Request-Id"]
    assert rid != bad
    find_line(stack, rid, "GET", "/healthz", 200)
    assert bad not in log_text(stack), "an invalid client request id reached the log"


def test_access_log_cannot_be_forged_through_the_path(http, stack, rid):
    forged = "forged-" + uuid.uuid4().hex
    path = "/x%0d%0aaccess%20rid=" + forged + "%20method=GET%20path=/healthz%20status=200"
    r = http.get(path, headers={"X-Request-Id": rid})
    if "X-Request-Id" not in r.headers:
        pytest.skip("the web server refused the path itself (%d)" % r.status_code)
    lines = access_lines(stack, rid)
    assert len(lines) == 1, "want one access line for rid=%s, got %r" % (rid, lines)
    text = log_text(stack)
    for line in text.splitlines():
        if forged in line:
            assert ("rid=" + rid) in line, \
                "a request path injected its own log line: %r" % line


def test_no_authorization_or_cookie_values_in_log(http, stack, rid):
    canary = "tok" + uuid.uuid4().hex
    http.get("/healthz", headers={"X-Request-Id": rid, "Authorization": "Bearer " + canary,
                                  "Cookie": "__Host-apx_session=" + canary,
                                  "X-Internal-Secret": canary})
    http.get("/internal/metrics", headers={"X-Internal-Secret": canary})
    find_line(stack, rid, "GET", "/healthz", 200)
    time.sleep(0.5)
    assert canary not in log_text(stack), "a token/cookie/secret header value was logged"


# ------------------------------------------------------------------ final audit

def log_files(stack):
    """Log files of the stack: everything log-like under STACK_DIR (and under a
    staging directory or LOG_DIR outside it), plus ERROR_LOG, ACCESS_LOG, PG_LOG."""
    roots = [Path(stack["STACK_DIR"])]
    for key in ("LOG_DIR", "STAGE_DIR"):
        if stack.get(key) and Path(stack[key]).is_dir():
            roots.append(Path(stack[key]))
    files = set()
    for extra in ("ERROR_LOG", "ACCESS_LOG", "PG_LOG"):
        if stack.get(extra) and Path(stack[extra]).is_file():
            files.add(Path(stack[extra]).resolve())
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            rel = Path(dirpath).relative_to(root).parts
            if "data" in rel and "pg" in rel:
                continue  # the cluster's data files, not logs
            in_log_dir = any(p.lower() in ("log", "logs", "pg_log", "sanitizer") for p in rel)
            in_log_dir = in_log_dir or root.name.lower() in ("log", "logs")
            for f in filenames:
                p = Path(dirpath) / f
                name = f.lower()
                if name.endswith((".conf", ".env", ".sock", ".pid", ".json", ".html")):
                    continue
                if in_log_dir or name.endswith(".log") or "log" in name:
                    if p.is_file():
                        files.add(p.resolve())
    return sorted(files)


@pytest.mark.run_last
def test_no_secret_in_any_log(http, stack, internal):
    # make sure the secret was used in this run, right and wrong
    assert http.get("/internal/metrics", headers=internal).status_code == 200
    http.get("/internal/settings", headers={"X-Internal-Secret": stack["INTERNAL_SECRET"] + "x"})
    time.sleep(1)
    secrets = config_secrets(stack)
    assert stack["INTERNAL_SECRET"] in secrets
    conf_pw = secrets - {stack["INTERNAL_SECRET"]}
    files = log_files(stack)
    assert Path(stack["ERROR_LOG"]).resolve() in files, files
    assert re.search(r"\baccess\b.*\brid=", log_text(stack)), "no access lines in ERROR_LOG: wrong file?"
    leaks = []
    for f in files:
        data = f.read_bytes()
        for s in secrets:
            idx = data.find(s.encode())
            if idx >= 0:
                line_start = data.rfind(b"\n", 0, idx) + 1
                line_end = data.find(b"\n", idx)
                line = data[line_start:line_end if line_end >= 0 else None]
                masked = line.replace(s.encode(), b"<SECRET>").decode(errors="replace")
                leaks.append("%s: %s" % (f, masked[:300]))
    assert not leaks, ("secret values found in logs (%d secret(s) checked, %d from the config "
                       "passwords):\n%s" % (len(secrets), len(conf_pw), "\n".join(leaks)))
