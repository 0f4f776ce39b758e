#!/bin/sh
# t0002-daemon - the life of the daemon: it detaches without -f once the
# mount is ready, ends cleanly on unmount, SIGTERM and SIGINT (not SIGHUP), and
# takes its settings from defaults < -c file < -o.
. "$(dirname "$0")/test-lib.sh"

# Nothing leaves loopback: deliveries go to a port where nobody listens.
DEAD=127.0.0.1:$(free_port)

msg() {
	printf 'From: a@mailfs.test\nTo: b@example.test\nSubject: %s\n\nbody\n' "$1"
}

test_expect_success 'without -f it returns once the mount is ready' '
	M=$T/d/mnt; mkdir -p "$M" "$T/d/spool" &&
	test_mounts="$test_mounts $M" &&
	"$MAILFS" -o "spool=$T/d/spool,listen=none,hostname=mailfs.test" "$M" &&
	mountpoint -q "$M" && test -e "$M/ctl" && test -d "$M/outbox"
'

test_expect_success 'the detached daemon is found by its mount and ends on unmount' '
	pid=$(mailfs_pid_with "$M") && [ -n "$pid" ] &&
	track_pid "$pid" &&
	[ "$pid" != $$ ] &&
	fusermount3 -u "$M" &&
	wait_for 100 gone "$pid" &&
	! mountpoint -q "$M"
'

test_expect_success 'with -f it stays in the foreground and logs to stderr' '
	mailfs_start f -o "relayhost=$DEAD" &&
	kill -0 "$MAILFS_PID" &&
	msg hello >"$T/msg" && cp "$T/msg" "$MNT/outbox/m1" &&
	wait_for 50 grep -q " queued " "$T/f/stderr"
'

test_expect_success 'the root holds the tree of mailfs(8)' '
	printf "%s\n" ctl drafts failed inbox log outbox queue sent stats >expect &&
	ls "$MNT" >actual &&
	test_cmp expect actual &&
	bad=0 &&
	for k in queue deferred sending inbox queued delivered failed received \
		rejected refused; do
		grep -q "^$k [0-9][0-9]*\$" "$MNT/stats" || { echo "no $k"; bad=1; }
	done &&
	[ $bad -eq 0 ]
'

test_expect_success 'fusermount3 -u ends the foreground daemon with status 0' '
	fusermount3 -u "$MNT" &&
	wait "$MAILFS_PID"; rc=$?
	[ $rc -eq 0 ] && ! mountpoint -q "$MNT"
'

test_expect_success 'SIGTERM unmounts and ends it with status 0' '
	mailfs_start term &&
	kill -TERM "$MAILFS_PID" &&
	wait "$MAILFS_PID"; rc=$?
	echo "exit status $rc"
	[ $rc -eq 0 ] && wait_for 50 eval "! mountpoint -q \"$MNT\""
'

# A shell starts background jobs with SIGINT ignored; restore the default
# so the signal reaches mailfs as it would from a terminal.
test_expect_success 'SIGINT unmounts and ends it with status 0' '
	M=$T/int/mnt; mkdir -p "$M" "$T/int/spool" &&
	test_mounts="$test_mounts $M" &&
	env --default-signal=INT "$MAILFS" -f \
		-o "spool=$T/int/spool,listen=none,hostname=mailfs.test" "$M" \
		>"$T/int.err" 2>&1 &
	pid=$! && track_pid $pid &&
	wait_for 100 test -e "$M/ctl" &&
	kill -INT $pid &&
	wait $pid; rc=$?
	echo "exit status $rc"
	[ $rc -eq 0 ] && ! mountpoint -q "$M"
'

test_expect_success 'SIGHUP does not end it (it rereads the settings: t0006)' '
	mailfs_start hup &&
	kill -HUP "$MAILFS_PID" &&
	wait_for 50 grep -q " reloaded " "$MNT/log" &&
	kill -0 "$MAILFS_PID" && mountpoint -q "$MNT" &&
	mailfs_stop
'

test_expect_success 'SIGTERM on the detached daemon unmounts it' '
	M=$T/dt/mnt; mkdir -p "$M" "$T/dt/spool" &&
	test_mounts="$test_mounts $M" &&
	"$MAILFS" -o "spool=$T/dt/spool,listen=none,hostname=mailfs.test" "$M" &&
	pid=$(mailfs_pid_with "$M") && [ -n "$pid" ] && track_pid "$pid" &&
	kill -TERM "$pid" &&
	wait_for 100 gone "$pid" &&
	wait_for 50 eval "! mountpoint -q \"$M\""
'

test_expect_success 'what was queued is still there after a clean restart' '
	mailfs_start f -o "relayhost=$DEAD" &&
	ls "$MNT/queue" >ids && [ "$(wc -l <ids)" -eq 1 ] &&
	grep -q "Subject: hello" "$MNT/queue/$(cat ids)/message" &&
	mailfs_stop
'

# Precedence is observed through its effects: where the spool is, and
# which max_size refuses a message (EFBIG at write or close).
big() {
	msg big && head -c 3000 /dev/zero | tr "\0" x && echo
}

# start_fg ARGS...: mailfs -f ARGS on $T/p/mnt, stopped after the test
start_fg() {
	M=$T/p/mnt
	mkdir -p "$M"
	test_mounts="$test_mounts $M"
	"$MAILFS" -f "$@" "$M" 2>>"$T/p.err" &
	pid=$!
	track_pid $pid
	test_when_finished 'fusermount3 -u "$M"; kill_pid $pid'
	wait_for 100 test -e "$M/ctl"
}

test_expect_success 'precedence: the -c file overrides the defaults' '
	mkdir -p "$T/p/file" "$T/p/opt" &&
	printf "spool = %s\nmax_size = 1K\nlisten = none\nhostname = mailfs.test\nrelayhost = %s\n" \
		"$T/p/file" "$DEAD" >"$T/p.conf" &&
	big >"$T/big" && msg small >"$T/small" &&
	start_fg -c "$T/p.conf" &&
	! cp "$T/big" "$M/outbox/big" 2>err &&
	grep -q "File too large" err &&
	cp "$T/small" "$M/outbox/small" &&
	wait_for 50 grep -q " queued .*name=small" "$T/p/file/log"
'

test_expect_success 'precedence: -o overrides the -c file' '
	start_fg -c "$T/p.conf" -o "spool=$T/p/opt,max_size=1M" &&
	cp "$T/big" "$M/outbox/big" &&
	ls "$M/queue" >ids && [ "$(wc -l <ids)" -eq 1 ] &&
	grep -q " queued .*name=big" "$T/p/opt/log" &&
	! grep -q " queued .*name=big" "$T/p/file/log"
'

test_expect_success 'precedence: a later -o overrides an earlier one' '
	start_fg -c "$T/p.conf" -o "spool=$T/p/opt,max_size=1M" -o max_size=1K &&
	! cp "$T/big" "$M/outbox/big2" 2>err &&
	grep -q "File too large" err
'

test_expect_success 'precedence: a later key in one -o overrides an earlier one' '
	start_fg -c "$T/p.conf" -o "spool=$T/p/opt,max_size=1K,max_size=1M" &&
	cp "$T/big" "$M/outbox/big3"
'

test_expect_success 'a second daemon on the same spool is refused (73), the first keeps it' '
	mailfs_start one &&
	mkdir -p "$T/two" &&
	test_expect_code 73 "$MAILFS" -f -o "spool=$SPOOL,listen=none" "$T/two" 2>err &&
	grep -q "in use by another mailfs" err &&
	! mountpoint -q "$T/two" &&
	test -e "$MNT/ctl" &&
	mailfs_stop
'

test_expect_success 'a relative mountpoint is unmounted on SIGTERM' '
	mkdir -p "$T/rel/mnt" &&
	(cd "$T/rel" && exec "$MAILFS" -f -o "spool=$T/rel/spool,listen=none" mnt 2>/dev/null) &
	pid=$! && track_pid $pid &&
	wait_for 100 test -e "$T/rel/mnt/ctl" &&
	kill $pid && wait $pid &&
	! mountpoint -q "$T/rel/mnt"
'

test_done
