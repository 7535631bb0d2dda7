#!/usr/bin/env bash
# A bounded load run on the local stack, loopback only: k6 (scripts/load.js) drives
# requesters and admins for LOAD_SECONDS (default 30) while every admin keeps a
# WebSocket connection open; then `dev load-check` checks the contract's invariants
# over the whole table and what each connection received. Its own stack, ports and
# DynamoDB Local (from LOAD_BASE_PORT, default 18200). Output: target/load/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
source scripts/background-stack.sh

BASE_PORT="${LOAD_BASE_PORT:-18200}"
out="$repo_root/target/load"
rm -rf "$out" && mkdir -p "$out"

cargo build --quiet --package dev
# 10 restricted chats with 2 admins each, 200 users asking to join them.
./target/debug/dev load-world "$out" 10 2 200
export SEED_FILE="$out/fixture.json"
# Undelivered outbox items are swept after 2 s instead of 30, so that the settle time
# after the load covers them.
export OUTBOX_MIN_AGE_SECONDS=2
start_stack_in_background load
echo "load: local stack on http://127.0.0.1:$REST_PORT, k6 for ${LOAD_SECONDS:-30} s"

k6 run --quiet --no-usage-report --log-format raw --console-output "$out/received.jsonl" \
  --env RUN_FILE="$out/run.json" --env SUMMARY_FILE="$out/summary.json" \
  --env REST_URL="http://127.0.0.1:$REST_PORT" --env WS_URL="ws://127.0.0.1:$WS_PORT" \
  --env LOAD_SECONDS="${LOAD_SECONDS:-30}" \
  scripts/load.js

./target/debug/dev load-check --local "$out/run.json" "$out/received.jsonl"
