"""The exhaustive authorisation matrix: every (route, method) the binary has
(`accupredix-fcgi --routes`) against every kind of caller, the expected
answer computed from the rules of docs/api.md ("Who may do what", steps 1-5)
and the row's scope/role/plan/user_only as the binary reports them.

A denied cell must be answered with the rule's status and problem slug.  An
allowed cell must not be an authorisation answer: not 401/402/403, not the
router's 404 `not-found`, not 405 and not 5xx.  To keep allowed cells from
changing anything, bodies are invalid (the handler answers 422) and
sub-resource ids do not exist (the handler answers its own 404 slug); the
few routes where that cannot work (leaving an org, deleting a workspace,
logout, ending a session or an impersonation, refresh) get throwaway
objects or have their state put back afterwards.

Columns: the caller kinds below against a growth-plan org; the four member
roles again against a free-plan org (402 on growth rows).  Public and
internal routes are checked for the anonymous caller only.
"""

import pytest

import apxtest
from apxtest import assert_problem, describe, media_type
from authhelp import bearer, jwt_parts, login
from orghelp import (ALLOWED_NET, DOC_ROUTES, KEY_ROLES, MISSING_ID, OUTSIDE_ADDR, PERMS,
                     PLANS, ROLES, SCOPES, Principal, RouteTableError, add_member, cookies_off,
                     cookies_restore, create_api_key, create_org, create_workspace,
                     default_workspace, end_impersonation, fill, from_addr, impersonate,
                     key_principal, lower_role, new_member, norm_pattern, plan_rank, psql,
                     role_rank, route_id, route_table, set_allowlist, sql_workspace,
                     superuser, user_principal)
from datahelp import forecast, upload

ALLOW = "allow"

# What each caller is, for the rules.  kind: anon | member | outsider |
# superuser | imp | key.  role: membership role / key role cap.  creator: the
# role of the member who made the key.  key_ws: the key's workspace scope
# ("this" = the {ws} of the request, "other" = another workspace of the org).
# org: "other" for a key of another org.  ws: which workspace {ws} is
# ("allow" = one with the allowlist 203.0.113.0/24); addr_ok: whether the
# caller's address is inside it.
SPEC = {
    "anonymous": dict(kind="anon"),
    "bad_jwt": dict(kind="anon"),
    "bad_key": dict(kind="anon"),
    "viewer": dict(kind="member", role="viewer"),
    "analyst": dict(kind="member", role="analyst"),
    "admin": dict(kind="member", role="admin"),
    "owner": dict(kind="member", role="owner"),
    "outsider": dict(kind="outsider"),
    "superuser": dict(kind="superuser"),
    "impersonation": dict(kind="imp", role="admin"),
    "key_viewer": dict(kind="key", role="viewer", creator="owner"),
    "key_analyst": dict(kind="key", role="analyst", creator="owner"),
    "key_admin": dict(kind="key", role="admin", creator="owner"),
    "key_other_ws": dict(kind="key", role="admin", creator="owner", key_ws="other"),
    "key_this_ws": dict(kind="key", role="admin", creator="owner", key_ws="this"),
    "key_other_org": dict(kind="key", role="admin", creator="owner", org="other"),
    "key_bad_addr": dict(kind="key", role="admin", creator="owner", ws="allow", addr_ok=False),
    "admin_bad_addr": dict(kind="member", role="admin", ws="allow", addr_ok=False),
}
PRINCIPALS = list(SPEC)
FREE_PRINCIPALS = list(ROLES)   # members of the free-plan org, same roles

NOT_FOUND = (404, "not-found")


class UnknownRule(Exception):
    pass


def expected(row, spec, org_plan):
    """ALLOW or (status, slug) for this route row, caller and org plan (docs/api.md)."""
    scope = row.get("scope")
    method = str(row.get("method", "")).upper()
    if scope not in SCOPES:
        raise UnknownRule("route %s: scope %r has no rule" % (route_id(row), scope))
    if scope == "public":
        return ALLOW
    if scope == "internal":
        return NOT_FOUND                       # the test sends no X-Internal-Secret
    kind = spec["kind"]
    # 1. credentials
    if kind == "anon":
        return (401, "unauthenticated")
    # 2. impersonation is read-only
    if kind == "imp" and method not in ("GET", "HEAD"):
        return (403, "impersonation-read-only")
    # 3. user scope
    if scope == "user":
        return (403, "api-key-not-allowed") if kind == "key" else ALLOW
    # 4. the console exists for superusers only
    if scope == "superuser":
        return ALLOW if kind == "superuser" else NOT_FOUND
    # 5. org scope
    perm, least, plan, user_only = (row.get("perm"), row.get("role"), row.get("plan"),
                                    row.get("user_only"))
    if perm not in PERMS or least not in ROLES or plan not in PLANS or \
            not isinstance(user_only, bool):
        raise UnknownRule("route %s: org row perm=%r role=%r plan=%r user_only=%r has no rule"
                          % (route_id(row), perm, least, plan, user_only))
    if kind in ("outsider", "superuser") or spec.get("org") == "other":
        return NOT_FOUND
    has_ws = "{ws}" in norm_pattern(row["pattern"])
    role = spec["role"]
    if kind == "key":
        if spec.get("key_ws") == "other":
            return NOT_FOUND
        if spec.get("key_ws") == "this" and not has_ws:
            return NOT_FOUND
        if has_ws and spec.get("ws") == "allow" and spec.get("addr_ok") is False:
            return (403, "address-not-allowed")
        if user_only:
            return (403, "api-key-not-allowed")
        role = lower_role(role, spec.get("creator", "owner"))
    if role_rank(role) < role_rank(least):
        return (403, "forbidden")
    if plan_rank(org_plan) < plan_rank(plan):
        return (402, "plan-required")
    return ALLOW


# ------------------------------------------------------------------ the cells

def _cells():
    st = apxtest.stack_env()
    if st is None:
        return [pytest.param(None, id="no-stack")]
    try:
        rows = route_table(st)
    except RouteTableError as e:
        return [pytest.param(("error", str(e)), id="route-table-unavailable")]
    cells = []
    for row in rows:
        rid = route_id(row)
        if row.get("scope") in ("public", "internal"):
            cells.append(pytest.param((row, "anonymous", "growth"), id="%s-anonymous" % rid))
            continue
        for name in PRINCIPALS:
            cells.append(pytest.param((row, name, "growth"), id="%s-%s" % (rid, name)))
        if row.get("scope") == "org":
            for name in FREE_PRINCIPALS:
                cells.append(pytest.param((row, name, "free"), id="%s-%s@free" % (rid, name)))
    return cells


def pytest_generate_tests(metafunc):
    if "cell" in metafunc.fixturenames:
        metafunc.parametrize("cell", _cells())


# ------------------------------------------------------------------ the world the cells run in

class World:
    """Two orgs of one owner (growth G, free F) with a viewer, analyst and
    admin each; an outsider owning growth org O; workspaces main (G's
    default), other and allow (allowlist 203.0.113.0/24) in G; keys; an
    impersonation of G's admin."""

    def __init__(self, http, stack):
        self.http, self.stack = http, stack
        try:
            self.su = superuser(http, stack)
        except pytest.skip.Exception:
            self.su = None
        self.owner = new_member(http, "Matrix Owner")
        tok = self.owner["token"]
        self.orgs = {"growth": create_org(http, tok, plan="growth"),
                     "free": create_org(http, tok, plan="free")}
        self.users = {"owner": self.owner}
        for role in ("viewer", "analyst", "admin"):
            u = new_member(http, "Matrix %s" % role)
            for org in self.orgs.values():
                add_member(http, tok, org["slug"], role, u)
            self.users[role] = u
        self.outsider = new_member(http, "Matrix Outsider")
        self.other_org = create_org(http, self.outsider["token"], plan="growth")
        g = self.orgs["growth"]["slug"]
        main = default_workspace(http, tok, g)["id"]
        other = create_workspace(http, tok, g)["id"]
        allow = create_workspace(http, tok, g)["id"]
        set_allowlist(http, tok, g, allow, [ALLOWED_NET])
        self.ws = {"growth": {"main": main, "other": other, "allow": allow},
                   "free": {"main": default_workspace(http, tok, self.orgs["free"]["slug"])["id"]}}
        p = {}
        p["anonymous"] = Principal("anonymous", {}, kind="anon")
        p["bad_jwt"] = Principal("bad_jwt", bearer(
            "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6IngifQ.e30." + "A" * 86), kind="anon")
        for role in ROLES:
            u = self.users[role]
            p[role] = user_principal(role, u["token"], role, u)
        p["outsider"] = user_principal("outsider", self.outsider["token"], None, self.outsider,
                                       kind="outsider")
        if self.su:
            p["superuser"] = user_principal("superuser", self.su["token"], None, self.su,
                                            kind="superuser")
            imp = impersonate(http, self.su["token"], self.users["admin"]["id"],
                              "authorisation matrix")
            p["impersonation"] = Principal("impersonation", bearer(imp["access_token"]),
                                           kind="imp", role="admin", user=self.users["admin"])
        for role in KEY_ROLES:
            ak, key = create_api_key(http, tok, g, role=role)
            p["key_" + role] = key_principal("key_" + role, key, role)
        # a real key id for the reads of .../api-keys/{id} (HEAD has no body to
        # tell the handler's 404 from the router's)
        self.read_ids = {"growth": {"api-keys": ak["id"]}, "free": {}}
        self.tenant_data(tok)
        prefix = p["key_admin"].headers["Authorization"].split("_")[1]
        p["bad_key"] = Principal("bad_key", bearer("apx_%s_%s" % (prefix, "a" * 52)), kind="anon")
        _, key = create_api_key(http, tok, g, role="admin", workspace_id=other)
        p["key_other_ws"] = key_principal("key_other_ws", key, "admin")
        _, key = create_api_key(http, tok, g, role="admin", workspace_id=main)
        p["key_this_ws"] = key_principal("key_this_ws", key, "admin")
        _, key = create_api_key(http, self.outsider["token"], self.other_org["slug"], role="admin")
        p["key_other_org"] = key_principal("key_other_org", key, "admin")
        _, key = create_api_key(http, tok, g, role="admin")
        p["key_bad_addr"] = key_principal("key_bad_addr", key, "admin").with_headers(
            **from_addr(OUTSIDE_ADDR))
        p["admin_bad_addr"] = p["admin"].with_headers(**from_addr(OUTSIDE_ADDR))
        p["admin_bad_addr"].name = "admin_bad_addr"
        self.principals = p

    def tenant_data(self, tok):
        """An upload (no personal columns: reading it audits nothing) and a
        forecast in every workspace the cells use, for the reads of
        .../uploads/{id}[/content] and .../forecasts/{id}: read_ids of those
        segments are keyed by workspace (SPEC "ws", default main)."""
        for column, wss in self.ws.items():
            slug = self.orgs[column]["slug"]
            ups, fcs = {}, {}
            for wname, ws in wss.items():
                up = upload(self.http, bearer(tok), slug, ws, "day,sales\n1,10\n2,12\n3,11\n",
                            name="matrix-" + wname)
                fc = forecast(self.http, bearer(tok), slug, ws, up["id"], value_column="sales")
                ups[wname], fcs[wname] = up["id"], fc["forecast"]["id"]
            self.read_ids[column]["uploads"] = ups
            self.read_ids[column]["forecasts"] = fcs
            # a connection (no tokens) for the reads of .../connections/{id}
            out = psql(self.stack, "INSERT INTO connections (org_id, connector) VALUES "
                       "(%d, 'matrix') RETURNING id" % int(self.orgs[column]["id"])).stdout
            self.read_ids[column]["connections"] = int(out.split()[0])
            # an item of the compliance sheet for the reads of
            # /admin/api/compliance/{id}
            out = psql(self.stack, "INSERT INTO compliance_items (kind, name, purpose,"
                       " data_categories, region, review_due) VALUES ('dpa', 'matrix',"
                       " 'matrix', ARRAY['matrix'], 'eu', '2999-01-01') RETURNING id").stdout
            self.read_ids[column]["compliance"] = int(out.split()[0])

    def principal(self, name):
        if name not in self.principals:
            pytest.skip("no %s principal in this stack (no platform superuser)" % name)
        return self.principals[name]

    # -- throwaway objects for the routes that change state

    def fresh_workspace(self, column, name, p):
        """A new workspace for DELETE .../workspaces/{ws} (and the principal to use)."""
        spec = SPEC[name]
        org = self.orgs[column]
        tok = self.owner["token"]
        if column == "free":
            return sql_workspace(self.stack, org["id"]), p
        ws = create_workspace(self.http, tok, org["slug"])["id"]
        if spec.get("ws") == "allow":
            set_allowlist(self.http, tok, org["slug"], ws, [ALLOWED_NET])
        if spec.get("key_ws") == "this":
            _, key = create_api_key(self.http, tok, org["slug"], role=spec["role"], workspace_id=ws)
            p = key_principal(name, key, spec["role"])
        return ws, p

    def restore_membership(self, column, p):
        """Put a member back after DELETE .../membership (a plain row: the
        API has no way to re-add someone without another invitation)."""
        if p.user is None or p.kind not in ("member", "imp"):
            return
        role = p.role or SPEC[p.name]["role"]
        psql(self.stack, "INSERT INTO memberships (org_id, user_id, role) VALUES (%d, %d, '%s') "
             "ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role"
             % (int(self.orgs[column]["id"]), int(p.user["id"]), role))

    def fresh_login(self, p):
        """Another session of the principal's account: the login answer."""
        return login(self.http, p.user)


@pytest.fixture(scope="module")
def world(http, stack):
    old = cookies_off(http.session)
    try:
        yield World(http, stack)
    finally:
        cookies_restore(http.session, old)


# ------------------------------------------------------------------ probes

def _o(rest=""):
    return "/api/v1/orgs/{org}" + rest


# bodies that every handler refuses without changing anything
PROBE_BODIES = {
    ("PATCH", _o()): {"name": ""},
    ("PATCH", _o("/settings")): {"api_key_max_age_days": 0},
    ("PATCH", _o("/members/{user}")): {"role": "viewer"},
    ("POST", _o("/invitations")): {"email": "not-an-email", "role": "viewer"},
    ("POST", _o("/workspaces")): {"name": ""},
    ("PATCH", _o("/workspaces/{ws}")): {"name": ""},
    ("PUT", _o("/workspaces/{ws}/ip-allowlist")): {"cidrs": ["203.0.113.1/24"]},
    ("POST", _o("/api-keys")): {"name": "", "role": "viewer"},
    ("POST", "/api/v1/orgs"): {"name": "", "slug": "-"},
    ("POST", "/api/v1/invitations/accept"): {"token": "no-such-invitation"},
    ("POST", "/api/v1/me/password"): {},
    # no password, no code: 422, the second factor stays
    ("POST", "/api/v1/me/mfa"): {},
    ("DELETE", "/api/v1/me/mfa"): {},
    ("POST", "/api/v1/me/mfa/confirm"): {},
    ("POST", "/api/v1/me/mfa/recovery-codes"): {},
    ("POST", "/api/v1/auth/mfa"): {},
    ("PATCH", "/admin/api/orgs/{org}"): {"plan": "no-such-plan"},
    ("PATCH", "/admin/api/settings"): {"access_token_lifetime": 5},
    ("POST", "/admin/api/impersonate"): {},
    # a kind the compliance sheet does not have: 422, nothing added
    ("POST", "/admin/api/compliance"): {"kind": "no-such-kind"},
    ("PATCH", "/admin/api/compliance/{id}"): {"kind": "no-such-kind"},
    ("PATCH", "/internal/settings"): {"access_token_lifetime": 5},
    # a JSON body where text/csv is required: 415
    ("POST", _o("/workspaces/{ws}/uploads")): {},
    ("POST", _o("/workspaces/{ws}/forecasts")): {"name": ""},
    ("PUT", _o("/retention")): {"upload_days": 0},
    # exporting changes nothing (it is audited); erasure needs subject or scope: 422
    ("POST", _o("/privacy/export")): {},
    ("POST", _o("/privacy/erasure")): {},
    # no password: 422, the account stays
    ("DELETE", "/api/v1/me"): {},
    # a setting the connector does not have: 422
    ("PUT", _o("/connectors/{name}/config")): {"no_such_setting": "x"},
    # a workspace that is not one: 422
    ("PATCH", _o("/connections/{id}")): {"workspace_id": "x"},
}

# Allowed cells of these routes must be refused by the handler's validation
# (422), never carried out.
MUST_BE_422 = {("POST", _o("/privacy/erasure")), ("DELETE", "/api/v1/me"),
               ("POST", "/api/v1/me/mfa"), ("DELETE", "/api/v1/me/mfa")}

LEAVE = ("DELETE", _o("/membership"))
DELETE_WS = ("DELETE", _o("/workspaces/{ws}"))
LOGOUT = ("POST", "/api/v1/auth/logout")
END_SESSION = ("DELETE", "/api/v1/me/sessions/{id}")
END_IMP = ("DELETE", "/admin/api/impersonate/{id}")
REFRESH = ("POST", "/api/v1/auth/refresh")


def probe_body(method, pattern):
    if (method, pattern) in PROBE_BODIES:
        return PROBE_BODIES[(method, pattern)]
    return {} if method in ("POST", "PUT", "PATCH") else None


def check(r, want, method, what):
    ctx = "%s%s" % (what, describe(r))
    st = r.status_code
    if want == ALLOW:
        assert st not in (401, 402, 403, 405), "an allowed request was refused: %s" % ctx
        assert st < 500, "server error on an allowed request: %s" % ctx
        if st == 404:
            assert method != "HEAD", "an allowed HEAD answered 404: %s" % ctx
            body = {}
            if media_type(r) == "application/problem+json":
                body = r.json()
            assert body.get("type", "") != apxtest.PROBLEM_TYPE_PREFIX + "not-found", \
                "an allowed request got the router's 404 not-found (want the handler's own " \
                "answer): %s" % ctx
        return
    status, slug = want
    if method == "HEAD":
        assert st == status, "want %d: %s" % (status, ctx)
    else:
        assert st == status, "want %d %s: %s" % (status, slug, ctx)
        assert_problem(r, status, slug)


def test_matrix(cell, world, http, stack):
    if cell is None:
        pytest.skip("no stack")
    if cell[0] == "error":
        pytest.fail(cell[1])
    row, name, column = cell
    method = str(row["method"]).upper()
    pattern = norm_pattern(row["pattern"])
    spec = SPEC[name]
    want = expected(row, spec, column)
    p = world.principal(name)
    org = world.orgs[column]
    values = {"org": org["slug"], "ws": world.ws[column][spec.get("ws", "main")],
              "user": MISSING_ID, "id": MISSING_ID, "name": "shopify"}
    body = probe_body(method, pattern)
    after = []
    route = (method, pattern)
    if route == DELETE_WS:
        values["ws"], p = world.fresh_workspace(column, name, p)
    elif route == LEAVE:
        after.append(lambda: world.restore_membership(column, p))
    elif route == LOGOUT and want == ALLOW:
        p = p.with_headers(**bearer(world.fresh_login(p)["access_token"]))
    elif route == END_SESSION and want == ALLOW:
        values["id"] = jwt_parts(world.fresh_login(p)["access_token"])[1]["sid"]
    elif route == END_IMP:
        if world.su is None:
            pytest.skip("no platform superuser")
        imp = impersonate(http, world.su["token"], world.outsider["id"], "matrix throwaway")
        values["id"] = imp["impersonation_id"]
        after.append(lambda: end_impersonation(http, world.su["token"], imp["impersonation_id"]))
    elif route == REFRESH:
        body = {"refresh_token": world.fresh_login(world.principals["viewer"])["refresh_token"]}
    if method in ("GET", "HEAD"):
        for segment, real in world.read_ids[column].items():
            if "/%s/{id}" % segment in pattern:
                if isinstance(real, dict):     # ids of one workspace each
                    real = real.get(spec.get("ws", "main"), MISSING_ID)
                values["id"] = real
    path = fill(pattern, **values)
    kw = {"json": body} if body is not None else {}
    what = "%s %s as %s (%s org): want %s" % (method, path, name, column, want)
    try:
        r = p.request(http, method, path, **kw)
        check(r, want, method, what)
        if route in MUST_BE_422 and want == ALLOW:
            assert r.status_code == 422, "a destructive probe was not refused: " + what + \
                describe(r)
        if route == REFRESH:
            assert r.status_code == 200, what + describe(r)
    finally:
        for fn in after:
            fn()


# ------------------------------------------------------------------ the table itself

def test_every_route_has_an_expectation_rule(routes):
    """A route the generator has no rule for (unknown scope, perm, role or
    plan) would get no meaningful cells: fail instead."""
    bad = []
    for row in routes:
        for name, spec in SPEC.items():
            for plan in ("growth", "free"):
                try:
                    expected(row, spec, plan)
                except (UnknownRule, KeyError, ValueError) as e:
                    bad.append("%s: %s" % (route_id(row), e))
                    break
            else:
                continue
            break
    assert not bad, "routes without an expectation rule:\n" + "\n".join(sorted(set(bad)))


def test_org_routes_have_scope_org_and_console_routes_scope_superuser(routes):
    bad = []
    for row in routes:
        pat = row["pattern"]
        if pat.startswith("/api/v1/orgs/"):
            want = "org"
        elif pat == "/admin/api" or pat.startswith("/admin/api/"):
            want = "superuser"
        elif pat.startswith("/internal/"):
            want = "internal"
        else:
            continue
        if row.get("scope") != want:
            bad.append("%s: scope %r, want %r" % (route_id(row), row.get("scope"), want))
    assert not bad, "\n".join(bad)


def test_org_rows_agree_with_the_documented_permission_table(routes):
    bad = []
    for row in routes:
        if row.get("scope") != "org":
            continue
        perm = row.get("perm")
        if perm not in PERMS:
            bad.append("%s: perm %r is not in docs/api.md" % (route_id(row), perm))
            continue
        role, plan, keys = PERMS[perm]
        got = (row.get("role"), row.get("plan"), row.get("user_only"))
        if got != (role, plan, not keys):
            bad.append("%s (%s): role/plan/user_only %r, docs/api.md says %r"
                       % (route_id(row), perm, got, (role, plan, not keys)))
    assert not bad, "\n".join(bad)


def test_documented_routes_exist_with_their_scope_and_perm(routes):
    have = {}
    for row in routes:
        have[(str(row["method"]).upper(), norm_pattern(row["pattern"]))] = row
    bad = []
    for (method, pattern), (scope, perm) in sorted(DOC_ROUTES.items()):
        row = have.get((method, pattern))
        if row is None:
            bad.append("missing: %s %s" % (method, pattern))
            continue
        if row.get("scope") != scope:
            bad.append("%s %s: scope %r, docs say %r" % (method, pattern, row.get("scope"), scope))
        if scope == "org" and row.get("perm") != perm:
            bad.append("%s %s: perm %r, docs say %r" % (method, pattern, row.get("perm"), perm))
    assert not bad, "\n".join(bad)


def test_matrix_covers_every_route(routes):
    """The generated cells are the route table: one per (route, caller)."""
    ids = {route_id(r) for r in routes}
    assert len(ids) == len(routes), "duplicate (method, pattern) rows in --routes"
    cells = [c.values[0] for c in _cells() if c.values[0] and c.values[0][0] != "error"]
    assert {route_id(c[0]) for c in cells} == ids
    org_rows = sum(1 for r in routes if r.get("scope") == "org")
    other = sum(1 for r in routes if r.get("scope") in ("user", "superuser"))
    simple = sum(1 for r in routes if r.get("scope") in ("public", "internal"))
    unknown = len(routes) - org_rows - other - simple
    assert len(cells) == (org_rows * (len(PRINCIPALS) + len(FREE_PRINCIPALS)) +
                          (other + unknown) * len(PRINCIPALS) + simple)


def test_internal_routes_with_the_secret_are_not_refused(routes, http, internal):
    """The other half of the internal rows: with the secret the guard lets them through."""
    bad = []
    for row in routes:
        if row.get("scope") != "internal" or str(row["method"]).upper() not in ("GET", "HEAD"):
            continue
        r = http.request(str(row["method"]).upper(), fill(row["pattern"]), headers=internal)
        if r.status_code in (401, 403, 404):
            bad.append("%s: %d" % (route_id(row), r.status_code))
    assert not bad, "\n".join(bad)

