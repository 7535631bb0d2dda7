"""A REST flow through `sam local start-api`, AWS's own API Gateway emulator, as a
second front end beside the local stack: its events differ from the stand-in's (the
route template in requestContext.path, stage Prod, header names as the client sent
them, X-Forwarded-*), and the functions must not depend on either. Run by
scripts/sam-local.sh with the API's URL and two tokens in the environment.
"""

import json
import os
import sys
import urllib.error
import urllib.request

API = os.environ["API_URL"]
SAM, AMY = os.environ["SAM_TOKEN"], os.environ["AMY_TOKEN"]
RUSTACEANS, HIKING = "65b000000000000000000001", "65b000000000000000000002"
checks = []


def call(method, path, token=None, body=None, headers=None):
    request = urllib.request.Request(API + path, method=method, data=None if body is None else json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, headers, text = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, headers, text = error.code, error.headers, error.read()
    return status, headers, json.loads(text) if text.strip() else None


def check(what, ok, seen):
    checks.append(bool(ok))
    print(f"sam-api: {'ok  ' if ok else 'FAIL'} {what}" + ("" if ok else f": {json.dumps(seen)[:400]}"))


status, headers, _ = call("OPTIONS", "/requests", headers={"Origin": "https://app.example.com"})
check("a preflight, without a token", status == 204 and headers.get("Access-Control-Allow-Origin") == "*", status)
status, _, body = call("GET", "/requests")
check("no token: 401", status == 401 and body["code"] == "UNAUTHORIZED", body)
status, _, created = call("POST", "/requests", SAM, {"chat": RUSTACEANS, "message": "hi"})
check("create", status == 201 and created["request"]["status"] == "pending", created)
request = (created or {}).get("request", {}).get("_id", "")
status, _, got = call("GET", f"/requests/{request}", SAM)
check("get", status == 200 and got["request"]["_id"] == request, got)
status, _, listed = call("GET", "/requests?status=pending&limit=5", SAM)
check("list", status == 200 and listed["count"] >= 1, listed)
status, _, queue = call("GET", f"/chats/{RUSTACEANS}/requests?status=pending", AMY)
check("the admins' queue", status == 200 and request in [r["_id"] for r in queue["requests"]], queue)
status, _, accepted = call("PATCH", f"/requests/{request}", AMY, {"status": "accepted"})
check("accept", status == 200 and accepted["request"]["status"] == "accepted", accepted)
status, _, second = call("POST", "/requests", SAM, {"chat": HIKING})
other = (second or {}).get("request", {}).get("_id", "")
status, _, withdrawn = call("DELETE", f"/requests/{other}", SAM)
check("withdraw", status == 200 and withdrawn["request"]["status"] == "cancelled", withdrawn)
status, _, events = call("GET", "/events", SAM)
check("events", status == 200 and isinstance(events.get("cursor"), str), events)

print(f"sam-api: {sum(checks)} passed, {len(checks) - sum(checks)} failed")
sys.exit(0 if all(checks) else 1)
