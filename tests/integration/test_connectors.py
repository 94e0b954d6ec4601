"""Connectors (docs/api.md "Connectors", DESIGN §5): the plugins of the stack
(Shopify, Intuit, Xero) connected through Apache + mod_fcgid against the
provider stand-ins (tests/standins/providers.py), the OAuth state store's
refusals, Shopify's callback checks, refresh of rotating tokens under a row
lock, invalid_grant -> needs_reauth, disconnect, the plugin host's
refusals, and a hostile plugin that tries to reach what is not its own.
"""

import glob
import hashlib
import hmac
import json
import os
import shutil
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

import connhelp as ch
from apxtest import assert_problem, describe
from authhelp import bearer
from orghelp import (add_member, create_org, new_member, org_audit, psql, set_role)

CONN = "/api/v1/orgs/%s/connections"
SHOP = "demo-store.myshopify.com"


@pytest.fixture(scope="module")
def have_connectors(stack):
    if not stack.get("PROVIDERS_URL"):
        pytest.skip("stack without provider stand-ins (PROVIDERS_URL)")
    return True


@pytest.fixture
def owner(http, have_connectors):
    u = new_member(http)
    org = create_org(http, u["token"])
    u["slug"] = org["slug"]
    u["org_id"] = org["id"]
    return u


def knobs(stack, provider, **values):
    values["provider"] = provider
    return ch.control(stack, "config", values)


def client_secret(stack, provider):
    with open(stack["PROVIDERS_CONFIG"]) as f:
        return json.load(f)[provider]["client_secret"]


def shopify_hmac(params, secret):
    msg = "&".join("%s=%s" % (k, v) for k, v in sorted(params) if k not in ("hmac", "signature"))
    return hmac.new(secret.encode(), msg.encode(), hashlib.sha256).hexdigest()


def resign(stack, location, **changes):
    """The callback LOCATION with CHANGES and a correct Shopify hmac."""
    parts = urllib.parse.urlsplit(location)
    q = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)]
    q = [(k, changes.pop(k) if k in changes else v) for k, v in q] + list(changes.items())
    q = [(k, v) for k, v in q if k != "hmac"]
    q.append(("hmac", shopify_hmac(q, client_secret(stack, "shopify"))))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(q)))


def connections(http, u):
    r = http.get(CONN % u["slug"], headers=bearer(u["token"]))
    assert r.status_code == 200, describe(r)
    return r.json()["connections"]


def expire(stack, conn_id):
    psql(stack, "UPDATE connections SET access_expires_at = now() - interval '1 minute' "
         "WHERE id = %d" % int(conn_id))


def actions(http, u):
    return [e["action"] for e in org_audit(http, bearer(u["token"]), u["slug"])]


# ------------------------------------------------------------------ listing, config

def test_installed_connectors_are_listed_with_their_org_settings(http, stack, owner):
    r = http.get("/api/v1/connectors", headers=bearer(owner["token"]))
    assert r.status_code == 200, describe(r)
    by = {c["name"]: c for c in r.json()["connectors"]}
    assert set(ch.CONNECTORS) <= set(by), by.keys()
    assert [f["name"] for f in by["shopify"]["config"]] == ["shop"]
    assert by["xero"]["pkce"] is True and "offline_access" in by["xero"]["scopes"]
    text = r.text
    for s in (client_secret(stack, p) for p in ch.CONNECTORS):
        assert s not in text
    assert http.get("/api/v1/connectors").status_code == 401


def test_org_settings_are_validated_and_audited(http, owner):
    slug = owner["slug"]
    r = ch.set_config(http, owner["token"], slug, "shopify", {"nope": "x"}, expect=422)
    assert_problem(r, 422, "invalid-field", field="nope")
    r = ch.set_config(http, owner["token"], slug, "shopify", {"shop": "a\nb"}, expect=422)
    assert_problem(r, 422, "invalid-field", field="shop")
    r = ch.set_config(http, owner["token"], slug, "shopify", {"shop": SHOP})
    assert r.json() == {"connector": "shopify", "config": {"shop": SHOP}}
    r = http.get("/api/v1/orgs/%s/connectors/shopify/config" % slug,
                 headers=bearer(owner["token"]))
    assert r.json()["config"] == {"shop": SHOP}
    r = http.get("/api/v1/orgs/%s/connectors/nope/config" % slug, headers=bearer(owner["token"]))
    assert_problem(r, 404, "connector-not-found")
    assert "connector.config.update" in actions(http, owner)


def test_connect_needs_the_required_settings(http, owner):
    r, _ = ch.start(http, owner["token"], owner["slug"], "shopify", expect=422)
    assert_problem(r, 422, "connector-not-configured", field="shop")


# ------------------------------------------------------------------ full flows

@pytest.mark.smoke
@pytest.mark.parametrize("name", ch.CONNECTORS)
def test_full_connect_check_and_disconnect(http, stack, owner, name):
    if name == "shopify":
        ch.set_config(http, owner["token"], owner["slug"], "shopify", {"shop": SHOP})
    url, cookie = ch.start(http, owner["token"], owner["slug"], name)
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert q["redirect_uri"] == ["%s/api/v1/connectors/%s/callback"
                                 % (stack["PUBLIC_ORIGIN"], name)]
    assert len(q["state"][0]) == 43
    if name == "xero":
        assert q["code_challenge_method"] == ["S256"] and len(q["code_challenge"][0]) == 43
    loc = ch.authorize(stack, url)
    r = ch.callback(http, loc, cookie)
    assert r.status_code == 303, describe(r)
    assert r.headers["Location"].startswith(stack["PUBLIC_ORIGIN"] + "/app/connectors?connected="
                                            + name)
    conn = r.json()["connection"]
    assert conn["status"] == "active" and conn["connector"] == name
    assert conn["accounts"], conn
    if name == "shopify":
        assert conn["accounts"][0]["id"] == SHOP
    if name == "xero":
        assert len(conn["accounts"]) == 2
    assert conn["scopes"]
    listed = connections(http, owner)
    assert [c["id"] for c in listed] == [conn["id"]]
    secrets = ch.provider_secrets(stack)
    for s in secrets:
        assert s not in r.text and s not in json.dumps(listed)
    # the tokens are sealed in the database
    raw = psql(stack, "SELECT encode(tokens, 'escape') FROM connections WHERE id = %d"
               % conn["id"]).stdout
    for s in secrets:
        assert s not in raw
    r = http.post((CONN + "/%d/check") % (owner["slug"], conn["id"]),
                  headers=bearer(owner["token"]))
    assert r.status_code == 200 and r.json()["ok"] is True, describe(r)
    before = ch.control(stack, "stats")["revocations"].get(name, 0)
    r = http.delete((CONN + "/%d") % (owner["slug"], conn["id"]), headers=bearer(owner["token"]))
    assert r.status_code == 204, describe(r)
    assert ch.control(stack, "stats")["revocations"].get(name, 0) == before + 1
    assert connections(http, owner) == []
    assert psql(stack, "SELECT count(*) FROM connections WHERE id = %d" % conn["id"]
                ).stdout.strip() == "0"
    acts = actions(http, owner)
    assert "connector.connect" in acts and "connector.disconnect" in acts


def test_other_orgs_and_roles_cannot_reach_a_connection(http, stack, owner):
    conn = ch.connect(http, stack, owner["token"], owner["slug"], "intuit")
    other = new_member(http)
    other_org = create_org(http, other["token"])
    for method, path in (("GET", CONN % owner["slug"]),
                         ("GET", (CONN + "/%d") % (owner["slug"], conn["id"])),
                         ("DELETE", (CONN + "/%d") % (owner["slug"], conn["id"]))):
        r = http.request(method, path, headers=bearer(other["token"]))
        assert_problem(r, 404, "not-found")
    # its own org does not see it by id either
    r = http.get((CONN + "/%d") % (other_org["slug"], conn["id"]), headers=bearer(other["token"]))
    assert_problem(r, 404, "connection-not-found")
    viewer = add_member(http, owner["token"], owner["slug"], "analyst")
    r = http.get(CONN % owner["slug"], headers=bearer(viewer["token"]))
    assert_problem(r, 403, "forbidden")
    r, _ = ch.start(http, viewer["token"], owner["slug"], "intuit", expect=403)


# ------------------------------------------------------------------ the state store

def test_replayed_state_is_refused(http, stack, owner):
    url, cookie = ch.start(http, owner["token"], owner["slug"], "intuit")
    loc = ch.authorize(stack, url)
    assert ch.callback(http, loc, cookie).status_code == 303
    r = ch.callback(http, loc, cookie)
    assert_problem(r, 400, "oauth-state-invalid", stack=stack)


def test_state_from_another_browser_is_refused_and_not_burnt(http, stack, owner):
    url, cookie = ch.start(http, owner["token"], owner["slug"], "intuit")
    loc = ch.authorize(stack, url)
    _, other_cookie = ch.start(http, owner["token"], owner["slug"], "intuit")
    assert other_cookie != cookie
    assert_problem(ch.callback(http, loc, other_cookie), 400, "oauth-state-invalid")
    assert_problem(ch.callback(http, loc, None), 400, "oauth-state-invalid")
    assert_problem(ch.callback(http, loc, "x" * 43), 400, "oauth-state-invalid")
    # the right browser still finishes it
    assert ch.callback(http, loc, cookie).status_code == 303


def test_state_of_another_connector_is_refused(http, stack, owner):
    url, cookie = ch.start(http, owner["token"], owner["slug"], "intuit")
    loc = ch.authorize(stack, url)
    wrong = loc.replace("/connectors/intuit/callback", "/connectors/xero/callback")
    assert_problem(ch.callback(http, wrong, cookie), 400, "oauth-state-invalid")


def test_expired_state_is_refused(http, stack, owner):
    url, cookie = ch.start(http, owner["token"], owner["slug"], "intuit")
    loc = ch.authorize(stack, url)
    psql(stack, "UPDATE oauth_states SET expires_at = now() - interval '1 second' "
         "WHERE org_id = %d" % owner["org_id"])
    assert_problem(ch.callback(http, loc, cookie), 400, "oauth-state-invalid")


def test_state_of_someone_no_longer_allowed_is_refused(http, stack, owner):
    admin = add_member(http, owner["token"], owner["slug"], "admin")
    url, cookie = ch.start(http, admin["token"], owner["slug"], "intuit")
    loc = ch.authorize(stack, url)
    set_role(http, owner["token"], owner["slug"], admin["id"], "viewer")
    assert_problem(ch.callback(http, loc, cookie), 403, "forbidden")
    assert connections(http, owner) == []


def test_state_is_stored_hashed(http, stack, owner):
    url, cookie = ch.start(http, owner["token"], owner["slug"], "xero")
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["state"][0]
    dump = psql(stack, "SELECT encode(state_hash, 'hex'), encode(browser_hash, 'hex'), "
                "encode(data, 'escape') FROM oauth_states WHERE org_id = %d"
                % owner["org_id"]).stdout
    assert dump.strip()
    assert state not in dump and cookie not in dump
    assert hashlib.sha256(state.encode()).hexdigest() in dump


def test_provider_error_is_answered(http, stack, owner):
    url, cookie = ch.start(http, owner["token"], owner["slug"], "intuit")
    state = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["state"][0]
    loc = "%s/api/v1/connectors/intuit/callback?error=access_denied&state=%s" % (
        stack["PUBLIC_ORIGIN"], state)
    assert_problem(ch.callback(http, loc, cookie), 400, "connector-denied")
    assert_problem(ch.callback(http, ch.authorize(stack, url), cookie), 400,
                   "oauth-state-invalid")


# ------------------------------------------------------------------ Shopify's callback

@pytest.fixture
def shop_owner(http, owner):
    ch.set_config(http, owner["token"], owner["slug"], "shopify", {"shop": SHOP})
    return owner


def shop_location(http, stack, u):
    url, cookie = ch.start(http, u["token"], u["slug"], "shopify")
    return ch.authorize(stack, url), cookie


@pytest.mark.parametrize("case", ["bad-hmac", "no-hmac", "evil", "suffix", "other-shop",
                                  "stale"])
def test_shopify_callback_checks(http, stack, shop_owner, case):
    u = shop_owner
    if case == "stale":
        knobs(stack, "shopify", timestamp_offset=-300)
        try:
            loc, cookie = shop_location(http, stack, u)
        finally:
            knobs(stack, "shopify", timestamp_offset=0)
    else:
        loc, cookie = shop_location(http, stack, u)
    before = ch.token_calls(stack, "shopify", "authorization_code")
    if case == "bad-hmac":
        h = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)["hmac"][0]
        loc = ch.with_query(loc, hmac=("0" if h[0] != "0" else "1") + h[1:])
    elif case == "no-hmac":
        parts = urllib.parse.urlsplit(loc)
        q = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "hmac"]
        loc = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(q)))
    elif case == "evil":
        loc = resign(stack, loc, shop="evil.example")
    elif case == "suffix":
        loc = resign(stack, loc, shop="demo-store.myshopify.com.evil.example")
    elif case == "other-shop":
        loc = resign(stack, loc, shop="other-store.myshopify.com")
    r = ch.callback(http, loc, cookie)
    assert_problem(r, 400, "connector-callback-invalid", stack=stack)
    # refused before any code exchange
    assert ch.token_calls(stack, "shopify", "authorization_code") == before
    assert connections(http, u) == []


def test_shopify_resigned_callback_is_accepted(http, stack, shop_owner):
    """The test's own hmac is right: the refusals above are for their reason."""
    loc, cookie = shop_location(http, stack, shop_owner)
    r = ch.callback(http, resign(stack, loc), cookie)
    assert r.status_code == 303, describe(r)


# ------------------------------------------------------------------ refresh

def test_concurrent_refresh_spends_one_rotating_token(http, stack, owner):
    conn = ch.connect(http, stack, owner["token"], owner["slug"], "intuit")
    expire(stack, conn["id"])
    before = ch.token_calls(stack, "intuit", "refresh_token")
    knobs(stack, "intuit", refresh_delay_ms=700)
    results = [None, None]

    def check(i):
        results[i] = http.post((CONN + "/%d/check") % (owner["slug"], conn["id"]),
                               headers=bearer(owner["token"]))
    try:
        ts = [threading.Thread(target=check, args=(i,)) for i in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
    finally:
        knobs(stack, "intuit", refresh_delay_ms=0)
    for r in results:
        assert r is not None and r.status_code == 200, describe(r) if r is not None else r
    assert ch.token_calls(stack, "intuit", "refresh_token") == before + 1
    c = [x for x in connections(http, owner) if x["id"] == conn["id"]][0]
    assert c["status"] == "active" and c["last_refresh_at"], c
    # the new pair was kept: the next refresh works with it
    expire(stack, conn["id"])
    r = http.post((CONN + "/%d/check") % (owner["slug"], conn["id"]),
                  headers=bearer(owner["token"]))
    assert r.status_code == 200, describe(r)
    assert ch.token_calls(stack, "intuit", "refresh_token") == before + 2


def test_invalid_grant_marks_needs_reauth_and_reconnect_heals(http, stack, owner):
    conn = ch.connect(http, stack, owner["token"], owner["slug"], "xero")
    ch.control(stack, "revoke-all", {"provider": "xero"})
    expire(stack, conn["id"])
    path = (CONN + "/%d/check") % (owner["slug"], conn["id"])
    r = http.post(path, headers=bearer(owner["token"]))
    assert_problem(r, 409, "connection-needs-reauth", stack=stack)
    c = connections(http, owner)[0]
    assert c["status"] == "needs_reauth" and c["last_error"] == "invalid_grant", c
    assert "connector.needs_reauth" in actions(http, owner)
    # no endless retries: the next call does not go to the provider
    calls = ch.token_calls(stack, "xero", "refresh_token")
    assert_problem(http.post(path, headers=bearer(owner["token"])), 409,
                   "connection-needs-reauth")
    assert ch.token_calls(stack, "xero", "refresh_token") == calls
    # connecting the same accounts again re-authorises the same connection
    again = ch.connect(http, stack, owner["token"], owner["slug"], "xero")
    assert again["id"] == conn["id"] and again["status"] == "active"
    assert "connector.reauth" in actions(http, owner)
    assert http.post(path, headers=bearer(owner["token"])).status_code == 200


# ------------------------------------------------------------------ the plugin host

def built_so(stack, name):
    build = Path(stack["BUILD_DIR"])
    hits = sorted(glob.glob(str(build / "**" / ".libs" / (name + ".so")), recursive=True))
    if not hits:
        pytest.skip("%s.so is not built in %s" % (name, build))
    return hits[0]


def plugin_dir(tmp_path, stack, files):
    d = tmp_path / "plugins"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    for dest, src in files.items():
        if src is None:
            (d / dest).write_text("this is not a shared object\n")
        else:
            shutil.copy(src, d / dest)
        os.chmod(d / dest, 0o644)
    return d


def test_plugin_refusals_are_logged_and_the_others_work(stack, standalone, tmp_path,
                                                         have_connectors, http):
    d = plugin_dir(tmp_path, stack, {
        "shopify.so": built_so(stack, "shopify"),
        "xero.so": built_so(stack, "xero"),
        "intuit.so": built_so(stack, "intuit"),
        "bad_major.so": built_so(stack, "bad_major"),
        "newer_minor.so": built_so(stack, "newer_minor"),
        "init_fail.so": built_so(stack, "init_fail"),
        "no_entry.so": built_so(stack, "no_entry"),
        "bad_magic.so": built_so(stack, "bad_magic"),
        "zz_dup_shopify.so": built_so(stack, "dup_shopify"),
        "not_elf.so": None,
    })
    os.chmod(d / "intuit.so", 0o666)     # writable by anyone: refused
    app = standalone(set_keys={"plugins.dir": str(d)})
    u = new_member(http)
    r = app.request("GET", "/api/v1/connectors", headers=bearer(u["token"]))
    assert r.status == 200, r
    names = sorted(c["name"] for c in r.json()["connectors"])
    assert names == ["shopify", "xero"], names
    log = app.stderr_text()
    want = {
        "bad_major.so": "need major 1",
        "newer_minor.so": "or older",
        "init_fail.so": "init failed",
        "no_entry.so": "no symbol apx_connector_entry",
        "bad_magic.so": "magic",
        "zz_dup_shopify.so": "already taken",
        "not_elf.so": "dlopen failed",
        "intuit.so": "not writable by group or others",
    }
    for f, why in want.items():
        lines = [l for l in log.splitlines() if ("/%s refused" % f) in l]
        assert lines, "no refusal logged for %s:\n%s" % (f, log[-3000:])
        assert why in lines[0], lines[0]
    assert "/shopify.so refused" not in log and "/xero.so refused" not in log


def test_a_world_writable_plugin_folder_loads_nothing(stack, standalone, tmp_path,
                                                      have_connectors, http):
    d = plugin_dir(tmp_path, stack, {"xero.so": built_so(stack, "xero")})
    os.chmod(d, 0o777)
    app = standalone(set_keys={"plugins.dir": str(d)})
    u = new_member(http)
    r = app.request("GET", "/api/v1/connectors", headers=bearer(u["token"]))
    assert r.json()["connectors"] == []
    assert "not writable by group or others: no connectors" in app.stderr_text()


def test_hostile_plugin_reaches_nothing_of_others(stack, standalone, tmp_path, http, owner):
    # something to steal: a Shopify connection and settings in this org
    ch.set_config(http, owner["token"], owner["slug"], "shopify", {"shop": SHOP})
    conn = ch.connect(http, stack, owner["token"], owner["slug"], "shopify")
    d = plugin_dir(tmp_path, stack, {"shopify.so": built_so(stack, "shopify"),
                                     "hostile.so": built_so(stack, "hostile")})
    api_key = "hostile-own-secret-%s" % os.urandom(8).hex()
    app = standalone(set_keys={"plugins.dir": str(d), "connectors.hostile.api_key": api_key})
    r = app.request("POST", "/api/v1/orgs/%s/connectors/hostile/connect" % owner["slug"],
                    headers=bearer(owner["token"]))
    assert r.status == 200, r
    url = r.json()["authorize_url"]
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query, keep_blank_values=True)
    assert q.get("found") == ["0"], url
    assert q.get("own") == ["ok"], url
    assert q.get("leak") in (None, [""]), url
    secrets = ch.provider_secrets(stack)
    for s in secrets:
        assert s not in url and s not in app.stderr_text()
    # it tried to log its own secret and a vault value: both redacted
    log = app.stderr_text()
    lines = [l for l in log.splitlines() if "hostile logs its api_key=" in l]
    assert lines and "api_key=[redacted]" in lines[0], log[-2000:]
    assert api_key not in log and "hostile-own-value" not in log
    # its event went into this org's own database
    from datahelp import tenant_sql
    ev = tenant_sql(stack, {"slug": owner["slug"]}, "SELECT connector || ':' || type || ':' "
                    "|| payload::text FROM connector_events")
    ev = (ev if isinstance(ev, str) else ev.stdout).split("\n")
    assert 'hostile:hostile.probe:{"found": 0}' in ev, ev
    # its own slot: under this org and its own name, nothing else
    rows = psql(stack, "SELECT org_id, connector, connection_id, slot FROM connector_secrets "
                "WHERE org_id = %d" % owner["org_id"]).stdout.split()
    assert rows == ["%d|hostile|0|mine" % owner["org_id"]], rows
    assert conn["id"]


# ------------------------------------------------------------------ no secret anywhere

def test_no_provider_secret_in_any_log(stack, have_connectors):
    secrets = [s for s in ch.provider_secrets(stack) if len(s) >= 8]
    assert secrets
    for key in ("ERROR_LOG", "ACCESS_LOG", "PROVIDERS_LOG"):
        path = stack.get(key)
        if not path or not os.path.exists(path):
            continue
        text = Path(path).read_text(errors="replace")
        leaks = [s[:6] + "..." for s in secrets if s in text]
        assert not leaks, "%s holds %d provider secret(s): %s" % (key, len(leaks), leaks)


# ------------------------------------------------------------------ the example, out of tree

def recycle_workers(stack):
    """SIGTERM every app worker of the stack: mod_fcgid (or the app's
    supervisor, behind mod_proxy_fcgi) starts new ones, which load the
    plugin folder again."""
    import signal
    from apxtest import stack_app_pids
    for pid in stack_app_pids(stack):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def listed(http, token):
    r = http.get("/api/v1/connectors", headers=bearer(token))
    return r.status_code == 200 and [c["name"] for c in r.json()["connectors"]]


def test_example_connector_builds_out_of_tree_and_connects(stack, http, owner, tmp_path):
    import subprocess
    from apxtest import REPO_ROOT, poll
    if stack.get("SERVER") != "apache":
        pytest.skip("recycles mod_fcgid's processes")
    build = Path(stack["BUILD_DIR"])
    dest = tmp_path / "prefix"
    p = subprocess.run(["make", "-C", str(build), "install-accupredixincludeHEADERS",
                        "install-pkgconfigDATA", "DESTDIR=%s" % dest],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    pcs = glob.glob(str(dest / "**" / "accupredix-connector.pc"), recursive=True)
    headers = glob.glob(str(dest / "**" / "accupredix" / "connector.h"), recursive=True)
    assert len(pcs) == 1 and len(headers) == 1, (pcs, headers)
    src = tmp_path / "template"
    src.mkdir()
    for f in ("template.c", "template.map", "Makefile"):
        shutil.copy(REPO_ROOT / "examples" / "connector-template" / f, src / f)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "PKG_CONFIG_SYSROOT_DIR": str(dest)}
    p = subprocess.run(["make", "-C", str(src), "PKG_CONFIG_PATH=%s" % os.path.dirname(pcs[0])],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    # the header came from the temporary prefix, nothing of the source tree
    assert "-I%s" % os.path.dirname(os.path.dirname(headers[0])) in p.stdout, p.stdout
    assert str(REPO_ROOT) not in p.stdout
    so = src / "template.so"
    nm = subprocess.run(["nm", "-D", "--defined-only", str(so)], capture_output=True, text=True)
    assert [l.split()[-1] for l in nm.stdout.splitlines()] == ["apx_connector_entry"], nm.stdout

    target = Path(stack["PLUGINS_DIR"]) / "template.so"
    shutil.copy(so, target)
    os.chown(target, 0, 0)
    os.chmod(target, 0o644)
    try:
        recycle_workers(stack)
        poll(lambda: "template" in (listed(http, owner["token"]) or []), 30,
             what="the dropped plugin to be listed")
        ch.set_config(http, owner["token"], owner["slug"], "template", {"tenant": "demo-tenant"})
        conn = ch.connect(http, stack, owner["token"], owner["slug"], "template")
        assert conn["connector"] == "template" and conn["accounts"][0]["id"] == "demo-tenant"
        r = http.post((CONN + "/%d/check") % (owner["slug"], conn["id"]),
                      headers=bearer(owner["token"]))
        assert r.status_code == 200, describe(r)
        r = http.delete((CONN + "/%d") % (owner["slug"], conn["id"]),
                        headers=bearer(owner["token"]))
        assert r.status_code == 204, describe(r)
    finally:
        target.unlink()
        recycle_workers(stack)
        poll(lambda: "template" not in (listed(http, owner["token"]) or ["template"]), 30,
             what="the removed plugin to be gone")


def test_standalone_loads_a_dropped_plugin_after_sighup(stack, standalone, tmp_path, http,
                                                        have_connectors):
    import signal
    from apxtest import poll
    d = plugin_dir(tmp_path, stack, {})
    app = standalone(set_keys={"plugins.dir": str(d)})
    u = new_member(http)

    def names():
        r = app.request("GET", "/api/v1/connectors", headers=bearer(u["token"]))
        return r.status == 200 and [c["name"] for c in r.json()["connectors"]]
    assert names() == []
    shutil.copy(built_so(stack, "xero"), d / "xero.so")
    os.chmod(d / "xero.so", 0o644)
    assert names() == []             # running workers keep what they loaded
    old = app.workers_pids()
    app.signal(signal.SIGHUP)
    app.wait_new_workers(old, timeout=20)
    poll(lambda: names() == ["xero"], 10, what="xero offered after SIGHUP")
