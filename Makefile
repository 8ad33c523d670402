# Thin wrapper over the CMake presets. `make run` and `make test` are the two documented entry points.
PRESET ?= default
BUILD_DIR := build/$(PRESET)
JOBS ?= $(shell nproc)

.PHONY: deps test-deps configure build build-platform run test sanitizers format format-check bench soak reliability fuzz-coverage clean

deps:
	@bash packaging/install-deps.sh

test-deps:
	@bash packaging/install-deps.sh --test
	@bash test/e2e/install-npm.sh
	@bash test/conformance/install.sh

configure: deps
	@test -f $(BUILD_DIR)/build.ninja || cmake --preset $(PRESET) >/dev/null

build: configure
	@cmake --build --preset $(PRESET) -j $(JOBS)

# Only what `make run` needs: the host, the bundled plugins and the Admin UI (not the test suites).
build-platform: configure
	@cmake --build --preset $(PRESET) -j $(JOBS) --target archestra-platform archestra_bundled_plugins archestra_ui_web

# Starts the platform on the embedded PostgreSQL; Ctrl-C stops it and everything it started.
run: build-platform
	@ARCHESTRA_PLUGINS_DIR=$${ARCHESTRA_PLUGINS_DIR:-$(CURDIR)/$(BUILD_DIR)/plugins-out} \
	 ARCHESTRA_UI_DIR=$${ARCHESTRA_UI_DIR:-$(CURDIR)/$(BUILD_DIR)/ui-out} \
	 exec $(BUILD_DIR)/core/archestra-platform

test: test-deps build
	@ctest --preset $(PRESET)

# ASan+UBSan over the whole suite and TSan over the proxy tests (README, Hardening); writes
# build/default/reliability/sanitizers.json. Long: about an hour of building each on 2 cores.
sanitizers: test-deps
	@bash test/bench/sanitizers.sh

format:
	@git ls-files '*.h' '*.cpp' | xargs clang-format -i

format-check:
	@git ls-files '*.h' '*.cpp' | xargs clang-format --dry-run --Werror

bench: build
	@bash test/bench/run.sh

# The 30-minute soak at concurrency 100 through the proxy (SOAK_MINUTES to change; CTest runs a 2-minute one).
soak: build
	@ARCHESTRA_PLATFORM_BINARY=$(CURDIR)/$(BUILD_DIR)/core/archestra-platform SOAK_MINUTES=$${SOAK_MINUTES:-30} \
	 SOAK_RECORD_AS=$${SOAK_RECORD_AS:-soak-$${SOAK_MINUTES:-30}min} \
	 test/e2e/node.sh test/bench/soak.mjs

# The hardening, load, soak and fuzz suites, then docs/reliability.md from the figures they recorded and the kept
# ones in docs/reliability-records/ (newest of each; written even when a suite fails; the exit status is ctest's).
reliability: test-deps build
	@status=0; STREAMS_HOLD_S=$${STREAMS_HOLD_S:-60} STREAMS_COMPARE_POOL=$${STREAMS_COMPARE_POOL:-256} \
	 ctest --preset $(PRESET) -L 'hardening|load|soak|fuzz' --output-on-failure || status=$$?; \
	 test/e2e/node.sh test/bench/reliability-report.mjs --save; exit $$status

# Line and function coverage each fuzz target reaches in the core files it names (test/fuzz/targets.cmake):
# a clang source-based coverage build under $(BUILD_DIR)/fuzz-coverage replays the checked-in seeds plus what
# fuzz runs found ($(BUILD_DIR)/fuzz/corpus), prints llvm-cov's table per target and records the totals for
# docs/reliability.md. Needs clang and llvm-14 (make test-deps), not the main build.
fuzz-coverage:
	@bash packaging/install-deps.sh --test
	@test/fuzz/run-fuzz.sh coverage $(BUILD_DIR)/fuzz-coverage $(BUILD_DIR)/fuzz

clean:
	@rm -rf build
