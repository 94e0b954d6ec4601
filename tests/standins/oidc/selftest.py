"""Self-test of the loopback OpenID Providers (tests/standins/oidc/server.mjs).

Run: /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/standins/oidc/selftest.py
Needs node (>= 20), npm (for `npm ci` when node_modules is missing) and python3-requests.
"""

import base64
import hashlib
import html
import json
import os
import re
import secrets
import signal
import subprocess
import tempfile
import time
import urllib.parse

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
REDIRECT = {
    "google": "http://127.0.0.1:9/cb/google",
    "microsoft": "http://127.0.0.1:9/cb/microsoft",
    "orgidp": "http://127.0.0.1:9/cb/orgidp",
}
T1 = "11111111-1111-4111-8111-111111111111"
T2 = "22222222-2222-4222-8222-222222222222"
T3 = "33333333-3333-4333-8333-333333333333"

CONFIG = {
    "google": {
        "clients": [
            {"client_id": "g-client", "client_secret": "g-secret", "redirect_uris": [REDIRECT["google"]]},
            {"client_id": "g-consent", "client_secret": "g-secret2", "redirect_uris": [REDIRECT["google"]],
             "auto_consent": False},
        ],
        "users": [
            {"email": "alice@gmail.test", "password": "alice-pw", "email_verified": True, "name": "Alice"},
            {"email": "bob-unverified@gmail.test", "password": "bob-pw", "email_verified": False, "name": "Bob"},
            {"email": "wanda@workspace.test", "password": "wanda-pw", "email_verified": True,
             "name": "Wanda", "hd": "workspace.test"},
        ],
    },
    "microsoft": {
        "clients": [
            {"client_id": "m-client", "client_secret": "m-secret", "redirect_uris": [REDIRECT["microsoft"]]},
        ],
        "users": [
            {"email": "carol@contoso.test", "password": "carol-pw", "name": "Carol", "tid": T1,
             "oid": "c0c0c0c0-0000-4000-8000-00000000ca01"},
            {"email": "dave@fabrikam.test", "password": "dave-pw", "name": "Dave", "tid": T2},
            {"email": "trudy@contoso.test", "password": "trudy-pw", "name": "Trudy", "tid": T1, "iss_tid": T3},
        ],
    },
    "orgidp": {
        "clients": [
            {"client_id": "o-client", "client_secret": "o-secret", "redirect_uris": [REDIRECT["orgidp"]],
             "id_token_signed_response_alg": "ES256"},
        ],
        "users": [
            {"email": "erin@example-agency.test", "password": "erin-pw", "email_verified": True, "name": "Erin"},
            {"email": "mallory@other-agency.test", "password": "mallory-pw", "email_verified": True,
             "name": "Mallory"},
        ],
    },
}
CLIENT = {"google": ("g-client", "g-secret"), "microsoft": ("m-client", "m-secret"), "orgidp": ("o-client", "o-secret")}


def b64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def decode_jwt(jwt):
    header, payload, _sig = jwt.split(".")
    return b64url_json(header), b64url_json(payload)


@pytest.fixture(scope="module")
def server():
    if not os.path.isdir(os.path.join(HERE, "node_modules", "oidc-provider")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True,
                       stdout=subprocess.DEVNULL)
    tmp = tempfile.mkdtemp(prefix="oidc-selftest-")
    cfg = os.path.join(tmp, "config.json")
    with open(cfg, "w") as f:
        json.dump(CONFIG, f)
    pidfile, logfile = os.path.join(tmp, "pid"), os.path.join(tmp, "log")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        ["node", os.path.join(HERE, "server.mjs"), "--config", cfg, "--port-base", "0",
         "--pidfile", pidfile, "--log", logfile],
        stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "stderr"), "w"), text=True)
    line = proc.stdout.readline()
    started = time.monotonic() - t0
    assert line.startswith("listening "), line
    urls = dict(kv.split("=", 1) for kv in line.split()[1:])
    assert set(urls) == {"google", "microsoft", "orgidp"}
    assert os.path.exists(pidfile)
    print(f"\nserver ready in {started:.2f}s: {line.strip()}")
    yield {"urls": urls, "proc": proc, "log": logfile, "tmp": tmp}
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert not os.path.exists(pidfile)


def discovery(server, name):
    r = requests.get(server["urls"][name] + "/.well-known/openid-configuration", timeout=5)
    assert r.status_code == 200
    return r.json()


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def form_action(page, base):
    m = re.search(r'<form method="post" action="([^"]+)"', page)
    assert m, page
    return urllib.parse.urljoin(base, html.unescape(m.group(1)))


def login(disc, client_id, redirect_uri, user, password, scope="openid email profile", sess=None,
          expect_consent=False, extra=None):
    """The request sequence documented in README.md; returns (callback params, nonce, verifier)."""
    s = sess or requests.Session()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": scope, "state": state, "nonce": nonce,
              "code_challenge": challenge, "code_challenge_method": "S256"}
    params.update(extra or {})
    url = disc["authorization_endpoint"] + "?" + urllib.parse.urlencode(params)
    saw_consent = False
    for _ in range(10):
        r = s.get(url, allow_redirects=False, timeout=5)
        if r.status_code in (302, 303):
            url = urllib.parse.urljoin(url, r.headers["Location"])
            if url.startswith(redirect_uri):
                break
            continue
        assert r.status_code == 200, (r.status_code, r.text[:500])
        if 'name="password"' in r.text:
            r = s.post(form_action(r.text, url), data={"prompt": "login", "login": user, "password": password},
                       allow_redirects=False, timeout=5)
        else:
            assert ">Continue<" in r.text
            saw_consent = True
            r = s.post(form_action(r.text, url), data={"prompt": "consent"}, allow_redirects=False, timeout=5)
        assert r.status_code == 303, (r.status_code, r.text[:500])
        url = urllib.parse.urljoin(url, r.headers["Location"])
        if url.startswith(redirect_uri):
            break
    else:
        pytest.fail("no redirect to redirect_uri")
    assert saw_consent == expect_consent
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert q.get("state") == state
    return q, nonce, verifier


def exchange(disc, client, code, verifier, redirect_uri, method="basic"):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": verifier}
    if method == "basic":
        r = requests.post(disc["token_endpoint"], data=data, auth=client, timeout=5)
    else:
        data.update(client_id=client[0], client_secret=client[1])
        r = requests.post(disc["token_endpoint"], data=data, timeout=5)
    return r


@pytest.mark.parametrize("name,user,pw,alg", [
    ("google", "alice@gmail.test", "alice-pw", "RS256"),
    ("microsoft", "carol@contoso.test", "carol-pw", "RS256"),
    ("orgidp", "erin@example-agency.test", "erin-pw", "ES256"),
])
def test_full_code_flow(server, name, user, pw, alg):
    disc = discovery(server, name)
    jwks = requests.get(disc["jwks_uri"], timeout=5).json()
    ktys = {k["kty"] for k in jwks["keys"]}
    assert ktys == {"RSA", "EC"}
    assert all("d" not in k for k in jwks["keys"])
    assert disc["code_challenge_methods_supported"] == ["S256"]
    assert {"client_secret_basic", "client_secret_post"} <= set(disc["token_endpoint_auth_methods_supported"])

    q, nonce, verifier = login(disc, CLIENT[name][0], REDIRECT[name], user, pw)
    assert q["iss"] == disc["issuer"]
    r = exchange(disc, CLIENT[name], q["code"], verifier, REDIRECT[name])
    assert r.status_code == 200, r.text
    tok = r.json()
    header, claims = decode_jwt(tok["id_token"])
    assert header["alg"] == alg
    assert header["kid"] in {k["kid"] for k in jwks["keys"]}
    if name == "microsoft":
        assert "{tenantid}" in disc["issuer"]
        assert claims["tid"] == T1
        assert claims["iss"] == disc["issuer"].replace("{tenantid}", T1)
        assert claims["oid"] == "c0c0c0c0-0000-4000-8000-00000000ca01"
    else:
        assert claims["iss"] == disc["issuer"] == server["urls"][name]
    assert claims["aud"] == CLIENT[name][0]
    assert claims["nonce"] == nonce
    assert claims["sub"]
    assert claims["exp"] > time.time() > claims["iat"] - 5
    if name == "orgidp":
        assert "email" not in claims  # conformIdTokenClaims: only in UserInfo
    else:
        assert claims["email"] == user

    ui = requests.get(disc["userinfo_endpoint"], headers={"Authorization": "Bearer " + tok["access_token"]},
                      timeout=5)
    assert ui.status_code == 200, ui.text
    info = ui.json()
    assert info["sub"] == claims["sub"]
    assert info["email"] == user
    if name != "microsoft":
        assert info["email_verified"] is True

    # the code is single use
    again = exchange(disc, CLIENT[name], q["code"], verifier, REDIRECT[name])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_microsoft_second_tenant_and_post_auth(server):
    disc = discovery(server, "microsoft")
    assert disc["authorization_endpoint"].endswith("/common/oauth2/v2.0/authorize")
    q, nonce, verifier = login(disc, "m-client", REDIRECT["microsoft"], "dave@fabrikam.test", "dave-pw")
    r = exchange(disc, CLIENT["microsoft"], q["code"], verifier, REDIRECT["microsoft"], method="post")
    assert r.status_code == 200, r.text
    _h, claims = decode_jwt(r.json()["id_token"])
    assert claims["tid"] == T2
    assert claims["iss"] == disc["issuer"].replace("{tenantid}", T2)
    assert re.fullmatch(r"[0-9a-f-]{36}", claims["oid"])
    # discovery stays a template after tokens were issued
    assert discovery(server, "microsoft")["issuer"] == disc["issuer"]


def test_microsoft_iss_tid_differs_from_tid(server):
    disc = discovery(server, "microsoft")
    q, _n, v = login(disc, "m-client", REDIRECT["microsoft"], "trudy@contoso.test", "trudy-pw")
    tok = exchange(disc, CLIENT["microsoft"], q["code"], v, REDIRECT["microsoft"]).json()
    _h, claims = decode_jwt(tok["id_token"])
    assert claims["tid"] == T1
    assert claims["iss"] == disc["issuer"].replace("{tenantid}", T3)
    assert "iss_tid" not in claims
    ui = requests.get(disc["userinfo_endpoint"], headers={"Authorization": "Bearer " + tok["access_token"]},
                      timeout=5).json()
    assert ui["tid"] == T1 and "iss_tid" not in ui
    # discovery keeps the {tenantid} template
    assert discovery(server, "microsoft")["issuer"] == disc["issuer"]


def test_google_claims_and_hd(server):
    disc = discovery(server, "google")
    q, _n, v = login(disc, "g-client", REDIRECT["google"], "bob-unverified@gmail.test", "bob-pw")
    _h, claims = decode_jwt(exchange(disc, CLIENT["google"], q["code"], v, REDIRECT["google"]).json()["id_token"])
    assert claims["email_verified"] is False and "hd" not in claims
    q, _n, v = login(disc, "g-client", REDIRECT["google"], "wanda@workspace.test", "wanda-pw", scope="openid")
    _h, claims = decode_jwt(exchange(disc, CLIENT["google"], q["code"], v, REDIRECT["google"]).json()["id_token"])
    assert claims["hd"] == "workspace.test"


def test_manual_consent_client(server):
    disc = discovery(server, "google")
    q, _n, v = login(disc, "g-consent", REDIRECT["google"], "alice@gmail.test", "alice-pw", expect_consent=True)
    assert exchange(disc, ("g-consent", "g-secret2"), q["code"], v, REDIRECT["google"]).status_code == 200


def test_refusals(server):
    disc = discovery(server, "orgidp")
    base = {"response_type": "code", "client_id": "o-client", "redirect_uri": REDIRECT["orgidp"],
            "scope": "openid", "state": "s", "nonce": "n"}
    # no PKCE: error redirect to the client
    r = requests.get(disc["authorization_endpoint"], params=base, allow_redirects=False, timeout=5)
    assert r.status_code in (302, 303)
    assert "error=invalid_request" in r.headers["Location"]
    # unknown redirect_uri: error page, no redirect
    bad = dict(base, redirect_uri="http://127.0.0.1:9/evil", code_challenge="x" * 43, code_challenge_method="S256")
    r = requests.get(disc["authorization_endpoint"], params=bad, allow_redirects=False, timeout=5)
    assert r.status_code == 400
    # wrong password: 401 and the form again
    s = requests.Session()
    _v, ch = pkce_pair()
    r = s.get(disc["authorization_endpoint"], params=dict(base, code_challenge=ch, code_challenge_method="S256"),
              allow_redirects=False, timeout=5)
    url = urllib.parse.urljoin(disc["authorization_endpoint"], r.headers["Location"])
    page = s.get(url, timeout=5).text
    r = s.post(form_action(page, url), data={"prompt": "login", "login": "erin@example-agency.test",
                                             "password": "nope"}, allow_redirects=False, timeout=5)
    assert r.status_code == 401 and 'name="password"' in r.text
    # wrong PKCE verifier and wrong client secret
    q, _n, v = login(disc, "o-client", REDIRECT["orgidp"], "mallory@other-agency.test", "mallory-pw")
    assert exchange(disc, ("o-client", "wrong"), q["code"], v, REDIRECT["orgidp"]).status_code == 401
    q, _n, v = login(disc, "o-client", REDIRECT["orgidp"], "mallory@other-agency.test", "mallory-pw")
    r = exchange(disc, CLIENT["orgidp"], q["code"], v + "x", REDIRECT["orgidp"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_key_rotation_and_stats(server):
    for name in ("google", "microsoft"):
        base = server["urls"][name]
        port_root = base.split("/common")[0]
        requests.post(port_root + "/_control/reset-stats", timeout=5)
        disc = discovery(server, name)
        old_kids = {k["kid"] for k in requests.get(disc["jwks_uri"], timeout=5).json()["keys"]}
        stats = requests.get(port_root + "/_control/stats", timeout=5).json()
        assert stats["discovery"] == 1 and stats["jwks"] == 1
        assert set(stats["kids"]) == old_kids

        rot = requests.post(port_root + "/_control/rotate-keys", timeout=10).json()
        assert set(rot["previous"]) == old_kids
        new_kids = {k["kid"] for k in requests.get(disc["jwks_uri"], timeout=5).json()["keys"]}
        assert new_kids == set(rot["kids"]) and not (new_kids & old_kids)

        user, pw = ("alice@gmail.test", "alice-pw") if name == "google" else ("carol@contoso.test", "carol-pw")
        q, _n, v = login(disc, CLIENT[name][0], REDIRECT[name], user, pw)
        header, _c = decode_jwt(exchange(disc, CLIENT[name], q["code"], v, REDIRECT[name]).json()["id_token"])
        assert header["kid"] in new_kids and header["kid"] not in old_kids

        rot2 = requests.post(port_root + "/_control/rotate-keys?keep_old=1", timeout=10).json()
        published = {k["kid"] for k in requests.get(disc["jwks_uri"], timeout=5).json()["keys"]}
        assert published == set(rot2["signing"]) | new_kids
        stats = requests.get(port_root + "/_control/stats", timeout=5).json()
        assert stats["jwks"] == 3 and stats["discovery"] == 1 and stats["token"] == 1


def test_log_has_no_secrets(server):
    with open(server["log"]) as f:
        text = f.read()
    assert " GET " in text
    for needle in ("alice-pw", "carol-pw", "g-secret", "code=", "access_token", "Bearer", "?"):
        assert needle not in text, needle
    assert "/interaction/*" in text
