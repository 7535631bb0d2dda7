"""A real browser (Debian's Chromium, driven by Playwright for Python) calls the local
stack from a page of another origin, as the app's web client does:

- from the allowed origin, `fetch` with a token reads the answers, a preflight included
  (the Authorization header makes every call one), and a 429's `Retry-After`;
- from an origin not allowed, the browser itself refuses to hand the answer to the page.

Run by scripts/browser.sh, which starts the stack with CORS_ALLOWED_ORIGINS naming the
allowed page's origin and passes the tokens in the environment.
"""

import http.server
import json
import os
import sys
import threading

from playwright.sync_api import sync_playwright

API = os.environ["API_URL"]
SAM, AMY = os.environ["SAM_TOKEN"], os.environ["AMY_TOKEN"]
ALLOWED_PORT, OTHER_PORT = int(os.environ["ALLOWED_PORT"]), int(os.environ["OTHER_PORT"])
CHAT = "65b000000000000000000002"  # Hiking club: sam may ask, amy decides

PAGE = b"<!doctype html><title>join requests</title><p>a client of another origin</p>"


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *_):
        pass


def serve(port):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# One call from the page: its status, its `Retry-After` as the page sees it, its body;
# or the error the browser raised instead of handing the answer over.
CALL = """async ([url, method, token, body]) => {
  try {
    const response = await fetch(url, {
      method,
      headers: { "Authorization": "Bearer " + token, "Content-Type": "application/json" },
      body: body === null ? undefined : JSON.stringify(body),
    });
    return { status: response.status, retryAfter: response.headers.get("Retry-After"), body: await response.json() };
  } catch (error) {
    return { error: String(error) };
  }
}"""


def main():
    checks = []

    def check(what, ok, seen):
        ok = bool(ok)
        checks.append(ok)
        print(f"browser: {'ok  ' if ok else 'FAIL'} {what}" + ("" if ok else f": {json.dumps(seen)}"))

    servers = [serve(ALLOWED_PORT), serve(OTHER_PORT)]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=["--no-sandbox"]
        )
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{ALLOWED_PORT}/")

        def call(method, path, token, body=None):
            return page.evaluate(CALL, [API + path, method, token, body])

        listed = call("GET", "/requests", SAM)
        check("the allowed origin reads an answer", listed.get("status") == 200 and "requests" in listed["body"], listed)
        asked = call("POST", "/requests", SAM, {"chat": CHAT})
        check("and makes a change", asked.get("status") == 201, asked)
        request = asked.get("body", {}).get("request", {}).get("_id", "")
        rejected = call("PATCH", f"/requests/{request}", AMY, {"status": "rejected"})
        check("and an admin decides it", rejected.get("status") == 200, rejected)
        again = call("POST", "/requests", SAM, {"chat": CHAT})
        check(
            "and reads a 429's code and its Retry-After",
            again.get("status") == 429 and again["body"].get("code") == "REQUEST_COOLDOWN" and again.get("retryAfter"),
            again,
        )
        unauthorized = call("GET", "/requests", "not-a-token")
        check("and an error's body", unauthorized.get("status") == 401, unauthorized)

        page.goto(f"http://127.0.0.1:{OTHER_PORT}/")
        refused = call("GET", "/requests", SAM)
        check("another origin gets nothing: the browser refuses", "error" in refused and "status" not in refused, refused)
        browser.close()
    for server in servers:
        server.shutdown()
    print(f"browser: {sum(checks)} passed, {len(checks) - sum(checks)} failed")
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
