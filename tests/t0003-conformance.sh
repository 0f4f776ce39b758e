#!/bin/sh
# t0003-conformance - points of interface.md between the modules: TLS files
# and listen names checked before the mount (exit 78, one line naming the
# key), relative TLS paths, listen by name and on [::1], repeated and spaced
# -o, the log line format, IDs that `ls` sorts by time, `tail -f log`.
. "$(dirname "$0")/test-lib.sh"

M=$T/mnt
mkdir -p "$M" "$T/spool"
test_mounts="$test_mounts $M"
BASE="spool=$T/spool,listen=none,hostname=mailfs.test"

# ehlo HOST PORT: the EHLO reply of the listener there
ehlo() {
	$PY -c 'import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=10)
print(s.ehlo()[1].decode()); s.quit()' "$1" "$2"
}

mkcert() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/$1.key" \
		-out "$T/$1.crt" -subj "/CN=$1" -days 2 2>/dev/null
}

test_expect_success 'setup: two certificates' '
	mkcert a && mkcert b
'

test_expect_success 'a tls_cert that is no certificate is refused with 78' '
	config_refused tls_cert -o "$BASE,tls_cert=/etc/passwd,tls_key=$T/a.key"
'

test_expect_success 'a tls_key that is not the key of tls_cert is refused with 78' '
	config_refused tls_key -o "$BASE,tls_cert=$T/a.crt,tls_key=$T/b.key"
'

test_expect_success 'a tls_ca that holds no certificate is refused with 78' '
	config_refused tls_ca -o "$BASE,tls=verify,tls_ca=/etc/hostname"
'

test_expect_success 'a listen name that does not resolve is refused with 78' '
	config_refused listen -o "$BASE,listen=nosuch.invalid:2525"
'

test_expect_success 'relative tls_cert, tls_key, tls_ca work after the mount' '
	port=$(free_port) &&
	(cd "$T" && "$MAILFS" -o "$BASE,listen=127.0.0.1:$port" \
		-o "tls_cert=a.crt,tls_key=a.key,tls_ca=b.crt" "$M") &&
	test_when_finished "fusermount3 -u \"$M\"" &&
	mountpoint -q "$M" &&
	ehlo 127.0.0.1 $port >ehlo &&
	cat ehlo && grep -q STARTTLS ehlo
'

test_expect_success 'listen by host name (localhost:PORT)' '
	port=$(free_port) &&
	mailfs_start name -o "listen=localhost:$port" &&
	test_when_finished "mailfs_stop" &&
	ehlo 127.0.0.1 $port >ehlo && grep -q SIZE ehlo
'

test_expect_success 'listen [::1]:PORT binds ::1' '
	port=$(free_port) &&
	mailfs_start v6 -o "listen=[::1]:$port" &&
	test_when_finished "mailfs_stop" &&
	ehlo ::1 $port >ehlo && grep -q SIZE ehlo &&
	! ehlo 127.0.0.1 $port
'

test_expect_success 'several -o: a later value wins; keys and values may be spaced' '
	mailfs_start opts -o "max_size=1K" -o " max_size = 2K , concurrency = 3" &&
	test_when_finished "mailfs_stop" &&
	{ printf "From: a@mailfs.test\nTo: b@example.test\n\n"; head -c 1500 /dev/zero | tr "\0" x; echo; } >"$T/m1500" &&
	cp "$T/m1500" "$MNT/outbox/m" &&
	{ printf "From: a@mailfs.test\nTo: b@example.test\n\n"; head -c 2500 /dev/zero | tr "\0" x; echo; } >"$T/m2500" &&
	! cp "$T/m2500" "$MNT/outbox/big"
'

DEAD=127.0.0.1:$(free_port)

test_expect_success 'log lines: TIME ID EVENT key=value, spaced values quoted' '
	port=$(free_port) &&
	mailfs_start log -o "listen=127.0.0.1:$port,relayhost=$DEAD" &&
	send "my file" b@example.test &&
	wait_for 50 grep -q " deferred " "$MNT/log" &&
	cat "$MNT/log" &&
	grep -q "^[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]Z [^ ][^ ]* queued .* name=\"my file\"" "$MNT/log" &&
	! grep -v "^[0-9-]*T[0-9:]*Z [^ ][^ ]* [a-z][a-z]*\( [a-z_]*=\([^ \"]*\|\"\([^\"\\\\]\|\\\\.\)*\"\)\)*\$" "$MNT/log"
'

test_expect_success 'tail -f log follows new lines' '
	tail -n 0 -f "$MNT/log" >"$T/tail.out" 2>&1 &
	tp=$! && track_pid $tp &&
	test_when_finished "kill_pid $tp" &&
	sleep 0.5 &&
	send followed b@example.test &&
	wait_for 100 grep -q "name=followed" "$T/tail.out"
'

# in_time_order DIR EVENT: `ls DIR` lists the IDs in the order the log
# has their EVENT lines (in the C locale and in a UTF-8 one, if any)
in_time_order() {
	grep " $2 " "$MNT/log" | awk "{print \$2}" >"$T/bylog" &&
	ls "$1" >"$T/byls" &&
	test_cmp "$T/bylog" "$T/byls" &&
	LC_ALL=C ls "$1" >"$T/byls" && test_cmp "$T/bylog" "$T/byls" &&
	loc=$(locale -a 2>/dev/null | grep -i "utf-\?8" | grep -v "^C" | head -n 1) &&
	if [ -n "$loc" ]; then
		LC_ALL=$loc ls "$1" >"$T/byls" && test_cmp "$T/bylog" "$T/byls"
	fi
}

test_expect_success 'queue IDs sort by time with ls' '
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
		send "q$i" b@example.test || return 1
	done &&
	in_time_order "$MNT/queue" queued
'

test_expect_success 'inbox IDs sort by time with ls' '
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
		$PY -c "import smtplib, sys
s = smtplib.SMTP(\"127.0.0.1\", $port, timeout=10)
s.sendmail(\"x@example.test\", [\"u@mailfs.test\"], \"Subject: %s\r\n\r\nhi\r\n\" % sys.argv[1])
s.quit()" "in$i" || return 1
	done &&
	in_time_order "$MNT/inbox" received
'

test_expect_success 'stats: every key of interface.md, one number each' '
	cat "$MNT/stats" &&
	awk "{print \$1}" "$MNT/stats" | sort >keys &&
	printf "%s\n" deferred delivered failed inbox queue queued received refused rejected sending \
		spool_free spool_free_pct state_write_errors | sort >want &&
	test_cmp want keys &&
	! grep -v "^[a-z_]* [0-9][0-9]*\$" "$MNT/stats" &&
	grep -qx "inbox 12" "$MNT/stats" && grep -qx "received 12" "$MNT/stats"
'

test_done
