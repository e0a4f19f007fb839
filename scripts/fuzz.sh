#!/usr/bin/env bash
# Builds the libFuzzer targets of every parser of untrusted input (fuzz/, clang-15 with
# AddressSanitizer and UndefinedBehaviorSanitizer; LibTorch only in torchscript_graph, built
# where LibTorch is found) and runs each on its seed corpus (fuzz/corpus/<target>) and
# regression inputs (fuzz/regressions/<target>).
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   SECONDS per target (default 600), all targets
#        scripts/fuzz.sh --build-only
# Findings are written to $BUILD/crashes/<target>-*; a run with a finding exits 1. Inputs the
# fuzzer discovers go to $BUILD/work/<target>, never into the repository. LRPBENCH_FUZZ_SEED
# fixes libFuzzer's seed (the test suite uses 1, so CI runs are repeatable; 0 = random).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${LRPBENCH_FUZZ_BUILD:-build/fuzz}
ALL=(pickle pth torchscript zip safetensors npy idx experiment composite loc_csv image_header store
     graph_check onnx_graph torchscript_graph)

if [ -z "${LRPBENCH_FUZZ_NO_BUILD:-}" ]; then  # (ctest builds once, then runs targets in parallel)
  mkdir -p "$(dirname "$BUILD")"
  cmake -S fuzz -B "$BUILD" -DCMAKE_CXX_COMPILER=clang++-15 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    > "$BUILD.configure.log" 2>&1 || { cat "$BUILD.configure.log"; exit 1; }
  cmake --build "$BUILD" -j "$(nproc)" > "$BUILD.build.log" 2>&1 || { tail -30 "$BUILD.build.log"; exit 1; }
fi
[ "${1:-}" = "--build-only" ] && exit 0

SECONDS_PER_TARGET=${1:-600}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")

export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer-15 || command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)}
status=0
mkdir -p "$BUILD/logs" "$BUILD/crashes"
for t in "${TARGETS[@]}"; do
  if { [ "$t" = torchscript_graph ] || [ "$t" = onnx_graph ]; } && [ ! -x "$BUILD/fuzz_$t" ]; then
    echo "fuzz_$t: not built (LibTorch or libonnx not found when fuzz/ was configured), skipped"
    continue
  fi
  work="$BUILD/work/$t"
  mkdir -p "$work"
  dirs=("$work")
  for d in "fuzz/corpus/$t" "fuzz/regressions/$t"; do [ -d "$d" ] && dirs+=("$d"); done
  log="$BUILD/logs/$t.log"
  lsan="${LSAN_OPTIONS:-}"  # a target's LeakSanitizer suppressions (fuzz/<target>.lsan.supp)
  [ -f "fuzz/$t.lsan.supp" ] && lsan="${lsan:+$lsan:}suppressions=$PWD/fuzz/$t.lsan.supp"
  if LSAN_OPTIONS="$lsan" "$BUILD/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=20 -rss_limit_mb=2560 \
      -seed="${LRPBENCH_FUZZ_SEED:-0}" \
      -print_final_stats=1 -artifact_prefix="$BUILD/crashes/$t-" "${dirs[@]}" > "$log" 2>&1; then
    execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
    echo "fuzz_$t: ${execs:-?} executions in ${SECONDS_PER_TARGET} s, no finding"
  else
    echo "fuzz_$t: FINDING (log $log, inputs $BUILD/crashes/$t-*)"
    grep -m 3 -E "ERROR|runtime error|SUMMARY" "$log" || tail -5 "$log"
    status=1
  fi
done
exit $status
