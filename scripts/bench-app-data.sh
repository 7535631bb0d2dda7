#!/usr/bin/env bash
# The app's data in, measured (docs/performance.md, "The app's data in"), on a local
# stack of its own (ports from BENCH_BASE_PORT, default 18400): events applied per
# second by sync-app's handler, and `dev import` of a chat of 20,000 and of 200,000
# participants (time and peak memory). Release builds, as an operator runs `dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
source scripts/background-stack.sh

BASE_PORT="${BENCH_BASE_PORT:-18400}"
echo "bench-app-data: building dev (release)"
cargo build --release --locked --quiet --package dev
start_stack_in_background bench-app-data
dev=./target/release/dev
mkdir -p target/bench-app-data
for participants in 20000 200000; do
  file=target/bench-app-data/chat-$participants.jsonl
  "$dev" export-chat "$participants" >"$file"
  "$dev" import --chats "$file" --local 2>"$file.log"
  echo "bench-app-data: import of $participants participants ($(du -h "$file" | cut -f1)):" \
    "$(grep -o 'took .*' "$file.log")"
done
EVENTS_PORT=$((BASE_PORT + 3)) "$dev" bench-sync "${BENCH_SYNC_EVENTS:-5000}" --local
