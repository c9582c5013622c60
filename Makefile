# The entry points of taskq. Every target installs missing Debian packages first.
#   make demo    build, start a daemon, run the tutorial's experiments under both policies
#   make check   build and run every test
#   make bench   Release build and the benchmark suite (docs/PERFORMANCE.md)
#   make deb     the Debian packages (taskq, libtaskq0, libtaskq-dev, python3-taskq), built with
#                Debian's hardening flags (build-deb/)
JOBS ?= 2
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=
# Warnings are errors in the builds made here (development and CI); the CMake default is off so
# that distributions and newer compilers are not stopped by a new warning. `make WERROR=OFF ...`
WERROR ?= ON
DEB_BUILD ?= build-deb

.PHONY: all deps build demo check check-asan check-release check-clang fuzz fuzz-ci bench deb \
	install format clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DTASKQ_WERROR=$(WERROR) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake $(BUILD) -DTASKQ_WERROR=$(WERROR) >/dev/null
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	./scripts/demo.sh $(BUILD)

check: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 600
	$(MAKE) check-release

# A Release build (-O3: GCC warns about things -O2 does not see) of the three binaries with
# warnings as errors; the tests are not built (the suite above ran them).
check-release: deps
	cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DTASKQ_BUILD_TESTS=OFF \
	  -DTASKQ_WERROR=$(WERROR) $(CMAKE_FLAGS)
	cmake --build build-release -j$(JOBS) --target taskq taskqd taskq-run

# The same binaries built by clang (the fuzz targets are the only other clang build); not part of
# `make check`, to keep CI's time.
check-clang: deps
	CXX=clang++ cmake -S . -B build-clang -DTASKQ_BUILD_TESTS=OFF -DTASKQ_WERROR=$(WERROR) \
	  $(CMAKE_FLAGS)
	cmake --build build-clang -j$(JOBS) --target taskq taskqd taskq-run

# The same suite under AddressSanitizer and UndefinedBehaviorSanitizer.
check-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTASKQ_SANITIZE=ON -DTASKQ_WERROR=$(WERROR) \
	  $(CMAKE_FLAGS)
	cmake --build build-asan -j$(JOBS)
	cd build-asan && TASKQ_CHAOS_TASKS=$${TASKQ_CHAOS_TASKS:-2000} TASKQ_POWER_CUTS=$${TASKQ_POWER_CUTS:-30} \
	  ctest --output-on-failure -j$(JOBS) --timeout 900

# libFuzzer targets (clang + ASan/UBSan), FUZZ_SECONDS each (default 30), a random seed each run.
fuzz: deps
	./scripts/fuzz.sh

# The same targets the way CI runs them: a fixed seed and a fixed number of inputs, so a commit
# passes or fails the same way every time (scripts/fuzz.sh).
FUZZ_SEED ?= 20261204
FUZZ_RUNS ?= 30000
fuzz-ci: deps
	FUZZ_SEED=$(FUZZ_SEED) FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_TARGETS="batch_line segment request" ./scripts/fuzz.sh

bench: deps
	./bench/run

# The package as Debian builds one: build type None with dpkg-buildflags' CXXFLAGS, CPPFLAGS and
# LDFLAGS (hardening=+all: fortify, stack protector, PIE, relro, now), its own build directory,
# no unit tests; then lintian on the result (errors fail the target).
deb: deps
	export DEB_BUILD_MAINT_OPTIONS=hardening=+all && \
	cmake -S . -B $(DEB_BUILD) -DCMAKE_BUILD_TYPE=None -DTASKQ_BUILD_TESTS=OFF \
	  -DCMAKE_CXX_FLAGS="$$(dpkg-buildflags --get CXXFLAGS) $$(dpkg-buildflags --get CPPFLAGS)" \
	  -DCMAKE_EXE_LINKER_FLAGS="$$(dpkg-buildflags --get LDFLAGS)" \
	  -DCMAKE_SHARED_LINKER_FLAGS="$$(dpkg-buildflags --get LDFLAGS)" \
	  -DCMAKE_MODULE_LINKER_FLAGS="$$(dpkg-buildflags --get LDFLAGS)" $(CMAKE_FLAGS)
	cmake --build $(DEB_BUILD) -j$(JOBS)
	cd $(DEB_BUILD) && cpack -G DEB
	lintian --fail-on error $(DEB_BUILD)/taskq_*.deb $(DEB_BUILD)/libtaskq0_*.deb \
	  $(DEB_BUILD)/libtaskq-dev_*.deb $(DEB_BUILD)/python3-taskq_*.deb

install: build
	cmake --install $(BUILD)

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-release build-clang build-fuzz $(DEB_BUILD)
