#!/bin/sh
# t0006-reload - SIGHUP rereads the settings file and the -o of the
# command line: what can change while mounted takes effect at once (the
# outbox's max_size, the listener's domains), what needs a restart is
# named in the log, a file that does not load changes nothing and says
# why, and the daemon stays mounted throughout with nothing dropped.
. "$(dirname "$0")/test-lib.sh"

PORT=$(free_port)
DEAD=127.0.0.1:$(free_port)
CONF=$T/mailfs.conf

# settings FILE-LINES...: the settings file, one argument a line
settings() {
	printf '%s\n' "relayhost = $DEAD" "retry = 1h" "$@" >"$CONF"
}

# sized NAME BYTES: a message of about BYTES in $T/NAME
sized() {
	{ printf 'From: a@mailfs.test\nTo: b@example.test\nSubject: %s\n\n' "$1"
	  head -c "$2" /dev/zero | tr '\0' x | fold -w 70; echo; } >"$T/$1"
}

# hup N: SIGHUP, then wait for the Nth reload event in the log
hup() {
	kill -HUP "$MAILFS_PID" &&
	wait_for 100 eval "[ \$(grep -c ' reload' \"\$MNT/log\") -ge $1 ]"
}

# rcpt ADDR: the listener's reply code to RCPT TO:<ADDR>
rcpt() {
	chat "EHLO c.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<$1>\r\nQUIT\r\n" >rcpt.out &&
	codes rcpt.out | cut -d" " -f4
}

test_expect_success 'start with max_size=4K and domains=a.test' '
	settings "max_size = 4K" "domains = a.test" &&
	mailfs_start r -c "$CONF" -o "listen=127.0.0.1:$PORT" &&
	sized small 1000 && sized big 6000 &&
	cp "$T/small" "$MNT/outbox/small" && ! cp "$T/big" "$MNT/outbox/big" &&
	test "$(rcpt u@a.test)" = 250 && test "$(rcpt u@b.test)" = 550
'

test_expect_success 'SIGHUP applies a new max_size and domains at once' '
	settings "max_size = 16K" "domains = b.test" &&
	hup 1 &&
	grep " reloaded file=$CONF" "$MNT/log" &&
	cp "$T/big" "$MNT/outbox/big" &&
	cp "$T/big" "$MNT/drafts/bigdraft" && mv "$MNT/drafts/bigdraft" "$MNT/outbox/" &&
	test "$(rcpt u@b.test)" = 250 && test "$(rcpt u@a.test)" = 550 &&
	kill -0 "$MAILFS_PID" && mountpoint -q "$MNT"
'

test_expect_success 'a setting that needs a restart is named, and kept' '
	settings "max_size = 16K" "domains = b.test" "dns = 127.0.0.1:53" &&
	hup 2 &&
	grep " reloaded .*restart_needed=dns" "$MNT/log" &&
	test "$(rcpt u@b.test)" = 250
'

test_expect_success 'a bad file changes nothing, and the log says why' '
	settings "max_size = 2K" "domains = c.test" "no_such_key = 1" &&
	hup 3 &&
	grep " reload-failed file=$CONF reason=.*no_such_key" "$MNT/log" &&
	sized big2 6000 && cp "$T/big2" "$MNT/outbox/big2" &&
	test "$(rcpt u@b.test)" = 250 && test "$(rcpt u@c.test)" = 550 &&
	kill -0 "$MAILFS_PID" && mountpoint -q "$MNT"
'

test_expect_success 'nothing queued was dropped; SIGTERM still ends it cleanly' '
	ls "$MNT/queue" >ids && test "$(wc -l <ids)" -eq 4 &&
	kill "$MAILFS_PID" && wait "$MAILFS_PID"; rc=$?
	echo "exit status $rc"
	[ $rc -eq 0 ] && wait_for 50 eval "! mountpoint -q \"\$MNT\""
'

test_done
