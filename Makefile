# attnd: one non-recursive Makefile. Objects and binaries go under $(BUILD) (build/ by default,
# build/asan for the sanitizer build). `make help` lists the targets.

VERSION := 0.1.0
BUILD   ?= build
PREFIX  ?= /usr/local

CC      ?= cc
OPT     ?= -O2
CFLAGS  ?=
SANFLAGS ?=
override CFLAGS += -std=c11 -Wall -Wextra -Werror -g $(OPT) $(SANFLAGS) -pthread -MMD -MP
CPPFLAGS += -D_GNU_SOURCE -DATTND_VERSION='"$(VERSION)"'
LDFLAGS ?=
override LDFLAGS += $(SANFLAGS)

# Debian packages the build needs (make deps installs the missing ones), and what the tests
# additionally use (promtool from prometheus checks /metrics, and the prometheus server scrapes
# attnd with deploy/'s config; the README test runs curl; python3-yaml reads deploy/'s YAML).
DEB_BUILD := build-essential pkg-config libmicrohttpd-dev libcjson-dev libopenblas-dev \
             libcurl4-openssl-dev
DEB_TEST  := prometheus curl python3-yaml

# pkg-config is asked lazily (recursive '='), so `make deps` can run on a machine without the
# libraries before anything needs their flags.
PKG_CFLAGS = $(shell pkg-config --cflags libmicrohttpd libcjson openblas)
PKG_LIBS   = $(shell pkg-config --libs libmicrohttpd libcjson openblas)
CURL_LIBS  = $(shell pkg-config --libs libcurl)

CORE_SRC   := $(wildcard core/*.c)
API_SRC    := $(wildcard api/*.c)
SERVER_SRC := $(filter-out server/main.c,$(wildcard server/*.c))
TEST_SRC   := $(wildcard tests/*.c)

CORE_OBJ   := $(CORE_SRC:%.c=$(BUILD)/%.o)
API_OBJ    := $(API_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ   := $(TEST_SRC:%.c=$(BUILD)/%.o)
LIB_OBJ    := $(CORE_OBJ) $(API_OBJ) $(SERVER_OBJ)

ATTND      := $(BUILD)/attnd
TESTBIN    := $(BUILD)/attnd_tests

HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: all run test check asan lint format deps deps-test install uninstall clean help \
        docker docker-test
.DEFAULT_GOAL := all

all: $(ATTND)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c $< -o $@

$(ATTND): $(LIB_OBJ) $(BUILD)/server/main.o
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(PKG_LIBS) -lm

$(TESTBIN): $(LIB_OBJ) $(TEST_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(PKG_LIBS) $(CURL_LIBS) -lm

# Installs what is missing, then builds and serves on $(HOST):$(PORT) in the foreground.
run: deps
	@$(MAKE) --no-print-directory all
	$(ATTND) --host $(HOST) --port $(PORT)

# Builds attnd and the test runner, then runs every test against the real daemon.
test: deps deps-test
	@$(MAKE) --no-print-directory $(ATTND) $(TESTBIN)
	ATTND_BIN=$(ATTND) $(TESTBIN) $(TESTS)

check: test

# The same suite built and run with AddressSanitizer and UndefinedBehaviorSanitizer.
asan: deps deps-test
	@$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 \
	  SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  build/asan/attnd build/asan/attnd_tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ATTND_BIN=build/asan/attnd build/asan/attnd_tests $(TESTS)

# Layering rules of ../shared/STYLE.md: server -> api -> core, one door per library.
lint:
	@fail=0; \
	bad=$$(grep -l '<cblas.h>' $$(git ls-files '*.c' '*.h') | grep -v '^core/blas.c$$'); \
	[ -z "$$bad" ] || { echo "lint: only core/blas.c may include <cblas.h>: $$bad"; fail=1; }; \
	bad=$$(grep -l '<microhttpd.h>' $$(git ls-files '*.c' '*.h') | grep -v '^server/'); \
	[ -z "$$bad" ] || { echo "lint: only server/ may include <microhttpd.h>: $$bad"; fail=1; }; \
	bad=$$(grep -l 'cJSON.h' $$(git ls-files '*.c' '*.h') | grep -v '^api/\|^tests/'); \
	[ -z "$$bad" ] || { echo "lint: only api/ may include cJSON: $$bad"; fail=1; }; \
	bad=$$(grep -l '#include "\.\./\(api\|server\)/' $$(git ls-files 'core/*')); \
	[ -z "$$bad" ] || { echo "lint: core/ must not include api/ or server/: $$bad"; fail=1; }; \
	bad=$$(grep -l '#include "\.\./server/' $$(git ls-files 'api/*')); \
	[ -z "$$bad" ] || { echo "lint: api/ must not include server/: $$bad"; fail=1; }; \
	if command -v clang-format >/dev/null; then \
	  clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h') || fail=1; fi; \
	[ $$fail -eq 0 ] && echo "lint: ok"; exit $$fail

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

deps:
	@missing=""; for p in $(DEB_BUILD); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "make deps: installing$$missing"; \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; fi

deps-test:
	@missing=""; for p in $(DEB_TEST); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "make deps-test: installing$$missing"; \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; fi

# The container image from the Dockerfile, with Docker when its daemon answers, else podman
# (installed from Debian when missing; a missing debian:bookworm-slim is made by debootstrap).
DOCKER_IMAGE ?= attnd:latest
docker:
	ATTND_IMAGE=$(DOCKER_IMAGE) bash tests/docker_test.sh --build-only

# Builds the image and checks it running: HEALTHCHECK, an attention request, /metrics, non-root
# user, clean stop on SIGTERM. Ends with "docker-test: N passed, N failed".
docker-test:
	bash tests/docker_test.sh

# Side-by-side benchmarks (issue 6): the attention core, the JSON codec, the service and its
# memory, each beside a peer of $(PEERS) measured in the same run (sequentially: one measurement
# at a time). Installs what is missing, builds attnd, tests/bench/*.c (same CFLAGS, linked with
# core/ and api/) and the peers under $(BUILD)/bench/, prints the table, writes $(BUILD)/bench.json.
PEERS     ?= ../shared/peers
DEB_BENCH := wrk curl python3-torch python3-fastapi python3-uvicorn python3-numpy
BENCH_BIN := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(wildcard tests/bench/*.c))
PEER_BIN  := $(BUILD)/bench/peer_sgemm_peak $(BUILD)/bench/peer_cjson_speed \
             $(BUILD)/bench/peer_mhd_hello
.PHONY: bench

$(BENCH_BIN): $(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(CORE_OBJ) $(API_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(PKG_LIBS) -lm

# The peers are built as their README says (gcc -O2), not with attnd's warnings.
$(PEER_BIN): $(BUILD)/bench/peer_%: $(PEERS)/%.c
	@mkdir -p $(dir $@)
	$(CC) -O2 $(PKG_CFLAGS) $< -o $@ $(PKG_LIBS)

bench: deps
	@missing=""; for p in $(DEB_BENCH); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "make bench: installing$$missing"; \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; fi
	@$(MAKE) --no-print-directory $(ATTND) $(BENCH_BIN) $(PEER_BIN)
	/usr/bin/python3 tests/bench/run_bench.py --build $(BUILD) --peers $(PEERS) $(BENCH_ARGS)

install: $(ATTND)
	install -D -m 0755 $(ATTND) $(DESTDIR)$(PREFIX)/bin/attnd

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/attnd

clean:
	rm -rf build

help:
	@echo "make            build $(ATTND)"
	@echo "make run        install missing packages, build, serve on $(HOST):$(PORT)"
	@echo "make test       build and run every test (unit and HTTP)"
	@echo "make asan       the test suite under AddressSanitizer + UBSan"
	@echo "make lint       layering rules and clang-format"
	@echo "make docker     build the container image $(DOCKER_IMAGE) (Docker, else podman)"
	@echo "make docker-test build the image, run it and check it end to end"
	@echo "make bench      attnd beside its peers (core, JSON, service, memory): table + $(BUILD)/bench.json"
	@echo "make deps       install missing Debian packages"
	@echo "make install    install attnd into $(PREFIX)/bin"

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
