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
# --converge repeats -Oz while it gains; --low-memory-unused holds for Rust
# (its data starts at 1 MiB); the two custom sections only served wasm-bindgen.
WASM_OPT_FLAGS := -Oz --converge --low-memory-unused --strip-producers --strip-target-features --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
	--enable-mutable-globals --enable-reference-types --enable-multivalue
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: rust-package kotlin-classes kotlin-jar android-check android-aar server server-test server-test-env chromium serve bench-server fuzz fuzz-tools test rust-test python-test python-env node-test kotlin-test simulator redis fleet fleet-test fleet-env fleet-bench bench-bindings bench-kotlin npm-build wasm-tools demo vectors check-vectors bench fmt toolchain

toolchain:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust with rustup (https://rustup.rs)"; exit 1; }
	@command -v rustfmt >/dev/null || rustup component add rustfmt

## All tests, every language: the same conformance vectors run in each; end
## to end over HTTP against the simulator; the fleet over a real redis-server.
test: rust-test python-test node-test kotlin-test fleet-test server-test

## Rust: unit tests, the conformance vectors, property tests, doctests, the simulator's own tests.
rust-test: toolchain check-vectors
	$(CARGO) fmt --all --check
	$(CARGO) test -p wxcore -p wxcore-ffi -p wxcore-client -p wxcore-server
	$(CARGO) test --release -p wxcore-simulator
	$(CARGO) test -p wxcore --no-default-features --test features
	$(MAKE) --no-print-directory rust-package

## The wxcore crate as crates.io would take it: no packaging warning, the
## vectors its tests read inside the tarball, and a build from the tarball alone.
rust-package: toolchain
	@mkdir -p target
	$(CARGO) package -p wxcore --allow-dirty > target/package.log 2>&1 || { cat target/package.log; exit 1; }
	@if grep -q '^warning' target/package.log; then cat target/package.log; exit 1; fi
	$(CARGO) package -p wxcore --allow-dirty --list | grep -qx 'tests/vectors/sources.json'
	@ls -l target/package/wxcore-*.crate

## The local platform simulator (tests/simulator), used by the end-to-end tests and the demo.
simulator: toolchain
	$(CARGO) build --release -p wxcore-simulator

## A fresh venv with the release wheel (python-wheel) and the test
## dependencies (wechatpy: the peer our callback replies must satisfy; mypy:
## the typed example).
python-env: python-wheel
	rm -rf $(PY_VENV)
	$(PYTHON) -m venv $(PY_VENV)
	$(PY_VENV)/bin/pip install -q --upgrade pip
	$(PY_VENV)/bin/pip install -q target/wheels/wxcore-*manylinux*_x86_64.whl pytest httpx redis wechatpy cryptography mypy prometheus_client

## Python: vectors, driver, crypto and end-to-end tests (the simulator over loopback),
## and the typed example checked by mypy --strict against the installed wheel's types.
python-test: python-env simulator
	cd bindings-uniffi/python && ../../$(PY_VENV)/bin/python -m pytest -q tests
	cd bindings-uniffi/python/examples && ../../../$(PY_VENV)/bin/mypy --strict --no-incremental typed_example.py

## Release wheels for Linux (manylinux2014, glibc 2.17; x86_64 and aarch64,
## cross-linked with zig) and the sdist, in target/wheels: each wheel's tag
## and contents checked (auditwheel), and the sdist built into a wheel.
PY_TOOLS := target/venv-tools
WHEEL_TARGETS := x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu
# Its own target dir: a build elsewhere in target/ must not swap the library
# maturin packs. No strip: zig drops the whole symbol table with the debug
# info, and uniffi-bindgen reads the bindings from those symbols.
MATURIN_ZIG = cd bindings-uniffi/python && PATH="$(CURDIR)/$(PY_TOOLS)/bin:$$PATH" \
	CARGO_TARGET_DIR=$(CURDIR)/target/wheel-build CARGO_PROFILE_RELEASE_STRIP=false \
	maturin build --release --compatibility manylinux2014 --zig -o $(CURDIR)/target/wheels
.PHONY: python-tools python-wheel python-wheels
python-tools: toolchain
	test -x $(PY_TOOLS)/bin/maturin || { $(PYTHON) -m venv $(PY_TOOLS) && \
		$(PY_TOOLS)/bin/pip install -q 'maturin>=1.9,<2' ziglang auditwheel; }

## The x86_64 wheel as it would go to PyPI (manylinux2014, glibc 2.17; its tag
## and contents checked by auditwheel): the one the tests install.
python-wheel: python-tools
	rm -f target/wheels/wxcore-*x86_64.whl
	$(MATURIN_ZIG) --target x86_64-unknown-linux-gnu
	$(PY_TOOLS)/bin/python bindings-uniffi/python/tools/check_wheels.py --no-sdist target/wheels x86_64-unknown-linux-gnu

## Release wheels for Linux (manylinux2014; x86_64 and aarch64, cross-linked
## with zig) and the sdist, in target/wheels: each wheel's tag and contents
## checked (auditwheel), and the sdist built into a wheel.
python-wheels: python-tools
	rustup target add $(WHEEL_TARGETS)
	rm -rf target/wheels
	for t in $(WHEEL_TARGETS); do ( $(MATURIN_ZIG) --target $$t ) || exit 1; done
	cd bindings-uniffi/python && $(CURDIR)/$(PY_TOOLS)/bin/maturin sdist -o $(CURDIR)/target/wheels
	$(PY_TOOLS)/bin/python bindings-uniffi/python/tools/check_wheels.py target/wheels $(WHEEL_TARGETS)

## The wasm toolchain: the rustup target and wasm-bindgen-cli at the crate's version.
wasm-tools: toolchain
	rustup target add wasm32-unknown-unknown
	@if ! wasm-bindgen --version 2>/dev/null | grep -q " $(WASM_BINDGEN_VERSION)$$"; then \
		echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION)"; \
		$(CARGO) install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); fi

## The npm package: wasm-bindgen's glue for Node (dist/node.cjs, CommonJS,
## loads synchronously) and for the web (dist/web.mjs), sharing one wasm: the
## two glues' wasm is the same, and wxcore_wasm_bg.wasm beside the web glue
## is its default URL and the file the Node glue reads.
npm-build: wasm-tools
	cd npm && npm install --no-audit --no-fund --silent
	$(CARGO) build -p wxcore-wasm --target wasm32-unknown-unknown --profile wasm-release
	rm -rf npm/dist
	wasm-bindgen --target nodejs --no-typescript --out-dir npm/dist $(WASM)
	wasm-bindgen --target web --out-dir npm/dist/web $(WASM)
	cmp npm/dist/wxcore_wasm_bg.wasm npm/dist/web/wxcore_wasm_bg.wasm
	mv npm/dist/wxcore_wasm.js npm/dist/node.cjs
	sed 's|@ts-self-types="./wxcore_wasm.d.ts"|@ts-self-types="./web.d.mts"|' npm/dist/web/wxcore_wasm.js > npm/dist/web.mjs
	mv npm/dist/web/wxcore_wasm.d.ts npm/dist/web.d.mts
	rm -r npm/dist/web
	npm/node_modules/.bin/wasm-opt $(WASM_OPT_FLAGS) npm/dist/wxcore_wasm_bg.wasm -o npm/dist/wxcore_wasm_bg.wasm
	@echo "wasm size: $$(wc -c < npm/dist/wxcore_wasm_bg.wasm) bytes raw, $$(gzip -9c npm/dist/wxcore_wasm_bg.wasm | wc -c) bytes gzipped"

## Node: all vectors, driver tests, the Redis adapter against redis-server,
## the packaging test (npm pack, import as CJS, ESM and wxcore/web), and the
## published types (tsc --strict on a CJS and an ESM sample; attw).
node-test: npm-build simulator redis
	cd npm && node --test test/ && npm run --silent test:types

## The Kotlin binding built and installed in the local Maven repository:
## the jar (with libwxcore_ffi.so at JNA's resource path for each platform
## built: linux-x86-64 here, linux-aarch64 after `make kotlin-jar`), its
## sources and javadoc jars; and target/run-classpath.txt, the classpath that
## runs its programs (the fleet worker, the mobile-app example) as JVMs.
KOTLIN_DIR := bindings-uniffi/kotlin
kotlin-classes: toolchain
	$(CARGO) build --release -p wxcore-ffi
	mkdir -p $(KOTLIN_DIR)/target/native/linux-x86-64
	cp target/release/libwxcore_ffi.so $(KOTLIN_DIR)/target/native/linux-x86-64/
	rm -rf $(KOTLIN_DIR)/target/generated-sources/uniffi
	target/release/uniffi-bindgen generate --no-format --language kotlin \
		--library target/release/libwxcore_ffi.so --out-dir $(KOTLIN_DIR)/target/generated-sources/uniffi
	cd $(KOTLIN_DIR) && mvn -B --no-transfer-progress -q install -DskipTests dependency:build-classpath \
		-Dmdep.includeScope=test -Dmdep.outputFile=target/deps-classpath.txt
	echo "$(CURDIR)/$(KOTLIN_DIR)/target/classes:$(CURDIR)/$(KOTLIN_DIR)/target/test-classes:$$(cat $(KOTLIN_DIR)/target/deps-classpath.txt)" \
		> $(KOTLIN_DIR)/target/run-classpath.txt

## Kotlin: the JUnit suite (Maven) on the classes kotlin-classes compiled; then
## a separate consumer project that depends on the installed artifact alone.
kotlin-test: kotlin-classes simulator redis android-check
	cd $(KOTLIN_DIR) && mvn -B --no-transfer-progress surefire:test
	cd $(KOTLIN_DIR)/consumer && mvn -B --no-transfer-progress -q test

## The jar for every Linux this machine builds: linux-aarch64 cross-compiled
## with Debian's gcc-aarch64-linux-gnu as the linker, beside linux-x86-64.
kotlin-jar: toolchain
	@command -v aarch64-linux-gnu-gcc >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq gcc-aarch64-linux-gnu >/dev/null; }
	rustup target add aarch64-unknown-linux-gnu
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
		$(CARGO) build --release -p wxcore-ffi --target aarch64-unknown-linux-gnu
	mkdir -p $(KOTLIN_DIR)/target/native/linux-aarch64
	cp target/aarch64-unknown-linux-gnu/release/libwxcore_ffi.so $(KOTLIN_DIR)/target/native/linux-aarch64/
	$(MAKE) --no-print-directory kotlin-classes
	unzip -l $(KOTLIN_DIR)/target/wxcore-0.1.0.jar | grep libwxcore_ffi

## The Android library (AAR): needs the Android NDK (ANDROID_NDK_HOME).
android-aar:
	bash $(KOTLIN_DIR)/android/build-aar.sh

## The native side of Android: the core and the uniffi crate compiled for the
## three Android ABIs (cargo check: no NDK needed, none here). Building the
## .so files and the AAR needs the NDK: see the README's "On Android".
ANDROID_TARGETS := aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
android-check: toolchain
	rustup target add $(ANDROID_TARGETS)
	$(CARGO) check -p wxcore-ffi $(foreach t,$(ANDROID_TARGETS),--target $(t))

## The main job: a Node and a Python backend's working day against the local
## simulator, then what the platform saw. Leaves no process behind.
demo: simulator npm-build python-env server kotlin-classes
	bash tests/simulator/demo.sh

## redis-server (Debian package) for the fleet tests.
redis:
	@command -v redis-server >/dev/null || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null; }

## The fleet's Node workers: wxcore from npm/ (built) and ioredis.
fleet-env: redis simulator npm-build python-env
	cd tests/fleet && npm install --no-audit --no-fund --silent

## Fleet mode end to end (real redis-server, Node and Python workers): rotations, a
## dead lease holder, Redis restarted mid-run, a shared daily quota.
fleet-test: fleet-env
	cd tests/fleet && ../../$(PY_VENV)/bin/python -m pytest -q .

## The fleet scenario alone; its last line is the summary
## `token fetches: X (floor Y), token errors seen by callers: Z`.
fleet: fleet-env
	$(PY_VENV)/bin/python tests/fleet/fleet.py

## Fleet throughput: one worker process, in-memory engine vs fleet mode over Redis.
fleet-bench: fleet-env
	$(PY_VENV)/bin/python tests/fleet/fleet.py --bench

## The token server (server/, debug build: the tests measure nothing).
server: toolchain
	$(CARGO) build -p wxcore-server

## The token server end to end (tests/server): its own process with the
## simulator, Node and Python clients, redis-server replicas, wechatpy on the facade.
server-test: server server-test-env kotlin-classes
	cd tests/server && ../../$(PY_VENV)/bin/python -m pytest -q .

## The status page's browser test: Debian's chromium driven by Playwright from
## PyPI (its own browser downloads are never used), /metrics read by prometheus_client.
server-test-env: chromium fleet-env
	@$(PY_VENV)/bin/python -c 'import playwright, prometheus_client' 2>/dev/null || \
		$(PY_VENV)/bin/pip install -q playwright prometheus_client

## Chromium (Debian package) for the status page test.
chromium:
	@command -v chromium >/dev/null || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

## The token server against the simulator with a sample config; prints where to look.
serve: simulator server
	bash tests/server/serve.sh

## Token server benchmark (release build, wrk from Debian): token endpoint
## throughput and latency at 64 connections, relay latency over a direct call,
## memory with 1,000 apps. Figures in BENCHMARKS.md.
bench-server: simulator python-env
	@command -v wrk >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq wrk >/dev/null; }
	$(CARGO) build --release -p wxcore-server
	WXCORE_SERVER=$(CURDIR)/target/release/wxcore-server $(PY_VENV)/bin/python tests/server/bench.py

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
	target/venv-bench/bin/python bindings-uniffi/python/bench/bench_big.py
	mkdir -p target/bench-node && cd target/bench-node && (test -f package.json || npm init -y >/dev/null) \
		&& npm install --silent --no-audit --no-fund co-wechat-api@3.11.0 @wecom/crypto@1.0.1
	PEER_DIR=$(CURDIR)/target/bench-node node npm/bench/call.mjs
	PEER_DIR=$(CURDIR)/target/bench-node node npm/bench/callback.mjs
	PEER_DIR=$(CURDIR)/target/bench-node node npm/bench/push.mjs
	node npm/bench/big.mjs

## Kotlin per-call overhead (JMH 1.37) beside WxJava (weixin-java-mp from Maven
## Central), both over an in-process HTTP stub; project in
## bindings-uniffi/kotlin/bench/. JMH_FLAGS overrides the run's length.
JMH_FLAGS ?= -f 1 -wi 3 -w 2s -i 5 -r 2s
bench-kotlin: kotlin-classes
	cd $(KOTLIN_DIR)/bench && mvn -B --no-transfer-progress -q package
	java -jar $(KOTLIN_DIR)/bench/target/benchmarks.jar $(JMH_FLAGS)

fmt:
	$(CARGO) fmt --all

## Fuzzing (fuzz/, its own cargo workspace, nightly + cargo-fuzz): each target
## runs FUZZ_SECONDS (default 60); FUZZ_TARGETS picks some; FUZZ_FLAGS adds
## cargo-fuzz flags (default: optimised, no sanitizer; the core forbids unsafe).
## Findings land in fuzz/artifacts/<target>/; see FUZZING.md.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= engine config callback state api_security
FUZZ_FLAGS ?= -O --sanitizer=none

fuzz-tools:
	@command -v rustup >/dev/null || { echo "rustup not found: install Rust with rustup (https://rustup.rs)"; exit 1; }
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@cargo +nightly fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz

fuzz: fuzz-tools
	cd fuzz && cargo +nightly fuzz build $(FUZZ_FLAGS)
	cd fuzz && fail=0; for t in $(FUZZ_TARGETS); do \
		mkdir -p corpus/$$t; \
		echo "== fuzz target $$t for $(FUZZ_SECONDS) s"; \
		cargo +nightly fuzz run $(FUZZ_FLAGS) $$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 || fail=1; \
	done; exit $$fail
