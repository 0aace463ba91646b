# wxcore: `make test` runs every test; `make demo` shows the engine at work.
# Both install what they need on a fresh machine: a Rust toolchain (rustup,
# on the project's machines), python3 with venv/pip (PyPI packages go into
# a fresh virtualenv under target/).

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

PY_VENV := target/venv-py
PYTHON ?= python3

.PHONY: test rust-test python-test demo vectors check-vectors bench fmt toolchain

toolchain:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust with rustup (https://rustup.rs)"; exit 1; }
	@command -v rustfmt >/dev/null || rustup component add rustfmt

## All tests, every language: the same conformance vectors run in each.
test: rust-test python-test

## Rust: unit tests, the conformance vectors, property tests, doctests.
rust-test: toolchain check-vectors
	$(CARGO) fmt --all --check
	$(CARGO) test -p wxcore -p wxcore-ffi

## Python: build the wheel (maturin, uniffi) into a fresh venv; run pytest.
python-test: toolchain
	rm -rf $(PY_VENV)
	$(PYTHON) -m venv $(PY_VENV)
	$(PY_VENV)/bin/pip install -q --upgrade pip
	$(PY_VENV)/bin/pip install -q ./bindings-uniffi/python pytest httpx
	cd bindings-uniffi/python && ../../$(PY_VENV)/bin/python -m pytest -q tests

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
