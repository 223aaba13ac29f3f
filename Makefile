# ngx_http_mi_module: build, test and run.  Every target installs what it
# needs and is missing first (scripts/deps.sh, by group: deps-build for the
# module, deps-unit for the unit tests...), so a fresh Debian 12 machine
# needs no other step; "make deps" installs every group.

SHELL := /bin/bash

NGINX_SRC    ?= /usr/share/nginx/src
BUILD        := build
MODULE       := $(BUILD)/ngx_http_mi_module.so
# One nginx build folder per compiler (make CC=clang): objects of two
# compilers never mix.  $(MODULE) is the module of the last one built.
CC_NAME      := $(notdir $(firstword $(CC)))
NGX_BUILD    := $(BUILD)/nginx-$(CC_NAME)

# Debian's own hardening, the flags its nginx package is built with
# (debian/rules: hardening=+all), then our warnings.  Unused parameters
# are nginx's style (handlers share signatures): nginx turns that warning
# off before these flags, and clang would turn it back on.  Expanded when
# a recipe runs, so after deps has installed dpkg-dev.
DEB_FLAGS    = DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get
NGX_CC_OPT   = $(shell $(DEB_FLAGS) CFLAGS) $(shell $(DEB_FLAGS) CPPFLAGS) \
               -g -O2 -fPIC -Wall -Wextra -Wno-unused-parameter -Werror
NGX_LD_OPT   = $(shell $(DEB_FLAGS) LDFLAGS) -fPIC

# make asan preloads gcc's sanitizer runtimes, so it is built with gcc.
ASAN_BUILD   := $(BUILD)/asan
ASAN_CC_OPT  := -g -O1 -fPIC -fno-omit-frame-pointer -Wall -Wextra -Werror \
                -fsanitize=address,undefined -fno-sanitize-recover=undefined
ASAN_LD_OPT  := -fsanitize=address,undefined

# make compat: the nginx releases built from source, and nginx's own tests
# (snapshots of nginx-tests: the older one for Debian's nginx 1.22).
NGINX_DIST   ?= $(abspath ../shared/nginx)
NGINX_TARBALLS ?= $(foreach v,1.24.0 1.26.3 1.28.3 1.29.8,\
                    $(NGINX_DIST)/nginx-$(v).tar.gz)
NGINX_TESTS  ?= $(NGINX_DIST)/nginx-tests-2026-07-21.tar.gz
NGINX_TESTS_DEBIAN ?= $(NGINX_DIST)/nginx-tests-2022-08-30.tar.gz
COMPAT_DIR   := $(CURDIR)/$(BUILD)/compat

PURE_SRCS    := $(wildcard src/*.c)
PURE_HDRS    := $(wildcard src/*.h)
UNIT_SRCS    := $(wildcard t/unit/test_*.c)
UNIT_BINS    := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
UNIT_OBJS    := $(patsubst src/%.c,$(BUILD)/unit/obj/%.o,$(PURE_SRCS))
FUZZ_SRCS    := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS    := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_SECONDS ?= 20

# The module's end-to-end tests are t/*.t; the distribution's (the docs,
# make run, make install, systemd/, conf/, deploy/kubernetes/, the package)
# are t/dist/*.t.  t/dist/350-package.t and 355-uninstall.t install the
# .deb on this machine: they are the package stage of make test only.
E2E_TESTS    := $(wildcard t/*.t)
PACKAGE_TESTS := t/dist/350-package.t t/dist/355-uninstall.t
DIST_TESTS   := $(filter-out $(PACKAGE_TESTS),$(wildcard t/dist/*.t))
# make check: how many t/*.t files run at a time
CHECK_JOBS   ?= 3

# Unit tests run under ASan/UBSan: a leak or an overflow fails them.
UNIT_CFLAGS  := -std=gnu99 -g -O1 -Wall -Wextra -Werror -Isrc \
                -fsanitize=address,undefined -fno-sanitize-recover=all \
                -fno-omit-frame-pointer
FUZZ_CFLAGS  := -g -O1 -Wall -Wextra -Werror -Isrc \
                -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all

.PHONY: all deps module asan-module run check test unit e2e asan dist-check \
        fuzz fuzz-smoke bench bench-tls micro micro-build compat compat-expected clean

all: module

# The groups of scripts/deps.sh: deps-GROUP installs one of them.
DEPS_GROUPS  := build unit fuzz run e2e asan dist k8s deb bench micro \
                compat

.PHONY: $(addprefix deps-,$(DEPS_GROUPS))

deps:
	@bash scripts/deps.sh

$(addprefix deps-,$(DEPS_GROUPS)): deps-%:
	@bash scripts/deps.sh $*

# $(call configure-nginx,DIR,CC,CC_OPT,LD_OPT): nginx-dev ships configure
# and headers, not a Makefile, so a private copy of NGINX_SRC (Debian's
# nginx-dev sources, configured with Debian's own arguments, or any nginx
# source tree or tarball) is configured to build the module with
# --with-compat; it is reused while nothing that went into it changed.
configure-nginx = bash scripts/configure-nginx.sh $(1) $(NGINX_SRC) \
    --with-cc='$(2)' --with-cc-opt='$(3)' --with-ld-opt='$(4)' \
    --with-compat --add-dynamic-module=$(CURDIR)

module: deps-build
	@$(call configure-nginx,$(NGX_BUILD),$(CC),$(NGX_CC_OPT),$(NGX_LD_OPT))
	@$(MAKE) --no-print-directory -C $(NGX_BUILD) -f objs/Makefile modules \
	    > $(BUILD)/module.log 2>&1 \
	    || { cat $(BUILD)/module.log; exit 1; }
	@grep -i 'warning:' $(BUILD)/module.log || true
	@cmp -s $(NGX_BUILD)/objs/ngx_http_mi_module.so $(MODULE) \
	    || cp $(NGX_BUILD)/objs/ngx_http_mi_module.so $(MODULE)

.PHONY: configure
configure: deps-build
	$(call configure-nginx,$(NGX_BUILD),$(CC),$(NGX_CC_OPT),$(NGX_LD_OPT))

# The module built with ASan and UBSan, for "make asan".
asan-module: deps-build deps-asan
	@$(call configure-nginx,$(ASAN_BUILD),gcc,$(ASAN_CC_OPT),$(ASAN_LD_OPT))
	@$(MAKE) --no-print-directory -C $(ASAN_BUILD) -f objs/Makefile modules \
	    > $(BUILD)/asan-module.log 2>&1 \
	    || { cat $(BUILD)/asan-module.log; exit 1; }

# The pure code is compiled once for the unit tests, which all link it.
$(BUILD)/unit/obj/%.o: src/%.c $(PURE_HDRS) | deps-unit
	@mkdir -p $(dir $@)
	clang $(UNIT_CFLAGS) -c -o $@ $<

$(BUILD)/unit/%: t/unit/%.c $(UNIT_OBJS) $(PURE_HDRS) $(wildcard t/unit/*.h) \
                 | deps-unit
	@mkdir -p $(dir $@)
	clang $(UNIT_CFLAGS) -o $@ $< $(UNIT_OBJS) -lcmocka -lcrypto -lpcre2-8

$(BUILD)/fuzz/%: fuzz/%.c $(PURE_SRCS) $(PURE_HDRS) | deps-fuzz
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

e2e: module deps-e2e
	prove $(E2E_TESTS)

# The quick loop while changing the module: the module, the unit tests and
# the module's end-to-end tests, those two side by side, the .t files
# CHECK_JOBS at a time (scripts/check.sh).  About a minute on 2 cores.
check: module $(UNIT_BINS) deps-e2e
	@CHECK_JOBS=$(CHECK_JOBS) bash scripts/check.sh $(E2E_TESTS)

# The end-to-end suite again, with the module under ASan and UBSan inside
# Debian's nginx (the sanitizer runtimes preloaded into nginx only).  A
# report lands in the worker's stderr, which nginx sends to its error log;
# every test checks its logs for reports, and a worker that stops on one
# fails the requests it served.  Leak checking is off: nginx leaves its
# pools to the exit of each process, and the module allocates only from
# pools.
asan: asan-module deps-e2e
	MI_MODULE=$(CURDIR)/$(ASAN_BUILD)/objs/ngx_http_mi_module.so \
	MI_NGINX_PRELOAD="$$(gcc -print-file-name=libasan.so):$$(gcc -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    prove $(E2E_TESTS)

# The distribution's tests, with the module make builds (the package's is
# t/dist/350-package.t's, in make test).
dist-check: module deps-dist k8s-tools
	prove $(DIST_TESTS)

# Every stage (see scripts/test.sh), one summary at the end; the long
# output goes to build/logs/.  What the stages need is installed first.
test:
	@bash scripts/deps.sh build unit fuzz e2e asan k8s dist deb
	@bash scripts/test.sh

run: module deps-run
	@bash scripts/run.sh

# The shipped site against a local TLS stand-in for the API, with a fault
# (FAULT=none, wrong-key, clock-skew, 429, 5xx, slow, down): see
# docs/operations.md, "A staging rehearsal".
.PHONY: rehearsal
rehearsal: module deps-run deps-e2e
	@bash scripts/rehearsal.sh

bench: module
	@bash scripts/bench.sh

# The TLS-upstream pass of make bench alone.  BENCH_RELEASE=1.28.3: that
# release from $(NGINX_DIST), built as make compat builds it (the module
# dynamic; --with-debug, as Debian's nginx), in place of Debian's nginx;
# or BENCH_NGINX and BENCH_MODULE: any other nginx and its module.
BENCH_RELEASE ?=
BENCH_BUILD  := $(CURDIR)/$(BUILD)/bench/nginx-$(BENCH_RELEASE)

bench-tls: module
	@bash scripts/deps.sh bench
ifneq ($(BENCH_RELEASE),)
	@CC='$(CC)' NGX_CC_OPT='$(NGX_CC_OPT)' NGX_LD_OPT='$(NGX_LD_OPT)' \
	    bash scripts/compat-build.sh \
	    $(NGINX_DIST)/nginx-$(BENCH_RELEASE).tar.gz dynamic $(BENCH_BUILD)
	@BENCH_NGINX=$(BENCH_BUILD)/objs/nginx \
	 BENCH_MODULE=$(BENCH_BUILD)/objs/ngx_http_mi_module.so \
	    bash scripts/bench-tls.sh
else
	@bash scripts/bench-tls.sh
endif

# Every supported nginx, built from source with the module dynamic and
# built in, each against the t/ suite; nginx's own tests guard Debian's
# nginx and each dynamic build (scripts/compat.sh).  Long: not in "test".
compat: module deps-e2e deps-dist deps-compat
	@COMPAT_DIR=$(COMPAT_DIR) COMPAT_BUILD=$(COMPAT_DIR)/$(CC_NAME) \
	 MODULE=$(MODULE) NGINX_TARBALLS='$(NGINX_TARBALLS)' \
	 NGINX_TESTS=$(NGINX_TESTS) NGINX_TESTS_DEBIAN=$(NGINX_TESTS_DEBIAN) \
	 CC='$(CC)' NGX_CC_OPT='$(NGX_CC_OPT)' NGX_LD_OPT='$(NGX_LD_OPT)' \
	    bash scripts/compat.sh

# The differences "make compat" saw with mi_sign on, in the format of
# t/compat/nginx-tests-expected.txt, reasons kept where a line matched:
#   make -s compat-expected > new.txt && mv new.txt t/compat/...
compat-expected:
	@perl scripts/nginx-tests.pl expected t/compat/nginx-tests-expected.txt \
	    $(wildcard $(COMPAT_DIR)/nginx-tests/*/differences.txt)
# bench/micro: the pure code at -O2, beside simdjson (benchmark only).
MICRO_CFLAGS := -std=gnu99 -O2 -g -Wall -Wextra -Werror -Isrc

micro:
	@bash scripts/deps.sh micro
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

# --- Packaging and installation --------------------------------------------

PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: deb install

# build/libnginx-mod-http-mi_<version>-<revision>_amd64.deb, lintian-clean,
# as debian/changelog says (the module's version is its too: see config).
deb: deps-build deps-deb
	@bash scripts/deb.sh

install: module
	@bash scripts/install.sh "$(DESTDIR)" "$(PREFIX)"

# --- Kubernetes manifests --------------------------------------------------

NODE_TOOLS := $(BUILD)/node
K8S_TOOLS  := deploy/kubernetes/tools

.PHONY: k8s-tools k8s-configmap k8s-deployment

# What t/dist/340-kubernetes.t validates the manifests with, as pinned by
# the lock file, in build/ (node_modules is never committed).
k8s-tools: deps-k8s
	@[ $(NODE_TOOLS)/node_modules/.package-lock.json \
	    -nt $(K8S_TOOLS)/package-lock.json ] || { \
	    mkdir -p $(NODE_TOOLS) \
	    && cp $(K8S_TOOLS)/package.json $(K8S_TOOLS)/package-lock.json \
	        $(NODE_TOOLS)/ \
	    && npm ci --prefix $(NODE_TOOLS) --no-audit --no-fund \
	        --loglevel=error; }

# deploy/kubernetes/configmap.yaml from conf/ (make test checks they agree).
k8s-configmap:
	@bash scripts/k8s-configmap.sh deploy/kubernetes/configmap.yaml

# The image tags of deploy/kubernetes/deployment.yaml: the version of
# debian/changelog (make test checks they agree).
k8s-deployment:
	@bash scripts/k8s-deployment.sh deploy/kubernetes/deployment.yaml
