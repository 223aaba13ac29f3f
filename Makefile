# ngx_http_mi_module: build, test and run.  Every target installs what is
# missing first (scripts/deps.sh), so a fresh Debian 12 machine needs no
# other step.

SHELL := /bin/bash

NGINX_SRC    ?= /usr/share/nginx/src
BUILD        := build
MODULE       := $(BUILD)/ngx_http_mi_module.so
NGX_BUILD    := $(BUILD)/nginx
NGX_CC_OPT   := -g -O2 -fPIC -Wall -Wextra -Werror
ASAN_BUILD   := $(BUILD)/asan
ASAN_CC_OPT  := -g -O1 -fPIC -fno-omit-frame-pointer -Wall -Wextra -Werror \
                -fsanitize=address,undefined -fno-sanitize-recover=undefined

PURE_SRCS    := $(wildcard src/*.c)
PURE_HDRS    := $(wildcard src/*.h)
UNIT_SRCS    := $(wildcard t/unit/test_*.c)
UNIT_BINS    := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
FUZZ_SRCS    := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS    := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 20

# Unit tests run under ASan/UBSan: a leak or an overflow fails them.
UNIT_CFLAGS  := -std=gnu99 -g -O1 -Wall -Wextra -Werror -Isrc \
                -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_CFLAGS  := -g -O1 -Wall -Wextra -Werror -Isrc \
                -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all

.PHONY: all deps module asan-module run test unit e2e asan fuzz fuzz-smoke \
        bench micro micro-build clean

all: module

deps:
	@bash scripts/deps.sh

module: deps
	@[ $(NGX_BUILD)/objs/Makefile -nt config ] \
	    || bash scripts/configure-nginx.sh $(NGX_BUILD) '$(NGX_CC_OPT)'
	@$(MAKE) --no-print-directory -C $(NGX_BUILD) -f objs/Makefile modules \
	    > $(BUILD)/module.log 2>&1 \
	    || { cat $(BUILD)/module.log; exit 1; }
	@grep -i 'warning:' $(BUILD)/module.log || true
	@cmp -s $(NGX_BUILD)/objs/ngx_http_mi_module.so $(MODULE) \
	    || cp $(NGX_BUILD)/objs/ngx_http_mi_module.so $(MODULE)

# nginx-dev ships configure and headers, not a top-level Makefile: a private
# copy is configured once with Debian's own flags (see the script).
.PHONY: configure
configure:
	bash scripts/configure-nginx.sh $(NGX_BUILD) '$(NGX_CC_OPT)'

# The module built with ASan and UBSan, for "make asan".
asan-module: deps
	@[ $(ASAN_BUILD)/objs/Makefile -nt config ] \
	    || bash scripts/configure-nginx.sh $(ASAN_BUILD) \
	        '$(ASAN_CC_OPT)' '-fsanitize=address,undefined'
	@$(MAKE) --no-print-directory -C $(ASAN_BUILD) -f objs/Makefile modules \
	    > $(BUILD)/asan-module.log 2>&1 \
	    || { cat $(BUILD)/asan-module.log; exit 1; }

$(BUILD)/unit/%: t/unit/%.c $(PURE_SRCS) $(PURE_HDRS) | deps
	@mkdir -p $(dir $@)
	clang $(UNIT_CFLAGS) -o $@ $< $(PURE_SRCS) -lcmocka -lcrypto -lpcre2-8

$(BUILD)/fuzz/%: fuzz/%.c $(PURE_SRCS) $(PURE_HDRS) | deps
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(PURE_SRCS) -lcrypto -lpcre2-8

unit: $(UNIT_BINS)
	@rc=0; for t in $(UNIT_BINS); do \
	    echo "== $$t"; $$t || rc=1; \
	done; exit $$rc

fuzz: $(FUZZ_BINS)

# Each harness runs FUZZ_SECONDS on a scratch copy of its seed corpus; any
# crash, leak or sanitizer report fails the target.
fuzz-smoke: $(FUZZ_BINS)
	@rc=0; for f in $(FUZZ_BINS); do \
	    n=$$(basename $$f); \
	    work=$(BUILD)/fuzz/work-$$n; rm -rf $$work; mkdir -p $$work; \
	    cp fuzz/corpus/$${n#fuzz_}/* $$work/ 2>/dev/null; \
	    echo "== $$n: $(FUZZ_SECONDS)s"; \
	    if $$f -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	        -artifact_prefix=$(BUILD)/fuzz/$$n- \
	        $$work > $(BUILD)/fuzz/$$n.log 2>&1; then \
	        grep -aE '^(Done|#[0-9]+ +DONE)' $(BUILD)/fuzz/$$n.log | tail -1; \
	    else \
	        tail -40 $(BUILD)/fuzz/$$n.log; rc=1; \
	    fi; \
	done; exit $$rc

e2e: module
	prove -r t/

# The end-to-end suite again, with the module under ASan and UBSan inside
# Debian's nginx (the sanitizer runtimes preloaded into nginx only).  A
# report lands in the worker's stderr, which nginx sends to its error log;
# every test checks its logs for reports, and a worker that stops on one
# fails the requests it served.  Leak checking is off: nginx leaves its
# pools to the exit of each process, and the module allocates only from
# pools.
asan: asan-module
	MI_MODULE=$(CURDIR)/$(ASAN_BUILD)/objs/ngx_http_mi_module.so \
	MI_NGINX_PRELOAD="$$(gcc -print-file-name=libasan.so):$$(gcc -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    prove -r t/

test: unit module fuzz-smoke asan
	prove -r t/

run: module
	@bash scripts/run.sh

bench: module
	@bash scripts/bench.sh

# bench/micro: the pure code at -O2, beside simdjson (benchmark only).
MICRO_CFLAGS := -std=gnu99 -O2 -g -Wall -Wextra -Werror -Isrc

micro:
	@bash scripts/deps.sh libsimdjson-dev g++
	@$(MAKE) --no-print-directory micro-build
	$(BUILD)/micro/micro

micro-build: $(BUILD)/micro/micro

$(BUILD)/micro/micro: bench/micro.c bench/micro_simdjson.cpp $(PURE_SRCS) \
                      $(PURE_HDRS)
	@mkdir -p $(dir $@)
	@for f in bench/micro.c $(PURE_SRCS); do \
	    gcc $(MICRO_CFLAGS) -c $$f -o $(BUILD)/micro/$$(basename $$f .c).o \
	        || exit 1; \
	done
	@g++ -O2 -Wall -Wextra -Werror -c bench/micro_simdjson.cpp \
	    -o $(BUILD)/micro/micro_simdjson.o
	@g++ -o $@ $(BUILD)/micro/*.o -lcrypto -lsimdjson

clean:
	rm -rf $(BUILD)
