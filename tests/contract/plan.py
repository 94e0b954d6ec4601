#!/usr/bin/env python3
"""Per caller: the operations of docs/openapi.json it is run against, the
answer each must get (a response of the document), and the ones fuzzed.
Writes OUT/<caller>.openapi.json (only those operations) and
OUT/<caller>.portman.json (tests/contract/portman-config.json aimed at them).

usage: plan.py DOC PORTMAN_CONFIG OUTDIR
("@ws" in a body: the workspace id of OUTDIR/ids.json, from callers.py)
"""
import copy
import json
import sys

# caller -> {operationId: expected status}; anything the caller may change
# is a throwaway object made for the run (tests/contract/callers.py).
PLAN = {
    "anonymous": {
        "getHealthz": 200, "getReadyz": 200, "getSecurityTxt": 200, "getJwks": 200,
        "getOpenapi": 200,
        "getMe": 401, "listSessions": 401, "listOrgs": 401, "exportMe": 401, "logout": 401,
        "getOrg": 401, "listWorkspaces": 401, "listApiKeys": 401, "orgAuditLog": 401,
        "listUploads": 401, "adminListOrgs": 401, "adminAuditLog": 401,
        "getInternalSettings": 404, "getInternalMetrics": 404, "runRetention": 404,
        "register": 422, "login": 401, "refresh": 401,
        "patchInternalSettings": 404, "runPiiSeal": 404,
        "listConnectors": 401, "connectorCallback": 400,
        "listDomains": 401,
        "ssoLookup": 200, "listIdentities": 401, "getOrgSso": 401,
        "getClientConfig": 200, "getDisclosurePolicy": 200, "adminListCompliance": 401,
    },
    "user": {
        "getMe": 200, "listSessions": 200, "listOrgs": 200, "exportMe": 200,
        "getOrg": 404, "listMembers": 404, "adminListOrgs": 404, "adminGetSettings": 404,
        "getInternalSettings": 404,
        "acceptInvitation": 404,
        "createOrg": 201, "leaveOrg": 404, "renameOrg": 404,
        "changePassword": 422, "deleteMe": 422, "deleteSession": 404,
        "listConnectors": 200, "getConnectorConfig": 404, "putConnectorConfig": 404,
        "connectConnector": 404, "listConnections": 404, "getConnection": 404,
        "disconnectConnection": 404, "checkConnection": 404,
        # not a member of the admin's org
        "listDomains": 404, "addDomain": 404, "verifyDomain": 404, "removeDomain": 404,
        "getOrgSso": 404, "listIdentities": 200, "adminListCompliance": 404,
    },
    "admin": {
        "getOrg": 200, "getOrgSettings": 200, "listMembers": 200, "listInvitations": 200,
        "listWorkspaces": 200, "getWorkspace": 200, "getIpAllowlist": 200, "listApiKeys": 200,
        "getApiKey": 200, "orgAuditLog": 200, "getRetention": 200, "listUploads": 200,
        "getUpload": 200, "getUploadContent": 200, "listForecasts": 200, "getForecast": 200,
        "privacyExport": 200, "createWorkspace": 201,
        "invite": 201, "createApiKey": 201, "putRetention": 200, "createForecast": 422,
        "getMe": 200,
        # changes and deletions, each on an object of its own (callers.py)
        "renameOrg": 200, "patchOrgSettings": 200, "setMemberRole": 204,
        "removeMember": 204, "revokeInvitation": 204, "renameWorkspace": 200,
        "putIpAllowlist": 200, "deleteWorkspace": 204, "revokeApiKey": 204,
        "rotateApiKey": 200, "deleteUpload": 204, "deleteForecast": 204,
        "privacyErasure": 200, "createUpload": 201,
        # connectors: Shopify's shop is set by putConnectorConfig, which the
        # collection runs before connectConnector (the document's order)
        "listConnectors": 200, "getConnectorConfig": 200, "putConnectorConfig": 200,
        "connectConnector": 200, "listConnections": 200,
        "getConnection": 404, "disconnectConnection": 404, "checkConnection": 404,
        # domains need the agency plan; the admin's org is on growth (callers.py)
        "listDomains": 402, "addDomain": 402, "verifyDomain": 402, "removeDomain": 402,
        "getOrgSso": 402, "putOrgSso": 402, "deleteOrgSso": 402,
    },
    "apikey": {
        "getOrg": 200, "listWorkspaces": 200, "getWorkspace": 200, "orgAuditLog": 200,
        "getRetention": 200, "listUploads": 200, "getUpload": 200, "listForecasts": 200,
        "getForecast": 200,
        "listApiKeys": 403, "listMembers": 200, "getMe": 403,
        "setMemberRole": 403, "createOrg": 403,
        "listConnectors": 403, "connectConnector": 403, "listConnections": 200,
        "getConnectorConfig": 200,
        # the key's org is on growth: below agency
        "listDomains": 402, "addDomain": 402, "verifyDomain": 402, "removeDomain": 402,
        "getOrgSso": 402,
    },
    "superuser": {
        "adminListOrgs": 200, "adminGetOrg": 200, "adminListUsers": 200,
        "adminAuditLog": 200, "adminGetSettings": 200, "adminPatchSettings": 200,
        "adminSetPlan": 200, "adminImpersonate": 201, "adminEndImpersonation": 204,
        "adminListCompliance": 200, "adminCreateComplianceItem": 201,
    },
}
# fuzzed (required fields, bounds of numbers and lengths): every variation must be 422
FUZZ = {
    "anonymous": ["register", "login"],
    "admin": ["createWorkspace", "invite", "createApiKey", "putRetention", "createForecast",
              "orgAuditLog", "listUploads", "listForecasts"],
}
# request bodies of the main requests (variations start from these); None:
# the field is left out
BODIES = {
    "register": {"email": "not-an-address", "name": "Contract Test", "password": "x"},
    "login": {"email": "not-an-address", "password": "x"},
    "createWorkspace": {"name": "contract {{$guid}}"},
    "invite": {"email": "contract-{{$guid}}@example.test", "role": "viewer"},
    "createApiKey": {"name": "contract {{$guid}}", "role": "viewer", "workspace_id": None,
                     "expires_at": "2099-01-01T00:00:00Z"},
    "putRetention": {"upload_days": 30, "workspaces": [{"workspace_id": "@ws", "upload_days": 60}]},
    "createForecast": {"name": "contract", "upload_id": 987654321012,
                       "parameters": {"method": "mean", "value_column": "v", "horizon": 3}},
    "acceptInvitation": {"token": "no-such-invitation-token"},
    "refresh": {"refresh_token": "no-such-refresh-token"},
    "createOrg": {"name": "Contract user org", "slug": "ctu_{{$timestamp}}{{$randomInt}}",
                  "plan": "free", "region": None},
    "renameOrg": {"name": "Contract org {{$randomInt}}"},
    "patchOrgSettings": {"api_key_max_age_days": 60},
    "setMemberRole": {"role": "analyst"},
    "renameWorkspace": {"name": "renamed {{$randomInt}}"},
    "putIpAllowlist": {"cidrs": ["203.0.113.0/24", "2001:db8::/32"]},
    "privacyErasure": {"subject": {"column": "email", "value": "nobody@example.test"}},
    "changePassword": {"current_password": "not-the-password", "new_password": "x" * 20},
    "deleteMe": {"password": "not-the-password"},
    "adminSetPlan": {"plan": "growth"},
    "adminPatchSettings": {"access_token_lifetime": "@atl"},
    "adminImpersonate": {"user_id": "@user", "reason": "contract test"},
    "adminCreateComplianceItem": {"kind": "subprocessor", "name": "Contract {{$randomInt}}",
                                  "purpose": "contract test", "data_categories": ["contact data"],
                                  "region": "eu", "review_due": "2099-01-01"},
    "putConnectorConfig": {"shop": "contract-shop.myshopify.com"},
    # a name of its own per run (src/core/dns.c apx_dns_name_norm accepts it)
    "addDomain": {"domain": "contract-{{$guid}}.example.test"},
    "ssoLookup": {"email": "contract@example.test"},
    "putOrgSso": {"issuer": "https://idp.example.test", "client_id": "contract"},
}
# query parameters: {name: value, or None to leave it out}
QUERY = {
    "createUpload": {"name": "contract {{$randomInt}}", "filename": None,
                     "personal_data": None},
    # no state, no code, no provider parameters (and no binding cookie): 400
    "connectorCallback": {k: None for k in ("state", "code", "error", "shop", "hmac",
                                            "timestamp", "host", "realmId")},
}
# the connector of the connector operations ({name}): one of the stack's
# plugins (scripts/stack: CONNECTORS)
CONNECTOR = "shopify"
# path variables of an operation's own object (callers.py): {param: env var}
PATHVARS = {
    "renameWorkspace": {"ws": "ws_renameWorkspace"},
    "putIpAllowlist": {"ws": "ws_putIpAllowlist"},
    "deleteWorkspace": {"ws": "ws_deleteWorkspace"},
    "setMemberRole": {"user": "user_setMemberRole"},
    "removeMember": {"user": "user_removeMember"},
}


def main():
    doc_path, cfg_path, out = sys.argv[1:4]
    doc = json.load(open(doc_path))
    base = json.load(open(cfg_path))
    ids = json.load(open("%s/ids.json" % out))
    bodies = json.loads(json.dumps(BODIES).replace('"@ws"', str(int(ids["ws"]))).replace(
        '"@user"', str(int(ids["user_id"]))).replace(
        '"@atl"', str(int(ids["access_token_lifetime"]))))
    for caller, ops in PLAN.items():
        d = copy.deepcopy(doc)
        for path in list(d["paths"]):
            item = d["paths"][path]
            for m in list(item):
                if isinstance(item[m], dict) and item[m].get("operationId") not in ops:
                    del item[m]
            if not item:
                del d["paths"][path]
        json.dump(d, open("%s/%s.openapi.json" % (out, caller), "w"))
        cfg = copy.deepcopy(base)
        contract = cfg["tests"]["contractTests"][0]
        by_code = {}
        for op_id, code in ops.items():
            by_code.setdefault(code, []).append(op_id)
        tests = []
        for code, ids in sorted(by_code.items()):
            t = copy.deepcopy(contract)
            del t["openApiOperation"]
            t["openApiOperationIds"] = sorted(ids)
            t["openApiResponse"] = str(code)
            t["statusCode"] = {"enabled": True, "code": code}
            tests.append(t)
        cfg["tests"]["contractTests"] = tests
        fuzz = [o for o in FUZZ.get(caller, []) if o in ops]
        if fuzz:
            v = cfg["tests"]["variationTests"][0]
            del v["openApiOperation"]
            v["openApiOperationIds"] = fuzz
        else:
            cfg["tests"].pop("variationTests")
        for item in d["paths"].values():
            for o in item.values():
                if isinstance(o, dict) and any(
                        p.get("$ref", "").endswith("/id") for p in o.get("parameters", [])):
                    cfg["overwrites"].append({
                        "openApiOperationId": o["operationId"],
                        "overwriteRequestPathVariables": [
                            {"key": "id", "value": "{{id_%s}}" % o["operationId"],
                             "overwrite": True, "insert": False}]})
                if isinstance(o, dict) and any(
                        p.get("$ref", "").endswith("/connector") for p in o.get("parameters", [])):
                    cfg["overwrites"].append({
                        "openApiOperationId": o["operationId"],
                        "overwriteRequestPathVariables": [
                            {"key": "name", "value": CONNECTOR, "overwrite": True,
                             "insert": False}]})
        for op_id, q in QUERY.items():
            if op_id in ops:
                cfg["overwrites"].append({
                    "openApiOperationId": op_id,
                    "overwriteRequestQueryParams": [
                        {"key": k, "remove": True} if v is None else
                        {"key": k, "value": v, "overwrite": True} for k, v in q.items()]})
        for op_id, pv in PATHVARS.items():
            if op_id in ops:
                cfg["overwrites"].append({
                    "openApiOperationId": op_id,
                    "overwriteRequestPathVariables": [
                        {"key": k, "value": "{{%s}}" % v, "overwrite": True, "insert": False}
                        for k, v in pv.items()]})
        for op_id, b in bodies.items():
            if op_id in ops:
                cfg["overwrites"].append({"openApiOperationId": op_id, "overwriteRequestBody": [
                    {"key": k, "remove": True} if v is None else
                    {"key": k, "value": v, "overwrite": True} for k, v in b.items()]})
        json.dump(cfg, open("%s/%s.portman.json" % (out, caller), "w"), indent=1)
        print("%s: %d operations (%d fuzzed)" % (caller, len(ops), len(fuzz)))


if __name__ == "__main__":
    main()
