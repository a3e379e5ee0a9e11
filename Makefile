# ratelimitd: native workflow, then the Docker one. `make help` lists the targets.
MAKEFLAGS  += --no-print-directory
BUILD_DIR  ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
DATA_DIR   ?= ./data

.PHONY: help deps configure bins compile run stop test format clean bench micro-bench
.PHONY: soak sanitize fuzz deb deb-test
.PHONY: init build up down logs bash tests docker-test docker-ready compose-ready

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: ## Install the Debian packages that are missing (uses sudo when not root)
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) >/dev/null

compile: configure ## Build ratelimitd, rlctl and the tests natively, in build/
	@cmake --build $(BUILD_DIR) -j$(JOBS)

bins: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS) --target ratelimitd rlctl

run: bins ## Build, then start ratelimitd in the background on ./data
	@RL_DATA_DIR=$(DATA_DIR) scripts/run-local.sh $(BUILD_DIR)/ratelimitd

stop: ## Stop the ratelimitd started by `make run`
	@if [ -f $(DATA_DIR)/ratelimitd.pid ]; then kill $$(cat $(DATA_DIR)/ratelimitd.pid) 2>/dev/null || true; rm -f $(DATA_DIR)/ratelimitd.pid; echo stopped; fi

test: compile ## Run every test: unit and integration (real binaries on free ports)
	@cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

bench: deps ## Benchmark ratelimitd vs nginx limit_req and a bare restinio responder (Release, build-rel; ROUNDS, DURATION, SCENARIOS: spread hot ceiling, or also plan, cluster (2 nodes behind HAProxy); SYSCALL_SECONDS)
	@cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release -DRL_BUILD_TESTS=OFF >/dev/null
	@cmake --build build-rel -j2 --target ratelimitd rlctl bare_responder
	@BUILD=build-rel bench/run.sh

micro-bench: deps ## Google Benchmark micro-benchmarks of the /limit path without sockets (Release, build-rel)
	@cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release -DRL_BUILD_TESTS=OFF >/dev/null
	@cmake --build build-rel -j2 --target micro_bench
	@build-rel/micro_bench --benchmark_repetitions=$${REPS:-5} --benchmark_report_aggregates_only=true

soak: deps ## Soak: SOAK_SECONDS (60) of mixed load + admin changes on a Release build; no 5xx, exact, bounded RSS
	@cmake -S . -B build-soak -DCMAKE_BUILD_TYPE=Release -DRL_BUILD_TESTS=ON >/dev/null
	@cmake --build build-soak -j$(JOBS) --target ratelimitd rlctl soak_sampler
	@BUILD=build-soak tests/soak/soak.sh

sanitize: deps ## Every test under ASan+UBSan (build-asan), the threaded ones under TSan (build-tsan)
	@scripts/sanitize.sh

fuzz: deps ## libFuzzer targets (clang-14) for FUZZ_SECONDS (30) each from fuzz/corpus; fails on a finding
	@scripts/fuzz.sh

deb: deps ## Debian package build-deb/ratelimitd_<version>_<arch>.deb: both binaries, man pages, systemd unit
	@packaging/deb/build.sh

deb-test: deps ## Debian package: lintian, systemd-analyze verify/security, dpkg -i into a clean container, run
	@DOCKER="$(DOCKER)" DOCKER_LOCAL="$(DOCKER_LOCAL)" tests/deb/deb_test.sh

format: ## clang-format the sources
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean: ## Remove the build tree
	@rm -rf $(BUILD_DIR)

# ---- Docker ------------------------------------------------------------------------------------
DOCKER       ?= docker
IMAGE        ?= ratelimitd:latest
SERVICE      ?= ratelimitd
RL_PORT      ?= 8080
# Run when no Docker daemon answers (installs and starts a local engine on a host without one).
DOCKER_LOCAL ?= ../shared/tools/docker-local.sh
# `docker compose` (the plugin) if it is there, else `docker-compose`; detected once, on first
# use, so the native targets never run docker. COMPOSE=... on the command line overrides it.
COMPOSE = $(eval COMPOSE := $$(shell $(DOCKER) compose version >/dev/null 2>&1 && echo "$(DOCKER) compose" \
            || { command -v docker-compose >/dev/null 2>&1 && echo docker-compose; }))$(or $(COMPOSE),$(error \
            neither '$(DOCKER) compose' nor 'docker-compose' is installed))
# Compose with the settings docker-compose.yml reads (image tag, host port).
COMPOSE_RUN = RL_IMAGE=$(IMAGE) RL_PORT=$(RL_PORT) $(COMPOSE)
# Waits for /readyz inside the service container (up to 30 s), asked by the image's own probe.
WAIT_READY = for i in $$(seq 60); do $(COMPOSE_RUN) exec -T $(SERVICE) ratelimitd healthcheck --path /readyz --timeout 1 \
               >/dev/null 2>&1 && break; [ $$i = 60 ] && { echo "ratelimitd did not become ready:"; $(COMPOSE_RUN) logs --tail=20 $(SERVICE); exit 1; }; \
               sleep 0.5; done

# The build context has no .git: what git knows goes in as build arguments (--version shows the
# revision; the OCI labels carry all three). The same for every stage, so they share layers.
DOCKER_BUILD_ARGS = --build-arg RL_REVISION="$$(git describe --always --dirty 2>/dev/null || echo unknown)" \
  --build-arg RL_VERSION="$$(sed -n 's/^project(ratelimitd VERSION \([^ )]*\).*/\1/p' CMakeLists.txt)" \
  --build-arg RL_SOURCE="$$(git remote get-url origin 2>/dev/null || true)"

docker-ready:
	@$(DOCKER) info >/dev/null 2>&1 || { [ -f "$(DOCKER_LOCAL)" ] && bash "$(DOCKER_LOCAL)"; } || \
	  { echo "no Docker daemon answers ('$(DOCKER) info' fails) and $(DOCKER_LOCAL) is not there"; exit 1; }

# Installs Compose when neither `docker compose` nor `docker-compose` runs (before COMPOSE is
# first expanded, in the recipes that need it).
compose-ready:
	@$(DOCKER) compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 || \
	  scripts/install-deps.sh --compose

build: docker-ready ## Docker: build the image ratelimitd:latest (compiles a Release build inside)
	@$(DOCKER) build $(DOCKER_BUILD_ARGS) -t $(IMAGE) .

up: build compose-ready ## Docker: (re)build the image, start the service in the background, wait until ready
	@$(COMPOSE_RUN) up -d
	@$(WAIT_READY)
	@echo "ratelimitd is up: http://127.0.0.1:$(RL_PORT)/limit (state in the volume $${RL_VOLUME:-ratelimitd-data})"

init: up ## Docker: build, start, create a demo user and key, show how to call /limit
	@$(COMPOSE_RUN) exec -T $(SERVICE) rlctl user show demo >/dev/null 2>&1 || \
	  $(COMPOSE_RUN) exec -T $(SERVICE) rlctl user create demo --limit 10
	@key=$$($(COMPOSE_RUN) exec -T $(SERVICE) rlctl --json key create demo --label make-init \
	  | sed -n 's/^ *"key": *"\(rl_[^"]*\)".*/\1/p'); \
	[ -n "$$key" ] || { echo "could not create a key for demo"; exit 1; }; \
	printf '\n  A key for the user demo (10 requests per sliding second), shown this once:\n    %s\n\n' "$$key"; \
	printf '  Call /limit with it (200 while within the limit, 429 past it, 401 without a key):\n'; \
	printf '    curl -i -H "X-API-KEY: %s" http://127.0.0.1:$(RL_PORT)/limit\n\n' "$$key"; \
	printf '  Admin CLI inside the container:  $(COMPOSE) exec $(SERVICE) rlctl user list\n'; \
	printf '  Logs: make logs    Shell: make bash    Stop: make down (keeps the volume)\n'

down: compose-ready ## Docker: stop and remove the service container (the volume and its data stay)
	@$(COMPOSE_RUN) down

logs: compose-ready ## Docker: follow the service's logs
	@$(COMPOSE_RUN) logs -f --tail=100 $(SERVICE)

bash: compose-ready ## Docker: a shell in the running service container (rlctl works there)
	@$(COMPOSE_RUN) exec $(SERVICE) bash

tests: docker-ready ## Docker: build the build stage with the tests and run ctest in it
	@$(DOCKER) build $(DOCKER_BUILD_ARGS) --target build --build-arg RL_BUILD_TESTS=ON -t ratelimitd:build-tests .
	@$(DOCKER) run --rm ratelimitd:build-tests sh -c 'ctest --test-dir build --output-on-failure -j"$$(nproc)"'

docker-test: ## Docker: smoke test of the image (read-only, provision, /limit, stop, restart on the volume, make init)
	@DOCKER="$(DOCKER)" DOCKER_LOCAL="$(DOCKER_LOCAL)" IMAGE="$(IMAGE)" tests/docker/smoke.sh
