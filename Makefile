# Sluice — one GNU Makefile (STYLE rule 20).
#
#   make                 build/sluiced and build/sluice
#   make test            unit tests (Check), storage contract suite, integration tests (pytest)
#   make SANITIZE=1 test the same under AddressSanitizer + UndefinedBehaviorSanitizer
#                        (objects go to build/san/, so both flavours can coexist)
#   make test-all        what CI runs: dependencies, both flavours, format check, short fuzz
#   make run             build and start sluiced on its defaults
#   make fuzz            build the libFuzzer harnesses (clang) and run each for FUZZ_SECONDS
#   make bench           build the load generator, run bench/compare --quick (never by tests)
#   make format-check    clang-format --dry-run over the C sources
#
# Dependencies come from pkg-config; tools/install-deps.sh installs them on Debian 12.

CC ?= cc
PKG_CONFIG ?= pkg-config

SERVER_PKGS := libmicrohttpd libuv jansson inih libxxhash gnutls nettle libcurl
# libcurl's headers only: the server loads it when push delivery first needs it (src/webhook.c)
SERVER_LINK := $(filter-out libcurl,$(SERVER_PKGS))
CLI_PKGS := libcurl jansson nettle libxxhash libmicrohttpd
TEST_PKGS := check

WARN := -Wall -Wextra -Werror -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
        -Wshadow -Wvla -Wno-missing-field-initializers
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -pthread $(WARN) -MMD -MP -Isrc
LDFLAGS += -pthread

ifeq ($(SANITIZE),1)
SANITIZER ?= address,undefined
endif
ifneq ($(SANITIZER),)
BUILD ?= build/san
CFLAGS += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZER)
else
BUILD ?= build
endif

pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1))
pc_libs = $(shell $(PKG_CONFIG) --libs $(1))

SERVER_SRC := $(filter-out src/main.c,$(wildcard src/*.c))
SERVER_OBJ := $(SERVER_SRC:src/%.c=$(BUILD)/obj/%.o)
CLI_SRC := $(wildcard cli/*.c)
CLI_OBJ := $(CLI_SRC:cli/%.c=$(BUILD)/cli/%.o)
# Modules the CLI shares with the server (errors, durations, memory, logging, base64, for
# `sluice inspect` the log record format and the hash table it replays messages into, and GMQ's
# message format for the GMQ client mode).
CLI_SHARED := $(BUILD)/obj/err.o $(BUILD)/obj/mem.o $(BUILD)/obj/log.o $(BUILD)/obj/dur.o \
              $(BUILD)/obj/b64.o $(BUILD)/obj/qlog.o $(BUILD)/obj/hmap.o $(BUILD)/obj/gmqwire.o
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
STORE_BIN := $(BUILD)/tests/store_contract

LIB := $(BUILD)/libsluice.a

.PHONY: all test unit store integration test-all run fuzz bench clean format format-check deps

all: $(BUILD)/sluiced $(BUILD)/sluice

deps:
	tools/install-deps.sh

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(call pc_cflags,$(SERVER_PKGS)) -c $< -o $@

$(BUILD)/cli/%.o: cli/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(call pc_cflags,$(CLI_PKGS)) -c $< -o $@

$(LIB): $(SERVER_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/sluiced: $(BUILD)/obj/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(SERVER_LINK)) -lm

$(BUILD)/sluice: $(CLI_OBJ) $(CLI_SHARED)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(CLI_PKGS)) $(call pc_libs,jansson)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(call pc_cflags,$(SERVER_PKGS) $(TEST_PKGS)) -o $@ $< $(LIB) \
		$(LDFLAGS) $(call pc_libs,$(SERVER_LINK) $(TEST_PKGS)) -lm

$(STORE_BIN): tests/store/store_contract.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(call pc_cflags,$(SERVER_PKGS) $(TEST_PKGS)) -o $@ $< $(LIB) \
		$(LDFLAGS) $(call pc_libs,$(SERVER_LINK) $(TEST_PKGS)) -lm

# Check forks every test (CK_FORK=yes is its default); each binary exits non-zero on a failure.
unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

store: $(STORE_BIN)
	@set -e; for b in $$($(STORE_BIN) --backends); do echo "== storage contract: $$b"; \
		SLUICE_STORE=$$b $(STORE_BIN); done

integration: all
	SLUICE_BIN=$(abspath $(BUILD))/sluiced SLUICE_CLI=$(abspath $(BUILD))/sluice \
		/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration

# The long crash test (issue 4): 100 kill -9 cycles of tests/integration/05-durability-crash-
# cycles.py (CI runs 20 in `integration`); the tally is printed and left in build/crash-tally-*.
.PHONY: crash-test
crash-test: all
	SLUICE_CRASH_CYCLES=100 SLUICE_BIN=$(abspath $(BUILD))/sluiced \
		SLUICE_CLI=$(abspath $(BUILD))/sluice /usr/bin/python3 -m pytest -q -s \
		-p no:cacheprovider tests/integration/05-durability-crash-cycles.py

test: unit store integration

test-all: deps
	$(MAKE) all
	$(MAKE) format-check
	$(MAKE) test
	$(MAKE) SANITIZE=1 test
	$(MAKE) fuzz FUZZ_SECONDS=$(if $(filter command line environment,$(origin FUZZ_SECONDS)),$(FUZZ_SECONDS),20)

run: deps all
	$(BUILD)/sluiced

# ---- fuzzing (clang + libFuzzer) ----
# Each fuzz/fuzz_<target>.c is linked with every server module but main.c. UBSan does not recover,
# so undefined behaviour stops the run like an ASan error. A run that finds a crash, a leak or a
# failed check exits non-zero and fails the target, with its log in build/fuzz/<target>.log and
# the input in build/fuzz/<target>-crash-* (see fuzz/README.md). FUZZ_TARGETS=engine runs one.
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_TARGETS ?= $(FUZZ_SRC:fuzz/fuzz_%.c=%)
FUZZ_BIN := $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
FUZZ_SECONDS ?= 60
FUZZ_LIB_SRC := $(SERVER_SRC)
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

build/fuzz/%: fuzz/%.c $(FUZZ_LIB_SRC) $(wildcard src/*.h fuzz/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_FLAGS) $(call pc_cflags,$(SERVER_PKGS)) -o $@ $< $(FUZZ_LIB_SRC) \
		$(call pc_libs,$(SERVER_LINK)) -lm -pthread

fuzz: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do n=$${f##*/fuzz_}; \
		mkdir -p build/fuzz/corpus-$$n; echo "== $$f ($(FUZZ_SECONDS)s)"; \
		if ! $$f -max_total_time=$(FUZZ_SECONDS) -timeout=25 -dict=fuzz/$$n.dict \
			-artifact_prefix=build/fuzz/$$n- build/fuzz/corpus-$$n fuzz/corpus/$$n \
			>build/fuzz/$$n.log 2>&1; then \
			tail -n 40 build/fuzz/$$n.log; \
			echo "fuzz_$$n failed: log in build/fuzz/$$n.log, input in build/fuzz/$$n-*"; \
			exit 1; \
		fi; \
		grep -E '^#[0-9]+[[:space:]]+DONE|^Done ' build/fuzz/$$n.log; done

# Benchmarks (STYLE rule 19: built and run on demand, never by the tests). Installs what the
# load generator needs, builds it, then a smoke run of bench/compare (1 run of 2 s per row,
# under 2 minutes). The full comparison is `bench/compare` alone: see bench/README.md.
bench: all
	bench/compare --install-only
	$(MAKE) -C bench BUILD=$(abspath $(BUILD))
	bench/compare --quick --no-build --build-dir $(abspath $(BUILD))

format:
	clang-format -i src/*.c src/*.h cli/*.c cli/*.h tests/unit/*.c tests/store/*.c fuzz/*.[ch] 2>/dev/null || true

format-check:
	clang-format --dry-run --Werror $(wildcard src/*.[ch] cli/*.[ch] tests/unit/*.c tests/store/*.c fuzz/*.[ch])

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
