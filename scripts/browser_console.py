"""The console (/console on the local stack) in a real browser (Debian's Chromium,
driven by Playwright for Python): a requester and two admins of the same chat, each on
a page of their own. The requester asks; both admins' queues show it within 2 s without
a reload; one admin accepts; the requester's page shows "accepted" and the score; the
other admin's queue drops it. No page logs an error; every control has a name; the page
fits a phone's width. Screenshots go to target/ for CI's log.

Run by scripts/browser.sh, on its stack.
"""

import json
import os
import sys
import urllib.request

from playwright.sync_api import expect, sync_playwright

API = os.environ["API_URL"]
SAM, AMY, BEN = "65a000000000000000000007", "65a000000000000000000001", "65a000000000000000000002"
RUST = "65b000000000000000000001"
SHOTS = os.path.join(os.path.dirname(__file__), "..", "target")

UNNAMED_CONTROLS = """() => [...document.querySelectorAll("input, select, textarea, button")]
  .filter((c) => !c.closest("[hidden]"))
  .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute("aria-label") && !c.textContent.trim())
  .map((c) => c.outerHTML.slice(0, 120))"""


def main():
    checks = []

    def check(what, ok, seen=""):
        ok = bool(ok)
        checks.append(ok)
        print(f"console: {'ok  ' if ok else 'FAIL'} {what}" + ("" if ok else f": {seen}"))

    def passes(assertion):
        try:
            assertion()
            return True, ""
        except AssertionError as error:
            return False, str(error).splitlines()[0]

    errors = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=["--no-sandbox"]
        )

        def open_as(user, width=1280):
            page = browser.new_page(viewport={"width": width, "height": 800})
            page.on("console", lambda m: m.type == "error" and errors.append(f"{user}: {m.text}"))
            page.on("pageerror", lambda e: errors.append(f"{user}: {e}"))
            page.goto(f"{API}/console?user={user}")
            expect(page.locator("#status")).to_have_text("live", timeout=10_000)
            return page

        sam, amy, ben = open_as(SAM), open_as(AMY), open_as(BEN)
        queue = lambda page: page.locator(f'article[data-chat="{RUST}"]')
        check("the admins see the chat's queue", queue(amy).is_visible() and queue(ben).is_visible())
        check("every control has a name", not amy.evaluate(UNNAMED_CONTROLS), amy.evaluate(UNNAMED_CONTROLS))

        # An admin sets a screening question (through the API); the requester answers it.
        directory = json.load(urllib.request.urlopen(f"{API}/console/directory.json"))
        amy_token = next(u["token"] for u in directory["users"] if u["_id"] == AMY)
        body = json.dumps({"questions": [{"text": "Why do you want to join?", "required": True}]}).encode()
        put = urllib.request.Request(f"{API}/chats/{RUST}/questions", data=body, method="PUT")
        put.add_header("Authorization", f"Bearer {amy_token}")
        check("an admin sets a question", urllib.request.urlopen(put).status == 200)
        # The page read Rustaceans' questions when it opened; choosing the chat again
        # reads them anew, as a requester coming back to the form would.
        sam.locator("#ask-chat").select_option(label="Hiking club (restricted)")
        sam.locator("#ask-chat").select_option(label="Rustaceans (restricted)")
        sam.get_by_label("Why do you want to join? (required)").fill("To learn async Rust")
        sam.get_by_label("Message", exact=True).fill("Hi from the console")
        sam.get_by_role("button", name="Ask to join").press("Enter")
        ok, seen = passes(lambda: expect(sam.locator("#ask-result")).to_have_text("asked: pending", timeout=5_000))
        check("the requester asks, with the keyboard", ok, seen)
        sams_row = lambda page: queue(page).locator("tr", has_text="sam.stranger")
        ok, seen = passes(lambda: expect(sams_row(amy)).to_be_visible(timeout=2_000))
        check("the admin's queue shows it within 2 s, without a reload", ok, seen)
        ok, seen = passes(lambda: expect(sams_row(ben)).to_be_visible(timeout=2_000))
        check("and so does the other admin's", ok, seen)
        ok, seen = passes(lambda: expect(sams_row(amy)).to_contain_text("Why do you want to join?: To learn async Rust"))
        check("with the answer to the question", ok, seen)
        amy.screenshot(path=os.path.join(SHOTS, "console-admin.png"))

        sams_row(amy).get_by_role("button", name="Accept").click()
        mine = sam.locator("#mine tbody tr", has_text="Rustaceans")
        ok, seen = passes(lambda: expect(mine.first).to_contain_text("accepted", timeout=5_000))
        check('the requester\'s page shows "accepted"', ok, seen)
        ok, seen = passes(lambda: expect(sam.locator("#score")).to_have_text("score 10", timeout=5_000))
        check("and the score", ok, seen)
        ok, seen = passes(lambda: expect(sams_row(ben)).to_have_count(0, timeout=5_000))
        check("the other admin's queue drops it", ok, seen)
        ok, seen = passes(lambda: expect(ben.locator("#event-log li", has_text="chat-join-request-closed")).to_have_count(1))
        check("and its live pane shows the event", ok, seen)
        sam.screenshot(path=os.path.join(SHOTS, "console-requester.png"))

        phone = open_as(SAM, width=390)
        wide = phone.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        check("the page fits a phone's width", wide <= 0, f"{wide} px too wide")
        phone.screenshot(path=os.path.join(SHOTS, "console-phone.png"), full_page=True)
        browser.close()
    check("no page logged an error", not errors, json.dumps(errors))
    print(f"console: {sum(checks)} passed, {len(checks) - sum(checks)} failed; screenshots in target/console-*.png")
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
