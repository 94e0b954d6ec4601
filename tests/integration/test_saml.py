"""SAML 2.0 sign-in through the stack's IdP (docs/api.md "SAML"): the SP
metadata, the start (a raw-deflated AuthnRequest in the HTTP-Redirect
binding, the RelayState and the SameSite=None binding cookie), full flows
through SimpleSAMLphp (tests/standins/saml, driven by samlhelp.py as a
browser would) into the ACS behind Apache + mod_fcgid: the account and JIT
membership, a certificate rotation at the IdP, an email of a domain the org
has not verified, a replayed Response, another browser's RelayState, jit
off, and no SAMLResponse, key or password in the error log.

The demo org (SAML_DEMO_ORG, owned by the stack's superuser) and the IdP's
users are fixed, so sam's account outlives a run: every test copes with it
existing already. The rotation test leaves the demo org configured with the
IdP's current signing certificate only; every other change is undone.
"""

import base64
import re
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from lxml import etree

import authhelp
import oidchelp as oh
import samlhelp as sh
import samlsign as ss
from apxtest import assert_problem, describe, media_type, poll
from authhelp import bearer, remember
from orghelp import by_request, members, org_audit, superuser

META = "/api/v1/auth/sso/%s/saml/metadata"
START = "/api/v1/auth/sso/%s/start"
SSO = "/api/v1/orgs/%s/sso"
ME = "/api/v1/me"
IDENTITIES = "/api/v1/me/identities"
NS_MD = "urn:oasis:names:tc:SAML:2.0:metadata"
HTTP_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
EMAIL_FMT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
PERSISTENT_FMT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
SESSION_COOKIES = (oh.ACCESS, oh.REFRESH, oh.CSRF)
SAML_FIELDS = ("enabled", "idp_entity_id", "idp_sso_url", "attribute_email", "attribute_name",
               "jit", "default_role", "enforce")

# Every SAMLResponse, RelayState, cookie, token, password and key this
# module saw: test_no_saml_response_key_or_password_in_the_error_log looks
# for each of them (and for everything authhelp.remember kept) in ERROR_LOG.
SEEN = []


def seen(*values):
    for v in values:
        if isinstance(v, str) and v and v not in SEEN:
            SEEN.append(v)
    remember(*values)


# ------------------------------------------------------------------ set-up

@pytest.fixture(scope="module")
def saml(stack):
    oh.need(stack, "SAML_IDP_URL", "SAML_IDP_CONTROL_URL", "SAML_IDP_ENTITY", "SAML_IDP_SSO_URL",
            "SAML_DEMO_ORG", "SAML_DEMO_DOMAIN", "SAML_TEST_USER", "SAML_TEST_PASSWORD",
            "PUBLIC_ORIGIN", "DNS_CONTROL_URL")
    seen(stack["SAML_TEST_PASSWORD"], "mallory-pw", stack.get("ADMIN_PASSWORD"))
    slug = stack["SAML_DEMO_ORG"]
    return {"slug": slug, "user": stack["SAML_TEST_USER"], "pw": stack["SAML_TEST_PASSWORD"],
            "acs": "%s/api/v1/auth/sso/%s/saml/acs" % (stack["PUBLIC_ORIGIN"], slug),
            "sp": "%s/api/v1/auth/sso/%s/saml/metadata" % (stack["PUBLIC_ORIGIN"], slug)}


@pytest.fixture(scope="module")
def su(http, stack):
    u = superuser(http, stack)
    u["h"] = bearer(u["token"])
    return u


def idp_key_lines(stack):
    """The base64 lines of the stack IdP's private key files (its state dir
    is STACK_DIR/saml-idp)."""
    out = []
    for f in sorted((Path(stack["STACK_DIR"]) / "saml-idp" / "cert").glob("*.key")):
        out += [ln for ln in f.read_text().splitlines() if ln and not ln.startswith("-----")]
    return out


def demo_config(http, su, slug):
    r = http.get(SSO % slug, headers=su["h"])
    assert r.status_code == 200, describe(r)
    return r.json()


def put_saml(http, h, slug, cfg, certs, **changes):
    """PUT the org's SAML config: CFG's fields, CERTS, CHANGES."""
    body = {k: cfg[k] for k in SAML_FIELDS if k in cfg}
    body.update(protocol="saml", idp_certificates=list(certs))
    body.update(changes)
    r = http.request("PUT", SSO % slug, json=body, headers=h)
    assert r.status_code == 200, describe(r)
    out = r.json()
    assert [c.strip() for c in out["idp_certificates"]] == [c.strip() for c in certs], out
    return out


def pem_body(pem):
    return "".join(ln for ln in pem.strip().splitlines() if not ln.startswith("-----"))


def decoded(saml_response):
    return etree.fromstring(base64.b64decode(saml_response))


def signature_values(saml_response):
    """The first line of every SignatureValue of the Response (what a
    logged XML would show)."""
    return [(sv.text or "").strip().splitlines()[0]
            for sv in decoded(saml_response).iter("{%s}SignatureValue" % ss.NS_DS) if sv.text]


class Login:
    """start -> the IdP's login form -> its auto-post form: what the browser
    would POST to our ACS."""

    def __init__(self, http, slug, user, pw, cookie=None, **params):
        self.url, self.cookie = sh.start(http, slug, cookie=cookie, **params)
        self.relay = ss.query_of(self.url)["RelayState"]
        self.action, self.response, relay = sh.idp_login(self.url, user, pw)
        assert relay == self.relay, "the IdP did not echo the RelayState"
        seen(self.cookie, self.relay, self.response, *signature_values(self.response))

    def post(self, http, stack, response=None, relay=None, cookie=None):
        return sh.acs(http, stack, self.action, response or self.response,
                      relay or self.relay, cookie if cookie is not None else self.cookie)


def no_session(r):
    got = oh.set_cookies(r)
    for name in SESSION_COOKIES:
        assert name not in got, "%s set on a refused sign-in%s" % (name, describe(r))


def signed_in(http, stack, r, email, ret="/app"):
    """A sign-in that worked: back to RET with the session cookies; /me."""
    assert r.status_code == 303, describe(r)
    assert r.headers.get("Location") == stack["PUBLIC_ORIGIN"] + ret, describe(r)
    tok = oh.signed_in(r)
    seen(tok, oh.set_cookies(r)[oh.REFRESH][0])
    me = http.get(ME, headers=bearer(tok))
    assert me.status_code == 200, describe(me)
    assert me.json()["user"]["email"] == email, describe(me)
    return tok, me.json()["user"]


def refused(http, stack, h, slug, r, code, reason):
    assert r.status_code == 303, describe(r)
    assert r.headers.get("Location") == "%s/login?error=%s" % (stack["PUBLIC_ORIGIN"], code), \
        describe(r)
    no_session(r)
    rid = r.headers["X-Request-Id"]
    entries = by_request(org_audit(http, h, slug, action="sso.login_failed"), rid)
    assert len(entries) == 1, (rid, entries)
    assert entries[0]["after"] == {"provider": "saml", "code": code, "reason": reason}, entries
    return entries[0]


def error_log_line(stack, rid, needle):
    path = Path(stack["ERROR_LOG"])

    def find():
        for line in path.read_text(errors="replace").splitlines():
            if ("rid=%s " % rid) in line and needle in line:
                return line
        return None

    return poll(find, 5, interval=0.05, what="%r of rid=%s in ERROR_LOG" % (needle, rid))


def not_ours(http, stack, h, slug, r):
    """A refusal whose state was not ours: logged, never audited."""
    assert r.status_code == 303, describe(r)
    assert r.headers.get("Location") == "%s/login?error=signin-failed" % stack["PUBLIC_ORIGIN"], \
        describe(r)
    no_session(r)
    rid = r.headers["X-Request-Id"]
    error_log_line(stack, rid, "refused: signin-failed (state")
    assert by_request(org_audit(http, h, slug), rid) == []


def member_by_email(http, token, slug, email):
    for m in members(http, token, slug).values():
        if m["email"].lower() == email.lower():
            return m
    return None


# The stand-in's `php -S` runs with opcache on (opcache.enable applies to
# the cli-server SAPI) and revalidate_freq=2: a metadata file rewritten by
# the control API may be served stale for up to 2 s after it was last
# checked, although the stand-in's README says a change applies to the
# next request. After each change, wait until the IdP shows it.

def idp_metadata_certs(stack):
    r = requests.get(stack["SAML_IDP_URL"] + "/saml2/idp/metadata.php", timeout=10)
    assert r.status_code == 200, describe(r)
    return sorted({"".join((x.text or "").split()) for x in
                   etree.fromstring(r.content).iter("{%s}X509Certificate" % ss.NS_DS)})


def idp_publishes(stack, certs):
    """Wait until the IdP's metadata lists exactly CERTS."""
    want = sorted({pem_body(c) for c in certs})
    poll(lambda: idp_metadata_certs(stack) == want, 6, interval=0.1,
         what="the IdP's metadata to list the certificates of /cert")


def idp_knows_sp(url):
    """Wait until the IdP answers the AuthnRequest of URL with its login
    (302), not with its "metadata not found" page (200)."""
    poll(lambda: requests.get(url, allow_redirects=False, timeout=10).status_code == 302, 6,
         interval=0.1, what="the IdP to know the SP just registered")


def own_saml_org(http, stack, prefix):
    """A new Agency org (a verified domain of its own) whose SSO is the
    stack's IdP, registered there as an SP (unregister when done)."""
    o = oh.verified_agency(http, stack, prefix)
    cert = sh.control(stack, "GET", "/cert")["signing"]
    cfg = put_saml(http, o["h"], o["slug"], {
        "idp_entity_id": stack["SAML_IDP_ENTITY"], "idp_sso_url": stack["SAML_IDP_SSO_URL"],
        "jit": True}, [cert])
    sh.control(stack, "PUT", "/sp/" + o["slug"],
               {"entity_id": cfg["sp_entity_id"], "acs": cfg["acs_url"]})
    o["cfg"] = cfg
    url, _ = sh.start(http, o["slug"])
    idp_knows_sp(url)
    return o


# ------------------------------------------------------------------ 1. metadata

def test_metadata_of_the_demo_org_and_404_for_an_oidc_org(http, stack, saml, su):
    r = http.get(META % saml["slug"])
    assert r.status_code == 200, describe(r)
    assert media_type(r) == "application/samlmetadata+xml", describe(r)
    root = etree.fromstring(r.content)
    assert root.tag == "{%s}EntityDescriptor" % NS_MD, r.text
    assert root.get("entityID") == saml["sp"], r.text
    sp = root.findall("{%s}SPSSODescriptor" % NS_MD)
    assert len(sp) == 1, r.text
    assert "urn:oasis:names:tc:SAML:2.0:protocol" in sp[0].get("protocolSupportEnumeration", "")
    acs = sp[0].findall("{%s}AssertionConsumerService" % NS_MD)
    assert len(acs) == 1, r.text
    assert acs[0].get("Binding") == HTTP_POST and acs[0].get("Location") == saml["acs"], r.text
    formats = [f.text for f in sp[0].findall("{%s}NameIDFormat" % NS_MD)]
    assert sorted(formats) == sorted([EMAIL_FMT, PERSISTENT_FMT]), formats
    # what the org's configuration tells the admin to give the IdP
    cfg = demo_config(http, su, saml["slug"])
    assert cfg["protocol"] == "saml" and cfg["sp_entity_id"] == saml["sp"] \
        and cfg["acs_url"] == saml["acs"], cfg

    # the stack's OIDC demo org has no SAML metadata; nor has an unknown org
    oh.need(stack, "SSO_DEMO_ORG")
    assert_problem(http.get(META % stack["SSO_DEMO_ORG"]), 404, "sso-not-configured")
    assert_problem(http.get(META % "no-such-org-x9"), 404, "sso-not-configured")


def test_metadata_is_signed_with_the_configured_sp_key(http, stack, saml):
    """With saml.sp_key / saml.sp_cert (scripts/stack sets both) the
    metadata lists that certificate and its enveloped signature verifies
    with it, and only with it: a changed document does not."""
    import xmlsec
    conf = apxtest_config(stack)
    if "saml.sp_cert" not in conf:
        pytest.skip("no saml.sp_key / saml.sp_cert in this stack's configuration")
    cert_pem = Path(conf["saml.sp_cert"].split(":", 1)[1]).read_text()
    r = http.get(META % saml["slug"])
    assert r.status_code == 200, describe(r)
    root = etree.fromstring(r.content)
    listed = root.findall(".//{%s}KeyDescriptor//{http://www.w3.org/2000/09/xmldsig#}"
                          "X509Certificate" % NS_MD)
    body = "".join(cert_pem.split("-----")[2].split())
    assert [c.text.strip() for c in listed] == [body], r.text
    sig = root.find("{http://www.w3.org/2000/09/xmldsig#}Signature")
    assert sig is not None, r.text
    ref = sig.find(".//{http://www.w3.org/2000/09/xmldsig#}Reference")
    assert ref.get("URI") == "#" + root.get("ID"), r.text

    def verifies(doc):
        xmlsec.tree.add_ids(doc, ["ID"])
        ctx = xmlsec.SignatureContext()
        ctx.key = xmlsec.Key.from_memory(cert_pem.encode(), xmlsec.constants.KeyDataFormatCertPem)
        try:
            ctx.verify(doc.find("{http://www.w3.org/2000/09/xmldsig#}Signature"))
            return True
        except xmlsec.Error:
            return False

    assert verifies(etree.fromstring(r.content))
    changed = etree.fromstring(r.content.replace(saml["acs"].encode(),
                                                 b"https://evil.example/acs"))
    assert not verifies(changed)


def apxtest_config(stack):
    from apxtest import config_dict
    return config_dict(stack["APX_CONFIG"])


# ------------------------------------------------------------------ 2. the start

def test_start_redirects_with_an_authn_request_and_relay_state(http, stack, saml, su):
    cfg = demo_config(http, su, saml["slug"])
    assert cfg["idp_sso_url"] == stack["SAML_IDP_SSO_URL"], cfg
    before = datetime.now(timezone.utc).timestamp()
    seen_ids, seen_relays = set(), set()
    cookie = None
    for i in range(3):
        h = {"Cookie": "%s=%s" % (sh.COOKIE, cookie)} if cookie and i == 1 else {}
        r = http.get(START % saml["slug"], headers=h)
        assert r.status_code == 303, describe(r)
        assert "no-store" in r.headers.get("Cache-Control", ""), describe(r)
        loc = r.headers["Location"]
        assert loc.startswith(stack["SAML_IDP_SSO_URL"] + "?"), loc
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
        assert sorted(q) == ["RelayState", "SAMLRequest"] and all(len(v) == 1 for v in q.values()), q
        relay = q["RelayState"][0]
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", relay), relay
        xml = ss.inflate(q["SAMLRequest"][0])
        req = etree.fromstring(xml)
        assert req.tag == "{%s}AuthnRequest" % ss.NS_P, xml
        rid = req.get("ID")
        assert re.fullmatch(r"_[0-9a-f]{32}", rid or ""), xml
        assert req.get("Version") == "2.0", xml
        assert req.get("Destination") == stack["SAML_IDP_SSO_URL"], xml
        assert req.get("AssertionConsumerServiceURL") == saml["acs"], xml
        assert req.get("ProtocolBinding") == HTTP_POST, xml
        issuers = req.findall("{%s}Issuer" % ss.NS_A)
        assert len(issuers) == 1 and issuers[0].text == saml["sp"], xml
        t = datetime.strptime(req.get("IssueInstant"), "%Y-%m-%dT%H:%M:%SZ")
        assert abs(t.replace(tzinfo=timezone.utc).timestamp() - before) < 120, xml
        seen_ids.add(rid)
        seen_relays.add(relay)
        seen(relay)
        # the binding cookie (a new browser gets one; a known one keeps its own)
        c = oh.set_cookies(r).get(sh.COOKIE)
        if i == 1:
            assert c is None or c[0] == cookie, describe(r)
            continue
        assert c is not None, describe(r)
        attrs = [a.strip() for a in c[1].split(";") if a.strip()]
        low = [a.lower() for a in attrs]
        for want in ("httponly", "secure", "samesite=none", "path=/"):
            assert want in low, attrs
        assert not any(a.startswith("domain") for a in low), attrs
        assert c[0] and c[0] != cookie, (c, cookie)
        cookie = c[0]
        seen(cookie)
    # a fresh request ID and RelayState per start
    assert len(seen_ids) == 3 and len(seen_relays) == 3, (seen_ids, seen_relays)

    # return_to is a path of ours, nothing else
    for hostile in ("//evil.example", "https://evil.example", "/\\evil", "//evil.example/app",
                    "/app\r\nX: y", "javascript:alert(1)"):
        r = http.get(START % saml["slug"], params={"return_to": hostile})
        assert_problem(r, 422, "invalid-field", field="return_to")
        assert "Location" not in r.headers, describe(r)


# ------------------------------------------------------------------ 3. the full flow

def test_full_flow_through_the_idp_signs_in_and_joins(http, stack, saml, su):
    slug, email = saml["slug"], saml["user"]
    role = demo_config(http, su, slug)["default_role"]
    assert role == "analyst"
    was_member = member_by_email(http, su["token"], slug, email)

    login = Login(http, slug, email, saml["pw"])
    assert login.action == saml["acs"], login.action
    r = login.post(http, stack)
    tok, user = signed_in(http, stack, r, email)
    rid = r.headers["X-Request-Id"]

    # the identity: (the IdP's entity id, NameID), provider saml, this org
    ids = http.get(IDENTITIES, headers=bearer(tok))
    assert ids.status_code == 200, describe(ids)
    mine = [i for i in ids.json()["identities"] if i["provider"] == "saml"]
    assert len(mine) == 1, ids.json()
    assert mine[0]["org"] == slug and mine[0]["issuer"] == stack["SAML_IDP_ENTITY"], mine

    # JIT: an analyst member (made now, or at an earlier run)
    m = member_by_email(http, su["token"], slug, email)
    assert m is not None and m["user_id"] == user["id"] and m["role"] == "analyst", m

    # the org's audit log
    log = org_audit(http, su["h"], slug)
    login_e = [e for e in by_request(log, rid) if e["action"] == "sso.login"]
    assert len(login_e) == 1, by_request(log, rid)
    assert login_e[0]["after"] == {"provider": "saml", "joined": was_member is None}, login_e
    assert login_e[0]["actor_id"] == str(user["id"]), login_e
    jit = [e for e in by_request(log, rid) if e["action"] == "sso.jit_join"]
    if was_member is None:
        assert len(jit) == 1 and jit[0]["after"]["role"] == "analyst", jit
    else:
        assert jit == [], jit
    assert [e for e in by_request(log, rid) if e["action"] == "sso.login_failed"] == []

    # a second sign-in: the same user, not joined again; return_to honoured
    back = "/app/forecasts?tab=recent&x=1"
    login2 = Login(http, slug, email, saml["pw"], return_to=back)
    r2 = login2.post(http, stack)
    _, user2 = signed_in(http, stack, r2, email, ret=back)
    assert user2["id"] == user["id"], "a second sign-in made another account"
    e2 = by_request(org_audit(http, su["h"], slug), r2)
    assert [(e["action"], e["after"]) for e in e2] == \
        [("sso.login", {"provider": "saml", "joined": False})], e2


# ------------------------------------------------------------------ 4. rotation

def test_certificate_rotation_at_the_idp(http, stack, saml, su):
    slug, email = saml["slug"], saml["user"]
    cfg0 = demo_config(http, su, slug)
    cur = sh.control(stack, "GET", "/cert")
    if len(cur["certs"]) > 1:           # a rotation left half-way by an earlier run
        cur = sh.control(stack, "POST", "/rotate/finish")
    idp_publishes(stack, cur["certs"])
    old = cur["signing"]
    seen(*idp_key_lines(stack))

    def sign_in():
        login = Login(http, slug, email, saml["pw"])
        return login, login.post(http, stack)

    def signer(login):
        """The certificate in the Response's KeyInfo (who signed it)."""
        x = decoded(login.response).find(".//{%s}X509Certificate" % ss.NS_DS)
        return "".join(x.text.split())

    try:
        put_saml(http, su["h"], slug, cfg0, [old])
        b = sh.control(stack, "POST", "/rotate/begin")
        seen(*idp_key_lines(stack))
        idp_publishes(stack, b["certs"])
        assert len(b["certs"]) == 2 and b["signing"].strip() == old.strip(), b
        new = [c for c in b["certs"] if c.strip() != old.strip()][0]
        # both certificates configured, the old key still signs
        put_saml(http, su["h"], slug, cfg0, b["certs"])
        login, r = sign_in()
        assert signer(login) == pem_body(old)
        signed_in(http, stack, r, email)

        # the new key signs; both configured: still fine
        f = sh.control(stack, "POST", "/rotate/finish")
        seen(*idp_key_lines(stack))
        idp_publishes(stack, f["certs"])
        assert [c.strip() for c in f["certs"]] == [new.strip()] and \
            f["signing"].strip() == new.strip(), f
        login, r = sign_in()
        assert signer(login) == pem_body(new)
        signed_in(http, stack, r, email)

        # only the old certificate: refused
        put_saml(http, su["h"], slug, cfg0, [old])
        login, r = sign_in()
        assert signer(login) == pem_body(new)
        refused(http, stack, su["h"], slug, r, "signin-failed", "signature")

        # only the new one: fine
        put_saml(http, su["h"], slug, cfg0, [new])
        login, r = sign_in()
        signed_in(http, stack, r, email)
    finally:
        cur = sh.control(stack, "GET", "/cert")
        if len(cur["certs"]) > 1:
            cur = sh.control(stack, "POST", "/rotate/finish")
        idp_publishes(stack, cur["certs"])
        put_saml(http, su["h"], slug, cfg0, [cur["signing"]])
    after = demo_config(http, su, slug)
    assert {k: after[k] for k in SAML_FIELDS} == {k: cfg0[k] for k in SAML_FIELDS}, (cfg0, after)


# ------------------------------------------------------------------ 5. domains

def test_email_of_a_domain_the_org_has_not_verified_refused(http, stack, saml, su):
    own = own_saml_org(http, stack, "samldom")
    mallory = "mallory@other-agency.test"
    assert not mallory.endswith("@" + own["domain"])
    accounts = lambda: [u for u in http.get("/admin/api/users", params={"q": mallory, "limit": 50},
                                            headers=su["h"]).json()["users"]
                        if u["email"].lower() == mallory]
    had = len(accounts())
    try:
        login = Login(http, own["slug"], mallory, "mallory-pw")
        assert login.action == own["cfg"]["acs_url"], login.action
        assert decoded(login.response).find(".//{%s}NameID" % ss.NS_A).text == mallory
        r = login.post(http, stack)
        refused(http, stack, own["h"], own["slug"], r, "domain-not-allowed", "domain-not-verified")
        assert member_by_email(http, own["token"], own["slug"], mallory) is None
        assert len(accounts()) == had, "an account was made for %s" % mallory
    finally:
        sh.control(stack, "DELETE", "/sp/" + own["slug"])


# ------------------------------------------------------------------ 6. replay

def test_replayed_response_refused(http, stack, saml, su):
    slug, email = saml["slug"], saml["user"]
    login = Login(http, slug, email, saml["pw"])
    signed_in(http, stack, login.post(http, stack), email)
    # the same form again: its state is spent (not ours any more)
    not_ours(http, stack, su["h"], slug, login.post(http, stack))
    # the same Response in a new flow of the same browser: not its request
    url2, cookie2 = sh.start(http, slug, cookie=login.cookie)
    assert cookie2 == login.cookie
    relay2 = ss.query_of(url2)["RelayState"]
    seen(relay2)
    assert relay2 != login.relay
    r = login.post(http, stack, relay=relay2)
    refused(http, stack, su["h"], slug, r, "signin-failed", "in-response-to")


# ------------------------------------------------------------------ 7. another browser

def test_relay_state_of_another_browser_refused(http, stack, saml, su):
    slug, email = saml["slug"], saml["user"]
    login = Login(http, slug, email, saml["pw"])
    _, other = sh.start(http, slug)         # another browser's binding cookie
    seen(other)
    assert other != login.cookie
    not_ours(http, stack, su["h"], slug, login.post(http, stack, cookie=other))
    not_ours(http, stack, su["h"], slug, login.post(http, stack, cookie=""))
    # neither spent the state: its own browser still signs in with it
    signed_in(http, stack, login.post(http, stack), email)


# ------------------------------------------------------------------ 8. jit off

def test_jit_off_refuses_who_is_not_a_member(http, stack):
    """The stack's IdP has no user of a domain a new org could verify, so
    the Responses here are made and signed by a test IdP of this test
    (samlsign.py), for addresses of the org's own verified domain."""
    entity = "https://jit-test-idp.example/metadata"
    kp = ss.KeyPair("apx-jit-test-idp")
    seen(*kp.secrets())
    own = oh.verified_agency(http, stack, "samljit")
    cfg = put_saml(http, own["h"], own["slug"], {
        "idp_entity_id": entity, "idp_sso_url": "https://jit-test-idp.example/sso",
        "jit": True, "default_role": "viewer"}, [kp.cert_pem])

    def sign_in(name):
        f = ss.Flow(http, own["slug"])
        seen(f.cookie, f.relay)
        c = ss.Claims(entity, cfg["sp_entity_id"], cfg["acs_url"], f.id,
                      "%s@%s" % (name, own["domain"]))
        resp = ss.b64(ss.signed(c, kp))
        seen(resp)
        return ss.post_acs(http, own["slug"], resp, f.relay, f.cookie), c.name_id

    # jit on: a member from the first sign-in
    r, member = sign_in(oh.unique("m"))
    _, u = signed_in(http, stack, r, member)
    assert members(http, own["token"], own["slug"])[u["id"]]["role"] == "viewer"
    e = by_request(org_audit(http, own["h"], own["slug"]), r)
    assert sorted((x["action"], x["after"].get("role") or x["after"].get("joined")) for x in e) \
        == [("sso.jit_join", "viewer"), ("sso.login", True)], e

    cfg = put_saml(http, own["h"], own["slug"], cfg, [kp.cert_pem], jit=False)
    assert cfg["jit"] is False, cfg
    # a member still signs in
    r, _ = sign_in(member.split("@")[0])
    signed_in(http, stack, r, member)
    # who is not a member does not
    r, newcomer = sign_in(oh.unique("n"))
    refused(http, stack, own["h"], own["slug"], r, "not-a-member", "not-a-member-jit-off")
    assert member_by_email(http, own["token"], own["slug"], newcomer) is None
    # nor at a second try
    r, _ = sign_in(newcomer.split("@")[0])
    refused(http, stack, own["h"], own["slug"], r, "not-a-member", "not-a-member-jit-off")
    assert member_by_email(http, own["token"], own["slug"], newcomer) is None


# ------------------------------------------------------------------ 9. logs

@pytest.mark.run_last
def test_password_account_links_the_org_saml_idp_when_signed_in(http, stack, saml, su):
    """sue@saml-agency.test has a password account: her first SAML sign-in
    is account-exists (never linked on email alone); signed in, she links
    the org's IdP (POST /api/v1/me/identities {provider: sso, org}), and
    SAML then signs her in as the same user. Unlinked at the end."""
    import hashlib
    import hmac
    email, idp_pw = "sue@saml-agency.test", "sue-pw"
    pw = "Sq7-" + hmac.new(stack["INTERNAL_SECRET"].encode(), b"test_saml:sue",
                           hashlib.sha256).hexdigest()[:28]
    seen(pw, idp_pw)
    r = http.post("/api/v1/auth/register", json={"email": email, "password": pw,
                                                 "name": "Sue Password"},
                  headers={"X-Forwarded-For": authhelp.random_net_addr()})
    assert r.status_code == 202, describe(r)
    authhelp.verify_by_sql(email)
    r = http.post("/api/v1/auth/login", json={"email": email, "password": pw})
    if r.status_code != 200:
        pytest.fail("%s exists without this suite's password%s" % (email, describe(r)))
    tok, uid = r.json()["access_token"], r.json()["user"]["id"]
    http.session.cookies.clear()
    for i in http.get(ME + "/identities", headers=bearer(tok)).json()["identities"]:
        assert http.delete(ME + "/identities/%d" % i["id"], headers=bearer(tok)).status_code == 204
    # not linked: refused, nothing linked
    url, cookie = sh.start(http, saml["slug"])
    action, resp, relay = sh.idp_login(url, email, idp_pw)
    seen(resp)
    r = sh.acs(http, stack, action, resp, relay, cookie)
    refused(http, stack, su["h"], saml["slug"], r, "account-exists", "email-of-existing-account")
    # linked through the signed-in session
    r = http.post(ME + "/identities", json={"provider": "sso", "org": saml["slug"]},
                  headers=bearer(tok))
    assert r.status_code == 200, describe(r)
    url = r.json()["authorize_url"]
    assert url.startswith(stack["SAML_IDP_SSO_URL"] + "?SAMLRequest="), url
    line = [v for k, v in r.raw.headers.items() if k.lower() == "set-cookie"
            and v.startswith(sh.COOKIE + "=")]
    assert line and "SameSite=None" in line[0], describe(r)
    cookie = line[0].split(";", 1)[0].split("=", 1)[1]
    seen(cookie)
    action, resp, relay = sh.idp_login(url, email, idp_pw)
    seen(resp)
    r = sh.acs(http, stack, action, resp, relay, cookie)
    assert r.headers.get("Location") == stack["PUBLIC_ORIGIN"] + "/app/account?linked=saml", \
        describe(r)
    no_session(r)
    ids = http.get(ME + "/identities", headers=bearer(tok)).json()["identities"]
    assert [(i["provider"], i["org"], i["issuer"]) for i in ids] == \
        [("saml", saml["slug"], stack["SAML_IDP_ENTITY"])], ids
    # now SAML signs her in, as the same user
    url, cookie = sh.start(http, saml["slug"])
    action, resp, relay = sh.idp_login(url, email, idp_pw)
    seen(resp)
    _, user = signed_in(http, stack, sh.acs(http, stack, action, resp, relay, cookie), email)
    assert user["id"] == uid, user
    for i in ids:
        assert http.delete(ME + "/identities/%d" % i["id"], headers=bearer(tok)).status_code == 204


def test_no_saml_response_key_or_password_in_the_error_log(http, stack, saml, su):
    # a flow of this test's own, fine and then replayed, so that there is
    # always something to look for
    login = Login(http, saml["slug"], saml["user"], saml["pw"])
    r = login.post(http, stack)
    signed_in(http, stack, r, saml["user"])
    not_ours(http, stack, su["h"], saml["slug"], login.post(http, stack))
    error_log_line(stack, r.headers["X-Request-Id"], "signed in through")
    seen(*idp_key_lines(stack))
    assert len([v for v in SEEN if v.startswith("PH")]) >= 1, "no SAMLResponse seen"
    look = SEEN + [v for v in authhelp.USED_SECRETS if isinstance(v, str) and len(v) >= 8]
    text = Path(stack["ERROR_LOG"]).read_text(errors="replace")
    leaked = sorted({v[:12] + "..." for v in look if v in text})
    assert not leaked, "in %s: %s" % (stack["ERROR_LOG"], leaked)
    # nor any SAML XML, raw or base64 ("<samlp:Response", "<saml:Assertion")
    for marker in ("<samlp:Response", "<saml:Assertion", "PHNhbWxwOlJlc3BvbnNl",
                   "PHNhbWw6QXNzZXJ0aW9u", "SAMLResponse=", "BEGIN PRIVATE KEY",
                   "BEGIN RSA PRIVATE KEY"):
        assert marker not in text, "%r in %s" % (marker, stack["ERROR_LOG"])
