#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 (ASan+UBSan) in build-asan and runs each for
# FUZZ_SECONDS (default 30) from its seed corpus in fuzz/corpus/<target>/. Fails on the first
# crash, leak, sanitizer report or timeout; the input that caused it is left in
# build-asan/fuzz/artifacts/. New inputs found go to build-asan/fuzz/corpus/ (the repo's seeds stay as
# they are). FUZZ_TARGETS picks targets, e.g. FUZZ_TARGETS=request_fuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sanitizer-build.sh
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
targets=(${FUZZ_TARGETS:-request_fuzzer csv_import_fuzzer storage_codec_fuzzer})

start=$SECONDS
configure_asan_build
cmake --build build-asan -j"$JOBS" --target "${targets[@]}"
echo "fuzz: built in $((SECONDS - start)) s"

mkdir -p build-asan/fuzz/artifacts
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for t in "${targets[@]}"; do
    mkdir -p "build-asan/fuzz/corpus/$t"
    echo "fuzz: $t for ${FUZZ_SECONDS} s"
    log="build-asan/fuzz/$t.log"
    if ! "build-asan/fuzz/$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="build-asan/fuzz/artifacts/$t-" \
        "build-asan/fuzz/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "fuzz: $t FAILED (whole log: $log; the input is in build-asan/fuzz/artifacts/)" >&2
        exit 1
    fi
    grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' "$log" | sed "s/^/fuzz: $t /"
done
echo "fuzz: all ${#targets[@]} targets ran ${FUZZ_SECONDS} s each without a finding ($((SECONDS - start)) s in all)"
