"""Helpers for the organisation, authorisation, API-key and admin-console
tests (docs/api.md).  Plain functions, no fixtures (like apxtest/authhelp).

The permission table of docs/api.md is written out here once (PERMS,
DOC_ROUTES); the binary's own table comes from `accupredix-fcgi --routes`
(route_table()).
"""

import json
import subprocess
import time
import uuid
from datetime import datetime, timezone
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path

import pytest

from apxtest import describe, media_type
from authhelp import bearer, jwt_parts, login, new_user, remember
import test_audit

# Postgres as the superuser, and accupredix-admin, exactly as the platform-audit tests reach them.
psql = test_audit._psql          # psql(stack, sql, check=True) -> CompletedProcess
admin_cli = test_audit._admin    # admin_cli(stack, *args) -> CompletedProcess

# ------------------------------------------------------------------ the contract

ROLES = ("viewer", "analyst", "admin", "owner")
PLANS = ("free", "growth", "agency")
KEY_ROLES = ("viewer", "analyst", "admin")
SCOPES = ("public", "internal", "user", "org", "superuser")


def role_rank(role):
    return ROLES.index(role)


def plan_rank(plan):
    return PLANS.index(plan)


def lower_role(a, b):
    return a if role_rank(a) <= role_rank(b) else b


# docs/api.md "Who may do what": perm -> (least role, plan, API keys allowed)
PERMS = {
    "org.read": ("viewer", "free", True),
    "org.write": ("admin", "free", True),
    "settings.read": ("admin", "free", True),
    "settings.write": ("admin", "free", True),
    "members.read": ("viewer", "free", True),
    "members.write": ("admin", "free", False),
    "membership.leave": ("viewer", "free", False),
    "invitations.read": ("admin", "free", False),
    "invitations.write": ("admin", "free", False),
    "workspaces.read": ("viewer", "free", True),
    "workspaces.write": ("admin", "growth", True),
    "ipallow.read": ("admin", "growth", False),
    "ipallow.write": ("admin", "growth", False),
    "apikeys.read": ("admin", "growth", False),
    "apikeys.write": ("admin", "growth", False),
    "audit.read": ("admin", "free", True),
    "privacy.export": ("admin", "free", False),
    "privacy.erase": ("admin", "free", False),
    "retention.read": ("admin", "growth", True),
    "retention.write": ("admin", "growth", True),
    "uploads.read": ("viewer", "free", True),
    "uploads.write": ("analyst", "free", True),
    "forecasts.read": ("viewer", "free", True),
    "forecasts.write": ("analyst", "free", True),
    "connectors.read": ("admin", "free", True),
    "connectors.write": ("admin", "free", True),
    "connectors.connect": ("admin", "free", False),
    "domains.read": ("admin", "agency", True),
    "domains.write": ("admin", "agency", True),
    "sso.read": ("admin", "agency", True),
    "sso.write": ("admin", "agency", False),
}

_O = "/api/v1/orgs/{org}"
# docs/api.md "Routes" (plus the routes of the earlier milestones): (method, pattern) -> (scope, perm)
DOC_ROUTES = {
    ("GET", "/healthz"): ("public", None),
    ("GET", "/readyz"): ("public", None),
    ("GET", "/.well-known/security.txt"): ("public", None),
    ("GET", "/security/disclosure"): ("public", None),
    ("GET", "/.well-known/jwks.json"): ("public", None),
    ("GET", "/api/v1/openapi.json"): ("public", None),
    ("GET", "/api/v1/client-config"): ("public", None),
    ("POST", "/api/v1/auth/register"): ("public", None),
    ("POST", "/api/v1/auth/login"): ("public", None),
    ("POST", "/api/v1/auth/refresh"): ("public", None),
    ("POST", "/api/v1/auth/mfa"): ("public", None),
    ("POST", "/api/v1/auth/verify-email"): ("public", None),
    ("POST", "/api/v1/auth/password-reset"): ("public", None),
    ("POST", "/api/v1/auth/password-reset/confirm"): ("public", None),
    ("POST", "/api/v1/me/verify-email"): ("user", None),
    ("GET", "/internal/metrics"): ("internal", None),
    ("GET", "/internal/settings"): ("internal", None),
    ("PATCH", "/internal/settings"): ("internal", None),
    ("POST", "/api/v1/auth/logout"): ("user", None),
    ("GET", "/api/v1/me"): ("user", None),
    ("GET", "/api/v1/me/sessions"): ("user", None),
    ("POST", "/api/v1/me/password"): ("user", None),
    ("GET", "/api/v1/me/mfa"): ("user", None),
    ("POST", "/api/v1/me/mfa"): ("user", None),
    ("DELETE", "/api/v1/me/mfa"): ("user", None),
    ("POST", "/api/v1/me/mfa/confirm"): ("user", None),
    ("POST", "/api/v1/me/mfa/recovery-codes"): ("user", None),
    ("DELETE", "/api/v1/me/sessions/{id}"): ("user", None),
    ("GET", "/api/v1/orgs"): ("user", None),
    ("POST", "/api/v1/orgs"): ("user", None),
    ("POST", "/api/v1/invitations/accept"): ("user", None),
    ("GET", _O): ("org", "org.read"),
    ("PATCH", _O): ("org", "org.write"),
    ("GET", _O + "/settings"): ("org", "settings.read"),
    ("PATCH", _O + "/settings"): ("org", "settings.write"),
    ("GET", _O + "/members"): ("org", "members.read"),
    ("PATCH", _O + "/members/{user}"): ("org", "members.write"),
    ("DELETE", _O + "/members/{user}"): ("org", "members.write"),
    ("DELETE", _O + "/membership"): ("org", "membership.leave"),
    ("GET", _O + "/invitations"): ("org", "invitations.read"),
    ("POST", _O + "/invitations"): ("org", "invitations.write"),
    ("DELETE", _O + "/invitations/{id}"): ("org", "invitations.write"),
    ("POST", _O + "/invitations/{id}/resend"): ("org", "invitations.write"),
    ("GET", _O + "/workspaces"): ("org", "workspaces.read"),
    ("POST", _O + "/workspaces"): ("org", "workspaces.write"),
    ("GET", _O + "/workspaces/{ws}"): ("org", "workspaces.read"),
    ("PATCH", _O + "/workspaces/{ws}"): ("org", "workspaces.write"),
    ("DELETE", _O + "/workspaces/{ws}"): ("org", "workspaces.write"),
    ("GET", _O + "/workspaces/{ws}/ip-allowlist"): ("org", "ipallow.read"),
    ("PUT", _O + "/workspaces/{ws}/ip-allowlist"): ("org", "ipallow.write"),
    ("GET", _O + "/api-keys"): ("org", "apikeys.read"),
    ("POST", _O + "/api-keys"): ("org", "apikeys.write"),
    ("GET", _O + "/api-keys/{id}"): ("org", "apikeys.read"),
    ("DELETE", _O + "/api-keys/{id}"): ("org", "apikeys.write"),
    ("POST", _O + "/api-keys/{id}/rotate"): ("org", "apikeys.write"),
    ("GET", _O + "/audit-log"): ("org", "audit.read"),
    ("GET", "/admin/api/orgs"): ("superuser", None),
    ("GET", "/admin/api/orgs/{org}"): ("superuser", None),
    ("PATCH", "/admin/api/orgs/{org}"): ("superuser", None),
    ("GET", "/admin/api/users"): ("superuser", None),
    ("GET", "/admin/api/settings"): ("superuser", None),
    ("PATCH", "/admin/api/settings"): ("superuser", None),
    ("POST", "/admin/api/impersonate"): ("superuser", None),
    ("DELETE", "/admin/api/impersonate/{id}"): ("superuser", None),
    ("GET", "/admin/api/audit-log"): ("superuser", None),
    # docs/api.md "Platform admin": the compliance sheet
    ("GET", "/admin/api/compliance"): ("superuser", None),
    ("POST", "/admin/api/compliance"): ("superuser", None),
    ("GET", "/admin/api/compliance/{id}"): ("superuser", None),
    ("PATCH", "/admin/api/compliance/{id}"): ("superuser", None),
    ("DELETE", "/admin/api/compliance/{id}"): ("superuser", None),
    # docs/api.md "Forecast data", "Retention", "Privacy"
    ("GET", _O + "/workspaces/{ws}/uploads"): ("org", "uploads.read"),
    ("POST", _O + "/workspaces/{ws}/uploads"): ("org", "uploads.write"),
    ("GET", _O + "/workspaces/{ws}/uploads/{id}"): ("org", "uploads.read"),
    ("DELETE", _O + "/workspaces/{ws}/uploads/{id}"): ("org", "uploads.write"),
    ("GET", _O + "/workspaces/{ws}/uploads/{id}/content"): ("org", "uploads.read"),
    ("GET", _O + "/workspaces/{ws}/forecasts"): ("org", "forecasts.read"),
    ("POST", _O + "/workspaces/{ws}/forecasts"): ("org", "forecasts.write"),
    ("GET", _O + "/workspaces/{ws}/forecasts/{id}"): ("org", "forecasts.read"),
    ("DELETE", _O + "/workspaces/{ws}/forecasts/{id}"): ("org", "forecasts.write"),
    ("GET", _O + "/retention"): ("org", "retention.read"),
    ("PUT", _O + "/retention"): ("org", "retention.write"),
    ("POST", _O + "/privacy/export"): ("org", "privacy.export"),
    ("POST", _O + "/privacy/erasure"): ("org", "privacy.erase"),
    ("POST", "/internal/retention/run"): ("internal", None),
    ("POST", "/internal/pii/run"): ("internal", None),
    ("GET", "/api/v1/me/export"): ("user", None),
    ("DELETE", "/api/v1/me"): ("user", None),
    # docs/api.md "Connectors"
    ("GET", "/api/v1/connectors"): ("user", None),
    ("GET", "/api/v1/connectors/{name}/callback"): ("public", None),
    ("GET", _O + "/connectors/{name}/config"): ("org", "connectors.read"),
    ("PUT", _O + "/connectors/{name}/config"): ("org", "connectors.write"),
    ("POST", _O + "/connectors/{name}/connect"): ("org", "connectors.connect"),
    ("GET", _O + "/connections"): ("org", "connectors.read"),
    ("GET", _O + "/connections/{id}"): ("org", "connectors.read"),
    ("DELETE", _O + "/connections/{id}"): ("org", "connectors.write"),
    ("POST", _O + "/connections/{id}/check"): ("org", "connectors.write"),
    ("PATCH", _O + "/connections/{id}"): ("org", "connectors.write"),
    ("POST", _O + "/connections/{id}/sync"): ("org", "connectors.write"),
    # docs/api.md "Verified domains"
    ("GET", _O + "/domains"): ("org", "domains.read"),
    ("POST", _O + "/domains"): ("org", "domains.write"),
    ("POST", _O + "/domains/{id}/verify"): ("org", "domains.write"),
    ("DELETE", _O + "/domains/{id}"): ("org", "domains.write"),
    # docs/api.md "Sign-in with Google, Microsoft and SSO"
    ("GET", _O + "/sso"): ("org", "sso.read"),
    ("PUT", _O + "/sso"): ("org", "sso.write"),
    ("DELETE", _O + "/sso"): ("org", "sso.write"),
    ("GET", "/api/v1/auth/oauth/{provider}/start"): ("public", None),
    ("GET", "/api/v1/auth/oauth/{provider}/callback"): ("public", None),
    ("POST", "/api/v1/auth/sso/lookup"): ("public", None),
    ("GET", "/api/v1/auth/sso/{org}/start"): ("public", None),
    ("GET", "/api/v1/auth/sso/{org}/oidc/callback"): ("public", None),
    ("GET", "/api/v1/auth/sso/{org}/saml/metadata"): ("public", None),
    ("POST", "/api/v1/auth/sso/{org}/saml/acs"): ("public", None),
    ("POST", "/webhooks/{connector}"): ("public", None),
    ("GET", "/api/v1/me/identities"): ("user", None),
    ("POST", "/api/v1/me/identities"): ("user", None),
    ("DELETE", "/api/v1/me/identities/{id}"): ("user", None),
}

ORG_ACTIONS = ("org.create", "org.update", "org.plan_change", "settings.update",
               "member.role_change", "member.remove", "member.leave", "member.join",
               "invitation.create", "invitation.revoke", "workspace.create",
               "workspace.update", "workspace.delete", "ip_allowlist.update", "api_key.create",
               "api_key.rotate", "api_key.revoke", "impersonation.start", "impersonation.use",
               "impersonation.end",
               # docs/api.md "Forecast data", "Retention", "Privacy"
               "upload.create", "upload.download", "upload.delete", "forecast.create",
               "forecast.delete", "retention.update", "retention.purge", "privacy.export",
               "privacy.erasure.subject", "privacy.erasure.org", "member.account_deleted",
               # docs/api.md "Connectors"
               "connector.config.update", "connector.connect", "connector.reauth",
               "connector.needs_reauth", "connector.disconnect",
               # docs/api.md "Webhooks and sync"
               "connector.update", "connector.sync", "connector.forget",
               "privacy.subject_export",
               "domain.add", "domain.verify", "domain.remove",
               # docs/api.md "Sign-in with Google, Microsoft and SSO"
               "sso.update", "sso.delete", "sso.login", "sso.login_failed", "sso.jit_join",
               "sso.break_glass")

KEY_RE = r"apx_[a-z2-7]{12}_[a-z2-7]{52}"
ENTRY_KEYS = {"seq", "at", "actor_type", "actor_id", "action", "target", "client_addr",
              "request_id", "before", "after"}
API_KEY_FIELDS = {"id", "prefix", "name", "role", "workspace_id", "created_by", "created_at",
                  "rotated_at", "rotated_by", "expires_at", "last_used_at", "revoked_at",
                  "rotation_due",
                  "previous_valid_until"}

# An id no row has: handlers answer their own 404 slug for it.
MISSING_ID = 987654321012
# Client addresses (the stack trusts 127.0.0.1 and ::1 as proxies: X-Forwarded-For counts).
ALLOWED_NET = "203.0.113.0/24"
ALLOWED_ADDR = "203.0.113.5"
OUTSIDE_ADDR = "198.51.100.7"

ORGS = "/api/v1/orgs"
ACCEPT = "/api/v1/invitations/accept"
ADMIN = "/admin/api"

# Every API key, invitation token and impersonation token these tests saw:
# the log audits look for each of them (also handed to authhelp.remember).
ORG_SECRETS = []


def keep_secret(*values):
    for v in values:
        if isinstance(v, str) and v and v not in ORG_SECRETS:
            ORG_SECRETS.append(v)
    remember(*values)


# ------------------------------------------------------------------ the binary's route table

_routes_cache = {}


class RouteTableError(Exception):
    pass


def route_table(stack):
    """The rows `BUILD_DIR/src/accupredix-fcgi --routes` prints (one JSON object a line)."""
    exe = Path(stack["BUILD_DIR"]) / "src" / "accupredix-fcgi"
    if exe in _routes_cache:
        return _routes_cache[exe]
    try:
        p = subprocess.run([str(exe), "--routes"], capture_output=True, text=True, timeout=30)
    except OSError as e:
        raise RouteTableError("cannot run %s --routes: %s" % (exe, e))
    if p.returncode != 0:
        raise RouteTableError("%s --routes exited %d: %s" % (exe, p.returncode, p.stderr.strip()))
    rows = []
    for line in p.stdout.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise RouteTableError("%s --routes printed a line that is not JSON: %r" % (exe, line))
        if not isinstance(row, dict) or not {"method", "pattern", "scope"} <= set(row):
            raise RouteTableError("%s --routes row lacks method/pattern/scope: %r" % (exe, line))
        rows.append(row)
    if not rows:
        raise RouteTableError("%s --routes printed no route" % exe)
    _routes_cache[exe] = rows
    return rows


def route_id(row):
    return "%s %s" % (row["method"], row["pattern"])


def norm_pattern(pattern):
    """A pattern with every {param} named after what it stands for (the segment
    before it), so that the tests do not depend on the binary's param names."""
    segs = pattern.split("/")
    names = {"orgs": "{org}", "workspaces": "{ws}", "members": "{user}",
             "connectors": "{name}", "sso": "{org}", "oauth": "{provider}",
             "webhooks": "{connector}"}
    out = []
    for i, s in enumerate(segs):
        if s.startswith("{") and s.endswith("}"):
            s = names.get(segs[i - 1], "{id}") if i else s
        out.append(s)
    return "/".join(out)


def fill(pattern, **values):
    """A concrete path: each {param} replaced after the segment before it
    (orgs -> org, workspaces -> ws, members -> user, anything else -> id)."""
    segs = norm_pattern(pattern).split("/")
    out = []
    for s in segs:
        if s.startswith("{") and s.endswith("}"):
            s = str(values.get(s[1:-1], MISSING_ID))
        out.append(s)
    return "/".join(out)


# ------------------------------------------------------------------ principals

class Principal:
    """Who sends a request: a name (used in test ids) and the headers to send.

    kind: anon | member | outsider | superuser | imp | key.  role: the member
    role (for a key: its role cap).  user: the account behind it (dict with
    id/email/password) when there is one.
    """

    def __init__(self, name, headers=None, kind="member", role=None, user=None, **extra):
        self.name = name
        self.headers = dict(headers or {})
        self.kind = kind
        self.role = role
        self.user = user
        self.extra = extra

    @property
    def is_key(self):
        return self.kind == "key"

    def h(self, extra=None):
        out = dict(self.headers)
        out.update(extra or {})
        return out

    def with_headers(self, **headers):
        p = Principal(self.name, self.h(headers), self.kind, self.role, self.user, **self.extra)
        return p

    def request(self, http, method, path, headers=None, **kw):
        return http.request(method, path, headers=self.h(headers), **kw)

    def __repr__(self):
        return "Principal(%s)" % self.name


def user_principal(name, token, role=None, user=None, kind="member"):
    return Principal(name, bearer(token), kind=kind, role=role, user=user)


def key_principal(name, key, role, **extra):
    keep_secret(key)
    return Principal(name, bearer(key), kind="key", role=role, **extra)


def from_addr(addr):
    """Headers that make a request (through the trusted local proxy) come from addr."""
    return {"X-Forwarded-For": addr}


# ------------------------------------------------------------------ accounts and orgs

def unique_slug(prefix="t"):
    return (prefix + uuid.uuid4().hex)[:41]


def org_url(slug, *rest):
    return "/".join([ORGS, str(slug)] + [str(r) for r in rest])


def token_of(http, user):
    """A fresh access token of the account."""
    body = login(http, user)
    return body["access_token"]


def new_member(http, name=None):
    """A registered and signed-in account: new_user() plus 'token'."""
    u = new_user(http, name)
    u["token"] = token_of(http, u)
    return u


def create_org_raw(http, token, slug=None, name=None, plan=None, region=None, headers=None):
    body = {"name": name if name is not None else "Org %s" % (slug or "x"),
            "slug": slug if slug is not None else unique_slug()}
    if plan is not None:
        body["plan"] = plan
    if region is not None:
        body["region"] = region
    h = bearer(token)
    h.update(headers or {})
    return http.post(ORGS, json=body, headers=h)


def create_org(http, token, plan=None, slug=None, name=None, region=None):
    """A new org (caller: owner); the `org` object of the 201 answer."""
    slug = slug or unique_slug()
    r = create_org_raw(http, token, slug=slug, name=name or "Org %s" % slug, plan=plan,
                       region=region)
    assert r.status_code == 201, describe(r)
    org = r.json()["org"]
    assert org["slug"] == slug, describe(r)
    return org


def invite(http, token, slug, email, role, expect=201):
    """POST invitations; the answer's body ({invitation, token}) or the response."""
    r = http.post(org_url(slug, "invitations"), json={"email": email, "role": role},
                  headers=bearer(token))
    if expect is None:
        return r
    assert r.status_code == expect, describe(r)
    body = r.json()
    keep_secret(body.get("token"))
    return body


def accept(http, token, invitation_token):
    keep_secret(invitation_token)
    return http.post(ACCEPT, json={"token": invitation_token}, headers=bearer(token))


def add_member(http, inviter_token, slug, role, user=None):
    """Invite (by inviter) and accept (by user, a fresh account unless given):
    the user dict with 'token' and 'role'."""
    if user is None:
        user = new_member(http)
    inv = invite(http, inviter_token, slug, user["email"], role)
    r = accept(http, user["token"], inv["token"])
    assert r.status_code == 200, describe(r)
    user = dict(user)
    user["role"] = role
    return user


def set_role(http, token, slug, user_id, role):
    """PATCH a member's role (docs/api.md names no success status: 200 or 204)."""
    return http.patch(org_url(slug, "members", user_id), json={"role": role},
                      headers=bearer(token))


def members(http, token, slug):
    r = http.get(org_url(slug, "members"), headers=bearer(token))
    assert r.status_code == 200, describe(r)
    return {m["user_id"]: m for m in r.json()["members"]}


def workspace_of(body):
    """The workspace object of a create/get answer ({workspace: {...}})."""
    return body["workspace"] if isinstance(body.get("workspace"), dict) else body


def workspaces(http, token, slug):
    r = http.get(org_url(slug, "workspaces"), headers=bearer(token))
    assert r.status_code == 200, describe(r)
    return r.json()["workspaces"]


def default_workspace(http, token, slug):
    ws = [w for w in workspaces(http, token, slug) if w["name"] == "default"]
    assert len(ws) == 1, "org %s has no single workspace 'default': %r" % (slug, ws)
    return ws[0]


def create_workspace(http, token, slug, name=None):
    r = http.post(org_url(slug, "workspaces"), json={"name": name or "ws-" + uuid.uuid4().hex[:12]},
                  headers=bearer(token))
    assert r.status_code == 201, describe(r)
    return workspace_of(r.json())


def sql_workspace(stack, org_id, name=None):
    """A workspace inserted straight into the database (for orgs whose plan
    does not let the API create one); its id."""
    name = name or "sql-" + uuid.uuid4().hex[:12]
    out = psql(stack, "INSERT INTO workspaces (org_id, name) VALUES (%d, '%s') RETURNING id"
               % (int(org_id), name)).stdout.strip()
    return int(out.splitlines()[0])


def create_api_key_raw(http, token, slug, role="viewer", name=None, workspace_id=None,
                       expires_at=None, headers=None):
    body = {"name": name or "key-" + uuid.uuid4().hex[:10], "role": role}
    if workspace_id is not None:
        body["workspace_id"] = workspace_id
    if expires_at is not None:
        body["expires_at"] = expires_at
    h = bearer(token)
    h.update(headers or {})
    r = http.post(org_url(slug, "api-keys"), json=body, headers=h)
    if r.status_code in (200, 201) and media_type(r) == "application/json":
        keep_secret(r.json().get("key"))
    return r


def create_api_key(http, token, slug, role="viewer", name=None, workspace_id=None,
                   expires_at=None):
    """A new API key: (api_key object, key text)."""
    r = create_api_key_raw(http, token, slug, role, name, workspace_id, expires_at)
    assert r.status_code == 201, describe(r)
    body = r.json()
    return body["api_key"], body["key"]


def set_allowlist(http, token, slug, ws_id, cidrs, expect=200):
    r = http.request("PUT", org_url(slug, "workspaces", ws_id, "ip-allowlist"),
                     json={"cidrs": cidrs}, headers=bearer(token))
    if expect is not None:
        assert r.status_code == expect, describe(r)
    return r


def org_settings(http, token, slug):
    r = http.get(org_url(slug, "settings"), headers=bearer(token))
    assert r.status_code == 200, describe(r)
    return r.json()["settings"]


def patch_org_settings(http, token, slug, **values):
    return http.patch(org_url(slug, "settings"), json=values, headers=bearer(token))


# ------------------------------------------------------------------ the platform operator

_su_cache = {}


def superuser(http, stack):
    """The stack's platform superuser, signed in: dict(id, email, password, token).
    Skips when the stack has none (no create-superuser)."""
    if not stack.get("ADMIN_EMAIL") or not stack.get("ADMIN_PASSWORD"):
        pytest.skip("the stack has no platform superuser (ADMIN_EMAIL/ADMIN_PASSWORD)")
    cached = _su_cache.get(stack["BASE_URL"])
    if cached and jwt_parts(cached["token"])[1].get("exp", 0) > time.time() + 120:
        return cached
    user = {"email": stack["ADMIN_EMAIL"], "password": stack["ADMIN_PASSWORD"]}
    body = login(http, user)
    user["id"] = body["user"]["id"]
    user["token"] = body["access_token"]
    _su_cache[stack["BASE_URL"]] = user
    return user


def impersonate_raw(http, su_token, user_id, reason="integration test"):
    r = http.post(ADMIN + "/impersonate", json={"user_id": user_id, "reason": reason},
                  headers=bearer(su_token))
    if r.status_code == 201 and media_type(r) == "application/json":
        keep_secret(r.json().get("access_token"))
    return r


def impersonate(http, su_token, user_id, reason="integration test"):
    """Start an impersonation: its answer {impersonation_id, access_token, expires_in}."""
    r = impersonate_raw(http, su_token, user_id, reason)
    assert r.status_code == 201, describe(r)
    return r.json()


def end_impersonation(http, su_token, imp_id):
    return http.delete("%s/impersonate/%s" % (ADMIN, imp_id), headers=bearer(su_token))


# ------------------------------------------------------------------ audit logs

def page_all(http, path, headers, params=None, limit=None, max_pages=1000):
    """Every entry of an audit-log listing, following next_cursor: (entries, pages)."""
    params = dict(params or {})
    if limit is not None:
        params["limit"] = limit
    entries, pages = [], 0
    while True:
        r = http.get(path, params=params, headers=headers)
        assert r.status_code == 200, describe(r)
        body = r.json()
        entries.extend(body["entries"])
        pages += 1
        cur = body.get("next_cursor")
        if not cur:
            return entries, pages
        assert pages < max_pages, "next_cursor never ends"
        params["cursor"] = cur


def org_audit(http, headers, slug, **params):
    """All entries of an org's audit log (newest first) matching the filters."""
    return page_all(http, org_url(slug, "audit-log"), headers, params, limit=500)[0]


def platform_audit(http, su_token, **params):
    return page_all(http, ADMIN + "/audit-log", bearer(su_token), params, limit=500)[0]


def respace_log(stack, log, start, step_seconds=60):
    """Move the timestamps of one audit log with SQL (entry seq n at start +
    (n-1) * step) and re-seal its hash chain with the database's own
    audit_digest(), so that `audit verify` still passes: time filters can then
    be tested on well separated instants without waiting."""
    psql(stack, """SET session_replication_role = replica;
DO $$
DECLARE
	r audit_log;
	prev bytea := '\\x'::bytea;
BEGIN
	FOR r IN SELECT * FROM audit_log WHERE log = '%s' ORDER BY seq LOOP
		r.at := timestamptz '%s' + (r.seq - 1) * interval '%d seconds';
		r.prev_hash := prev;
		r.hash := audit_digest(prev, r);
		UPDATE audit_log SET at = r.at, prev_hash = r.prev_hash, hash = r.hash
		    WHERE id = r.id;
		prev := r.hash;
	END LOOP;
END
$$;""" % (log, rfc3339(start), int(step_seconds)))


def by_request(entries, resp_or_rid):
    rid = resp_or_rid if isinstance(resp_or_rid, str) else resp_or_rid.headers["X-Request-Id"]
    return [e for e in entries if e.get("request_id") == rid]


def mentions(value, word):
    """The JSON text of value mentions word (before/after shapes are the implementation's)."""
    return value is not None and ('"%s"' % word) in json.dumps(value)


# ------------------------------------------------------------------ time

def parse_time(text):
    assert isinstance(text, str) and text, "not a timestamp: %r" % (text,)
    t = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
    assert t.tzinfo is not None, "timestamp without a zone: %r" % text
    return t


def rfc3339(t, frac=False):
    """RFC 3339 in UTC with Z; whole seconds unless frac."""
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S" + (".%fZ" if frac else "Z"))


def now_utc():
    return datetime.now(timezone.utc)


# ------------------------------------------------------------------ cookies

def cookies_off(session):
    """Make a requests session keep and send no cookie (returns the old policy)."""
    jar = session.cookies
    old = jar._policy  # noqa: SLF001 - http.cookiejar has no getter
    jar.clear()
    jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return old


def cookies_restore(session, old):
    session.cookies.clear()
    session.cookies.set_policy(old)
