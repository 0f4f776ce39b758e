# mailfs - mail as a file system. `make` builds ./mailfs, ./sendmail and
# ./mailq; `make run` mounts ./mnt over ./spool; `make check` runs every
# test (installing missing Debian packages first when run as root); `make check SANITIZE=1` runs
# them under ASan/UBSan; `make bench` compares with Postfix; `make install`
# (PREFIX, DESTDIR) installs it with its man pages and systemd unit.

PKGS	= fuse3 openssl libcares libevent libevent_openssl libevent_pthreads gmime-3.0 sqlite3 zlib
CC	?= cc
CFLAGS	?= -O2 -g
CFLAGS	+= -std=c11 -D_GNU_SOURCE -Wall -Wextra -I. -MMD -MP
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS	+= $(PKG_LIBS) -lcrypt -lpthread

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

check-run: $(B)/mailfs $(B)/sendmail units
	@MAILFS=$(CURDIR)/$(B)/mailfs UNITS="$(UNITS)" sh tests/run.sh

run: deps
	@$(MAKE) --no-print-directory mailfs
	@mkdir -p $(MNT) $(SPOOL)
	@mountpoint -q $(MNT) && fusermount3 -u $(MNT) || true
	./mailfs -f -o spool=$(CURDIR)/$(SPOOL),listen=127.0.0.1:2525,domains=localhost $(MNT)

# strace (in tests/deps.sh) counts the daemon's syncs per message.
bench:
	@sh tests/deps.sh
	@$(MAKE) --no-print-directory mailfs
	@sh tests/bench.sh

# Minutes, outside make check: the full-disk cycle and the crash loop of
# tests/stress.sh at scale (STRESS_N, STRESS_KILLS), printing each figure.
# the long runs of issue 10's faults, figures as "# figure:" and "#" lines:
# full disk and the crash loop (stress.sh), 1,000 slowloris sockets
# against one honest client (t7001 with LORIS=1000), tarpitting MXes beside
# a healthy domain (t7002), a truncated DNS answer beside healthy lookups
# (t7003)
stress: deps
	@$(MAKE) --no-print-directory $(B)/mailfs
	@MAILFS=$(CURDIR)/$(B)/mailfs LORIS=$${LORIS:-1000} prove -v \
	    --exec "sh tests/run.sh --one" tests/stress.sh \
	    tests/t7001-smtpd-slow.sh tests/t7002-deliver-tarpit.sh \
	    tests/t7003-dns-truncated.sh

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

# `make install PREFIX=/usr DESTDIR=...`: mailfs, its man pages, a systemd
# unit and, unless one is there, an example /etc/mailfs.conf (mailfs reads
# /etc whatever the PREFIX). The unit and the example are written here, not
# kept as files, as the unit names $(SBINDIR): there is no top-level
# directory for installed data (see README.md).
PREFIX	?= /usr/local
SBINDIR	= $(PREFIX)/sbin
BINDIR	= $(PREFIX)/bin
MANDIR	= $(PREFIX)/share/man
UNITDIR	= $(PREFIX)/lib/systemd/system
SYSCONFDIR = /etc

# Plain service, not a template: one daemon per spool, and the spool is in
# /etc/mailfs.conf. No sandboxing option that makes a mount namespace
# (ProtectSystem=, PrivateTmp=, ...): the mount would be seen by mailfs
# alone. mailfs unmounts itself on SIGTERM; ExecStopPost clears the dead
# mount a crash leaves, so that Restart= can mount again.
define MAILFS_SERVICE
# mailfs.service - mailfs(8) as the mail system of this host, written by
# `make install`. Set MOUNTPOINT (and MAILFS_OPTS, e.g. "-o allow_other")
# in /etc/default/mailfs or with `systemctl edit mailfs`; the settings
# are in /etc/mailfs.conf.
[Unit]
Description=mailfs mail system (mail as a file system)
Documentation=man:mailfs(8) man:mailfs.conf(5)
Wants=network-online.target
After=network-online.target nss-lookup.target

[Service]
Type=simple
Environment=MOUNTPOINT=/srv/mail
EnvironmentFile=-/etc/default/mailfs
ExecStartPre=mkdir -p $${MOUNTPOINT}
ExecStart=$(SBINDIR)/mailfs -f $$MAILFS_OPTS $${MOUNTPOINT}
ExecStopPost=-fusermount3 -u -q -z $${MOUNTPOINT}
Restart=on-failure
RestartSec=5s
TimeoutStopSec=90s

[Install]
WantedBy=multi-user.target
endef

define MAILFS_CONF
# /etc/mailfs.conf - the settings of mailfs(8); see mailfs.conf(5).
# Every setting is shown commented out, with its default: mailfs runs the
# same with this file as without it. Uncomment what this host changes.
# Mount options (allow_other, ...) go in fstab or -o, not here.

#spool = /var/spool/mailfs
#hostname = (the system's fully qualified domain name)
#domains = (the hostname)
#listen = 127.0.0.1:2525
#dns = system
#smtp_port = 25
#relayhost = none
#tls = may
#tls_ca = none
#tls_cert = none
#tls_key = none
#retry = 1m,5m,15m,30m,1h,2h,4h
#max_age = 5d
#max_size = 25M
#concurrency = 20
#concurrency_per_domain = (a fifth of concurrency, at least 1)
#keep = 7d
#delay_warning = 0
#min_free = (100M or 5% of the file system, whichever is smaller)
#group = none
#maildir_owner = (the daemon's user)
#maildir_mode = 0600
#smtpd_client_limit = 100
#smtpd_timeout = 5m
#smtpd_tls_ciphers = (ECDHE with AEAD for TLS 1.2; TLS 1.3 as OpenSSL has it)
#smtp_connect_timeout = 30s
#smtp_helo_timeout = 5m
#smtp_mail_timeout = 5m
#smtp_rcpt_timeout = 5m
#smtp_data_init_timeout = 2m
#smtp_data_xfer_timeout = 3m
#smtp_data_done_timeout = 10m
#smtp_quit_timeout = 5m
#relay_auth = none
#relay_tls = starttls
#submission = none
#submissions = none
#passwd = none
#auth_cleartext_loopback = no
#lmtp = none
#etrn_clients = 127.0.0.0/8,::1
endef

# written every time: the unit depends on PREFIX, which no timestamp shows
$(B)/mailfs.service: FORCE
	$(shell mkdir -p $(@D))$(file >$@,$(MAILFS_SERVICE))
	@echo "wrote $@"

$(B)/mailfs.conf.example: FORCE
	$(shell mkdir -p $(@D))$(file >$@,$(MAILFS_CONF))
	@echo "wrote $@"

FORCE:

install: mailfs $(B)/mailfs.service $(B)/mailfs.conf.example
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)
	install -m 755 $(B)/mailfs $(DESTDIR)$(SBINDIR)/mailfs
	install -m 644 man/mailfs.8 $(DESTDIR)$(MANDIR)/man8/mailfs.8
	install -m 644 man/mailfs.conf.5 $(DESTDIR)$(MANDIR)/man5/mailfs.conf.5
	install -m 644 $(B)/mailfs.service $(DESTDIR)$(UNITDIR)/mailfs.service
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/mailfs.conf ]; then \
	    echo "$(DESTDIR)$(SYSCONFDIR)/mailfs.conf exists: left as it is"; \
	else set -x; install -m 644 $(B)/mailfs.conf.example \
	    $(DESTDIR)$(SYSCONFDIR)/mailfs.conf; fi

# the system's sendmail(8) and mailq(1): programs that hand over mail
# (cron, mail(1), mutt, PHP) call these names
install-sendmail: install sendmail
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(B)/sendmail $(DESTDIR)$(SBINDIR)/sendmail
	ln -sf $(SBINDIR)/sendmail $(DESTDIR)$(BINDIR)/mailq
	install -m 644 man/sendmail.8 $(DESTDIR)$(MANDIR)/man8/sendmail.8

# /etc/mailfs.conf stays: it is the administrator's
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/mailfs $(DESTDIR)$(MANDIR)/man8/mailfs.8 \
	    $(DESTDIR)$(MANDIR)/man5/mailfs.conf.5 $(DESTDIR)$(UNITDIR)/mailfs.service
	@if [ "$$(readlink $(DESTDIR)$(BINDIR)/mailq)" = $(SBINDIR)/sendmail ]; then \
	    set -x; rm -f $(DESTDIR)$(SBINDIR)/sendmail $(DESTDIR)$(BINDIR)/mailq \
	    $(DESTDIR)$(MANDIR)/man8/sendmail.8; fi

# both renderers: mandoc, and groff, which is what man(1) uses on Debian
# (groff exits 0 on warnings, so any output fails)
lint:
	mandoc -Tlint -Wwarning man/*
	@out=$$(groff -man -ww -z man/* 2>&1); [ -z "$$out" ] || { echo "$$out"; exit 1; }

clean:
	rm -rf build mailfs sendmail mailq

# keep test objects: they are the dependency files' anchors
.SECONDARY:
.PHONY: all mailfs sendmail mailq units deps check check-run run bench stress \
	fuzz lint clean install install-sendmail uninstall FORCE
-include $(OBJS:.o=.d) $(B)/mailfs.d $(B)/sendmail.d $(UNITS:%=%.d)
