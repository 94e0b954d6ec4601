#!/usr/bin/env python3
"""Make the four callers of the contract run against a running stack and
write one Newman environment per caller (OUTDIR/<caller>.env.json, mode
0600: they hold tokens; the run deletes them).  Prints no secret.

  anonymous  no credentials
  user       a signed-in user of no organisation
  admin      an admin member of a growth-plan org (made by its owner)
  apikey     an admin-role API key of that org
  superuser  the stack's platform operator (ADMIN_EMAIL, ADMIN_PASSWORD)

Each operation that changes or deletes something gets an object of its own,
made here (a workspace to rename, one to delete, a key to revoke, one the
admin rotates, members to re-role and remove, an invitation, an upload, a
forecast, an impersonation to end), named in the environments as
id_<operationId> / ws_<operationId> / user_<operationId>.

usage: callers.py STACK_ENV OUTDIR
"""
import json
import os
import secrets
import shlex
import sys
import uuid

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import mailhelp  # noqa: E402  (the stack's mails)

CSV = "day,v\n1,10\n2,12\n3,11\n4,15\n"


def env_file(path):
    out = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            out[k] = shlex.split(v)[0] if v else ""
    return out


class Api:
    def __init__(self, base, stack):
        self.stack = stack
        self.base = base.rstrip("/")
        self.s = requests.Session()
        self.s.trust_env = False

    def call(self, method, path, token=None, expect=(200,), **kw):
        h = kw.pop("headers", {})
        if token:
            h["Authorization"] = "Bearer " + token
        r = self.s.request(method, self.base + path, headers=h, timeout=30, **kw)
        if r.status_code not in expect:
            # the status and problem type only: never a body that may hold a token
            t = r.json().get("type") if r.headers.get("Content-Type", "").startswith(
                "application/problem+json") else ""
            raise SystemExit("callers.py: %s %s -> %d %s" % (method, path, r.status_code, t))
        return r.json() if r.content and "json" in r.headers.get("Content-Type", "") else None

    def person(self, tag):
        email = "contract-%s-%s@example.test" % (tag, uuid.uuid4().hex[:10])
        pw = secrets.token_urlsafe(24)
        self.call("POST", "/api/v1/auth/register", json={"email": email, "name": "Contract " + tag,
                                                         "password": pw}, expect=(202,))
        # the address is verified as its owner would: the mailed link
        tok = mailhelp.link_token(mailhelp.wait_mail(self.stack, email, "Confirm your email"),
                                  "/verify-email")
        self.call("POST", "/api/v1/auth/verify-email", json={"token": tok})
        tok = self.call("POST", "/api/v1/auth/login", json={"email": email, "password": pw})
        return email, tok["access_token"]

    def member(self, o, owner, role):
        """A new member of org path O with ROLE: its user id."""
        email, tok = self.person(role)
        inv = self.call("POST", o + "/invitations", owner, json={"email": email, "role": role},
                        expect=(201,))
        self.call("POST", "/api/v1/invitations/accept", tok, json={"token": inv["token"]})
        return self.call("GET", "/api/v1/me", tok)["user"]["id"]


def main():
    stack = env_file(sys.argv[1])
    out = sys.argv[2]
    api = Api(stack["BASE_URL"], stack)
    _, user = api.person("user")
    _, owner = api.person("owner")
    admin_email, admin = api.person("admin")
    slug = "ct_" + uuid.uuid4().hex[:12]
    api.call("POST", "/api/v1/orgs", owner, json={"name": "Contract org", "slug": slug,
                                                   "plan": "growth"}, expect=(201,))
    o = "/api/v1/orgs/" + slug
    inv = api.call("POST", o + "/invitations", owner, json={"email": admin_email, "role": "admin"},
                   expect=(201,))
    api.call("POST", "/api/v1/invitations/accept", admin, json={"token": inv["token"]})
    ws = api.call("GET", o + "/workspaces", owner)["workspaces"][0]["id"]
    made = api.call("POST", o + "/api-keys", owner, json={"name": "contract", "role": "admin"},
                    expect=(201,))
    key, key_id = made["key"], made["api_key"]["id"]
    w = "%s/workspaces/%d" % (o, ws)
    up = api.call("POST", w + "/uploads", owner, params={"name": "contract"}, data=CSV,
                  headers={"Content-Type": "text/csv"}, expect=(201,))["upload"]["id"]
    fc = api.call("POST", w + "/forecasts", owner, json={
        "name": "contract", "upload_id": up,
        "parameters": {"method": "mean", "value_column": "v", "horizon": 3}},
        expect=(201,))["forecast"]["id"]
    members = api.call("GET", o + "/members", owner)["members"]
    common = {"baseUrl": stack["BASE_URL"], "org": slug, "ws": str(ws),
              "member": str(members[0]["user_id"]), "id_getApiKey": str(key_id),
              "id_getUpload": str(up), "id_getUploadContent": str(up), "id_getForecast": str(fc)}
    common["id_deleteSession"] = "987654321012"        # no such session
    for op in ("getConnection", "disconnectConnection", "checkConnection"):
        common["id_" + op] = "987654321012"            # no such connection
    for op in ("verifyDomain", "removeDomain"):
        common["id_" + op] = "987654321012"            # no such domain
    # throwaway objects of the operations that change or delete
    for op in ("renameWorkspace", "deleteWorkspace"):
        common["ws_" + op] = str(api.call("POST", o + "/workspaces", owner,
                                          json={"name": "contract %s" % uuid.uuid4().hex[:8]},
                                          expect=(201,))["workspace"]["id"])
    common["ws_putIpAllowlist"] = common["ws_renameWorkspace"]
    common["id_revokeApiKey"] = str(api.call("POST", o + "/api-keys", owner, json={
        "name": "contract revoke", "role": "viewer"}, expect=(201,))["api_key"]["id"])
    common["id_rotateApiKey"] = str(api.call("POST", o + "/api-keys", admin, json={
        "name": "contract rotate", "role": "viewer"}, expect=(201,))["api_key"]["id"])
    common["id_revokeInvitation"] = str(api.call("POST", o + "/invitations", owner, json={
        "email": "contract-revoke-%s@example.test" % uuid.uuid4().hex[:8], "role": "viewer"},
        expect=(201,))["invitation"]["id"])
    common["user_setMemberRole"] = str(api.member(o, owner, "viewer"))
    common["user_removeMember"] = str(api.member(o, owner, "viewer"))
    up2 = api.call("POST", w + "/uploads", owner, params={"name": "contract delete"}, data=CSV,
                   headers={"Content-Type": "text/csv"}, expect=(201,))["upload"]["id"]
    common["id_deleteUpload"] = str(up2)
    common["id_deleteForecast"] = str(api.call("POST", w + "/forecasts", owner, json={
        "name": "contract delete", "upload_id": up,
        "parameters": {"method": "mean", "value_column": "v", "horizon": 3}},
        expect=(201,))["forecast"]["id"])
    # the platform operator, impersonating the user caller once (ended by the run)
    su = api.call("POST", "/api/v1/auth/login", json={"email": stack["ADMIN_EMAIL"],
                                                      "password": stack["ADMIN_PASSWORD"]})
    su = su["access_token"]
    user_id = api.call("GET", "/api/v1/me", user)["user"]["id"]
    common["id_adminEndImpersonation"] = str(api.call("POST", "/admin/api/impersonate", su, json={
        "user_id": user_id, "reason": "contract test"}, expect=(201,))["impersonation_id"])
    settings = api.call("GET", "/admin/api/settings", su)["settings"]
    tokens = {"anonymous": "", "user": user, "admin": admin, "apikey": key, "superuser": su}
    for caller, tok in tokens.items():
        values = dict(common, bearerToken=tok)
        path = os.path.join(out, caller + ".env.json")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"name": caller, "values": [{"key": k, "value": v, "enabled": True}
                                                  for k, v in values.items()]}, f)
    with open(os.path.join(out, "ids.json"), "w") as f:
        json.dump({"org": slug, "ws": ws, "user_id": user_id,
                   "access_token_lifetime": settings["access_token_lifetime"]}, f)
    print("callers: anonymous, user, admin (org %s, growth), apikey (admin role), superuser"
          % slug)


if __name__ == "__main__":
    main()
