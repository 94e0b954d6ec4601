"""Data-key rotation (`accupredix-admin vault rotate --data-keys`) and seal
budgets (README "Data-key rotation").

On a fresh stack of its own (module fixture, stopped at the end): growth
orgs with pii_encryption on and uploads with personal columns (hundreds of
sealed fields, so the re-seal takes several batches), and plain orgs
whose tenant passwords are sealed too.  While threads read the sealed
fields through the web server (download as owner and analyst, blind-index
search, other orgs' data) and upload new sealed fields, the data keys are
rotated and everything re-sealed: every answer must be right.  Then:
every sealed value names its owner's new key, the blind indexes did not
change, old keys are kept (a value sealed with one still opens), the run
is audited, a run for one org touches only it, seal counts are never
below the seals made, the warning past 2^28, and a key that reaches its
limit is replaced by the app itself.
"""

import json
import os
import random
import re
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

import apxtest
from apxtest import describe
from authhelp import bearer
from conftest import Client
from datahelp import content, enable_pii, list_uploads, tenant_sql, to_csv, upload, uploads_url
from orghelp import add_member, cookies_off, create_org, default_workspace, new_member

pytestmark = [pytest.mark.slow]

BIG_ROWS = 300          # sealed fields: 2 per row -> several batches of 50
OTHER_ORGS = 4
THREADS = 4
AFTER_SECONDS = 3
LIMIT = 1 << 31
WARN = 1 << 28
PSQL = "/usr/lib/postgresql/15/bin/psql"


# ------------------------------------------------------------------ the stack of this module

def _clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("APX_")}


def _admin(st, *args):
    exe = os.path.join(st["BUILD_DIR"], "src", "accupredix-admin")
    return subprocess.run([exe, "--config", st["APX_CONFIG"], *args], capture_output=True,
                          text=True, timeout=300, env=_clean_env())


def _ctl(st, sql):
    p = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h", st["PGHOST"],
                        "-p", st["PGPORT"], "-U", "postgres", "-d",
                        st.get("PGDATABASE", "accupredix"), "-c", sql],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, "psql failed: %s\nSQL: %s" % (p.stderr, sql)
    return p.stdout.strip()


def _ctl_json(st, query):
    return json.loads(_ctl(st, "SELECT coalesce(json_agg(q), '[]') FROM (%s) q" % query))


def _tenant_json(st, org, query):
    return json.loads(tenant_sql(st, org, "SELECT coalesce(json_agg(q), '[]') FROM (%s) q"
                                 % query))


def _status(st):
    p = _admin(st, "vault", "status")
    assert p.returncode == 0, p.stdout + p.stderr
    return json.loads(p.stdout), p.stderr


def _client(st):
    c = Client(st["BASE_URL"])
    cookies_off(c.session)
    return c


@pytest.fixture(scope="module")
def dst(stack):
    with apxtest.fresh_stack(stack, "dkrot") as st:
        yield st


# ------------------------------------------------------------------ the data

def _people(tag, n):
    rows = [["day", "email", "name", "sales"]]
    for i in range(n):
        rows.append(["d%d" % (i + 1), "%s-%d@example.test" % (tag, i), "%s Person %d" % (tag, i),
                     str(i)])
    return rows


def _key_of(sealed_hex):
    """The data key id a sealed record names (bytes 8..15, big-endian)."""
    raw = bytes.fromhex(sealed_hex)
    assert raw[:4] == b"AXV\x01", "not a format-1 record"
    return int.from_bytes(raw[8:16], "big")


def _fields(st, org, upload_id=None):
    where = "" if upload_id is None else " WHERE upload_id = %d" % upload_id
    return _tenant_json(st, org, "SELECT upload_id, row_no, column_name, encode(sealed, 'hex') "
                        "AS sealed, encode(blind, 'hex') AS blind FROM upload_personal%s "
                        "ORDER BY 1, 2, 3" % where)


def _current(st, owner, purpose):
    rows = _ctl_json(st, "SELECT id, generation FROM vault_data_keys WHERE owner = '%s' AND "
                     "purpose = '%s' AND superseded_at IS NULL" % (owner, purpose))
    assert len(rows) == 1, rows
    return rows[0]


class Org:
    def __init__(self, http, owner, plan, region, pii, rows, tag):
        o = create_org(http, owner["token"], plan=plan, region=region)
        self.slug, self.id = o["slug"], o["id"]
        self.region = o.get("region") or region
        self.owner = "org:%d" % self.id
        self.ws = default_workspace(http, owner["token"], self.slug)["id"]
        h = bearer(owner["token"])
        if pii:
            enable_pii(http, owner["token"], self.slug)
        self.rows = rows
        self.csv = to_csv(rows)
        self.upload = upload(http, h, self.slug, self.ws, self.csv, name="data-" + tag,
                             personal=["email", "name"] if pii else None)["id"]

    @property
    def tenant(self):
        return {"slug": self.slug, "region": self.region}


@pytest.fixture(scope="module")
def world(dst):
    http = _client(dst)
    owner = new_member(http, "Key Rotation Owner")
    big = Org(http, owner, "growth", "eu", True, _people("big", BIG_ROWS), "big")
    small = Org(http, owner, "growth", "us", True, _people("us", 5), "us")
    analyst = add_member(http, owner["token"], big.slug, "analyst")
    others = [Org(http, owner, None, ("eu", "us")[i % 2], False,
                  [["k", "v"], ["row-%d" % i, str(i)]], "o%d" % i) for i in range(OTHER_ORGS)]
    for o in (big, small):
        f = _fields(dst, o.tenant, o.upload)
        assert len(f) == 2 * (len(o.rows) - 1) and all(x["sealed"] for x in f), len(f)
        r = content(http, bearer(owner["token"]), o.slug, o.ws, o.upload)
        assert r.status_code == 200 and r.text == o.csv, describe(r)
    http.close()
    return {"owner": owner, "analyst": analyst, "big": big, "small": small, "others": others}


# ------------------------------------------------------------------ the load

class Load:
    def __init__(self, st, w):
        self.st, self.w = st, w
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.failures = []
        self.done = []                  # (monotonic time, kind)
        self.written = []               # (upload id, csv) uploaded during the load

    def _record(self, kind, ok, r):
        with self.lock:
            self.done.append((time.monotonic(), kind))
            if not ok:
                self.failures.append("%.3f %s%s" % (time.monotonic(), kind, describe(r)))

    def read(self, http, rnd):
        w = self.w
        big, small = w["big"], w["small"]
        pick = rnd.random()
        if pick < 0.45:
            who = w["owner"] if rnd.random() < 0.5 else w["analyst"]
            r = content(http, bearer(who["token"]), big.slug, big.ws, big.upload)
            self._record("sealed", r.status_code == 200 and r.text == big.csv, r)
        elif pick < 0.6:
            i = rnd.randrange(1, len(big.rows))
            r = http.get(uploads_url(big.slug, big.ws), params={"email": big.rows[i][1]},
                         headers=bearer(w["owner"]["token"]))
            ok = r.status_code == 200 and [u["id"] for u in r.json().get("uploads", [])] == \
                [big.upload]
            self._record("blind", ok, r)
        elif pick < 0.75:
            r = content(http, bearer(w["owner"]["token"]), small.slug, small.ws, small.upload)
            self._record("sealed", r.status_code == 200 and r.text == small.csv, r)
        else:
            o = rnd.choice(w["others"])
            r = content(http, bearer(w["owner"]["token"]), o.slug, o.ws, o.upload)
            self._record("tenant", r.status_code == 200 and r.text == o.csv, r)

    def write(self, http, n):
        """A new sealed upload to the big org, read back at once."""
        big = self.w["big"]
        h = bearer(self.w["owner"]["token"])
        text = to_csv(_people("w%d-%s" % (n, uuid.uuid4().hex[:6]), 3))
        r = http.post(uploads_url(big.slug, big.ws),
                      params={"name": "w-%d" % n, "personal_data": "email,name"},
                      data=text.encode(), headers=dict(h, **{"Content-Type": "text/csv"}))
        if r.status_code != 201:
            self._record("write", False, r)
            return
        up = r.json()["upload"]["id"]
        r = content(http, h, big.slug, big.ws, up)
        self._record("write", r.status_code == 200 and r.text == text, r)
        with self.lock:
            self.written.append((up, text))

    def run(self, seed, writer):
        http = _client(self.st)
        rnd = random.Random(seed)
        n = 0
        try:
            while not self.stop.is_set():
                try:
                    if writer:
                        n += 1
                        self.write(http, n)
                        time.sleep(0.3)
                    else:
                        self.read(http, rnd)
                except Exception as e:  # noqa: BLE001 - a failed request is a failure
                    with self.lock:
                        self.failures.append("%.3f exception %r" % (time.monotonic(), e))
        finally:
            http.close()


# ------------------------------------------------------------------ the tests

def test_rotation_under_load_fails_no_read(dst, world):
    big, small, others = world["big"], world["small"], world["others"]
    owners = ["platform"] + [o.owner for o in [big, small] + others]
    before = {(r["owner"], r["purpose"]): r for r in _ctl_json(
        dst, "SELECT owner, purpose, id, generation, mac FROM vault_data_keys WHERE "
        "superseded_at IS NULL")}
    sealing = {k: v for k, v in before.items() if not v["mac"]}
    # platform jwt, a tenant_db key per org, and pii for the two growth orgs
    assert set(sealing) >= {("platform", "jwt")} | {(o, "tenant_db") for o in owners[1:]} | \
        {(big.owner, "pii"), (small.owner, "pii")}, sorted(sealing)
    assert all(v["generation"] == 1 for v in before.values()), before
    blind_before = {(x["upload_id"], x["row_no"], x["column_name"]): x["blind"]
                    for x in _fields(dst, big.tenant, big.upload)}
    old_sealed = _fields(dst, big.tenant, big.upload)[0]

    load = Load(dst, world)
    threads = [threading.Thread(target=load.run, args=(i, i == 0), daemon=True)
               for i in range(THREADS)]
    for t in threads:
        t.start()
    try:
        time.sleep(2)
        t_rotate = time.monotonic()
        p = _admin(dst, "vault", "rotate", "--data-keys", "--batch", "50")
        t_rotated = time.monotonic()
        assert p.returncode == 0, p.stdout + p.stderr
        time.sleep(AFTER_SECONDS)
    finally:
        load.stop.set()
        for t in threads:
            t.join(60)
    out = p.stdout
    assert re.search(r"^%d new data keys" % len(sealing), out, re.M), out
    m = re.search(r"(\d+) values re-sealed \((\d+) control plane, (\d+) personal fields\); "
                  r"0 still under an old key; (\d+) old keys retired", out)
    assert m, out
    # every field of the two pii orgs as it was before, plus what the writer sealed
    assert int(m.group(3)) >= 2 * (BIG_ROWS + 5), out
    assert int(m.group(2)) >= 1 + len(owners) - 1, out           # jwt + tenant passwords
    assert int(m.group(4)) == len(sealing), out
    assert "org %s: " % big.slug in out and "platform: " in out, out
    for secret in (apxtest.config_dict(dst["APX_CONFIG"]).get("vault.keys", ""),):
        assert not secret or secret not in out + p.stderr

    n = len(load.done)
    assert not load.failures, "%d of %d requests failed (rotation %.3f-%.3f):\n%s" % (
        len(load.failures), n, t_rotate, t_rotated, "\n".join(load.failures[:5]))
    assert n >= 100, "the load made only %d requests" % n
    during = {k for t, k in load.done if t_rotate < t < t_rotated}
    assert {"sealed", "blind", "tenant"} <= during, "too few requests during the rotation"
    assert any(k == "write" for t, k in load.done if t_rotate < t < t_rotated), \
        "no upload during the rotation"

    # one new generation per sealing key; the HMAC key is not rotated
    after = {(r["owner"], r["purpose"]): r for r in _ctl_json(
        dst, "SELECT owner, purpose, id, generation, mac FROM vault_data_keys WHERE "
        "superseded_at IS NULL")}
    for k, v in before.items():
        if v["mac"]:
            assert after[k] == v, (k, after[k])
        else:
            assert after[k]["generation"] == 2 and after[k]["id"] != v["id"], (k, after[k])
    # the old keys are kept (retired: nothing known refers to them)
    old = _ctl_json(dst, "SELECT owner, purpose, id, retired_at IS NOT NULL AS retired "
                    "FROM vault_data_keys WHERE superseded_at IS NOT NULL")
    assert {(r["owner"], r["purpose"]) for r in old} == set(sealing), old
    assert all(r["retired"] for r in old), old

    # every sealed value names its owner's current key
    for o in (big, small):
        cur = after[(o.owner, "pii")]["id"]
        f = _fields(dst, o.tenant)
        assert f and {_key_of(x["sealed"]) for x in f} == {cur}, o.slug
    for o in [big, small] + others:
        hx = _ctl(dst, "SELECT encode(tenant_secret, 'hex') FROM orgs WHERE id = %d" % o.id)
        assert _key_of(hx) == after[(o.owner, "tenant_db")]["id"], o.slug
    for hx in _ctl(dst, "SELECT encode(private_sealed, 'hex') FROM jwt_keys WHERE "
                   "private_sealed IS NOT NULL").split():
        assert _key_of(hx) == after[("platform", "jwt")]["id"]
    # the blind indexes did not change
    blind_after = {(x["upload_id"], x["row_no"], x["column_name"]): x["blind"]
                   for x in _fields(dst, big.tenant, big.upload)}
    assert blind_after == blind_before

    # a value sealed with an old key still opens (the old key is kept)
    tenant_sql(dst, big.tenant, "UPDATE upload_personal SET sealed = decode('%s', 'hex') "
               "WHERE upload_id = %d AND row_no = %d AND column_name = '%s'"
               % (old_sealed["sealed"], old_sealed["upload_id"], old_sealed["row_no"],
                  old_sealed["column_name"]))
    http = _client(dst)
    try:
        r = content(http, bearer(world["owner"]["token"]), big.slug, big.ws, big.upload)
        assert r.status_code == 200 and r.text == big.csv, describe(r)
        for up, text in load.written:
            r = content(http, bearer(world["owner"]["token"]), big.slug, big.ws, up)
            assert r.status_code == 200 and r.text == text, describe(r)
    finally:
        http.close()

    # audited: the run in the platform log, one entry per org
    run = _ctl_json(dst, "SELECT after FROM audit_log WHERE log = 'platform' AND action = "
                    "'vault.rotate_data_keys' ORDER BY seq DESC LIMIT 1")
    assert run, "no platform audit entry"
    a = run[0]["after"]
    assert a["scope"] == "all" and a["new_data_keys"] == len(sealing) and a["left"] == 0, a
    assert a["failed_orgs"] == [] and a["resume"] is False, a
    for o in [big, small] + others:
        e = _ctl_json(dst, "SELECT after FROM audit_log WHERE log = '%s' AND action = "
                      "'vault.rotate_data_keys'" % o.owner)
        assert len(e) == 1, (o.slug, e)
        purposes = sorted(k["purpose"] for k in e[0]["after"]["data_keys"])
        assert purposes == sorted(p for (own, p) in sealing if own == o.owner), e
        assert all(k["generation"] == 2 for k in e[0]["after"]["data_keys"]), e
    p = _admin(dst, "audit", "verify")
    assert p.returncode == 0, p.stdout + p.stderr

    st, _ = _status(dst)
    assert st["generations"]["retired"] == len(sealing), st
    assert st["generations"]["current"] == len(after), st


def test_resume_reseals_what_is_left(dst, world):
    """--resume makes no key and re-seals what is still under an old one: the
    value the test above put back with its old (retired, kept) key; then
    nothing is left."""
    p = _admin(dst, "vault", "rotate", "--data-keys", "--resume")
    assert p.returncode == 0, p.stdout + p.stderr
    assert not re.search(r"^\d+ new data keys \(", p.stdout, re.M), p.stdout   # no new keys
    assert "; 1 values re-sealed (0 control plane, 1 personal fields); 0 still under an " \
        "old key" in p.stdout, p.stdout
    p = _admin(dst, "vault", "rotate", "--data-keys", "--resume")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "; 0 values re-sealed (0 control plane, 0 personal fields); 0 still under an " \
        "old key" in p.stdout, p.stdout
    big = world["big"]
    cur = _current(dst, big.owner, "pii")["id"]
    assert {_key_of(x["sealed"]) for x in _fields(dst, big.tenant)} == {cur}


def test_one_org_only(dst, world):
    small, big = world["small"], world["big"]
    before = {(r["owner"], r["purpose"]): r["id"] for r in _ctl_json(
        dst, "SELECT owner, purpose, id FROM vault_data_keys WHERE superseded_at IS NULL")}
    p = _admin(dst, "vault", "rotate", "--data-keys", "--org", small.slug, "--batch", "2")
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"^2 new data keys", p.stdout, re.M), p.stdout     # tenant_db and pii
    assert "platform:" not in p.stdout and big.slug not in p.stdout, p.stdout
    after = {(r["owner"], r["purpose"]): r["id"] for r in _ctl_json(
        dst, "SELECT owner, purpose, id FROM vault_data_keys WHERE superseded_at IS NULL")}
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {(small.owner, "tenant_db"), (small.owner, "pii")}, changed
    f = _fields(dst, small.tenant)
    assert {_key_of(x["sealed"]) for x in f} == {after[(small.owner, "pii")]}
    http = _client(dst)
    try:
        r = content(http, bearer(world["owner"]["token"]), small.slug, small.ws, small.upload)
        assert r.status_code == 200 and r.text == small.csv, describe(r)
    finally:
        http.close()
    run = _ctl_json(dst, "SELECT after FROM audit_log WHERE log = 'platform' AND action = "
                    "'vault.rotate_data_keys' ORDER BY seq DESC LIMIT 1")[0]["after"]
    assert run["scope"] == small.slug and run["new_data_keys"] == 2, run


@pytest.mark.parametrize("args", [["--org", "no-such-org"], ["--batch", "0"],
                                  ["--batch", "x"], ["--org"], ["--frobnicate"]])
def test_bad_arguments(dst, args):
    p = _admin(dst, "vault", "rotate", "--data-keys", *args)
    assert p.returncode != 0, p.stdout
    assert "new data keys" not in p.stdout, p.stdout


def _new_pii_org(http, world, tag, rows):
    return Org(http, world["owner"], "growth", "eu", True, _people(tag, rows), tag)


def test_seal_count_is_never_below_the_seals(dst, world):
    http = _client(dst)
    try:
        o = _new_pii_org(http, world, "cnt", 100)
    finally:
        http.close()
    seals = int(_ctl(dst, "SELECT seals FROM vault_data_keys WHERE owner = '%s' AND purpose "
                     "= 'pii' AND superseded_at IS NULL" % o.owner))
    # 200 fields sealed; reserved in blocks, so at most one last block more per worker
    assert 200 <= seals <= 200 + 4096 * 8, seals
    idx = _ctl_json(dst, "SELECT mac, seals FROM vault_data_keys WHERE owner = '%s' AND "
                    "purpose = 'pii_index'" % o.owner)
    assert idx == [{"mac": True, "seals": 0}], idx        # HMAC: no nonce, no count


def _error_log(st):
    return Path(st["ERROR_LOG"]).read_text(errors="replace")


def test_warning_past_the_mark(dst, world):
    http = _client(dst)
    try:
        o = _new_pii_org(http, world, "warn", 2)
        _ctl(dst, "UPDATE vault_data_keys SET seals = %d WHERE owner = '%s' AND purpose = 'pii' "
             "AND superseded_at IS NULL" % (WARN, o.owner))
        st, err = _status(dst)
        over = [k for k in st["seal_budget"]["over_warn"] if k["owner"] == o.owner]
        assert len(over) == 1 and over[0]["org"] == o.slug and over[0]["purpose"] == "pii", st
        assert over[0]["seals"] >= WARN and st["seal_budget"]["most_seals"] >= WARN, st
        assert st["seal_budget"]["warn_at"] == WARN and st["seal_budget"]["limit"] == LIMIT
        assert "rotate --data-keys" in st["seal_budget"]["warning"], st
        assert "warning" in err and "rotate --data-keys" in err, err
        # enough new seals that some worker reserves a block past the mark
        up = upload(http, bearer(world["owner"]["token"]), o.slug, o.ws,
                    to_csv(_people("warn2", 200)), personal=["email", "name"])
        key = _current(dst, o.owner, "pii")
        assert key["generation"] == 1, key            # a warning only
        apxtest.poll(lambda: re.search(r"warn: .*data key %d of %s/pii has \d+ seals counted, "
                                       r"past the warning mark" % (key["id"], o.owner),
                                       _error_log(dst)), 10, what="the warning in the log")
        r = content(http, bearer(world["owner"]["token"]), o.slug, o.ws, up["id"])
        assert r.status_code == 200, describe(r)
    finally:
        http.close()


def test_spent_budget_replaced_by_the_app(dst, world):
    http = _client(dst)
    try:
        o = _new_pii_org(http, world, "lim", 2)
        first = _current(dst, o.owner, "pii")
        _ctl(dst, "UPDATE vault_data_keys SET seals = %d WHERE id = %d" % (LIMIT - 8, first["id"]))
        rows = _people("lim2", 200)
        up = upload(http, bearer(world["owner"]["token"]), o.slug, o.ws, to_csv(rows),
                    personal=["email", "name"])
        now = _current(dst, o.owner, "pii")
        assert now["id"] != first["id"] and now["generation"] == 2, now
        old = _ctl_json(dst, "SELECT seals, superseded_at IS NOT NULL AS superseded FROM "
                        "vault_data_keys WHERE id = %d" % first["id"])[0]
        assert old["superseded"] and old["seals"] <= LIMIT, old
        assert re.search(r"warn: .*data key %d of %s/pii has used its seal budget"
                         % (first["id"], o.owner), _error_log(dst))
        # both generations open; the re-seal moves everything to the new one
        for u, text in ((o.upload, o.csv), (up["id"], to_csv(rows))):
            r = content(http, bearer(world["owner"]["token"]), o.slug, o.ws, u)
            assert r.status_code == 200 and r.text == text, describe(r)
        p = _admin(dst, "vault", "rotate", "--data-keys", "--resume", "--org", o.slug)
        assert p.returncode == 0, p.stdout + p.stderr
        assert {_key_of(x["sealed"]) for x in _fields(dst, o.tenant)} == {now["id"]}
        r = content(http, bearer(world["owner"]["token"]), o.slug, o.ws, o.upload)
        assert r.status_code == 200 and r.text == o.csv, describe(r)
        assert list_uploads(http, bearer(world["owner"]["token"]), o.slug, o.ws,
                            email=rows[5][1])["uploads"][0]["id"] == up["id"]
    finally:
        http.close()
