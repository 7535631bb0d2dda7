#!/usr/bin/env bash
# The benchmark (bench/): every function's bootstrap against the hello-world floor,
# through a loopback Lambda Runtime API, reaching a local stack of its own (ports from
# BENCH_BASE_PORT, default 18300). Builds x86_64 release binaries with the release
# profile of Cargo.toml (what `cargo lambda build --release` deploys, for this machine).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
source scripts/background-stack.sh

BASE_PORT="${BENCH_BASE_PORT:-18300}"
# BENCH_PROFILES: the cargo profiles of the binaries measured, the first one for every
# table and the others beside it in the first table (release-o3 and release-z are in Cargo.toml
# for the opt-level comparison). BENCH_ONLY: the functions to measure (default: all),
# besides the floor.
read -r -a profiles <<<"${BENCH_PROFILES:-release}"
profile="${profiles[0]}"
# What is measured (bench/src/main.rs, SUBJECTS): the floor and the functions.
all_functions="get-request list-requests create-request patch-request withdraw-request chat-requests decide-requests
  list-events ws-connect ws-disconnect notifier all"
# shellcheck disable=SC2206 # a list of names, split on purpose
measured=(floor ${BENCH_ONLY:-$all_functions})
# The functions alone, as a deploy builds them: built in one invocation with the bench,
# they would share its crates' features (cargo unifies them) and measure bigger.
for each in "${profiles[@]}"; do
  echo "bench: building ${#measured[@]} binaries (profile $each)"
  started=$SECONDS
  cargo build --profile "$each" --locked --quiet $(printf -- '--package %s ' "${measured[@]}")
  echo "bench: built in $((SECONDS - started)) s"
done
cargo build --release --locked --quiet --package bench

# The profile table (bench/src/profile.rs) samples the functions with perf, in their
# release build with symbols.
if [[ "${BENCH_TABLES:-profile}" == *profile* ]]; then
  command -v perf >/dev/null || { echo "bench: installing linux-perf (apt)"; apt_install linux-perf; }
  profiled=()
  for each in "${measured[@]}"; do [[ "$each" == all ]] || profiled+=("$each"); done
  echo "bench: building ${#profiled[@]} binaries (profile release-symbols)"
  started=$SECONDS
  cargo build --profile release-symbols --locked --quiet $(printf -- '--package %s ' "${profiled[@]}")
  echo "bench: built in $((SECONDS - started)) s"
  export BENCH_SYMBOLS_DIR=target/release-symbols
fi

# BENCH_BASELINE: a git revision (say, the commit before a cut) whose binaries the first
# table measures too, each beside this tree's, in the same run: a cut's before and after. Built
# in a worktree kept at target/bench-baseline, so that a second run rebuilds nothing.
bin_dirs=()
for each in "${profiles[@]}"; do bin_dirs+=("target/$each"); done
if [ -n "${BENCH_BASELINE:-}" ]; then
  baseline_src="target/bench-baseline/src"
  if [ -f "$baseline_src/.git" ]; then # a worktree's .git is a file
    git -C "$baseline_src" checkout --quiet --detach "$BENCH_BASELINE"
  else
    git worktree prune
    git worktree add --quiet --detach "$baseline_src" "$BENCH_BASELINE"
  fi
  echo "bench: building the baseline $(git -C "$baseline_src" log -1 --format='%h %s' | cut -c1-70)"
  started=$SECONDS
  (cd "$baseline_src" && CARGO_TARGET_DIR=../target cargo build --profile "$profile" --locked --quiet \
    $(printf -- '--package %s ' "${measured[@]}"))
  echo "bench: built in $((SECONDS - started)) s"
  bin_dirs+=("target/bench-baseline/target/$profile")
fi

# The arm64 zips are what a deploy uploads: built with cargo-lambda (BENCH_ARM64=0 skips
# it; it is the slow part, about 11 minutes on 2 cores from scratch).
if [ "${BENCH_ARM64:-1}" != 0 ]; then
  echo "bench: building the arm64 zips (cargo lambda build --profile $profile --arm64)"
  export BENCH_ARM64_ZIPS="target/lambda-$profile"
  started=$SECONDS
  cargo lambda build --profile "$profile" --arm64 --output-format zip --lambda-dir "$BENCH_ARM64_ZIPS" --quiet \
    $(printf -- '--package %s ' "${measured[@]}")
  echo "bench: built in $((SECONDS - started)) s"
fi

start_stack_in_background bench
export TABLE_NAME=join-requests JWT_SECRET=local-development-secret EVENT_BUS_NAME=join-requests-local \
  AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
  AWS_ENDPOINT_URL_EVENTBRIDGE="http://127.0.0.1:$EVENTS_PORT" WEBSOCKET_ENDPOINT="http://127.0.0.1:$WS_PORT"
# The recipient of events/notifier/score-updated.json, whose connections the fan-out opens.
export FANOUT_WEBSOCKET_URL="ws://127.0.0.1:$WS_PORT/?token=$(token_of raj.example)"
echo "bench: $(uname -m), $(nproc) cores, $(date -u +%Y-%m-%d)"
./target/release/bench events "${bin_dirs[@]}"
