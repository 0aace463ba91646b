# wxcore: `make test` runs every test; `make demo` shows the engine at work.
# Both install what they need on a fresh machine: a Rust toolchain (rustup,
# on the project's machines), python3 with venv/pip (PyPI packages go into
# a fresh virtualenv under target/).

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

PY_VENV := target/venv-py
PYTHON ?= python3
# wasm-bindgen-cli must match the wasm-bindgen crate exactly (Cargo.lock).
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ {getline; gsub(/"/, "", $$3); print $$3}' Cargo.lock)
WASM := target/wasm32-unknown-unknown/wasm-release/wxcore_wasm.wasm
WASM_OPT_FLAGS := -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
	--enable-mutable-globals --enable-reference-types --enable-multivalue
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: test rust-test python-test node-test kotlin-test bench-bindings npm-build wasm-tools demo vectors check-vectors bench fmt toolchain

toolchain:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust with rustup (https://rustup.rs)"; exit 1; }
	@command -v rustfmt >/dev/null || rustup component add rustfmt

## All tests, every language: the same conformance vectors run in each.
test: rust-test python-test node-test kotlin-test

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

## The wasm toolchain: the rustup target and wasm-bindgen-cli at the crate's version.
wasm-tools: toolchain
	rustup target add wasm32-unknown-unknown
	@if ! wasm-bindgen --version 2>/dev/null | grep -q " $(WASM_BINDGEN_VERSION)$$"; then \
		echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION)"; \
		$(CARGO) install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); fi

## The npm package: wasm for Node (CommonJS, loads synchronously) and for the web.
npm-build: wasm-tools
	cd npm && npm install --no-audit --no-fund --silent
	$(CARGO) build -p wxcore-wasm --target wasm32-unknown-unknown --profile wasm-release
	rm -rf npm/dist
	wasm-bindgen --target nodejs --out-dir npm/dist/node $(WASM)
	wasm-bindgen --target web --out-dir npm/dist/web $(WASM)
	for d in node web; do npm/node_modules/.bin/wasm-opt $(WASM_OPT_FLAGS) npm/dist/$$d/wxcore_wasm_bg.wasm -o npm/dist/$$d/wxcore_wasm_bg.wasm; done
	@echo "wasm size: $$(wc -c < npm/dist/node/wxcore_wasm_bg.wasm) bytes raw, $$(gzip -9c npm/dist/node/wxcore_wasm_bg.wasm | wc -c) bytes gzipped"

## Node: all vectors, driver tests, and the packaging test (npm pack, import as CJS and ESM).
node-test: npm-build
	cd npm && node --test test/

## Kotlin: build the native library, generate the bindings, run the JUnit suite (Maven).
kotlin-test: toolchain
	$(CARGO) build --release -p wxcore-ffi
	rm -rf bindings-uniffi/kotlin/target/generated-sources/uniffi
	target/release/uniffi-bindgen generate --no-format --language kotlin \
		--library target/release/libwxcore_ffi.so --out-dir bindings-uniffi/kotlin/target/generated-sources/uniffi
	cd bindings-uniffi/kotlin && mvn -B --no-transfer-progress test

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

## Binding benchmarks side by side with wechatpy and co-wechat-api (installed
## under target/, outside the package); figures in BENCHMARKS.md.
bench-bindings: npm-build
	$(PYTHON) -m venv target/venv-bench
	target/venv-bench/bin/pip install -q ./bindings-uniffi/python wechatpy cryptography
	target/venv-bench/bin/python bindings-uniffi/python/bench/bench_call.py
	target/venv-bench/bin/python bindings-uniffi/python/bench/bench_callback.py
	mkdir -p target/bench-node && cd target/bench-node && (test -f package.json || npm init -y >/dev/null) \
		&& npm install --silent --no-audit --no-fund co-wechat-api@3.11.0 @wecom/crypto@1.0.1
	PEER_DIR=$(CURDIR)/target/bench-node node npm/bench/call.mjs
	PEER_DIR=$(CURDIR)/target/bench-node node npm/bench/callback.mjs

fmt:
	$(CARGO) fmt --all
