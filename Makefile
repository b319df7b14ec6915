# runnel — plain Makefile. `make` builds bin/, `make check` runs every test
# suite (plain and under ASan+UBSan), `make demo` runs the sample pipeline.

PREFIX   ?= /usr/local
CC       ?= gcc
O        ?= build
BIN      ?= bin
SAN      ?=

# Debian packages: what building needs, and what the tests need on top.
DEBS_BUILD := gcc make pkg-config libcjson-dev libopenblas-openmp-dev libutf8proc-dev \
              libpng-dev libjpeg62-turbo-dev libavformat-dev libavcodec-dev libswscale-dev \
              libavutil-dev libavdevice-dev libfreetype-dev fonts-dejavu-core libyaml-dev \
              libmicrohttpd-dev
DEBS_CHECK := $(DEBS_BUILD) libcmocka-dev bats gawk file man-db groff-base python3 python3-numpy python3-torch clang libclang-rt-14-dev python3-venv ffmpeg python3-opencv opencv-doc curl
PKGS       := libcjson openblas libutf8proc libpng libjpeg libavformat libavcodec libswscale \
              libavutil libavdevice freetype2 yaml-0.1 libmicrohttpd
DEBS_BENCH := wrk python3-fastapi python3-uvicorn
TEST_PKGS  := cmocka

ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT      := -O1
else
SANFLAGS :=
OPT      := -O2
endif

# OpenBLAS: the OpenMP build (one thread pool shared with runnel's loops),
# found in its own pkg-config directory and pinned at run time by rpath,
# since libopenblas.so.0 alone may resolve to the pthread build through
# Debian's alternatives.
OPENBLAS_PC := /usr/lib/$(shell $(CC) -print-multiarch 2>/dev/null)/openblas-openmp/pkgconfig
PKG_CONFIG_ENV := PKG_CONFIG_PATH=$(OPENBLAS_PC)$${PKG_CONFIG_PATH:+:$$PKG_CONFIG_PATH}
OPENBLAS_LIBDIR := $(shell $(PKG_CONFIG_ENV) pkg-config --variable=libdir openblas 2>/dev/null)
PKG_CFLAGS = $(shell $(PKG_CONFIG_ENV) pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell $(PKG_CONFIG_ENV) pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS = $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS   = $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-unused-parameter -Wvla
CFLAGS   ?= $(OPT) -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(CFLAGS) $(WARN) $(SANFLAGS) -fopenmp -Ilibcore $(PKG_CFLAGS) -MMD -MP
LDLIBS   = -Wl,--as-needed $(PKG_LIBS) -Wl,-rpath,$(OPENBLAS_LIBDIR) -lm

LIB_SRC  := $(sort $(wildcard libcore/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(O)/%.o)
LIB      := $(O)/libcore.a
CMDS     := $(sort $(basename $(notdir $(wildcard cmd/*.c))))
BINS     := $(CMDS:%=$(BIN)/%)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNITS    := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all check check-plain check-asan unit demo install uninstall clean bench fuzz \
        deps-build deps-check completions venv vocab-gpt2
.DEFAULT_GOAL := all

all: $(BINS)

# Quiet rules ("CC libcore/stream.c"); `make V=1` shows the commands.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2)
endif
.SECONDARY:

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(call say,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(BIN)/%: $(O)/cmd/%.o $(LIB)
	@mkdir -p $(@D)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ -o $@ $(LDLIBS)

$(O)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) $< $(LIB) -o $@ $(LDLIBS) $(TEST_LIBS)

# Helper programs of the reference (parity) tests and of the benchmarks:
# every tests/ref/*.c and bench/*.c is one program.
REF_PROGS   := $(patsubst tests/ref/%.c,$(O)/tests/%,$(wildcard tests/ref/*.c))
BENCH_PROGS := $(patsubst bench/%.c,$(O)/bench/%,$(wildcard bench/*.c))
$(O)/tests/%: tests/ref/%.c $(LIB)
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(LIB) -o $@ $(LDLIBS)
$(O)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) $< $(LIB) -o $@ $(LDLIBS)

unit: $(UNITS) $(REF_PROGS)

-include $(LIB_OBJ:.o=.d) $(CMDS:%=$(O)/cmd/%.d)

# ---- dependencies ---------------------------------------------------------
deps-build:
	@scripts/ensure-debs.sh $(DEBS_BUILD)
deps-check:
	@scripts/ensure-debs.sh $(DEBS_CHECK)

# ---- tests ----------------------------------------------------------------
# check: every suite, plain build then ASan+UBSan build, one summary line.
check: deps-check venv vocab-gpt2
	@$(MAKE) --no-print-directory all unit fuzz-build
	@$(MAKE) --no-print-directory SAN=1 O=build/asan BIN=build/asan/bin all unit
	@tests/run.sh

FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
# The fuzz targets link only the modules of the readers they exercise.
FUZZ_LIB := $(addprefix libcore/,err.c io.c crc32c.c stream.c tensor.c img.c img_png.c \
            img_jpeg.c img_pnm.c)
FUZZ_PKGS := libcjson libpng libjpeg
build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB) $(wildcard libcore/*.h)
	@mkdir -p $(@D)
	$(call say,FUZZ,$<)
	$(Q)clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	    -Ilibcore $$(pkg-config --cflags $(FUZZ_PKGS)) $< $(FUZZ_LIB) -o $@ \
	    $$(pkg-config --libs $(FUZZ_PKGS)) -lm
fuzz-build: $(FUZZ_BIN)

# fuzz: a bounded coverage-guided run of every fuzz target (FUZZ_SECONDS each).
FUZZ_SECONDS ?= 60
fuzz: deps-check fuzz-build
	@for f in $(FUZZ_BIN); do n=$${f##*/fuzz_}; \
	    mkdir -p build/fuzz/new-$$n; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 -malloc_limit_mb=512 \
	        build/fuzz/new-$$n tests/fuzz/corpus/$$n || exit 1; done

# ---- tokenizer references -------------------------------------------------
# venv: PyPI test references (tests/ref/requirements.txt) in build/venv.
# vocab-gpt2: GPT-2's ranks file into build/vocab (for users and ref tests).
venv: build/venv/.stamp
build/venv/.stamp: tests/ref/requirements.txt
	@mkdir -p build
	/usr/bin/python3 -m venv build/venv
	build/venv/bin/pip install --quiet -r tests/ref/requirements.txt
	@touch $@
vocab-gpt2: build/vocab/gpt2.tiktoken
build/vocab/gpt2.tiktoken:
	scripts/fetch-gpt2-vocab.sh $@

# ---- demo, install, bench -------------------------------------------------
demo: deps-build all
	@samples/demo.sh
	@samples/demo-vision.sh
	@samples/demo-train.sh

bench: all $(BENCH_PROGS)
	@scripts/ensure-debs.sh $(DEBS_BENCH)
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
	@set -e; for c in $(CMDS); do \
	    echo "install runnel-$$c"; \
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
