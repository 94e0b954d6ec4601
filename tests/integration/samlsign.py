"""SAML Responses made and signed here (python3-xmlsec + lxml), for the
crafted-Response tests (test_saml_attacks.py, and test_saml.py where the
stack's IdP cannot play the part): a test IdP key with its self-signed
certificate, the Response of docs/api.md "SAML" (one Assertion, bearer
SubjectConfirmation, Conditions, AuthnStatement, the `email` attribute),
enveloped signatures (exclusive C14N, RSA-SHA256 or -SHA1) on the
Assertion, the Response or both, and the app's side of the flow: the start
(AuthnRequest ID, RelayState, binding cookie) and the POST to the ACS.

Only /usr/bin/python3's Debian packages: python3-xmlsec, python3-lxml,
python3-cryptography.
"""

import base64
import copy
import datetime
import urllib.parse
import uuid
import zlib

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from apxtest import describe
from authhelp import remember

NS_P = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_A = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"samlp": NS_P, "saml": NS_A, "ds": NS_DS}
EMAIL_FMT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
COOKIE = "__Host-apx_saml"


def P(tag):
    return "{%s}%s" % (NS_P, tag)


def A(tag):
    return "{%s}%s" % (NS_A, tag)


def DS(tag):
    return "{%s}%s" % (NS_DS, tag)


def new_id():
    return "_" + uuid.uuid4().hex


def instant(delta=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=delta)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ keys

class KeyPair:
    """An RSA-2048 key and its self-signed certificate (PEM text)."""

    def __init__(self, cn):
        k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(k.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .sign(k, hashes.SHA256()))
        self.key_pem = k.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()).decode()
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()

    def secrets(self):
        """The private key's base64 lines (what a leak would show)."""
        return [ln for ln in self.key_pem.splitlines() if ln and not ln.startswith("-----")]


# ------------------------------------------------------------------ documents

class Claims:
    """What the Response says; every field may be changed by a test."""

    def __init__(self, issuer, sp_entity_id, acs_url, in_response_to, name_id, email=None,
                 **changes):
        self.issuer = issuer                    # Response and Assertion Issuer
        self.audience = sp_entity_id
        self.destination = acs_url
        self.recipient = acs_url
        self.in_response_to = in_response_to    # None: unsolicited (both places)
        self.name_id = name_id
        self.name_id_format = EMAIL_FMT
        self.email = name_id if email is None else email   # False: no email attribute
        self.display_name = "Crafted " + name_id.split("@")[0]
        self.response_id = new_id()
        self.assertion_id = new_id()
        self.not_before = instant(-30)
        self.not_on_or_after = instant(300)
        self.scd_not_on_or_after = instant(300)
        self.status = SUCCESS
        for k, v in changes.items():
            assert hasattr(self, k), k
            setattr(self, k, v)


def assertion(c, assertion_id=None, name_id=None):
    """The Assertion element of claims C (ID and NameID may be overridden)."""
    a = etree.Element(A("Assertion"), nsmap={"saml": NS_A})
    a.set("ID", assertion_id or c.assertion_id)
    a.set("Version", "2.0")
    a.set("IssueInstant", instant())
    etree.SubElement(a, A("Issuer")).text = c.issuer
    sub = etree.SubElement(a, A("Subject"))
    nid = etree.SubElement(sub, A("NameID"))
    nid.set("Format", c.name_id_format)
    nid.text = name_id or c.name_id
    sc = etree.SubElement(sub, A("SubjectConfirmation"))
    sc.set("Method", BEARER)
    scd = etree.SubElement(sc, A("SubjectConfirmationData"))
    scd.set("NotOnOrAfter", c.scd_not_on_or_after)
    scd.set("Recipient", c.recipient)
    if c.in_response_to is not None:
        scd.set("InResponseTo", c.in_response_to)
    cond = etree.SubElement(a, A("Conditions"))
    cond.set("NotBefore", c.not_before)
    cond.set("NotOnOrAfter", c.not_on_or_after)
    etree.SubElement(etree.SubElement(cond, A("AudienceRestriction")),
                     A("Audience")).text = c.audience
    st = etree.SubElement(a, A("AuthnStatement"))
    st.set("AuthnInstant", instant())
    st.set("SessionIndex", new_id())
    etree.SubElement(etree.SubElement(st, A("AuthnContext")), A("AuthnContextClassRef")).text = \
        "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"
    ats = etree.SubElement(a, A("AttributeStatement"))
    attrs = [("displayName", c.display_name)]
    if c.email is not False:
        attrs.insert(0, ("email", name_id or c.email))
    for name, value in attrs:
        at = etree.SubElement(ats, A("Attribute"))
        at.set("Name", name)
        at.set("NameFormat", "urn:oasis:names:tc:SAML:2.0:attrname-format:basic")
        etree.SubElement(at, A("AttributeValue")).text = value
    return a


def response(c, with_assertion=True):
    """The Response of claims C (root element), with its Assertion."""
    r = etree.Element(P("Response"), nsmap={"samlp": NS_P, "saml": NS_A})
    r.set("ID", c.response_id)
    r.set("Version", "2.0")
    r.set("IssueInstant", instant())
    r.set("Destination", c.destination)
    if c.in_response_to is not None:
        r.set("InResponseTo", c.in_response_to)
    etree.SubElement(r, A("Issuer")).text = c.issuer
    etree.SubElement(etree.SubElement(r, P("Status")), P("StatusCode")).set("Value", c.status)
    if with_assertion:
        r.append(assertion(c))
    return r


def sign(el, kp, sha1=False, keyinfo=False, ref_id=None):
    """An enveloped signature by KP over EL (Reference "#" + its ID, or
    REF_ID), put right after EL's Issuer; KEYINFO: KP's certificate in
    ds:KeyInfo/X509Data. EL must be in its final document."""
    sig = xmlsec.template.create(
        el, xmlsec.constants.TransformExclC14N,
        xmlsec.constants.TransformRsaSha1 if sha1 else xmlsec.constants.TransformRsaSha256,
        ns="ds")
    issuer = el.find(A("Issuer"))
    if issuer is not None:
        issuer.addnext(sig)
    else:
        el.insert(0, sig)
    ref = xmlsec.template.add_reference(
        sig, xmlsec.constants.TransformSha1 if sha1 else xmlsec.constants.TransformSha256,
        uri="#" + (ref_id or el.get("ID")))
    xmlsec.template.add_transform(ref, xmlsec.constants.TransformEnveloped)
    xmlsec.template.add_transform(ref, xmlsec.constants.TransformExclC14N)
    if keyinfo:
        xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(sig))
    key = xmlsec.Key.from_memory(kp.key_pem, xmlsec.constants.KeyDataFormatPem)
    if keyinfo:
        key.load_cert_from_memory(kp.cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    xmlsec.tree.add_ids(el.getroottree().getroot(), ["ID"])
    ctx = xmlsec.SignatureContext()
    ctx.key = key
    ctx.sign(sig)
    return sig


def signed(c, kp, where="assertion", sha1=False, keyinfo=False):
    """The Response of claims C signed by KP on the Assertion, the
    Response or both (the Assertion first)."""
    r = response(c)
    if where in ("assertion", "both"):
        sign(r.find(A("Assertion")), kp, sha1=sha1, keyinfo=keyinfo)
    if where in ("response", "both"):
        sign(r, kp, sha1=sha1, keyinfo=keyinfo)
    return r


def verify(el, sig, cert_pem):
    """Check a signature here (to know that a wrapped document still
    carries a valid one)."""
    xmlsec.tree.add_ids(el.getroottree().getroot(), ["ID"])
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    ctx.verify(sig)


def verifies_somewhere(doc, cert_pem):
    """How many ds:Signature elements of DOC verify with CERT_PEM (what a
    verifier that only checks "some signature is valid" would accept)."""
    root = reparse(doc)
    xmlsec.tree.add_ids(root, ["ID"])
    n = 0
    for sig in root.iter(DS("Signature")):
        ctx = xmlsec.SignatureContext()
        ctx.key = xmlsec.Key.from_memory(cert_pem, xmlsec.constants.KeyDataFormatCertPem)
        try:
            ctx.verify(sig)
            n += 1
        except xmlsec.Error:
            pass
    return n


def xml_bytes(doc):
    if isinstance(doc, bytes):
        return doc
    if isinstance(doc, str):
        return doc.encode()
    return etree.tostring(doc)


def b64(doc):
    return base64.b64encode(xml_bytes(doc)).decode()


def reparse(doc):
    """A fresh tree of DOC (after text surgery, or to drop lxml's state)."""
    return etree.fromstring(xml_bytes(doc))


def deep(el):
    return copy.deepcopy(el)


def strip_signature(el):
    """EL without its direct ds:Signature child (in place)."""
    for s in el.findall(DS("Signature")):
        el.remove(s)
    return el


# ------------------------------------------------------------------ the app's side

def inflate(saml_request):
    return zlib.decompress(base64.b64decode(saml_request), -15)


def query_of(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query,
                                       keep_blank_values=True))


def set_cookie_of(r, name):
    lines = r.raw.headers.get_all("Set-Cookie") if hasattr(r.raw.headers, "get_all") \
        else [r.headers.get("Set-Cookie", "")]
    for line in lines or []:
        first, _, attrs = line.partition(";")
        n, _, v = first.partition("=")
        if n.strip() == name:
            return v.strip(), attrs
    return None


class Flow:
    """One GET .../start of a SAML org: the AuthnRequest, its ID, the
    RelayState and the browser's binding cookie."""

    def __init__(self, http, slug, cookie=None, **params):
        h = {"Cookie": "%s=%s" % (COOKIE, cookie)} if cookie else {}
        r = http.get("/api/v1/auth/sso/%s/start" % slug, headers=h, params=params or None)
        assert r.status_code == 303, describe(r)
        self.start = r
        self.location = r.headers["Location"]
        q = query_of(self.location)
        self.relay = q["RelayState"]
        self.request_xml = inflate(q["SAMLRequest"])
        self.request = etree.fromstring(self.request_xml)
        self.id = self.request.get("ID")
        if cookie is None:
            got = set_cookie_of(r, COOKIE)
            assert got is not None, describe(r)
            cookie = got[0]
        self.cookie = cookie
        remember(self.relay, self.cookie)


def post_acs(http, slug, saml_response=None, relay=None, cookie=None, expect=303):
    """POST the HTTP-POST binding's form to the org's ACS (None: left out)."""
    data = {}
    if saml_response is not None:
        data["SAMLResponse"] = saml_response
        remember(saml_response)
    if relay is not None:
        data["RelayState"] = relay
    h = {"Cookie": "%s=%s" % (COOKIE, cookie)} if cookie else {}
    r = http.post("/api/v1/auth/sso/%s/saml/acs" % slug, data=data, headers=h)
    if expect is not None:
        assert r.status_code == expect, describe(r)
    return r
