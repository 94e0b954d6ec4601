"""The mails a stack sent: its SMTP server (python3-aiosmtpd's Mailbox
handler, started by scripts/stack) writes each one as a file under
MAIL_DIR/new.  Only the stdlib."""

import email
import email.policy
import os
import re
import time


def mail_dir(stack):
    d = stack.get("MAIL_DIR")
    if not d:
        import pytest
        pytest.skip("the stack has no SMTP server (MAIL_DIR)")
    return d


def _parse(path):
    with open(path, "rb") as f:
        raw = f.read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text = html = ""
    for part in msg.walk():
        ct = part.get_content_type()
        if ct == "text/plain":
            text = part.get_content()
        elif ct == "text/html":
            html = part.get_content()
    return {"path": path, "raw": raw, "msg": msg, "to": str(msg.get("To", "")),
            "rcpt": str(msg.get("X-RcptTo", "")), "subject": str(msg.get("Subject", "")),
            "message_id": str(msg.get("Message-ID", "")), "text": text, "html": html}


def all_mails(stack):
    """Every mail so far, oldest first."""
    d = os.path.join(mail_dir(stack), "new")
    if not os.path.isdir(d):
        return []
    paths = [os.path.join(d, n) for n in os.listdir(d)]
    paths.sort(key=lambda p: (os.stat(p).st_mtime, p))
    return [_parse(p) for p in paths]


def mails_to(stack, addr, subject=None):
    addr = addr.lower()
    out = []
    for m in all_mails(stack):
        if addr not in m["to"].lower() and addr not in m["rcpt"].lower():
            continue
        if subject is not None and subject.lower() not in m["subject"].lower():
            continue
        out.append(m)
    return out


def wait_mail(stack, addr, subject=None, count=1, timeout=30):
    """The COUNT-th mail to ADDR (whose subject contains SUBJECT), waiting
    for the stack's mail sender to deliver it."""
    deadline = time.time() + timeout
    while True:
        got = mails_to(stack, addr, subject)
        if len(got) >= count:
            return got[count - 1]
        if time.time() > deadline:
            raise AssertionError("no mail #%d to %s%s within %ds (mails to it: %r)" % (
                count, addr, " about %r" % subject if subject else "", timeout,
                [m["subject"] for m in mails_to(stack, addr)]))
        time.sleep(0.1)


def link_token(mail, page):
    """The token of the link to PAGE (e.g. "/verify-email") in MAIL."""
    m = re.search(re.escape(page) + r"#token=([A-Za-z0-9_-]{20,})", mail["text"])
    assert m, "no %s link in the mail %r:\n%s" % (page, mail["subject"], mail["text"])
    return m.group(1)


def verify_via_mail(http, stack, addr, count=1):
    """Open the verification link mailed to ADDR (POST its token)."""
    tok = link_token(wait_mail(stack, addr, "Confirm your email", count=count),
                     "/verify-email")
    r = http.post("/api/v1/auth/verify-email", json={"token": tok})
    assert r.status_code == 200, r.text
    return tok
