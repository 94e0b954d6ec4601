"""Helpers for the connector tests (docs/api.md "Connectors"): the provider
stand-ins of the stack (tests/standins/providers.py, PROVIDERS_URL in
stack.env) and the connect flow driven as a browser would: connect ->
provider authorize (auto-consent) -> our callback with the binding cookie.
"""

import json
import urllib.parse

import requests

from apxtest import describe
from authhelp import bearer, remember

COOKIE = "__Host-apx_oauth"
CONNECTORS = ("shopify", "intuit", "xero")


def providers_url(stack):
    return stack.get("PROVIDERS_URL", "").rstrip("/")


def control(stack, path, body=None):
    url = providers_url(stack) + "/_control/" + path
    if body is None and not path.startswith(("reset", "revoke")):
        r = requests.get(url, timeout=10)
    else:
        r = requests.post(url, json=body or {}, timeout=10)
    assert r.status_code == 200, describe(r)
    return r.json()


def provider_secrets(stack):
    """Every client secret, token and code the stand-ins know of."""
    out = list(control(stack, "secrets"))
    try:
        with open(stack["PROVIDERS_CONFIG"]) as f:
            conf = json.load(f)
        out += [v["client_secret"] for v in conf.values()
                if isinstance(v, dict) and "client_secret" in v]
    except (KeyError, OSError):
        pass
    remember(*out)
    return out


def token_calls(stack, provider, grant):
    return control(stack, "stats")["token_calls"].get(provider, {}).get(grant, 0)


def set_config(http, token, slug, name, values, expect=200):
    r = http.request("PUT", "/api/v1/orgs/%s/connectors/%s/config" % (slug, name),
                     json=values, headers=bearer(token))
    assert r.status_code == expect, describe(r)
    return r


def start(http, token, slug, name, cookie=None, expect=200):
    """POST .../connect: (authorize_url, binding cookie value)."""
    h = bearer(token)
    if cookie:
        h["Cookie"] = "%s=%s" % (COOKIE, cookie)
    r = http.post("/api/v1/orgs/%s/connectors/%s/connect" % (slug, name), headers=h)
    assert r.status_code == expect, describe(r)
    if expect != 200:
        return r, None
    set_cookie = r.headers.get("Set-Cookie", "")
    if cookie is None:
        assert set_cookie.startswith(COOKIE + "="), describe(r)
        cookie = set_cookie.split(";", 1)[0].split("=", 1)[1]
        for attr in ("Secure", "HttpOnly", "Path=/", "SameSite=Lax"):
            assert attr in set_cookie, set_cookie
    remember(cookie)
    return r.json()["authorize_url"], cookie


def authorize(stack, url):
    """The stand-in's consent: the Location it redirects the browser to."""
    assert url.startswith(providers_url(stack) + "/"), url
    r = requests.get(url, allow_redirects=False, timeout=10)
    assert r.status_code == 302, describe(r)
    loc = r.headers["Location"]
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
    remember(*(v[0] for k, v in q.items() if k in ("code", "hmac")))
    return loc


def callback_path(location):
    """PUBLIC_ORIGIN/api/v1/... -> /api/v1/... (the stack answers on BASE_URL)."""
    parts = urllib.parse.urlsplit(location)
    assert parts.path.startswith("/api/v1/connectors/"), location
    return parts.path + ("?" + parts.query if parts.query else "")


def callback(http, location, cookie):
    h = {"Cookie": "%s=%s" % (COOKIE, cookie)} if cookie else {}
    return http.get(callback_path(location), headers=h)


def connect(http, stack, token, slug, name):
    """A whole connect flow; the `connection` of the callback's answer."""
    url, cookie = start(http, token, slug, name)
    loc = authorize(stack, url)
    r = callback(http, loc, cookie)
    assert r.status_code == 303, describe(r)
    return r.json()["connection"]


def with_query(location, **changes):
    parts = urllib.parse.urlsplit(location)
    q = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    q = [(k, changes.pop(k) if k in changes else v) for k, v in q]
    q += list(changes.items())
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(q)))
