#!/usr/bin/python3
"""bench/oidc.py: completed OpenID Connect sign-ins per second through the
stack's web server (bench/run's `oidc` benchmark).

One sign-in is what a browser does: GET /api/v1/auth/sso/{org}/start (a
state, a nonce and a PKCE verifier in the state store), the provider's
authorization endpoint (badop, tests/standins/oidc/badop.mjs: it answers at
once, no login page), and GET .../oidc/callback: the state consumed, the
code exchanged at the provider's token endpoint, the ID token verified
against the cached JWKS, UserInfo read, the identity found, a session made
and its cookies set. The org, its verified domain (through the DNS
stand-in), the badop issuer and the SSO configuration are made here, as the
stack's first login (ADMIN_EMAIL).

The provider's share is measured apart: the same token and UserInfo calls
made directly to badop, one at a time, give the time a callback spends
waiting for the provider; "excluding the provider" figures subtract it.

Prints `RESULT key=value` lines for bench/run; never a token or a secret.

usage: oidc.py STACK_ENV DURATION THREADS
"""
import base64
import hashlib
import json
import os
import secrets
import shlex
import sys
import threading
import time
import urllib.parse

import requests

COOKIE = "__Host-apx_oauth"


def env(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            out[k] = shlex.split(v)[0] if v else ""
    return out


def die(msg):
    print("ERROR %s" % msg)
    sys.exit(1)


def setup(st):
    base = st["BASE_URL"]
    s = requests.Session()
    r = s.post(base + "/api/v1/auth/login", json={"email": st["ADMIN_EMAIL"],
               "password": st["ADMIN_PASSWORD"]}, timeout=60)
    if r.status_code != 200:
        die("admin login: %d" % r.status_code)
    h = {"Authorization": "Bearer " + r.json()["access_token"]}
    s.cookies.clear()
    tag = secrets.token_hex(4)
    slug = "bench_sso_" + tag
    r = s.post(base + "/api/v1/orgs", json={"slug": slug, "name": "Bench SSO", "plan": "agency"},
               headers=h, timeout=120)
    if r.status_code != 201:
        die("create org: %d" % r.status_code)
    org = base + "/api/v1/orgs/" + slug
    domain = "bench-%s.example.test" % tag
    r = s.post(org + "/domains", json={"domain": domain}, headers=h, timeout=30)
    d = r.json()["domain"]
    requests.put("%s/records/TXT/%s" % (st["DNS_CONTROL_URL"].rstrip("/"), d["txt_name"]),
                 json=[d["txt_value"]], timeout=10).raise_for_status()
    if s.post("%s/domains/%d/verify" % (org, d["id"]), headers=h, timeout=30).status_code != 200:
        die("domain verification failed")
    name = "bench-" + tag
    secret = secrets.token_urlsafe(24)
    redirect = "%s/api/v1/auth/sso/%s/oidc/callback" % (st["PUBLIC_ORIGIN"], slug)
    r = requests.put("%s/_control/issuers/%s" % (st["BADOP_URL"], name), json={
        "client_id": "bench", "client_secret": secret, "redirect_uris": [redirect],
        "user": {"sub": "bench-user", "email": "bench@" + domain, "email_verified": True,
                 "name": "Bench User"}}, timeout=10)
    r.raise_for_status()
    issuer = r.json()["issuer"]
    r = s.request("PUT", org + "/sso", json={"issuer": issuer, "client_id": "bench",
                  "client_secret": secret, "jit": True, "default_role": "viewer"},
                  headers=h, timeout=30)
    if r.status_code != 200:
        die("sso config: %d" % r.status_code)
    return slug, issuer, secret, redirect


def sign_in(http, st, slug, times=None):
    base, origin = st["BASE_URL"], st["PUBLIC_ORIGIN"]
    t0 = time.perf_counter()
    r = http.get(base + "/api/v1/auth/sso/%s/start" % slug, allow_redirects=False, timeout=30)
    if r.status_code != 303:
        return False
    cookie = r.cookies.get(COOKIE) or r.headers.get("Set-Cookie", "").split(";")[0].split("=", 1)[1]
    t1 = time.perf_counter()
    r = http.get(r.headers["Location"], allow_redirects=False, timeout=30)
    if r.status_code != 302:
        return False
    loc = r.headers["Location"]
    t2 = time.perf_counter()
    r = http.get(base + loc[len(origin):], headers={"Cookie": "%s=%s" % (COOKIE, cookie)},
                 allow_redirects=False, timeout=30)
    t3 = time.perf_counter()
    ok = r.status_code == 303 and r.headers.get("Location") == origin + "/app"
    if times is not None and ok:
        times.append((t1 - t0, t2 - t1, t3 - t2))
    return ok


def provider_share(st, issuer, secret, redirect, n=40):
    """Seconds of one code exchange + UserInfo at badop, made directly."""
    s = requests.Session()
    spent = []
    for _ in range(n):
        verifier = secrets.token_urlsafe(32)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
            .rstrip(b"=").decode()
        q = urllib.parse.urlencode({"response_type": "code", "client_id": "bench",
                                    "redirect_uri": redirect, "scope": "openid email profile",
                                    "state": "s", "nonce": "n", "code_challenge": challenge,
                                    "code_challenge_method": "S256"})
        r = s.get(issuer + "/authorize?" + q, allow_redirects=False, timeout=10)
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.headers["Location"]).query))["code"]
        t0 = time.perf_counter()
        r = s.post(issuer + "/token", data={"grant_type": "authorization_code", "code": code,
                   "redirect_uri": redirect, "code_verifier": verifier},
                   auth=("bench", secret), timeout=10)
        at = r.json()["access_token"]
        s.get(issuer + "/userinfo", headers={"Authorization": "Bearer " + at}, timeout=10)
        spent.append(time.perf_counter() - t0)
    spent.sort()
    return spent[len(spent) // 2]


def main():
    st = env(sys.argv[1])
    duration, threads = float(sys.argv[2]), int(sys.argv[3])
    for k in ("BADOP_URL", "DNS_CONTROL_URL", "ADMIN_EMAIL", "ADMIN_PASSWORD", "PUBLIC_ORIGIN"):
        if not st.get(k):
            die("the stack has no %s" % k)
    slug, issuer, secret, redirect = setup(st)
    warm = requests.Session()
    for _ in range(2 * threads):
        if not sign_in(warm, st, slug):
            die("a warm-up sign-in failed")
    # one at a time: where a sign-in's time goes
    seq = []
    for _ in range(30):
        sign_in(warm, st, slug, seq)
    prov = provider_share(st, issuer, secret, redirect)
    done, failed, stop = [0], [0], time.perf_counter() + duration
    lock = threading.Lock()

    def worker():
        http = requests.Session()
        n = f = 0
        while time.perf_counter() < stop:
            if sign_in(http, st, slug):
                n += 1
            else:
                f += 1
        with lock:
            done[0] += n
            failed[0] += f

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - t0
    med = lambda xs: sorted(xs)[len(xs) // 2]
    start_ms = med([x[0] for x in seq]) * 1000
    cb_ms = med([x[2] for x in seq]) * 1000
    print("RESULT signins=%d failed=%d seconds=%.1f threads=%d" % (done[0], failed[0], elapsed, threads))
    print("RESULT rps=%.1f" % (done[0] / elapsed))
    print("RESULT start_ms=%.2f callback_ms=%.2f provider_ms=%.2f app_ms=%.2f"
          % (start_ms, cb_ms, prov * 1000, start_ms + cb_ms - prov * 1000))
    # the app's own time per sign-in, one at a time, without the provider
    app = (start_ms + cb_ms - prov * 1000) / 1000
    print("RESULT app_only_rps_one_thread=%.1f" % (1 / app if app > 0 else 0))


if __name__ == "__main__":
    main()
