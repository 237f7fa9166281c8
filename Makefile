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

# Debian packages the build needs (make deps installs the missing ones), what the README's
# examples use after `make run` (curl), and what the tests additionally use (promtool from
# prometheus checks /metrics, and the prometheus server scrapes attnd with deploy/'s config;
# python3-yaml reads deploy/'s YAML; openssl makes the HTTPS test's self-signed certificate).
DEB_BUILD := build-essential pkg-config libmicrohttpd-dev libcjson-dev libopenblas-dev \
             libcurl4-openssl-dev xxd libutf8proc-dev zlib1g-dev
DEB_RUN   := curl python3-requests python3-numpy
DEB_TEST  := prometheus curl python3-yaml python3-requests python3-numpy openssl
DEB_LINT  := clang-format

# Parallel jobs for building and for the test runner (one process per test file).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# $(call apt_install,PACKAGES): installs those that are missing, with sudo when not root. Only
# the programs of a package are used, never its service: a policy-rc.d keeps postinst scripts
# from starting one (prometheus would start a server on :9090 and enable itself at boot), and
# an enabled-at-boot link the install made is removed again.
define apt_install
missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
if [ -n "$$missing" ]; then echo "make: installing$$missing"; \
  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
  policy=""; if [ ! -e /usr/sbin/policy-rc.d ]; then policy=1; \
    printf '#!/bin/sh\nexit 101\n' | $$sudo tee /usr/sbin/policy-rc.d >/dev/null && \
    $$sudo chmod 755 /usr/sbin/policy-rc.d; fi; \
  $$sudo apt-get -o DPkg::Lock::Timeout=600 update -qq && \
  DEBIAN_FRONTEND=noninteractive $$sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends $$missing; rc=$$?; \
  [ -z "$$policy" ] || $$sudo rm -f /usr/sbin/policy-rc.d; \
  for p in $$missing; do $$sudo rm -f /etc/systemd/system/multi-user.target.wants/$$p.service; \
  done; exit $$rc; fi
endef

# pkg-config is asked lazily (recursive '='), so `make deps` can run on a machine without the
# libraries before anything needs their flags.
# gnutls (which libmicrohttpd-dev depends on) is for attnd --healthcheck against HTTPS; zlib
# for the gzip/deflate content codings (server/content_coding.c).
PKG_CFLAGS = $(shell pkg-config --cflags libmicrohttpd libcjson openblas gnutls libutf8proc zlib)
PKG_LIBS   = $(shell pkg-config --libs libmicrohttpd libcjson openblas gnutls libutf8proc zlib)
CURL_LIBS  = $(shell pkg-config --libs libcurl)

CORE_SRC   := $(wildcard core/*.c)
API_SRC    := $(wildcard api/*.c api/*/*.c)
SERVER_SRC := $(filter-out server/main.c,$(wildcard server/*.c))
TEST_SRC   := $(wildcard tests/*.c)

CORE_OBJ   := $(CORE_SRC:%.c=$(BUILD)/%.o)
API_OBJ    := $(API_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ   := $(TEST_SRC:%.c=$(BUILD)/%.o)
# Files compiled into attnd as byte arrays by tools/embed_files.sh: the built-in trained model
# (models/zh-en/, made by its train.py), and the explorer page and OpenAPI description.
MODEL_FILES := models/zh-en/zh-en.safetensors models/zh-en/vocab.txt
UI_FILES   := server/ui/index.html server/ui/app.js server/ui/style.css server/ui/openapi.json
GEN_OBJ    := $(BUILD)/gen/builtin_models_data.o $(BUILD)/gen/ui_data.o
LIB_OBJ    := $(CORE_OBJ) $(API_OBJ) $(SERVER_OBJ) $(GEN_OBJ)

ATTND      := $(BUILD)/attnd
TESTBIN    := $(BUILD)/attnd_tests

# make run HOST=... PORT=...: passed to attnd only when set, so that ATTND_HOST / ATTND_PORT
# (and every other ATTND_* variable) work through make run too; attnd's default is
# 127.0.0.1:8080.
HOST ?=
PORT ?=

.PHONY: all run test check asan tsan fuzz fuzz-build lint format deps deps-test install \
        uninstall clean help docker docker-test test-ui
.DEFAULT_GOAL := all

all: $(ATTND)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/gen/builtin_models_data.c: $(MODEL_FILES) tools/embed_files.sh
	@mkdir -p $(dir $@)
	sh tools/embed_files.sh $@ api_builtin $(MODEL_FILES)

$(BUILD)/gen/ui_data.c: $(UI_FILES) tools/embed_files.sh
	@mkdir -p $(dir $@)
	sh tools/embed_files.sh $@ srv_ui $(UI_FILES)

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CFLAGS) -c $< -o $@

$(ATTND): $(LIB_OBJ) $(BUILD)/server/main.o
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(PKG_LIBS) -lm

$(TESTBIN): $(LIB_OBJ) $(TEST_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(PKG_LIBS) $(CURL_LIBS) -lm

# Installs what is missing, then builds and serves in the foreground (127.0.0.1:8080 unless
# HOST/PORT or ATTND_HOST/ATTND_PORT say otherwise).
run: deps
	@$(call apt_install,$(DEB_RUN))
	@$(MAKE) --no-print-directory -j$(JOBS) all
	$(ATTND)$(if $(HOST), --host $(HOST))$(if $(PORT), --port $(PORT))

# Builds attnd, the test runner and the benchmark's programs (so that they never rot unseen),
# then runs every test against the real daemon, one process per test file, $(JOBS) at a time.
test: deps
	@$(MAKE) --no-print-directory deps-test
	@$(MAKE) --no-print-directory -j$(JOBS) $(ATTND) $(TESTBIN) $(BENCH_BIN) $(PEER_BIN)
	ATTND_BIN=$(ATTND) $(TESTBIN) -j $(JOBS) $(TESTS)

check: test

# The explorer page (GET /) in a real browser against the real daemon: Debian's chromium driven
# by playwright-core, with @apidevtools/swagger-parser validating /openapi.json; both from npm at
# the versions of tests/ui/package.json, installed under $(UI_TEST_DIR) (`make test` never needs
# them; npm comes from Debian unless nodejs brought its own). Screenshots go to $(BUILD)/ui/.
# Ends with "N passed, N failed".
DEB_UI      := chromium nodejs fonts-wqy-microhei
UI_TEST_DIR := $(BUILD)/ui-test
test-ui: deps
	@$(call apt_install,$(DEB_UI) $(if $(shell command -v npm),,npm))
	@$(MAKE) --no-print-directory -j$(JOBS) $(ATTND)
	@mkdir -p $(UI_TEST_DIR)
	@cmp -s tests/ui/package.json $(UI_TEST_DIR)/package.json || cp tests/ui/package.json $(UI_TEST_DIR)/
	cd $(UI_TEST_DIR) && npm install --no-audit --no-fund --loglevel=error
	NODE_PATH=$(abspath $(UI_TEST_DIR))/node_modules node tests/ui/explorer_test.js $(ATTND) $(BUILD)/ui

# The same suite built and run with AddressSanitizer and UndefinedBehaviorSanitizer.
asan: deps
	@$(MAKE) --no-print-directory deps-test
	@$(MAKE) --no-print-directory -j$(JOBS) BUILD=build/asan OPT=-O1 \
	  SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  build/asan/attnd build/asan/attnd_tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ATTND_BIN=build/asan/attnd build/asan/attnd_tests -j $(JOBS) $(TESTS)

# The concurrent tests (the pool's, and every HTTP test against a TSan-built daemon, which must
# exit 0: TSan makes a report an exit status of 66) with ThreadSanitizer, gcc's or clang's (under
# gcc's, core/simd_int.h drops the target_clones whose ifunc resolvers would run before TSan is
# set up). TSAN_TESTS= (empty) runs the whole suite, which takes many minutes.
TSAN_TESTS ?= pool http source_
tsan: deps
	@$(MAKE) --no-print-directory deps-test
	@$(MAKE) --no-print-directory -j$(JOBS) BUILD=build/tsan OPT=-O1 \
	  SANFLAGS="-fsanitize=thread -fno-omit-frame-pointer" build/tsan/attnd build/tsan/attnd_tests
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  ATTND_BIN=build/tsan/attnd build/tsan/attnd_tests -j $(JOBS) $(TSAN_TESTS)

# libFuzzer harnesses (tests/fuzz/) for the /v1 attention decoder, the model-request decoder, the
# /v2 infer decoder (binary framing included) and the safetensors loader, built by clang with
# AddressSanitizer and UBSan under build/fuzz. Each runs FUZZ_SECONDS from its committed seeds
# (tests/fuzz/corpus/NAME, only read: what it finds goes to build/fuzz/corpus/NAME); a crash stops
# make, the input saved as build/fuzz/crash-*.
FUZZ_SECONDS ?= 60
FUZZERS      := attention model_request safetensors v2_infer
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
DEB_FUZZ     := clang libclang-rt-dev

fuzz-build: deps
	@$(call apt_install,$(DEB_FUZZ))
	@$(MAKE) --no-print-directory -j$(JOBS) BUILD=build/fuzz CC=clang OPT=-O1 \
	  SANFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" $(FUZZERS:%=build/fuzz/fuzz_%)

$(BUILD)/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(CORE_OBJ) $(API_OBJ) $(BUILD)/gen/builtin_models_data.o
	$(CC) $(CFLAGS) $(LDFLAGS) -fsanitize=fuzzer $^ -o $@ $(PKG_LIBS) -lm

fuzz: fuzz-build
	@for f in $(FUZZERS); do mkdir -p build/fuzz/corpus/$$f; \
	  echo "fuzz: $$f for $(FUZZ_SECONDS) s"; \
	  ( cd build/fuzz && ./fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -max_len=16384 \
	    -print_final_stats=1 corpus/$$f ../../tests/fuzz/corpus/$$f > $$f.log 2>&1; rc=$$?; \
	    grep -E '^#[0-9]+ +DONE|^stat::number_of_executed_units|ERROR|SUMMARY|Test unit' $$f.log; \
	    exit $$rc ) || { echo "fuzz: $$f failed (build/fuzz/$$f.log)"; exit 1; }; done

# Layering rules of ../shared/STYLE.md: server -> api -> core, one door per library. The
# benchmark's peers (tests/bench/peers/) are programs of their own, outside the rules.
LINT_SRC = $$(git ls-files '*.c' '*.h' | grep -v '^tests/bench/peers/')
lint:
	@$(call apt_install,$(DEB_LINT))
	@fail=0; \
	bad=$$(grep -l '<cblas.h>' $(LINT_SRC) | grep -v '^core/blas.c$$'); \
	[ -z "$$bad" ] || { echo "lint: only core/blas.c may include <cblas.h>: $$bad"; fail=1; }; \
	bad=$$(grep -l '<utf8proc.h>' $(LINT_SRC) | grep -v '^core/unicode.c$$'); \
	[ -z "$$bad" ] || { echo "lint: only core/unicode.c may include <utf8proc.h>: $$bad"; fail=1; }; \
	bad=$$(grep -l '<microhttpd.h>' $(LINT_SRC) | grep -v '^server/'); \
	[ -z "$$bad" ] || { echo "lint: only server/ may include <microhttpd.h>: $$bad"; fail=1; }; \
	bad=$$(grep -l 'cJSON.h' $(LINT_SRC) | grep -v '^api/\|^tests/'); \
	[ -z "$$bad" ] || { echo "lint: only api/ may include cJSON: $$bad"; fail=1; }; \
	bad=$$(grep -l '#include "\.\./\(api\|server\)/' $$(git ls-files 'core/*')); \
	[ -z "$$bad" ] || { echo "lint: core/ must not include api/ or server/: $$bad"; fail=1; }; \
	bad=$$(grep -l '#include "\(\.\./\)*server/' $$(git ls-files 'api/*')); \
	[ -z "$$bad" ] || { echo "lint: api/ must not include server/: $$bad"; fail=1; }; \
	bad=$$(grep -l '\(^\|[^a-z_]\)api_json_\|#include "\.\./api/\(v[0-9]*/\|json_\)' $$(git ls-files 'server/*')); \
	[ -z "$$bad" ] || { echo "lint: server/ knows no wire format (api/protocol.h only): $$bad"; fail=1; }; \
	bad=$$(grep -l '#include "\(\.\./\)*v[0-9]*/' $$(git ls-files 'api/*.c' 'api/*.h' | grep -v '^api/v[0-9]')); \
	[ -z "$$bad" ] || { echo "lint: api/'s shared code must not include a protocol's files: $$bad"; fail=1; }; \
	bad=$$(grep -l '#include "\.\./v[0-9]' $$(git ls-files 'api/v[0-9]*')); \
	[ -z "$$bad" ] || { echo "lint: a protocol must not include another's files: $$bad"; fail=1; }; \
	clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h') || fail=1; \
	[ $$fail -eq 0 ] && echo "lint: ok"; exit $$fail

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

deps:
	@$(call apt_install,$(DEB_BUILD))

deps-test:
	@$(call apt_install,$(DEB_TEST))

# The container image from the Dockerfile, with Docker when its daemon answers, else podman
# (installed from Debian when missing; a missing debian:bookworm-slim is made by debootstrap).
DOCKER_IMAGE ?= attnd:latest
docker:
	ATTND_IMAGE=$(DOCKER_IMAGE) bash tests/docker_test.sh --build-only

# Builds the image and checks it running: HEALTHCHECK, an attention request, /metrics, non-root
# user, clean stop on SIGTERM. Ends with "docker-test: N passed, N failed".
docker-test:
	bash tests/docker_test.sh

# Side-by-side benchmarks: the attention core, the JSON codec, the service and its memory, each
# beside a peer of $(PEERS) measured in the same run (sequentially: one measurement at a time),
# with the machine's FMA peak and the sgemm ceiling. Installs what is missing, builds attnd,
# tests/bench/*.c (same CFLAGS, linked with core/ and api/) and the peers under $(BUILD)/bench/,
# prints the tables, writes $(BUILD)/bench.json. BENCH_ARGS="--compare-core Prescott" adds
# attnd's figures on another OpenBLAS core, interleaved.
PEERS     ?= tests/bench/peers
DEB_BENCH := wrk curl python3-torch python3-fastapi python3-uvicorn python3-numpy
BENCH_BIN := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(wildcard tests/bench/*.c))
PEER_BIN  := $(BUILD)/bench/peer_sgemm_peak $(BUILD)/bench/peer_cjson_speed \
             $(BUILD)/bench/peer_mhd_hello $(BUILD)/bench/peer_fma_peak
.PHONY: bench

$(BENCH_BIN): $(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(CORE_OBJ) $(API_OBJ) \
              $(BUILD)/gen/builtin_models_data.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $^ -o $@ $(PKG_LIBS) -lm

# The peers are built plainly (-O2, no -march: fma_peak picks its vector width at run time).
$(PEER_BIN): $(BUILD)/bench/peer_%: $(PEERS)/%.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -pthread $(PKG_CFLAGS) $< -o $@ $(PKG_LIBS)

# ggml's CPU flash attention as a peer: our driver (peers/ggml_flash.c) built against a local
# ggml checkout named by GGML_DIR, whose library cmake builds into $(BUILD)/ggml (-march=native).
# Nothing of ggml is in this repository; without GGML_DIR the bench skips it with a note.
GGML_DIR  ?=
GGML_PEER := $(if $(GGML_DIR),$(BUILD)/bench/ggml_flash)
$(BUILD)/bench/ggml_flash: $(PEERS)/ggml_flash.c
	@$(call apt_install,cmake g++)
	cmake -S $(GGML_DIR) -B $(BUILD)/ggml -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
	  -DBUILD_SHARED_LIBS=OFF -DGGML_BUILD_TESTS=OFF -DGGML_BUILD_EXAMPLES=OFF >/dev/null
	cmake --build $(BUILD)/ggml --target ggml -j$(JOBS)
	@mkdir -p $(dir $@)
	$(CC) -O2 -pthread -I$(GGML_DIR)/include $< -o $@ -Wl,--start-group \
	  $$(find $(BUILD)/ggml -name 'libggml*.a') -Wl,--end-group -lstdc++ -lm -fopenmp

bench: deps
	@$(call apt_install,$(DEB_BENCH))
	@$(MAKE) --no-print-directory -j$(JOBS) $(ATTND) $(BENCH_BIN) $(PEER_BIN) $(GGML_PEER)
	/usr/bin/python3 tests/bench/run_bench.py --build $(BUILD) --peers $(abspath $(PEERS)) \
	  $(if $(GGML_PEER),--ggml $(GGML_PEER)) $(BENCH_ARGS)

# Issue 10's attacks on attnd over 127.0.0.1, bounded in time (about 4 minutes; ABUSE_ARGS=--quick
# for one): slowloris, an idle-socket flood, partial bodies, an endless chunked upload, two
# Content-Lengths, SIGTERM under keep-alive x 50. Prints the normal client's latency under each,
# attnd's peak RSS and the abort count; writes $(BUILD)/abuse.json. Fails on any abort.
.PHONY: abuse
abuse: deps
	@$(call apt_install,curl)
	@$(MAKE) --no-print-directory -j$(JOBS) $(ATTND)
	/usr/bin/python3 tests/abuse/run_abuse.py --attnd $(ATTND) --json $(BUILD)/abuse.json $(ABUSE_ARGS)

install: $(ATTND)
	install -D -m 0755 $(ATTND) $(DESTDIR)$(PREFIX)/bin/attnd

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/attnd

clean:
	rm -rf build

help:
	@echo "make            build $(ATTND)"
	@echo "make run        install missing packages, build, serve on 127.0.0.1:8080 (PORT=, HOST=)"
	@echo "make test       build and run every test (unit and HTTP)"
	@echo "make asan       the test suite under AddressSanitizer + UBSan"
	@echo "make test-ui    the explorer page in chromium (playwright-core from npm) and the OpenAPI check"
	@echo "make tsan       the pool and HTTP tests under ThreadSanitizer (TSAN_TESTS=)"
	@echo "make fuzz       each libFuzzer harness for FUZZ_SECONDS (60) from tests/fuzz/corpus"
	@echo "make lint       layering rules and clang-format (installed when missing)"
	@echo "make docker     build the container image $(DOCKER_IMAGE) (Docker, else podman)"
	@echo "make docker-test build the image, run it and check it end to end"
	@echo "make bench      attnd beside its peers (core, JSON, service, memory): table + $(BUILD)/bench.json"
	@echo "make abuse      attnd under slowloris, floods, partial bodies, SIGTERM x 50: a table"
	@echo "make deps       install missing Debian packages"
	@echo "make install    install attnd into $(PREFIX)/bin"

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
