#!/usr/bin/env bash
# Benchmarks wxdl against curl, wget and aria2c (bench/README.md W1-W11) and prints a markdown
# table: `bench/run.sh > bench/RESULTS.md`, `bench/run.sh --quick` for a smoke run, `--only W10,W11`
# for some rows. Ends with the artifacts' stripped sizes (bench/sizes.sh; with --quick without the
# per-feature builds).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q -p wxdl-cli -p wxdl-testkit --bin wxdl --bin wxdl-h3-serve --bin wxdl-sink
cargo build --release --locked -q -p wxdl --example requests
bash scripts/build-node.sh >/dev/null
python3 bench/run.py "$@"
# W12 (rate-limit accuracy) prints its own table after the others (with --only, when named).
if [[ " $* " == *" --only"* && " $* " != *W12* ]]; then exit 0; fi
if [[ " $* " == *" --quick "* ]]; then python3 bench/w12.py --quick; else python3 bench/w12.py; fi
# The sizes of what ships, beside libcurl, and what each cargo feature costs.
echo
echo "## Sizes (\`bash bench/sizes.sh\`)"
echo
if [[ " $* " == *" --quick "* ]]; then bash bench/sizes.sh --quick; else bash bench/sizes.sh; fi
