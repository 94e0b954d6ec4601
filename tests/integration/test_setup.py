"""`accupredix-admin setup` on fresh PostgreSQL 15 clusters of its own
(issue 10, point 1): roles and grants, secret files with their owners and
modes, migrations and the first signing key; a region on the control
server refused (accepted with --single-host-trial, warned); a second run
changes nothing; no secret printed.

Needs root (initdb runs as postgres, files go to root:www-data) and a
built tree: BUILD_DIR of the stack, or APX_BUILD_DIR."""

import grp
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

import apxtest

PG_BIN = Path("/usr/lib/postgresql/15/bin")
ORIGIN = "https://setup.example.test"


def _build_dir():
    st = apxtest.stack_env() or {}
    d = os.environ.get("APX_BUILD_DIR") or st.get("BUILD_DIR")
    if not d or not (Path(d) / "src" / "accupredix-admin").exists():
        pytest.skip("no build: set APX_BUILD_DIR or APX_STACK_ENV")
    return Path(d)


def _free_port(start):
    for p in range(start, start + 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                continue
            return p
    raise RuntimeError("no free port")


def _as_pg(*argv):
    return subprocess.run(["runuser", "-u", "postgres", "--"] + list(argv), cwd="/tmp",
                          capture_output=True, text=True, timeout=120)


class Cluster:
    """A throwaway cluster: root reaches it as postgres (peer map), every
    other role by scram-sha-256, over its socket or 127.0.0.1."""

    def __init__(self, root, name, port):
        self.dir = Path(root) / name
        self.data = self.dir / "data"
        self.sock = self.dir / "run"
        self.port = port
        self.name = name

    def init(self):
        for d in (self.dir, self.sock):
            d.mkdir(mode=0o755)
            shutil.chown(d, "postgres", "postgres")
        r = _as_pg(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-E", "UTF8",
                   "--locale=C", "--no-sync", "--no-instructions",
                   "--auth-local=peer", "--auth-host=scram-sha-256")
        assert r.returncode == 0, r.stderr
        with open(self.data / "postgresql.conf", "a") as f:
            f.write("\nlisten_addresses = '127.0.0.1'\nport = %d\n"
                    "unix_socket_directories = '%s'\nfsync = off\n"
                    "password_encryption = scram-sha-256\n" % (self.port, self.sock))
        (self.data / "pg_hba.conf").write_text(
            "local all postgres peer map=apx\n"
            "local all all scram-sha-256\n"
            "host all all 127.0.0.1/32 scram-sha-256\n")
        (self.data / "pg_ident.conf").write_text("apx root postgres\napx postgres postgres\n")

    def start(self):
        r = _as_pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"),
                   "-w", "-t", "30", "-s", "start")
        assert r.returncode == 0, r.stderr + (self.dir / "log").read_text()

    def stop(self):
        if (self.data / "postmaster.pid").exists():
            _as_pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                   "-s", "stop")

    @property
    def su(self):
        return "host=%s port=%d user=postgres dbname=postgres" % (self.sock, self.port)

    def sql(self, q):
        r = subprocess.run([str(PG_BIN / "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1",
                            "-h", str(self.sock), "-p", str(self.port), "-U", "postgres",
                            "-d", "postgres", "-c", q], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()


@pytest.fixture(scope="module")
def clusters():
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if not (PG_BIN / "initdb").exists():
        pytest.skip("no PostgreSQL 15")
    root = tempfile.mkdtemp(prefix="apx-setup-", dir="/tmp")
    os.chmod(root, 0o755)
    port = 16432
    cl = {}
    for name in ("control", "region", "trial"):
        port = _free_port(port)
        cl[name] = Cluster(root, name, port)
        port += 1
    try:
        for c in cl.values():
            c.init()
            c.start()
        yield cl
    finally:
        for c in cl.values():
            c.stop()
        shutil.rmtree(root, ignore_errors=True)


def _admin(build, *args, env=None):
    e = {"PATH": "/usr/bin:/bin"}
    e.update(env or {})
    return subprocess.run([str(build / "src" / "accupredix-admin")] + list(args), env=e,
                          capture_output=True, text=True, timeout=180)


def _setup(build, etc, control, regions, *extra):
    argv = ["setup", "--etc", str(etc), "--control", control, "--public-origin", ORIGIN]
    for name, ci in regions:
        argv += ["--region", "%s=%s" % (name, ci)]
    return _admin(build, *argv, *extra)


def _secrets(etc):
    """Every password and key the setup wrote (to look for in output)."""
    out = []
    for f in (etc / "secrets").iterdir():
        text = f.read_text().strip()
        for part in text.replace(":", " ").split():
            if part.startswith("password="):
                out.append(part.split("=", 1)[1])
        if f.name == "pgpass_owner":
            out.append(text.rsplit(":", 1)[1])
        if f.name == "vault_keys":
            out.append(text.split(":", 1)[1])
        if f.name == "internal_secret":
            out.append(text)
    assert len(out) >= 5
    return out


def _snapshot(etc, cl):
    files = {}
    for f in [etc / "accupredix.conf"] + sorted((etc / "secrets").iterdir()):
        st = f.stat()
        files[str(f)] = (st.st_mode & 0o7777, st.st_uid, st.st_gid, st.st_mtime_ns,
                         hashlib.sha256(f.read_bytes()).hexdigest())
    roles = {n: c.sql("SELECT string_agg(rolname || ' ' || rolcreaterole || rolcreatedb || "
                      "rolsuper || ' ' || coalesce(rolpassword, ''), ',' ORDER BY rolname) "
                      "FROM pg_authid WHERE rolname LIKE 'apx_%'") for n, c in cl.items()}
    return files, roles


def test_region_on_the_control_server_is_refused(clusters, tmp_path):
    build = _build_dir()
    c = clusters["trial"]
    etc = tmp_path / "etc"
    r = _setup(build, etc, c.su, [("eu", c.su)])
    assert r.returncode == 1, r.stdout + r.stderr
    assert "region 'eu' is on the control server" in r.stderr, r.stderr
    assert "--single-host-trial" in r.stderr
    assert not etc.exists(), "nothing may change before the check"
    assert c.sql("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'apx_%'") == "0"


def test_single_host_trial_is_accepted_with_a_warning(clusters, tmp_path):
    build = _build_dir()
    c = clusters["trial"]
    etc = tmp_path / "etc"
    r = _setup(build, etc, c.su, [("eu", c.su)], "--single-host-trial")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning: region 'eu' is on the control server (single-host trial)" in r.stderr
    assert c.sql("SELECT rolcreaterole FROM pg_roles WHERE rolname = 'apx_provision'") == "t"
    for s in _secrets(etc):
        assert s not in r.stdout and s not in r.stderr


def test_setup_two_servers_then_nothing_to_change(clusters, tmp_path):
    build = _build_dir()
    ctl, reg = clusters["control"], clusters["region"]
    etc = tmp_path / "etc"
    conf = etc / "accupredix.conf"
    first = _setup(build, etc, ctl.su, [("eu", reg.su)])
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout + first.stderr
    assert "created role apx_owner" in out and "created role apx_provision" in out, out
    assert "applied" in out and "first access-token signing key" in out, out
    assert "left to do:" in out and "TLS certificate" in out, out
    secrets = _secrets(etc)
    for s in secrets:
        assert s not in out, "a secret was printed"

    # roles and grants: no CREATEROLE on the control server, no
    # provisioning role there; the region's may create roles and databases
    assert ctl.sql("SELECT string_agg(rolname || ':' || rolcanlogin || rolcreaterole || "
                   "rolcreatedb || rolsuper, ' ' ORDER BY rolname) FROM pg_roles "
                   "WHERE rolname LIKE 'apx_%'") == "apx_app:truefalsefalsefalse apx_owner:truefalsefalsefalse"
    assert reg.sql("SELECT string_agg(rolname || ':' || rolcreaterole || rolcreatedb || "
                   "rolsuper, ' ') FROM pg_roles WHERE rolname LIKE 'apx_%'") == \
        "apx_provision:truetruefalse"
    assert ctl.sql("SELECT datdba::regrole FROM pg_database WHERE datname = 'accupredix'") \
        == "apx_owner"
    assert ctl.sql("SELECT has_database_privilege('apx_app', 'accupredix', 'CONNECT')") == "t"
    assert ctl.sql("SELECT count(*) FROM pg_database d, aclexplode(d.datacl) a "
                   "WHERE d.datname = 'accupredix' AND a.grantee = 0") == "0"
    assert ctl.sql("SELECT count(*) FROM pg_authid WHERE rolname LIKE 'apx_%' AND "
                   "rolpassword NOT LIKE 'SCRAM-SHA-256$%'") == "0"

    # owners and modes
    www = grp.getgrgid(pwd.getpwnam("www-data").pw_gid).gr_gid
    want = {"accupredix.conf": (0o640, www), "secrets/db_conninfo": (0o640, www),
            "secrets/region_eu_conninfo": (0o640, www), "secrets/vault_keys": (0o640, www),
            "secrets/internal_secret": (0o640, www), "secrets/pgpass_owner": (0o600, 0)}
    for name, (mode, gid) in want.items():
        st = (etc / name).stat()
        assert (st.st_mode & 0o7777, st.st_uid, st.st_gid) == (mode, 0, gid), name
    st = (etc / "secrets").stat()
    assert (st.st_mode & 0o7777, st.st_gid) == (0o750, www)
    text = conf.read_text()
    assert "jwt.issuer = %s\n" % ORIGIN in text
    assert "http.problem_type_base = %s/problems/\n" % ORIGIN in text
    assert "vault.keys = file:" in text and "regions.eu.conninfo = file:" in text
    for s in secrets:
        assert s not in text

    # the second run: nothing to do, nothing changed
    before = _snapshot(etc, clusters)
    second = _setup(build, etc, ctl.su, [("eu", reg.su)])
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing to change" in second.stdout, second.stdout
    assert "  - " not in second.stdout, second.stdout
    assert _snapshot(etc, clusters) == before
    for s in secrets:
        assert s not in second.stdout + second.stderr

    # the result is a configuration the app and the tool accept
    fcgi = build / "src" / "accupredix-fcgi"
    chk = subprocess.run([str(fcgi), "--config", str(conf), "--check-config"],
                         env={"PATH": "/usr/bin:/bin", "APX_CAPACITY_PROCESSES": "4"},
                         capture_output=True, text=True, timeout=60)
    assert chk.returncode == 0, chk.stderr
    assert "configuration OK" in chk.stdout
    st = _admin(build, "--config", str(conf), "migrate", "--status")
    assert st.returncode == 0 and "current" in st.stdout, st.stdout + st.stderr
    keys = _admin(build, "--config", str(conf), "jwt", "list")
    assert keys.returncode == 0 and keys.stdout.count("active") == 1, keys.stdout

    # the error pages rendered for this origin
    out_dir = tmp_path / "errors"
    rend = _admin(build, "--config", str(conf), "render-errors", "--from",
                  str(apxtest.REPO_ROOT / "httpd-conf" / "errors"), "--out", str(out_dir))
    assert rend.returncode == 0, rend.stderr
    page = (out_dir / "status-413.html").read_text()
    assert '"type":"%s/problems/body-too-large"' % ORIGIN in page
    assert (out_dir / "413.json").read_text() == page


def test_a_region_removed_from_the_config_is_reported(clusters, tmp_path):
    """--check-config names FILE:LINE (or the variable) for what is wrong."""
    build = _build_dir()
    conf = tmp_path / "c.conf"
    conf.write_text("db.conninfo = dbname=x\nsecurity.contact = mailto:a@example.test\n"
                    "security.expires = 2099-01-01T00:00:00Z\nhttp.public_origin = %s\n"
                    "org.regions = eu\n" % ORIGIN)
    fcgi = build / "src" / "accupredix-fcgi"
    r = subprocess.run([str(fcgi), "--config", str(conf), "--check-config"],
                       env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "%s:5: key 'org.regions': region 'eu' has no regions.eu.conninfo" % conf in r.stderr
    assert "APX_REGIONS_EU_CONNINFO" in r.stderr
    conf.write_text(conf.read_text() + "regions.eu.conninfo = dbname=y\nvault.keys = 1:short\n")
    r = subprocess.run([str(fcgi), "--config", str(conf), "--check-config"],
                       env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "%s:7: key 'vault.keys': key version 1 is not 32 bytes" % conf in r.stderr, r.stderr
