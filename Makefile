# mailfs - mail as a file system. `make` builds ./mailfs, ./sendmail and
# ./mailq; `make run` mounts
# ./mnt over ./spool; `make check` runs every test (installing missing
# Debian packages first when run as root); `make check SANITIZE=1` runs
# them under ASan/UBSan; `make bench` compares with Postfix.

PKGS	= fuse3 openssl libcares libevent libevent_openssl libevent_pthreads gmime-3.0
CC	?= cc
CFLAGS	?= -O2 -g
CFLAGS	+= -std=c11 -D_GNU_SOURCE -Wall -Wextra -I. -MMD -MP
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS	+= $(PKG_LIBS) -lpthread

ifeq ($(SANITIZE),1)
B	= build/asan
CFLAGS	+= -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS	+= -fsanitize=address,undefined
else
B	= build/plain
endif

SRCS	= $(filter-out %_test.c %_fuzz.c,$(wildcard lib/*.c queue/*.c smtp/*.c fs/*.c))
OBJS	= $(SRCS:%.c=$(B)/%.o)
UNITS	= $(patsubst %.c,$(B)/%,$(wildcard lib/*_test.c queue/*_test.c smtp/*_test.c fs/*_test.c))
VERSION	= 0.1.0

MNT	?= mnt
SPOOL	?= spool

all: mailfs sendmail mailq

mailfs: $(B)/mailfs
	@[ "$(B)" = build/plain ] && cp $(B)/mailfs mailfs.new && mv -f mailfs.new mailfs || true

# one program: mailq is sendmail -bp by its name
sendmail mailq: $(B)/sendmail
	@[ "$(B)" = build/plain ] && cp $(B)/sendmail $@.new && mv -f $@.new $@ || true

$(B)/mailfs $(B)/sendmail: $(B)/%: $(B)/%.o $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/%_test: $(B)/%_test.o $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -DMAILFS_VERSION='"$(VERSION)"' -c -o $@ $<

units: $(UNITS)

deps:
	@sh tests/deps.sh

# The sub-make re-reads pkg-config after deps.sh installed what was missing.
check: deps
	@$(MAKE) --no-print-directory check-run

check-run: $(B)/mailfs units
	@MAILFS=$(CURDIR)/$(B)/mailfs UNITS="$(UNITS)" sh tests/run.sh

run: deps
	@$(MAKE) --no-print-directory mailfs
	@mkdir -p $(MNT) $(SPOOL)
	@mountpoint -q $(MNT) && fusermount3 -u $(MNT) || true
	./mailfs -f -o spool=$(CURDIR)/$(SPOOL),listen=127.0.0.1:2525,domains=localhost $(MNT)

bench: deps
	@$(MAKE) --no-print-directory mailfs
	@sh tests/bench.sh

# libFuzzer targets beside the modules (X_fuzz.c), built with clang into
# build/fuzz; `make fuzz FUZZ_SECONDS=60` runs each that long, new inputs
# going to build/fuzz/corpus, the seeds in tests/fuzz-seeds read only.
FUZZERS	= $(patsubst %.c,build/fuzz/%,$(wildcard lib/*_fuzz.c queue/*_fuzz.c smtp/*_fuzz.c fs/*_fuzz.c))
FUZZ_SRCS = $(SRCS:%.c=build/fuzz/%.o)
FUZZ_SECONDS ?= 30
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -I. -g -O1 -fsanitize=fuzzer-no-link,address,undefined

build/fuzz/%.o: %.c
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) $(PKG_CFLAGS) -DMAILFS_VERSION='"$(VERSION)"' -c -o $@ $<

build/fuzz/%_fuzz: build/fuzz/%_fuzz.o $(FUZZ_SRCS)
	clang -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

fuzz:
	@sh tests/deps.sh clang libclang-rt-14-dev
	@$(MAKE) --no-print-directory $(FUZZERS)
	@for f in $(FUZZERS); do mkdir -p build/fuzz/corpus/$${f##*/}; \
	    echo "== $$f"; $$f -max_total_time=$(FUZZ_SECONDS) \
	    build/fuzz/corpus/$${f##*/} tests/fuzz-seeds/$${f##*/} 2>&1 | \
	    tail -n 3 || exit 1; done

# both renderers: mandoc, and groff, which is what man(1) uses on Debian
# (groff exits 0 on warnings, so any output fails)
lint:
	mandoc -Tlint -Wwarning man/*
	@out=$$(groff -man -ww -z man/* 2>&1); [ -z "$$out" ] || { echo "$$out"; exit 1; }

clean:
	rm -rf build mailfs sendmail mailq

# keep test objects: they are the dependency files' anchors
.SECONDARY:
.PHONY: all mailfs sendmail mailq units deps check check-run run bench fuzz lint clean
-include $(OBJS:.o=.d) $(B)/mailfs.d $(B)/sendmail.d
