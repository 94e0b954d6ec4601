"""The pages of www/ as files and as the web server serves them: a strict
CSP (no inline script or style, no HTML built from strings), every file
installed by `make install`, a friendly message for every problem type the
app can answer, and the page paths served beside the app without taking any
of its routes.  What they do in a browser: tests/browser/."""

import json
import re
from pathlib import Path

import pytest

from apxtest import describe

ROOT = Path(__file__).resolve().parents[2]
WWW = ROOT / "www"
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
PAGES = ["/login", "/register", "/verify-email", "/reset-password", "/invitations",
         "/app", "/app/members", "/app/api-keys", "/app/privacy", "/admin", "/admin/compliance"]


def html_files():
    return sorted(WWW.glob("*.html"))


def js_files():
    return sorted((WWW / "assets" / "js").glob("*.js"))


@pytest.mark.parametrize("path", html_files(), ids=lambda p: p.name)
def test_html_has_no_inline_script_or_style(path):
    text = path.read_text()
    for m in re.finditer(r"<script\b([^>]*)>", text, re.I):
        assert "src=" in m.group(1), "inline <script> in %s" % path.name
        assert 'type="module"' in m.group(1), "classic script in %s" % path.name
    assert not re.search(r"<style\b", text, re.I), path.name
    assert not re.search(r"\sstyle\s*=", text, re.I), path.name
    assert not re.search(r"\son[a-z]+\s*=", text, re.I), "inline handler in %s" % path.name
    # every control has a label
    for m in re.finditer(r"<(input|select|textarea)\b[^>]*\bid=\"([^\"]+)\"", text):
        assert 'for="%s"' % m.group(2) in text, "no <label for=%s> in %s" % (m.group(2), path.name)


@pytest.mark.parametrize("path", js_files(), ids=lambda p: p.name)
def test_scripts_build_no_html_from_strings(path):
    text = path.read_text()
    for bad in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                "eval(", "new Function", "setAttribute('style'", "localStorage.setItem('apx.token"):
        assert bad not in text, "%s uses %s" % (path.name, bad)


def test_every_page_file_is_installed():
    am = (ROOT / "Makefile.am").read_text()
    files = [p.relative_to(ROOT).as_posix() for p in WWW.rglob("*") if p.is_file()]
    assert files
    missing = [f for f in files if f not in am]
    assert not missing, "not in Makefile.am (make install): %s" % missing


def _slugs_the_app_answers():
    slugs = set()
    doc = json.loads((ROOT / "docs" / "openapi.json").read_text())
    slugs |= set(re.findall(r"`([a-z][a-z0-9]+(?:-[a-z0-9]+)+)`", json.dumps(doc)))
    for src in (ROOT / "src").rglob("*.c"):
        text = src.read_text()
        for m in re.finditer(r"apx_resp_problem\(\s*[^,]+,\s*[^,]+,\s*\"([a-z][a-z0-9-]+)\"", text):
            slugs.add(m.group(1))
    # the codes of sign-in redirects (/login?error=CODE), docs/api.md
    api = (ROOT / "docs" / "api.md").read_text()
    m = re.search(r"refused to `/login\?error=CODE`.*?:(.*?)\. The reason", api, re.S)
    assert m, "docs/api.md no longer lists the sign-in error codes"
    slugs |= set(re.findall(r"`([a-z-]+)`", m.group(1)))
    # spellings in the OpenAPI text that are not problem types
    slugs -= {"application-json", "x-apx-permission", "user-only"}
    return {s for s in slugs if not s.startswith("x-")}


def test_every_problem_type_has_a_friendly_message():
    text = (WWW / "assets" / "js" / "messages.js").read_text()
    known = set(re.findall(r"^\t'([a-z0-9-]+)':", text, re.M))
    slugs = _slugs_the_app_answers()
    assert len(slugs) > 60, sorted(slugs)
    missing = sorted(s for s in slugs if s not in known and not _is_field_name(s))
    assert not missing, "no message in www/assets/js/messages.js for %s" % missing


def _is_field_name(s):
    # backticked words of the document that name fields or values, not types
    return s in {"api-keys", "ip-allowlist", "verify-email", "password-reset", "recovery-codes",
                 "well-known", "jwks-json", "security-txt", "openid-configuration",
                 "client-config", "audit-log", "content-type", "retry-after"}


@pytest.mark.smoke
@pytest.mark.parametrize("path", PAGES)
def test_page_is_served_with_the_pages_csp(http, path):
    r = http.get(path, allow_redirects=False)
    assert r.status_code == 200, describe(r)
    assert r.headers["Content-Type"].startswith("text/html"), describe(r)
    assert r.headers.get("Content-Security-Policy") == PAGE_CSP, describe(r)
    assert r.headers.get("X-Frame-Options") == "DENY"
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    assert "<main" in r.text


@pytest.mark.smoke
def test_assets_are_served(http):
    for js in js_files():
        r = http.get("/assets/js/" + js.name)
        assert r.status_code == 200, describe(r)
        assert r.headers["Content-Type"].startswith("text/javascript"), describe(r)
        assert r.headers.get("X-Content-Type-Options") == "nosniff"
    r = http.get("/assets/app.css")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/css"), describe(r)


@pytest.mark.smoke
def test_the_app_keeps_its_routes(http):
    # /admin/api/... is the app's (401 problem+json), not the console page
    r = http.get("/admin/api/orgs")
    assert r.status_code == 401, describe(r)
    assert r.headers["Content-Type"].startswith("application/problem+json"), describe(r)
    # page paths with more segments or other characters are the app's too
    for path in ("/app/members/x", "/login/x", "/app/Members", "/admin/api"):
        r = http.get(path, allow_redirects=False)
        assert r.status_code in (401, 404), describe(r)
        assert r.headers.get("Content-Security-Policy", "").startswith("default-src 'none'; frame-ancestors"), \
            describe(r)


@pytest.mark.smoke
def test_root_goes_to_the_app(http):
    r = http.get("/", allow_redirects=False)
    assert r.status_code == 302, describe(r)
    assert r.headers["Location"].endswith("/app"), describe(r)


@pytest.mark.smoke
def test_client_config(http):
    r = http.get("/api/v1/client-config")
    assert r.status_code == 200, describe(r)
    body = r.json()
    assert set(body) == {"product_name", "sign_in", "regions"}, body
    assert set(body["sign_in"]) == {"google", "microsoft"}
    assert all(isinstance(v, bool) for v in body["sign_in"].values())
    assert body["regions"] and all(isinstance(x, str) for x in body["regions"])
    assert "public" in r.headers.get("Cache-Control", "")
