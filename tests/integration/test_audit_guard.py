"""Audit guard (migration 0009): the application's database role cannot
rewrite audit history -- no INSERT into audit_log (entries enter only through
audit_append), no audit_erase, erasure only of personal fields for an erasure
request recorded in the same transaction -- checked as that role over SQL with
its own credentials.  And rewriting or cutting a log is found from outside the
database: `accupredix-admin audit anchor` writes each log's head to a file,
`audit verify --anchor FILE` names an anchored entry changed or missing and a
chain shorter than its anchor, even when the chain was recomputed so that the
plain `audit verify` passes."""

import os
import re
import subprocess
import uuid

import pytest

import apxtest
from apxtest import describe
from authhelp import ME, bearer
from orghelp import (admin_cli, cookies_off, cookies_restore, create_org, create_workspace,
                     new_member, psql)

PSQL = "/usr/lib/postgresql/15/bin/psql"
GUARDED = ("audit_append", "audit_erase", "audit_erasure_record", "audit_erasure_apply")


@pytest.fixture(scope="module", autouse=True)
def _no_cookies(http):
    old = cookies_off(http.session)
    yield
    cookies_restore(http.session, old)


def _app_password(stack):
    conf = apxtest.config_dict(stack["APX_CONFIG"])
    conninfo = apxtest.resolve_secret(conf["db.conninfo"])
    assert conninfo, "cannot read db.conninfo of %s" % stack["APX_CONFIG"]
    pws = apxtest.conninfo_passwords(conninfo)
    assert pws, "db.conninfo names no password"
    return pws[0]


def app_sql(stack, sql):
    """Run SQL (statements one by one, stop at the first error) logged in as
    the application role with its own password; never raises."""
    env = dict(os.environ, PGPASSWORD=_app_password(stack), PGCONNECT_TIMEOUT="10")
    env.pop("PGSERVICE", None)
    return subprocess.run(
        [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h", stack["PGHOST"],
         "-p", stack["PGPORT"], "-U", stack.get("DB_APP_ROLE", "apx_app"),
         "-d", stack.get("PGDATABASE", "accupredix"), "-f", "-"],
        input=sql, capture_output=True, text=True, timeout=30, env=env)


def refused(r, why):
    assert r.returncode != 0, "the app role was allowed:\n%s" % r.stdout
    assert why in r.stderr, r.stderr


def scalar(stack, sql):
    return psql(stack, sql).stdout.strip()


def audited_user(http):
    """A new account that made an org: it is the actor of audit entries."""
    u = new_member(http, "Guard %s" % uuid.uuid4().hex[:8])
    org = create_org(http, u["token"])
    return u, org


# ==================================================================== the app role over SQL

def test_app_role_can_append_through_audit_append(stack):
    r = app_sql(stack, "BEGIN;\n"
                "SELECT audit_append('platform', 'system', 'guard-test', 'test.guard', '', '',"
                " '', NULL, NULL) > 0;\n"
                "ROLLBACK;\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "t", r.stdout
    # audit_append runs as the schema owner, callable by the app role, not by PUBLIC
    assert scalar(stack, "SELECT prosecdef FROM pg_proc WHERE proname = 'audit_append'") == "t"
    public = scalar(stack, "SELECT string_agg(p.proname, ',' ORDER BY p.proname) FROM pg_proc p,"
                           " aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a"
                           " WHERE p.proname IN (%s) AND a.grantee = 0 AND"
                           " a.privilege_type = 'EXECUTE'"
                    % ", ".join("'%s'" % f for f in GUARDED))
    assert public == "", "PUBLIC may execute %s" % public


def test_app_role_cannot_insert_into_audit_log(stack):
    role = stack.get("DB_APP_ROLE", "apx_app")
    assert scalar(stack, "SELECT has_table_privilege('%s', 'audit_log', 'INSERT')" % role) == "f"
    before = scalar(stack, "SELECT count(*) FROM audit_log")
    # a well-formed next link of the platform chain, written directly
    r = app_sql(stack, "BEGIN;\n"
                "INSERT INTO audit_log (log, seq, actor_type, actor_id, action, prev_hash, hash,"
                " hash_version) SELECT 'platform', max(seq) + 1, 'operator', 'forged', 'forged',"
                " (array_agg(hash ORDER BY seq DESC))[1], '\\x00', 2 FROM audit_log"
                " WHERE log = 'platform';\n"
                "ROLLBACK;\n")
    refused(r, "permission denied")
    # nor into the erasure requests, nor through the sequences
    r = app_sql(stack, "BEGIN;\nINSERT INTO audit_erasures (kind, subject, fields) VALUES"
                " ('account', 1, '{client_addr}');\nROLLBACK;\n")
    refused(r, "permission denied")
    r = app_sql(stack, "SELECT nextval('audit_log_id_seq');\n")
    refused(r, "permission denied")
    assert scalar(stack, "SELECT count(*) FROM audit_log") == before


def test_app_role_cannot_call_audit_erase(stack):
    row = scalar(stack, "SELECT id FROM audit_log WHERE log = 'platform' AND hash_version = 2"
                        " ORDER BY seq LIMIT 1")
    assert row, "no version-2 entry in the platform log"
    before = scalar(stack, "SELECT actor_id || '|' || target FROM audit_log WHERE id = %s" % row)
    r = app_sql(stack, "BEGIN;\nSELECT audit_erase('platform', ARRAY[%s]::bigint[],"
                       " '{actor_id,target}');\nROLLBACK;\n" % row)
    refused(r, "permission denied for function audit_erase")
    assert scalar(stack, "SELECT actor_id || '|' || target FROM audit_log WHERE id = %s"
                  % row) == before


def test_wrapper_refuses_the_actor_field(http, stack):
    u, _ = audited_user(http)
    for fields in ("{actor_id}", "{client_addr,actor_id}", "{action}", "{}"):
        r = app_sql(stack, "BEGIN;\nSELECT audit_erasure_record('account', %d, '%s');\n"
                           "ROLLBACK;\n" % (u["id"], fields))
        refused(r, "only target, client_addr, before and after can be erased")
    # the personal fields themselves may be asked for (rolled back here)
    r = app_sql(stack, "BEGIN;\nSELECT audit_erasure_apply(audit_erasure_record('account', %d,"
                       " '{client_addr,target,before,after}')) >= 1;\nROLLBACK;\n" % u["id"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "t", r.stdout
    # the actor stays whatever is asked: no path of the wrapper erases it
    assert scalar(stack, "SELECT count(*) FROM audit_log WHERE actor_id = '[erased]'") == "0"


def test_wrapper_refuses_a_request_not_recorded(http, stack):
    u, org = audited_user(http)
    # no such request
    r = app_sql(stack, "BEGIN;\nSELECT audit_erasure_apply(9223372036854775807);\nROLLBACK;\n")
    refused(r, "is not an erasure request recorded in this transaction")
    # an org that is not being erased, a user that does not exist
    r = app_sql(stack, "BEGIN;\nSELECT audit_erasure_record('org', %d, '{target}');\nROLLBACK;\n"
                % org["id"])
    refused(r, "no org erasure of %d under way" % org["id"])
    r = app_sql(stack, "BEGIN;\nSELECT audit_erasure_record('account', 9223372036854775807,"
                       " '{target}');\nROLLBACK;\n")
    refused(r, "no account erasure of")
    # a request and its erasure commit only with the end of the subject
    addr = scalar(stack, "SELECT string_agg(client_addr, ',' ORDER BY id) FROM audit_log WHERE"
                         " actor_type = 'user' AND actor_id = '%d'" % u["id"])
    assert addr and "[erased]" not in addr, addr
    r = app_sql(stack, "BEGIN;\nSELECT audit_erasure_apply(audit_erasure_record('account', %d,"
                       " '{client_addr}'));\nCOMMIT;\n" % u["id"])
    refused(r, "was not erased in the same transaction")
    assert scalar(stack, "SELECT string_agg(client_addr, ',' ORDER BY id) FROM audit_log WHERE"
                         " actor_type = 'user' AND actor_id = '%d'" % u["id"]) == addr
    # a real request (an account deleted through the API) cannot be used again
    gone = new_member(http, "Gone %s" % uuid.uuid4().hex[:8])
    r = http.request("DELETE", ME, json={"password": gone["password"]},
                     headers=bearer(gone["token"]))
    assert r.status_code == 204, describe(r)
    req = scalar(stack, "SELECT id FROM audit_erasures WHERE kind = 'account' AND subject = %d"
                        " AND applied_at IS NOT NULL" % gone["id"])
    assert req, "the account deletion recorded no erasure request"
    r = app_sql(stack, "BEGIN;\nSELECT audit_erasure_apply(%s);\nROLLBACK;\n" % req)
    refused(r, "is not an erasure request recorded in this transaction")
    assert admin_cli(stack, "audit", "verify").returncode == 0


# ==================================================================== anchors

def org_log_with_entries(http, n=3):
    """A new org whose own log has at least N entries: (log, entry count)."""
    u = new_member(http, "Anchor %s" % uuid.uuid4().hex[:8])
    org = create_org(http, u["token"], plan="growth")
    for _ in range(n):
        create_workspace(http, u["token"], org["slug"])
    return "org:%d" % org["id"]


def anchor(stack, path):
    r = admin_cli(stack, "audit", "anchor", "--out", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def lines_of(path):
    return [l.split(" ") for l in path.read_text().splitlines()]


def heads(stack):
    out = psql(stack, "SELECT log, seq, encode(hash, 'hex') FROM (SELECT DISTINCT ON (log) log,"
                      " seq, hash FROM audit_log ORDER BY log, seq DESC) h").stdout
    return {l.split("|")[0]: l.split("|")[1:] for l in out.split()}


def verify(stack, *extra):
    return admin_cli(stack, "audit", "verify", *extra)


RECHAIN = r"""
SET session_replication_role = replica;
BEGIN;
UPDATE audit_log SET target = %(target)s WHERE log = '%(log)s' AND seq = %(seq)d;
DO $$
DECLARE
	r audit_log;
	prev bytea;
BEGIN
	SELECT hash INTO prev FROM audit_log WHERE log = '%(log)s' AND seq = %(seq)d - 1;
	FOR r IN SELECT * FROM audit_log WHERE log = '%(log)s' AND seq >= %(seq)d ORDER BY seq LOOP
		r.prev_hash := coalesce(prev, '\x'::bytea);
		r.hash := audit_digest(r.prev_hash, r);
		UPDATE audit_log SET prev_hash = r.prev_hash, hash = r.hash WHERE id = r.id;
		prev := r.hash;
	END LOOP;
END $$;
COMMIT;
"""


def rewrite(stack, log, seq, target):
    """As the superuser: the trigger off, TARGET written into entry SEQ and
    every hash from there on recomputed (the chain verifies again)."""
    lit = "'" + target.replace("'", "''") + "'"
    psql(stack, RECHAIN % {"log": log, "seq": seq, "target": lit})


def test_anchor_appends_every_head(http, stack, tmp_path):
    log = org_log_with_entries(http, 1)
    path = tmp_path / "anchors"
    r = anchor(stack, path)
    assert "anchored to %s" % path in r.stdout, r.stdout
    assert (os.stat(path).st_mode & 0o777) == 0o600
    first = lines_of(path)
    want = heads(stack)
    assert {l[1] for l in first} == set(want), (first, want)
    for tag, lg, seq, digest, at in first:
        assert tag == "apx-audit-anchor/1"
        assert [seq, digest] == want[lg], (lg, seq, digest, want[lg])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", at), at
    assert log in want
    # a second run appends, the first lines stay
    anchor(stack, path)
    again = lines_of(path)
    assert again[:len(first)] == first and len(again) == 2 * len(first)
    r = verify(stack, "--anchor", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "every one holds" in r.stdout, r.stdout
    # and to syslog
    r = admin_cli(stack, "audit", "anchor", "--syslog")
    assert r.returncode == 0 and "syslog" in r.stdout, r.stdout + r.stderr


def test_verify_anchor_names_a_rewritten_entry(http, stack, tmp_path):
    log = org_log_with_entries(http)
    path = tmp_path / "anchors"
    anchor(stack, path)
    head = int(heads(stack)[log][0])
    assert head >= 3, head
    seq = 2
    original = scalar(stack, "SELECT target FROM audit_log WHERE log = '%s' AND seq = %d"
                      % (log, seq))
    rewrite(stack, log, seq, "forged-%s" % uuid.uuid4().hex[:6])
    try:
        # the chain was recomputed: the plain check finds nothing
        r = verify(stack, "--log", log)
        assert r.returncode == 0, r.stdout + r.stderr
        r = verify(stack, "--log", log, "--anchor", str(path))
        assert r.returncode == 2, r.stdout + r.stderr
        assert re.search(r"%s:\d+: log %s seq %d: changed" % (re.escape(str(path)), log, head),
                         r.stdout), r.stdout
        # anchoring the rewritten chain again does not hide it: the older line still fails
        anchor(stack, path)
        r = verify(stack, "--anchor", str(path))
        assert r.returncode == 2, r.stdout + r.stderr
        assert "log %s seq %d: changed" % (log, head) in r.stdout, r.stdout
        assert "1 DO NOT HOLD" in r.stdout, r.stdout
    finally:
        rewrite(stack, log, seq, original)
    # restored: the anchor of the rewritten chain fails now, the first one holds again
    r = verify(stack, "--log", log, "--anchor", str(path))
    assert r.returncode == 2 and "seq %d: changed" % head in r.stdout, r.stdout
    lines = path.read_text().splitlines()
    first = tmp_path / "first"
    first.write_text("\n".join(l for l in lines[:len(lines) // 2]) + "\n")
    r = verify(stack, "--log", log, "--anchor", str(first))
    assert r.returncode == 0, r.stdout + r.stderr


def test_verify_anchor_finds_a_cut_chain(http, stack, tmp_path):
    log = org_log_with_entries(http)
    path = tmp_path / "anchors"
    anchor(stack, path)
    head = int(heads(stack)[log][0])
    keep = 1
    saved = "apx_test_cut_%s" % uuid.uuid4().hex[:12]
    psql(stack, "SET session_replication_role = replica; BEGIN;"
                " CREATE TABLE %s AS SELECT * FROM audit_log WHERE log = '%s' AND seq > %d;"
                " DELETE FROM audit_log WHERE log = '%s' AND seq > %d; COMMIT;"
         % (saved, log, keep, log, keep))
    try:
        r = verify(stack, "--log", log)
        assert r.returncode == 0, "a cut chain still verifies: %s" % r.stdout
        r = verify(stack, "--log", log, "--anchor", str(path))
        assert r.returncode == 2, r.stdout + r.stderr
        assert re.search(r"%s:\d+: log %s seq %d: shorter \(the chain ends at seq %d"
                         % (re.escape(str(path)), log, head, keep), r.stdout), r.stdout
    finally:
        psql(stack, "INSERT INTO audit_log SELECT * FROM %s; DROP TABLE %s;" % (saved, saved))
    r = verify(stack, "--log", log, "--anchor", str(path))
    assert r.returncode == 0, r.stdout + r.stderr


def test_verify_anchor_names_a_missing_entry(http, stack, tmp_path):
    log = org_log_with_entries(http)
    # an anchor at seq 2, inside the chain; then that entry is removed
    one = tmp_path / "one"
    digest = scalar(stack, "SELECT encode(hash, 'hex') FROM audit_log WHERE log = '%s' AND seq = 2"
                    % log)
    one.write_text("apx-audit-anchor/1 %s 2 %s 2027-01-31T12:00:00Z\n" % (log, digest))
    r = verify(stack, "--log", log, "--anchor", str(one))
    assert r.returncode == 0, r.stdout + r.stderr
    saved = "apx_test_gap_%s" % uuid.uuid4().hex[:12]
    psql(stack, "SET session_replication_role = replica; BEGIN;"
                " CREATE TABLE %s AS SELECT * FROM audit_log WHERE log = '%s' AND seq = 2;"
                " DELETE FROM audit_log WHERE log = '%s' AND seq = 2; COMMIT;"
         % (saved, log, log))
    try:
        r = verify(stack, "--log", log, "--anchor", str(one))
        assert r.returncode == 2, r.stdout + r.stderr
        assert "%s:1: log %s seq 2: missing" % (one, log) in r.stdout, r.stdout
    finally:
        psql(stack, "INSERT INTO audit_log SELECT * FROM %s; DROP TABLE %s;" % (saved, saved))
    assert verify(stack, "--log", log, "--anchor", str(one)).returncode == 0


@pytest.mark.parametrize("text,line", [
    ("apx-audit-anchor/1 platform 1 %s 2027-01-31T12:00:00Z\nnot an anchor\n" % ("0" * 64), 2),
    ("# ok\napx-audit-anchor/1 platform 1 %s 2027-01-31T12:00:00Z\n" % ("A" * 64), 2),
    ("apx-audit-anchor/1 org:1;drop 1 %s 2027-01-31T12:00:00Z\n" % ("0" * 64), 1),
    ("x" * 5000 + "\n", 1),
], ids=["garbage", "upper-hex", "bad-log", "long-line"])
def test_verify_anchor_refuses_a_malformed_file(stack, tmp_path, text, line):
    path = tmp_path / "anchors"
    path.write_text(text)
    r = verify(stack, "--anchor", str(path))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "%s:%d:" % (path, line) in r.stderr, r.stderr


def test_verify_anchor_needs_an_anchor(stack, tmp_path):
    path = tmp_path / "empty"
    path.write_text("# nothing yet\n")
    r = verify(stack, "--anchor", str(path))
    assert r.returncode == 1 and "no anchor" in r.stderr, r.stdout + r.stderr
    r = verify(stack, "--anchor", str(tmp_path / "absent"))
    assert r.returncode == 1, r.stdout + r.stderr


def test_anchor_usage(stack, tmp_path):
    for args in (("anchor", "--log", "platform"), ("anchor", "--out"),
                 ("verify", "--anchor"), ("verify", "--out", "x")):
        r = admin_cli(stack, "audit", *args)
        assert r.returncode == 1 and "usage" in r.stderr, (args, r.stderr)
    link = tmp_path / "link"
    os.symlink(tmp_path / "target", link)
    r = admin_cli(stack, "audit", "anchor", "--out", str(link))
    assert r.returncode == 1, r.stdout + r.stderr
    assert not (tmp_path / "target").exists()
