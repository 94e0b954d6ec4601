"""Tenant databases (docs/api.md "Routes", POST /api/v1/orgs; docs/contract.md
regions.*, tenant.max_connections, `accupredix-admin migrate|tenant cleanup`):
one database and one role per org on its region's PostgreSQL server, nobody
else allowed in; creation is all or nothing (a region server down, a refused
audit entry); interrupted creations are finished by the admin CLI; a worker's
LRU of tenant connections; no tenant password or verifier in any log.

The region clusters are reached as postgres (REGION_<R>_PGHOST/PGPORT of
stack.env).  Tests that stop a region's cluster always start it again.
"""

import os
import random
import re
import secrets
import subprocess
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

import apxtest
from apxtest import assert_problem, config_dict, describe, run_stack_script
from authhelp import bearer, log_files
from conftest import Client
from datahelp import (PSQL, content, region_conn, region_psql, tenant_db, to_csv, upload,
                      uploads_url)
from orghelp import (admin_cli, cookies_off, cookies_restore, create_org, create_org_raw,
                     default_workspace, new_member, org_url, psql, unique_slug)
from test_audit_atomic import _failed_cleanly

REGIONS = ("eu", "us")
TENANT_TABLES = {"schema_migrations", "uploads", "upload_rows", "upload_personal", "forecasts",
                 "connector_events", "webhook_events", "sales_records", "sync_state",
                 "privacy_requests"}


@pytest.fixture(scope="module", autouse=True)
def _no_cookies(http):
    old = cookies_off(http.session)
    yield
    cookies_restore(http.session, old)


@pytest.fixture(scope="module", autouse=True)
def _regions(stack):
    missing = [r for r in REGIONS if not stack.get("REGION_%s_PGHOST" % r.upper())]
    if missing:
        pytest.skip("stack.env lacks the data regions %s (REGION_*_PGHOST)" % missing)


@pytest.fixture
def owner(http):
    return new_member(http, "Tenant Owner")


# ------------------------------------------------------------------ helpers

def db_exists(stack, region, name):
    return region_psql(stack, region, "SELECT count(*) FROM pg_database WHERE datname = '%s'"
                       % name).stdout.strip() == "1"


def role_exists(stack, region, name):
    return region_psql(stack, region, "SELECT count(*) FROM pg_roles WHERE rolname = '%s'"
                       % name).stdout.strip() == "1"


def control_rows(stack, slug):
    """(orgs rows, tenant_provisioning rows) of a slug on the control plane."""
    out = psql(stack, "SELECT (SELECT count(*) FROM orgs WHERE slug = '%s'), "
               "(SELECT count(*) FROM tenant_provisioning WHERE slug = '%s')"
               % (slug, slug)).stdout.strip()
    a, b = out.split("|")
    return int(a), int(b)


def org_seq(stack):
    """The last id orgs_id_seq handed out (reservations take ids from it)."""
    return int(psql(stack, "SELECT last_value FROM orgs_id_seq").stdout.strip())


def vault_keys_of_ids(stack, lo, hi):
    """vault_data_keys rows owned by org:<id> for lo < id <= hi."""
    owners = ",".join("'org:%d'" % i for i in range(lo + 1, hi + 1)) or "''"
    return int(psql(stack, "SELECT count(*) FROM vault_data_keys WHERE owner IN (%s)"
                    % owners).stdout.strip())


def sample_csv(marker, rows=3):
    """CSV text (CRLF, as the server writes it back) naming the marker."""
    out = [["day", "label", "sales"]]
    for i in range(1, rows + 1):
        out.append(["2024-01-%02d" % i, "%s-%d" % (marker, i), str(10 * i + len(marker))])
    return to_csv(out)


def psql_as(stack, region, role, password, db, sql, host=None):
    """psql as a tenant role with a password (socket, or TCP with host): the
    CompletedProcess, never raising."""
    h, port = region_conn(stack, region)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGPASSWORD=password, PGCONNECT_TIMEOUT="10")
    return subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h", host or h,
                           "-p", str(port), "-U", role, "-d", db, "-c", sql],
                          capture_output=True, text=True, timeout=60, env=env)


def round_trip(http, token, slug, marker=None):
    """Upload a CSV to the org's default workspace and read it back (content and
    metadata); the upload."""
    h = bearer(token)
    ws = default_workspace(http, token, slug)["id"]
    marker = marker or uuid.uuid4().hex[:10]
    text = sample_csv(marker)
    up = upload(http, h, slug, ws, text, name="rt-" + marker)
    r = content(http, h, slug, ws, up["id"])
    assert r.status_code == 200, describe(r)
    assert r.text == text, describe(r)
    r = http.get(uploads_url(slug, ws, up["id"]), headers=h)
    assert r.status_code == 200 and r.json()["upload"]["name"] == "rt-" + marker, describe(r)
    return up


@contextmanager
def stopped_region(stack, region):
    """The region's cluster is down inside; always started again (and waited
    for) afterwards, like apxtest.postgres_stopped for the control plane."""
    run_stack_script("pg-stop", stack["STACK_DIR"], "--region", region)
    try:
        yield
    finally:
        run_stack_script("pg-start", stack["STACK_DIR"], "--region", region)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if region_psql(stack, region, "SELECT 1", check=False).returncode == 0:
                break
            time.sleep(0.2)


# ==================================================================== where the database is

def test_each_org_gets_its_own_database_and_role_on_its_regions_cluster(http, stack, owner):
    orgs = {"eu": create_org(http, owner["token"]),            # the default region
            "us": create_org(http, owner["token"], region="us")}
    assert orgs["eu"]["region"] == "eu" and orgs["us"]["region"] == "us", orgs
    for region, org in orgs.items():
        name = tenant_db(org["slug"])
        row = region_psql(stack, region, """
            SELECT d.datname, pg_get_userbyid(d.datdba),
                   has_database_privilege('public', d.datname, 'CONNECT'),
                   has_database_privilege('apx_provision', d.datname, 'CONNECT'),
                   r.rolcanlogin, r.rolsuper, r.rolcreatedb, r.rolcreaterole,
                   a.rolpassword LIKE 'SCRAM-SHA-256$%%'
            FROM pg_database d JOIN pg_roles r ON r.rolname = d.datname
                 JOIN pg_authid a ON a.rolname = d.datname
            WHERE d.datname = '%s'""" % name).stdout.strip()
        assert row == "%s|%s|f|f|t|f|f|f|t" % (name, name), \
            "region %s: database/role %s: %r (want: owned by its own role, no CONNECT for " \
            "PUBLIC or the provisioning role, a plain LOGIN role with a SCRAM verifier)" % (
                region, name, row)
        other = "us" if region == "eu" else "eu"
        assert not db_exists(stack, other, name) and not role_exists(stack, other, name), \
            "org of region %s also has %s on the %s cluster" % (region, name, other)
        # the tenant schema, owned by the role, at the latest version
        tables = region_psql(stack, region, "SELECT tablename || ':' || tableowner FROM pg_tables "
                             "WHERE schemaname = 'public'", db=name).stdout.split()
        assert {t.split(":")[0] for t in tables} == TENANT_TABLES, tables
        assert {t.split(":")[1] for t in tables} == {name}, tables
        versions = region_psql(stack, region, "SELECT string_agg(version::text, ',' ORDER BY "
                               "version) FROM schema_migrations", db=name).stdout.strip()
        want = ",".join(str(i + 1) for i in range(len(list(
            (apxtest.REPO_ROOT / "sql" / "tenant").glob("[0-9]*.sql")))))
        assert versions == want, "tenant schema_migrations of %s: %r" % (name, versions)
        # the control plane keeps the password sealed, never in clear
        sealed = psql(stack, "SELECT tenant_secret IS NOT NULL, tenant_db FROM orgs WHERE id = %d"
                      % org["id"]).stdout.strip()
        assert sealed == "t|%s" % name, sealed
        # and it works through the API
        round_trip(http, owner["token"], org["slug"])


def test_unknown_region_is_refused_and_creates_nothing(http, stack, owner):
    slug = unique_slug("reg")
    r = create_org_raw(http, owner["token"], slug=slug, region="mars")
    assert_problem(r, 422, slug="invalid-field", field="region", stack=stack)
    assert control_rows(stack, slug) == (0, 0)
    for region in REGIONS:
        assert not db_exists(stack, region, tenant_db(slug)), region


def test_a_tenant_role_cannot_connect_to_another_tenants_database(http, stack, owner):
    """Two throwaway orgs A and B (eu): A's role, given a known password by
    postgres, is refused by B's database and let into its own. A's original
    SCRAM verifier is put back afterwards (and A works again through the app)."""
    a = create_org(http, owner["token"])
    b = create_org(http, owner["token"])
    ra, rb = tenant_db(a["slug"]), tenant_db(b["slug"])
    saved = region_psql(stack, "eu", "SELECT rolpassword FROM pg_authid WHERE rolname = '%s'"
                        % ra).stdout.strip()
    assert saved.startswith("SCRAM-SHA-256$"), "A's role has no SCRAM verifier"
    pw = secrets.token_hex(24)
    region_psql(stack, "eu", "ALTER ROLE \"%s\" PASSWORD '%s'" % (ra, pw))
    try:
        for host in (None, "127.0.0.1"):        # socket and TCP
            p = psql_as(stack, "eu", ra, pw, rb, "SELECT count(*) FROM uploads", host=host)
            assert p.returncode != 0, "A's role read B's database (host %s): %r" % (host, p.stdout)
            assert "permission denied for database" in p.stderr, p.stderr
            p = psql_as(stack, "eu", ra, pw, ra, "SELECT current_user || '|' || "
                        "current_database() || '|' || (SELECT count(*) FROM uploads)", host=host)
            assert p.returncode == 0, "A's role cannot reach its own database: %s" % p.stderr
            assert p.stdout.strip() == "%s|%s|0" % (ra, ra), p.stdout
        # B's role is not A's: the known password does not open B's role either
        p = psql_as(stack, "eu", rb, pw, rb, "SELECT 1", host="127.0.0.1")
        assert p.returncode != 0 and "password authentication failed" in p.stderr, p.stderr
    finally:
        region_psql(stack, "eu", "ALTER ROLE \"%s\" PASSWORD '%s'" % (ra, saved))
    round_trip(http, owner["token"], a["slug"])


# ==================================================================== creation is all or nothing

@pytest.mark.pgstop
def test_org_creation_with_its_region_down_is_503_and_leaves_nothing(http, stack, owner):
    slug = unique_slug("down")
    name = tenant_db(slug)
    before = org_seq(stack)
    with stopped_region(stack, "us"):
        t0 = time.monotonic()
        r = create_org_raw(http, owner["token"], slug=slug, region="us")
        took = time.monotonic() - t0
        body = assert_problem(r, 503, slug="database-unavailable", stack=stack)
        assert body["type"].endswith("/database-unavailable"), body
        assert took < 15, "the refusal took %.1fs" % took
        after = org_seq(stack)
        assert control_rows(stack, slug) == (0, 0), "an org or reservation was left"
        assert after > before, "no id was reserved (did the request reach the tenant step?)"
        assert vault_keys_of_ids(stack, before, after) == 0, \
            "a vault data key of the would-be org (ids %d..%d) was left" % (before + 1, after)
        r = http.get(org_url(slug), headers=bearer(owner["token"]))
        assert_problem(r, 404, slug="not-found")
        # the other region keeps working meanwhile
        round_trip(http, owner["token"], create_org(http, owner["token"])["slug"])
    assert not db_exists(stack, "us", name), "the us cluster has database %s" % name
    assert not role_exists(stack, "us", name), "the us cluster has role %s" % name
    # the slug is free again and the org works
    org = create_org(http, owner["token"], slug=slug, region="us")
    assert org["region"] == "us", org
    assert db_exists(stack, "us", name)
    round_trip(http, owner["token"], slug)


def test_org_creation_whose_audit_is_refused_leaves_no_database(http, stack, owner,
                                                                refuse_audit):  # noqa: F811
    before = org_seq(stack)
    refuse_audit("org.create")
    for region in REGIONS:
        s = unique_slug("noaudit")
        r = create_org_raw(http, owner["token"], slug=s, region=region)
        _failed_cleanly(r, stack)
        assert r.status_code == 500, describe(r)
        assert control_rows(stack, s) == (0, 0), "org or reservation left for %s" % s
        assert not db_exists(stack, region, tenant_db(s)), \
            "database %s left on %s" % (tenant_db(s), region)
        assert not role_exists(stack, region, tenant_db(s)), \
            "role %s left on %s" % (tenant_db(s), region)
    assert vault_keys_of_ids(stack, before, org_seq(stack)) == 0, \
        "a vault data key of an org that was never written was left"


def test_concurrent_creations_of_one_slug_make_one_org_and_one_database(http, stack, owner):
    slug = unique_slug("race")
    others = [owner] + [new_member(http, "Racer") for _ in range(3)]
    results = [None] * len(others)

    def go(i):
        c = Client(stack["BASE_URL"])
        try:
            results[i] = create_org_raw(c, others[i]["token"], slug=slug, region="us")
        finally:
            c.close()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(others))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    codes = sorted(r.status_code for r in results)
    assert codes == [201] + [409] * (len(others) - 1), [describe(r) for r in results]
    for r in results:
        if r.status_code == 409:
            assert_problem(r, 409, slug="slug-taken", stack=stack)
    winner = others[[r.status_code for r in results].index(201)]
    assert control_rows(stack, slug) == (1, 0)
    assert db_exists(stack, "us", tenant_db(slug)) and not db_exists(stack, "eu", tenant_db(slug))
    round_trip(http, winner["token"], slug)


def test_a_database_of_that_name_that_is_not_ours_is_left_alone(http, stack, owner):
    """A database and role accupredix_t_<slug> already on the region's server
    (not made by this creation): the creation is refused (409 slug-taken),
    and what was there is not dropped or changed."""
    slug = unique_slug("squat")
    name = tenant_db(slug)
    region_psql(stack, "eu", "CREATE ROLE \"%s\" LOGIN" % name)
    try:
        region_psql(stack, "eu", "CREATE DATABASE \"%s\" OWNER \"%s\"" % (name, name))
        region_psql(stack, "eu", "CREATE TABLE keepme (x int); INSERT INTO keepme VALUES (7)",
                    db=name)
        r = create_org_raw(http, owner["token"], slug=slug)
        assert_problem(r, 409, slug="slug-taken", stack=stack)
        assert control_rows(stack, slug) == (0, 0), "an org or reservation was left"
        assert region_psql(stack, "eu", "SELECT x FROM keepme", db=name).stdout.strip() == "7", \
            "the existing database was changed"
        assert role_exists(stack, "eu", name)
    finally:
        region_psql(stack, "eu", "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)" % name, check=False)
        region_psql(stack, "eu", "DROP ROLE IF EXISTS \"%s\"" % name, check=False)


# ==================================================================== the admin CLI

def test_migrate_again_finds_every_tenant_database_current(http, stack, owner):
    create_org(http, owner["token"])
    create_org(http, owner["token"], region="us")
    p = admin_cli(stack, "migrate")
    assert p.returncode == 0, p.stdout + p.stderr
    m = re.search(r"tenant databases: (\d+) current, (\d+) failed \(schema version (\d+)\)",
                  p.stdout)
    assert m, "migrate did not report the tenant databases: %r" % p.stdout
    active = int(psql(stack, "SELECT count(*) FROM orgs WHERE tenant_secret IS NOT NULL "
                      "AND status = 'active'").stdout.strip())
    latest = len(list((apxtest.REPO_ROOT / "sql" / "tenant").glob("[0-9]*.sql")))
    assert int(m.group(2)) == 0 and int(m.group(3)) == latest, p.stdout
    assert int(m.group(1)) >= active >= 2, (p.stdout, active)


def test_tenant_cleanup_finishes_an_interrupted_creation(stack):
    """A reservation an hour old whose role and database exist (the process
    died before the org was written) is finished by `tenant cleanup`; a fresh
    one (a creation in progress) is left alone unless --older 0."""
    old_slug = "cleanup_" + uuid.uuid4().hex[:16]
    new_slug = "cleanup_" + uuid.uuid4().hex[:16]
    try:
        for slug, age in ((old_slug, "1 hour"), (new_slug, "0 seconds")):
            name = tenant_db(slug)
            psql(stack, "INSERT INTO tenant_provisioning (slug, org_id, region, tenant_db, "
                 "started_at) VALUES ('%s', nextval('orgs_id_seq'), 'eu', '%s', now() - "
                 "interval '%s')" % (slug, name, age))
            region_psql(stack, "eu", "CREATE ROLE \"%s\" LOGIN" % name)
            region_psql(stack, "eu", "CREATE DATABASE \"%s\" OWNER \"%s\"" % (name, name))
            region_psql(stack, "eu", "REVOKE ALL ON DATABASE \"%s\" FROM PUBLIC" % name)
        p = admin_cli(stack, "tenant", "cleanup")
        assert p.returncode == 0, p.stdout + p.stderr
        old, new = tenant_db(old_slug), tenant_db(new_slug)
        assert not db_exists(stack, "eu", old), "cleanup left database %s" % old
        assert not role_exists(stack, "eu", old), "cleanup left role %s" % old
        assert control_rows(stack, old_slug) == (0, 0), "cleanup left the reservation"
        assert db_exists(stack, "eu", new) and role_exists(stack, "eu", new), \
            "cleanup dropped a creation still in progress (younger than 600 s)"
        assert control_rows(stack, new_slug) == (0, 1)
        p = admin_cli(stack, "tenant", "cleanup", "--older", "0")
        assert p.returncode == 0, p.stdout + p.stderr
        assert not db_exists(stack, "eu", new) and not role_exists(stack, "eu", new)
        assert control_rows(stack, new_slug) == (0, 0)
    finally:
        for slug in (old_slug, new_slug):
            name = tenant_db(slug)
            region_psql(stack, "eu", "DROP DATABASE IF EXISTS \"%s\"" % name, check=False)
            region_psql(stack, "eu", "DROP ROLE IF EXISTS \"%s\"" % name, check=False)
            psql(stack, "DELETE FROM tenant_provisioning WHERE slug = '%s'" % slug, check=False)


def test_migrate_does_not_recreate_an_erased_orgs_database(http, stack, owner):
    """docs/api.md Privacy: erasing an org drops its tenant database and role
    and destroys its data keys; the org stays as a tombstone. `migrate`
    ("creates the tenant database of any org that has none yet") must not
    bring them back for the tombstone."""
    org = create_org(http, owner["token"], plan="growth")
    name = tenant_db(org["slug"])
    r = http.post(org_url(org["slug"], "privacy", "erasure"),
                  json={"scope": "org", "confirm": org["slug"]}, headers=bearer(owner["token"]))
    assert r.status_code == 200, describe(r)
    assert not db_exists(stack, "eu", name) and not role_exists(stack, "eu", name)
    assert psql(stack, "SELECT count(*) FROM vault_data_keys WHERE owner = 'org:%d'"
                % org["id"]).stdout.strip() == "0"
    p = admin_cli(stack, "migrate")
    try:
        assert p.returncode == 0, p.stdout + p.stderr
        assert not db_exists(stack, "eu", name), \
            "migrate re-created the tenant database of erased org %s:\n%s" % (
                org["slug"], "\n".join(l for l in p.stderr.splitlines() if "NOTICE" not in l))
        assert not role_exists(stack, "eu", name), "migrate re-created the erased org's role"
        assert psql(stack, "SELECT count(*) FROM vault_data_keys WHERE owner = 'org:%d'"
                    % org["id"]).stdout.strip() == "0", \
            "migrate made a new vault data key for the erased org"
        assert psql(stack, "SELECT status || '|' || (tenant_secret IS NULL) FROM orgs "
                    "WHERE id = %d" % org["id"]).stdout.strip() == "erased|true"
    finally:
        # leave no resurrected database behind for later tests and migrate runs
        region_psql(stack, "eu", "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)" % name,
                    check=False)
        region_psql(stack, "eu", "DROP ROLE IF EXISTS \"%s\"" % name, check=False)
        psql(stack, "UPDATE orgs SET tenant_secret = NULL WHERE id = %d" % org["id"], check=False)
        psql(stack, "DELETE FROM vault_data_keys WHERE owner = 'org:%d'" % org["id"], check=False)


# ==================================================================== the worker's LRU

def test_more_orgs_than_tenant_connections(http, stack, owner):
    """More orgs than tenant.max_connections (default 8) used by one client:
    every answer is the right org's data (connections are evicted and
    opened again)."""
    conf_max = int(config_dict(stack["APX_CONFIG"]).get("tenant.max_connections", "8"))
    n = conf_max + 4
    h = bearer(owner["token"])
    orgs = []
    for i in range(n):
        org = create_org(http, owner["token"], region=REGIONS[i % 2])
        ws = default_workspace(http, owner["token"], org["slug"])["id"]
        marker = "lru%02d%s" % (i, uuid.uuid4().hex[:6])
        text = sample_csv(marker, rows=2 + i)
        up = upload(http, h, org["slug"], ws, text, name=marker)
        orgs.append((org, ws, up, text, marker))
    order = orgs * 2
    random.shuffle(order)
    wrong = []
    for org, ws, up, text, marker in order:
        r = content(http, h, org["slug"], ws, up["id"])
        if r.status_code != 200 or r.text != text:
            wrong.append("content of %s: %d %r" % (org["slug"], r.status_code, r.text[:200]))
        r = http.get(uploads_url(org["slug"], ws), headers=h)
        got = [u["name"] for u in r.json().get("uploads", [])] if r.status_code == 200 else r.text
        if got != [marker]:
            wrong.append("list of %s: %d %r" % (org["slug"], r.status_code, got))
    assert not wrong, "\n".join(wrong)


# ==================================================================== logs

@pytest.mark.run_last
def test_no_tenant_password_or_verifier_in_any_log(stack):
    verifiers = []
    for region in REGIONS:
        out = region_psql(stack, region, "SELECT rolpassword FROM pg_authid WHERE rolname LIKE "
                          "'accupredix\\_t\\_%' AND rolpassword IS NOT NULL").stdout.split()
        for v in out:
            verifiers.append(v)
            # SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>
            verifiers.extend(p for p in re.split(r"[$:]", v) if len(p) >= 20)
    files = log_files(stack)
    pg_logs = [f for f in files if f.name.startswith("postgres")]
    assert pg_logs, "no postgres log found among %s" % files
    bad = []
    for f in files:
        try:
            text = Path(f).read_text(errors="replace")
        except OSError:
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            if "SCRAM-SHA-256$" in line:
                bad.append("%s:%d: a SCRAM verifier: %s" % (f, lineno, line[:200]))
            if f in pg_logs and re.search(r"PASSWORD\s*'", line, re.I):
                bad.append("%s:%d: a password statement: %s" % (f, lineno, line[:200]))
            for v in verifiers:
                if v in line:
                    bad.append("%s:%d: a tenant role's verifier (part): %s" % (f, lineno,
                                                                              line[:200]))
                    break
    assert not bad, "\n".join(bad[:20])
