# ratelimitd: native workflow. `make help` lists the targets.
MAKEFLAGS  += --no-print-directory
BUILD_DIR  ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
DATA_DIR   ?= ./data

.PHONY: help deps configure bins compile run stop test format clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

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

format: ## clang-format the sources
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

clean: ## Remove the build tree
	@rm -rf $(BUILD_DIR)
