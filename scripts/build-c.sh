#!/usr/bin/env bash
# Builds wxdl's C library (crates/wxdl-c) and prints its stripped sizes; the output directory
# is the last line printed.
#   bash scripts/build-c.sh            -> target/release/libwxdl_c.{so,a} (the release profile)
#   bash scripts/build-c.sh --minimal  -> target/minimal/release/libwxdl_c.{so,a}: sized for
#       embedding (fat LTO, one codegen unit, opt-level "z", panic = "abort", symbols stripped).
#       The header is crates/wxdl-c/include/wxdl.h either way.
set -euo pipefail
cd "$(dirname "$0")/.."

minimal=0
for arg in "$@"; do
  case "$arg" in
    --minimal) minimal=1 ;;
    *) echo "usage: $0 [--minimal]" >&2; exit 2 ;;
  esac
done

target=${CARGO_TARGET_DIR:-target}
if [ "$minimal" = 1 ]; then
  # The size profile, as overrides of `release` in its own target dir (the workspace's release
  # build keeps its settings and its artifacts).
  target="$target/minimal"
  export CARGO_PROFILE_RELEASE_LTO=fat
  export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
  export CARGO_PROFILE_RELEASE_OPT_LEVEL=z
  export CARGO_PROFILE_RELEASE_PANIC=abort
  export CARGO_PROFILE_RELEASE_DEBUG=false
  export CARGO_PROFILE_RELEASE_STRIP=symbols
fi
CARGO_TARGET_DIR="$target" cargo build --release --locked -p wxdl-c >&2
out="$target/release"
for lib in libwxdl_c.so libwxdl_c.a; do
  stripped=$(mktemp)
  strip --strip-unneeded -o "$stripped" "$out/$lib" 2>/dev/null || cp "$out/$lib" "$stripped"
  printf '%-14s %10d bytes (%d stripped)\n' "$lib" "$(stat -c %s "$out/$lib")" "$(stat -c %s "$stripped")" >&2
  rm -f "$stripped"
done
echo "$out"
