#!/usr/bin/env bash
# Builds wxdl's C library (crates/wxdl-c) and prints its stripped sizes; the output directory
# is the last line printed.
#   bash scripts/build-c.sh            -> target/release/libwxdl_c.{so,a} (the release profile)
#   bash scripts/build-c.sh --minimal  -> target/minimal/release/libwxdl_c.{so,a}: sized for
#       embedding: wxdl-c's `minimal` features (HTTP/1.1, HTTP/2, TLS, gzip/deflate; no QUIC,
#       brotli or zstd) and the size profile (fat LTO, one codegen unit, opt-level "z",
#       panic = "abort", symbols stripped).
#   --features a,b     wxdl-c features: added to the full build's; instead of `minimal` for the
#                      minimal build (bench/sizes.sh measures what each feature costs this way)
#   --opt-level s      another opt-level for the minimal build (default z)
#   The header is crates/wxdl-c/include/wxdl.h either way.
set -euo pipefail
cd "$(dirname "$0")/.."

minimal=0
features=()
chosen=0
opt_level=z
usage() { echo "usage: $0 [--minimal] [--features a,b] [--opt-level s|z|3]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --minimal) minimal=1 ;;
    --features) [ $# -ge 2 ] || usage; features+=(--features "$2"); chosen=1; shift ;;
    --opt-level) [ $# -ge 2 ] || usage; opt_level=$2; shift ;;
    *) usage ;;
  esac
  shift
done

target=${CARGO_TARGET_DIR:-target}
if [ "$minimal" = 1 ]; then
  # The size profile, as overrides of `release` in its own target dir (the workspace's release
  # build keeps its settings and its artifacts).
  target="$target/minimal"
  export CARGO_PROFILE_RELEASE_LTO=fat
  export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
  export CARGO_PROFILE_RELEASE_OPT_LEVEL=$opt_level
  export CARGO_PROFILE_RELEASE_PANIC=abort
  export CARGO_PROFILE_RELEASE_DEBUG=false
  export CARGO_PROFILE_RELEASE_STRIP=symbols
  # No unwind tables (panics abort): about 350 KB of .eh_frame.
  export RUSTFLAGS="${RUSTFLAGS:-} -C force-unwind-tables=no"
  features+=(--no-default-features)
  [ "$chosen" = 1 ] || features+=(--features minimal)
fi
CARGO_TARGET_DIR="$target" cargo build --release --locked -p wxdl-c "${features[@]}" >&2
out="$target/release"
for lib in libwxdl_c.so libwxdl_c.a; do
  stripped=$(mktemp)
  strip --strip-unneeded -o "$stripped" "$out/$lib" 2>/dev/null || cp "$out/$lib" "$stripped"
  printf '%-14s %10d bytes (%d stripped)\n' "$lib" "$(stat -c %s "$out/$lib")" "$(stat -c %s "$stripped")" >&2
  rm -f "$stripped"
done
echo "$out"
