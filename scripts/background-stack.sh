# Sourced by fuzz.sh and load.sh: runs the local stack (scripts/stack.sh) in the
# background on its own ports and its own DynamoDB Local, so that it never meets a
# stack a developer has running, and stops all of it when the caller exits.
#   start_stack_in_background NAME   ports from $BASE_PORT: DynamoDB +0, REST +1,
#                                    WebSocket +2, EventBridge +3
#   token_of USER                    the token the stack printed for a demo user

start_stack_in_background() {
  local name=$1
  export DYNAMODB_PORT=$((BASE_PORT)) REST_PORT=$((BASE_PORT + 1)) WS_PORT=$((BASE_PORT + 2)) EVENTS_PORT=$((BASE_PORT + 3))
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"
  STACK_LOG="$repo_root/target/$name-stack.log"
  mkdir -p "$repo_root/target"
  # Its own process group, so that one signal stops the stack and its DynamoDB Local.
  setsid "$repo_root/scripts/stack.sh" >"$STACK_LOG" 2>&1 &
  STACK_PID=$!
  trap 'kill -TERM -- -"$STACK_PID" 2>/dev/null; wait "$STACK_PID" 2>/dev/null || true' EXIT
  for _ in $(seq 1 600); do
    grep -q '^ready; Ctrl-C stops' "$STACK_LOG" && return 0
    kill -0 "$STACK_PID" 2>/dev/null || break
    sleep 0.5
  done
  echo "$name: the local stack did not start; its log:" >&2
  tail -n 40 "$STACK_LOG" >&2
  return 1
}

token_of() {
  awk -v user="$1" '$1 == user { print $3; exit }' "$STACK_LOG"
}
