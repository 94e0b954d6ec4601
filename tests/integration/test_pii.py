"""Personal-data encryption (docs/api.md "Personal-data encryption"): the org
setting pii_encryption, personal fields sealed at rest with a blind index,
search and download of sealed fields, the background sealing job
(`POST /internal/pii/run`, `accupredix-admin pii encrypt`), sealed values
that were moved by SQL, and no personal value in the app's logs."""

import json
import re
import warnings
from pathlib import Path

import pytest

from apxtest import assert_problem, describe
from authhelp import bearer, log_files
from datahelp import (PERSONAL_VALUES, PII_RUN, clear_personal, clear_personal_total,
                      content, content_rows, data_org, enable_pii, forecast, internal_post,
                      list_uploads, personal_email, personal_name, set_plan, tenant_json,
                      tenant_sql, to_csv, upload, uploads_url)
from orghelp import (admin_cli, by_request, cookies_off, cookies_restore, create_api_key,
                     mentions, org_audit, org_settings, org_url, patch_org_settings)


@pytest.fixture(scope="module", autouse=True)
def _no_cookies(http):
    old = cookies_off(http.session)
    yield
    cookies_restore(http.session, old)


def people_rows(emails, names, values=None):
    rows = [["day", "value", "email", "name"]]
    for i, (m, n) in enumerate(zip(emails, names)):
        rows.append(["d%d" % (i + 1), str(values[i] if values else i + 1), m, n])
    return rows


def personal_fields(stack, d, upload_id):
    return tenant_json(stack, d.tenant,
                       "SELECT row_no, column_name, value, encode(sealed, 'hex') AS sealed,"
                       " encode(blind, 'hex') AS blind, length(blind) AS blind_len"
                       " FROM upload_personal WHERE upload_id = %d ORDER BY row_no, column_name"
                       % upload_id)


class Sealed:
    """A growth org: `before` uploaded in clear, then pii_encryption on, then
    `after` uploaded (sealed at once)."""


@pytest.fixture(scope="module")
def sealed(http, stack):
    s = Sealed()
    s.d = d = data_org(http, plan="growth")
    s.analyst = d.add(http, "analyst")
    s.viewer = d.add(http, "viewer")
    _, vk = create_api_key(http, d.owner["token"], d.slug, role="viewer")
    s.viewer_key = bearer(vk)
    s.m = [personal_email("p"), personal_email("p"), personal_email("p")]
    s.n = [personal_name("p"), personal_name("p"), personal_name("p")]
    # rows 1 and 3 are the same data subject
    s.before_rows = people_rows([s.m[0], s.m[1], s.m[0]], [s.n[0], s.n[1], s.n[0]])
    s.before = upload(http, d.h, d.slug, d.ws, to_csv(s.before_rows), personal=["email", "name"])
    s.enable_resp = patch_org_settings(http, d.owner["token"], d.slug, pii_encryption=1)
    assert s.enable_resp.status_code == 200, describe(s.enable_resp)
    s.after_rows = people_rows([s.m[0], s.m[2], s.m[0], ""], [s.n[0], s.n[2], s.n[0], s.n[2]])
    s.after = upload(http, d.h, d.slug, d.ws, to_csv(s.after_rows), personal=["email", "name"])
    return s


# ==================================================================== the setting

def test_free_plan_402(http, stack):
    d = data_org(http, plan="free")
    r = patch_org_settings(http, d.owner["token"], d.slug, pii_encryption=1)
    assert_problem(r, 402, slug="plan-required", stack=stack)
    assert org_settings(http, d.owner["token"], d.slug).get("pii_encryption", 0) == 0
    # uploads stay clear
    m = personal_email("free")
    up = upload(http, d.h, d.slug, d.ws, to_csv([["email"], [m]]), personal=["email"])
    f = personal_fields(stack, d, up["id"])
    assert [x["value"] for x in f] == [m] and f[0]["sealed"] is None, f


@pytest.mark.parametrize("value", [2, -1, "1", True, None])
def test_bad_value_422(http, stack, value):
    d = data_org(http, plan="growth")
    r = patch_org_settings(http, d.owner["token"], d.slug, pii_encryption=value)
    assert_problem(r, 422, field="pii_encryption", stack=stack)
    assert org_settings(http, d.owner["token"], d.slug).get("pii_encryption", 0) == 0


def test_enable_on_growth_200_and_audited(http, stack, sealed):
    d = sealed.d
    assert sealed.enable_resp.json()["settings"]["pii_encryption"] == 1, sealed.enable_resp.json()
    assert org_settings(http, d.owner["token"], d.slug)["pii_encryption"] == 1
    got = by_request(org_audit(http, d.h, d.slug, action="settings.update"), sealed.enable_resp)
    assert len(got) == 1, got
    assert mentions(got[0]["after"], "pii_encryption"), got


def test_analyst_cannot_change_it(http, stack, sealed):
    r = patch_org_settings(http, sealed.analyst["token"], sealed.d.slug, pii_encryption=0)
    assert_problem(r, 403, slug="forbidden", stack=stack)


@pytest.mark.standalone
def test_enable_without_vault_key_503(http, stack, standalone):
    """Without vault.keys the app cannot seal: turning it on is 503
    vault-unavailable (driven over FastCGI with the stack's config minus the key)."""
    import fcgi_client
    d = data_org(http, plan="growth")
    app = standalone(workers=1, remove_keys=("vault.keys",))
    r = fcgi_client.request(app.address, "PATCH", org_url(d.slug, "settings"), headers=d.h,
                            body=json.dumps({"pii_encryption": 1}),
                            content_type="application/json", timeout=30)
    assert r.status == 503, r
    assert r.json()["type"].endswith("/vault-unavailable"), r.json()
    assert org_settings(http, d.owner["token"], d.slug).get("pii_encryption", 0) == 0


# ==================================================================== sealed at rest

def test_new_upload_is_sealed_at_rest(stack, sealed):
    f = personal_fields(stack, sealed.d, sealed.after["id"])
    # row 4 has no email: nothing stored for it
    assert [(x["row_no"], x["column_name"]) for x in f] == [
        (1, "email"), (1, "name"), (2, "email"), (2, "name"), (3, "email"), (3, "name"),
        (4, "name")], f
    plain = {(i + 1, c): v for i, row in enumerate(sealed.after_rows[1:])
             for c, v in (("email", row[2]), ("name", row[3]))}
    for x in f:
        assert x["value"] is None, "a personal field is stored in clear: %r" % x
        assert x["sealed"], x
        assert x["blind_len"] == 32, x
        raw = bytes.fromhex(x["sealed"])
        p = plain[(x["row_no"], x["column_name"])].encode()
        assert p not in raw, "the sealed field contains its plaintext: %r" % x
        assert len(raw) >= len(p) + 12 + 16, "too short to be AES-GCM with nonce and tag: %r" % x
    by = {(x["row_no"], x["column_name"]): x for x in f}
    # same subject, same column: same blind index, different ciphertext
    assert by[(1, "email")]["blind"] == by[(3, "email")]["blind"], f
    assert by[(1, "email")]["sealed"] != by[(3, "email")]["sealed"], f
    assert by[(1, "name")]["blind"] == by[(3, "name")]["blind"], f
    assert by[(1, "email")]["blind"] != by[(2, "email")]["blind"], f
    # the blind index is bound to the column
    assert by[(1, "email")]["blind"] != by[(1, "name")]["blind"], f
    # nothing personal in the rows' cells either
    cells = tenant_sql(stack, sealed.d.tenant, "SELECT cells::text FROM upload_rows WHERE "
                                               "upload_id = %d" % sealed.after["id"])
    for v in sealed.m + sealed.n:
        assert v not in cells, cells


def test_earlier_upload_stays_clear(stack, sealed):
    f = personal_fields(stack, sealed.d, sealed.before["id"])
    if all(x["value"] is None for x in f):
        pytest.skip("the sealing job already ran over this org")
    assert all(x["value"] is not None and x["sealed"] is None for x in f), f


def test_search_finds_sealed_fields(http, sealed):
    d = sealed.d
    b = list_uploads(http, sealed.analyst["h"], d.slug, d.ws, email=sealed.m[2])
    assert [u["id"] for u in b["uploads"]] == [sealed.after["id"]], b
    b = list_uploads(http, d.h, d.slug, d.ws, email=sealed.m[0])
    assert {u["id"] for u in b["uploads"]} == {sealed.before["id"], sealed.after["id"]}, b
    b = list_uploads(http, d.h, d.slug, d.ws, name=sealed.n[2])
    assert [u["id"] for u in b["uploads"]] == [sealed.after["id"]], b
    b = list_uploads(http, d.h, d.slug, d.ws, email=sealed.m[2].upper())
    assert b["uploads"] == [], b
    b = list_uploads(http, d.h, d.slug, d.ws, name=sealed.m[2])
    assert b["uploads"] == [], b


def test_content_opens_for_analyst(http, sealed):
    d = sealed.d
    for h in (sealed.analyst["h"], d.h):
        got = content_rows(http, h, d.slug, d.ws, sealed.after["id"])
        assert got == sealed.after_rows, got


def test_content_masked_for_viewer(http, sealed):
    d = sealed.d
    for h in (sealed.viewer["h"], sealed.viewer_key):
        r = content(http, h, d.slug, d.ws, sealed.after["id"])
        assert r.status_code == 200, describe(r)
        for v in sealed.m + sealed.n:
            assert v.encode() not in r.content, describe(r)
        got = [row[2:] for row in content_rows(http, h, d.slug, d.ws, sealed.after["id"])[1:]]
        assert got == [["***", "***"]] * 3 + [["", "***"]], got


def test_forecast_from_sealed_upload(http, sealed):
    d = sealed.d
    res = forecast(http, d.h, d.slug, d.ws, sealed.after["id"], method="mean", horizon=1)
    assert res["result"]["points"] == [pytest.approx(2.5)], res


# ==================================================================== the sealing job

def run_pii(http, stack, max_fields=None):
    r = internal_post(http, stack, PII_RUN,
                      {"max_fields": max_fields} if max_fields is not None else None)
    assert r.status_code == 200, describe(r)
    b = r.json()
    assert set(b) >= {"orgs", "sealed", "left", "failed_orgs"}, b
    return b


def test_internal_run_needs_the_secret(http, stack):
    r = http.post(PII_RUN)
    assert r.status_code == 404, describe(r)
    r = http.post(PII_RUN, headers={"X-Internal-Secret": "wrong"})
    assert r.status_code == 404, describe(r)


@pytest.mark.parametrize("bad", ["0", "-1", "x", "100000001"])
def test_internal_run_bad_max_422(http, stack, bad):
    r = internal_post(http, stack, PII_RUN, {"max_fields": bad})
    assert_problem(r, 422, field="max_fields", stack=stack)


def test_background_sealing_is_resumable(http, stack, sealed):
    d = sealed.d
    # one more org with fields in clear, then encryption on
    e = data_org(http, plan="agency")
    mails = [personal_email("r") for _ in range(4)]
    up_e = upload(http, e.h, e.slug, e.ws, to_csv([["email", "v"]] + [[m, "1"] for m in mails]),
                  personal=["email"])
    r = patch_org_settings(http, e.owner["token"], e.slug, pii_encryption=1)
    assert r.status_code == 200, describe(r)
    norgs, total = clear_personal_total(stack)
    assert total >= 4, total
    first = run_pii(http, stack, max_fields=3)
    assert first["failed_orgs"] == [], first
    assert first["orgs"] == norgs, (first, norgs)
    assert first["sealed"] == min(3, total), (first, total)
    _, left = clear_personal_total(stack)
    assert first["left"] == left == total - first["sealed"], (first, total, left)
    assert left > 0
    second = run_pii(http, stack)
    assert second["failed_orgs"] == [] and second["orgs"] == norgs, second
    assert second["sealed"] == left and second["left"] == 0, (second, left)
    assert clear_personal_total(stack)[1] == 0
    third = run_pii(http, stack)
    assert (third["sealed"], third["left"], third["failed_orgs"]) == (0, 0, []), third
    # the earlier upload is now sealed: blind indexes like the new upload's
    before = {(x["row_no"], x["column_name"]): x for x in personal_fields(stack, d,
                                                                         sealed.before["id"])}
    after = {(x["row_no"], x["column_name"]): x for x in personal_fields(stack, d,
                                                                        sealed.after["id"])}
    for x in before.values():
        assert x["value"] is None and x["sealed"] and x["blind_len"] == 32, x
    assert before[(1, "email")]["blind"] == after[(1, "email")]["blind"]
    assert before[(1, "email")]["blind"] == before[(3, "email")]["blind"]
    assert before[(1, "email")]["sealed"] != before[(3, "email")]["sealed"]
    # and still reads back, and is still found
    assert content_rows(http, d.h, d.slug, d.ws, sealed.before["id"]) == sealed.before_rows
    b = list_uploads(http, d.h, d.slug, d.ws, email=sealed.m[1])
    assert [u["id"] for u in b["uploads"]] == [sealed.before["id"]], b
    assert [row[0] for row in content_rows(http, e.h, e.slug, e.ws, up_e["id"])[1:]] == mails


def test_admin_cli_pii_encrypt(http, stack):
    d = data_org(http, plan="growth")
    mails = [personal_email("cli") for _ in range(3)]
    up = upload(http, d.h, d.slug, d.ws, to_csv([["email", "v"]] + [[m, "1"] for m in mails]),
                personal=["email"])
    r = patch_org_settings(http, d.owner["token"], d.slug, pii_encryption=1)
    assert r.status_code == 200, describe(r)
    _, total = clear_personal_total(stack)
    assert total >= 3
    p = admin_cli(stack, "pii", "encrypt", "--max", "1")
    assert p.returncode == 0, p.stdout + p.stderr
    m = re.search(r"(\d+) fields sealed, (\d+) still in clear", p.stdout)
    assert m and int(m.group(1)) == 1 and int(m.group(2)) == total - 1, p.stdout
    assert clear_personal_total(stack)[1] == total - 1
    p = admin_cli(stack, "pii", "encrypt")
    assert p.returncode == 0, p.stdout + p.stderr
    assert clear_personal_total(stack)[1] == 0, p.stdout
    assert clear_personal(stack, d.tenant) == 0
    assert content_rows(http, d.h, d.slug, d.ws, up["id"])[1:] == [[m, "1"] for m in mails]
    p = admin_cli(stack, "pii", "encrypt", "--max", "0")
    assert p.returncode != 0, p.stdout


def test_overlapping_runs_seal_each_field_once(http, stack):
    import threading
    from apxtest import new_session
    d = data_org(http, plan="growth")
    n = 1500      # several batches
    mails = [personal_email("cc") for _ in range(n)]
    up = upload(http, d.h, d.slug, d.ws, to_csv([["email", "v"]] + [[m, str(i)] for i, m in
                                                                   enumerate(mails)]),
                personal=["email"])
    enable_pii(http, d.h, d.slug)
    _, total = clear_personal_total(stack)
    assert total >= n
    results, errors = [], []
    barrier = threading.Barrier(3)

    def worker():
        s = new_session()
        try:
            barrier.wait(10)
            r = s.post(stack["BASE_URL"] + PII_RUN,
                       headers={"X-Internal-Secret": stack["INTERNAL_SECRET"]}, timeout=120)
            results.append((r.status_code, r.text))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
        finally:
            s.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    assert not errors, errors
    assert [c for c, _ in results] == [200] * 3, results
    bodies = [json.loads(t) for _, t in results]
    assert all(b["failed_orgs"] == [] for b in bodies), bodies
    assert sum(b["sealed"] for b in bodies) == total, (bodies, total)
    assert clear_personal_total(stack)[1] == 0
    f = personal_fields(stack, d, up["id"])
    assert len(f) == n and all(x["value"] is None and x["blind_len"] == 32 for x in f)
    got = content_rows(http, d.h, d.slug, d.ws, up["id"])
    assert [r[0] for r in got[1:]] == mails


def test_turning_it_off_keeps_sealed_fields_readable(http, stack):
    d = data_org(http, plan="growth")
    enable_pii(http, d.h, d.slug)
    m1, m2 = personal_email("off"), personal_email("off")
    sealed_up = upload(http, d.h, d.slug, d.ws, to_csv([["email"], [m1]]), personal=["email"])
    enable_pii(http, d.h, d.slug, value=0)
    clear_up = upload(http, d.h, d.slug, d.ws, to_csv([["email"], [m2]]), personal=["email"])
    assert personal_fields(stack, d, sealed_up["id"])[0]["value"] is None
    assert personal_fields(stack, d, clear_up["id"])[0]["value"] == m2
    assert content_rows(http, d.h, d.slug, d.ws, sealed_up["id"]) == [["email"], [m1]]
    b = list_uploads(http, d.h, d.slug, d.ws, email=m1)
    assert [u["id"] for u in b["uploads"]] == [sealed_up["id"]], b


def test_plan_downgrade_keeps_sealed_fields_readable(http, stack):
    d = data_org(http, plan="growth")
    enable_pii(http, d.h, d.slug)
    m = personal_email("down")
    up = upload(http, d.h, d.slug, d.ws, to_csv([["email"], [m]]), personal=["email"])
    set_plan(http, stack, d.slug, "free")
    assert content_rows(http, d.h, d.slug, d.ws, up["id"]) == [["email"], [m]]
    assert [u["id"] for u in list_uploads(http, d.h, d.slug, d.ws, email=m)["uploads"]] == \
        [up["id"]]


# ==================================================================== moved sealed values

def assert_clean_5xx(r, stack, values):
    assert 500 <= r.status_code < 600, "want a 5xx for a field that does not open%s" % describe(r)
    assert_problem(r, r.status_code, stack=stack)
    for v in values:
        assert v.encode() not in r.content, "a personal value in the answer%s" % describe(r)


def test_sealed_value_moved_to_another_row_or_column_does_not_open(http, stack, sealed):
    d = sealed.d
    m, n = personal_email("mv"), personal_name("mv")
    m2, n2 = personal_email("mv"), personal_name("mv")
    rows = people_rows([m, m2], [n, n2])
    for target, source in (((2, "email"), (1, "email")),      # another row
                           ((1, "name"), (1, "email"))):      # another column
        up = upload(http, d.h, d.slug, d.ws, to_csv(rows), personal=["email", "name"])
        tenant_sql(stack, d.tenant,
                   "UPDATE upload_personal SET sealed = (SELECT sealed FROM upload_personal "
                   "WHERE upload_id = %d AND row_no = %d AND column_name = '%s') "
                   "WHERE upload_id = %d AND row_no = %d AND column_name = '%s'"
                   % (up["id"], source[0], source[1], up["id"], target[0], target[1]))
        r = content(http, sealed.analyst["h"], d.slug, d.ws, up["id"])
        assert_clean_5xx(r, stack, [m, n, m2, n2])
        # the viewer's masked download does not need to open anything
        r = content(http, sealed.viewer["h"], d.slug, d.ws, up["id"])
        assert r.status_code == 200, describe(r)
        assert http.delete(uploads_url(d.slug, d.ws, up["id"]), headers=d.h).status_code == 204


def test_sealed_value_moved_to_another_org_does_not_open(http, stack, sealed):
    a = data_org(http, plan="growth")
    b = data_org(http, plan="growth")
    for o in (a, b):
        enable = patch_org_settings(http, o.owner["token"], o.slug, pii_encryption=1)
        assert enable.status_code == 200, describe(enable)
    ma, mb = personal_email("xa"), personal_email("xb")
    ua = upload(http, a.h, a.slug, a.ws, to_csv([["email", "v"], [ma, "1"]]), personal=["email"])
    ub = upload(http, b.h, b.slug, b.ws, to_csv([["email", "v"], [mb, "1"]]), personal=["email"])
    hexa = tenant_sql(stack, a.tenant, "SELECT encode(sealed, 'hex') FROM upload_personal WHERE "
                                       "upload_id = %d AND row_no = 1" % ua["id"])
    assert hexa, "org a's field is not sealed"
    # same coordinates (first upload of each org), only the org's key differs
    tenant_sql(stack, b.tenant, "UPDATE upload_personal SET sealed = decode('%s', 'hex') WHERE "
                                "upload_id = %d AND row_no = 1" % (hexa, ub["id"]))
    r = content(http, b.h, b.slug, b.ws, ub["id"])
    assert_clean_5xx(r, stack, [ma, mb])
    # the org the value belongs to still opens it
    assert content_rows(http, a.h, a.slug, a.ws, ua["id"])[1] == [ma, "1"]


# ==================================================================== logs

def _app_log_files(stack):
    access = Path(stack["ACCESS_LOG"]).resolve() if stack.get("ACCESS_LOG") else None
    files = [p for p in log_files(stack) if p != access]
    if stack.get("ERROR_LOG"):
        files.append(Path(stack["ERROR_LOG"]).resolve())
    return sorted(set(files))


@pytest.mark.run_last
def test_no_personal_value_in_logs(stack):
    values = list(PERSONAL_VALUES)
    assert values, "no personal value was recorded"
    found = []
    for path in _app_log_files(stack):
        try:
            text = path.read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        for v in values:
            if v in text:
                line = next(l for l in text.splitlines() if v in l)
                found.append("%s: %r" % (path, line[:300]))
    assert not found, "personal values in logs:\n" + "\n".join(found)
    # the access log: reported, not asserted (it may carry query strings)
    if stack.get("ACCESS_LOG") and Path(stack["ACCESS_LOG"]).is_file():
        text = Path(stack["ACCESS_LOG"]).read_text(errors="replace")
        hits = [v for v in values if v in text]
        if hits:
            warnings.warn("the access log holds %d personal values (query strings), e.g. %r"
                          % (len(hits), hits[0]))
