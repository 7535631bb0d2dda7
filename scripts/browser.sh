#!/usr/bin/env bash
# The browser tests, in Debian's Chromium (installed here when missing; Playwright
# cannot download its own browsers here) driven by Playwright for Python, against one
# local stack of their own (ports and DynamoDB Local from BROWSER_BASE_PORT, default
# 18300): scripts/browser_cors.py calls the stack from pages of two origins, one that
# CORS_ALLOWED_ORIGINS names and one it does not; scripts/browser_console.py drives the
# console (/console) as a requester and two admins.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
source scripts/background-stack.sh

command -v chromium >/dev/null || { echo "browser: installing chromium (apt)"; apt_install chromium; }

BASE_PORT="${BROWSER_BASE_PORT:-18300}"
export ALLOWED_PORT=$((BASE_PORT + 10)) OTHER_PORT=$((BASE_PORT + 11))
export CORS_ALLOWED_ORIGINS="http://127.0.0.1:$ALLOWED_PORT"
# A rejection that keeps the requester waiting, for a 429 with Retry-After.
export REJECTION_COOLDOWN_SECONDS=3600
start_stack_in_background browser
export API_URL="http://127.0.0.1:$REST_PORT" SAM_TOKEN=$(token_of sam.stranger) AMY_TOKEN=$(token_of amy.admin)
echo "browser: local stack on $API_URL, allowed origin $CORS_ALLOWED_ORIGINS"
python scripts/browser_cors.py
# The console, on the same stack: a requester and two admins, each on a page.
python scripts/browser_console.py
