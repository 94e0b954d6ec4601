"""Self-test of the SAML IdP stand-in (tests/standins/saml/idp.py, SimpleSAMLphp).

    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/standins/test_saml_idp_selftest.py

Starts the stand-in on free ports with a temporary state dir and drives SP-initiated
logins the way a browser would (python3-requests, a fresh cookie jar per login).  The
Response is checked with the standard library's ElementTree; signatures are verified
with python3-xmlsec + python3-lxml when installed (those checks are skipped otherwise).
Skips everything if php or SimpleSAMLphp is missing.
"""
import base64
import html.parser
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
import zlib
from datetime import datetime, timezone

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
IDP = os.path.join(HERE, "saml", "idp.py")
requests = pytest.importorskip("requests")
try:
    import xmlsec
    from lxml import etree
except ImportError:
    xmlsec = None

if not shutil.which("php") or not os.path.isdir("/usr/share/simplesamlphp/www"):
    pytest.skip("needs php and simplesamlphp (apt-get install simplesamlphp php8.2-cgi "
                "php8.2-xml)", allow_module_level=True)

NS = {"samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
      "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
      "md": "urn:oasis:names:tc:SAML:2.0:metadata",
      "ds": "http://www.w3.org/2000/09/xmldsig#"}
EMAIL_FMT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
LINE = re.compile(r"listening idp=http://127\.0\.0\.1:(\d+) control=http://127\.0\.0\.1:(\d+) "
                  r"entity=(\S+) sso=(\S+)\n")
SP = {"entity_id": "https://app.example.test/saml/sp/example-agency",
      "acs": "https://app.example.test/api/v1/auth/sso/example-agency/saml/acs",
      "sign_response": True, "sign_assertion": True, "signature_algorithm": "rsa-sha256"}
SEEN_SECRETS = []          # SAMLResponse values and other things that must not be logged
# ---------------------------------------------------------------------------- the stand-in

def start(tmp):
    pidfile, log = tmp / "idp.pid", tmp / "idp.log"
    proc = subprocess.Popen(["/usr/bin/python3", IDP, "--dir", str(tmp / "state"),
                             "--port", "0", "--control-port", "0",
                             "--pidfile", str(pidfile), "--log", str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = LINE.fullmatch(line)
    assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
    port, cport = int(m.group(1)), int(m.group(2))
    return {"proc": proc, "port": port, "cport": cport, "entity": m.group(3),
            "sso": m.group(4), "base": "http://127.0.0.1:%d" % port, "pidfile": pidfile,
            "log": log, "dir": tmp / "state", "line": line}


def stop(s):
    if s["proc"].poll() is None:
        s["proc"].send_signal(signal.SIGTERM)
        s["proc"].wait(15)
    return s["proc"].returncode


@pytest.fixture(scope="module")
def idp(tmp_path_factory):
    s = start(tmp_path_factory.mktemp("saml-idp"))
    yield s
    assert stop(s) == 0
    assert not s["pidfile"].exists()


def ctl(s, method, path, body=None, raw=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (s["cport"], path), data=data,
                                 method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, body, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, body, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
    return status, (json.loads(body) if ctype.startswith("application/json") else body)


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------- SP side

class Forms(html.parser.HTMLParser):
    """Every <form> with its action and inputs (values unescaped)."""

    def __init__(self, text):
        super().__init__()
        self.forms = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action"), "method": (a.get("method") or "get").lower(),
                               "inputs": {}})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["inputs"][a["name"]] = a.get("value") or ""


def authn_request(s, sp, name_id_policy=True):
    rid = "_" + secrets.token_hex(16)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    policy = ('<samlp:NameIDPolicy Format="%s" AllowCreate="true"/>' % EMAIL_FMT
              if name_id_policy else "")
    xml = ('<samlp:AuthnRequest xmlns:samlp="%s" xmlns:saml="%s" ID="%s" Version="2.0" '
           'IssueInstant="%s" Destination="%s" AssertionConsumerServiceURL="%s" '
           'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">'
           '<saml:Issuer>%s</saml:Issuer>%s</samlp:AuthnRequest>'
           % (NS["samlp"], NS["saml"], rid, now, s["sso"], sp["acs"], sp["entity_id"], policy))
    c = zlib.compressobj(9, zlib.DEFLATED, -15)            # raw deflate (no zlib header)
    return rid, base64.b64encode(c.compress(xml.encode()) + c.flush()).decode()


def start_login(s, sp, relay, session=None, **kw):
    """GET SSOService with a fresh jar; returns (session, request id, final response)."""
    sess = session or requests.Session()
    rid, saml_request = authn_request(s, sp, **kw)
    SEEN_SECRETS.append(saml_request)
    r = sess.get(s["sso"], params={"SAMLRequest": saml_request, "RelayState": relay}, timeout=30)
    return sess, rid, r


def login_form(r):
    assert r.status_code == 200, r.text[:500]
    assert "/module.php/core/loginuserpass.php" in r.url
    (form,) = [f for f in Forms(r.text).forms if "AuthState" in f["inputs"]]
    assert form["method"] == "post" and "username" in form["inputs"] and "password" in form["inputs"]
    return form


def post_form(r):
    """The auto-submitting form to the ACS: (action, SAMLResponse XML bytes, RelayState)."""
    forms = [f for f in Forms(r.text).forms if "SAMLResponse" in f["inputs"]]
    assert len(forms) == 1, r.text[:1000]
    f = forms[0]
    assert f["method"] == "post"
    SEEN_SECRETS.append(f["inputs"]["SAMLResponse"])
    return f["action"], base64.b64decode(f["inputs"]["SAMLResponse"]), f["inputs"].get("RelayState")


def login(s, sp, user="erin@example-agency.test", password="erin-pw", relay="/dashboard"):
    sess, rid, r = start_login(s, sp, relay)
    form = login_form(r)
    r = sess.post(r.url.split("?")[0], data={"AuthState": form["inputs"]["AuthState"],
                                             "username": user, "password": password}, timeout=30)
    assert r.status_code == 200
    action, xml, relay_back = post_form(r)
    return {"rid": rid, "action": action, "xml": xml, "relay": relay_back,
            "doc": ET.fromstring(xml), "session": sess}


def cert_b64(pem):
    return "".join(l for l in pem.strip().splitlines() if not l.startswith("-----"))


def verify(xml, element, pem):
    """True if `element` ('Response' or 'Assertion')'s enveloped signature verifies with the
    key of certificate `pem` (and only that key: KeyInfo is not trusted)."""
    doc = etree.fromstring(xml)
    node = doc if element == "Response" else doc.find("saml:Assertion", NS)
    xmlsec.tree.add_ids(doc, ["ID"])
    for a in doc.iterfind(".//saml:Assertion", NS):
        xmlsec.tree.add_ids(a, ["ID"])
    sig = node.find("ds:Signature", NS)
    assert sig is not None
    ref = sig.find("ds:SignedInfo/ds:Reference", NS)
    assert ref.get("URI") == "#" + node.get("ID"), "signature must cover its own element"
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_memory(pem.encode(), xmlsec.constants.KeyDataFormatCertPem)
    try:
        ctx.verify(sig)
        return True
    except xmlsec.Error:
        return False


needs_xmlsec = pytest.mark.skipif(xmlsec is None, reason="python3-xmlsec/python3-lxml not installed")


@pytest.fixture(scope="module")
def sp(idp):
    assert ctl(idp, "PUT", "/sp/example-agency", SP) == (200, {"ok": True})
    return SP


# ---------------------------------------------------------------------------- tests

def test_listening_line_pidfile_and_health(idp):
    assert idp["entity"] == idp["base"] + "/saml2/idp/metadata.php"
    assert idp["sso"] == idp["base"] + "/saml2/idp/SSOService.php"
    assert int(idp["pidfile"].read_text()) == idp["proc"].pid
    assert ctl(idp, "GET", "/health") == (200, {"ok": True})
    assert os.stat(idp["dir"]).st_mode & 0o777 == 0o700
    for f in ("config/config.php", "config/authsources.php", "config/metadata/saml20-idp-hosted.php",
              "config/metadata/saml20-sp-remote.php"):
        assert (idp["dir"] / f).is_file(), f


def test_metadata_entity_sso_and_cert(idp):
    with urllib.request.urlopen(idp["entity"], timeout=10) as r:
        direct = r.read()
    st, proxied = ctl(idp, "GET", "/metadata")
    assert st == 200 and isinstance(proxied, bytes)
    for xml in (direct, proxied):
        md = ET.fromstring(xml)
        assert md.tag == "{%s}EntityDescriptor" % NS["md"] and md.get("entityID") == idp["entity"]
        sso = md.findall("md:IDPSSODescriptor/md:SingleSignOnService", NS)
        assert any(e.get("Binding") == REDIRECT and e.get("Location") == idp["sso"] for e in sso)
        fmts = [e.text for e in md.findall("md:IDPSSODescriptor/md:NameIDFormat", NS)]
        assert EMAIL_FMT in fmts
        certs = [e.text.strip() for e in md.findall(
            "md:IDPSSODescriptor/md:KeyDescriptor[@use='signing']/ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)]
        st, c = ctl(idp, "GET", "/cert")
        assert st == 200 and len(c["certs"]) == 1 and c["certs"][0] == c["signing"]
        assert certs == [cert_b64(c["signing"])]
    subj = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=c["signing"],
                          capture_output=True, text=True).stdout
    assert "CN = apx-test-idp" in subj or "CN=apx-test-idp" in subj


def test_control_api_rejects_bad_input(idp):
    assert ctl(idp, "PUT", "/sp/x", raw=b"not json")[0] == 400
    assert ctl(idp, "PUT", "/sp/x", {"entity_id": "e"})[0] == 400                    # no acs
    assert ctl(idp, "PUT", "/sp/x", dict(SP, bogus=1))[0] == 400
    assert ctl(idp, "PUT", "/sp/x", dict(SP, signature_algorithm="hmac-sha1"))[0] == 400
    assert ctl(idp, "PUT", "/sp/x", dict(SP, sign_response="yes"))[0] == 400
    assert ctl(idp, "PUT", "/sp/x", dict(SP, acs="javascript:alert(1)"))[0] == 400
    assert ctl(idp, "PUT", "/sp/bad%20name", SP)[0] == 400
    assert ctl(idp, "DELETE", "/sp/never-registered")[0] == 404
    assert ctl(idp, "POST", "/rotate/finish")[0] == 409
    assert ctl(idp, "GET", "/nothing")[0] == 404
    assert ctl(idp, "POST", "/cert")[0] == 405


def test_sp_registration_is_written_to_metadata(idp, sp):
    text = (idp["dir"] / "config/metadata/saml20-sp-remote.php").read_text()
    assert sp["entity_id"] in text and sp["acs"] in text
    st, body = ctl(idp, "GET", "/sp")
    assert st == 200 and body["sps"]["example-agency"] == SP
    # the same entity id under a second name is refused
    assert ctl(idp, "PUT", "/sp/other", SP)[0] == 409


def test_sp_initiated_login(idp, sp):
    relay = "/after-login?x=1&y=<\u00fc>"
    r = login(idp, sp, relay=relay)
    assert r["action"] == sp["acs"]
    assert r["relay"] == relay
    doc = r["doc"]
    assert doc.tag == "{%s}Response" % NS["samlp"]
    assert doc.get("Destination") == sp["acs"]
    assert doc.get("InResponseTo") == r["rid"]
    assert doc.find("saml:Issuer", NS).text == idp["entity"]
    assert doc.find("samlp:Status/samlp:StatusCode", NS).get("Value") == \
        "urn:oasis:names:tc:SAML:2.0:status:Success"
    (a,) = doc.findall("saml:Assertion", NS)
    assert a.find("saml:Issuer", NS).text == idp["entity"]
    assert a.find("saml:Conditions/saml:AudienceRestriction/saml:Audience", NS).text == sp["entity_id"]
    nid = a.find("saml:Subject/saml:NameID", NS)
    assert nid.text == "erin@example-agency.test" and nid.get("Format") == EMAIL_FMT
    scd = a.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", NS)
    assert scd.get("Recipient") == sp["acs"] and scd.get("InResponseTo") == r["rid"]
    attrs = {e.get("Name"): [v.text for v in e.findall("saml:AttributeValue", NS)]
             for e in a.findall("saml:AttributeStatement/saml:Attribute", NS)}
    assert attrs["email"] == ["erin@example-agency.test"]
    assert attrs["displayName"] == ["Erin Agency"]
    assert attrs["eduPersonPrincipalName"] == ["erin@example-agency.test"]
    for el in (doc, a):
        sig = el.find("ds:Signature", NS)
        assert sig is not None, el.tag
        assert sig.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm") == RSA_SHA256
        assert sig.find("ds:SignedInfo/ds:Reference/ds:DigestMethod", NS).get("Algorithm") == SHA256


@needs_xmlsec
def test_signatures_verify_with_published_cert(idp, sp):
    r = login(idp, sp)
    signing = ctl(idp, "GET", "/cert")[1]["signing"]
    assert verify(r["xml"], "Assertion", signing)
    assert verify(r["xml"], "Response", signing)
    # a tampered assertion no longer verifies
    tampered = r["xml"].replace(b"Erin Agency", b"Erin Agencz")
    assert tampered != r["xml"] and not verify(tampered, "Assertion", signing)


def test_other_users(idp, sp):
    for user, pw in (("mallory@other-agency.test", "mallory-pw"),
                     ("frank@example-agency.test", "frank-pw")):
        a = login(idp, sp, user, pw)["doc"].find("saml:Assertion", NS)
        assert a.find("saml:Subject/saml:NameID", NS).text == user


def test_wrong_password_shows_the_form_again(idp, sp):
    sess, rid, r = start_login(idp, sp, "/x")
    form = login_form(r)
    r = sess.post(r.url.split("?")[0], data={"AuthState": form["inputs"]["AuthState"],
                                             "username": "erin@example-agency.test",
                                             "password": "not-erin-pw"}, timeout=30)
    assert r.status_code == 200                     # SimpleSAMLphp's errors answer 200
    assert "SAMLResponse" not in r.text
    assert "Incorrect username or password" in r.text
    again = login_form(r)
    assert again["inputs"]["username"] == "erin@example-agency.test"
    # and the same AuthState still works with the right password
    r = sess.post(r.url.split("?")[0], data={"AuthState": again["inputs"]["AuthState"],
                                             "username": "erin@example-agency.test",
                                             "password": "erin-pw"}, timeout=30)
    assert ET.fromstring(post_form(r)[1]).get("InResponseTo") == rid


def test_reused_cookie_jar_skips_the_form(idp, sp):
    first = login(idp, sp)
    sess, rid, r = start_login(idp, sp, "/again", session=first["session"])
    action, xml, relay = post_form(r)               # no login form this time
    assert action == sp["acs"] and relay == "/again"
    assert ET.fromstring(xml).get("InResponseTo") == rid


def test_unknown_sp_gets_no_response(idp):
    other = {"entity_id": "https://unregistered.example.test/sp", "acs": "https://unregistered.example.test/acs"}
    sess, rid, r = start_login(idp, other, "/x")
    assert "SAMLResponse" not in r.text and "AuthState" not in r.text
    assert "metadata" in r.text.lower()


def test_per_sp_switches_and_sha1(idp):
    sha1 = {"entity_id": "https://sha1.example.test/sp", "signature_algorithm": "rsa-sha1",
            "acs": "https://app.example.test/api/v1/auth/sso/sha1-agency/saml/acs"}
    assert ctl(idp, "PUT", "/sp/sha1-agency", sha1) == (200, {"ok": True})
    r = login(idp, sha1)
    for el in (r["doc"], r["doc"].find("saml:Assertion", NS)):
        si = el.find("ds:Signature/ds:SignedInfo", NS)
        assert si.find("ds:SignatureMethod", NS).get("Algorithm") == RSA_SHA1
        assert si.find("ds:Reference/ds:DigestMethod", NS).get("Algorithm") == SHA1
    if xmlsec is not None:
        assert verify(r["xml"], "Assertion", ctl(idp, "GET", "/cert")[1]["signing"])

    # replace: only the assertion signed (sha256), then only the response
    assert ctl(idp, "PUT", "/sp/sha1-agency", dict(sha1, signature_algorithm="rsa-sha256",
                                                   sign_response=False))[0] == 200
    doc = login(idp, sha1)["doc"]
    assert doc.find("ds:Signature", NS) is None
    assert doc.find("saml:Assertion/ds:Signature/ds:SignedInfo/ds:SignatureMethod", NS).get(
        "Algorithm") == RSA_SHA256
    assert ctl(idp, "PUT", "/sp/sha1-agency", dict(sha1, sign_assertion=False))[0] == 200
    doc = login(idp, sha1)["doc"]
    assert doc.find("ds:Signature", NS) is not None
    assert doc.find("saml:Assertion/ds:Signature", NS) is None

    # DELETE: the IdP no longer knows it
    assert ctl(idp, "DELETE", "/sp/sha1-agency") == (200, {"ok": True})
    assert sha1["entity_id"] not in ctl(idp, "GET", "/sp")[1]["sps"]
    r = start_login(idp, sha1, "/x")[2]
    assert "SAMLResponse" not in r.text and "AuthState" not in r.text


def metadata_certs(idp):
    md = ET.fromstring(ctl(idp, "GET", "/metadata")[1])
    return [e.text.strip() for e in md.findall(
        "md:IDPSSODescriptor/md:KeyDescriptor[@use='signing']/ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)]


def test_rotation(idp, sp):
    st, before = ctl(idp, "GET", "/cert")
    old = before["signing"]
    st, begun = ctl(idp, "POST", "/rotate/begin")
    assert st == 200 and len(begun["certs"]) == 2
    new = begun["certs"][0]
    assert begun["certs"][1] == old and begun["signing"] == old and new != old
    assert ctl(idp, "GET", "/cert")[1] == begun
    assert ctl(idp, "POST", "/rotate/begin")[0] == 409
    assert metadata_certs(idp) == [cert_b64(new), cert_b64(old)]
    r = login(idp, sp)
    ki = r["doc"].find("saml:Assertion/ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)
    assert ki.text.strip() == cert_b64(old)
    if xmlsec is not None:
        assert verify(r["xml"], "Assertion", old) and not verify(r["xml"], "Assertion", new)

    st, done = ctl(idp, "POST", "/rotate/finish")
    assert st == 200 and done == {"certs": [new], "signing": new}
    assert ctl(idp, "GET", "/cert")[1] == done
    assert metadata_certs(idp) == [cert_b64(new)]
    r = login(idp, sp)
    if xmlsec is not None:
        assert verify(r["xml"], "Assertion", new) and not verify(r["xml"], "Assertion", old)
        assert verify(r["xml"], "Response", new)
    assert ctl(idp, "POST", "/rotate/finish")[0] == 409


def test_log_holds_no_saml_response_password_or_key(idp):
    log = idp["log"].read_text()
    assert "control PUT /sp/example-agency 200" in log
    assert "GET /saml2/idp/SSOService.php" in log and "POST /module.php/core/loginuserpass.php" in log
    assert len(SEEN_SECRETS) >= 10
    texts = [log]
    ssp_log = idp["dir"] / "log" / "simplesamlphp.log"
    if ssp_log.exists():
        texts.append(ssp_log.read_text())
    for text in texts:
        for value in SEEN_SECRETS:
            assert value[:40] not in text
        assert "SAMLRequest=" not in text and "SAMLResponse" not in text
        for pw in ("erin-pw", "mallory-pw", "frank-pw", "not-erin-pw"):
            assert pw not in text
        assert "PRIVATE KEY" not in text


def test_sigterm_and_php_death(tmp_path):
    # SIGTERM: php stops too, pid file gone, exit 0
    s = start(tmp_path / "a")
    php_pid = int(re.search(r"php-pid=(\d+)", s["log"].read_text()).group(1))
    assert port_open(s["port"]) and port_open(s["cport"])
    assert stop(s) == 0
    assert not s["pidfile"].exists() and not port_open(s["port"]) and not port_open(s["cport"])
    assert not os.path.exists("/proc/%d" % php_pid) or \
        "zombie" in open("/proc/%d/status" % php_pid).read().lower()
    # php dies: the wrapper exits non-zero
    s = start(tmp_path / "b")
    php_pid = int(re.search(r"php-pid=(\d+)", s["log"].read_text()).group(1))
    os.kill(php_pid, signal.SIGKILL)
    assert s["proc"].wait(10) != 0
    assert not s["pidfile"].exists()
    assert "php exited" in s["log"].read_text()
