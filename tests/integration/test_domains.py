"""Verified domains (docs/api.md "Verified domains"): an Agency org claims a
domain, publishes the TXT record it is given on the DNS stand-in of the
stack (tests/standins/dns.py, dns.resolver of the config), and verification
asks that server through glibc's resolver. A verified domain belongs to one
org; the resolver failing answers 503 and changes nothing."""

import uuid

import pytest
import requests

from apxtest import assert_problem, describe
from authhelp import bearer
from orghelp import add_member, create_org, new_member, org_audit

DOM = "/api/v1/orgs/%s/domains"


@pytest.fixture(scope="module")
def dns(stack):
    url = stack.get("DNS_CONTROL_URL")
    if not url:
        pytest.skip("stack without the DNS stand-in (DNS_CONTROL_URL)")
    return url.rstrip("/")


def publish(dns, name, values):
    r = requests.put("%s/records/TXT/%s" % (dns, name), json=values, timeout=10)
    assert r.status_code in (200, 204), describe(r)


def knobs(dns, **values):
    r = requests.post(dns + "/config", json=values, timeout=10)
    assert r.status_code in (200, 204), describe(r)


@pytest.fixture
def agency(http, dns):
    u = new_member(http)
    org = create_org(http, u["token"], plan="agency")
    u["slug"] = org["slug"]
    return u


def unique_domain(prefix="acme"):
    return "%s-%s.example.test" % (prefix, uuid.uuid4().hex[:12])


def add(http, u, domain, expect=201):
    r = http.post(DOM % u["slug"], json={"domain": domain}, headers=bearer(u["token"]))
    assert r.status_code == expect, describe(r)
    return r


def verify(http, u, dom_id):
    return http.post((DOM + "/%d/verify") % (u["slug"], dom_id), headers=bearer(u["token"]))


def test_claim_publish_verify(http, agency, dns):
    name = unique_domain()
    d = add(http, agency, name.upper()).json()["domain"]
    assert d["domain"] == name and d["verified"] is False
    assert d["txt_name"] == "_accupredix-challenge." + name
    assert d["txt_value"].startswith("accupredix-domain-verification=")
    # nothing published yet
    r = verify(http, agency, d["id"])
    assert_problem(r, 422, "domain-not-verified")
    listed = http.get(DOM % agency["slug"], headers=bearer(agency["token"])).json()["domains"]
    assert listed[0]["last_error"] == "record_not_found" and not listed[0]["verified"]
    # another value only: still not
    publish(dns, d["txt_name"], ["accupredix-domain-verification=not-the-token"])
    assert_problem(verify(http, agency, d["id"]), 422, "domain-not-verified")
    # the right one, among others, in two character-strings
    v = d["txt_value"]
    publish(dns, d["txt_name"], ["v=spf1 -all", [v[:20], v[20:]]])
    r = verify(http, agency, d["id"])
    assert r.status_code == 200, describe(r)
    got = r.json()["domain"]
    assert got["verified"] is True and got["verified_at"] and got["last_error"] is None
    # verifying again keeps the first time
    again = verify(http, agency, d["id"]).json()["domain"]
    assert again["verified_at"] == got["verified_at"]
    acts = [e["action"] for e in org_audit(http, bearer(agency["token"]), agency["slug"])]
    assert "domain.add" in acts and "domain.verify" in acts


def test_a_verified_domain_belongs_to_one_org(http, agency, dns):
    name = unique_domain("shared")
    d = add(http, agency, name).json()["domain"]
    publish(dns, d["txt_name"], [d["txt_value"]])
    assert verify(http, agency, d["id"]).status_code == 200
    other = new_member(http)
    org = create_org(http, other["token"], plan="agency")
    other["slug"] = org["slug"]
    # it may claim the name, and even publish its own token, but not own it
    d2 = add(http, other, name).json()["domain"]
    publish(dns, d2["txt_name"], [d["txt_value"], d2["txt_value"]])
    assert_problem(verify(http, other, d2["id"]), 409, "domain-taken")
    # once the first org lets it go, the second can verify it
    r = http.delete((DOM + "/%d") % (agency["slug"], d["id"]), headers=bearer(agency["token"]))
    assert r.status_code == 204, describe(r)
    assert verify(http, other, d2["id"]).status_code == 200


def test_bad_names_and_duplicates(http, agency):
    for bad in ("localhost", "example", "-a.example.test", "a-.example.test",
                "a..example.test", "example.test.", "203.0.113.5", "ex ample.test",
                "exämple.test", "a" * 64 + ".test", ("a" * 60 + ".") * 5 + "test", ""):
        r = http.post(DOM % agency["slug"], json={"domain": bad}, headers=bearer(agency["token"]))
        assert_problem(r, 422, "invalid-field", field="domain")
    r = http.post(DOM % agency["slug"], json={"domain": "a.example.test", "x": 1},
                  headers=bearer(agency["token"]))
    assert_problem(r, 422, "invalid-field", field="domain")
    name = unique_domain()
    add(http, agency, name)
    assert_problem(add(http, agency, name.upper(), expect=409), 409, "domain-exists")


def test_resolver_failure_is_503_and_changes_nothing(http, agency, dns):
    d = add(http, agency, unique_domain()).json()["domain"]
    publish(dns, d["txt_name"], [d["txt_value"]])
    knobs(dns, servfail=True)
    try:
        r = verify(http, agency, d["id"])
    finally:
        knobs(dns, servfail=False)
    assert_problem(r, 503, "dns-unavailable")
    assert r.headers.get("Retry-After")
    listed = http.get(DOM % agency["slug"], headers=bearer(agency["token"])).json()["domains"]
    assert [x["verified"] for x in listed] == [False]
    assert verify(http, agency, d["id"]).status_code == 200


def test_who_may(http, agency, dns):
    d = add(http, agency, unique_domain()).json()["domain"]
    analyst = add_member(http, agency["token"], agency["slug"], "analyst")
    r = http.get(DOM % agency["slug"], headers=bearer(analyst["token"]))
    assert_problem(r, 403, "forbidden")
    outsider = new_member(http)
    r = verify(http, dict(outsider, slug=agency["slug"]), d["id"])
    assert_problem(r, 404, "not-found")
    growth = new_member(http)
    org = create_org(http, growth["token"], plan="growth")
    r = http.get(DOM % org["slug"], headers=bearer(growth["token"]))
    assert_problem(r, 402, "plan-required")
    # another org's domain id is not found in this one
    other = new_member(http)
    o2 = create_org(http, other["token"], plan="agency")
    r = http.post((DOM + "/%d/verify") % (o2["slug"], d["id"]), headers=bearer(other["token"]))
    assert_problem(r, 404, "domain-not-found")
    r = http.delete((DOM + "/%d") % (o2["slug"], d["id"]), headers=bearer(other["token"]))
    assert_problem(r, 404, "domain-not-found")
