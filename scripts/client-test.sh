#!/usr/bin/env bash
# The TypeScript client (clients/typescript): its generated types checked against
# openapi.yaml and asyncapi.yaml, its types checked by tsc, and its tests (Node's test
# runner) against a local stack of its own (ports from CLIENT_BASE_PORT, default 18600).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
source scripts/background-stack.sh

BASE_PORT="${CLIENT_BASE_PORT:-18600}"
cd clients/typescript
node scripts/check-generated.mjs
npx tsc --noEmit
cd ../..
cargo build --package dev --locked --quiet
start_stack_in_background client
tokens="{"
for user in amy.admin ben.admin cat.admin dan.member raj.example lea.left sam.stranger; do
  tokens+="\"$user\":\"$(token_of "$user")\","
done
export STACK_TOKENS="${tokens%,}}"
export STACK_REST_URL="http://127.0.0.1:$REST_PORT" STACK_WS_URL="ws://127.0.0.1:$WS_PORT"
(cd clients/typescript && npm test)
