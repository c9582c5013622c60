# The entry points of taskq. Every target installs missing Debian packages first.
#   make demo    build, start a daemon, run the tutorial's experiments under both policies
#   make check   build and run every test
#   make bench   Release build and the benchmark suite (docs/PERFORMANCE.md)
JOBS ?= 2
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=

.PHONY: all deps build demo check check-asan fuzz fuzz-ci bench deb install format clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	./scripts/demo.sh $(BUILD)

check: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 600

# The same suite under AddressSanitizer and UndefinedBehaviorSanitizer.
check-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTASKQ_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build build-asan -j$(JOBS)
	cd build-asan && TASKQ_CHAOS_TASKS=$${TASKQ_CHAOS_TASKS:-2000} ctest --output-on-failure -j$(JOBS) --timeout 900

# libFuzzer targets (clang + ASan/UBSan), FUZZ_SECONDS each (default 30), a random seed each run.
fuzz: deps
	./scripts/fuzz.sh

# The same targets the way CI runs them: a fixed seed and a fixed number of inputs, so a commit
# passes or fails the same way every time (scripts/fuzz.sh).
FUZZ_SEED ?= 20261204
FUZZ_RUNS ?= 200000
fuzz-ci: deps
	FUZZ_SEED=$(FUZZ_SEED) FUZZ_RUNS=$(FUZZ_RUNS) ./scripts/fuzz.sh

bench: deps
	./bench/run

deb: build
	cd $(BUILD) && cpack -G DEB

install: build
	cmake --install $(BUILD)

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-release build-fuzz
