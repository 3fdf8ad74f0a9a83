#!/usr/bin/env bash
# Mutation testing (cargo-mutants) of the modules that keep the contract's promises, each judged
# by its unit tests plus the integration tests that exercise it (the table below).
#
#   bash scripts/mutants.sh                 every module of the table
#   bash scripts/mutants.sh policy redirect those modules
#   bash scripts/mutants.sh --changed BASE  only the mutants on lines changed since BASE, in the
#                                           modules of the table a change touched (CI, heavy.sh)
#   bash scripts/mutants.sh --missed [m...] only the mutants the last full run of each module
#                                           missed (after new tests: are they caught now?)
#
# Bounds: MUTANTS_TEST_TIMEOUT seconds per test run of one mutant (default 60),
# MUTANTS_MODULE_BUDGET seconds per module (default 3600), MUTANTS_BUDGET seconds for the whole
# run (default 6 h; heavy.sh gives the --changed mode a few minutes). One mutant at a time
# (in place, so -j 1): the machine's other work keeps its cores.
# A module cut by its budget says so in the table; the run goes on with the next one. A mutant
# whose tests run past the per-run bound (a hang) counts as caught; one that does not build
# (unviable) is not counted. The run fails when a mutant survived or the tests fail unmutated.
#
# cargo-mutants runs in place in a scratch copy of the tree (`$CARGO_TARGET_DIR/mutants/src`),
# never in this one, building into `$CARGO_TARGET_DIR/mutants/target` (first a copy of the
# tree's debug builds). Results: `$CARGO_TARGET_DIR/mutants/out/<module>/mutants.out/` (a
# `--missed` run's in `<module>.missed/`, a `--changed` run's in `<module>.changed/`)
# (caught.txt, missed.txt, timeout.txt, unviable.txt), and a table on stdout in the form
# bench/MUTANTS.md keeps. When cargo-mutants is missing it is installed
# (`cargo install --locked cargo-mutants`); when that fails the run is skipped with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

# module -> the test targets that judge it (`lib` = the crate's unit tests). Modules of the wx
# layer's option parsing are named `wx.<file>` (crates/wxdl-wx/src/<file>.rs, judged by the
# wxdl-wx crate's tests); the others are wxdl's (crates/wxdl/src/<layer>/<file>.rs).
declare -A TESTS=(
  [policy]="lib nginx fault_matrix profile properties"
  [disposition]="lib"
  [redirect]="lib redirects nginx fault_matrix http_edges h2 profile"
  [resume]="lib resume resume_totals fault_matrix"
  [partial]="lib resume resume_totals fault_matrix faults"
  [quota]="lib faults fault_matrix nginx trust"
  [pinned]="lib lifecycle faults flow"
  [publish]="lib flow faults resume nginx surface"
  [sandbox]="lib faults trust properties"
  [split]="lib split split_short faults http_edges"
  [integrity]="lib flow resume split"
  [progress]="lib progress faults nginx split surface"
  [wx.download]="lib call results"
  [wx.request]="lib call request results"
  [wx.upload]="lib call upload results"
  [wx.value]="lib call request upload results"
  [wx.config]="lib call results"
)
ORDER=(policy disposition redirect resume partial quota pinned publish sandbox split integrity progress
  wx.download wx.request wx.upload wx.value wx.config)

changed_base=""
missed_only=0
modules=()
while [ $# -gt 0 ]; do
  case "$1" in
    --changed)
      changed_base=${2:?--changed needs a base revision}
      shift 2
      ;;
    --missed)
      missed_only=1
      shift
      ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d'
      exit 0
      ;;
    *)
      [ -n "${TESTS[$1]:-}" ] || {
        echo "unknown module $1 (known: ${ORDER[*]})" >&2
        exit 2
      }
      modules+=("$1")
      shift
      ;;
  esac
done

# A module's file, wherever its layer folder keeps it (store/sandbox.rs, net/policy.rs, …).
module_file() {
  case "$1" in
    wx.*) echo "crates/wxdl-wx/src/${1#wx.}.rs" ;;
    *) find crates/wxdl/src -name "$1.rs" -print -quit ;;
  esac
}
# The package whose tests judge a module.
module_package() {
  case "$1" in wx.*) echo wxdl-wx ;; *) echo wxdl ;; esac
}

if [ -n "$changed_base" ]; then
  mapfile -t touched < <(git diff --name-only "$changed_base" -- crates/wxdl/src crates/wxdl-wx/src)
  for m in "${ORDER[@]}"; do
    for f in "${touched[@]}"; do
      [ "$f" = "$(module_file "$m")" ] && modules+=("$m")
    done
  done
  if [ ${#modules[@]} -eq 0 ]; then
    echo "mutants: no module of the table changed since $changed_base; nothing to run"
    exit 0
  fi
elif [ ${#modules[@]} -eq 0 ]; then
  modules=("${ORDER[@]}")
fi

if ! command -v cargo-mutants >/dev/null 2>&1; then
  echo "mutants: installing cargo-mutants"
  if ! cargo install --locked cargo-mutants >/dev/null 2>&1 || ! command -v cargo-mutants >/dev/null 2>&1; then
    echo "mutants: skipped: cargo-mutants could not be installed (cargo install --locked cargo-mutants failed or ~/.cargo/bin is not on PATH)"
    exit 0
  fi
fi

main_target=${CARGO_TARGET_DIR:-$repo/target}
case "$main_target" in /*) ;; *) main_target=$repo/$main_target ;; esac
work=$main_target/mutants
scratch=$work/src
out=$work/out
# The scratch tree builds into a target dir of its own: cargo names a workspace crate's build by
# its path inside the workspace, so a scratch sharing the tree's target dir would swap mutated
# builds in for the tree's own. It starts as a copy of the tree's debug builds (times kept, so
# the dependencies are fresh) and stays warm from one run to the next.
export CARGO_TARGET_DIR=$work/target
if [ ! -d "$CARGO_TARGET_DIR/debug" ] && [ -d "$main_target/debug" ]; then
  mkdir -p "$CARGO_TARGET_DIR"
  cp -a --reflink=auto "$main_target/debug" "$CARGO_TARGET_DIR/debug"
fi
test_timeout=${MUTANTS_TEST_TIMEOUT:-60}
module_budget=${MUTANTS_MODULE_BUDGET:-3600}
deadline=$(($(date +%s) + ${MUTANTS_BUDGET:-21600}))
mkdir -p "$out"

# Brings the scratch copy to the tree as it is (tracked and untracked files, not ignored ones).
# Only files whose content differs are written, and they get the time of writing: cargo judges
# freshness by time, and a file put back with its old time after a mutant was built from it
# (an interrupted run) would leave the mutant's build in use. Unchanged files keep their time,
# so the scratch build stays incremental from one run to the next.
sync_copy() {
  mkdir -p "$scratch"
  local f
  while IFS= read -r -d '' f; do
    [ -f "$f" ] || continue
    if ! cmp -s "$f" "$scratch/$f"; then
      mkdir -p "$scratch/$(dirname "$f")"
      cp "$f" "$scratch/$f.sync" && mv -f "$scratch/$f.sync" "$scratch/$f"
      touch "$scratch/$f"
    fi
  done < <(git ls-files -co --exclude-standard -z)
}

# Counts a cargo-mutants list file's lines (0 when absent).
count() { if [ -f "$1" ]; then grep -c . "$1" || true; else echo 0; fi; }

rows=()
ran=()
broken=0
for m in "${modules[@]}"; do
  now=$(date +%s)
  left=$((deadline - now))
  if [ "$left" -le 60 ]; then
    rows+=("| $m | not run: the run's budget (MUTANTS_BUDGET) was spent | | | | | |")
    continue
  fi
  budget=$((left < module_budget ? left : module_budget))
  args=(-p "$(module_package "$m")")
  for t in ${TESTS[$m]}; do
    if [ "$t" = lib ]; then args+=(-C --lib); else args+=(-C "--test=$t"); fi
  done
  sync_copy
  extra=()
  name=$m
  if [ -n "$changed_base" ]; then
    # Its own results: a look at changed lines never replaces a module's full run.
    name=$m.changed
    git diff "$changed_base" -- "$(module_file "$m")" >"$work/$m.diff"
    extra+=(--in-diff "$work/$m.diff")
  elif [ "$missed_only" = 1 ]; then
    # By name without line:col (tests added since may have moved lines), regex-escaped.
    name=$m.missed
    list=$out/$m/mutants.out/missed.txt
    if [ "$(count "$list")" -eq 0 ]; then
      rows+=("| $m (missed) | nothing missed in the last full run | | | | | |")
      continue
    fi
    while IFS= read -r line; do
      extra+=(-F "$(printf '%s' "${line#*: }" | sed 's/[][\\.^$*+?(){}|/]/\\&/g')")
    done <"$list"
  fi
  echo "== $name: tests ${TESTS[$m]}; budget ${budget}s"
  rm -rf "${out:?}/$name"
  ran+=("$name")
  started=$(date +%s)
  status=0
  (cd "$scratch" && timeout --kill-after=30 "$budget" cargo mutants --in-place --no-shuffle \
    --timeout "$test_timeout" --build-timeout 600 \
    -f "$(module_file "$m")" "${extra[@]}" "${args[@]}" -o "$out/$name") || status=$?
  took=$(($(date +%s) - started))
  dir=$out/$name/mutants.out
  caught=$(count "$dir/caught.txt")
  missed=$(count "$dir/missed.txt")
  timeouts=$(count "$dir/timeout.txt")
  unviable=$(count "$dir/unviable.txt")
  viable=$((caught + missed + timeouts))
  pct=$(awk -v c=$((caught + timeouts)) -v v=$viable 'BEGIN { if (v) printf "%.1f %%", 100 * c / v; else print "-" }')
  note=""
  case $status in
    0 | 2 | 3) ;; # 2: some mutants missed, 3: some timed out (cargo-mutants' exit codes)
    124 | 137) note=" (cut at ${budget} s)" ;;
    4)
      note=" (the tests fail without a mutant: see $dir/log/baseline.log)"
      broken=1
      ;;
    *)
      note=" (cargo-mutants exit $status)"
      broken=1
      ;;
  esac
  rows+=("| $name | $((caught + timeouts)) / $viable | $pct | $missed | $timeouts | $unviable | $((took / 60)) min $((took % 60)) s |$note")
  if [ "$missed" -gt 0 ]; then
    echo "-- $name: missed"
    cat "$dir/missed.txt"
  fi
done

echo
echo "| module | caught / viable | % | missed | timeout | unviable | time |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
# The run fails when a mutant survived in a module it ran (missed.txt names them; equivalent
# mutants are excluded, with their reasons, in .cargo/mutants.toml).
total_missed=0
for name in "${ran[@]}"; do
  total_missed=$((total_missed + $(count "$out/$name/mutants.out/missed.txt")))
done
[ "$total_missed" -eq 0 ] && [ "$broken" -eq 0 ]
