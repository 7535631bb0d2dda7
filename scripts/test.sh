#!/usr/bin/env bash
# Every check CI runs: formatting, lints, the SAM template, the API documents, unit,
# integration and end-to-end tests, fuzzing, CORS in a real browser, and every sample
# event through `sam local invoke`. The integration tests start their own DynamoDB
# Local (see crates/dev/src/kit/mod.rs); fuzz.sh, browser.sh and sam-local.sh start
# their own too.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "== cargo fmt";    cargo fmt --all -- --check
echo "== cargo clippy"; cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo doc";    RUSTDOCFLAGS="-D rustdoc::broken_intra_doc_links -D rustdoc::private_intra_doc_links" \
                          cargo doc --workspace --no-deps --locked --quiet --exclude bench --exclude all --exclude floor
# cfn-lint's own rules and awslabs' serverless rules; a finding the template accepts is
# suppressed on its resource with a one-line reason.
echo "== cfn-lint";     cfn-lint --append-rules cfn_lint_serverless.rules -- template.yaml
echo "== sam validate"; sam validate --lint --region us-east-1 --template template.yaml
echo "== checkov";      checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download
echo "== openapi.yaml"; openapi-spec-validator openapi.yaml
echo "== asyncapi.yaml"; node scripts/validate-asyncapi.mjs asyncapi.yaml
echo "== bus.asyncapi.yaml"; node scripts/validate-asyncapi.mjs bus.asyncapi.yaml

# Schemathesis fuzzes its own local stack (own ports, own DynamoDB Local) while the
# cargo tests run: the two share no state, and the machine has the cores for both.
echo "== cargo test, and scripts/fuzz.sh beside it (its log: target/fuzz.log)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo build --package dev --locked --quiet
scripts/fuzz.sh >target/fuzz.log 2>&1 &
fuzz_pid=$!
cargo test --workspace --locked 2>&1 | tee "$log"
echo "== fuzz"
if ! wait "$fuzz_pid"; then
  cat target/fuzz.log
  echo "fuzz: Schemathesis found failures (above)" >&2
  exit 1
fi
grep -E '^== fuzz as|^  [0-9]+ generated|^=+ .* in [0-9.]+s =+$' target/fuzz.log
# cargo prints one result line per test binary (many with 0 tests); the closing line
# sums them so the total is read in one place.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' "$log"

# CORS and the console in a real browser (Chromium through Playwright), against its own stack.
echo "== browser"
scripts/browser.sh

# The TypeScript client: its generated types, tsc, and Node's tests against its own stack.
echo "== TypeScript client"
scripts/client-test.sh

# Last, because it needs the most: a release build of every function for SAM, and a
# container per invoke.
echo "== sam build + sam local invoke of every sample event"
scripts/sam-local.sh
