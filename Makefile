# SPDX-License-Identifier: MIT
# Thin wrapper over CMake with the seed's targets.  The real build is
# CMakeLists.txt; everything lands in build/.
BUILD ?= build
CMAKE_FLAGS ?= -DLA_WERROR=ON
JOBS ?= $(shell nproc)

.PHONY: install check all liballocator.a liballocator.so liballocator-preload.so test bench bench-quick bench-time bench-instructions \
	bench-memory bench-report bench-publish bench-core valgrind valgrind-bench clean help configure

all: configure
	cmake --build $(BUILD) -j $(JOBS)

configure:
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

liballocator.a: configure
	cmake --build $(BUILD) -j $(JOBS) --target allocator_static

liballocator.so: configure
	cmake --build $(BUILD) -j $(JOBS) --target allocator

liballocator-preload.so: configure
	cmake --build $(BUILD) -j $(JOBS) --target allocator_preload

test: all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# make install PREFIX=/some/where (default /usr/local)
PREFIX ?= /usr/local
install: all
	cmake --install $(BUILD) --prefix $(PREFIX)

# Every configuration CI runs: the tests above, the same on a Release
# build, then UBSan, TSan and the fuzzer (scripts/check; FUZZ_SECONDS=n
# sets the fuzzing time).
check:
	scripts/check

# The allocator comparison (bench/run.py, see bench/README.md): glibc,
# liballocator, jemalloc, tcmalloc and mimalloc under LD_PRELOAD, then the
# callgrind instruction counts.  REPS=n changes the repetitions (default 5);
# BENCH_ARGS passes anything else, e.g. BENCH_ARGS="-w 'churn*'".
BENCH_RUN = /usr/bin/python3 bench/run.py --build-dir $(BUILD) $(if $(REPS),--reps $(REPS)) $(BENCH_ARGS)

bench: all
	$(BENCH_RUN)

bench-quick: all
	$(BENCH_RUN) --quick

bench-time: all
	$(BENCH_RUN) --mode time

bench-instructions: all
	$(BENCH_RUN) --mode instructions

# The memory group alone: RSS after free/trim/decay, fragmentation, big
# buffers, best fit among many free blocks.
bench-memory: all
	$(BENCH_RUN) --group memory

# bench/results/REPORT.md: the tables and gnuplot charts (bench/report.py).
# bench-report runs the suite first (the full one; REPORT_ARGS passes
# options to bench/run.py, e.g. REPORT_ARGS=--quick) and reports on the
# directory that run wrote.  bench-publish redraws the report from
# BENCH_RESULTS (default bench/results/latest), without running anything,
# and copies the charts to docs/images/ for the top-level README.
BENCH_REPORT = /usr/bin/python3 bench/report.py
BENCH_RESULTS ?= bench/results/latest

bench-report: all
	$(BENCH_REPORT) --run -- --build-dir $(BUILD) $(if $(REPS),--reps $(REPS)) $(BENCH_ARGS) $(REPORT_ARGS)

bench-publish:
	$(BENCH_REPORT) --publish $(BENCH_RESULTS)

# The core's mem_* functions against the system malloc, in one process.
bench-core: all
	$(BUILD)/bench/bench_core

valgrind: all
	cd $(BUILD) && ctest --output-on-failure -L valgrind

# Benchmark workloads on liballocator under memcheck (small scale): any
# memcheck error fails.
VALGRIND_BENCH = w_pairs w_batch w_fragment w_realloc
valgrind-bench: all
	@for w in $(VALGRIND_BENCH); do \
	  echo "== $$w"; \
	  LIBALLOCATOR=$(BUILD)/liballocator.so VALGRIND_OPTS="--error-exitcode=99 -q" \
	    scripts/valgrind/run $(BUILD)/bench/workloads/$$w 0.01 >/dev/null || exit 1; \
	done; echo "valgrind-bench: no errors"

clean:
	rm -rf $(BUILD)

help:
	@echo "make all             build the libraries, the tests and the benchmarks"
	@echo "make liballocator.a  build the static library only"
	@echo "make liballocator.so build the shared library only"
	@echo "make liballocator-preload.so  the preload library without the mem_* names"
	@echo "make test            build and run every test (ctest)"
	@echo "make check           every CI configuration: tests, Release tests, UBSan, TSan, fuzzing"
	@echo "make install PREFIX=P  install libraries, header, CMake and pkg-config files, scripts"
	@echo "make bench           compare allocators: timed workloads + instruction counts (~10 min)"
	@echo "make bench-quick     the same as a 1-2 minute smoke run (1 repetition, small scale)"
	@echo "make bench-time      timed workloads only (REPS=n, BENCH_ARGS=... for bench/run.py)"
	@echo "make bench-instructions  instructions per malloc+free under callgrind only"
	@echo "make bench-memory    the memory workloads only: RSS returned, fragmentation (~4 min)"
	@echo "make bench-report    run the suite, then bench/results/REPORT.md with charts (REPORT_ARGS=--quick)"
	@echo "make bench-publish   redraw the report from bench/results/latest, copy the charts to docs/images"
	@echo "make bench-core      the core's mem_* functions against the system malloc"
	@echo "make valgrind        run the valgrind tests (unit tests under memcheck, memcheck cases)"
	@echo "make valgrind-bench  benchmark workloads on liballocator under memcheck"
	@echo "make clean           remove the build directory"
