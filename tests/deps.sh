#!/bin/sh
# deps.sh - install the Debian packages mailfs builds and tests with, when
# any is missing. As root it runs apt-get itself; otherwise it prints the
# exact command to run. Arguments name further packages (make fuzz: clang and its runtime).
PKGS="$* build-essential pkg-config libfuse3-dev fuse3 libssl-dev openssl
libc-ares-dev libevent-dev libgmime-3.0-dev mandoc postfix dnsmasq-base
swaks mblaze python3 python3-aiosmtpd perl rsync vim procps"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "mailfs needs:$missing" >&2
	echo "run: sudo apt-get update && sudo apt-get install -y$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# postfix is wanted only for smtp-sink and smtp-source: never start it.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing >/dev/null ||
	{ echo "deps.sh: apt-get install$missing failed" >&2; exit 1; }
