#!/usr/bin/python3
"""Loopback SAML 2.0 IdP stand-in (Debian's SimpleSAMLphp under `php -S`) for AccuPredix.

AccuPredix's SAML SSO tests need a real IdP that signs Responses and Assertions, answers
SP-initiated HTTP-Redirect AuthnRequests, and rolls its signing key over.  This wrapper
writes a private SimpleSAMLphp config dir, runs SimpleSAMLphp 1.19 under PHP's built-in
server on 127.0.0.1, and offers a small JSON control API to register SPs and rotate the
key.  Python 3 standard library only (plus the `php` and `openssl` programs).  See
README.md next to this file.

    /usr/bin/python3 tests/standins/saml/idp.py --dir DIR [--port 0] [--control-port 0] \
        [--pidfile F] [--log F]

Debian packages: simplesamlphp php8.2-cgi php8.2-xml (php8.2-cli comes with them), openssl.
"""
import argparse
import ctypes
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

SSP_WWW = "/usr/share/simplesamlphp/www"
PHP = "php"
AUTHSOURCE = "example-userpass"
NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
SIG_ALGS = {
    "rsa-sha1": "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "rsa-sha256": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "rsa-sha384": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "rsa-sha512": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
}
USERS = [  # (username, password, attributes)
    ("erin@example-agency.test", "erin-pw",
     {"email": "erin@example-agency.test", "displayName": "Erin Agency",
      "eduPersonPrincipalName": "erin@example-agency.test"}),
    ("mallory@other-agency.test", "mallory-pw",
     {"email": "mallory@other-agency.test", "displayName": "Mallory Other",
      "eduPersonPrincipalName": "mallory@other-agency.test"}),
    ("frank@example-agency.test", "frank-pw",
     {"email": "frank@example-agency.test", "displayName": "Frank Agency",
      "eduPersonPrincipalName": "frank@example-agency.test"}),
    # the domain of scripts/stack's demo SAML org
    ("sam@saml-agency.test", "sam-pw",
     {"email": "sam@saml-agency.test", "displayName": "Sam Saml",
      "eduPersonPrincipalName": "sam@saml-agency.test"}),
    ("sue@saml-agency.test", "sue-pw",
     {"email": "sue@saml-agency.test", "displayName": "Sue Saml",
      "eduPersonPrincipalName": "sue@saml-agency.test"}),
]
SP_FIELDS = {"entity_id", "acs", "sign_response", "sign_assertion", "signature_algorithm"}
SP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_BODY = 1 << 16
READY_TIMEOUT = 15.0
PHP_STOP_GRACE = 5.0
PR_SET_PDEATHSIG = 1


class BadRequest(Exception):
    """A control API error: 400 (or the status given)."""

    def __init__(self, msg, status=400):
        super().__init__(msg)
        self.status = status


# ---------------------------------------------------------------------------- log

class Log:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.f = open(path, "a", buffering=1) if path else sys.stderr

    def line(self, text):
        t = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)
        with self.lock:
            try:
                self.f.write("%s %s\n" % (stamp, text))
                self.f.flush()
            except (OSError, ValueError):
                pass


# php -S writes "[date] 127.0.0.1:port Accepted", "... [200]: GET /path?query", "... Closing".
PHP_NOISE = re.compile(r"\] 127\.0\.0\.1:\d+ (Accepted|Closing)$")
QUERY = re.compile(r"\?\S*")


def php_log_line(raw):
    """One line of php's stdout/stderr as it goes to our log: query strings (which carry
    SAMLRequest, AuthState, ...) masked, control characters dropped.  None: skip it."""
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    if not text or PHP_NOISE.search(text):
        return None
    text = QUERY.sub("?*", text)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return "php " + text[:2000]


# ---------------------------------------------------------------------------- PHP literals

def php(value, indent=0):
    """A Python value (str, bool, int, None, list, dict) as a PHP literal.  Strings are
    single-quoted with \\ and ' escaped, so no value can break out of its literal."""
    pad = "    " * (indent + 1)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, dict):
        items = ["%s%s => %s,\n" % (pad, php(k), php(v, indent + 1)) for k, v in value.items()]
    elif isinstance(value, list):
        items = ["%s%s,\n" % (pad, php(v, indent + 1)) for v in value]
    else:
        raise TypeError(type(value))
    return "[\n" + "".join(items) + "    " * indent + "]"


def write_atomic(path, text, mode=0o600):
    tmp = "%s.tmp-%d-%s" % (path, os.getpid(), secrets.token_hex(4))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def php_file(var, value):
    return ("<?php\n// Written by tests/standins/saml/idp.py; rewritten on every change.\n"
            "$%s = %s;\n" % (var, php(value)))


def php_metadata_file(entries):
    out = ["<?php\n// Written by tests/standins/saml/idp.py; rewritten on every change.\n"]
    for entity, meta in entries:
        out.append("$metadata[%s] = %s;\n" % (php(entity), php(meta)))
    return "".join(out)


# ---------------------------------------------------------------------------- state

class IdP:
    """The config dir, keys and registered SPs.  Every public method takes the lock."""

    def __init__(self, root, port):
        self.lock = threading.Lock()
        self.root = root
        self.port = port
        self.base = "http://127.0.0.1:%d" % port
        self.entity = self.base + "/saml2/idp/metadata.php"
        self.sso = self.base + "/saml2/idp/SSOService.php"
        self.d = {k: os.path.join(root, k) for k in
                  ("config", "cert", "data", "log", "tmp", "session")}
        self.d["metadata"] = os.path.join(self.d["config"], "metadata")
        self.serial = 0
        self.current = None         # (key file, cert file) that signs
        self.pending = None         # (key file, cert file) published as new_*, or None
        self.sps = {}               # name -> metadata entry (dict) incl. entityid

    # -- setup
    def setup(self):
        for p in self.d.values():
            os.makedirs(p, mode=0o700, exist_ok=True)
        for name in os.listdir(self.d["cert"]):         # keys of an earlier run
            if re.fullmatch(r"idp-\d+\.(key|crt)", name):
                os.unlink(os.path.join(self.d["cert"], name))
        self.current = self.new_keypair()
        write_atomic(os.path.join(self.d["config"], "config.php"),
                     php_file("config", self.config()))
        write_atomic(os.path.join(self.d["config"], "authsources.php"),
                     php_file("config", self.authsources()))
        self.write_idp_hosted()
        self.write_sp_remote()

    def config(self):
        slash = lambda p: p.rstrip("/") + "/"
        return {
            "baseurlpath": self.base + "/",
            "certdir": slash(self.d["cert"]),
            "metadatadir": slash(self.d["metadata"]),
            "datadir": slash(self.d["data"]),
            "loggingdir": slash(self.d["log"]),
            "tempdir": slash(self.d["tmp"]),
            "secretsalt": secrets.token_hex(24),
            "auth.adminpassword": secrets.token_hex(24),
            "technicalcontact_name": "AccuPredix tests",
            "technicalcontact_email": "idp-admin@example.test",
            "timezone": "UTC",
            "enable.saml20-idp": True,
            "enable.shib13-idp": False,
            "admin.protectindexpage": True,
            "admin.protectmetadata": False,
            "admin.checkforupdates": False,
            "module.enable": {"exampleauth": True, "core": True, "saml": True},
            "session.cookie.secure": False,
            "language.cookie.secure": False,
            "session.phpsession.savepath": self.d["session"],
            "store.type": "phpsession",
            "logging.handler": "file",
            "logging.logfile": "simplesamlphp.log",
            "logging.level": 5,                 # SimpleSAML\Logger::NOTICE
            "statistics.out": [],
            "debug": {"saml": False, "backtraces": False, "validatexml": False},
            "showerrors": True,
            "errorreporting": False,
            "production": True,
        }

    def authsources(self):
        users = {"%s:%s" % (u, p): attrs for u, p, attrs in USERS}
        return {AUTHSOURCE: {0: "exampleauth:UserPass", **users}}

    def new_keypair(self):
        self.serial += 1
        key = os.path.join(self.d["cert"], "idp-%d.key" % self.serial)
        crt = os.path.join(self.d["cert"], "idp-%d.crt" % self.serial)
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-days", "30", "-subj", "/CN=apx-test-idp",
                            "-keyout", key, "-out", crt],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("openssl req failed: %s" % r.stderr.decode(errors="replace")[-300:])
        os.chmod(key, 0o600)
        return os.path.basename(key), os.path.basename(crt)

    def write_idp_hosted(self):
        meta = {
            "host": "__DEFAULT__",
            "privatekey": self.current[0],
            "certificate": self.current[1],
            "auth": AUTHSOURCE,
            "NameIDFormat": NAMEID_EMAIL,
            "simplesaml.nameidattribute": "eduPersonPrincipalName",
            "saml20.sign.response": True,
            "saml20.sign.assertion": True,
            "signature.algorithm": SIG_ALGS["rsa-sha256"],
            "attributes.NameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
        }
        if self.pending:
            meta["new_privatekey"], meta["new_certificate"] = self.pending
        write_atomic(os.path.join(self.d["metadata"], "saml20-idp-hosted.php"),
                     php_metadata_file([(self.entity, meta)]))

    def write_sp_remote(self):
        write_atomic(os.path.join(self.d["metadata"], "saml20-sp-remote.php"),
                     php_metadata_file([(m["entityid"], {k: v for k, v in m.items() if k != "entityid"})
                                        for _, m in sorted(self.sps.items())]))

    # -- control operations
    def put_sp(self, name, body):
        if not SP_NAME.match(name):
            raise BadRequest("SP names are 1..128 of [A-Za-z0-9._-]")
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        unknown = set(body) - SP_FIELDS
        if unknown:
            raise BadRequest("unknown fields: %s (known: %s)"
                             % (", ".join(sorted(unknown)), ", ".join(sorted(SP_FIELDS))))
        entity, acs = body.get("entity_id"), body.get("acs")
        if not isinstance(entity, str) or not entity or len(entity) > 1024 \
                or any(not c.isprintable() or c.isspace() for c in entity):
            raise BadRequest("entity_id is a non-empty string without spaces")
        if not isinstance(acs, str) or not re.fullmatch(r"https?://[^\s]+", acs) or len(acs) > 2048:
            raise BadRequest("acs is an http(s) URL")
        flags = {}
        for k in ("sign_response", "sign_assertion"):
            v = body.get(k, True)
            if not isinstance(v, bool):
                raise BadRequest("%s is true or false" % k)
            flags[k] = v
        alg = body.get("signature_algorithm", "rsa-sha256")
        if alg not in SIG_ALGS:
            raise BadRequest("signature_algorithm is one of %s" % ", ".join(SIG_ALGS))
        meta = {
            "entityid": entity,
            "AssertionConsumerService": [{
                "Binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
                "Location": acs, "index": 0}],
            "saml20.sign.response": flags["sign_response"],
            "saml20.sign.assertion": flags["sign_assertion"],
            "signature.algorithm": SIG_ALGS[alg],
            "NameIDFormat": NAMEID_EMAIL,
            "simplesaml.nameidattribute": "eduPersonPrincipalName",
            "attributes.NameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
        }
        with self.lock:
            for other, m in self.sps.items():
                if other != name and m["entityid"] == entity:
                    raise BadRequest("entity_id already registered as SP %r" % other, 409)
            self.sps[name] = meta
            self.write_sp_remote()
        return {"ok": True}

    def delete_sp(self, name):
        with self.lock:
            existed = self.sps.pop(name, None) is not None
            self.write_sp_remote()
        if not existed:
            raise BadRequest("no SP %r" % name, 404)
        return {"ok": True}

    def list_sps(self):
        with self.lock:
            return {"sps": {n: {"entity_id": m["entityid"],
                                "acs": m["AssertionConsumerService"][0]["Location"],
                                "sign_response": m["saml20.sign.response"],
                                "sign_assertion": m["saml20.sign.assertion"],
                                "signature_algorithm": next(k for k, v in SIG_ALGS.items()
                                                            if v == m["signature.algorithm"])}
                            for n, m in sorted(self.sps.items())}}

    def _pem(self, fname):
        with open(os.path.join(self.d["cert"], fname)) as f:
            return f.read()

    def _certs(self):
        certs = ([self._pem(self.pending[1])] if self.pending else []) + [self._pem(self.current[1])]
        return {"certs": certs, "signing": self._pem(self.current[1])}

    def certs(self):
        with self.lock:
            return self._certs()

    def rotate_begin(self):
        with self.lock:
            if self.pending:
                raise BadRequest("a rotation has already begun; POST /rotate/finish first", 409)
            self.pending = self.new_keypair()
            self.write_idp_hosted()
            return self._certs()

    def rotate_finish(self):
        with self.lock:
            if not self.pending:
                raise BadRequest("no rotation has begun; POST /rotate/begin first", 409)
            old, self.current, self.pending = self.current, self.pending, None
            self.write_idp_hosted()
            for f in old:
                try:
                    os.unlink(os.path.join(self.d["cert"], f))
                except OSError:
                    pass
            return self._certs()


# ---------------------------------------------------------------------------- control API

class ControlServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class Control(BaseHTTPRequestHandler):
    server_version = "accupredix-saml-idp-standin"

    def log_message(self, fmt, *args):
        pass

    def send_body(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def body_json(self):
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BadRequest("bad Content-Length")
        if not 0 < n <= MAX_BODY:
            raise BadRequest("a JSON body of 1..%d bytes is required" % MAX_BODY)
        try:
            return json.loads(self.rfile.read(n))
        except ValueError:
            raise BadRequest("body is not JSON")

    def route(self, method):
        idp = self.server.idp
        parts = urlsplit(self.path).path.split("/")[1:]
        if len(parts) > 1 and parts[-1] == "":
            parts = parts[:-1]
        if parts == ["health"] and method == "GET":
            return 200, {"ok": True}
        if parts == ["cert"] and method == "GET":
            return 200, idp.certs()
        if parts == ["sp"] and method == "GET":
            return 200, idp.list_sps()
        if len(parts) == 2 and parts[0] == "sp":
            name = unquote(parts[1])
            if method == "PUT":
                return 200, idp.put_sp(name, self.body_json())
            if method == "DELETE":
                return 200, idp.delete_sp(name)
        if parts == ["rotate", "begin"] and method == "POST":
            return 200, idp.rotate_begin()
        if parts == ["rotate", "finish"] and method == "POST":
            return 200, idp.rotate_finish()
        if parts == ["metadata"] and method == "GET":
            try:
                with urllib.request.urlopen(idp.entity, timeout=10) as r:
                    return 200, r.read()
            except (OSError, urllib.error.URLError) as e:
                return 502, {"error": "metadata fetch failed: %s" % type(e).__name__}
        known = {("health",), ("cert",), ("sp",), ("rotate", "begin"), ("rotate", "finish"),
                 ("metadata",)}
        if tuple(parts) in known or (len(parts) == 2 and parts[0] == "sp"):
            return 405, {"error": "method not allowed"}
        return 404, {"error": "no such resource"}

    def dispatch(self, method):
        try:
            status, obj = self.route(method)
        except BadRequest as e:
            status, obj = e.status, {"error": str(e)}
        except Exception as e:
            status, obj = 500, {"error": type(e).__name__}
        if isinstance(obj, bytes):
            self.send_body(status, obj, "application/samlmetadata+xml")
        else:
            self.send_body(status, (json.dumps(obj, indent=1) + "\n").encode(), "application/json")
        path = urlsplit(self.path).path
        self.server.log.line("control %s %s %d" % (method, QUERY.sub("", path)[:300], status))

    def do_GET(self):
        self.dispatch("GET")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")


# ---------------------------------------------------------------------------- php

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    """In the child before exec: get SIGTERM if this wrapper dies (even by SIGKILL), so
    php never outlives it on its port."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except Exception:
        pass


def start_php(idp, log):
    env = {k: v for k, v in os.environ.items() if k != "PHP_CLI_SERVER_WORKERS"}
    env["SIMPLESAMLPHP_CONFIG_DIR"] = idp.d["config"]
    env["TZ"] = "UTC"
    cmd = [PHP, "-d", "display_errors=stderr", "-d", "log_errors=0",
           "-d", "error_reporting=22527",          # E_ALL & ~E_DEPRECATED & ~E_STRICT
           "-d", "session.save_path=" + idp.d["session"],
           # the control API rewrites metadata files: never serve a
           # cached compile of the old one
           "-d", "opcache.enable=0", "-d", "opcache.enable_cli=0",
           "-S", "127.0.0.1:%d" % idp.port, "-t", SSP_WWW]
    proc = subprocess.Popen(cmd, env=env, cwd=idp.root, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=die_with_parent, start_new_session=True)

    def pump():
        for raw in iter(proc.stdout.readline, b""):
            text = php_log_line(raw)
            if text:
                log.line(text)
    threading.Thread(target=pump, daemon=True).start()
    return proc


def wait_ready(idp, proc):
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(idp.entity, timeout=3) as r:
                if b"IDPSSODescriptor" in r.read():
                    return True
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.05)
    return False


def stop_php(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(PHP_STOP_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# ---------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True, help="private state directory (created, 0700)")
    ap.add_argument("--port", type=int, default=0, help="IdP HTTP port on 127.0.0.1 (0 = any free)")
    ap.add_argument("--control-port", type=int, default=0, help="control port (0 = any free)")
    ap.add_argument("--pidfile", help="write the process id here")
    ap.add_argument("--log", help="append control requests and php's log lines here (default: stderr)")
    args = ap.parse_args(argv)
    os.umask(0o077)

    if not shutil.which(PHP) or not os.path.isdir(SSP_WWW):
        print("idp.py: needs php and simplesamlphp (apt-get install simplesamlphp php8.2-cgi "
              "php8.2-xml)", file=sys.stderr)
        return 2
    root = os.path.abspath(args.dir)
    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
        os.chmod(root, 0o700)
    except OSError as e:
        print("idp.py: cannot create %s: %s" % (root, e), file=sys.stderr)
        return 2
    log = Log(args.log)
    try:
        ctl = ControlServer(("127.0.0.1", args.control_port), Control)
    except OSError as e:
        print("idp.py: cannot bind the control port: %s" % e, file=sys.stderr)
        return 1

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())

    proc = idp = None
    for attempt in range(5 if args.port == 0 else 1):
        idp = IdP(root, args.port or free_port())
        try:
            idp.setup()
        except (OSError, RuntimeError, subprocess.SubprocessError) as e:
            print("idp.py: cannot write %s: %s" % (root, e), file=sys.stderr)
            return 2
        proc = start_php(idp, log)
        if wait_ready(idp, proc):
            break
        stop_php(proc)              # port taken meanwhile, or php failing: try again
        proc = None
        if stop.is_set():
            break
    if proc is None:
        print("idp.py: php -S did not come up (see the log)", file=sys.stderr)
        return 1

    ctl.idp, ctl.log = idp, log
    threading.Thread(target=ctl.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    log.line("started idp=%s control=http://127.0.0.1:%d php-pid=%d"
             % (idp.base, ctl.server_address[1], proc.pid))
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    print("listening idp=%s control=http://127.0.0.1:%d entity=%s sso=%s"
          % (idp.base, ctl.server_address[1], idp.entity, idp.sso), flush=True)

    rc = 0
    try:
        while not stop.wait(0.2):
            if proc.poll() is not None:
                log.line("php exited with status %s" % proc.returncode)
                print("idp.py: php -S exited with status %s" % proc.returncode, file=sys.stderr)
                rc = 1
                break
    finally:
        stop_php(proc)
        ctl.shutdown()
        ctl.server_close()
        if args.pidfile:
            try:
                os.unlink(args.pidfile)
            except OSError:
                pass
        log.line("stopped")
    return rc


if __name__ == "__main__":
    sys.exit(main())
