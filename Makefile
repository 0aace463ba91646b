# wxcore: `make test` runs every test; `make demo` shows the engine at work.
# Both install what they need on a fresh machine (today: a Rust toolchain,
# which the project's machines carry; python3 for the vector check).

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: test demo vectors check-vectors bench fmt toolchain

toolchain:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust with rustup (https://rustup.rs)"; exit 1; }
	@command -v rustfmt >/dev/null || rustup component add rustfmt

## All tests: unit tests, the conformance vectors, property tests, doctests.
test: toolchain check-vectors
	$(CARGO) fmt --all --check
	$(CARGO) test -p wxcore

## The main job: a working day driven through the engine (canned platform for now).
demo: toolchain
	$(CARGO) run -q -p wxcore --example demo

## Regenerate tests/vectors/*.json from tests/vectors/source/*.py.
vectors:
	python3 tests/vectors/source/make_vectors.py

## Fail when the committed vectors differ from their source.
check-vectors:
	@if command -v python3 >/dev/null; then python3 tests/vectors/source/make_vectors.py --check; \
	else echo "python3 not found: skipping the vector source check"; fi

## Benchmarks (criterion, memory per idle app); figures in BENCHMARKS.md.
bench: toolchain
	$(CARGO) bench -p wxcore --bench engine
	$(CARGO) bench -p wxcore --bench memory

fmt:
	$(CARGO) fmt --all
