#!/bin/sh
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in
# build-fuzz, then runs each one from its committed seed corpus for a bounded
# number of executions. New inputs go to a scratch directory, never into the
# committed corpus. Ends with one line "N passed, M failed" (one per target)
# and exits non-zero if a target crashed, leaked, timed out or failed to build.
#
# Environment:
#   FUZZ_RUNS     executions per target (default 2000)
#   FUZZ_SECONDS  time bound per target in seconds (default 15)
#   FUZZ_TARGETS  which targets (default: all five)
#   FUZZ_SEED     libFuzzer's seed (default 1, so that CI runs repeat)
#   BUILD_DIR     build directory (default: build-fuzz)
# A longer run: FUZZ_RUNS=-1 FUZZ_SECONDS=300 scripts/fuzz-smoke.sh
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-"$top/build-fuzz"}
runs=${FUZZ_RUNS:-2000}
seconds=${FUZZ_SECONDS:-15}
targets=${FUZZ_TARGETS:-"certificate tls-client tls-server dtls verify"}
seed=${FUZZ_SEED:-1}

"$top/scripts/setup-deps.sh"

build_failed() {
  echo "the fuzz build failed (see above)"
  echo "0 passed, 1 failed"
  exit 1
}

setup_args="--werror -Dfuzzing=true -Dpeer_tests=disabled -Db_sanitize=address,undefined
  -Db_lundef=false -Dcpp_args=-fsanitize=fuzzer-no-link"
# shellcheck disable=SC2086  # setup_args is a list of arguments
if [ -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup --reconfigure $setup_args "$build" "$top" || build_failed
else
  CC=clang CXX=clang++ meson setup $setup_args "$build" "$top" || build_failed
fi
meson compile -C "$build" fuzzers || build_failed

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:suppressions=$top/tests/asan.supp"
export LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$top/tests/ubsan.supp"

passed=0
failed=0
mkdir -p "$build/fuzz-artifacts"
for t in $targets; do
  scratch=$(mktemp -d)
  log="$build/fuzz-artifacts/$t.log"
  echo "fuzz-smoke: $t"
  if "$build/tests/fuzz/fuzz-$t" -seed="$seed" -runs="$runs" -max_total_time="$seconds" -timeout=20 \
      -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$build/fuzz-artifacts/$t-" \
      "$scratch" "$top/tests/fuzz/corpus/$t" >"$log" 2>&1; then
    passed=$((passed + 1))
    grep -E '^(#[0-9]+.*(DONE|INITED)|stat::number_of_executed_units|stat::peak_rss)' "$log" || true
  else
    failed=$((failed + 1))
    echo "fuzz-smoke: $t FAILED; the end of $log:"
    tail -n 60 "$log"
  fi
  rm -rf "$scratch"
done

# Every crash found becomes a regression input: each must now run clean,
# except those tests/fuzz/known-failures lists, which must still fail.
for input in "$top"/tests/fuzz/regressions/*/*; do
  [ -f "$input" ] || continue
  t=$(basename "$(dirname "$input")")
  name="$t/$(basename "$input")"
  known=no
  grep -qx "$name" "$top/tests/fuzz/known-failures" && known=yes
  if "$build/tests/fuzz/fuzz-$t" "$input" >"$build/fuzz-artifacts/regression.log" 2>&1; then
    passed=$((passed + 1))
    [ $known = no ] || echo "fuzz-smoke: $name passes now: take it off tests/fuzz/known-failures"
  elif [ $known = yes ]; then
    passed=$((passed + 1))
    echo "fuzz-smoke: $name still fails (known, see tests/fuzz/known-failures)"
  else
    failed=$((failed + 1))
    echo "fuzz-smoke: regression $name FAILED:"
    tail -n 40 "$build/fuzz-artifacts/regression.log"
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
