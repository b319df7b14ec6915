# runnel — plain Makefile. `make` builds bin/, `make check` runs every test
# suite (plain and under ASan+UBSan), `make demo` runs the sample pipeline.

PREFIX   ?= /usr/local
CC       ?= gcc
O        ?= build
BIN      ?= bin
SAN      ?=

# Debian packages: what building needs, and what the tests need on top.
DEBS_BUILD := gcc make pkg-config libcjson-dev
DEBS_CHECK := $(DEBS_BUILD) libcmocka-dev bats python3 python3-numpy clang libclang-rt-14-dev
PKGS       := libcjson
TEST_PKGS  := cmocka

ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT      := -O1
else
SANFLAGS :=
OPT      := -O2
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS = $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS   = $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-unused-parameter -Wvla
CFLAGS   ?= $(OPT) -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(CFLAGS) $(WARN) $(SANFLAGS) -Ilibcore $(PKG_CFLAGS) -MMD -MP
LDLIBS   = $(PKG_LIBS) -lm

LIB_SRC  := $(sort $(wildcard libcore/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(O)/%.o)
LIB      := $(O)/libcore.a
CMDS     := $(sort $(basename $(notdir $(wildcard cmd/*.c))))
BINS     := $(CMDS:%=$(BIN)/%)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNITS    := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all check check-plain check-asan unit demo install uninstall clean bench fuzz \
        deps-build deps-check completions
.DEFAULT_GOAL := all

all: $(BINS)

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BIN)/%: $(O)/cmd/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDLIBS)

$(O)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) $< $(LIB) -o $@ $(LDLIBS) $(TEST_LIBS)

unit: $(UNITS)

-include $(LIB_OBJ:.o=.d) $(CMDS:%=$(O)/cmd/%.d)

# ---- dependencies ---------------------------------------------------------
deps-build:
	@scripts/ensure-debs.sh $(DEBS_BUILD)
deps-check:
	@scripts/ensure-debs.sh $(DEBS_CHECK)

# ---- tests ----------------------------------------------------------------
# check: every suite, plain build then ASan+UBSan build, one summary line.
check: deps-check
	@$(MAKE) --no-print-directory all unit fuzz-build
	@$(MAKE) --no-print-directory SAN=1 O=build/asan BIN=build/asan/bin all unit
	@tests/run.sh

FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
build/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(wildcard libcore/*.h)
	@mkdir -p $(@D)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	    -Ilibcore $(PKG_CFLAGS) $< $(LIB_SRC) -o $@ $(LDLIBS)
fuzz-build: $(FUZZ_BIN)

# fuzz: a bounded coverage-guided run of every fuzz target (FUZZ_SECONDS each).
FUZZ_SECONDS ?= 60
fuzz: deps-check fuzz-build
	@for f in $(FUZZ_BIN); do n=$${f##*/fuzz_}; \
	    mkdir -p build/fuzz/new-$$n; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 -malloc_limit_mb=512 \
	        build/fuzz/new-$$n tests/fuzz/corpus/$$n || exit 1; done

# ---- demo, install, bench -------------------------------------------------
demo: deps-build all
	@samples/demo.sh

bench: all
	@for b in bench/*.sh; do echo "== $$b"; $$b || exit 1; done

completions: all
	@for c in $(CMDS); do \
	    $(BIN)/$$c --completion bash > completions/$$c.bash; \
	    $(BIN)/$$c --completion zsh > completions/_$$c; done

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man5 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	    $(DESTDIR)$(PREFIX)/share/zsh/site-functions
	for c in $(CMDS); do \
	    install -m 755 $(BIN)/$$c $(DESTDIR)$(PREFIX)/bin/runnel-$$c; \
	    install -m 644 man/man1/$$c.1 $(DESTDIR)$(PREFIX)/share/man/man1/runnel-$$c.1; \
	    sed "s/\b$$c\b/runnel-$$c/g" completions/$$c.bash \
	        > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/runnel-$$c; \
	    sed "s/\b$$c\b/runnel-$$c/g" completions/_$$c \
	        > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_runnel-$$c; done
	install -m 644 man/man5/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/

uninstall:
	for c in $(CMDS); do rm -f $(DESTDIR)$(PREFIX)/bin/runnel-$$c \
	    $(DESTDIR)$(PREFIX)/share/man/man1/runnel-$$c.1 \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions/runnel-$$c \
	    $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_runnel-$$c; done
	rm -f $(DESTDIR)$(PREFIX)/share/man/man5/runnel-*.5

clean:
	rm -rf build bin
