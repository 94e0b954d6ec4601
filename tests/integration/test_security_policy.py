"""The vulnerability disclosure page, GET /security/disclosure: the page
security.txt's Policy names (by default http.public_origin +
/security/disclosure), an HTML page of the app rendered from configuration:
the contacts, the scope and the safe-harbour terms (security.disclosure_terms
or the built-in ones), every configured value escaped, with a CSP of its own
that allows its stylesheet and nothing else."""

import html
import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from apxtest import assert_security_headers, config_dict, describe, media_type

PAGE = "/security/disclosure"
PAGE_CSP = {"default-src 'none'", "style-src 'self'", "frame-ancestors 'none'",
            "base-uri 'none'", "form-action 'none'"}
DEFAULT_TERMS = ("good-faith", "not take legal action", "denial-of-service",
                 "social engineering", "other customers", "privately")


def esc(s):
    """HTML-escaped as the app does it (&#39; for ')."""
    return html.escape(s, quote=True).replace("&#x27;", "&#39;")


def csp(value):
    return {d.strip() for d in (value or "").split(";") if d.strip()}


def security_txt_fields(text):
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out.setdefault(k.strip().lower(), []).append(v.strip())
    return out


@pytest.fixture(scope="module")
def page(http):
    r = http.get(PAGE)
    assert r.status_code == 200, describe(r)
    return r


@pytest.mark.smoke
def test_page_is_html(page):
    ctype = page.headers.get("Content-Type", "").replace(" ", "").lower()
    assert ctype == "text/html;charset=utf-8", describe(page)
    text = page.content.decode("utf-8")
    assert text.startswith("<!DOCTYPE html>"), text[:100]
    assert '<html lang="en">' in text and text.rstrip().endswith("</html>"), text
    assert '<link rel="stylesheet" href="/assets/app.css">' in text, text
    assert "max-age=" in page.headers.get("Cache-Control", ""), describe(page)


def test_page_names_contacts_scope_and_default_terms(stack, page):
    conf = config_dict(stack["APX_CONFIG"])
    text = page.text
    for contact in conf["security.contact"].split():
        shown = contact.split(":", 1)[1] if contact.startswith(("mailto:", "tel:")) else contact
        assert '<a href="%s">%s</a>' % (esc(contact), esc(shown)) in text, text
    product = conf.get("product.name", "AccuPredix")
    assert "<title>Vulnerability disclosure policy: %s</title>" % esc(product) in text
    if conf.get("http.public_origin"):
        assert 'href="%s"' % esc(conf["http.public_origin"]) in text, text
    plain = html.unescape(text)
    for phrase in DEFAULT_TERMS:
        assert phrase in plain, "the built-in terms lack %r" % phrase
    assert "<script" not in text.lower() and " style=" not in text.lower(), text


def test_page_has_its_own_csp_and_the_security_headers(http, page):
    assert csp(page.headers.get("Content-Security-Policy")) == PAGE_CSP, describe(page)
    assert_security_headers(page)
    # the default stays the strictest for every other answer
    for path in ("/healthz", "/.well-known/security.txt", "/no/such/path"):
        r = http.get(path)
        got = csp(r.headers.get("Content-Security-Policy"))
        assert "style-src 'self'" not in got and "default-src 'none'" in got, (path, got)


def test_head_and_methods(http):
    h = http.head(PAGE)
    assert h.status_code == 200 and not h.content, describe(h)
    assert csp(h.headers.get("Content-Security-Policy")) == PAGE_CSP, describe(h)
    r = http.post(PAGE, json={})
    assert r.status_code == 405, describe(r)
    assert csp(r.headers.get("Content-Security-Policy")) != PAGE_CSP, describe(r)


def test_security_txt_policy_names_the_page(http, stack):
    r = http.get("/.well-known/security.txt")
    assert r.status_code == 200, describe(r)
    policy = security_txt_fields(r.text).get("policy")
    assert policy and len(policy) == 1, r.text
    conf = config_dict(stack["APX_CONFIG"])
    if "security.policy" in conf:
        assert policy[0] == conf["security.policy"], r.text
        pytest.skip("the stack configures its own security.policy")
    assert policy[0] == conf["http.public_origin"] + PAGE, r.text
    # the same page is at that path
    g = http.get(urlsplit(policy[0]).path)
    assert g.status_code == 200 and media_type(g) == "text/html", describe(g)


# ------------------------------------------------------------------ a configuration of its own

HOSTILE_NAME = "Evil <script>alert(1)</script> & \"Co\" 'Ltd'"
HOSTILE_CONTACT = "mailto:x\"><script>alert(2)</script>@evil.test"


def test_operator_terms_and_hostile_values_are_escaped(standalone, tmp_path):
    terms = tmp_path / "terms.txt"
    terms.write_text("Our own terms: <script>alert(3)</script>\nsecond line.\r\n"
                     "\r\n \n  Paragraph two & \u00e9t\u00e9.\n", encoding="utf-8")
    app = standalone(set_keys={
        "product.name": HOSTILE_NAME,
        "security.contact": "mailto:security@example.test " + HOSTILE_CONTACT,
        "security.preferred_languages": "en, <b>fr</b>",
        "security.encryption": "https://keys.example.test/pgp?a=1&b=2",
        "security.disclosure_terms": "file:%s" % terms,
    }, workers=1)
    r = app.request("GET", PAGE)
    assert r.status == 200, r
    assert r.header("Content-Type").replace(" ", "").lower() == "text/html;charset=utf-8", r
    assert csp(r.header("Content-Security-Policy")) == PAGE_CSP, r
    text = r.body.decode("utf-8")
    low = text.lower()
    assert "<script" not in low and "<b>" not in low, text
    assert esc(HOSTILE_NAME) in text, text
    assert 'href="%s"' % esc(HOSTILE_CONTACT) in text, text
    assert "en, &lt;b&gt;fr&lt;/b&gt;" in text, text
    assert 'href="https://keys.example.test/pgp?a=1&amp;b=2"' in text, text
    assert ("<p>Our own terms: &lt;script&gt;alert(3)&lt;/script&gt; second line.</p>\n"
            "<p>Paragraph two &amp; \u00e9t\u00e9.</p>\n") in text, text
    # the operator's terms replace the built-in ones
    assert "denial-of-service" not in text, text
    # an explicit policy is what security.txt names
    app2 = standalone(set_keys={"security.policy": "https://example.test/vdp"}, workers=1)
    t = app2.request("GET", "/.well-known/security.txt").body.decode("utf-8")
    assert security_txt_fields(t).get("policy") == ["https://example.test/vdp"], t


def _check_config(stack, tmp_path, terms_value, env=None):
    conf = tmp_path / "c.conf"
    conf.write_text("db.conninfo = dbname=x\nsecurity.contact = mailto:a@example.test\n"
                    "security.expires = 2099-01-01T00:00:00Z\n"
                    "http.public_origin = https://app.example.test\n"
                    "regions.eu.conninfo = dbname=y\n"
                    + ("security.disclosure_terms = %s\n" % terms_value if terms_value else ""))
    fcgi = Path(stack["BUILD_DIR"]) / "src" / "accupredix-fcgi"
    e = {"PATH": "/usr/bin:/bin"}
    e.update(env or {})
    r = subprocess.run([str(fcgi), "--config", str(conf), "--check-config"], env=e,
                       capture_output=True, text=True, timeout=60)
    return conf, r


@pytest.mark.parametrize("content,why", [
    (b"\xff\xfe not text", "is not UTF-8"), (b"bell \x07 here", "holds a control character"),
    (b"a\x00b", "holds a NUL byte"), (b"  \n\n\t\n", "is empty"),
    (b"x" * (64 * 1024 + 1), "larger than 64 KiB")])
def test_bad_terms_file_refused_at_load(stack, tmp_path, content, why):
    f = tmp_path / "terms.txt"
    f.write_bytes(content)
    conf, r = _check_config(stack, tmp_path, "file:%s" % f)
    assert r.returncode != 0, r.stderr
    assert "%s:6: key 'security.disclosure_terms'" % conf in r.stderr, r.stderr
    assert why in r.stderr, r.stderr


@pytest.mark.parametrize("value,why", [
    ("/etc/hostname", "must be file:/PATH"), ("file:terms.txt", "must be file:/PATH"),
    ("file:/nonexistent/apx-terms.txt", "not a readable regular file"),
    ("file:/tmp", "not a readable regular file")])
def test_bad_terms_value_refused_at_load(stack, tmp_path, value, why):
    conf, r = _check_config(stack, tmp_path, value)
    assert r.returncode != 0, r.stderr
    assert "%s:6: key 'security.disclosure_terms': " % conf in r.stderr, r.stderr
    assert why in r.stderr, r.stderr


def test_bad_terms_from_the_environment_named(stack, tmp_path):
    _, r = _check_config(stack, tmp_path, None,
                         env={"APX_SECURITY_DISCLOSURE_TERMS": "file:/nonexistent/t.txt"})
    assert r.returncode != 0, r.stderr
    assert ("environment APX_SECURITY_DISCLOSURE_TERMS: key 'security.disclosure_terms'"
            in r.stderr), r.stderr
    assert os.path.sep + "nonexistent" in r.stderr, r.stderr
