# sqlite-mvcc — build, tests, sanitizers, benchmarks.
#
# Outputs go under build/ (sanitizer builds under build/asan and build/tsan).
# Every target that compiles first runs `deps`, which installs the Debian
# packages it needs when they are missing (a no-op otherwise).

CC       ?= cc
CXX      ?= c++
BUILD    ?= build
OPT      ?= -O2
SAN      ?=
CFLAGS   ?=
WARN      = -Wall -Wextra -Wshadow -Wno-unused-parameter
BASEFLAGS = -std=c11 -D_GNU_SOURCE -fPIC -g $(OPT) $(SAN) $(WARN) $(CFLAGS)
# kvcore/*.cc are shims over RocksDB's C++ API (refresh.cc, resume.cc, infolog.cc,
# tsbound.cc; the C handles' layouts they share are in capi.hh).
CXXFLAGS_ = -std=c++17 -fPIC -g $(OPT) $(SAN) $(WARN) -fno-exceptions -fno-rtti
LDLIBS    = -lrocksdb -lstdc++ -lpthread -lm
TESTLIBS  = -lcmocka -lsqlite3

DEBIAN_PACKAGES = librocksdb-dev libsqlite3-dev sqlite3 libcmocka-dev \
                  python3 gcc g++ make
# ... and the ones only `make bench` needs (it draws bench/RESULTS.png).
BENCH_PACKAGES  = gnuplot-nox
# ... and the ones only `make fuzz` needs (clang and its libFuzzer runtime).
FUZZ_PACKAGES   = clang-14 libclang-rt-14-dev

KV_SRC   = $(sort $(wildcard kvcore/*.c))
KV_CXX_SRC = $(sort $(wildcard kvcore/*.cc))
KV_OBJ   = $(KV_SRC:%.c=$(BUILD)/obj/%.o) $(KV_CXX_SRC:%.cc=$(BUILD)/obj/%.o)
KV_LIB   = $(BUILD)/libkvcore.a
EXT_SRC  = $(sort $(wildcard ext/*.c))
EXT_OBJ  = $(EXT_SRC:%.c=$(BUILD)/obj/%.o)
EXT_SO   = $(BUILD)/mvcc.so
EXT_LIB  = $(BUILD)/libmvcc.a

# Unit tests: one binary per unit-tests/test_*.c.  A test's extra sources:
TEST_SRC  = $(sort $(wildcard unit-tests/test_*.c))
TEST_BIN  = $(TEST_SRC:unit-tests/%.c=$(BUILD)/tests/%)
TEST_HELPERS = unit-tests/kvtest.h unit-tests/dirusage.h
# SQL-level tests: C drivers with many connections (sql-tests/test_*.c),
# linked with the static extension.
SQLT_SRC  = $(sort $(wildcard sql-tests/test_*.c))
SQLT_BIN  = $(SQLT_SRC:sql-tests/%.c=$(BUILD)/tests/%)
# Concurrency tests: the ones `make tsan` runs.
TSAN_TESTS = test_latch test_locktable test_waitq test_txn test_scan \
             test_stress test_clock test_store test_engine test_gc test_tscache \
             test_hermitage test_sqlconc test_checkpoint test_backup \
             test_kvhistory test_history test_timetravel test_reader \
             test_sqlreader test_rowcache

# Fuzz harnesses (fuzz/fuzz_<name>.c), each with what it links beside it.
FUZZ_NAMES = keycodec rowcodec tstext keyenc schema catalog
FUZZ_SRC_keycodec = ext/keycodec.c
FUZZ_SRC_rowcodec = ext/rowcodec.c
FUZZ_SRC_tstext = ext/tstext.c
FUZZ_LIB_keyenc = $(KV_LIB)
FUZZ_LIB_schema = $(EXT_LIB)
FUZZ_LIB_catalog = $(EXT_LIB)
FUZZ_HDRS = fuzz/fuzz.h fuzz/extapi.h ext/mvcc_int.h ext/keycodec.h \
            ext/rowcodec.h ext/tstext.h kvcore/kvcore.h kvcore/kvint.h
# ... as corpus replayers (replay.c's main, any compiler: `make test`) ...
FUZZ_REPLAY = $(FUZZ_NAMES:%=$(BUILD)/fuzz/replay_%)
FUZZ_SECONDS ?= 60

.PHONY: all deps bench-deps fuzz-deps test asan tsan fuzz fuzz-bins bench \
        bench-layout bench-profile soak fault-sweep shell clean

# all: the extension, the libraries and the test binaries (about a minute).
all: deps $(KV_LIB) $(EXT_SO) $(EXT_LIB) $(TEST_BIN) $(SQLT_BIN) $(FUZZ_REPLAY)

# install-missing: a recipe that installs those of the Debian packages $(1)
# that are missing (apt-get; sudo when not root); a no-op otherwise.
define install-missing
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" \
	    || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
endef

# deps: installs the missing Debian packages of the build and the tests.
deps:
	$(call install-missing,$(DEBIAN_PACKAGES))

# bench-deps: the same for the benchmarks' own packages.
bench-deps: deps
	$(call install-missing,$(BENCH_PACKAGES))

# fuzz-deps: the same for the fuzzers' own packages.
fuzz-deps: deps
	$(call install-missing,$(FUZZ_PACKAGES))

# Objects wait for deps (order-only), so `make -j` does not compile before
# the headers are installed.
$(KV_OBJ) $(EXT_OBJ): | deps

$(BUILD)/obj/%.o: %.c kvcore/kvcore.h kvcore/kvint.h
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Ikvcore -c $< -o $@

$(BUILD)/obj/kvcore/%.o: kvcore/%.cc kvcore/capi.hh
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_) -c $< -o $@

$(BUILD)/obj/ext/%.o: ext/%.c ext/mvcc_int.h ext/keycodec.h ext/rowcodec.h ext/tstext.h kvcore/kvcore.h
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -DMVCC_EXTENSION_BUILD -Ikvcore -Iext -c $< -o $@

$(KV_LIB): $(KV_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The loadable extension (entry point sqlite3_mvcc_init) ...
$(EXT_SO): $(EXT_OBJ) $(KV_OBJ)
	$(CC) $(BASEFLAGS) -shared -o $@ $^ $(LDLIBS)

# ... and the same as a static library for sqlite3_auto_extension().
$(EXT_LIB): $(EXT_OBJ) $(KV_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/tests/test_histcheck: unit-tests/test_histcheck.c unit-tests/histcheck.c unit-tests/histcheck.h
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Iunit-tests -o $@ unit-tests/test_histcheck.c unit-tests/histcheck.c $(TESTLIBS)

$(BUILD)/tests/test_stress: unit-tests/test_stress.c unit-tests/histcheck.c $(TEST_HELPERS) $(KV_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Ikvcore -Iunit-tests -o $@ unit-tests/test_stress.c unit-tests/histcheck.c $(KV_LIB) $(TESTLIBS) $(LDLIBS)

# test_fault: kvcore with faultfs.c linked in, whose write, fsync, open, ...
# replace libc's for the whole process (RocksDB's library included).
$(BUILD)/tests/test_fault: unit-tests/test_fault.c unit-tests/faultfs.c unit-tests/faultfs.h $(TEST_HELPERS) $(KV_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Ikvcore -Iunit-tests -o $@ unit-tests/test_fault.c unit-tests/faultfs.c $(KV_LIB) $(TESTLIBS) $(LDLIBS) -ldl

$(BUILD)/tests/test_keycodec: unit-tests/test_keycodec.c ext/keycodec.c ext/keycodec.h
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Iext -o $@ unit-tests/test_keycodec.c ext/keycodec.c $(TESTLIBS)

$(BUILD)/tests/test_tstext: unit-tests/test_tstext.c ext/tstext.c ext/tstext.h
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Iext -Ikvcore -o $@ unit-tests/test_tstext.c ext/tstext.c $(TESTLIBS)

$(BUILD)/tests/test_rowcodec: unit-tests/test_rowcodec.c ext/rowcodec.c ext/rowcodec.h
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Iext -o $@ unit-tests/test_rowcodec.c ext/rowcodec.c $(TESTLIBS)

$(BUILD)/tests/test_sqlconc: sql-tests/test_sqlconc.c sql-tests/sqltest.h unit-tests/histcheck.c $(EXT_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Isql-tests -Iunit-tests -Ikvcore -o $@ $< unit-tests/histcheck.c $(EXT_LIB) $(TESTLIBS) $(LDLIBS)

$(BUILD)/tests/%: sql-tests/%.c sql-tests/sqltest.h $(EXT_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Isql-tests -Ikvcore -o $@ $< $(EXT_LIB) $(TESTLIBS) $(LDLIBS)

$(BUILD)/tests/%: unit-tests/%.c $(TEST_HELPERS) $(KV_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Ikvcore -Iunit-tests -o $@ $< $(KV_LIB) $(TESTLIBS) $(LDLIBS)

# fuzz-rules NAME: the corpus replayer of a harness and (`make fuzz`) its
# libFuzzer program, both from fuzz/fuzz_NAME.c.
define fuzz-rules
$(BUILD)/fuzz/replay_$(1): fuzz/fuzz_$(1).c fuzz/replay.c $(FUZZ_HDRS) $(FUZZ_SRC_$(1)) $(FUZZ_LIB_$(1))
	@mkdir -p $$(dir $$@)
	$(CC) $(BASEFLAGS) -Iext -Ikvcore -Ifuzz -o $$@ fuzz/fuzz_$(1).c fuzz/replay.c $(FUZZ_SRC_$(1)) $(FUZZ_LIB_$(1)) -lsqlite3 $(LDLIBS)

$(BUILD)/fuzz/fuzz_$(1): fuzz/fuzz_$(1).c $(FUZZ_HDRS) $(FUZZ_SRC_$(1)) $(FUZZ_LIB_$(1))
	@mkdir -p $$(dir $$@)
	$(CC) $(BASEFLAGS) -fsanitize=fuzzer -Iext -Ikvcore -Ifuzz -o $$@ fuzz/fuzz_$(1).c $(FUZZ_SRC_$(1)) $(FUZZ_LIB_$(1)) -lsqlite3 $(LDLIBS)
endef
$(foreach h,$(FUZZ_NAMES),$(eval $(call fuzz-rules,$(h))))

fuzz-bins: $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)

# fuzz: builds the libFuzzer harnesses with clang (ASan + UBSan, under
# build/fuzz; a few minutes the first time) and runs each for FUZZ_SECONDS
# (default 60: about six minutes in all) from its corpus fuzz/corpus/NAME/.
# New inputs go to build/fuzz/work/NAME/, crashes to build/fuzz/crash-NAME-*;
# prints each harness's executions and coverage (libFuzzer's cov and ft).
# FUZZ_ONLY="keycodec schema" runs only those.
fuzz: fuzz-deps
	$(MAKE) BUILD=build/fuzz CC=clang CXX=clang++ OPT=-O1 \
	  SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
	  fuzz-bins
	@./fuzz/run-fuzzers build/fuzz $(FUZZ_SECONDS) $(or $(FUZZ_ONLY),$(FUZZ_NAMES))

# shell: builds the extension and opens the sqlite3 shell on a demo
# database; its store holds an example table from the first run on.
DEMO = $(BUILD)/demo/demo.db
shell: deps $(EXT_SO)
	@mkdir -p $(dir $(DEMO))
	@test -d $(DEMO)-mvcc || sqlite3 -batch -bail \
	  -cmd ".load $(CURDIR)/$(BUILD)/mvcc" $(DEMO) < sql-tests/demo.sql
	@sqlite3 -cmd ".load $(CURDIR)/$(BUILD)/mvcc" \
	  -cmd ".print mvcc loaded; try: SELECT * FROM accounts;" $(DEMO)

# test: builds and runs every test (a few minutes on 2 cores): the cmocka
# programs, the fuzz corpus replayed through each harness, the SQL scripts, the README's examples and the Python smoke test.
test: all
	@./unit-tests/run-tests $(BUILD)/tests $(TEST_BIN:$(BUILD)/tests/%=%) \
	  $(SQLT_BIN:$(BUILD)/tests/%=%)
	@./fuzz/replay-corpus $(BUILD) $(FUZZ_NAMES)
	@if [ -x sql-tests/run-sql-tests ]; then ./sql-tests/run-sql-tests $(BUILD); fi
	@./sql-tests/run-examples $(BUILD)

# fault-sweep: test_fault with a fault at every counted file call of a run
# (ENOSPC and EIO, lasting and transient), not every 16th as in make test
# (several minutes).
fault-sweep: deps $(BUILD)/tests/test_fault
	KV_FAULT_RUNS=100000 $(BUILD)/tests/test_fault

# asan: the same tests under AddressSanitizer + UndefinedBehaviorSanitizer
# (the sqlite3 shell the C drivers start loads the plain build of the
# extension; the SQL scripts run with the instrumented one).
asan: deps $(EXT_SO)
	$(MAKE) BUILD=build/asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  all
	@MVCC_EXT=$(CURDIR)/$(BUILD)/mvcc \
	  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  KV_TEST_SCALE=0.3 ./unit-tests/run-tests build/asan/tests \
	  $(TEST_BIN:$(BUILD)/tests/%=%) $(SQLT_BIN:$(BUILD)/tests/%=%)
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ./fuzz/replay-corpus build/asan $(FUZZ_NAMES)
	@# The SQL scripts with the instrumented extension loaded into the
	@# (uninstrumented) sqlite3 shell; the shell's own leaks are not ours.
	@LD_PRELOAD=$$($(CC) -print-file-name=libasan.so) \
	  ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  ./sql-tests/run-sql-tests build/asan

# soak: the differential SQL test (sql-tests/test_sqldiff.c) for
# SOAK_SECONDS seconds (default 600), from a fresh seed (SOAK_SEED, default
# the time), reporting every definition that differs; `make test` runs a
# short fixed-seed run of the same program.
SOAK_SECONDS ?= 600
soak: deps $(BUILD)/tests/test_sqldiff
	@SQLDIFF_SECONDS=$(SOAK_SECONDS) SQLDIFF_KEEP_GOING=1 \
	  SQLDIFF_SEED=$${SOAK_SEED:-$$(date +%s)} $(BUILD)/tests/test_sqldiff

# tsan: the concurrency tests under ThreadSanitizer.
tsan: deps $(EXT_SO)
	$(MAKE) BUILD=build/tsan OPT=-O1 SAN="-fsanitize=thread" all
	@MVCC_EXT=$(CURDIR)/$(BUILD)/mvcc \
	  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 die_after_fork=0 suppressions=$(CURDIR)/unit-tests/tsan.supp" \
	  KV_TEST_SCALE=0.2 \
	  ./unit-tests/run-tests build/tsan/tests $(TSAN_TESTS)

# bench: kvcore against raw RocksDB (bench_kv), then the mvcc table against
# native SQLite, RocksDB and TransactionDB (bench_sql), each in one run (about
# four minutes on 2 cores); bench_sql writes bench/RESULTS.md and the data
# files beside it, which gnuplot draws as bench/RESULTS.png (bench/plot.gp).
# BENCH_SECONDS sets the seconds per timed phase; BENCH_ONLY, BENCH_LEVELS
# and BENCH_THREADS shorten a run (bench_sql.c), which then leaves the
# picture as it was.
bench: bench-deps $(BUILD)/bench_kv $(BUILD)/bench_sql
	@$(BUILD)/bench_kv > $(BUILD)/bench_kv.txt; rc=$$?; \
	  cat $(BUILD)/bench_kv.txt; exit $$rc
	$(BUILD)/bench_sql bench/RESULTS.md $(BUILD)/bench_kv.txt
	@if [ -z "$$BENCH_ONLY$$BENCH_LEVELS$$BENCH_THREADS" ]; then \
	  gnuplot -e "dir='bench'" bench/plot.gp && echo "wrote bench/RESULTS.png"; \
	else echo "a partial run: bench/RESULTS.png not redrawn"; fi

# bench-profile: where a commit's CPU goes, by layer (SQLite, extension,
# kvcore, RocksDB, libc+kernel): bench_sql's W5 and W6 (2 and 8 threads)
# under `perf record`, written to bench/PROFILE.md (about a minute).  Skips,
# saying why, when perf is missing or may not sample here.
bench-profile: deps $(BUILD)/bench_sql $(EXT_OBJ) $(KV_OBJ)
	python3 bench/profile.py $(BUILD) bench/PROFILE.md

$(BUILD)/bench_sql: bench/bench_sql.c $(EXT_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -o $@ $< $(EXT_LIB) -lsqlite3 $(LDLIBS)

$(BUILD)/bench_kv: bench/bench_kv.c $(KV_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Ikvcore -o $@ $< $(KV_LIB) $(LDLIBS)

# bench-layout: versioned-key layouts (format 1, bytewise with escapes,
# RocksDB user-defined timestamps) on the same data through RocksDB's C API
# (about six minutes on 2 cores); not part of `make bench`.  Method and
# results: bench/LAYOUT.md.  LAYOUT_SECONDS, LAYOUT_BLOCKS, LAYOUT_ROWS and
# LAYOUT_SHAPES are read from the environment (bench_layout.c says how).
bench-layout: deps $(BUILD)/bench_layout
	$(BUILD)/bench_layout

$(BUILD)/bench_layout: bench/bench_layout.c $(KV_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) -Ikvcore -o $@ $< $(KV_LIB) $(LDLIBS)

clean:
	rm -rf build
