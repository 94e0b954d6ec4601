"""Helpers for the forecast-data tests (uploads, forecasts, personal-data
encryption, retention, privacy; docs/api.md "Forecast data" and after).
Plain functions, no fixtures (like apxtest/authhelp/orghelp).

Tenant databases (`accupredix_t_<slug>`) live on the cluster of the org's
region (stack.env REGION_<NAME>_PGHOST/PGPORT); the tests reach them as
`postgres` (root maps to it by peer).
"""

import json
import subprocess
import uuid

from apxtest import describe
from authhelp import bearer
from orghelp import (ADMIN, add_member, admin_cli, create_org, default_workspace, new_member,
                     org_url, psql, superuser)

PSQL = "/usr/lib/postgresql/15/bin/psql"
PII_RUN = "/internal/pii/run"
RETENTION_RUN = "/internal/retention/run"


# ------------------------------------------------------------------ SQL on a region / tenant

def tenant_db(slug):
    return "accupredix_t_" + slug


def region_conn(stack, region):
    """(host, port) of a data region's cluster; fails clearly when stack.env lacks it."""
    up = region.upper().replace("-", "_")
    host, port = stack.get("REGION_%s_PGHOST" % up), stack.get("REGION_%s_PGPORT" % up)
    assert host and port, ("stack.env has no REGION_%s_PGHOST/PGPORT: the stack script "
                           "does not describe its data regions yet" % up)
    return host, port


def region_psql(stack, region, sql, db="postgres", check=True):
    """psql as postgres on the region's cluster: the CompletedProcess."""
    host, port = region_conn(stack, region)
    p = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h", host,
                        "-p", str(port), "-U", "postgres", "-d", db, "-c", sql],
                       capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError("psql on region %s db %s failed (%d): %s\nSQL: %s"
                             % (region, db, p.returncode, p.stderr.strip(), sql))
    return p


def tenant_sql(stack, org, sql, check=True):
    """Run SQL in the org's tenant database (org: dict with slug, region); stdout."""
    return region_psql(stack, org.get("region") or "eu", sql, db=tenant_db(org["slug"]),
                       check=check).stdout.strip()


def tenant_json(stack, org, query):
    """The rows of QUERY (a SELECT) in the org's tenant database, as a list of dicts."""
    out = tenant_sql(stack, org, "SELECT coalesce(json_agg(q), '[]') FROM (%s) q" % query)
    return json.loads(out)


def tenant_scalar(stack, org, query):
    return tenant_sql(stack, org, query).splitlines()[0]


def control_json(stack, query):
    out = psql(stack, "SELECT coalesce(json_agg(q), '[]') FROM (%s) q" % query).stdout.strip()
    return json.loads(out)


def backdate_upload(stack, org, upload_id, days, hours=1):
    """Make an upload DAYS days and HOURS hours old."""
    tenant_sql(stack, org, "UPDATE uploads SET created_at = now() - interval '%d days' - "
                           "interval '%d hours' WHERE id = %d" % (int(days), int(hours),
                                                                 int(upload_id)))


def sql_literal(text):
    return "'" + text.replace("'", "''") + "'"


# ------------------------------------------------------------------ the CLI and the audit chain

def audit_verify(stack):
    r = admin_cli(stack, "audit", "verify")
    assert r.returncode == 0, "audit verify exited %d:\n%s%s" % (r.returncode, r.stdout,
                                                                r.stderr)
    return r


def internal_post(http, stack, path, params=None):
    r = http.post(path, params=params or {},
                  headers={"X-Internal-Secret": stack["INTERNAL_SECRET"]},
                  timeout=120)
    return r


# ------------------------------------------------------------------ orgs for data tests

class DataOrg:
    """owner (signed-in user dict), org (its object), slug, region, ws (default
    workspace id), h (owner's headers)."""

    def __repr__(self):
        return "DataOrg(%s)" % getattr(self, "slug", "?")

    def add(self, http, role):
        """A new member with ROLE: user dict with token, role and h (headers)."""
        u = add_member(http, self.owner["token"], self.slug, role)
        u["h"] = bearer(u["token"])
        return u

    @property
    def tenant(self):
        return {"slug": self.slug, "region": self.region}


def data_org(http, plan="growth", region=None, owner=None):
    d = DataOrg()
    d.owner = owner or new_member(http, "Data Owner")
    d.org = create_org(http, d.owner["token"], plan=plan, region=region)
    d.slug = d.org["slug"]
    d.region = d.org.get("region") or "eu"
    d.ws = default_workspace(http, d.owner["token"], d.slug)["id"]
    d.h = bearer(d.owner["token"])
    return d


def set_plan(http, stack, slug, plan):
    su = superuser(http, stack)
    r = http.patch("%s/orgs/%s" % (ADMIN, slug), json={"plan": plan}, headers=bearer(su["token"]))
    assert r.status_code == 200, describe(r)
    return r


def enable_pii(http, token_or_headers, slug, value=1):
    h = token_or_headers if isinstance(token_or_headers, dict) else bearer(token_or_headers)
    r = http.patch(org_url(slug, "settings"), json={"pii_encryption": value}, headers=h)
    assert r.status_code == 200, describe(r)
    return r


# ------------------------------------------------------------------ uploads and forecasts

def uploads_url(slug, ws, *rest):
    return org_url(slug, "workspaces", ws, "uploads", *rest)


def forecasts_url(slug, ws, *rest):
    return org_url(slug, "workspaces", ws, "forecasts", *rest)


def to_csv(rows, crlf=True):
    """RFC 4180 text of a list of rows (lists of strings): every field quoted when it
    needs to be."""
    out = []
    for row in rows:
        cells = []
        for v in row:
            v = str(v)
            if any(ch in v for ch in ',"\r\n') or v != v.strip(" "):
                v = '"' + v.replace('"', '""') + '"'
            cells.append(v)
        out.append(",".join(cells))
    nl = "\r\n" if crlf else "\n"
    return nl.join(out) + nl


def parse_csv(text):
    """Rows of an RFC 4180 text (the answer of /content)."""
    import csv
    import io
    return list(csv.reader(io.StringIO(text, newline="")))


def upload_raw(http, headers, slug, ws, body, name=None, filename=None, personal=None,
               content_type="text/csv", params=None, **kw):
    p = {"name": name if name is not None else "up-" + uuid.uuid4().hex[:8]}
    if filename is not None:
        p["filename"] = filename
    if personal:
        p["personal_data"] = ",".join(personal) if not isinstance(personal, str) else personal
    p.update(params or {})
    h = dict(headers)
    if content_type is not None:
        h["Content-Type"] = content_type
    if isinstance(body, str):
        body = body.encode()
    return http.post(uploads_url(slug, ws), params=p, data=body, headers=h, **kw)


def upload(http, headers, slug, ws, body, name=None, filename=None, personal=None):
    """Upload BODY (str or bytes, or rows); the `upload` object of the 201 answer."""
    if isinstance(body, list):
        body = to_csv(body)
    r = upload_raw(http, headers, slug, ws, body, name=name, filename=filename,
                   personal=personal)
    assert r.status_code == 201, describe(r)
    return r.json()["upload"]


def content(http, headers, slug, ws, upload_id):
    return http.get(uploads_url(slug, ws, upload_id, "content"), headers=headers)


def content_rows(http, headers, slug, ws, upload_id):
    r = content(http, headers, slug, ws, upload_id)
    assert r.status_code == 200, describe(r)
    return parse_csv(r.content.decode("utf-8"))


def list_uploads(http, headers, slug, ws, **params):
    r = http.get(uploads_url(slug, ws), params=params, headers=headers)
    assert r.status_code == 200, describe(r)
    return r.json()


def forecast_raw(http, headers, slug, ws, upload_id, method="naive", value_column="value",
                 horizon=3, window=None, name=None, parameters=None):
    params = parameters if parameters is not None else {
        "method": method, "value_column": value_column, "horizon": horizon}
    if window is not None and parameters is None:
        params["window"] = window
    body = {"name": name or "fc-" + uuid.uuid4().hex[:8], "upload_id": upload_id,
            "parameters": params}
    return http.post(forecasts_url(slug, ws), json=body, headers=headers)


def forecast(http, headers, slug, ws, upload_id, **kw):
    """A new forecast: the 201 answer's body {forecast, result}."""
    r = forecast_raw(http, headers, slug, ws, upload_id, **kw)
    assert r.status_code == 201, describe(r)
    return r.json()


def series_csv(values, extra=None):
    """A CSV with columns day,value(,email) of the given numbers."""
    rows = [["day", "value"] + (["email"] if extra else [])]
    for i, v in enumerate(values):
        row = ["d%d" % (i + 1), v]
        if extra:
            row.append(extra(i))
        rows.append(row)
    return to_csv(rows)


# Every personal value the data tests uploaded: the log audits look for each.
PERSONAL_VALUES = []


def remember_personal(*values):
    for v in values:
        if isinstance(v, str) and len(v) >= 8 and v not in PERSONAL_VALUES:
            PERSONAL_VALUES.append(v)
    return values[0] if len(values) == 1 else values


def personal_email(tag=""):
    """A distinctive e-mail address (remembered for the log audits)."""
    return remember_personal("subj-%s%s@pii.example.test" % (tag, uuid.uuid4().hex[:16]))


def personal_name(tag=""):
    return remember_personal("Person %s%s" % (tag, uuid.uuid4().hex[:12]))


# ------------------------------------------------------------------ personal-data encryption

def pii_orgs(stack):
    """Orgs the sealing job works on: pii_encryption on, Growth and up."""
    return control_json(stack, "SELECT id, slug, region, tenant_db, status FROM orgs WHERE "
                               "(settings->>'pii_encryption') = '1' AND plan IN "
                               "('growth', 'agency') ORDER BY id")


def clear_personal(stack, org):
    """Personal fields still in clear in one org's tenant database."""
    return int(tenant_scalar(stack, org, "SELECT count(*) FROM upload_personal "
                                         "WHERE value IS NOT NULL"))


def clear_personal_total(stack):
    """(orgs, fields in clear) over every org the sealing job works on."""
    orgs = pii_orgs(stack)
    return len(orgs), sum(clear_personal(stack, o) for o in orgs if o["status"] == "active")
