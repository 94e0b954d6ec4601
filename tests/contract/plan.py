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
        "register": 422, "login": 401,
    },
    "user": {
        "getMe": 200, "listSessions": 200, "listOrgs": 200, "exportMe": 200,
        "getOrg": 404, "listMembers": 404, "adminListOrgs": 404, "adminGetSettings": 404,
        "getInternalSettings": 404,
        "acceptInvitation": 404,
    },
    "admin": {
        "getOrg": 200, "getOrgSettings": 200, "listMembers": 200, "listInvitations": 200,
        "listWorkspaces": 200, "getWorkspace": 200, "getIpAllowlist": 200, "listApiKeys": 200,
        "getApiKey": 200, "orgAuditLog": 200, "getRetention": 200, "listUploads": 200,
        "getUpload": 200, "getUploadContent": 200, "listForecasts": 200, "getForecast": 200,
        "privacyExport": 200, "createWorkspace": 201,
        "invite": 201, "createApiKey": 201, "putRetention": 200, "createForecast": 422,
        "getMe": 200,
    },
    "apikey": {
        "getOrg": 200, "listWorkspaces": 200, "getWorkspace": 200, "orgAuditLog": 200,
        "getRetention": 200, "listUploads": 200, "getUpload": 200, "listForecasts": 200,
        "getForecast": 200,
        "listApiKeys": 403, "listMembers": 200, "getMe": 403,
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
}


def main():
    doc_path, cfg_path, out = sys.argv[1:4]
    doc = json.load(open(doc_path))
    base = json.load(open(cfg_path))
    ids = json.load(open("%s/ids.json" % out))
    bodies = json.loads(json.dumps(BODIES).replace('"@ws"', str(int(ids["ws"]))))
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
        for op_id, b in bodies.items():
            if op_id in ops:
                cfg["overwrites"].append({"openApiOperationId": op_id, "overwriteRequestBody": [
                    {"key": k, "remove": True} if v is None else
                    {"key": k, "value": v, "overwrite": True} for k, v in b.items()]})
        json.dump(cfg, open("%s/%s.portman.json" % (out, caller), "w"), indent=1)
        print("%s: %d operations (%d fuzzed)" % (caller, len(ops), len(fuzz)))


if __name__ == "__main__":
    main()
