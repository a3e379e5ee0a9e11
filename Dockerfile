# ratelimitd image: `make build` (or `docker build -t ratelimitd .`), `make init` to start it.
# Two stages on debian:bookworm-slim: `build` compiles with the -dev packages that
# scripts/install-deps.sh lists; the runtime stage gets only the two binaries and the shared
# libraries they link (checked with ldd).
#
# The build context has no .git, so `make build` passes what git knows as build arguments:
# RL_REVISION (`git describe --always --dirty`, shown by --version and /metrics), RL_VERSION
# (CMakeLists.txt's) and RL_SOURCE (the origin remote) for the OCI labels.

FROM debian:bookworm-slim AS build
ARG DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# The package list is the native one; copied alone first so a source change keeps this layer.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN RL_DEPS_NO_TEST_TOOLS=1 scripts/install-deps.sh
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRL_BUILD_TESTS=OFF \
 && cmake --build build -j"$(nproc)" --target ratelimitd rlctl
# The revision only reaches common/version.cpp: a new one recompiles that file and relinks.
ARG RL_REVISION=
RUN cmake -S . -B build -DRL_REVISION="$RL_REVISION" \
 && cmake --build build -j"$(nproc)" --target ratelimitd rlctl \
 && install -D -s -m 0755 -t /out/bin build/ratelimitd build/rlctl
# `make tests`: --target build --build-arg RL_BUILD_TESTS=ON adds the test executables to the
# same build tree (the layer above is reused), then runs ctest in a container of this stage.
ARG RL_BUILD_TESTS=OFF
RUN if [ "$RL_BUILD_TESTS" = ON ]; then \
      cmake -S . -B build -DRL_BUILD_TESTS=ON && cmake --build build -j"$(nproc)"; \
    fi

FROM debian:bookworm-slim AS runtime
ARG DEBIAN_FRONTEND=noninteractive
# What `ldd ratelimitd rlctl` resolves to: librocksdb7.8 (with gflags, snappy, lz4, zstd, bz2,
# zlib), libfmt9, libhttp-parser2.9, libssl3 (libcrypto), libsystemd0 (sd_notify, a no-op in a
# container), libjemalloc2 (ratelimitd's allocator), libcurl4 (rlctl); ca-certificates lets
# rlctl --server reach an https URL. No curl: the HEALTHCHECK is `ratelimitd healthcheck`.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      librocksdb7.8 libfmt9 libhttp-parser2.9 libssl3 libsystemd0 libjemalloc2 libcurl4 \
      ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*
RUN groupadd --gid 10001 ratelimitd \
 && useradd --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin ratelimitd \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/ratelimitd
COPY --from=build /out/bin/ /usr/local/bin/

# The data directory: RocksDB, admin.token (0600) and admin.url. A new named volume takes the
# owner 10001 from the image; a bind-mounted host directory must be writable by uid 10001.
# Nothing else is written, so the container runs with a read-only root filesystem
# (`docker run --read-only`, `read_only: true` in docker-compose.yml).
ENV RL_DATA_DIR=/var/lib/ratelimitd
VOLUME /var/lib/ratelimitd
WORKDIR /var/lib/ratelimitd
USER 10001:10001

# Public API. The admin listener stays on 127.0.0.1:8081 inside the container (the default):
# `docker exec <container> rlctl ...` reaches it through $RL_DATA_DIR/admin.url and admin.token.
EXPOSE 8080
# GET /healthz on RL_LISTEN's port (8080 by default), exit 0 on 2xx.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["ratelimitd", "healthcheck", "--timeout", "2"]
# Exec form: ratelimitd is PID 1 and gets SIGTERM itself (stops accepting, flushes, exits 0).
STOPSIGNAL SIGTERM
CMD ["ratelimitd"]

# OCI labels, from `make build`'s build arguments.
ARG RL_VERSION=unknown
ARG RL_REVISION=unknown
ARG RL_SOURCE=
LABEL org.opencontainers.image.title="ratelimitd" \
      org.opencontainers.image.description="Exact per-user API rate limiter (HTTP, RocksDB) with its admin CLI rlctl" \
      org.opencontainers.image.version="$RL_VERSION" \
      org.opencontainers.image.revision="$RL_REVISION" \
      org.opencontainers.image.source="$RL_SOURCE" \
      org.opencontainers.image.licenses="NOASSERTION"
