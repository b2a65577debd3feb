# Nightwatch: the two commands of the README, and a few more.
#   make run    install what is missing, build, start `nwagent --dev`
#   make test   install what is missing, build, run every test (ctest)
BUILD     ?= build
TYPE      ?= RelWithDebInfo
JOBS      ?= $(shell nproc)
SANITIZE  ?=
CTEST_ARGS ?=

.PHONY: all deps configure build run test unit integration clean format generate check-format install

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(TYPE) -DNW_SANITIZE=$(SANITIZE)

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j$(JOBS)

run: configure
	cmake --build $(BUILD) -j$(JOBS) --target nwagent nwctl
	@echo "nwagent --dev: API on 127.0.0.1:7070, data in ./.nightwatch; try '$(BUILD)/cli/nwctl status' in another terminal; Ctrl-C stops it" >&2
	exec $(BUILD)/agent/nwagent --dev

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) $(CTEST_ARGS)

unit: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) -L unit $(CTEST_ARGS)

integration: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS) -L integration $(CTEST_ARGS)

# Regenerates the files kept in the repo that are derived from the code:
# completions/ and examples/agent.toml. A unit test fails when they drift.
generate: configure
	cmake --build $(BUILD) -j$(JOBS) --target nwagent nwctl nw_config_example
	for sh in bash zsh fish; do \
	  $(BUILD)/cli/nwctl completion $$sh > completions/nwctl.$$sh; \
	  $(BUILD)/agent/nwagent --completion $$sh > completions/nwagent.$$sh; \
	done
	$(BUILD)/common/config/nw_config_example > examples/agent.toml

# Installs nwagent, nwctl, man pages and completions under PREFIX.
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

check-format:
	git ls-files '*.cc' '*.h' | xargs clang-format --dry-run -Werror

clean:
	rm -rf $(BUILD)
