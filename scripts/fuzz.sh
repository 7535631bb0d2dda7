#!/usr/bin/env bash
# Schemathesis against the local stack, from openapi.yaml: every operation, its default
# checks (no 5xx, answers and status codes as documented, bad input refused, auth
# enforced, undeclared methods refused, ...) but one: use_after_free expects a DELETEd
# resource to be 404, and the API's one DELETE withdraws a request, which stays in its
# requester's history as `cancelled` (the contract). The stateful phase follows the
# document's links (create -> get -> decide / withdraw). Once as a user who may ask to
# join (sam.stranger) and once as an admin (amy.admin), so both sides are reached.
#   FUZZ_EXAMPLES  test cases per operation and phase (default 50)
#   FUZZ_SEED      the seed (default fixed, so a run is repeatable; any number explores more)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
source scripts/background-stack.sh

BASE_PORT="${FUZZ_BASE_PORT:-18100}"
examples="${FUZZ_EXAMPLES:-50}"
seed="${FUZZ_SEED:-20261126}"

start_stack_in_background fuzz
echo "fuzz: local stack on http://127.0.0.1:$REST_PORT; $examples examples per operation, seed $seed"

for user in sam.stranger amy.admin; do
  echo "== fuzz as $user"
  st --config-file scripts/schemathesis.toml run openapi.yaml \
    --url "http://127.0.0.1:$REST_PORT" \
    --header "Authorization: Bearer $(token_of "$user")" \
    --exclude-checks use_after_free \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "$examples" \
    --seed "$seed" \
    --generation-database none \
    --request-timeout 10 \
    --no-color
done
