# Thin wrapper over CMake with the seed's targets.  The real build is
# CMakeLists.txt; everything lands in build/.
BUILD ?= build
CMAKE_FLAGS ?= -DLA_WERROR=ON
JOBS ?= $(shell nproc)

.PHONY: all liballocator.a liballocator.so test bench valgrind clean help configure

all: configure
	cmake --build $(BUILD) -j $(JOBS)

configure:
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

liballocator.a: configure
	cmake --build $(BUILD) -j $(JOBS) --target allocator_static

liballocator.so: configure
	cmake --build $(BUILD) -j $(JOBS) --target allocator

test: all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: all
	$(BUILD)/bench/bench_core

valgrind: all
	cd $(BUILD) && ctest --output-on-failure -L valgrind

clean:
	rm -rf $(BUILD)

help:
	@echo "make all             build liballocator.a, liballocator.so, tests and benchmarks"
	@echo "make liballocator.a  build the static library only"
	@echo "make liballocator.so build the shared library only"
	@echo "make test            build and run every test (ctest)"
	@echo "make bench           run the core benchmark against the system malloc"
	@echo "make valgrind        run the unit tests under valgrind memcheck"
	@echo "make clean           remove the build directory"
