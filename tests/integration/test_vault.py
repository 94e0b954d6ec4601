"""The vault (key-encryption keys from the configuration, data keys wrapped in
vault_data_keys) and what it holds so far: the private halves of the access-token
signing keys. KEK rotation re-wraps data keys online and can be run again."""

import base64
import json
import os
import re
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from apxtest import config_dict, poll, resolve_secret, stack_app_pids
from authhelp import login, me, new_user


def _alive(pid):
    """PID runs (a zombie counts as gone: it serves nothing)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _admin(stack, config, *args):
    exe = os.path.join(stack["BUILD_DIR"], "src", "accupredix-admin")
    return subprocess.run([exe, "--config", str(config), *args],
                          capture_output=True, text=True, timeout=120)


def _fcgi(stack, *args):
    exe = os.path.join(stack["BUILD_DIR"], "src", "accupredix-fcgi")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)


def _psql(stack, sql):
    return subprocess.run(
        ["/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At",
         "-h", stack["PGHOST"], "-p", stack["PGPORT"], "-U", "postgres",
         "-d", stack.get("PGDATABASE", "accupredix"), "-c", sql],
        capture_output=True, text=True, timeout=30, check=True).stdout.strip()


def _stack_keys(stack):
    value = config_dict(stack["APX_CONFIG"]).get("vault.keys")
    assert value, "the stack configures no vault.keys"
    keys = resolve_secret(value)
    assert keys and re.fullmatch(r"1:[A-Za-z0-9+/=]{44}", keys), "unexpected vault.keys shape"
    return keys


def _variant(stack, tmp_path, **changes):
    """A copy of the stack's configuration with some keys replaced (None: removed)."""
    out = []
    seen = set()
    for raw in Path(stack["APX_CONFIG"]).read_text().splitlines():
        key = raw.split("=", 1)[0].strip() if "=" in raw and not raw.lstrip().startswith("#") else None
        if key in changes:
            seen.add(key)
            if changes[key] is not None:
                out.append("%s = %s" % (key, changes[key]))
            continue
        out.append(raw)
    for k, v in changes.items():
        if k not in seen and v is not None:
            out.append("%s = %s" % (k, v))
    path = tmp_path / ("conf-%s" % uuid.uuid4().hex)
    path.write_text("\n".join(out) + "\n")
    path.chmod(0o600)
    return path


def _new_key():
    return base64.b64encode(os.urandom(32)).decode()


def _status(stack, config):
    p = _admin(stack, config, "vault", "status")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_signing_key_is_sealed_in_the_database(stack):
    rows = _psql(stack, "SELECT kid, encode(substr(private_sealed, 1, 4), 'hex'), "
                 "position('PRIVATE KEY'::bytea IN private_sealed) "
                 "FROM jwt_keys WHERE retired_at IS NULL AND private_sealed IS NOT NULL")
    assert rows, "no active signing key has a sealed private half"
    for line in rows.splitlines():
        kid, head, plain = line.split("|")
        assert head == "41585601", "not a format-1 sealed record: %s" % head  # "AXV" 1
        assert plain == "0", "the sealed column holds PEM text"
        key_dir = config_dict(stack["APX_CONFIG"]).get("jwt.key_dir")
        if key_dir:
            assert not (Path(key_dir) / ("%s.pem" % kid)).exists(), \
                "a vault-sealed key was also written to jwt.key_dir"
    dek = _psql(stack, "SELECT kek_version, length(wrapped) FROM vault_data_keys "
                "WHERE owner = 'platform' AND purpose = 'jwt'")
    assert dek.split("|")[0] == "1", dek


def test_status_names_versions_and_counts(stack):
    st = _status(stack, stack["APX_CONFIG"])
    assert st["versions"] == [1] and st["current"] == 1 and st["plaintext"] is False, st
    assert st["data_keys"].get("1", 0) >= 1, st


def test_no_key_no_plaintext_refuses_to_seal(stack, tmp_path):
    conf = _variant(stack, tmp_path, **{"vault.keys": None, "jwt.key_dir": None})
    p = _admin(stack, conf, "jwt", "rotate")
    assert p.returncode != 0
    assert "vault has no key" in p.stderr, p.stderr


def test_malformed_vault_keys_refused_without_echoing_them(stack, tmp_path):
    secret = _new_key()
    for bad in ("1:%s 1:%s" % (secret, _new_key()),        # version twice
                "0:%s" % secret,                             # version 0
                "1:%s" % secret[:-8],                         # not 32 bytes
                "x:%s" % secret,
                secret):                                      # no version
        conf = _variant(stack, tmp_path, **{"vault.keys": bad})
        p = _fcgi(stack, "--config", str(conf), "--check-config")
        assert p.returncode != 0, bad
        assert "vault.keys" in p.stderr, p.stderr
        assert secret not in p.stderr and secret[:20] not in p.stderr, "the key was echoed"
    conf = _variant(stack, tmp_path, **{"vault.current_version": "7"})
    p = _fcgi(stack, "--config", str(conf), "--check-config")
    assert p.returncode != 0 and "vault.current_version" in p.stderr, p.stderr


def test_plaintext_mode_warns_at_start(stack, tmp_path):
    conf = _variant(stack, tmp_path, **{"vault.keys": None, "vault.allow_plaintext": "yes"})
    p = _fcgi(stack, "--config", str(conf), "--check-config")
    assert p.returncode == 0, p.stderr
    assert "UNENCRYPTED" in p.stderr, p.stderr


def test_rotation_rewraps_online_and_resumes(stack, http, tmp_path):
    old = _stack_keys(stack)
    new = "2:" + _new_key()
    both = _variant(stack, tmp_path, **{"vault.keys": "%s %s" % (old, new)})
    before = _status(stack, both)
    total = sum(before["data_keys"].values())
    assert before["current"] == 2 and before["versions"] == [1, 2], before

    p = _admin(stack, both, "vault", "rotate", "--batch", "1")
    assert p.returncode == 0, p.stderr
    assert ("%d data keys re-wrapped with KEK version 2" % total) in p.stdout, p.stdout
    after = _status(stack, both)
    assert after["data_keys"] == {"2": total}, after
    # a second run finds nothing left: safe to repeat, resumes where one stopped
    p = _admin(stack, both, "vault", "rotate")
    assert p.returncode == 0 and "0 data keys re-wrapped" in p.stdout, p.stdout
    audit = _psql(stack, "SELECT after::text FROM audit_log WHERE log = 'platform' AND "
                  "action = 'vault.rotate' ORDER BY seq DESC LIMIT 2")
    assert '"rewrapped": %d' % total in audit and '"kek_version": 2' in audit, audit
    # back to version 1 (the stack's workers hold only that one)
    back = _variant(stack, tmp_path, **{"vault.keys": "%s %s" % (old, new),
                                        "vault.current_version": "1"})
    p = _admin(stack, back, "vault", "rotate")
    assert p.returncode == 0, p.stderr
    assert _status(stack, back)["data_keys"] == {"1": total}
    # New workers (the old ones are stopped; the web server starts others) open
    # the data key wrapped twice and the signing key sealed under it: a new
    # login is signed and accepted.
    old_pids = stack_app_pids(stack)
    for pid in old_pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    # mod_fcgid may still hand a request to a worker that is exiting (slow
    # under ASan, whose leak check runs at exit), which then answers nothing:
    # wait until the old ones are gone.
    poll(lambda: not any(_alive(p) for p in old_pids), 60, what="the old workers to exit")
    poll(lambda: http.get("/healthz").status_code == 200, 30, what="the app to answer again")
    user = new_user(http)
    tok = login(http, user)["access_token"]
    assert me(http, tok).status_code == 200


def test_rotation_without_the_old_key_fails_cleanly(stack, tmp_path):
    only_new = _variant(stack, tmp_path, **{"vault.keys": "2:" + _new_key()})
    p = _admin(stack, only_new, "vault", "rotate")
    assert p.returncode != 0
    assert "no vault key" in p.stderr or "resume" in p.stderr, p.stderr
    # nothing changed
    st = _status(stack, stack["APX_CONFIG"])
    assert set(st["data_keys"]) == {"1"}, st
