"""accupredix-admin migrate: idempotent, reports status, refuses a newer schema;
/readyz follows the schema."""

import os
import subprocess

import pytest

from apxtest import assert_problem, poll


def _admin(stack, *args):
    exe = os.path.join(stack["BUILD_DIR"], "src", "accupredix-admin")
    return subprocess.run([exe, "--config", stack["APX_CONFIG"], *args],
                          capture_output=True, text=True, timeout=60)


def _psql(stack, sql):
    return subprocess.run(
        ["/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At",
         "-h", stack["PGHOST"], "-p", stack["PGPORT"], "-U", "postgres",
         "-d", stack.get("PGDATABASE", "accupredix"), "-c", sql],
        capture_output=True, text=True, timeout=30, check=True).stdout.strip()


def test_migrate_twice_applies_nothing_new(stack):
    r = _admin(stack, "migrate")
    assert r.returncode == 0, r.stderr
    assert "0 applied now" in r.stdout, r.stdout
    r = _admin(stack, "migrate", "--status")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == "current", r.stdout


def test_schema_migrations_match_binary(stack):
    known = int(_admin(stack, "migrate", "--status").stdout.split("known:")[1].split()[0])
    rows = _psql(stack, "SELECT version FROM schema_migrations ORDER BY version").split()
    assert [int(v) for v in rows] == list(range(1, known + 1))


def test_app_role_cannot_rewrite_schema_migrations(stack):
    role = stack.get("DB_APP_ROLE", "apx_app")
    for priv in ("INSERT", "UPDATE", "DELETE"):
        got = _psql(stack, "SELECT has_table_privilege('%s', 'schema_migrations', '%s')"
                    % (role, priv))
        assert got == "f", (priv, got)
    assert _psql(stack, "SELECT has_table_privilege('%s', 'platform_settings', 'UPDATE')"
                 % role) == "t"


def test_newer_schema_is_refused_and_readyz_says_so(stack, http):
    _psql(stack, "INSERT INTO schema_migrations (version, name) VALUES (99999, 'from_the_future')")
    try:
        r = _admin(stack, "migrate")
        assert r.returncode != 0
        assert "99999" in r.stderr and "refusing" in r.stderr, r.stderr
        r = _admin(stack, "migrate", "--status")
        assert r.returncode != 0
        assert "newer" in r.stdout, r.stdout
        resp = http.get("/readyz")
        assert_problem(resp, 503, "migrations-pending", stack=stack)
    finally:
        _psql(stack, "DELETE FROM schema_migrations WHERE version = 99999")
    poll(lambda: http.get("/readyz").status_code == 200, 10, what="/readyz back to 200")


def test_missing_migration_makes_readyz_503(stack, http):
    latest = _psql(stack, "SELECT max(version) FROM schema_migrations")
    name = _psql(stack, "SELECT name FROM schema_migrations WHERE version = %s" % latest)
    _psql(stack, "DELETE FROM schema_migrations WHERE version = %s" % latest)
    try:
        assert_problem(http.get("/readyz"), 503, "migrations-pending", stack=stack)
    finally:
        _psql(stack, "INSERT INTO schema_migrations (version, name) VALUES (%s, '%s')"
              % (latest, name))
    poll(lambda: http.get("/readyz").status_code == 200, 10, what="/readyz back to 200")


@pytest.mark.parametrize("args", [["migrate", "--bogus"], ["no-such-command"]])
def test_admin_refuses_bad_usage(stack, args):
    r = _admin(stack, *args)
    assert r.returncode != 0
    assert "usage" in r.stderr
