"""Helpers for the SAML tests (docs/api.md "SAML"): the stack's IdP
(tests/standins/saml/idp.py: SimpleSAMLphp, SAML_IDP_* in stack.env) driven
as a browser would, and the app's side: start -> the IdP's login form ->
the auto-submitted form -> our ACS with the SameSite=None binding cookie.
"""

import html.parser
import re
import urllib.parse

import requests

from apxtest import describe
from authhelp import remember

COOKIE = "__Host-apx_saml"


class _Form(html.parser.HTMLParser):
    """The first form of a page: its action and its inputs."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.inputs = {}
        self._in = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = a.get("action")
            self._in = True
        elif tag == "input" and self._in and a.get("name"):
            self.inputs[a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._in = False


def form_of(text):
    f = _Form()
    f.feed(text)
    return f


def start(http, slug, cookie=None, expect=303, **params):
    """GET .../sso/{org}/start of a SAML org: (IdP URL, binding cookie)."""
    h = {"Cookie": "%s=%s" % (COOKIE, cookie)} if cookie else {}
    r = http.get("/api/v1/auth/sso/%s/start" % slug, headers=h, params=params or None,
                 allow_redirects=False)
    assert r.status_code == expect, describe(r)
    if expect != 303:
        return r, None
    if cookie is None:
        line = [v for k, v in r.raw.headers.items() if k.lower() == "set-cookie"
                and v.startswith(COOKIE + "=")]
        assert line, describe(r)
        assert "SameSite=None" in line[0] and "Secure" in line[0] and "HttpOnly" in line[0]
        cookie = line[0].split(";", 1)[0].split("=", 1)[1]
    remember(cookie)
    return r.headers["Location"], cookie


def idp_login(url, user, password):
    """The IdP's login: (ACS URL, SAMLResponse, RelayState) of its form."""
    s = requests.Session()
    r = s.get(url, timeout=15)
    assert r.status_code == 200, describe(r)
    f = form_of(r.text)
    assert "AuthState" in f.inputs, r.text[:500]
    login = urllib.parse.urljoin(r.url, urllib.parse.urlsplit(r.url).path)
    r = s.post(login, data={"AuthState": f.inputs["AuthState"], "username": user,
                            "password": password}, timeout=15)
    assert r.status_code == 200, describe(r)
    f = form_of(r.text)
    assert "SAMLResponse" in f.inputs, r.text[:500]
    remember(f.inputs["SAMLResponse"])
    return f.action, f.inputs["SAMLResponse"], f.inputs.get("RelayState")


def acs(http, stack, action, saml_response, relay_state, cookie):
    """POST the form to our ACS (ACTION is at PUBLIC_ORIGIN): the 303."""
    origin = stack["PUBLIC_ORIGIN"]
    assert action.startswith(origin + "/"), action
    data = {"SAMLResponse": saml_response}
    if relay_state is not None:
        data["RelayState"] = relay_state
    h = {"Cookie": "%s=%s" % (COOKIE, cookie)} if cookie else {}
    r = http.post(action[len(origin):], data=data, headers=h, allow_redirects=False)
    assert r.status_code == 303, describe(r)
    return r


def control(stack, method, path, body=None):
    r = requests.request(method, stack["SAML_IDP_CONTROL_URL"] + path, json=body, timeout=30)
    assert r.status_code == 200, describe(r)
    return r.json()


PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)
