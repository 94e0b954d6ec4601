#!/usr/bin/python3
"""Send one signed webhook delivery to a running stack, as a provider would.

    /usr/bin/python3 tests/standins/sendhook.py STACK_ENV shopify SHOP [TOPIC]
    /usr/bin/python3 tests/standins/sendhook.py STACK_ENV intuit REALM
    /usr/bin/python3 tests/standins/sendhook.py STACK_ENV xero TENANT_ID

Signs the body with the stack's webhook secret (WEBHOOK_KEYS in stack.env:
Shopify's client secret, Intuit's verifier token, Xero's webhook key) and
POSTs it to BASE_URL/webhooks/<connector>; prints the answer's status.
The job runner (JOBS_LOG) then acts on it: an order, invoice or sales
receipt event queues a sync of the connection it reaches.
"""
import base64
import hashlib
import hmac
import json
import sys
import urllib.request
import uuid


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            if len(v) >= 2 and v[0] == v[-1] == "'":
                v = v[1:-1].replace("'\\''", "'")
            env[k] = v
    return env


def main(argv):
    if len(argv) < 4 or argv[2] not in ("shopify", "intuit", "xero"):
        sys.stderr.write(__doc__)
        return 2
    env = load_env(argv[1])
    name, account = argv[2], argv[3]
    with open(env["WEBHOOK_KEYS"]) as f:
        key = json.load(f)[name]["current"]
    headers = {"Content-Type": "application/json"}
    if name == "shopify":
        topic = argv[4] if len(argv) > 4 else "orders/create"
        body = {"id": 1001, "name": "#1001", "created_at": "2026-12-01T10:00:00Z",
                "current_total_price": "12.50", "currency": "EUR"}
        headers.update({"X-Shopify-Topic": topic, "X-Shopify-Shop-Domain": account,
                        "X-Shopify-Event-Id": str(uuid.uuid4()),
                        "X-Shopify-Webhook-Id": str(uuid.uuid4())})
        sig = "X-Shopify-Hmac-Sha256"
    elif name == "intuit":
        body = [{"specversion": "1.0", "id": str(uuid.uuid4()), "source": "sendhook",
                 "type": "qbo.invoice.created.v1", "time": "2026-12-01T10:00:00Z",
                 "intuitentityid": "1", "intuitaccountid": account}]
        sig = "intuit-signature"
    else:
        body = {"events": [{"resourceUrl": "https://api.xero.com/api.xro/2.0/Invoices/x",
                            "resourceId": str(uuid.uuid4()), "eventDateUtc": "2026-12-01T10:00:00",
                            "eventType": "CREATE", "eventCategory": "INVOICE",
                            "tenantId": account, "tenantType": "ORGANISATION"}],
                "firstEventSequence": 1, "lastEventSequence": 1, "entropy": uuid.uuid4().hex}
        sig = "x-xero-signature"
    raw = json.dumps(body).encode()
    headers[sig] = base64.b64encode(hmac.new(key.encode(), raw, hashlib.sha256).digest()).decode()
    req = urllib.request.Request(env["BASE_URL"].rstrip("/") + "/webhooks/" + name, data=raw,
                                 headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            print("%d %s" % (r.status, r.headers.get("X-Request-Id", "")))
            return 0
    except urllib.error.HTTPError as e:
        print("%d %s" % (e.code, e.headers.get("X-Request-Id", "")))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
