#!/bin/sh
# deps.sh - install the Debian packages mailfs builds and tests with, when
# any is missing. As root it runs apt-get itself; otherwise it prints the
# exact command to run. Arguments name further packages (make fuzz: clang
# and its runtime).
#
# The list is what a fresh Debian 12 (minbase) lacks, each for a reason:
#   build:  gcc make libc6-dev pkg-config, and the -dev packages of the
#           libraries we link (libfuse3, OpenSSL, c-ares, libevent, GMime,
#           SQLite: the inbox index)
#   run:    fuse3 (fusermount3)
#   man:    mandoc and groff-base (make lint, t0004: both render the pages)
#   tests:  perl (prove), python3 and python3-aiosmtpd (byte-exact SMTP,
#           test receivers), postfix (smtp-sink, smtp-source), dnsmasq-base,
#           swaks with libnet-ssleay-perl (swaks only recommends it, and
#           without it `swaks -tls` fails), openssl (certificates,
#           s_client), mblaze (reads the Maildir), rsync and vim (outbox
#           writers that stage and rename), procps (pgrep), systemd
#           (systemd-analyze verify on the unit) and man-db (which that
#           verify runs for the unit's Documentation= pages),
#           dovecot-imapd (reads the Maildir as another user: t1009),
#           bsd-mailx, mutt and git-email with libmailtools-perl (git
#           send-email's Mail::Address, only recommended) (programs that
#           call sendmail: t6001), libauthen-sasl-perl and
#           libio-socket-ssl-perl (git send-email's AUTH and STARTTLS to
#           our submission port, only recommended: t8003), sasl2-bin
#           and libsasl2-modules (a real Postfix smarthost that wants
#           SASL logins: t8004), sqlite3 (tampers with and checks the
#           inbox index: t2501), strace (holds a system call of the
#           daemon: t1011; make bench counts syncs with it)
# Installed with --no-install-recommends: a test that needs a recommended
# package must name it here; `sh ../shared/fresh-check.sh` (what .ci/run
# runs) catches one that is forgotten.
PKGS="$* gcc make libc6-dev pkg-config libfuse3-dev fuse3 libssl-dev openssl
libc-ares-dev libevent-dev libgmime-3.0-dev libsqlite3-dev mandoc groff-base postfix
dnsmasq-base swaks libnet-ssleay-perl mblaze python3 python3-aiosmtpd perl
rsync vim procps systemd man-db dovecot-imapd bsd-mailx mutt git-email libmailtools-perl
libauthen-sasl-perl libio-socket-ssl-perl sasl2-bin libsasl2-modules sqlite3 strace"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "mailfs needs:$missing" >&2
	echo "run: sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# postfix is wanted only for smtp-sink and smtp-source: never start it.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing >/dev/null ||
	{ echo "deps.sh: apt-get install$missing failed" >&2; exit 1; }
