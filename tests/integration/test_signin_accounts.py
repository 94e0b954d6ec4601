"""Accounts a sign-in provider made (docs/api.md "Sign-in with Google,
Microsoft and SSO", "Privacy"): they have no password, so a sign-in of the
last 10 minutes stands for it where the password is asked (setting a first
password, deleting the account); an older session gets 422
`reauthentication-required` and changes nothing. The account export lists
the linked identities. Through an org IdP played by badop, each test with
users of its own."""

import pytest

import oidchelp as oh
from apxtest import assert_problem, describe
from authhelp import bearer
from datahelp import control_json, psql

SSO = "/api/v1/orgs/%s/sso"
ME = "/api/v1/me"


@pytest.fixture(scope="module")
def org(http, stack):
    oh.need(stack, "BADOP_URL", "DNS_CONTROL_URL", "PUBLIC_ORIGIN")
    return oh.verified_agency(http, stack, "acc")


def new_sso_user(http, stack, org):
    """A badop issuer for ORG with a user of its own, signed in once (an
    account without a password): (access token, email, issuer)."""
    name = oh.unique("acc")
    user = {"sub": "s-" + name, "email": "%s@%s" % (name, org["domain"]),
            "email_verified": True, "name": "Acc " + name}
    iss = oh.badop_issuer(stack, name, org["slug"], user)
    r = http.request("PUT", SSO % org["slug"], json={
        "issuer": iss["issuer"], "client_id": iss["client_id"],
        "client_secret": iss["client_secret"], "jit": True}, headers=org["h"])
    assert r.status_code == 200, describe(r)
    url, cookie = oh.start(http, "/api/v1/auth/sso/%s/start" % org["slug"])
    r = oh.callback(http, stack, oh.badop_authorize(url), cookie)
    tok = oh.signed_in(r)
    return tok, user["email"], iss


def age_sessions(stack, email, seconds):
    psql(stack, "UPDATE sessions SET created_at = now() - make_interval(secs => %d) "
         "WHERE user_id = (SELECT id FROM users WHERE email_norm = '%s')"
         % (seconds, email.lower()))


def test_account_made_by_a_provider_has_no_password(http, stack, org):
    tok, email, iss = new_sso_user(http, stack, org)
    r = http.get(ME + "/identities", headers=bearer(tok))
    assert r.status_code == 200, describe(r)
    b = r.json()
    assert b["password"] is False, b
    assert [(i["provider"], i["org"], i["issuer"]) for i in b["identities"]] == \
        [("oidc", org["slug"], iss["issuer"])], b
    # its only way to sign in
    r = http.delete(ME + "/identities/%d" % b["identities"][0]["id"], headers=bearer(tok))
    assert_problem(r, 409, "last-sign-in-method")
    # the export lists the identity (issuer and subject: what we keep)
    r = http.get(ME + "/export", headers=bearer(tok))
    assert r.status_code == 200, describe(r)
    ids = r.json()["identities"]
    assert [(i["provider"], i["issuer"], i["subject"]) for i in ids] == \
        [("oidc", iss["issuer"], iss["user"]["sub"])], ids


def test_first_password_needs_a_fresh_sign_in(http, stack, org):
    tok, email, _ = new_sso_user(http, stack, org)
    age_sessions(stack, email, 3600)
    r = http.post(ME + "/password", json={"new_password": "Fresh-enough-passw0rd-1"},
                  headers=bearer(tok))
    assert_problem(r, 422, "reauthentication-required")
    assert http.get(ME + "/identities", headers=bearer(tok)).json()["password"] is False
    # a sign-in now: the new session is fresh
    url, cookie = oh.start(http, "/api/v1/auth/sso/%s/start" % org["slug"])
    tok = oh.signed_in(oh.callback(http, stack, oh.badop_authorize(url), cookie))
    r = http.post(ME + "/password", json={"new_password": "Fresh-enough-passw0rd-1"},
                  headers=bearer(tok))
    assert r.status_code == 204, describe(r)
    r = http.get(ME + "/identities", headers=bearer(tok))
    b = r.json()
    assert b["password"] is True, b
    # with a password, the identity is no longer the last way in
    r = http.delete(ME + "/identities/%d" % b["identities"][0]["id"], headers=bearer(tok))
    assert r.status_code == 204, describe(r)
    r = http.post("/api/v1/auth/login", json={"email": email,
                  "password": "Fresh-enough-passw0rd-1"})
    assert r.status_code == 200, describe(r)


def test_account_deletion_needs_a_fresh_sign_in(http, stack, org):
    tok, email, _ = new_sso_user(http, stack, org)
    age_sessions(stack, email, 3600)
    r = http.delete(ME, json={}, headers=bearer(tok))
    assert_problem(r, 422, "reauthentication-required")
    assert http.get(ME, headers=bearer(tok)).status_code == 200
    url, cookie = oh.start(http, "/api/v1/auth/sso/%s/start" % org["slug"])
    tok = oh.signed_in(oh.callback(http, stack, oh.badop_authorize(url), cookie))
    r = http.delete(ME, json={}, headers=bearer(tok))
    assert r.status_code == 204, describe(r)
    assert http.get(ME, headers=bearer(tok)).status_code == 401
    rows = control_json(stack, "SELECT count(*) AS n FROM user_identities i JOIN users u ON "
                        "u.id = i.user_id WHERE u.email_norm = '%s'" % email.lower())
    assert rows == [{"n": 0}], rows
