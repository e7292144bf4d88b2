# pqx: build, test, benchmark, fuzz, demo and install (GNU make).

CC ?= cc
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
BUILD ?= build
VERSION = 0.1.0

DEPS = libcrypto sqlite3 libzstd
DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(DEPS) 2>/dev/null)
# libsqlite3 is loaded at run time by the chunk index, the only code that
# uses it (src/transfer/index.c): commands without an index don't pay for
# binding it. Tests that read the database themselves link it.
DEP_LIBS := $(shell $(PKG_CONFIG) --libs libcrypto libzstd 2>/dev/null || echo -lcrypto -lzstd)
SQLITE_LIBS := $(shell $(PKG_CONFIG) --libs sqlite3 2>/dev/null || echo -lsqlite3)

WARN = -Wall -Wextra -Wshadow -Wconversion -Wsign-conversion -Wstrict-prototypes \
       -Wmissing-prototypes -Wformat=2 -Wvla
OPT ?= -O3
CFLAGS ?= $(OPT) -g
ALL_CFLAGS = -std=c11 $(WARN) -fPIC -D_DEFAULT_SOURCE \
             -Iinclude -Isrc $(DEP_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS = $(DEP_LIBS) -lpthread -ldl
# Tests also read zlib-compressed vectors of the age testkit.
TEST_LIBS := $(shell $(PKG_CONFIG) --libs zlib 2>/dev/null || echo -lz) $(SQLITE_LIBS)

# SANITIZE=1: the ASan + UBSan build that `make check` also runs.
ifeq ($(SANITIZE),1)
EXTRA_CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif
# SANITIZE=thread: ThreadSanitizer, for the tests whose code runs threads.
ifeq ($(SANITIZE),thread)
EXTRA_CFLAGS += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS += -fsanitize=thread
endif
# The AVX2 code is built on x86-64 and chosen at run time by CPUID;
# PORTABLE=1 leaves it out altogether (the portable code passes everything).
ARCH := $(shell $(CC) -dumpmachine 2>/dev/null)
LIB_SRC := $(sort $(wildcard src/*/*.c src/*/*/*.c))
ifeq ($(filter x86_64%,$(ARCH)),)
PORTABLE = 1
endif
ifeq ($(PORTABLE),1)
LIB_SRC := $(filter-out %_avx2.c,$(LIB_SRC))
endif
ifneq ($(filter %_avx2.c,$(LIB_SRC)),)
EXTRA_CFLAGS += -DPQX_ENABLE_AVX2
endif
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_SRC := $(sort $(wildcard cli/*.c))
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC := $(sort $(wildcard tests/interop/*.c tests/ct/*.c tests/transfer/*.c))
TOOL_BIN := $(TOOL_SRC:tests/%.c=$(BUILD)/tests/%)
TLIB_SRC := $(sort $(wildcard tests/lib/*.c))
TLIB_OBJ := $(TLIB_SRC:%.c=$(BUILD)/obj/%.o)
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all lib tests check bench fuzz demo ct install uninstall clean deps format

# Objects depend on the flags they were built with (PORTABLE=1, SANITIZE=1...).
FLAGS_STAMP := $(BUILD)/flags.stamp
$(shell mkdir -p $(BUILD) && echo '$(CC) $(ALL_CFLAGS) $(LDFLAGS)' | cmp -s - $(FLAGS_STAMP) || \
	echo '$(CC) $(ALL_CFLAGS) $(LDFLAGS)' > $(FLAGS_STAMP))

all: $(BUILD)/libpqx.a $(BUILD)/libpqx.so $(BUILD)/pqx

lib: $(BUILD)/libpqx.a

$(BUILD)/obj/%_avx2.o: %_avx2.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -mavx2 -mbmi2 -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# The gear hash's loop ran 10-25% faster or slower with where the linker put
# it (docs/BENCHMARKS.md, fourteenth session); aligned, it keeps its pace.
$(BUILD)/obj/src/transfer/chunker.o: ALL_CFLAGS += -falign-functions=64 -falign-jumps=64

$(BUILD)/libpqx.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/libpqx.so: $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libpqx.so.0 $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/pqx: $(CLI_OBJ) $(BUILD)/libpqx.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Test binaries see the library's internal headers and link it statically,
# with the test support code in tests/lib (harness, JSON reader).
$(BUILD)/libtest.a: $(TLIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/obj/tests/lib/%.o: tests/lib/%.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -Wno-format-zero-length -Itests/lib -MMD -MP -c $< -o $@

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libtest.a $(BUILD)/libpqx.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -Wno-format-zero-length -Itests/lib $(LDFLAGS) -o $@ $^ $(LDLIBS) $(TEST_LIBS)

$(BUILD)/tests/interop/%: tests/interop/%.c $(BUILD)/libtest.a $(BUILD)/libpqx.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -Wno-format-zero-length -Itests/lib $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/ct/%: tests/ct/%.c tests/ct/ct.h $(BUILD)/libtest.a $(BUILD)/libpqx.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -Wno-format-zero-length -Itests/lib $(LDFLAGS) -o $@ $(filter-out %.h,$^) $(LDLIBS)

$(BUILD)/tests/transfer/%: tests/transfer/%.c $(BUILD)/libtest.a $(BUILD)/libpqx.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -Wno-format-zero-length -Itests/lib $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libpqx.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $^ $(LDLIBS)

tests: all $(TEST_BIN) $(TOOL_BIN)

deps:
	@sh scripts/deps.sh

# The whole test run: the normal build, the ASan+UBSan build, the threaded
# transfer tests under ThreadSanitizer, constant-time checks under valgrind,
# interop with independent implementations, fuzz target regressions. Ends
# with one line "N passed, N failed, N skipped".
TSAN_TESTS = test_dedup test_index test_tree
check: deps
	$(MAKE) tests
	$(MAKE) BUILD=$(BUILD)/asan SANITIZE=1 OPT=-O1 tests
	$(MAKE) BUILD=$(BUILD)/tsan SANITIZE=thread OPT=-O1 $(addprefix $(BUILD)/tsan/tests/,$(TSAN_TESTS))
	sh tests/run.sh $(BUILD)

ct: deps tests
	sh tests/ct/run.sh $(BUILD)

bench: deps all $(BENCH_BIN)
	sh bench/run.sh $(BUILD)

FUZZ_SECONDS ?= 60
fuzz: deps
	sh fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SECONDS)

demo: deps all
	sh scripts/demo.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/pqx
	install -m 0755 $(BUILD)/pqx $(DESTDIR)$(PREFIX)/bin/pqx
	install -m 0644 $(BUILD)/libpqx.a $(DESTDIR)$(PREFIX)/lib/libpqx.a
	install -m 0755 $(BUILD)/libpqx.so $(DESTDIR)$(PREFIX)/lib/libpqx.so.$(VERSION)
	ln -sf libpqx.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libpqx.so.0
	ln -sf libpqx.so.0 $(DESTDIR)$(PREFIX)/lib/libpqx.so
	install -m 0644 include/pqx.h $(DESTDIR)$(PREFIX)/include/pqx.h
	install -m 0644 include/pqx/*.h $(DESTDIR)$(PREFIX)/include/pqx/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' pqx.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/pqx.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/pqx $(DESTDIR)$(PREFIX)/lib/libpqx.* \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig/pqx.pc $(DESTDIR)$(PREFIX)/include/pqx.h
	rm -rf $(DESTDIR)$(PREFIX)/include/pqx

format:
	clang-format -i $(LIB_SRC) $(CLI_SRC) include/*.h include/pqx/*.h src/*/*.h

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
