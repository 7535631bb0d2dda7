#!/usr/bin/env bash
# Every check CI runs: formatting, lints, the SAM template, unit and integration tests.
# The integration tests start their own DynamoDB Local (see tests/src/lib.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "== cargo fmt";    cargo fmt --all -- --check
echo "== cargo clippy"; cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cfn-lint";     cfn-lint template.yaml
echo "== sam validate"; sam validate --lint --region us-east-1 --template template.yaml
echo "== checkov";      checkov -f template.yaml --framework cloudformation --compact --quiet
echo "== cargo test"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"
# cargo prints one result line per test binary (many with 0 tests); the closing line
# sums them so the total is read in one place.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' "$log"
