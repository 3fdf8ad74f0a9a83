#!/usr/bin/env bash
# Prints the README's set-up commands, one a line: the indented lines of its opening block (before
# the first heading). .ci/run runs exactly these, so the README cannot drift from what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
awk '/^#/ { exit } /^    [^ ]/ { sub(/^    /, ""); print }' README.md
