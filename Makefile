# The two commands a newcomer needs: `make test` and `make demo` (both as root: the
# network lab builds namespaces). Everything else here serves those two.
CARGO ?= cargo
SHELL := /bin/bash

.PHONY: test lint fmt-check clippy unit build release charm demo bench clean

test: fmt-check clippy unit

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --all-targets -- -D warnings

unit:
	$(CARGO) test

build:
	$(CARGO) build

release:
	$(CARGO) build --release

bench:
	$(CARGO) bench

clean:
	$(CARGO) clean
	rm -f keepalived.charm
