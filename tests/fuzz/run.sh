#!/usr/bin/env bash
# Fuzzing campaign of the parsers (docs/reliability.md, "Fuzzing").
#   tests/fuzz/run.sh [TARGET...]     (default: preset set_assignments stored_run cifar)
# Builds the libFuzzer targets (clang, ASan+UBSan, ADAMGN_FUZZ=ON) in build-fuzz/, then runs each
# target in turn from its seed corpus tests/fuzz/corpus/TARGET/ (read only: new inputs go to
# build-fuzz/fuzz/corpus/TARGET/) for RUNS inputs. Settings (environment): RUNS (default 1000000),
# MAX_TIME (seconds per target, a safety cap; default 1200), TIMEOUT (seconds per input; default
# 10), RSS_MB (memory cap; default 2048), JOBS (build parallelism; default 2).
# Prints one line per target: inputs run, seconds, exit status; a crash, timeout or sanitizer
# report leaves its input in build-fuzz/fuzz/artifacts/TARGET/ and makes the script exit non-zero.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build="$root/build-fuzz"
runs=${RUNS:-1000000}
max_time=${MAX_TIME:-1200}
timeout=${TIMEOUT:-10}
rss=${RSS_MB:-2048}
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(preset set_assignments stored_run cifar)

cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DADAMGN_FUZZ=ON -DADAMGN_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
for t in "${targets[@]}"; do
  work="$build/fuzz/corpus/$t" artifacts="$build/fuzz/artifacts/$t/" log="$build/fuzz/$t.log"
  mkdir -p "$work" "$artifacts"
  start=$SECONDS rc=0
  "$build/tests/fuzz/fuzz_$t" -runs="$runs" -max_total_time="$max_time" -timeout="$timeout" \
    -rss_limit_mb="$rss" -artifact_prefix="$artifacts" -print_final_stats=1 \
    "$work" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  done_runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  found=$(find "$artifacts" -type f | wc -l)
  echo "fuzz_$t: $done_runs inputs in $((SECONDS - start)) s, exit $rc, $found artifact(s) in $artifacts"
  if [[ $rc -ne 0 || $found -ne 0 ]]; then
    status=1
    grep -m1 -A30 -E 'ERROR: |runtime error|deadly signal|uncaught exception|terminate called' "$log" || true
  fi
done
exit $status
