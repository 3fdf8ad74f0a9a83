#!/usr/bin/env bash
# The heavy runs, each bounded in size and time, separate from the default test suite:
#   - the C example (examples/c) making 1000 calls, every other one aborted, under valgrind:
#     no definite or indirect leak, no invalid access (crates/wxdl-c/tests/examples.rs);
#   - soak: SOAK_N downloads (default 10 000) through one Client; fails if RSS, descriptors,
#     tasks or temp files grow;
#   - the same soak through the Node package (bench/node_soak.js): RSS must stay flat;
#   - versions soak: VERSIONS_N downloads (default 400, 3 MiB each) with resume (+ retry) and
#     split against a server whose file changes every 3 requests, that cuts bodies and on half
#     the paths ignores If-Range; every committed file must be one whole version;
#   - the minimal C library (scripts/build-c.sh --minimal, a few minutes): within its 3 MiB
#     budget, and downloading over HTTP/1.1, TLS and HTTP/2 from nginx
#     (crates/wxdl-c/tests/minimal.rs);
#   - properties: PROPTEST_CASES cases (default 20 000) of every property test, release build;
#   - the benchmark's smoke run (bench/run.sh --quick: smaller data, 2 rounds, outputs verified,
#     no timing asserted). It needs curl, wget and aria2c besides nginx and Caddy, and names
#     whatever is missing;
#   - a 1 GiB upload (UPLOAD_SIZE bytes, sparse) to a sink that reads every byte: wxdl's peak
#     RSS must stay under 64 MiB (bench/upload_rss.py);
#   - the network emulation against the kernel's tc netem (NETEM_SIZE bytes at the wifi, 4g
#     and 3g presets; root and a kernel with sch_netem, else it prints why it is skipped);
#   - the rate emulation against the kernel's tc tbf (TBF_SIZE bytes at the 4g and 3g rates,
#     for kernels without netem; root and sch_tbf, else it prints why it is skipped);
#   - mutation testing (scripts/mutants.sh --changed) of the lines this change touched in the
#     modules that keep the contract's promises, within MUTANTS_BUDGET seconds (default 300);
#     compared with MUTANTS_BASE, else the branch point from main, else the previous commit;
#     survivors are reported (MUTANTS_STRICT=1 makes them fail the run).
# CI runs it with smaller bounds: SOAK_N=2000 VERSIONS_N=100 PROPTEST_CASES=5000 bash scripts/heavy.sh
set -euo pipefail
cd "$(dirname "$0")/.."

soak_n=${SOAK_N:-10000}
versions_n=${VERSIONS_N:-400}
cases=${PROPTEST_CASES:-20000}

echo "== soak: $soak_n downloads"
timeout 600 cargo run --release --locked -q -p wxdl --example soak -- "$soak_n"

echo "== versions soak: $versions_n resumed and split downloads of a file that keeps changing"
timeout 600 cargo run --release --locked -q -p wxdl --example soak_versions -- "$versions_n"

echo "== Node soak: $soak_n downloads through the npm package"
bash scripts/build-node.sh >/dev/null
# V8's young generation grows its semispaces (up to 16 MiB each) under a steady allocation rate,
# which lifts RSS to a plateau by ~12 000 downloads whatever the addon does; kept at 1 MiB, RSS
# shows the package's own memory.
timeout 600 node --expose-gc --max-semi-space-size=1 bench/node_soak.js "$soak_n"

echo "== C ABI under valgrind: 1000 calls through the C example, every other one aborted"
timeout 1200 cargo test --release --locked -q -p wxdl-c --test examples -- --ignored --nocapture

echo "== the minimal C library: size budget, HTTP/1.1, TLS and HTTP/2 downloads"
timeout 1200 cargo test --release --locked -q -p wxdl-c --test minimal -- --ignored --nocapture

echo "== properties: $cases cases each"
PROPTEST_CASES=$cases timeout 600 cargo test --release --locked -q -p wxdl --test properties
PROPTEST_CASES=$cases timeout 600 cargo test --release --locked -q -p wxdl-wx --lib option_json

echo "== benchmark smoke"
timeout 600 bash bench/run.sh --quick

echo "== a 1 GiB upload keeps RSS flat"
cargo build --release --locked -q -p wxdl-testkit --bin wxdl-sink
timeout 600 python3 bench/upload_rss.py --size "${UPLOAD_SIZE:-1073741824}"

echo "== emulation against tc netem"
timeout 600 python3 bench/netem.py --size "${NETEM_SIZE:-262144}" --presets wifi,4g,3g

echo "== rate emulation against tc tbf"
timeout 600 python3 bench/tbf.py --sizes "${TBF_SIZE:-262144}" --presets 4g,3g

echo "== mutants on the lines this change touched"
base=${MUTANTS_BASE:-}
if [ -z "$base" ] && git rev-parse --verify -q main >/dev/null; then
  base=$(git merge-base HEAD main)
  [ "$base" = "$(git rev-parse HEAD)" ] && base=""
fi
[ -z "$base" ] && base=$(git rev-parse --verify -q HEAD~1 || true)
if [ -z "$base" ]; then
  echo "mutants: skipped: no revision to compare with (set MUTANTS_BASE)"
else
  # A report, not a gate, unless MUTANTS_STRICT=1: a survivor on a changed line is for the
  # author to kill or explain (bench/MUTANTS.md, .cargo/mutants.toml), and a budget cut leaves
  # the rest of the change unjudged.
  if ! MUTANTS_BUDGET=${MUTANTS_BUDGET:-300} bash scripts/mutants.sh --changed "$base"; then
    echo "mutants: survivors on the changed lines (listed above)"
    [ "${MUTANTS_STRICT:-0}" = 1 ] && exit 1
  fi
fi
