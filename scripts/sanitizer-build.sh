# Sourced by scripts/sanitize.sh and scripts/fuzz.sh: the one ASan+UBSan build both use.
# clang-14 with libFuzzer's coverage hooks compiled in (-fsanitize=fuzzer-no-link), the test
# suite and the fuzz targets side by side in build-asan. -O1 with line tables only: reports still
# name file and line, and the build takes far less than -O2 -g on CI's two cores.
JOBS=${JOBS:-$(nproc)}
CLANG=${CLANG:-clang++-14}
SANITIZE_OPT="-O1 -gline-tables-only"
command -v "$CLANG" >/dev/null ||
    { echo "$CLANG is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }

configure_asan_build() {
    cmake -S . -B build-asan -DCMAKE_CXX_COMPILER="$CLANG" -DCMAKE_BUILD_TYPE=Sanitize \
        -DRL_BUILD_TESTS=ON -DRL_FUZZ=ON -DCMAKE_CXX_FLAGS_SANITIZE="$SANITIZE_OPT" \
        -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
        -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
}
