"""SAML sign-in, the attacks (docs/api.md "SAML", src/auth/saml.c): Responses
made and signed here (samlsign.py: python3-xmlsec + lxml, a test IdP key of
this module) and POSTed to the ACS of a new Agency org whose SSO names this
test IdP. Nobody is called at the IdP's SSO URL: the app only redirects
there, and each test takes the AuthnRequest ID and the RelayState from the
start's Location and the binding cookie from its Set-Cookie, as a browser
would carry them.

Each refusal is asserted as the OIDC negative suite does: 303 to
PUBLIC_ORIGIN/login?error=CODE, no session cookie, and one `sso.login_failed`
entry in the org's audit log (matched by the answer's X-Request-Id) whose
`after` names the reason the verifier gives (src/auth/saml.c, the ACS in
src/auth/signin.c). The control tests show that a correct Response of the
same builder signs in, so every refusal is the attack's doing.

The wrapping variants XSW1-XSW8 are SAML Raider's (after Somorovsky et al.,
"On Breaking SAML", 2012), each with the evil copy under a different ID and
under the signed one's ID: the verifier counts every Assertion of the
document and refuses any repeated ID before it looks at a signature, so
each lands on assertion-count or duplicate-id; the relocated-signature
variants reach the later checks (signature-misplaced, reference,
signature, unsigned).

test_identity_of_another_orgs_idp_cannot_be_claimed: an org's IdP speaks only
for that org (identities are (org, entity id, NameID)), so an org whose admins
name another org's IdP entity id with their own certificate signs in a new
account of their own domain, never that IdP's users.
"""

import re
import urllib.parse
from pathlib import Path

import pytest

import oidchelp as oh
import samlsign as ss
from apxtest import assert_problem, describe, max_body_bytes, poll
from authhelp import bearer, remember
from orghelp import by_request, members, org_audit

ENTITY = "https://attacker-test-idp.example/metadata"
SSO_URL = "https://attacker-test-idp.example/saml2/sso"
SSO = "/api/v1/orgs/%s/sso"
SESSION_COOKIES = (oh.ACCESS, oh.REFRESH, oh.CSRF)


# ------------------------------------------------------------------ set-up

@pytest.fixture(scope="module")
def idp():
    """The test IdP's key and self-signed certificate."""
    kp = ss.KeyPair("apx-attack-test-idp")
    remember(*kp.secrets())
    return kp


@pytest.fixture(scope="module")
def attacker():
    kp = ss.KeyPair("apx-attacker")
    remember(*kp.secrets())
    return kp


def saml_org(http, stack, prefix, cert_pem):
    """A new Agency org with a verified domain whose SSO is ENTITY with
    CERT_PEM."""
    o = oh.verified_agency(http, stack, prefix)
    r = http.request("PUT", SSO % o["slug"], headers=o["h"], json={
        "protocol": "saml", "idp_entity_id": ENTITY, "idp_sso_url": SSO_URL,
        "idp_certificates": [cert_pem], "jit": True})
    assert r.status_code == 200, describe(r)
    cfg = r.json()
    acs = "%s/api/v1/auth/sso/%s/saml/acs" % (stack["PUBLIC_ORIGIN"], o["slug"])
    sp = "%s/api/v1/auth/sso/%s/saml/metadata" % (stack["PUBLIC_ORIGIN"], o["slug"])
    assert cfg["protocol"] == "saml" and cfg["acs_url"] == acs and cfg["sp_entity_id"] == sp, cfg
    assert [p.strip() for p in cfg["idp_certificates"]] == [cert_pem.strip()], cfg
    o.update(acs=acs, sp=sp)
    return o


@pytest.fixture(scope="module")
def org(http, stack, idp):
    oh.need(stack, "DNS_CONTROL_URL", "PUBLIC_ORIGIN")
    return saml_org(http, stack, "samlatk", idp.cert_pem)


def begin(http, org, cookie=None):
    """GET the org's start: the AuthnRequest ID, RelayState, cookie."""
    f = ss.Flow(http, org["slug"], cookie=cookie)
    assert re.fullmatch(r"_[0-9a-f]{32}", f.id or ""), f.request_xml
    assert f.location.startswith(SSO_URL + "?"), f.location
    return f


def claims(org, flow, name=None, **changes):
    """The claims of a correct Response to FLOW (None: unsolicited) for a
    new address of the org's verified domain."""
    email = "%s@%s" % (name or oh.unique("u"), org["domain"])
    c = ss.Claims(ENTITY, org["sp"], org["acs"], flow.id if flow is not None else None, email)
    for k, v in changes.items():
        assert hasattr(c, k), k
        setattr(c, k, v)
    return c


def victim(org):
    return "%s@%s" % (oh.unique("victim"), org["domain"])


def send(http, org, flow, doc, relay=True, cookie=True):
    """POST DOC (a tree, or bytes) to the ACS with the flow's RelayState and
    cookie (False: left out)."""
    return ss.post_acs(http, org["slug"], ss.b64(doc), flow.relay if relay else None,
                       flow.cookie if cookie else None)


def no_session(r):
    got = oh.set_cookies(r)
    for name in SESSION_COOKIES:
        assert name not in got, "%s set on a refused sign-in%s" % (name, describe(r))


def login_failed(http, org, rid):
    return by_request(org_audit(http, org["h"], org["slug"], action="sso.login_failed"), rid)


def refused(http, stack, org, r, reason, code="signin-failed"):
    """A refusal of a flow that was ours: the page, no session, the audit entry."""
    assert r.status_code == 303, describe(r)
    assert r.headers.get("Location") == "%s/login?error=%s" % (stack["PUBLIC_ORIGIN"], code), \
        describe(r)
    no_session(r)
    rid = r.headers.get("X-Request-Id")
    assert rid, describe(r)
    entries = login_failed(http, org, rid)
    assert len(entries) == 1, (rid, entries)
    after = entries[0]["after"]
    assert after == {"provider": "saml", "code": code, "reason": reason}, (rid, after)
    assert by_request(org_audit(http, org["h"], org["slug"], action="sso.login"), rid) == []
    return entries[0]


def error_log_line(stack, rid, needle):
    path = Path(stack["ERROR_LOG"])

    def find():
        for line in path.read_text(errors="replace").splitlines():
            if ("rid=%s " % rid) in line and needle in line:
                return line
        return None

    return poll(find, 5, interval=0.05, what="%r of rid=%s in ERROR_LOG" % (needle, rid))


def not_ours(http, stack, org, r, needle):
    """A refusal whose state was not ours: logged (NEEDLE), never audited."""
    assert r.status_code == 303, describe(r)
    assert r.headers.get("Location") == "%s/login?error=signin-failed" % stack["PUBLIC_ORIGIN"], \
        describe(r)
    no_session(r)
    rid = r.headers["X-Request-Id"]
    error_log_line(stack, rid, needle)
    assert by_request(org_audit(http, org["h"], org["slug"]), rid) == []


def succeeded(http, stack, org, r, email, ret="/app"):
    """Signed in as EMAIL: back to RET, session cookies, /me, sso.login."""
    assert r.status_code == 303, describe(r)
    assert r.headers.get("Location") == stack["PUBLIC_ORIGIN"] + ret, describe(r)
    tok = oh.signed_in(r)
    me = http.get("/api/v1/me", headers=bearer(tok))
    assert me.status_code == 200, describe(me)
    assert me.json()["user"]["email"] == email, describe(me)
    rid = r.headers["X-Request-Id"]
    assert login_failed(http, org, rid) == []
    e = by_request(org_audit(http, org["h"], org["slug"], action="sso.login"), rid)
    assert len(e) == 1 and e[0]["after"]["provider"] == "saml", e
    return me.json()["user"]


def attack(http, stack, org, build, reason, code="signin-failed"):
    """A new flow; BUILD(flow) -> the document; refused with REASON."""
    f = begin(http, org)
    r = send(http, org, f, build(f))
    return refused(http, stack, org, r, reason, code)


def set_name_id(a, email):
    """The NameID and the email attribute of Assertion A."""
    a.find("%s/%s" % (ss.A("Subject"), ss.A("NameID"))).text = email
    for at in a.iter(ss.A("Attribute")):
        if at.get("Name") == "email":
            at.find(ss.A("AttributeValue")).text = email


# ------------------------------------------------------------------ the controls

def test_control_signed_on_the_assertion_signs_in(http, stack, org, idp):
    f = begin(http, org)
    c = claims(org, f)
    r = send(http, org, f, ss.signed(c, idp, "assertion"))
    user = succeeded(http, stack, org, r, c.name_id)
    # JIT: a member with the default role (viewer)
    assert members(http, org["token"], org["slug"])[user["id"]]["role"] == "viewer"
    e = by_request(org_audit(http, org["h"], org["slug"], action="sso.login"), r)
    assert e[0]["after"] == {"provider": "saml", "joined": True}, e


def test_control_signed_on_the_response_only_signs_in(http, stack, org, idp):
    f = begin(http, org)
    c = claims(org, f)
    doc = ss.signed(c, idp, "response")
    assert doc.find(ss.A("Assertion")).find(ss.DS("Signature")) is None
    succeeded(http, stack, org, send(http, org, f, doc), c.name_id)
    # and both signed, as SimpleSAMLphp does
    f = begin(http, org)
    c = claims(org, f)
    succeeded(http, stack, org, send(http, org, f, ss.signed(c, idp, "both")), c.name_id)


# ------------------------------------------------------------------ XML signature wrapping

def xsw1(org, c, idp, same_id):
    """Response signed; its unsigned clone appended to its ds:Signature, the
    outer (evil) Response with a new ID and the victim's Assertion."""
    r = ss.signed(c, idp, "response")
    clone = ss.strip_signature(ss.deep(r))
    r.find(ss.DS("Signature")).append(clone)
    return evil_response(org, r, same_id)


def xsw2(org, c, idp, same_id):
    """As XSW1, the clone placed before the ds:Signature (a detached-like
    signature)."""
    r = ss.signed(c, idp, "response")
    clone = ss.strip_signature(ss.deep(r))
    r.find(ss.DS("Signature")).addprevious(clone)
    return evil_response(org, r, same_id)


def evil_response(org, r, same_id):
    r.set("ID", ss.new_id())
    a = r.find(ss.A("Assertion"))
    set_name_id(a, victim(org))
    if not same_id:
        a.set("ID", ss.new_id())
    return r


def assertion_signed(c, idp):
    r = ss.signed(c, idp, "assertion")
    return r, r.find(ss.A("Assertion"))


def unsigned_copy(a, org, same_id, evil=True):
    e = ss.strip_signature(ss.deep(a))
    if evil:
        set_name_id(e, victim(org))
    if not same_id:
        e.set("ID", ss.new_id())
    return e


def xsw3(org, c, idp, same_id):
    """An evil unsigned Assertion inserted before the signed one."""
    r, a = assertion_signed(c, idp)
    a.addprevious(unsigned_copy(a, org, same_id))
    return r


def xsw4(org, c, idp, same_id):
    """An evil unsigned Assertion in the signed one's place, the signed one
    moved inside it."""
    r, a = assertion_signed(c, idp)
    e = unsigned_copy(a, org, same_id)
    r.append(e)
    e.append(a)         # moves it
    return r


def evil_in_place(a, org, same_id):
    """The signed Assertion turned evil where it is (its signature kept)."""
    set_name_id(a, victim(org))
    if not same_id:
        a.set("ID", ss.new_id())


def xsw5(org, c, idp, same_id):
    """The signed Assertion edited in place (new ID, signature kept), an
    unsigned copy of the original appended to the Response."""
    r, a = assertion_signed(c, idp)
    orig = unsigned_copy(a, org, True, evil=False)
    evil_in_place(a, org, same_id)
    r.append(orig)
    return r


def xsw6(org, c, idp, same_id):
    """As XSW5, the original copy inside the evil Assertion's ds:Signature."""
    r, a = assertion_signed(c, idp)
    orig = unsigned_copy(a, org, True, evil=False)
    evil_in_place(a, org, same_id)
    a.find(ss.DS("Signature")).append(orig)
    return r


def xsw7(org, c, idp, same_id):
    """An evil unsigned copy in samlp:Extensions before the signed one."""
    r, a = assertion_signed(c, idp)
    ext = ss.etree.Element(ss.P("Extensions"))
    ext.append(unsigned_copy(a, org, same_id))
    r.find(ss.P("Status")).addprevious(ext)
    return r


def xsw8(org, c, idp, same_id):
    """As XSW6, the original copy in a ds:Object of the ds:Signature."""
    r, a = assertion_signed(c, idp)
    orig = unsigned_copy(a, org, True, evil=False)
    evil_in_place(a, org, same_id)
    obj = ss.etree.SubElement(a.find(ss.DS("Signature")), ss.DS("Object"))
    obj.append(orig)
    return r


# XSW1, XSW6 and XSW8 put the signed element inside the ds:Signature:
# xmlsec's enveloped-signature transform then leaves nothing of it to
# digest (or refuses a foreign child of ds:Signature), so only the other
# five still carry a signature that xmlsec itself would accept.
@pytest.mark.parametrize("variant,verifies", [
    pytest.param(v, ok, id=v.__name__) for v, ok in (
        (xsw1, False), (xsw2, True), (xsw3, True), (xsw4, True), (xsw5, True), (xsw6, False),
        (xsw7, True), (xsw8, False))])
def test_signature_wrapping_refused(http, stack, org, idp, variant, verifies):
    def wrapped(f):
        doc = variant(org, claims(org, f), idp, False)
        # the victim's NameID is in it, and (a real wrap) the IdP's
        # signature still verifies
        assert b"victim" in ss.xml_bytes(doc)
        if verifies:
            assert ss.verifies_somewhere(doc, idp.cert_pem) == 1, ss.xml_bytes(doc)
        return doc
    # another ID for the evil copy: two Assertions in the document
    attack(http, stack, org, wrapped, "assertion-count")
    # the signed one's ID: an ID twice
    attack(http, stack, org, lambda f: variant(org, claims(org, f), idp, True), "duplicate-id")


def moved_signature(org, c, idp, to, evil):
    """The only Assertion (EVIL: the victim's), its signature moved TO
    "extensions" (inside samlp:Extensions), "response" (a child of the
    Response, the Reference still naming the Assertion) or "gone"."""
    r, a = assertion_signed(c, idp)
    sig = a.find(ss.DS("Signature"))
    a.remove(sig)
    if evil:
        set_name_id(a, victim(org))
    if to == "extensions":
        ext = ss.etree.Element(ss.P("Extensions"))
        ext.append(sig)
        r.find(ss.P("Status")).addprevious(ext)
    elif to == "response":
        r.find(ss.A("Issuer")).addnext(sig)
    return r


@pytest.mark.parametrize("to,evil,reason", [
    ("extensions", True, "signature-misplaced"),
    ("response", False, "reference"),
    ("response", True, "signature"),
    ("gone", True, "unsigned"),
])
def test_relocated_signature_refused(http, stack, org, idp, to, evil, reason):
    def build(f):
        doc = moved_signature(org, claims(org, f), idp, to, evil)
        if reason == "reference":
            # the moved signature is still a valid one (over the Assertion)
            ss.verify(doc.find(ss.A("Assertion")), doc.find(ss.DS("Signature")), idp.cert_pem)
        return doc
    attack(http, stack, org, build, reason)


# ------------------------------------------------------------------ signatures

def test_signature_removed_refused(http, stack, org, idp):
    def build(f):
        r = ss.signed(claims(org, f), idp, "assertion")
        ss.strip_signature(r.find(ss.A("Assertion")))
        assert b"Signature" not in ss.xml_bytes(r)
        return r
    attack(http, stack, org, build, "unsigned")


def test_attacker_certificate_in_keyinfo_refused(http, stack, org, idp, attacker):
    def build(f):
        r = ss.signed(claims(org, f), attacker, "assertion", keyinfo=True)
        # the document names the attacker's certificate, and verifies with it
        assert b"X509Certificate" in ss.xml_bytes(r)
        a = r.find(ss.A("Assertion"))
        ss.verify(a, a.find(ss.DS("Signature")), attacker.cert_pem)
        return r
    attack(http, stack, org, build, "signature")
    # and the same re-signed on the Response as well
    attack(http, stack, org, lambda f: ss.signed(claims(org, f), attacker, "both",
                                                 keyinfo=True), "signature")


def test_sha1_signature_refused(http, stack, org, idp):
    def build(f):
        r = ss.signed(claims(org, f), idp, "assertion", sha1=True)
        x = ss.xml_bytes(r)
        assert b"xmldsig#rsa-sha1" in x and b"xmldsig#sha1" in x
        return r
    attack(http, stack, org, build, "signature-refused")


def test_content_changed_after_signing_refused(http, stack, org, idp):
    def build(f):
        r = ss.signed(claims(org, f), idp, "assertion")
        set_name_id(r.find(ss.A("Assertion")), victim(org))
        return r
    attack(http, stack, org, build, "signature")


# ------------------------------------------------------------------ structure

def test_two_assertions_refused(http, stack, org, idp):
    def build(f):
        c = claims(org, f)
        r, a = assertion_signed(c, idp)
        r.append(ss.assertion(c, assertion_id=ss.new_id(), name_id=victim(org)))
        return r
    attack(http, stack, org, build, "assertion-count")


def test_assertion_in_extensions_refused(http, stack, org, idp):
    def build(f):
        c = claims(org, f)
        r, a = assertion_signed(c, idp)
        ext = ss.etree.Element(ss.P("Extensions"))
        ext.append(ss.assertion(c, assertion_id=ss.new_id(), name_id=victim(org)))
        r.find(ss.P("Status")).addprevious(ext)
        return r
    attack(http, stack, org, build, "assertion-count")


def test_assertion_in_signature_object_refused(http, stack, org, idp):
    def build(f):
        c = claims(org, f)
        r, a = assertion_signed(c, idp)
        obj = ss.etree.SubElement(a.find(ss.DS("Signature")), ss.DS("Object"))
        obj.append(ss.assertion(c, assertion_id=ss.new_id(), name_id=victim(org)))
        return r
    attack(http, stack, org, build, "assertion-count")


def test_duplicate_ids_refused(http, stack, org, idp):
    def build(f):
        c = claims(org, f)
        r, a = assertion_signed(c, idp)
        # an element before the Assertion carries its ID: a lookup by ID
        # would find that one first
        ext = ss.etree.Element(ss.P("Extensions"))
        ss.etree.SubElement(ext, "{urn:x-apx-test}Thing").set("ID", a.get("ID"))
        r.find(ss.P("Status")).addprevious(ext)
        return r
    attack(http, stack, org, build, "duplicate-id")
    # the Response's ID equal to the Assertion's
    def build2(f):
        c = claims(org, f)
        c.response_id = c.assertion_id
        return ss.signed(c, idp, "assertion")
    attack(http, stack, org, build2, "duplicate-id")


def test_comment_in_name_id_refused(http, stack, org, idp):
    """The IdP signed victim@DOMAIN.evil.example (no email attribute: the
    NameID is the address); a comment inserted after signing leaves the
    signature valid (exclusive C14N drops comments) and would make the
    first text node victim@DOMAIN."""
    def build(f):
        name = oh.unique("victim")
        c = claims(org, f, name=name, email=False)
        c.name_id = "%s@%s.evil.example" % (name, org["domain"])
        x = ss.xml_bytes(ss.signed(c, idp, "assertion"))
        was = (">%s</saml:NameID>" % c.name_id).encode()
        now = (">%s@%s<!---->.evil.example</saml:NameID>" % (name, org["domain"])).encode()
        assert x.count(was) == 1
        x = x.replace(was, now)
        # still a valid signature
        r = ss.reparse(x)
        a = r.find(ss.A("Assertion"))
        ss.verify(a, a.find(ss.DS("Signature")), idp.cert_pem)
        return x
    attack(http, stack, org, build, "comment-in-text")


XXE = b'<!DOCTYPE samlp:Response [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
          b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
          b'<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>')


@pytest.mark.parametrize("kind", ["doctype", "xxe", "billion-laughs"])
def test_dtd_refused(http, stack, org, idp, kind):
    def build(f):
        c = claims(org, f)
        x = ss.xml_bytes(ss.signed(c, idp, "assertion"))
        if kind == "doctype":
            return b'<!DOCTYPE samlp:Response SYSTEM "http://127.0.0.1:9/x.dtd">' + x
        if kind == "xxe":
            return XXE + x.replace(c.name_id.encode(), b"&xxe;", 1)
        return LAUGHS + x.replace(c.name_id.encode(), b"&lol4;", 1)
    attack(http, stack, org, build, "dtd")


# ------------------------------------------------------------------ claims

@pytest.mark.parametrize("field,reason", [
    ("destination", "destination"),
    ("recipient", "recipient"),
    ("audience", "audience"),
    ("issuer", "issuer"),
])
def test_wrong_claim_refused(http, stack, org, idp, field, reason):
    wrong = {"destination": "https://evil.example/acs",
             "recipient": "https://evil.example/acs",
             "audience": "https://other-sp.example/metadata",
             "issuer": "https://other-idp.example/metadata"}[field]
    attack(http, stack, org,
           lambda f: ss.signed(claims(org, f, **{field: wrong}), idp, "both"), reason)


def test_expired_refused(http, stack, org, idp):
    past = ss.instant(-600)
    # the SubjectConfirmationData's NotOnOrAfter
    attack(http, stack, org,
           lambda f: ss.signed(claims(org, f, scd_not_on_or_after=past), idp), "expired")
    # the Conditions' NotOnOrAfter
    attack(http, stack, org,
           lambda f: ss.signed(claims(org, f, not_on_or_after=past), idp), "expired")


def test_not_yet_valid_refused(http, stack, org, idp):
    attack(http, stack, org,
           lambda f: ss.signed(claims(org, f, not_before=ss.instant(150)), idp),
           "not-yet-valid")
    # within the 60 s skew it is fine
    f = begin(http, org)
    c = claims(org, f, not_before=ss.instant(20))
    succeeded(http, stack, org, send(http, org, f, ss.signed(c, idp)), c.name_id)


# ------------------------------------------------------------------ flows

def test_replayed_assertion_refused(http, stack, org, idp):
    f = begin(http, org)
    c = claims(org, f)
    succeeded(http, stack, org, send(http, org, f, ss.signed(c, idp)), c.name_id)
    # a second flow of its own, a fresh and correct Response whose
    # Assertion has the same ID
    f2 = begin(http, org)
    c2 = claims(org, f2, name=c.name_id.split("@")[0], assertion_id=c.assertion_id)
    assert c2.in_response_to == f2.id != f.id
    refused(http, stack, org, send(http, org, f2, ss.signed(c2, idp)), "replay")
    # the same with a new Assertion ID is fine
    f3 = begin(http, org)
    c3 = claims(org, f3, name=c.name_id.split("@")[0])
    succeeded(http, stack, org, send(http, org, f3, ss.signed(c3, idp)), c.name_id)


def test_unsolicited_response_refused(http, stack, org, idp):
    # a Response without InResponseTo, posted in a flow of ours
    f = begin(http, org)
    c = claims(org, None)
    doc = ss.signed(c, idp, "both")
    assert b"InResponseTo" not in ss.xml_bytes(doc)
    refused(http, stack, org, send(http, org, f, doc), "unsolicited")
    # IdP-initiated: no RelayState at all (and no cookie): logged only
    r = ss.post_acs(http, org["slug"], ss.b64(ss.signed(claims(org, None), idp, "both")))
    not_ours(http, stack, org, r, "refused: signin-failed (unsolicited)")
    # the same with this browser's cookie
    f = begin(http, org)
    r = send(http, org, f, ss.signed(claims(org, None), idp), relay=False)
    not_ours(http, stack, org, r, "refused: signin-failed (unsolicited)")


def test_in_response_to_of_another_browser_refused(http, stack, org, idp):
    mine = begin(http, org)
    theirs = begin(http, org)               # another browser's request
    assert theirs.cookie != mine.cookie and theirs.id != mine.id
    r = send(http, org, mine, ss.signed(claims(org, theirs), idp))
    refused(http, stack, org, r, "in-response-to")
    # the Response's InResponseTo differing from the signed one's
    f = begin(http, org)
    def build(f):
        doc = ss.signed(claims(org, f), idp, "assertion")
        doc.set("InResponseTo", theirs.id)
        return doc
    refused(http, stack, org, send(http, org, f, build(f)), "in-response-to")


def test_oversize_response_refused(http, stack, org, idp):
    """A SAMLResponse of 400 KiB decoded (a correct signed Response padded
    with a comment): over the verifier's 256 KiB, its base64 over the ACS's
    2 x 256 KiB: too-big, audited; or, were the form body over the body
    limit, the 413 of the limit. Which one is known from the sizes."""
    f = begin(http, org)
    c = claims(org, f)
    x = ss.xml_bytes(ss.signed(c, idp))
    size = 400 * 1024
    x = x + b"<!--" + b"x" * (size - len(x) - len(b"<!---->")) + b"-->"
    assert len(x) == size
    b64 = ss.b64(x)
    body = urllib.parse.urlencode({"SAMLResponse": b64, "RelayState": f.relay})
    assert len(b64) > 2 * 256 * 1024
    r = ss.post_acs(http, org["slug"], b64, f.relay, f.cookie, expect=None)
    no_session(r)
    if len(body) > max_body_bytes(stack):
        assert_problem(r, 413)
        assert "Location" not in r.headers, describe(r)
    else:
        # this stack: the ACS's own refusal
        refused(http, stack, org, r, "too-big")
    assert by_request(org_audit(http, org["h"], org["slug"], action="sso.login"), r) == []


# ------------------------------------------------------------------ accounts

def test_identity_of_another_orgs_idp_cannot_be_claimed(http, stack, org, idp, attacker):
    # the victim: a user of this module's org (its IdP: ENTITY, key idp)
    f = begin(http, org)
    c = claims(org, f)
    victim_user = succeeded(http, stack, org, send(http, org, f, ss.signed(c, idp)), c.name_id)
    # the attacker owns another Agency org whose SSO names the same entity
    # id with the attacker's certificate, and speaks for the victim's NameID
    # with an email of the attacker's own verified domain
    evil = saml_org(http, stack, "samlevil", attacker.cert_pem)
    f2 = begin(http, evil)
    c2 = claims(evil, f2)
    c2.name_id = c.name_id
    c2.email = "whoever-%s@%s" % (oh.unique(""), evil["domain"])
    r = send(http, evil, f2, ss.signed(c2, attacker))
    assert r.status_code == 303, describe(r)
    if "/login?error=" not in r.headers.get("Location", ""):
        tok = oh.signed_in(r)
        me = http.get("/api/v1/me", headers=bearer(tok)).json()["user"]
        assert me["id"] != victim_user["id"], \
            "the attacker's org signed in as the victim %r%s" % (me, describe(r))
    assert victim_user["id"] not in members(http, evil["token"], evil["slug"])
