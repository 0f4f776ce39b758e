#!/bin/sh
# t0004-cli-truths - the smaller truths of the command line and the man
# pages: --help and --version, a -c that is no regular file, zero values
# and stray commas in the settings, and man pages that groff and mandoc
# render without a word of complaint.
. "$(dirname "$0")/test-lib.sh"

M=$T/mnt
mkdir -p "$M" "$T/spool"
test_mounts="$test_mounts $M"
BASE="spool=$T/spool,listen=none,hostname=mailfs.test"

# refused_at_once WHAT ARGS...: config_refused, with mailfs given 10 s:
# before the fix a -c of /dev/zero or a FIFO never returned
printf '#!/bin/sh\nexec timeout 10 "%s" "$@"\n' "$MAILFS" >"$T/mailfs10" &&
chmod +x "$T/mailfs10" || exit 1
refused_at_once() {
	real=$MAILFS
	MAILFS=$T/mailfs10
	config_refused "$@"
	rc=$?
	MAILFS=$real
	return $rc
}

# usage_ok OPTION: prints the usage on stdout, nothing on stderr, exits 0
usage_ok() {
	"$MAILFS" "$1" >out 2>err
	rc=$?
	cat out err
	[ $rc -eq 0 ] && grep -q "^usage: mailfs" out && grep -q -- "-o" out &&
	grep -q -- "--help" out && grep -q -- "--version" out && ! [ -s err ]
}

# version_ok OPTION: prints "mailfs VERSION" on stdout and exits 0
version_ok() {
	version=$(sed -n "s/^VERSION[[:space:]]*=[[:space:]]*//p" "$SRCDIR/Makefile") &&
	"$MAILFS" "$1" >out 2>err
	rc=$?
	cat out err
	[ $rc -eq 0 ] && [ "$(cat out)" = "mailfs $version" ] && ! [ -s err ]
}

test_expect_success '--help prints the usage on stdout and exits 0' '
	usage_ok --help
'

test_expect_success '-h prints the usage on stdout and exits 0' '
	usage_ok -h
'

test_expect_success '--version prints the version and exits 0' '
	version_ok --version
'

test_expect_success '-V prints the version and exits 0' '
	version_ok -V
'

test_expect_success 'an unknown long option is a usage error (64)' '
	"$MAILFS" --no-such-option "$M" >out 2>err
	rc=$?
	cat err
	[ $rc -eq 64 ] && grep -qi usage err && ! [ -s out ] &&
	! mountpoint -q "$M"
'

test_expect_success '-c DIRECTORY is refused with 78, naming it' '
	mkdir -p "$T/conf.d" &&
	refused_at_once "$T/conf.d: is a directory" -c "$T/conf.d" -o "$BASE"
'

test_expect_success '-c /dev/zero is refused with 78 at once' '
	refused_at_once "/dev/zero: is a character device" -c /dev/zero -o "$BASE"
'

test_expect_success '-c FIFO is refused with 78 without waiting for a writer' '
	mkfifo "$T/fifo" &&
	refused_at_once "$T/fifo: is a FIFO" -c "$T/fifo" -o "$BASE"
'

test_expect_success 'retry=0s is refused: greater than zero' '
	config_refused "retry: .*greater than zero" -o "$BASE,retry=0s" &&
	! grep -q "not a duration" "$T/stderr"
'

test_expect_success 'max_size=0 is refused: greater than zero' '
	config_refused "max_size: .*greater than zero" -o "$BASE,max_size=0"
'

test_expect_success 'max_age=0 and keep=0 are accepted (one attempt, no archive)' '
	"$MAILFS" -o "$BASE,max_age=0,keep=0s" "$M" 2>err &&
	wait_for 100 mountpoint -q "$M" &&
	fusermount3 -u "$M"
'

# a stray comma in every list setting, in a -c file and with -o
for kv in "retry = 1m," "retry = 1m,,5m" "domains = a.test," \
	"domains = a.test, , b.test" "listen = 127.0.0.1:2525," \
	"dns = 127.0.0.1," "dns = ,127.0.0.1"; do
	key=${kv%% *}
	test_expect_success "a stray comma in the file: $kv is refused" "
		printf '%s\n' '$kv' >\"\$T/comma.conf\" &&
		config_refused '$key: .*empty element' -c \"\$T/comma.conf\" -o \"\$BASE\"
	"
done

for kv in retry=1m, domains=a.test,,b.test dns=127.0.0.1,; do
	key=${kv%%=*}
	test_expect_success "a stray comma with -o: $kv is refused" "
		config_refused '$key: .*empty element' -o \"$kv,\$BASE\"
	"
done

test_expect_success 'the man pages render silently with groff and mandoc' '
	groff -man -ww -z "$SRCDIR/man/mailfs.8" \
		"$SRCDIR/man/mailfs.conf.5" >lint 2>&1 &&
	mandoc -Tlint -Wwarning "$SRCDIR/man/mailfs.8" \
		"$SRCDIR/man/mailfs.conf.5" >>lint 2>&1
	cat lint
	! [ -s lint ]
'

test_expect_success 'mailfs.8 documents the environment it reads' '
	grep -q "^\.Sh ENVIRONMENT" "$SRCDIR/man/mailfs.8" &&
	missing=$(for v in XDG_STATE_HOME HOME MAILFS_DEBUG SSL_CERT_FILE \
		SSL_CERT_DIR; do
		grep "^\.It Ev " "$SRCDIR/man/mailfs.8" | grep -qw "$v" ||
			echo "$v"
	done) &&
	echo "not documented: $missing" && [ -z "$missing" ]
'

test_done
