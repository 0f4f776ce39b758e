#!/bin/sh
# t1011-request-loop - fs/loop.c, the daemon's FUSE request loop: a
# request stuck in the daemon does not hold up the others (the thread
# serving a quick request is stuck in a system call that strace delays,
# so the watchdog must hand the lead to another thread), and a daemon
# with nothing to do sleeps (the polling after a request is bounded).
. "$(dirname "$0")/test-lib.sh"

command -v strace >/dev/null || test_skip_all "no strace (tests/deps.sh installs it)"

# cpu_ticks PID: user and system clock ticks PID has used, all threads
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

test_expect_success 'set up: a daemon, a draft' '
	mailfs_start x &&
	echo "draft" >"$MNT/drafts/slow" &&
	cat "$MNT/stats" >/dev/null
'

# The OPEN of drafts/slow is a quick request, served by the thread that
# took it from /dev/fuse: its openat in the spool is held for 60 s.
test_expect_success 'while an OPEN is stuck in the daemon, other requests are answered' '
	strace -f -qq -p "$MAILFS_PID" -e trace=openat -e signal=none \
		-e inject=openat:delay_exit=60000000 -o "$T/strace" 2>"$T/strace.err" &
	STRACE=$! && track_pid $STRACE &&
	test_when_finished "kill_pid $STRACE" &&
	wait_for 100 grep -q "^TracerPid:[[:space:]]*$STRACE" "/proc/$MAILFS_PID/status" &&
	{ cat "$MNT/drafts/slow" >"$T/slow.out" 2>&1 & } &&
	SLOW=$! && track_pid $SLOW &&
	wait_for 100 grep -q request_wait_answer "/proc/$SLOW/wchan" &&
	timeout 20 cat "$MNT/stats" >"$T/stats" &&
	timeout 20 ls "$MNT/queue" "$MNT/inbox" >/dev/null &&
	timeout 20 stat "$MNT/ctl" >/dev/null &&
	grep -q "^queue 0$" "$T/stats" &&
	kill -0 $SLOW &&
	kill_pid $STRACE &&
	wait_for 100 gone $SLOW &&
	wait $SLOW &&
	test "$(cat "$T/slow.out")" = draft
'

test_expect_success 'an idle daemon sleeps: no CPU used between requests' '
	ls "$MNT/inbox" >/dev/null && cat "$MNT/stats" >/dev/null &&
	sleep 1 &&
	t0=$(cpu_ticks "$MAILFS_PID") &&
	sleep 3 &&
	t1=$(cpu_ticks "$MAILFS_PID") &&
	say "ticks used in 3 s idle: $((t1 - t0))" &&
	[ $((t1 - t0)) -le 10 ]
'

# The watchdog naps 1 ms at a time for 100 ms after the last request:
# naps, not a spin, so the second after a burst costs next to nothing.
test_expect_success 'after a burst of requests, the daemon soon sleeps' '
	i=0 && while [ $i -lt 200 ]; do
		cat "$MNT/stats" >/dev/null || return 1
		i=$((i + 1))
	done &&
	t0=$(cpu_ticks "$MAILFS_PID") &&
	sleep 1 &&
	t1=$(cpu_ticks "$MAILFS_PID") &&
	say "ticks used in the second after a burst: $((t1 - t0))" &&
	[ $((t1 - t0)) -le 5 ]
'

test_done
