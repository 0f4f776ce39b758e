#!/bin/sh
# t5004-full-disk: the spool on a 20 MB tmpfs of its own. Deliveries that
# succeed while the disk is full cannot write their state: the failure is
# logged and counted (state_write_errors), retried until it lands once
# space returns, every entry then reaches sent/ and a restart sends
# nothing twice. Below min_free the outbox says ENOSPC and the listener
# 452 4.3.1 (also for a SIZE= that does not fit, and for a DATA that
# cannot be stored); stats shows the free space. ctl retry and flush save
# the new due time, so a restart keeps it.
. "$(dirname "$0")/test-lib.sh"

N=10
FD=$T/fd/spool
mkdir -p "$FD"
mount -t tmpfs -o size=20m tmpfs "$FD" 2>/dev/null ||
	test_skip_all "cannot mount a tmpfs (not root?)"
test_mounts="$test_mounts $FD"

PORT=$(free_port)
SINKPORT=$(free_port)
# the relayhost, down until the sink starts
RELAY=127.0.0.8:$SINKPORT
OPTS="relayhost=$RELAY,retry=1h,tls=none,listen=127.0.0.1:$PORT"

# fill: take every free block of the spool's file system
fill() {
	dd if=/dev/zero of="$FD/filler" bs=64k 2>/dev/null
	dd if=/dev/zero of="$FD/filler2" bs=1k 2>/dev/null
	sync
	return 0
}
stat_of() { sed -n "s/^$1 //p" "$MNT/stats"; }
nsunk() { ls "$T/sink" 2>/dev/null | wc -l; }
nsunk_is() { test "$(nsunk)" = "$1"; }
nin() { ls "$SPOOL/$1" | wc -l; }
nin_is() { test "$(nin "$1")" = "$2"; }
# next_of ID: the due time of its (first) recipient in its state on disk
next_of() { awk '$1 == "rcpt" { print $5; exit }' "$SPOOL"/queue/"$1"/state; }
# due_by ID TIME: its state on disk has it due by TIME
due_by() { test "$(next_of "$1")" -le "$2"; }

# the daemon's own spool is the tmpfs: mailfs_start mounts $T/fd/mnt on it
mailfs_start fd -o "$OPTS,min_free=0,listen=none"

test_expect_success 'stats shows the free space of the spool' '
	f=$(stat_of spool_free) && p=$(stat_of spool_free_pct) &&
	test "$f" -gt $((15 << 20)) && test "$f" -le $((20 << 20)) &&
	test "$p" -ge 75 && test "$p" -le 100
'

test_expect_success "$N messages deferred while the relay is down" '
	i=0 &&
	while [ $i -lt $N ]; do
		send "m$i" "r$i@remote.test" || return 1
		i=$((i + 1))
	done &&
	wait_for 200 sh -c "test \$(grep -l \" deferred \" \"$MNT\"/queue/*/status | wc -l) = $N"
'

# A save rewrites the entry's previous state in place (queue/writer.c
# exchanges state.tmp and state), which a full disk may still allow; an
# entry without a state.tmp (none of its saves behind it, as in a spool
# of an older mailfs) needs a new file, which it does not.
test_expect_success 'delivered on a full disk: the state writes fail, logged and counted' '
	mailfs_stop &&
	rm -f "$SPOOL"/queue/*/state.tmp &&
	mailfs_start fd -o "$OPTS,min_free=0,listen=none" &&
	fill &&
	start_sink $RELAY &&
	echo flush >"$MNT/ctl" &&
	wait_for 200 nsunk_is $N &&
	wait_for 100 grep -q "cannot write its state: No space left on device" "$T/fd/stderr" &&
	test "$(stat_of state_write_errors)" -gt 0 &&
	test "$(nin queue)" = $N
'

test_expect_success 'space returns: the writes are retried, every entry reaches sent/' '
	rm -f "$FD/filler" "$FD/filler2" &&
	wait_for 200 nin_is sent $N &&
	test "$(nin queue)" = 0 &&
	for d in "$MNT"/sent/*/; do
		grep -q " delivered 2 " "$d/status" || return 1
	done
'

test_expect_success 'after a restart nothing is sent twice' '
	mailfs_stop &&
	mailfs_start fd -o "$OPTS,min_free=0,listen=none" &&
	echo flush >"$MNT/ctl" &&
	sleep 1 &&
	test "$(nin sent)" = $N && test "$(nsunk)" = $N
'

test_expect_success 'below min_free: outbox ENOSPC, the listener 452 4.3.1' '
	mailfs_stop &&
	mailfs_start fd -o "$OPTS,min_free=8M" &&
	dd if=/dev/zero of="$FD/filler" bs=1M count=14 2>/dev/null &&
	printf "From: a@mailfs.test\nTo: x@remote.test\n\nhi\n" >low &&
	! cp low "$MNT/outbox/low" 2>err &&
	grep -q "No space left on device" err &&
	grep -q "low on space" "$MNT/log" &&
	chat "EHLO c\r\nMAIL FROM:<a@b.test>\r\nQUIT\r\n" >out &&
	grep "^452 4.3.1 " out &&
	rm -f "$FD/filler" &&
	cp low "$MNT/outbox/low2" &&
	chat "EHLO c\r\nMAIL FROM:<a@b.test>\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 221 "
'

test_expect_success 'MAIL FROM with a SIZE= that does not fit: 452 4.3.1' '
	chat "EHLO c\r\nMAIL FROM:<a@b.test> SIZE=16000000\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 452 221 " &&
	grep "^452 4.3.1 " out &&
	chat "EHLO c\r\nMAIL FROM:<a@b.test> SIZE=1000\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 221 "
'

test_expect_success 'a DATA that cannot be stored on a full disk: 452 4.3.1' '
	mailfs_stop &&
	mailfs_start fd -o "$OPTS,min_free=0" &&
	fill &&
	test_when_finished "rm -f \"$FD/filler\" \"$FD/filler2\"" &&
	chat "EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<me@mailfs.test>\r\nDATA\r\n" \
		"Subject: full\r\n\r\n" "200*0123456789012345678901234567890123456789\r\n" \
		".\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 250 354 452 221 "
'

test_expect_success 'ctl retry and flush: the new due time is saved, a restart keeps it' '
	kill_pid $SINK_PID &&
	send late1 x1@remote.test && send late2 x2@remote.test &&
	wait_for 100 status_is queue late1 x1@remote.test deferred "4.*" &&
	wait_for 100 status_is queue late2 x2@remote.test deferred "4.*" &&
	id1=$(basename "$(entry queue late1)") &&
	id2=$(basename "$(entry queue late2)") &&
	now=$(date +%s) &&
	! due_by $id1 $((now + 3000)) && ! due_by $id2 $((now + 3000)) &&
	# -w 60: the sink holds its reply, so a retried delivery stays in flight
	start_sink $RELAY -w 60 &&
	echo retry >"$MNT/queue/$id1/ctl" &&
	wait_for 100 due_by $id1 $((now + 5)) &&
	! due_by $id2 $((now + 3000)) &&
	echo flush >"$MNT/ctl" &&
	wait_for 100 due_by $id2 $((now + 5)) &&
	mailfs_stop &&
	due_by $id1 $((now + 5)) && due_by $id2 $((now + 5)) &&
	mailfs_start fd -o "$OPTS,min_free=0,listen=none" &&
	wait_for 100 grep -q " sending " "$MNT/queue/$id1/status" &&
	wait_for 100 grep -q " sending " "$MNT/queue/$id2/status"
'

test_done
