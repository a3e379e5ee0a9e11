#!/usr/bin/env bash
# Sanitizer runs for CI and by hand:
#   scripts/sanitize.sh asan   the whole test suite built with ASan+UBSan (build-asan)
#   scripts/sanitize.sh tsan   the tests that run threads, built with TSan (build-tsan)
#   scripts/sanitize.sh        both
# Any report fails the run: UBSan and TSan halt on the first one, ASan always does, and LSan
# checks every process at exit (a leaking ratelimitd exits non-zero, which its test sees).
# build-asan is the one scripts/fuzz.sh uses (clang-14, coverage for libFuzzer included), so
# CI compiles the sources once for both.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sanitizer-build.sh
what=${1:-all}

elapsed() { echo "sanitize: $1 took $((SECONDS - $2)) s"; }

run_asan() {
    local start=$SECONDS
    echo "sanitize: ASan+UBSan build in build-asan"
    configure_asan_build
    cmake --build build-asan -j"$JOBS"
    # Every test but the cluster acceptance test, whose availability bounds (seconds of 503 per
    # failure) hold for unsanitized nodes (ASan slows every hop); the cluster code it drives runs under ASan in
    # ownership_tests, catalog_sync_tests, etcd_catalog_writer_tests and cluster_init_tests.
    echo "sanitize: every test under ASan+UBSan (the cluster acceptance test natively only)"
    ASAN_OPTIONS=detect_leaks=1:strict_init_order=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        ctest --test-dir build-asan --output-on-failure -j"$JOBS" -E '^cluster_acceptance_tests$'
    elapsed "ASan+UBSan" "$start"
}

# The tests whose threads share memory in our code: the limiter from many threads, the store
# and the usage recorder with writers racing faults and reopens, group commit, and the real
# server (key index, admin changes, recovery, roll-ups folded while reports read them, hostile
# clients) under concurrent load: all of storage_tests, service_tests, integration_tests,
# usage_views_tests and hostile_input_tests. Debian's RocksDB is not built with TSan;
# scripts/tsan.supp says what that makes TSan misread, and what is muted for it (no frame of
# ours).
run_tsan() {
    local start=$SECONDS
    echo "sanitize: TSan build in build-tsan"
    cmake -S . -B build-tsan -DCMAKE_CXX_COMPILER="$CLANG" -DCMAKE_BUILD_TYPE=Sanitize \
        -DCMAKE_CXX_FLAGS_SANITIZE="$SANITIZE_OPT" \
        -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
        -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
    cmake --build build-tsan -j"$JOBS" --target limiter_tests storage_tests service_tests \
        integration_tests usage_views_tests hostile_input_tests
    export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/scripts/tsan.supp"
    echo "sanitize: threaded tests under TSan"
    build-tsan/tests/limiter_tests --warn NoAssertions "[limiter]"
    for t in storage_tests service_tests integration_tests usage_views_tests hostile_input_tests; do
        echo "sanitize: $t under TSan"
        build-tsan/tests/$t --warn NoAssertions
    done
    elapsed "TSan" "$start"
}

case "$what" in
    asan) run_asan ;;
    tsan) run_tsan ;;
    all) run_asan; run_tsan ;;
    *) echo "usage: scripts/sanitize.sh [asan|tsan|all]" >&2; exit 2 ;;
esac
