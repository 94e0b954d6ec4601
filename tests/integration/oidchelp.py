"""Helpers for the sign-in tests (docs/api.md "Sign-in with Google,
Microsoft and SSO"): the OpenID providers of the stack, driven as a browser
would. oidc-provider (tests/standins/oidc/server.mjs: OIDC_*_URL in
stack.env) plays Google, Microsoft and the demo org's IdP with a real login
form; badop (tests/standins/oidc/badop.mjs: BADOP_URL) answers at once and
serves the bad answers of the negative suite.

Cookies are carried by hand: the app's are Secure and the stack speaks
plain http on loopback, and in a real browser the app and the provider
would be different sites anyway.
"""

import base64
import json
import re
import urllib.parse
import uuid

import pytest
import requests

from apxtest import describe
from authhelp import bearer, remember
from orghelp import create_org, new_member

COOKIE = "__Host-apx_oauth"
ACCESS = "__Host-apx_access"
REFRESH = "__Host-apx_refresh"
CSRF = "__Host-apx_csrf"


def need(stack, *keys):
    for k in keys:
        if not stack.get(k):
            pytest.skip("stack without %s" % k)


def set_cookies(resp):
    """name -> (value, attributes) of every Set-Cookie of RESP."""
    out = {}
    raw = resp.raw.headers.get_all("Set-Cookie") if hasattr(resp.raw.headers, "get_all") \
        else [resp.headers.get("Set-Cookie", "")]
    for line in raw or []:
        if not line:
            continue
        first, _, attrs = line.partition(";")
        name, _, value = first.partition("=")
        out[name.strip()] = (value.strip(), attrs)
    return out


def path_of(location, public_origin):
    """PUBLIC_ORIGIN/x -> /x (the stack answers on BASE_URL)."""
    assert location.startswith(public_origin + "/"), location
    return location[len(public_origin):]


def query_of(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query,
                                       keep_blank_values=True))


def with_query(url, **changes):
    parts = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    q = [(k, changes.pop(k) if k in changes else v) for k, v in q]
    q += list(changes.items())
    q = [(k, v) for k, v in q if v is not None]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(q)))


def start(http, path, cookie=None, expect=303, **params):
    """GET a .../start: (authorize URL, binding cookie)."""
    h = {"Cookie": "%s=%s" % (COOKIE, cookie)} if cookie else {}
    r = http.get(path, headers=h, params=params or None, allow_redirects=False)
    assert r.status_code == expect, describe(r)
    if expect != 303:
        return r, None
    assert r.headers.get("Cache-Control", "").find("no-store") >= 0, describe(r)
    if cookie is None:
        c = set_cookies(r).get(COOKIE)
        assert c is not None, describe(r)
        cookie = c[0]
        for attr in ("Secure", "HttpOnly", "Path=/", "SameSite=Lax"):
            assert attr in c[1], c[1]
    remember(cookie)
    return r.headers["Location"], cookie


def op_login(url, email, password, consent=False):
    """oidc-provider's login (README of the stand-in): the Location that
    sends the browser back to the relying party."""
    s = requests.Session()
    r = s.get(url, allow_redirects=False, timeout=15)
    assert r.status_code in (302, 303), describe(r)
    base = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(url))
    loc = urllib.parse.urljoin(base, r.headers["Location"])
    if not urllib.parse.urlsplit(loc).path.startswith("/interaction/"):
        return loc     # a provider session: straight back
    r = s.get(loc, allow_redirects=False, timeout=15)
    assert r.status_code == 200, describe(r)
    r = s.post(loc, data={"prompt": "login", "login": email, "password": password},
               allow_redirects=False, timeout=15)
    assert r.status_code in (302, 303), describe(r)
    loc = urllib.parse.urljoin(base, r.headers["Location"])
    for _ in range(4):
        r = s.get(loc, allow_redirects=False, timeout=15)
        assert r.status_code in (302, 303), describe(r)
        loc = urllib.parse.urljoin(base, r.headers["Location"])
        if not loc.startswith(base):
            break
        if urllib.parse.urlsplit(loc).path.startswith("/interaction/"):
            r = s.post(loc, data={"prompt": "consent"}, allow_redirects=False, timeout=15)
            assert r.status_code in (302, 303), describe(r)
            loc = urllib.parse.urljoin(base, r.headers["Location"])
    q = query_of(loc)
    remember(*(v for k, v in q.items() if k == "code"))
    return loc


def badop_authorize(url):
    """badop answers the authorization request at once."""
    r = requests.get(url, allow_redirects=False, timeout=15)
    assert r.status_code == 302, describe(r)
    loc = r.headers["Location"]
    remember(*(v for k, v in query_of(loc).items() if k == "code"))
    return loc


def callback(http, stack, location, cookie):
    """The browser coming back: our 303 answer."""
    h = {"Cookie": "%s=%s" % (COOKIE, cookie)} if cookie else {}
    r = http.get(path_of(location, stack["PUBLIC_ORIGIN"]), headers=h,
                 allow_redirects=False)
    assert r.status_code == 303, describe(r)
    return r


def signed_in(r):
    """The session cookies of a successful callback (access token)."""
    c = set_cookies(r)
    assert ACCESS in c and REFRESH in c and CSRF in c, describe(r)
    for name in (ACCESS, REFRESH):
        assert "HttpOnly" in c[name][1] and "Secure" in c[name][1]
    remember(c[ACCESS][0], c[REFRESH][0])
    return c[ACCESS][0]


def failed(r, stack, code):
    """A refused sign-in: back to the login page with CODE, no session."""
    loc = r.headers["Location"]
    assert ACCESS not in set_cookies(r), describe(r)
    q = query_of(loc)
    assert q.get("error") == code, loc
    return q


def jwt_part(tok, i):
    seg = tok.split(".")[i]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


# ---- badop (tests/standins/oidc/badop.mjs)

def badop_issuer(stack, name, slug, user, fault="none", alg="RS256", extra_uris=()):
    """Create or replace badop issuer NAME for org SLUG's redirect URI."""
    redirect = "%s/api/v1/auth/sso/%s/oidc/callback" % (stack["PUBLIC_ORIGIN"], slug)
    body = {"client_id": "cid-" + name, "client_secret": "sec-" + uuid.uuid4().hex,
            "redirect_uris": [redirect] + list(extra_uris), "user": user,
            "fault": fault, "alg": alg}
    r = requests.put("%s/_control/issuers/%s" % (stack["BADOP_URL"], name), json=body,
                     timeout=10)
    assert r.status_code == 200, describe(r)
    remember(body["client_secret"])
    out = r.json()
    out.update(body)
    return out


def badop_fault(stack, name, fault):
    r = requests.post("%s/_control/issuers/%s/fault" % (stack["BADOP_URL"], name),
                      json={"fault": fault}, timeout=10)
    assert r.status_code == 200, describe(r)


def badop_stats(stack, name):
    r = requests.get("%s/_control/issuers/%s/stats" % (stack["BADOP_URL"], name), timeout=10)
    assert r.status_code == 200, describe(r)
    return r.json()


def badop_rotate(stack, name):
    r = requests.post("%s/_control/issuers/%s/rotate" % (stack["BADOP_URL"], name), timeout=10)
    assert r.status_code == 200, describe(r)
    return r.json()


def verified_agency(http, stack, prefix):
    """A new user owning a new Agency org with one domain verified through
    the DNS stand-in."""
    u = new_member(http)
    org = create_org(http, u["token"], plan="agency")
    h = bearer(u["token"])
    domain = "%s-%s.example.test" % (prefix, uuid.uuid4().hex[:12])
    r = http.post("/api/v1/orgs/%s/domains" % org["slug"], json={"domain": domain}, headers=h)
    assert r.status_code == 201, describe(r)
    d = r.json()["domain"]
    r = requests.put("%s/records/TXT/%s" % (stack["DNS_CONTROL_URL"].rstrip("/"), d["txt_name"]),
                     json=[d["txt_value"]], timeout=10)
    assert r.status_code in (200, 204), describe(r)
    r = http.post("/api/v1/orgs/%s/domains/%d/verify" % (org["slug"], d["id"]), headers=h)
    assert r.status_code == 200 and r.json()["domain"]["verified"] is True, describe(r)
    return {"token": u["token"], "h": h, "slug": org["slug"], "id": org["id"], "domain": domain}


def op_control(url, path, method="POST"):
    """oidc-provider stand-in's control API (on the provider's root)."""
    parts = urllib.parse.urlsplit(url)
    root = "%s://%s" % (parts.scheme, parts.netloc)
    r = requests.request(method, root + "/_control/" + path, timeout=10)
    assert r.status_code == 200, describe(r)
    return r.json()


def unique(prefix):
    return "%s%s" % (prefix, uuid.uuid4().hex[:10])


EMAIL_RE = re.compile(r"[^@]+@[^@]+")
