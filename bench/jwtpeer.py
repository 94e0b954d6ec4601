#!/usr/bin/env python3
"""bench/jwtpeer.py DIR: what bench/run's JWT peer needs (see bench/README.md,
"peer"): an RSA key and self-signed certificate (DIR/key.pem, DIR/cert.pem;
mod_auth_openidc 2.4.12.3 crashes on an EC one) and an RS256 token signed by
that key, kid "peer", valid one day (DIR/token, 0600). Only the stdlib and
the openssl command line. Prints nothing on success."""

import base64
import json
import os
import subprocess
import sys
import time


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    d = sys.argv[1]
    os.makedirs(d, mode=0o755, exist_ok=True)
    key, cert, tok = (os.path.join(d, n) for n in ("key.pem", "cert.pem", "token"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=accupredix-bench-peer", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)      # Apache reads it after dropping to www-data
    now = int(time.time())
    head = b64u(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "peer"}).encode())
    body = b64u(json.dumps({"iss": "accupredix-bench", "sub": "bench-peer", "aud": "bench",
                            "iat": now, "nbf": now, "exp": now + 86400}).encode())
    signing = (head + "." + body).encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing,
                         check=True, capture_output=True).stdout
    fd = os.open(tok, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(head + "." + body + "." + b64u(sig))


if __name__ == "__main__":
    main()
