"""/.well-known/security.txt (RFC 9116)."""

import re
from datetime import datetime, timedelta, timezone

import pytest

from apxtest import describe

RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def fields(text):
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        assert ":" in line, "not a `Field: value` line: %r" % line
        name, value = line.split(":", 1)
        out.append((name.strip(), value.strip()))
    return out


@pytest.fixture
def sectxt(http):
    r = http.get("/.well-known/security.txt")
    assert r.status_code == 200, describe(r)
    return r


@pytest.mark.smoke
def test_security_txt_content_type(sectxt):
    ctype = sectxt.headers.get("Content-Type", "")
    norm = ctype.replace(" ", "").lower()
    assert norm == "text/plain;charset=utf-8", describe(sectxt)


@pytest.mark.smoke
def test_security_txt_contact(sectxt):
    assert ("Contact", "mailto:security@accupredix.test") in fields(sectxt.text), describe(sectxt)
    assert re.search(r"(?m)^Contact: mailto:security@accupredix\.test\r?$", sectxt.text), describe(sectxt)


@pytest.mark.smoke
def test_security_txt_single_future_expires_within_a_year(sectxt):
    expires = [v for k, v in fields(sectxt.text) if k.lower() == "expires"]
    assert len(expires) == 1, "want exactly one Expires, got %r%s" % (expires, describe(sectxt))
    value = expires[0]
    assert RFC3339_RE.match(value), "Expires %r is not RFC 3339" % value
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    now = datetime.now(timezone.utc)
    assert when > now, "Expires %s is in the past" % value
    assert when < now + timedelta(days=365), "Expires %s is a year or more away" % value


@pytest.mark.smoke
def test_security_txt_field_names_are_rfc9116(sectxt):
    known = {"acknowledgments", "canonical", "contact", "encryption", "expires", "hiring",
             "policy", "preferred-languages"}
    names = [k.lower() for k, _ in fields(sectxt.text)]
    assert set(names) <= known, "unknown fields %r" % (set(names) - known)
    for once in ("expires", "preferred-languages"):
        assert names.count(once) <= 1, "%s appears %d times" % (once, names.count(once))


def test_security_txt_head(http):
    r = http.head("/.well-known/security.txt")
    assert r.status_code == 200 and r.content == b"", describe(r)
