# The two commands a newcomer needs: `make test` and `make demo`, both as root on a
# Debian/Ubuntu machine (the network lab builds namespaces). Both install what is
# missing first (`make deps`), so they are the only set-up commands needed.
CARGO ?= cargo
SHELL := /bin/bash
VENV ?= .venv
CHARMCRAFT := $(VENV)/bin/charmcraft
CHARMCRAFT_VERSION := 4.5.0
# cosl, the COS library the cos_agent charm library builds on: the lab decodes our
# cos-agent databag with its own helpers (lab/tests/charm/cos.rs).
COSL_VERSION := 1.11.3
COSL := $(VENV)/.cosl-$(COSL_VERSION)
# keepalived: the interop peer in the lab; iproute2: namespaces, veths, bridge;
# tcpdump: wire timestamps; binutils: objdump for the glibc floor check; nftables: loss
# and partitions in the fault scenarios (the lab kernel has no netem); util-linux:
# taskset and chrt for the CPU-starvation scenario; prometheus: the real scraper of the
# metrics lab test, and promtool, which checks and unit-tests the cos-agent alert rules.
APT_PACKAGES := keepalived iproute2 tcpdump iputils-ping procps binutils python3-venv nftables util-linux prometheus
CHARM := keepalived.charm
RELEASE_BIN := target/release/keepalived-charm
# Every test binary of the workspace, the lab's included, and the binaries they run:
# one cargo run schedules them all at once (the features are those `cargo test` and
# the lab's own build use, so neither rebuilds anything after it).
TEST_BUILD := $(CARGO) test --workspace --exclude vrrp-benches --no-run

.PHONY: test deps deps-apt fmt-check check-layout clippy unit build release charm analyse \
	check-charm demo bench bench-hooks bench-failover bench-faults bench-footprint bench-intervals clean

# clippy and the release build behind `make charm` have nothing to wait for from the
# tests, and the lab mostly waits on protocol timers: they run beside its first
# phases at the idle scheduling class (scripts/lab-tests, LAB_BESIDE), which on 2 cores
# takes about four minutes off a fresh `make test`. A lint error is reported after the
# lab then; `make clippy` alone reports it in two minutes.
# The charm's venv (charmcraft, cosl: half a minute of pip) installs while the test
# binaries build.
test: deps-apt fmt-check check-layout
	@log=$$(mktemp); ( $(MAKE) --no-print-directory $(COSL) >"$$log" 2>&1 ) & venv=$$!; \
	rc=0; $(TEST_BUILD) || rc=$$?; \
	wait $$venv || { echo "make test: installing the venv failed:"; cat "$$log"; rc=1; }; \
	rm -f "$$log"; exit $$rc
	$(MAKE) --no-print-directory unit LAB_BESIDE="$(MAKE) --no-print-directory clippy analyse"

deps: deps-apt $(CHARMCRAFT) $(COSL)

# Installs only the packages that are missing (needs root and apt).
deps-apt:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing </dev/null; \
	fi

# charmcraft from the Python package index, in a venv of the project's own: only its
# offline `analyse` and `expand-extensions` are used.
$(CHARMCRAFT):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check charmcraft==$(CHARMCRAFT_VERSION)

$(COSL): $(CHARMCRAFT)
	$(VENV)/bin/pip install -q --disable-pip-version-check cosl==$(COSL_VERSION)
	touch $@

fmt-check:
	$(CARGO) fmt --all -- --check

# The manifests keep the design: the protocol core uses no runtime, socket, netlink or
# libc crate, and the shipped package carries no crate only the tests or the emulator
# use (docs/architecture.md).
check-layout:
	@bad=$$($(CARGO) tree -p vrrp-core -e normal --prefix none --format '{p}' | awk '{print $$1}' | grep -xE "tokio|socket2|rtnetlink|libc|netlink-.*|mio" || true); \
	if [ -n "$$bad" ]; then echo "vrrp-core depends on I/O crates: $$bad"; exit 1; fi; \
	bad=$$($(CARGO) tree -p keepalived-charm -e normal --prefix none --format '{p}' | awk '{print $$1}' | grep -xE 'serde_yaml|tempfile|proptest|criterion|juju-emulator|netns-lab' || true); \
	if [ -n "$$bad" ]; then echo "keepalived-charm ships test-only crates: $$bad"; exit 1; fi; \
	echo "check-layout: vrrp-core is I/O-free, keepalived-charm ships no test-only crate"

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Every test binary of the workspace first, in one cargo run (the charm's and the
# emulator's binaries with them: the lab's tests run the charm and the emulator's hook
# tools as processes, from cargo's target directory). Then the tests that need no
# root (a plain `cargo test`), then the lab's (scripts/lab-tests: which binaries run
# side by side and which alone; LAB_TEST_THREADS=3 test threads each by default).
unit:
	$(TEST_BUILD)
	$(CARGO) test
	CARGO=$(CARGO) LAB_BESIDE='$(LAB_BESIDE)' scripts/lab-tests

build:
	$(CARGO) build --workspace --bins

release:
	$(CARGO) build --release --bin keepalived-charm

# keepalived.charm as charmcraft would lay it out (see scripts/pack_charm.py for why
# charmcraft itself does not pack here).
charm: release
	scripts/check_glibc.sh $(RELEASE_BIN)
	python3 scripts/pack_charm.py $(RELEASE_BIN) $(CHARM)

# Executables must carry mode 0755 inside the zip (Juju does not fix dispatch's mode).
check-charm: charm
	@bad=$$(zipinfo $(CHARM) | awk '$$NF=="dispatch" || $$NF ~ /^hooks\// || $$NF=="bin/keepalived-charm" { if ($$1 != "-rwxr-xr-x") print $$NF }'); \
	if [ -n "$$bad" ]; then echo "not 0755 in $(CHARM): $$bad"; exit 1; fi; \
	for f in manifest.yaml metadata.yaml config.yaml actions.yaml dispatch bin/keepalived-charm templates/keepalived.conf.tera templates/keepalived-charm.service.tera; do \
	  zipinfo -1 $(CHARM) | grep -qx "$$f" || { echo "missing from $(CHARM): $$f"; exit 1; }; \
	done; echo "check-charm: layout and modes OK"

analyse: check-charm $(CHARMCRAFT)
	@rt=$$(mktemp -d); chmod 700 $$rt; proj=$$(mktemp -d); \
	cp charmcraft.yaml metadata.yaml config.yaml $$proj/; \
	XDG_RUNTIME_DIR=$$rt $(CHARMCRAFT) analyse $(CHARM) --ignore naming-conventions \
	  && (cd $$proj && XDG_RUNTIME_DIR=$$rt $(abspath $(CHARMCRAFT)) expand-extensions >/dev/null) \
	  && echo "charmcraft analyse and expand-extensions: OK"; \
	rc=$$?; rm -rf $$rt $$proj; exit $$rc

bench:
	$(CARGO) bench -p vrrp-benches

# Failover of our engine vs keepalived 2.2.7 in the namespace lab (root): client
# outage per fault and timing, idle RSS and CPU per 1000 adverts. REPS=5 by default;
# ONLY=v2 or ONLY=v3 for one timing. Takes ~10 minutes.
bench-failover: deps-apt
	$(CARGO) build --release --workspace --bins
	$(CARGO) bench -p netns-lab --bench failover

# The fault scenarios (docs/scenarios.md) of our engine vs keepalived 2.2.7 in the
# namespace lab (root): client outage, ms with two VIP holders, false transitions.
# REPS=3, LOSS_SECS=180 by default; ONLY=S16 for one family of rows, or a row by name and timing
# (ONLY="S16 20 % loss on every link, 180 s v3 0.1 s").
bench-faults: deps-apt
	$(CARGO) build --release --workspace --bins
	$(CARGO) bench -p netns-lab --bench faults

# Per advert interval (VRRPv3 1 s .. 0.05 s, our engine real-time as the charm runs
# it) and for keepalived at VRRPv2 1 s: crash outage, and false transitions on a busy
# core, under 5 % loss and across 200 ms stalls (root). BUSY_SECS=20, LOSS_SECS=60,
# STALLS=10, ONLY=substring of the timing; about 20 minutes.
bench-intervals: deps-apt
	$(CARGO) build --release --workspace --bins
	$(CARGO) bench -p netns-lab --bench intervals

# Memory and CPU of our engine (metrics on and off) and keepalived 2.2.7 in the same
# run (root): idle at VRRPv2 1 s, busy at VRRPv3 0.02 s. REPS=3, IDLE_SECS=60 by
# default; about 15 minutes.
bench-footprint: deps-apt
	$(CARGO) build --release --workspace --bins
	$(CARGO) bench -p netns-lab --bench footprint

# Hook-tool calls and wall time per hook kind, release binary, 3-unit model (root:
# network namespaces).
bench-hooks:
	$(CARGO) build --release --workspace --bins
	$(CARGO) bench -p netns-lab --bench hooks

# The live failover demo (root): builds the demo program (lab/tests/demo.rs, a test target
# `cargo test` does not run) and runs it in the foreground, so Ctrl-C reaches it and it
# removes everything it started.
demo: deps
	@$(CARGO) build --workspace --bins
	@bin=$$($(CARGO) test -p netns-lab --test demo --no-run --message-format=json-render-diagnostics \
	  | python3 -c 'import json, sys; print(next(m["executable"] for m in map(json.loads, sys.stdin) if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "demo" and m.get("executable")))') \
	  && exec "$$bin"

clean:
	$(CARGO) clean
	rm -rf $(CHARM) $(VENV)
