# moat: build, demo, tests and benchmarks.
#
#   make deps     install the Debian 12 packages the build, tests and bench need (as root)
#   make build    cargo build --release  ->  target/release/moat, target/release/containerd-shim-moat-v1
#   make rootfs   build/rootfs: busybox-static rootfs + static test programs
#   make demo     run a container that shows it is sandboxed
#   make test     every unit and integration test (needs root)
#   make bench    runtime comparison: native, runc, runsc, moat  ->  build/bench-report.md
#   make docs     regenerate docs/syscalls.md from the sentry's syscall table
#   make install  copy moat and containerd-shim-moat-v1 to $(PREFIX)/bin
#   make clean
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

CARGO     ?= cargo
PREFIX    ?= /usr/local
BUILD     := $(CURDIR)/build
ROOTFS    := $(BUILD)/rootfs
MOAT      := $(CURDIR)/target/release/moat
DEMO      := $(BUILD)/demo-bundle
DEMO_ID   := moat-demo-$(shell echo $$$$)
DEPS      := busybox-static gcc libc6-dev make jq runc crun runsc python3 file containerd podman protobuf-compiler containernetworking-plugins trinity

# bench: everything is overridable, e.g. `make bench REPS=5 OUT=/tmp/report.md`
REPS      ?= 3
OUT       ?= $(BUILD)/bench-report.md
# moat twice: the default platform (systrap) and ptrace (with its default CPU pinning).
BENCH_RUNTIMES ?= native; runc; runsc; moat=$(MOAT); moat-nopatch=$(MOAT) --syscall-patch=false; moat-ptrace=$(MOAT) --platform=ptrace
BENCH_BUNDLE   ?= $(BUILD)/bench-bundle
BENCH_OUTDIR   ?= $(BUILD)/bench-results/$(shell date +%Y%m%d-%H%M%S)
WITH_PYTHON    ?= 0

.PHONY: all deps build rootfs demo test bench fuzz install clean docs

all: build

deps:
	@missing=""; \
	for p in $(DEPS); do \
	    dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q '^install ok installed$$' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    [ "$$(id -u)" = 0 ] || { echo "make deps: missing packages:$$missing (run as root)" >&2; exit 1; }; \
	    echo "make deps: installing$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq >/dev/null; \
	    apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

build:
	$(CARGO) build --release

rootfs: $(ROOTFS)/.moat-rootfs

# mkrootfs.sh builds in $(ROOTFS).tmp and renames it into place; .moat-rootfs is its marker.
$(ROOTFS)/.moat-rootfs: tests/mkrootfs.sh $(wildcard tests/programs/*.[ch]) $(wildcard tests/python/*.py)
	@mkdir -p $(BUILD)
	tests/mkrootfs.sh $(ROOTFS)

demo: deps build rootfs
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	cp -a --reflink=auto $(ROOTFS) $(DEMO)/rootfs
	@if $(MOAT) spec --help >/dev/null 2>&1 && (cd $(DEMO) && $(MOAT) spec) >/dev/null 2>&1 && [ -s $(DEMO)/config.json ]; then \
	    echo "config.json from: moat spec"; \
	else \
	    rm -f $(DEMO)/config.json; runc spec --bundle $(DEMO); echo "config.json from: runc spec"; \
	fi
	@jq --arg script "$$(cat tests/demo.sh)" \
	    '.process.terminal = false | .root.path = "rootfs" | .root.readonly = false | .hostname = "moat-demo" | .process.args = ["/bin/sh", "-c", $$script]' \
	    $(DEMO)/config.json > $(DEMO)/config.json.tmp && mv $(DEMO)/config.json.tmp $(DEMO)/config.json
	@echo "host: uname -r = $$(uname -r)"
	@echo "----- moat run --bundle $(DEMO) $(DEMO_ID) -----"
	$(MOAT) run --bundle $(DEMO) $(DEMO_ID) | tee $(BUILD)/demo.out
	@echo "----- back on the host -----"
	@grep -q '^inside: wrote /moat-demo-file: written inside the sandbox$$' $(BUILD)/demo.out || \
	    { echo "host: FAIL: the demo container did not run its script" >&2; exit 1; }
	@if [ -e $(DEMO)/rootfs/moat-demo-file ]; then \
	    echo "host: FAIL: $(DEMO)/rootfs/moat-demo-file exists: the write reached the bundle" >&2; exit 1; \
	else \
	    echo "host: $(DEMO)/rootfs/moat-demo-file does not exist: the container's write never reached the bundle"; \
	fi

# Everything on the default platform (systrap), then the program corpora (C, Python, busybox
# scripts, the signal and fault programs), the fuzzer, the lifecycle and the runc comparisons
# again on ptrace, which stays supported (--platform=ptrace).
PTRACE_TESTS := corpus_c corpus_python busybox_scripts programs interception fuzz lifecycle runc_parity
test: deps build rootfs
	MOAT_BIN=$(MOAT) MOAT_TEST_ROOTFS=$(ROOTFS) $(CARGO) test --release --workspace --no-fail-fast
	MOAT_PLATFORM=ptrace MOAT_BIN=$(MOAT) MOAT_TEST_ROOTFS=$(ROOTFS) \
	    $(CARGO) test --release -p moat-tests $(addprefix --test ,$(PTRACE_TESTS))
	MOAT_SYSCALL_PATCH=false MOAT_BIN=$(MOAT) MOAT_TEST_ROOTFS=$(ROOTFS) \
	    $(CARGO) test --release -p moat-tests --test corpus_c --test corpus_python

bench: deps build rootfs
	@mkdir -p $(BUILD) $(dir $(OUT))
	MOAT_BIN=$(MOAT) MOAT_TEST_ROOTFS=$(ROOTFS) \
	RUNTIMES='$(BENCH_RUNTIMES)' REPS='$(REPS)' OUT='$(OUT)' BUNDLE='$(BENCH_BUNDLE)' \
	    OUTDIR='$(BENCH_OUTDIR)' WITH_PYTHON='$(WITH_PYTHON)' ./bench/run.sh
	@echo "report: $(OUT)"

# Longer fuzzing than `make test`: trinity (Debian's kernel syscall fuzzer) for
# TRINITY_CALLS calls inside the sandbox as an unprivileged user with a 2 GiB memory limit,
# and moat's own syscall fuzzer (tests/tests/fuzz.rs).
TRINITY_CALLS ?= 1000000
fuzz: deps build rootfs
	MOAT_BIN=$(MOAT) MOAT_TEST_ROOTFS=$(ROOTFS) MOAT_TRINITY_CALLS=$(TRINITY_CALLS) \
	    $(CARGO) test --release -p moat-tests --test trinity --test fuzz -- --nocapture

# docs/syscalls.md is generated from the sentry's syscall table (a test checks it is current).
docs: build
	$(MOAT) syscalls --format markdown > docs/syscalls.md

install: build
	install -D -m 0755 $(MOAT) $(DESTDIR)$(PREFIX)/bin/moat
	install -D -m 0755 $(CURDIR)/target/release/containerd-shim-moat-v1 $(DESTDIR)$(PREFIX)/bin/containerd-shim-moat-v1

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
