#!/usr/bin/env bash
# Runs the whole test suite, installing first what the tests need (real nginx and Caddy;
# node and npm for the HAR validator and the Node package).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  missing+=(nginx-light)
fi
if ! command -v caddy >/dev/null 2>&1; then
  missing+=(caddy)
fi
# The HAR test validates with the npm package har-validator, which it installs itself.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The Node package's addon, for its node:test suite and the npm pack check (wxdl-testkit's
# node test drives them against nginx).
bash scripts/build-node.sh

# The addon is built: the Node package's tests and the Jest example (examples/jest, which
# `npm ci` installs from its lockfile) must run here, not skip.
export WXDL_REQUIRE_NODE=1

# Every test binary runs (no fail-fast); cargo's own output is kept, then one total line.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log" || status=$?
awk '/^test result:/ {
       for (i = 1; i <= NF; i++) {
         if ($(i+1) ~ /^passed/) p += $i
         if ($(i+1) ~ /^failed/) f += $i
         if ($(i+1) ~ /^ignored/) s += $i
       }
     }
     END { printf "\nwxdl tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
