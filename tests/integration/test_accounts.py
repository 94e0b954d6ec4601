"""The account lifecycle end to end through the web server (issue 16): mail
through the stack's own SMTP server (python3-aiosmtpd, MAIL_DIR), email
verification, registration without enumeration, password reset,
invitations by mail, security notifications, header injection, the mail
sender across a relay outage, login throttling by IPv6 /64 and per account,
and the refresh grace of a second tab."""

import email
import email.policy
import os
import statistics
import subprocess
import threading
import time
import uuid

import pytest

from apxtest import assert_problem, describe, run_stack_script
from authhelp import (ME, REFRESH, age_refresh_token, bearer, cookie_header, login, login_cookies,
                      login_raw, new_user, random_net_addr, refresh_raw, register, remember,
                      stack_sql, strong_password, unique_email)
from mailhelp import link_token, mails_to, verify_via_mail, wait_mail
from orghelp import (accept, create_api_key, create_org, create_org_raw, invite, new_member,
                     org_url, token_of, unique_slug)

VERIFY = "/api/v1/auth/verify-email"
ME_VERIFY = "/api/v1/me/verify-email"
RESET = "/api/v1/auth/password-reset"
RESET_CONFIRM = "/api/v1/auth/password-reset/confirm"


def _xff(addr=None):
    return {"X-Forwarded-For": addr or random_net_addr()}


def _registered(http, verified=False):
    """A fresh account registered through the API (unverified unless asked)."""
    return new_user(http, verified=verified)


def _sql1(q):
    out = stack_sql(q)
    return out[0] if out else None


# ==================================================================== registration

def test_register_mails_a_link_that_verifies_once(http, stack):
    u = _registered(http)
    m = wait_mail(stack, u["email"], "Confirm your email")
    assert u["name"] in m["text"], m["text"]
    tok = link_token(m, "/verify-email")
    remember(tok)
    assert tok not in _sql1("SELECT string_agg(encode(token_hash, 'hex'), ',') FROM account_tokens")
    tk = login(http, u)["access_token"]
    assert http.get(ME, headers=bearer(tk)).json()["user"]["email_verified"] is False
    r = http.post(VERIFY, json={"token": tok})
    assert r.status_code == 200 and r.json() == {"verified": True}, describe(r)
    assert _sql1("SELECT email_verified_at IS NOT NULL FROM users WHERE id = %d" % u["id"]) == "t"
    # single use
    assert_problem(http.post(VERIFY, json={"token": tok}), 400, slug="invalid-token", stack=stack)
    # audited
    assert _sql1("SELECT count(*) FROM audit_log WHERE log = 'platform' AND action = "
                 "'user.email_verified' AND target = 'user:%d'" % u["id"]) == "1"


@pytest.mark.parametrize("token", ["", "x" * 129, "unknown-token-" + "A" * 30])
def test_verify_refuses_bad_tokens(http, stack, token):
    r = http.post(VERIFY, json={"token": token})
    assert r.status_code in (400, 422), describe(r)
    assert_problem(r, r.status_code, stack=stack)


def test_verify_refuses_an_expired_token(http, stack):
    u = _registered(http)
    tok = link_token(wait_mail(stack, u["email"], "Confirm your email"), "/verify-email")
    stack_sql("UPDATE account_tokens SET expires_at = now() - interval '1 second' "
              "WHERE user_id = %d" % u["id"])
    assert_problem(http.post(VERIFY, json={"token": tok}), 400, slug="invalid-token", stack=stack)
    assert _sql1("SELECT email_verified_at IS NULL FROM users WHERE id = %d" % u["id"]) == "t"


def test_a_reset_token_does_not_verify_and_a_verify_token_does_not_reset(http, stack):
    u = _registered(http)
    vtok = link_token(wait_mail(stack, u["email"], "Confirm your email"), "/verify-email")
    assert http.post(RESET, json={"email": u["email"]}, headers=_xff()).status_code == 202
    rtok = link_token(wait_mail(stack, u["email"], "Reset your"), "/reset-password")
    assert_problem(http.post(VERIFY, json={"token": rtok}), 400, slug="invalid-token")
    assert_problem(http.post(RESET_CONFIRM, json={"token": vtok, "password": strong_password()}),
                   400, slug="invalid-token")


def test_unverified_account_signs_in_but_cannot_create_or_join(http, stack):
    u = _registered(http)
    tok = token_of(http, u)
    r = create_org_raw(http, tok)
    assert_problem(r, 403, slug="email-unverified", stack=stack)
    owner = new_member(http)
    org = create_org(http, owner["token"])
    inv = invite(http, owner["token"], org["slug"], u["email"], "viewer")
    assert_problem(accept(http, tok, inv["token"]), 403, slug="email-unverified", stack=stack)
    verify_via_mail(http, stack, u["email"])
    # the same access token: the state is read on every request
    assert accept(http, tok, inv["token"]).status_code == 200
    assert create_org_raw(http, tok).status_code == 201


def test_new_verification_link_on_request(http, stack):
    u = _registered(http)
    tok = token_of(http, u)
    first = link_token(wait_mail(stack, u["email"], "Confirm your email"), "/verify-email")
    r = http.post(ME_VERIFY, headers=bearer(tok))
    assert r.status_code == 202, describe(r)
    second = link_token(wait_mail(stack, u["email"], "Confirm your email", count=2),
                        "/verify-email")
    assert second != first
    # the newer link replaces the older one
    assert_problem(http.post(VERIFY, json={"token": first}), 400, slug="invalid-token")
    assert http.post(VERIFY, json={"token": second}).status_code == 200
    assert_problem(http.post(ME_VERIFY, headers=bearer(tok)), 409, slug="already-verified",
                   stack=stack)


def test_register_answers_the_same_for_a_taken_address(http, stack):
    taken = new_user(http)      # verified
    body = {"password": strong_password(), "name": "Someone Else"}
    r_new = http.post("/api/v1/auth/register", json=dict(body, email=unique_email()),
                      headers=_xff())
    r_old = http.post("/api/v1/auth/register", json=dict(body, email=taken["email"].upper()),
                      headers=_xff())
    assert r_new.status_code == r_old.status_code == 202, describe(r_old)
    assert r_new.json() == r_old.json(), (r_new.text, r_old.text)
    assert r_new.headers.get("Content-Type") == r_old.headers.get("Content-Type")
    # the owner learns of it, by mail; the password did not change
    m = wait_mail(stack, taken["email"], "tried to register")
    assert "/reset-password" in m["text"]
    login(http, taken)


def test_register_of_an_unverified_address_sends_a_new_link(http, stack):
    u = _registered(http)
    register(http, u["email"], strong_password(), "Again")
    wait_mail(stack, u["email"], "Confirm your email", count=2)
    assert not mails_to(stack, u["email"], "tried to register")


def test_register_timing_does_not_tell_a_taken_address(http, stack):
    """The same hashing work on both paths: medians within a factor of two
    (skipping the hash would make the taken path ~10 times faster)."""
    taken = [new_user(http) for _ in range(5)]
    t_new, t_old = [], []
    for u in taken:
        for addr, bucket in ((unique_email(), t_new), (u["email"], t_old)):
            t0 = time.perf_counter()
            r = register(http, addr, strong_password(), "Timing Test")
            bucket.append(time.perf_counter() - t0)
            assert r.status_code == 202
    a, b = statistics.median(t_new), statistics.median(t_old)
    assert 0.5 < a / b < 2.0, "register: new %.1f ms, taken %.1f ms" % (a * 1e3, b * 1e3)


def test_register_throttled_per_address_before_hashing(http, stack):
    addr = unique_email()
    for i in range(3):
        assert register(http, addr, strong_password(), "Throttle").status_code == 202
    r = register(http, addr, strong_password(), "Throttle", expect=None)
    assert_problem(r, 429, slug="too-many-attempts", stack=stack)
    assert int(r.headers["Retry-After"]) > 0


def test_register_throttled_per_ipv6_64(http, stack):
    net = "2001:db8:%x:%x" % (uuid.uuid4().int & 0xffff, uuid.uuid4().int & 0xffff)
    for i in range(20):
        r = register(http, unique_email(), strong_password(), "Net",
                     headers={"X-Forwarded-For": "%s::%x" % (net, i + 1)})
        assert r.status_code == 202, describe(r)
    # another address of the same /64: refused; another /64: not
    r = register(http, unique_email(), strong_password(), "Net", expect=None,
                 headers={"X-Forwarded-For": "%s:ffff:ffff:ffff:1" % net})
    assert_problem(r, 429, slug="too-many-attempts", stack=stack)
    assert register(http, unique_email(), strong_password(), "Net").status_code == 202


def test_unverified_accounts_expire(http, stack):
    old, member_of_org = _registered(http), _registered(http)
    stack_sql("UPDATE users SET created_at = now() - interval '8 days' WHERE id IN (%d, %d)"
              % (old["id"], member_of_org["id"]))
    owner = new_member(http)
    org = create_org(http, owner["token"])
    stack_sql("INSERT INTO memberships (org_id, user_id, role) VALUES (%d, %d, 'viewer')"
              % (org["id"], member_of_org["id"]))
    p = subprocess.run([stack["ADMIN_BIN"], "--config", stack["APX_CONFIG"], "mail", "send",
                        "--once"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert _sql1("SELECT count(*) FROM users WHERE id = %d" % old["id"]) == "0"
    assert _sql1("SELECT count(*) FROM users WHERE id = %d" % member_of_org["id"]) == "1"


# ==================================================================== header injection

@pytest.mark.parametrize("name", ['Eve "Bcc: victim@example.test" <x@y>',
                                  "Zoë =?UTF-8?B?QmNjOg==?= Ünïcödé",
                                  "Mallory\u2028Bcc: a@b.test"])
def test_names_never_make_headers(http, stack, name):
    addr = unique_email()
    register(http, addr, strong_password(), name)
    m = wait_mail(stack, addr, "Confirm your email")
    msg = m["msg"]
    assert msg.get_all("Bcc") is None and msg.get_all("Cc") is None, m["raw"][:600]
    header_block = m["raw"].split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in m["raw"] else \
        m["raw"].split(b"\n\n", 1)[0]
    assert b"victim@" not in header_block and b"Bcc:" not in header_block
    # the name arrives whole, as one display name of the To header
    to = msg["To"]
    assert to.addresses[0].addr_spec == addr
    assert to.addresses[0].display_name.replace("\u2028", " ") in (name, name.replace(
        "\u2028", " ")), to.addresses[0].display_name


def test_names_with_line_breaks_are_refused(http, stack):
    r = register(http, unique_email(), strong_password(), "Eve\r\nBcc: victim@example.test",
                 expect=None)
    assert_problem(r, 422, field="name", stack=stack)


# ==================================================================== password reset

def test_password_reset_end_to_end(http, stack):
    u = new_member(http)
    other = login(http, u)
    r = http.post(RESET, json={"email": u["email"]}, headers=_xff())
    assert r.status_code == 202, describe(r)
    m = wait_mail(stack, u["email"], "Reset your")
    tok = link_token(m, "/reset-password")
    remember(tok)
    new_pw = strong_password()
    remember(new_pw)
    # a weak password is refused and the link stays usable
    r = http.post(RESET_CONFIRM, json={"token": tok, "password": "password1234"})
    assert_problem(r, 422, slug="weak-password", field="password", stack=stack)
    r = http.post(RESET_CONFIRM, json={"token": tok, "password": new_pw})
    assert r.status_code == 204, describe(r)
    # every session ended; the old password is dead, the new one works
    assert refresh_raw(http, other["refresh_token"]).status_code == 401
    assert http.get(ME, headers=bearer(u["token"])).status_code == 401
    assert login_raw(http, u["email"], u["password"]).status_code == 401
    login(http, {"email": u["email"], "password": new_pw})
    # single use
    assert_problem(http.post(RESET_CONFIRM, json={"token": tok, "password": strong_password()}),
                   400, slug="invalid-token", stack=stack)
    # told by mail, audited
    assert "reset" in wait_mail(stack, u["email"], "password was changed")["text"]
    assert _sql1("SELECT count(*) FROM audit_log WHERE log = 'platform' AND action = "
                 "'user.password_reset' AND target = 'user:%d'" % u["id"]) == "1"


def test_password_reset_same_answer_for_unknown_address(http, stack):
    known = new_user(http)
    unknown = unique_email()
    a = http.post(RESET, json={"email": known["email"]}, headers=_xff())
    b = http.post(RESET, json={"email": unknown}, headers=_xff())
    assert a.status_code == b.status_code == 202 and a.json() == b.json(), (a.text, b.text)
    wait_mail(stack, known["email"], "Reset your")
    time.sleep(1.5)
    assert mails_to(stack, unknown) == []


def test_password_reset_expired_and_other_account_tokens(http, stack):
    a, b = new_user(http), new_user(http)
    for u in (a, b):
        assert http.post(RESET, json={"email": u["email"]}, headers=_xff()).status_code == 202
    ta = link_token(wait_mail(stack, a["email"], "Reset your"), "/reset-password")
    tb = link_token(wait_mail(stack, b["email"], "Reset your"), "/reset-password")
    stack_sql("UPDATE account_tokens SET expires_at = now() - interval '1 second' "
              "WHERE user_id = %d AND purpose = 'reset'" % a["id"])
    assert_problem(http.post(RESET_CONFIRM, json={"token": ta, "password": strong_password()}),
                   400, slug="invalid-token")
    # b's token changes b's password, never a's
    pw = strong_password()
    assert http.post(RESET_CONFIRM, json={"token": tb, "password": pw}).status_code == 204
    login(http, a)
    login(http, {"email": b["email"], "password": pw})


def test_password_reset_throttled_per_address(http, stack):
    addr = new_user(http)["email"]
    for i in range(3):
        assert http.post(RESET, json={"email": addr}, headers=_xff()).status_code == 202
    r = http.post(RESET, json={"email": addr}, headers=_xff())
    assert_problem(r, 429, slug="too-many-attempts", stack=stack)
    assert int(r.headers["Retry-After"]) > 0


def test_password_reset_bad_input(http, stack):
    assert_problem(http.post(RESET, json={"email": "not-an-address"}), 422, field="email",
                   stack=stack)
    assert_problem(http.post(RESET, json={}), 422, field="email", stack=stack)
    assert_problem(http.post(RESET_CONFIRM, json={"token": "x"}), 422, field="password",
                   stack=stack)


# ==================================================================== invitations by mail

def test_invitation_is_mailed_and_accepted_from_the_mail(http, stack):
    owner = new_member(http, name="Olivia Owner")
    org = create_org(http, owner["token"], name="Mailed Org %s" % uuid.uuid4().hex[:6])
    guest = new_member(http)
    invite(http, owner["token"], org["slug"], guest["email"], "analyst")
    m = wait_mail(stack, guest["email"], "invited you")
    assert "Olivia Owner" in m["subject"] and org["name"] in m["subject"], m["subject"]
    assert "analyst" in m["text"]
    tok = link_token(m, "/invitations")
    r = accept(http, guest["token"], tok)
    assert r.status_code == 200, describe(r)
    r = http.get(org_url(org["slug"], "invitations"), headers=bearer(owner["token"]))
    assert r.status_code == 200


def test_invitation_resend_replaces_the_link(http, stack):
    owner = new_member(http)
    org = create_org(http, owner["token"])
    guest = new_member(http)
    inv = invite(http, owner["token"], org["slug"], guest["email"], "viewer")
    first = link_token(wait_mail(stack, guest["email"], "invited you"), "/invitations")
    assert first == inv["token"]
    r = http.post(org_url(org["slug"], "invitations", str(inv["invitation"]["id"]), "resend"),
                  headers=bearer(owner["token"]))
    assert r.status_code == 200, describe(r)
    assert r.json()["invitation"]["mail_count"] == 2
    second = link_token(wait_mail(stack, guest["email"], "invited you", count=2), "/invitations")
    assert second != first
    assert accept(http, guest["token"], first).status_code == 404
    assert accept(http, guest["token"], second).status_code == 200
    # nothing left to resend
    r = http.post(org_url(org["slug"], "invitations", str(inv["invitation"]["id"]), "resend"),
                  headers=bearer(owner["token"]))
    assert_problem(r, 404, slug="invitation-not-found", stack=stack)


def test_expired_invitation_from_a_mail(http, stack):
    owner = new_member(http)
    org = create_org(http, owner["token"])
    guest = new_member(http)
    inv = invite(http, owner["token"], org["slug"], guest["email"], "viewer")
    tok = link_token(wait_mail(stack, guest["email"], "invited you"), "/invitations")
    stack_sql("UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = %d"
              % inv["invitation"]["id"])
    assert accept(http, guest["token"], tok).status_code == 404


def test_resend_needs_invitations_write(http, stack):
    owner = new_member(http)
    org = create_org(http, owner["token"])
    viewer = new_member(http)
    inv = invite(http, owner["token"], org["slug"], viewer["email"], "viewer")
    assert accept(http, viewer["token"], inv["token"]).status_code == 200
    inv2 = invite(http, owner["token"], org["slug"], unique_email(), "viewer")
    r = http.post(org_url(org["slug"], "invitations", str(inv2["invitation"]["id"]), "resend"),
                  headers=bearer(viewer["token"]))
    assert r.status_code == 403, describe(r)


# ==================================================================== notifications

def test_password_change_is_told_by_mail(http, stack):
    u = new_member(http)
    pw = strong_password()
    remember(pw)
    r = http.post("/api/v1/me/password", headers=bearer(u["token"]),
                  json={"current_password": u["password"], "new_password": pw})
    assert r.status_code == 204, describe(r)
    m = wait_mail(stack, u["email"], "password was changed")
    assert "changed" in m["text"]


def test_new_sign_in_from_a_new_network_is_told(http, stack):
    u = new_user(http)
    home = random_net_addr()
    assert login_raw(http, u["email"], u["password"], headers=_xff(home)).status_code == 200
    # the account's first sign-in, then the same place again: no mail
    assert login_raw(http, u["email"], u["password"], headers=_xff(home)).status_code == 200
    time.sleep(1.5)
    assert mails_to(stack, u["email"], "New sign-in") == []
    away = random_net_addr()
    assert login_raw(http, u["email"], u["password"], headers=_xff(away)).status_code == 200
    m = wait_mail(stack, u["email"], "New sign-in")
    assert away in m["text"], m["text"]
    # a new device from home is news too
    r = login_raw(http, u["email"], u["password"],
                  headers=dict(_xff(home), **{"User-Agent": "NewDevice/1.0"}))
    assert r.status_code == 200
    m = wait_mail(stack, u["email"], "New sign-in", count=2)
    assert "NewDevice/1.0" in m["text"]


def test_api_key_created_is_told_to_owners(http, stack):
    owner = new_member(http)
    org = create_org(http, owner["token"], plan="growth")
    create_api_key(http, owner["token"], org["slug"], role="viewer", name="ci-key")
    m = wait_mail(stack, owner["email"], "API key was created")
    assert "ci-key" in m["text"] and org["name"] in m["text"], m["text"]


# ==================================================================== the sender and the relay

@pytest.mark.slow
def test_sender_survives_a_relay_outage(http, stack):
    u = new_user(http)
    run_stack_script("smtp-stop", os.path.dirname(os.path.abspath(os.environ["APX_STACK_ENV"])))
    try:
        assert http.post(RESET, json={"email": u["email"]}, headers=_xff()).status_code == 202
        # it waits in the outbox, tried and failed, not lost
        deadline = time.time() + 20
        while time.time() < deadline:
            row = _sql1("SELECT attempts || ',' || coalesce(last_error, '') || ',' || "
                        "(sent_at IS NULL) FROM mail_outbox WHERE to_addr = '%s' AND kind = 'reset'"
                        % u["email"])
            if row and int(row.split(",")[0]) >= 1 and row.split(",")[1] != "":
                break
            time.sleep(0.2)
        assert row and row.endswith(",true") and int(row.split(",")[0]) >= 1, row
        assert mails_to(stack, u["email"], "Reset your") == []
        r = http.get("/internal/metrics", headers={"X-Internal-Secret": stack["INTERNAL_SECRET"]})
        due = [line for line in r.text.splitlines()
               if line.startswith('apx_mail_outbox{state="due"}')]
        assert due and int(due[0].split()[-1]) >= 1, r.text[-600:]
    finally:
        run_stack_script("smtp-start",
                         os.path.dirname(os.path.abspath(os.environ["APX_STACK_ENV"])))
    m = wait_mail(stack, u["email"], "Reset your", timeout=60)
    time.sleep(3)
    same = [x for x in mails_to(stack, u["email"], "Reset your")
            if x["message_id"] == m["message_id"]]
    assert len(same) == 1, "sent %d times" % len(same)
    assert _sql1("SELECT (sent_at IS NOT NULL) || ',' || (sealed IS NULL) FROM mail_outbox "
                 "WHERE to_addr = '%s' AND kind = 'reset'" % u["email"]) == "true,true"


def test_outbox_keeps_no_link_in_clear(http, stack):
    u = _registered(http)
    tok = link_token(wait_mail(stack, u["email"], "Confirm your email"), "/verify-email")
    dump = "\n".join(stack_sql("SELECT coalesce(encode(sealed, 'escape'), '') || to_addr "
                               "FROM mail_outbox"))
    assert tok not in dump


# ==================================================================== login throttling

def test_failed_logins_from_one_ipv6_64_are_throttled_together(http, stack):
    u = new_user(http)
    net = "2001:db8:%x:%x" % (uuid.uuid4().int & 0xffff, uuid.uuid4().int & 0xffff)
    victims = [unique_email() for _ in range(31)]
    for i, addr in enumerate(victims[:30]):
        r = login_raw(http, addr, "wrong-password-%d" % i,
                      headers={"X-Forwarded-For": "%s::%x" % (net, i + 1)})
        assert r.status_code == 401, describe(r)
    r = login_raw(http, u["email"], u["password"],
                  headers={"X-Forwarded-For": "%s:1:2:3:4" % net})
    assert_problem(r, 429, slug="too-many-attempts", stack=stack)
    # another /64 is not held up
    assert login_raw(http, u["email"], u["password"], headers=_xff()).status_code == 200


def test_per_account_delay_spares_known_networks(http, stack):
    u = new_user(http)
    home = random_net_addr()
    assert login_raw(http, u["email"], u["password"], headers=_xff(home)).status_code == 200
    for i in range(10):
        r = login_raw(http, u["email"], "wrong-%d" % i, headers=_xff())
        assert r.status_code == 401, describe(r)
    r = login_raw(http, u["email"], u["password"], headers=_xff())
    assert_problem(r, 429, slug="too-many-attempts", stack=stack)
    assert int(r.headers["Retry-After"]) >= 1
    # the owner, from where they signed in before, is not locked out
    assert login_raw(http, u["email"], u["password"], headers=_xff(home)).status_code == 200


# ==================================================================== refresh grace

def test_two_tabs_refresh_with_one_cookie(http, stack):
    u = new_user(http)
    ck = login_cookies(login(http, u))
    answers = [None, None]

    def go(i):
        answers[i] = refresh_raw(http, cookie=ck["__Host-apx_refresh"])

    ts = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert [a.status_code for a in answers] == [200, 200], [describe(a) for a in answers]
    a, b = answers[0].json(), answers[1].json()
    assert a["refresh_token"] == b["refresh_token"], "the second tab got another successor"
    assert http.get(ME, headers=bearer(b["access_token"])).status_code == 200
    # past the grace, the spent cookie is a replay: the session ends
    age_refresh_token(ck["__Host-apx_refresh"])
    r = refresh_raw(http, cookie=ck["__Host-apx_refresh"])
    assert_problem(r, 401, slug="refresh-token-reused", stack=stack)
    assert refresh_raw(http, a["refresh_token"]).status_code == 401
