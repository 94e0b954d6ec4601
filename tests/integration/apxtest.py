"""Shared helpers for the AccuPredix integration tests (no fixtures here).

Fixtures live in conftest.py; test modules import plain helpers from here.
"""

import json
import os
import re
import shlex
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK_SCRIPT = REPO_ROOT / "scripts" / "stack"

PROBLEM_TYPE_PREFIX = "https://accupredix.test/problems/"
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
CORS_ORIGIN = "https://app.example.test"
HTTP_TIMEOUT = 10

_stack_cache = None


# --------------------------------------------------------------------------
# stack.env and the app config
# --------------------------------------------------------------------------

def parse_env_file(path):
    """Parse shell `KEY=value` lines (optionally `export`, optionally quoted)."""
    env = {}
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            parts = shlex.split(line, comments=True)
        except ValueError:
            continue
        if parts and parts[0] == "export":
            parts = parts[1:]
        for part in parts:
            if "=" in part:
                k, v = part.split("=", 1)
                env[k] = v
    return env


def stack_env():
    """The stack description, or None when APX_STACK_ENV is unset."""
    global _stack_cache
    if _stack_cache is not None:
        return _stack_cache
    path = os.environ.get("APX_STACK_ENV")
    if not path:
        return None
    _stack_cache = parse_env_file(path)
    return _stack_cache


def parse_config(path):
    """App config: list of (lineno, key, value) for `key = value` lines."""
    entries = []
    for lineno, raw in enumerate(Path(path).read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            continue
        k, v = line.split("=", 1)
        entries.append((lineno, k.strip(), v.strip()))
    return entries


def config_dict(path):
    return {k: v for _, k, v in parse_config(path)}


def _problem_type_prefix():
    """The stack's problem `type` base: http.problem_type_base, else
    http.public_origin + "/problems/" (as the app derives it)."""
    st = stack_env()
    if not st or not st.get("APX_CONFIG") or not Path(st["APX_CONFIG"]).exists():
        return PROBLEM_TYPE_PREFIX
    conf = config_dict(st["APX_CONFIG"])
    if conf.get("http.problem_type_base"):
        return conf["http.problem_type_base"]
    if conf.get("http.public_origin"):
        return conf["http.public_origin"] + "/problems/"
    return PROBLEM_TYPE_PREFIX


PROBLEM_TYPE_PREFIX = _problem_type_prefix()


def resolve_secret(value):
    """`file:/path` values hold the secret in that file (trailing newline stripped)."""
    if value.startswith("file:"):
        try:
            return Path(value[5:]).read_text().rstrip("\n")
        except OSError:
            return None
    return value


_PW_KV_RE = re.compile(r"(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")
_PW_URI_RE = re.compile(r"^postgres(?:ql)?://[^:/@]*:([^@]*)@")


def conninfo_passwords(conninfo):
    """Passwords in a libpq conninfo string (key=value or URI form)."""
    found = []
    for m in _PW_KV_RE.finditer(conninfo):
        v = m.group(1)
        if v.startswith("'") and v.endswith("'"):
            v = re.sub(r"\\(.)", r"\1", v[1:-1])
        found.append(v)
    m = _PW_URI_RE.match(conninfo)
    if m:
        from urllib.parse import unquote
        found.append(unquote(m.group(1)))
    m = re.search(r"[?&]password=([^&]+)", conninfo)
    if m:
        from urllib.parse import unquote
        found.append(unquote(m.group(1)))
    return [p for p in found if p]


def passfile_passwords(conninfo):
    """Passwords in the libpq password file a conninfo names (passfile=...)."""
    m = re.search(r"(?:^|\s)passfile\s*=\s*(\S+)", conninfo)
    if not m:
        return []
    try:
        lines = Path(m.group(1)).read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        if line.strip() and not line.startswith("#"):
            fields = re.split(r"(?<!\\):", line, maxsplit=4)
            if len(fields) == 5:
                out.append(fields[4].replace("\\:", ":").replace("\\\\", "\\"))
    return out


_stack_secret_cache = {}


def stack_script_secrets(stack):
    """`scripts/stack secrets DIR`: the stack's own list (empty if unavailable)."""
    d = stack.get("STACK_DIR")
    if d in _stack_secret_cache:
        return _stack_secret_cache[d]
    found = []
    if d and STACK_SCRIPT.exists():
        try:
            p = subprocess.run([str(STACK_SCRIPT), "secrets", d], capture_output=True, text=True,
                               timeout=30)
            if p.returncode == 0:
                found = [l for l in p.stdout.splitlines() if l.strip()]
        except (OSError, subprocess.TimeoutExpired):
            pass
    _stack_secret_cache[d] = found
    return found


def config_secrets(stack):
    """Every secret the logs and error bodies must never contain."""
    secrets = set(stack_script_secrets(stack))
    if stack.get("INTERNAL_SECRET"):
        secrets.add(stack["INTERNAL_SECRET"])
    if stack.get("ADMIN_PASSWORD"):
        secrets.add(stack["ADMIN_PASSWORD"])
    conf = stack.get("APX_CONFIG")
    if conf and Path(conf).exists():
        for _, key, value in parse_config(conf):
            resolved = resolve_secret(value)
            if resolved is None:
                continue
            if key in ("db.conninfo", "db.admin_conninfo") or key.endswith("conninfo"):
                secrets.update(conninfo_passwords(resolved))
                secrets.update(passfile_passwords(resolved))
            elif key == "internal.secret" or "secret" in key or "password" in key or key.endswith(".key"):
                secrets.add(resolved)
    # Ignore trivially short values: they would match by accident.
    return {s for s in secrets if len(s) >= 6}


def max_body_bytes(stack):
    conf = config_dict(stack["APX_CONFIG"])
    return int(conf.get("http.max_body_bytes", "1048576"))


# --------------------------------------------------------------------------
# HTTP helpers
# --------------------------------------------------------------------------

def new_session():
    import requests
    s = requests.Session()
    s.trust_env = False  # never go through a proxy for loopback
    return s


def media_type(resp_or_value):
    value = resp_or_value if isinstance(resp_or_value, str) else resp_or_value.headers.get("Content-Type", "")
    return value.split(";", 1)[0].strip().lower()


def header_tokens(value):
    return {t.strip().upper() for t in (value or "").split(",") if t.strip()}


def describe(resp):
    """Exact request/response for assertion messages (goes into the report)."""
    req = resp.request
    req_headers = "\n".join("%s: %s" % kv for kv in req.headers.items())
    body = req.body
    if isinstance(body, bytes) and len(body) > 200:
        body = body[:200] + b"...(%d bytes)" % len(req.body)
    resp_headers = "\n".join("%s: %s" % kv for kv in resp.headers.items())
    text = resp.content[:1000]
    return ("\n--- request ---\n%s %s\n%s\n\n%r\n--- response ---\n%s %s\n%s\n\n%r\n"
            % (req.method, req.url, req_headers, body, resp.status_code, resp.reason,
               resp_headers, text))


def _hsts_max_age():
    st = stack_env()
    if st and st.get("APX_CONFIG") and Path(st["APX_CONFIG"]).exists():
        return config_dict(st["APX_CONFIG"]).get("http.hsts_max_age", "31536000")
    return "31536000"


SECURITY_HEADERS = {
    "X-Content-Type-Options": lambda v: v.strip().lower() == "nosniff",
    "Strict-Transport-Security":
        lambda v: v.strip() == "max-age=%s; includeSubDomains" % _hsts_max_age(),
    "Content-Security-Policy": lambda v: "frame-ancestors 'none'" in v,
    "X-Frame-Options": lambda v: v.strip().upper() == "DENY",
    "Referrer-Policy": lambda v: v.strip().lower() == "no-referrer",
}


def assert_security_headers(resp):
    missing = []
    for name, ok in SECURITY_HEADERS.items():
        v = resp.headers.get(name)
        if v is None or not ok(v):
            missing.append("%s=%r" % (name, v))
    assert not missing, "bad/missing security headers %s%s" % (missing, describe(resp))
    rid = resp.headers.get("X-Request-Id")
    assert rid and REQUEST_ID_RE.match(rid), "bad X-Request-Id %r%s" % (rid, describe(resp))


def assert_no_leak(text, stack, extra=()):
    """The text must not contain secrets, SQL or libpq internals."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    for s in config_secrets(stack) | set(extra):
        assert s not in text, "a secret value appears in the answer: %r" % text[:500]
    lowered = text.lower()
    for needle in ("connection to server", "could not connect", "libpq", "no such file or directory",
                   "syntax error at", "stack trace", "segmentation fault", "conninfo"):
        assert needle not in lowered, "internal detail %r in the answer: %r" % (needle, text[:500])
    for needle in ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM", "FATAL:", "ERROR:  ",
                   "PANIC:"):
        assert needle not in text, "SQL/server detail %r in the answer: %r" % (needle, text[:500])
    if re.search(r"\bPQ[a-z]", text):
        raise AssertionError("libpq function name in the answer: %r" % text[:500])
    pghost = stack.get("PGHOST", "")
    if pghost.startswith("/"):
        assert pghost not in text, "database socket path in the answer: %r" % text[:500]


def assert_problem(resp, status, slug=None, stack=None, field=None, app=True):
    """A problem+json answer with the given status (and type slug / field).

    app=False for answers the web server produces itself (ErrorDocument): then
    only the status, media type and the JSON members are checked.
    """
    ctx = describe(resp)
    assert resp.status_code == status, "expected %d%s" % (status, ctx)
    assert media_type(resp) == "application/problem+json", "not problem+json%s" % ctx
    try:
        body = resp.json()
    except ValueError:
        raise AssertionError("problem body is not JSON%s" % ctx)
    assert isinstance(body, dict), "problem body is not an object%s" % ctx
    for key in ("type", "title", "status", "detail"):
        assert key in body, "problem body lacks %r%s" % (key, ctx)
    assert body["status"] == status, "body status %r != %d%s" % (body["status"], status, ctx)
    assert isinstance(body["title"], str) and body["title"], "empty title%s" % ctx
    assert isinstance(body["detail"], str), "detail not a string%s" % ctx
    assert isinstance(body["type"], str) and body["type"].startswith(PROBLEM_TYPE_PREFIX), \
        "type %r is not under %s%s" % (body["type"], PROBLEM_TYPE_PREFIX, ctx)
    if slug is not None:
        assert body["type"] == PROBLEM_TYPE_PREFIX + slug, "type slug%s" % ctx
    if field is not None:
        assert body.get("field") == field, "field %r != %r%s" % (body.get("field"), field, ctx)
    if stack is not None:
        assert_no_leak(resp.text, stack)
    if not app:
        return body
    rid = resp.headers.get("X-Request-Id")
    if "request_id" in body or rid:
        assert body.get("request_id") == rid, \
            "request_id %r != X-Request-Id %r%s" % (body.get("request_id"), rid, ctx)
    cc = resp.headers.get("Cache-Control", "")
    assert "no-store" in cc.lower(), "problem answer without Cache-Control: no-store%s" % ctx
    return body


def problem_shape(resp):
    """Body of a problem answer minus the per-request request_id."""
    body = resp.json()
    body.pop("request_id", None)
    return body


def poll(fn, timeout, interval=0.25, what="condition"):
    """Call fn() until it returns a truthy value; return it, or raise."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = fn()
        except Exception as e:  # noqa: BLE001 - report the last error
            last = e
        if last and not isinstance(last, Exception):
            return last
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s (last: %r)"
                                 % (timeout, what, last))
        time.sleep(interval)


# --------------------------------------------------------------------------
# Prometheus text format
# --------------------------------------------------------------------------

_METRIC_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$')
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def parse_prometheus(text):
    """-> (samples [(name, labels, value)], types {name: type}); raises on bad lines."""
    samples = []
    types = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3].strip()
            continue
        m = _METRIC_RE.match(line.strip())
        if not m:
            raise AssertionError("not a Prometheus sample line: %r" % line)
        name, labelstr, value = m.groups()
        labels = {}
        if labelstr:
            pos = 0
            while pos < len(labelstr):
                lm = _LABEL_RE.match(labelstr, pos)
                if not lm:
                    raise AssertionError("bad label set in %r" % line)
                labels[lm.group(1)] = re.sub(r'\\(.)', lambda x: {"n": "\n"}.get(x.group(1), x.group(1)),
                                             lm.group(2))
                pos = lm.end()
        samples.append((name, labels, float(value)))
    return samples, types


def metric_sum(samples, name, **labels):
    return sum(v for n, l, v in samples
               if n == name and all(l.get(k) == str(want) for k, want in labels.items()))


def metric_present(samples, name):
    return any(n == name for n, _, _ in samples)


# --------------------------------------------------------------------------
# the stack script
# --------------------------------------------------------------------------

def run_stack_script(*args, timeout=120):
    if not STACK_SCRIPT.exists():
        raise AssertionError("%s missing (stack script not written yet)" % STACK_SCRIPT)
    proc = subprocess.run([str(STACK_SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError("scripts/stack %s failed (%d):\nstdout:%s\nstderr:%s"
                             % (" ".join(args), proc.returncode, proc.stdout, proc.stderr))
    return proc


# The stacks fresh_stack() started, by BASE_URL (helpers that reach the
# database find a client's stack here).
OTHER_STACKS = {}


def stack_of(base_url):
    """The stack.env dict of the stack at BASE_URL (this run's by default)."""
    if base_url is not None and base_url.rstrip("/") in OTHER_STACKS:
        return OTHER_STACKS[base_url.rstrip("/")]
    return stack_env()


@contextmanager
def fresh_stack(stack, tag):
    """A stack of its own, of the same build, for a module that changes what
    every other test relies on (keys, vault): its stack.env as a dict. It
    is stopped and removed afterwards (kept with APX_KEEP_STACK=1)."""
    import shutil
    import uuid
    d = "/tmp/apx-%s-%s" % (tag, uuid.uuid4().hex[:12])
    try:
        run_stack_script("start", d, "--build", stack["BUILD_DIR"], timeout=300)
        st = parse_env_file(os.path.join(d, "stack.env"))
        OTHER_STACKS[st["BASE_URL"].rstrip("/")] = st
        if not st.get("REGION_EU_PGHOST"):
            import pytest
            pytest.skip("the fresh stack has no data regions")
        yield st
    finally:
        try:
            run_stack_script("stop", d, timeout=120)
        finally:
            if not os.environ.get("APX_KEEP_STACK"):
                shutil.rmtree(d, ignore_errors=True)


@contextmanager
def postgres_stopped(stack):
    """Stop the stack's PostgreSQL; always start it again afterwards."""
    run_stack_script("pg-stop", stack["STACK_DIR"])
    try:
        yield
    finally:
        run_stack_script("pg-start", stack["STACK_DIR"])
        # best effort, so that a failure inside the block does not spill over
        # into the next test: wait (without asserting) until /readyz is 200
        s = new_session()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if s.get(stack["BASE_URL"] + "/readyz", timeout=5).status_code == 200:
                    break
            except Exception:  # noqa: BLE001
                pass
            time.sleep(0.2)
        s.close()


# --------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------

def proc_stat(pid):
    """(state, ppid) of a process, or None if it does not exist."""
    try:
        data = Path("/proc/%d/stat" % pid).read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] != "Z"


def children_of(pid):
    """Live (non-zombie) child pids of pid."""
    kids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = proc_stat(int(entry))
        if st and st[1] == pid and st[0] != "Z":
            kids.add(int(entry))
    return kids


def pids_by_cmdline(needle):
    """Live pids whose command line contains needle (like `pgrep -f`)."""
    me = os.getpid()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            cmd = Path("/proc/%s/cmdline" % entry).read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if needle.encode() in cmd and alive(int(entry)):
            found.add(int(entry))
    return found


def stack_app_pids(stack):
    """Live accupredix-fcgi worker processes of THIS stack (like `pgrep -f accupredix-fcgi`,
    but never another stack's or a standalone test's): the binary must be
    BUILD_DIR/src/accupredix-fcgi and, when the environment shows it, APX_CONFIG
    must be the stack's config."""
    want_exe = os.path.realpath(stack.get("APP_BIN") or
                                os.path.join(stack["BUILD_DIR"], "src", "accupredix-fcgi"))
    want_env = ("APX_CONFIG=" + stack["APX_CONFIG"]).encode()
    by_exe, by_env = set(), set()
    for pid in pids_by_cmdline("accupredix-fcgi"):
        try:
            exe = os.readlink("/proc/%d/exe" % pid).replace(" (deleted)", "")
        except OSError:
            continue
        if os.path.basename(exe) != "accupredix-fcgi":
            continue
        try:
            environ = Path("/proc/%d/environ" % pid).read_bytes().split(b"\0")
        except OSError:
            environ = []
        if want_env in environ:
            by_env.add(pid)
        elif os.path.realpath(exe) == want_exe and not any(e.startswith(b"APX_CONFIG=") for e in environ):
            by_exe.add(pid)
    found = by_env or by_exe
    # behind mod_proxy_fcgi (FASTCGI=proxy) the app's own supervisor runs
    # too: the workers are its children, and it is not one of them
    sup = stack_supervisor_pid(stack)
    return found - {sup} if sup else found


def stack_supervisor_pid(stack):
    """The app supervisor's pid when the stack runs one (FASTCGI=proxy)."""
    path = stack.get("APP_SUPERVISOR_PIDFILE")
    if not path:
        return None
    try:
        pid = int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if alive(pid) else None


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dump_json(obj):
    return json.dumps(obj, sort_keys=True)
