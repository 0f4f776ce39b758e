#!/bin/sh
# t0001-cli - the command line of mailfs(8): -V, -h, usage errors, and
# settings refused with exit 78 (EX_CONFIG) and one line on stderr naming
# the key, before anything is mounted.
. "$(dirname "$0")/test-lib.sh"

M=$T/mnt
mkdir -p "$M" "$T/spool"
test_mounts="$test_mounts $M"
BASE="spool=$T/spool,listen=none,hostname=mailfs.test"

test_expect_success '-V prints the version' '
	version=$(sed -n "s/^VERSION[[:space:]]*=[[:space:]]*//p" "$SRCDIR/Makefile") &&
	"$MAILFS" -V >out 2>&1 &&
	cat out && grep -q -F "$version" out
'

test_expect_success '-h prints the usage and exits 0' '
	"$MAILFS" -h >out 2>&1 &&
	cat out && grep -qi usage out && grep -q -- "-o" out
'

test_expect_success 'no mountpoint is a usage error (64)' '
	"$MAILFS" -o "$BASE" >out 2>err
	rc=$?
	cat err
	[ $rc -eq 64 ] && grep -qi usage err &&
	! mountpoint -q "$M"
'

test_expect_success 'unknown option letter is a usage error (64)' '
	"$MAILFS" -Z "$M" >out 2>err
	rc=$?
	cat err
	[ $rc -eq 64 ] && ! mountpoint -q "$M"
'

# two operands are SOURCE MOUNTPOINT now, as mount(8) passes them
# (t0005); one more than that is still a usage error
test_expect_success 'three operands (two mountpoints after SOURCE) are a usage error (64)' '
	"$MAILFS" -o "$BASE" mailfs "$M" "$T" >out 2>err
	rc=$?
	cat err
	[ $rc -eq 64 ] && ! mountpoint -q "$M" && ! mountpoint -q "$T"
'

test_expect_success 'a spool that cannot be created exits 73 before mounting' '
	"$MAILFS" -o "spool=/proc/mailfs-no/spool,listen=none,hostname=mailfs.test" \
		"$M" >out 2>err
	rc=$?
	cat err
	[ $rc -eq 73 ] && grep -q spool err && ! mountpoint -q "$M"
'

# hold_port PORT: a listener on 127.0.0.1:PORT for a minute. exec: run in
# the background, the function's subshell becomes python, so $! is the
# listener's PID and kill_pid ends it (it outlived the test for a minute).
hold_port() {
	exec $PY -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
time.sleep(60)' "$1"
}

test_expect_success 'a listen address in use exits 1 before mounting' '
	port=$(free_port) &&
	{ hold_port $port & } &&
	holder=$! && track_pid $holder &&
	test_when_finished "kill_pid $holder" &&
	wait_for 50 $PY -c "import socket; socket.create_connection((\"127.0.0.1\", $port), 1)" &&
	"$MAILFS" -o "spool=$T/spool,hostname=mailfs.test,listen=127.0.0.1:$port" \
		"$M" >out 2>err
	rc=$?
	cat err
	[ $rc -eq 1 ] && grep -q "listen" err && ! mountpoint -q "$M"
'

test_expect_success 'unknown key via -o is refused with 78' '
	config_refused no_such_key -o "$BASE,no_such_key=1"
'

test_expect_success 'unknown key in the -c file is refused with 78' '
	printf "# settings\nspool = %s\nno_such_key = 1\n" "$T/spool" >"$T/bad.conf" &&
	config_refused no_such_key -c "$T/bad.conf" -o "listen=none,hostname=mailfs.test"
'

test_expect_success 'a line without = in the -c file is refused with 78' '
	printf "spool = %s\nlisten\n" "$T/spool" >"$T/bad2.conf" &&
	"$MAILFS" -c "$T/bad2.conf" "$M" 2>err
	rc=$?
	cat err
	[ $rc -eq 78 ] && [ "$(wc -l <err)" -eq 1 ] && ! mountpoint -q "$M"
'

for kv in retry=5x max_age=5x keep=5x retry=1m,5x max_size=10Q \
	tls=maybe listen=garbage concurrency=0 concurrency=-3 \
	dns=notanip smtp_port=notaport; do
	key=${kv%%=*}
	test_expect_success "bad value $kv is refused with 78" "
		config_refused $key -o \"\$BASE,$kv\"
	"
done

test_expect_success 'bad value in the -c file is refused with 78' '
	printf "max_size = 10Q\n" >"$T/bad3.conf" &&
	config_refused max_size -c "$T/bad3.conf" -o "$BASE"
'

test_expect_success 'a bad value in -c is refused even if -o sets it well' '
	printf "tls = maybe\n" >"$T/bad4.conf" &&
	config_refused tls -c "$T/bad4.conf" -o "$BASE,tls=may"
'

test_expect_success 'a missing -c file is refused before mounting' '
	"$MAILFS" -c "$T/does-not-exist.conf" -o "$BASE" "$M" 2>err
	rc=$?
	cat err
	[ $rc -ne 0 ] && grep -q does-not-exist err && ! mountpoint -q "$M"
'

test_expect_success 'good values of every setting are accepted' '
	cat >"$T/good.conf" <<-EOC &&
	# every key of mailfs.conf(5)
	spool = $T/spool
	hostname = mailfs.test
	domains = mailfs.test, example.test
	listen = none
	dns = 127.0.0.1:53
	smtp_port = 2525
	relayhost = 127.0.0.1:2526
	tls = none
	retry = 30s,2m,1h,1d
	max_age = 2d
	max_size = 512K
	concurrency = 3
	keep = 12h
	EOC
	"$MAILFS" -c "$T/good.conf" "$M" 2>err &&
	wait_for 100 mountpoint -q "$M" &&
	fusermount3 -u "$M"
'

test_done
