"""Platform audit log: written with the action it records, append-only for
every role, hash-chained; `accupredix-admin audit verify` finds tampering."""

import json
import os
import subprocess
import uuid

import pytest

from authhelp import age_refresh_token

INTERNAL = "/internal/settings"


def _admin(stack, *args):
    exe = os.path.join(stack["BUILD_DIR"], "src", "accupredix-admin")
    return subprocess.run([exe, "--config", stack["APX_CONFIG"], *args],
                          capture_output=True, text=True, timeout=60)


def _psql(stack, sql, check=True):
    return subprocess.run(
        ["/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At",
         "-h", stack["PGHOST"], "-p", stack["PGPORT"], "-U", "postgres",
         "-d", stack.get("PGDATABASE", "accupredix"), "-c", sql],
        capture_output=True, text=True, timeout=30, check=check)


def _entries(stack, action):
    out = _psql(stack, "SELECT coalesce(json_agg(json_build_object('id', id, 'seq', seq, "
                "'actor_type', actor_type, 'actor_id', actor_id, 'target', target, "
                "'client_addr', client_addr, 'request_id', request_id, 'before', before, "
                "'after', after) ORDER BY seq), '[]') FROM audit_log "
                "WHERE log = 'platform' AND action = '%s'" % action).stdout.strip()
    return json.loads(out)


def _secret(stack):
    return {"X-Internal-Secret": stack["INTERNAL_SECRET"]}


def test_verify_intact_after_start(stack):
    r = _admin(stack, "audit", "verify")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "intact" in r.stdout
    # the stack's own operator actions are in the platform log
    assert _entries(stack, "jwt.rotate"), "jwt rotate was not audited"
    su = _entries(stack, "user.superuser_created")
    assert su and su[0]["actor_type"] == "operator", su


def test_settings_change_is_audited_with_before_and_after(stack, http):
    cur = http.get(INTERNAL, headers=_secret(stack)).json()["settings"]["access_token_lifetime"]
    new = 601 if cur != 601 else 602
    r = http.patch(INTERNAL, headers=_secret(stack), json={"access_token_lifetime": new})
    assert r.status_code == 200, r.text
    try:
        rid = r.headers["X-Request-Id"]
        got = [e for e in _entries(stack, "settings.update") if e["request_id"] == rid]
        assert len(got) == 1, got
        assert got[0]["before"]["access_token_lifetime"] == cur
        assert got[0]["after"]["access_token_lifetime"] == new
        assert got[0]["actor_type"] == "operator"
    finally:
        http.patch(INTERNAL, headers=_secret(stack), json={"access_token_lifetime": cur})


def test_refused_settings_change_writes_no_entry(stack, http):
    before = len(_entries(stack, "settings.update"))
    r = http.patch(INTERNAL, headers=_secret(stack), json={"access_token_lifetime": 5})
    assert r.status_code == 422
    assert len(_entries(stack, "settings.update")) == before


def test_append_only_for_every_role(stack):
    role = stack.get("DB_APP_ROLE", "apx_app")
    for priv in ("UPDATE", "DELETE", "TRUNCATE"):
        assert _psql(stack, "SELECT has_table_privilege('%s', 'audit_log', '%s')"
                     % (role, priv)).stdout.strip() == "f", priv
    # entries enter only through audit_append (tests/integration/test_audit_guard.py)
    assert _psql(stack, "SELECT has_table_privilege('%s', 'audit_log', 'INSERT')"
                 % role).stdout.strip() == "f"
    # even the superuser is stopped by the trigger
    for sql in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log",
                "TRUNCATE audit_log"):
        r = _psql(stack, sql, check=False)
        assert r.returncode != 0 and "append-only" in r.stderr, (sql, r.stderr)


def test_tampering_is_found_and_named(stack):
    row = _psql(stack, "SELECT id, seq, action FROM audit_log WHERE log = 'platform' "
                "ORDER BY seq LIMIT 1").stdout.strip().split("|")
    rid, seq, action = row[0], row[1], row[2]
    tamper = ("SET session_replication_role = replica; "
              "UPDATE audit_log SET action = '%s' WHERE id = %s")
    _psql(stack, tamper % ("tampered", rid))
    try:
        r = _admin(stack, "audit", "verify")
        assert r.returncode == 2, r.stdout + r.stderr
        assert "log platform: first broken entry seq %s (id %s)" % (seq, rid) in r.stdout, r.stdout
        assert "changed" in r.stdout
    finally:
        _psql(stack, tamper % (action, rid))
    r = _admin(stack, "audit", "verify")
    assert r.returncode == 0, r.stdout


def test_refresh_reuse_is_audited(stack, http):
    email = "audit-%s@example.test" % uuid.uuid4().hex[:12]
    pw = "Audit-%s-zq" % uuid.uuid4().hex
    assert http.post("/api/v1/auth/register",
                     json={"email": email, "password": pw, "name": "Audit Test"}).status_code == 202
    r = http.post("/api/v1/auth/login", json={"email": email, "password": pw})
    assert r.status_code == 200, r.text
    body = r.json()
    uid = str(body["user"]["id"])
    r1 = body["refresh_token"]
    assert http.post("/api/v1/auth/refresh", json={"refresh_token": r1}).status_code == 200
    age_refresh_token(r1)       # past the second-tab grace
    r = http.post("/api/v1/auth/refresh", json={"refresh_token": r1})
    assert r.status_code == 401
    got = [e for e in _entries(stack, "session.refresh_reuse")
           if e["request_id"] == r.headers["X-Request-Id"]]
    assert len(got) == 1 and got[0]["actor_id"] == uid and got[0]["target"].startswith("session:"), got


def test_password_change_is_audited(stack, http):
    email = "audit-pw-%s@example.test" % uuid.uuid4().hex[:12]
    pw = "Audit-%s-zq" % uuid.uuid4().hex
    assert http.post("/api/v1/auth/register",
                     json={"email": email, "password": pw, "name": "Audit Test"}).status_code == 202
    r = http.post("/api/v1/auth/login", json={"email": email, "password": pw})
    tok = r.json()["access_token"]
    uid = str(r.json()["user"]["id"])
    r = http.post("/api/v1/me/password", headers={"Authorization": "Bearer " + tok},
                  json={"current_password": pw, "new_password": "New-%s-qz" % uuid.uuid4().hex})
    assert r.status_code == 204, r.text
    got = [e for e in _entries(stack, "user.password_changed")
           if e["request_id"] == r.headers["X-Request-Id"]]
    assert len(got) == 1 and got[0]["actor_id"] == uid, got
    assert _admin(stack, "audit", "verify").returncode == 0


def test_audit_verify_usage(stack):
    r = _admin(stack, "audit", "nonsense")
    assert r.returncode != 0 and "usage" in r.stderr


@pytest.mark.parametrize("log", ["platform", "org:999999"])
def test_verify_one_log(stack, log):
    r = _admin(stack, "audit", "verify", "--log", log)
    assert r.returncode == 0, r.stdout + r.stderr
