#!/usr/bin/env bash
# Prints, as markdown, the stripped sizes of every artifact wxdl ships — the CLI, the Node addon,
# the C library full and minimal (.so and .a) — beside the system's libcurl for reference, then
# what each cargo feature costs in the minimal libwxdl_c.so (the minimal build with that one
# feature added or taken away; scripts/build-c.sh --features).
#   bash bench/sizes.sh           everything (a dozen release builds the first time)
#   bash bench/sizes.sh --quick   the artifacts only, no per-feature builds
# "Stripped" is `strip --strip-unneeded` of a copy (what a package would ship); the minimal
# library is built stripped. Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
  esac
done

target=${CARGO_TARGET_DIR:-target}
mib() { awk -v b="$1" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }
stripped() {
  local copy
  copy=$(mktemp)
  strip --strip-unneeded -o "$copy" "$1" 2>/dev/null || cp "$1" "$copy"
  stat -c %s "$copy"
  rm -f "$copy"
}
row() { # name, file
  local n
  n=$(stripped "$2")
  printf '| %s | %s | %d | %s |\n' "$1" "${2#"$PWD"/}" "$n" "$(mib "$n")"
}

echo "building the CLI, the Node addon and the C library (full and minimal)" >&2
cargo build --release --locked -q -p wxdl-cli --bin wxdl >&2
bash scripts/build-node.sh >&2
full=$(bash scripts/build-c.sh)
minimal=$(bash scripts/build-c.sh --minimal)
curl_lib=$(readlink -f /usr/lib/*/libcurl.so.4 2>/dev/null | head -n 1 || true)

echo "| artifact | file | stripped bytes | |"
echo "|---|---|---:|---:|"
row "CLI (\`wxdl\`)" "$target/release/wxdl"
row "Node addon" "crates/wxdl-node/npm/wxdl.node"
row "C library, full (.so)" "$full/libwxdl_c.so"
row "C library, full (.a)" "$full/libwxdl_c.a"
row "C library, minimal (.so)" "$minimal/libwxdl_c.so"
row "C library, minimal (.a)" "$minimal/libwxdl_c.a"
if [ -n "$curl_lib" ]; then
  row "system libcurl (reference; links OpenSSL, nghttp2 and more)" "$curl_lib"
else
  echo "| system libcurl | not found | | |"
fi
[ "$quick" = 1 ] && exit 0

# The minimal .so with other features, each built in turn (the last build is the minimal one
# again, so target/minimal ends as the script's --minimal left it).
base=$(stat -c %s "$minimal/libwxdl_c.so")
measure() { # label, build-c.sh arguments...
  local label=$1
  shift
  echo "measuring: $label" >&2
  bash scripts/build-c.sh --minimal "$@" >/dev/null
  local n delta
  n=$(stat -c %s "$minimal/libwxdl_c.so")
  delta=$((n - base))
  printf '| %s | %d | %+d | %+.0f KiB |\n' "$label" "$n" "$delta" "$(awk -v d="$delta" 'BEGIN { print d / 1024 }')"
}
echo
echo "| minimal libwxdl_c.so (\`minimal\` = gzip, no-log) | bytes | vs minimal | |"
echo "|---|---:|---:|---:|"
printf '| minimal | %d | 0 | 0 KiB |\n' "$base"
measure "+ http3 (quinn, h3)" --features minimal,http3
measure "+ brotli" --features minimal,brotli
measure "+ zstd" --features minimal,zstd
measure "+ wx fs-codecs (unzip, md5/sha1, brotli files)" --features minimal,wxdl-wx/fs-codecs
measure "- gzip (no content decoding at all)" --features no-log
measure "- no-log (tracing and log macros kept)" --features gzip
measure "opt-level \"s\" instead of \"z\"" --opt-level s
measure "every feature (the full library, size profile)" \
  --features minimal,http3,brotli,zstd,wxdl-wx/fs-codecs
bash scripts/build-c.sh --minimal >/dev/null
