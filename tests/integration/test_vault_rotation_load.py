"""Vault KEK rotation while a load test reads sealed values: no failed read.

On a fresh stack of its own (module fixture, stopped at the end): a growth
org with pii_encryption on and an upload with personal columns (its fields
sealed with the org's data key), more orgs than tenant.max_connections
(their tenant passwords are sealed too, and opened whenever a worker
connects).  Threads download the sealed upload as owner and analyst and use
the other orgs' tenant routes, while a version-2 KEK is added to the
stack's vault.keys file, the web server is restarted gracefully (new
workers read the new keyring) and `accupredix-admin vault rotate` re-wraps
every data key.  Every answer must be 200 with the right content.  Then the
old KEK can go, and an org created after the rotation works.
"""

import base64
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
from apxtest import describe, stack_app_pids
from authhelp import bearer, login
from conftest import Client
from datahelp import content, enable_pii, region_psql, tenant_db, to_csv, upload, uploads_url
from orghelp import add_member, cookies_off, create_org, default_workspace, new_member, org_url

pytestmark = [pytest.mark.slow]

LOAD_SECONDS = 15
THREADS = 6
OTHER_ORGS = 10          # more than tenant.max_connections (8): workers evict and reconnect


# ------------------------------------------------------------------ the stack of this module

def _clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("APX_")}


def _admin(st, *args):
    exe = os.path.join(st["BUILD_DIR"], "src", "accupredix-admin")
    return subprocess.run([exe, "--config", st["APX_CONFIG"], *args], capture_output=True,
                          text=True, timeout=120, env=_clean_env())


def _vault_status(st):
    p = _admin(st, "vault", "status")
    assert p.returncode == 0, p.stdout + p.stderr
    return json.loads(p.stdout)


def _keys_file(st):
    value = apxtest.config_dict(st["APX_CONFIG"]).get("vault.keys", "")
    assert value.startswith("file:"), "the stack's vault.keys is not a file: secret"
    return Path(value[5:])


def _write_keys(path, text):
    """Replace the keys file atomically, keeping its owner and mode."""
    st = path.stat()
    tmp = path.with_name(".%s.%s" % (path.name, uuid.uuid4().hex))
    tmp.write_text(text + "\n")
    os.chown(tmp, st.st_uid, st.st_gid)
    os.chmod(tmp, st.st_mode & 0o7777)
    os.replace(tmp, path)


def _graceful(st):
    p = subprocess.run(["apache2", "-f", st["WEB_CONF"], "-k", "graceful"], capture_output=True,
                       text=True, timeout=60, env=_clean_env())
    assert p.returncode == 0, "apache2 -k graceful failed: %s %s" % (p.stdout, p.stderr)


def _wait_workers_replaced(st, old, timeout=30):
    """Until no app process from before the restart is left (the web server
    starts new ones on demand)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = stack_app_pids(st)
        if not (now & old):
            return now
        time.sleep(0.2)
    raise AssertionError("app processes %s from before the graceful restart still run"
                         % sorted(stack_app_pids(st) & old))


@pytest.fixture(scope="module")
def vst(stack):
    if stack.get("SERVER") != "apache":
        pytest.skip("graceful restart is done with apache2 -k graceful")
    with apxtest.fresh_stack(stack, "vrot") as st:
        yield st


def _client(st):
    """One connection per request: Apache's graceful restart (which the test
    does to load the new keyring) closes idle keep-alive connections, and a
    request sent on one at that moment is lost in transit, before the app
    sees it; that is the web server's keep-alive race, not a failed read."""
    c = Client(st["BASE_URL"])
    cookies_off(c.session)
    c.session.headers["Connection"] = "close"
    return c


# ------------------------------------------------------------------ the data

PERSONAL_ROWS = [["day", "email", "name", "sales"],
                 ["2024-03-01", "ana@example.test", "Ana Lima", "10"],
                 ["2024-03-02", "bo@example.test", "Bo Berg", "12"],
                 ["2024-03-03", "", "", "14"],
                 ["2024-03-04", "cy@example.test", "Cy Dahl", "=3+4"]]
PERSONAL_CSV = to_csv(PERSONAL_ROWS)
# as an analyst or owner downloads it: in clear, the formula-looking cell neutralised
PERSONAL_WANT = PERSONAL_CSV.replace(",=3+4", ",'=3+4")


@pytest.fixture(scope="module")
def world(vst):
    http = _client(vst)
    owner = new_member(http, "Rotation Owner")
    org = create_org(http, owner["token"], plan="growth")
    enable_pii(http, owner["token"], org["slug"])
    analyst = add_member(http, owner["token"], org["slug"], "analyst")
    ws = default_workspace(http, owner["token"], org["slug"])["id"]
    up = upload(http, bearer(owner["token"]), org["slug"], ws, PERSONAL_CSV, name="sealed",
                    personal=["email", "name"])
    sealed = region_psql(vst, "eu", "SELECT count(*) FILTER (WHERE sealed IS NOT NULL) || '|' || "
                         "count(*) FILTER (WHERE value IS NOT NULL) FROM upload_personal",
                         db=tenant_db(org["slug"])).stdout.strip()
    assert sealed == "6|0", "the personal fields are not all sealed (sealed|clear): %s" % sealed
    want = PERSONAL_WANT
    r = content(http, bearer(owner["token"]), org["slug"], ws, up["id"])
    assert r.status_code == 200 and r.text == want, describe(r)
    others = []
    for i in range(OTHER_ORGS):
        o = create_org(http, owner["token"], region=("eu", "us")[i % 2])
        ows = default_workspace(http, owner["token"], o["slug"])["id"]
        text = to_csv([["k", "v"], ["row-" + o["slug"], str(i)]])
        ou = upload(http, bearer(owner["token"]), o["slug"], ows, text, name="n-%d" % i)
        others.append({"slug": o["slug"], "ws": ows, "upload": ou["id"], "name": "n-%d" % i,
                       "text": text})
    http.close()
    return {"owner": owner, "analyst": analyst, "slug": org["slug"], "ws": ws,
            "upload": up["id"], "want": want, "others": others}


# ------------------------------------------------------------------ the load

class Load:
    def __init__(self, st, world):
        self.st, self.w = st, world
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.failures = []
        self.done = []          # (monotonic time, kind)

    def one(self, http, rnd):
        w = self.w
        pick = rnd.random()
        if pick < 0.5:
            who = w["owner"] if rnd.random() < 0.5 else w["analyst"]
            r = content(http, bearer(who["token"]), w["slug"], w["ws"], w["upload"])
            ok = r.status_code == 200 and r.text == w["want"]
            kind = "sealed"
        else:
            o = rnd.choice(w["others"])
            h = bearer(w["owner"]["token"])
            if pick < 0.75:
                r = http.get(uploads_url(o["slug"], o["ws"]), headers=h)
                ok = (r.status_code == 200 and
                      [u["name"] for u in r.json().get("uploads", [])] == [o["name"]])
            else:
                r = content(http, h, o["slug"], o["ws"], o["upload"])
                ok = r.status_code == 200 and r.text == o["text"]
            kind = "tenant"
        with self.lock:
            self.done.append((time.monotonic(), kind))
            if not ok:
                self.failures.append("%.3f %s%s" % (time.monotonic(), kind, describe(r)))

    def run(self, seed):
        http = _client(self.st)
        rnd = random.Random(seed)
        try:
            while not self.stop.is_set():
                try:
                    self.one(http, rnd)
                except Exception as e:  # noqa: BLE001 - a failed request is a failure
                    with self.lock:
                        self.failures.append("%.3f exception %r" % (time.monotonic(), e))
        finally:
            http.close()


def test_rotation_under_load_fails_no_read(vst, world):
    before = _vault_status(vst)
    assert before["versions"] == [1] and before["current"] == 1, before
    total = sum(before["data_keys"].values())
    # the platform key, and per org the tenant password key (+ PII keys of the sealed org)
    assert total >= 2 + OTHER_ORGS, before
    keys_path = _keys_file(vst)
    old_keys = keys_path.read_text().strip()
    assert re.fullmatch(r"1:[A-Za-z0-9+/=]{44}", old_keys), "unexpected vault.keys shape"
    new_key = "2:" + base64.b64encode(os.urandom(32)).decode()

    load = Load(vst, world)
    threads = [threading.Thread(target=load.run, args=(i,), daemon=True) for i in range(THREADS)]
    t_start = time.monotonic()
    for t in threads:
        t.start()
    try:
        time.sleep(2)
        old_pids = stack_app_pids(vst)
        _write_keys(keys_path, "%s %s" % (old_keys, new_key))
        t_graceful = time.monotonic()
        _graceful(vst)
        _wait_workers_replaced(vst, old_pids)
        t_rotate = time.monotonic()
        p = _admin(vst, "vault", "rotate")
        assert p.returncode == 0, p.stdout + p.stderr
        assert re.search(r"\b%d data keys re-wrapped with KEK version 2" % total, p.stdout), \
            p.stdout
        t_rotated = time.monotonic()
        after = _vault_status(vst)
        assert after["versions"] == [1, 2] and after["current"] == 2, after
        assert after["data_keys"] == {"2": total}, after
        time.sleep(max(3.0, LOAD_SECONDS - (time.monotonic() - t_start)))
    finally:
        load.stop.set()
        for t in threads:
            t.join(30)
    n = len(load.done)
    assert not load.failures, "%d of %d requests failed (graceful at %.3f, rotate %.3f-%.3f):\n%s" \
        % (len(load.failures), n, t_graceful, t_rotate, t_rotated, "\n".join(load.failures[:5]))
    kinds_after = {k for t, k in load.done if t > t_rotated}
    assert n >= 100, "the load made only %d requests" % n
    assert sum(1 for t, _ in load.done if t_graceful < t < t_rotated) > 0, \
        "no request during the restart and rotation"
    assert kinds_after == {"sealed", "tenant"}, "too few requests after the rotation"


def test_after_rotation_the_old_key_can_go_and_new_orgs_work(vst, world):
    """Every data key is under version 2: with version 1 removed from the
    keyring (and new workers), sealed fields, tenant passwords and access
    tokens still open; an org created now works and is wrapped under 2."""
    st = _vault_status(vst)
    assert st["data_keys"] == {"2": sum(st["data_keys"].values())}, \
        "run after test_rotation_under_load_fails_no_read: %r" % st
    keys_path = _keys_file(vst)
    keys = keys_path.read_text().split()
    two = [k for k in keys if k.startswith("2:")]
    assert len(two) == 1, "no version 2 in the keyring"
    old_pids = stack_app_pids(vst)
    _write_keys(keys_path, two[0])
    _graceful(vst)
    _wait_workers_replaced(vst, old_pids)
    st = _vault_status(vst)
    assert st["versions"] == [2] and st["current"] == 2, st
    http = _client(vst)
    try:
        w = world
        tok = login(http, w["owner"])["access_token"]            # signing key opens
        r = content(http, bearer(tok), w["slug"], w["ws"], w["upload"])
        assert r.status_code == 200 and r.text == w["want"], describe(r)
        for o in w["others"]:
            r = content(http, bearer(tok), o["slug"], o["ws"], o["upload"])
            assert r.status_code == 200 and r.text == o["text"], describe(r)
        # a new org after the rotation: its keys are wrapped under version 2
        user = new_member(http, "After Rotation")
        org = create_org(http, user["token"], plan="growth", region="us")
        enable_pii(http, user["token"], org["slug"])
        ws = default_workspace(http, user["token"], org["slug"])["id"]
        up = upload(http, bearer(user["token"]), org["slug"], ws, PERSONAL_CSV,
                        personal=["email", "name"])
        r = content(http, bearer(user["token"]), org["slug"], ws, up["id"])
        assert r.status_code == 200 and r.text == w["want"], describe(r)
        r = http.get(uploads_url(org["slug"], ws), headers=bearer(user["token"]),
                     params={"email": "bo@example.test"})
        assert r.status_code == 200 and [u["id"] for u in r.json()["uploads"]] == [up["id"]], \
            describe(r)
        r = http.get(org_url(org["slug"]), headers=bearer(user["token"]))
        assert r.status_code == 200, describe(r)
        st = _vault_status(vst)
        assert set(st["data_keys"]) == {"2"}, st
    finally:
        http.close()
