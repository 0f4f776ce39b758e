#!/bin/sh
# t5001-restart - durability across crashes: mailfs is killed with SIGKILL
# right after cp returns, while writers are busy, while a delivery is in
# flight (before DATA, and after the final dot but before the 250), and
# restarted on the same spool. Every acknowledged message must still be
# there, go out complete, and leave no tmp leftovers; duplicates are
# allowed (better twice than never) and reported. A graceful restart
# resumes the queue too.
. "$(dirname "$0")/test-lib.sh"

SINK=127.0.0.1:$(free_port)
OPTS="relayhost=$SINK,retry=1s,tls=none"
LINES=2000	# body lines per message: about 60 KB each
mkdir -p "$T/msgs"

# mkmsg N: a message whose every line can be checked at the sink
mkmsg() {
	f=$T/msgs/msg-$1
	{
		printf 'From: a@mailfs.test\nTo: b@example.test\nSubject: msg-%s\n\n' "$1"
		seq -f "line %g of msg-$1 ........................" "$LINES"
		printf 'END msg-%s\n' "$1"
	} >"$f"
	echo "$f"
}

# submit N: cp into the outbox; on success the message is acknowledged
submit() {
	cp "$(mkmsg "$1")" "$MNT/outbox/m$1" 2>/dev/null && echo "msg-$1" >>"$T/acked"
}

# submit_all N...: submit each; false at the first refusal
submit_all() {
	for n in "$@"; do submit "$n" || return 1; done
}

# crash: SIGKILL the daemon and clear its dead mount
crash() {
	kill -9 "$MAILFS_PID"
	wait "$MAILFS_PID" 2>/dev/null
	fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
	! mountpoint -q "$MNT"
}

# subjects_in DIR: the subjects of the messages in MNT/DIR/*/, from the
# name each was given in outbox/ (m12 is msg-12), which is cheap to read
subjects_in() {
	for d in "$MNT/$1"/*/; do
		[ -e "$d/name" ] && sed -n 's/^m/msg-/p' "$d/name"
	done
}

# all_acked_present: every acknowledged message is in queue/ or sent/
all_acked_present() {
	{ subjects_in queue; subjects_in sent; } | sort -u >"$T/present"
	sort -u "$T/acked" >"$T/acked.s"
	comm -23 "$T/acked.s" "$T/present" >"$T/missing"
	[ ! -s "$T/missing" ] || {
		echo "lost:"; cat "$T/missing"
		ls -R "$SPOOL/corrupt" 2>/dev/null; return 1; }
}

# all_sent: every acknowledged message has reached sent/
all_sent() {
	subjects_in sent | sort -u >"$T/sent.s"
	sort -u "$T/acked" | comm -23 - "$T/sent.s" | grep -q . && return 1
	return 0
}

tmp_empty() {
	[ -z "$(ls -A "$SPOOL/tmp" 2>/dev/null)" ] || {
		echo "leftovers in $SPOOL/tmp:"; ls -lA "$SPOOL/tmp"; return 1; }
}

# sink_complete: every message the sink took is whole; every acknowledged
# one arrived; duplicates are reported, not failed.
sink_complete() {
	rc=0
	: >"$T/seen"
	for f in "$T/sink"/*; do
		[ -e "$f" ] || continue
		s=$(tr -d '\r' <"$f" | sed -n 's/^Subject: \(msg-[^ ]*\)$/\1/p' | head -n 1)
		[ -n "$s" ] || continue
		echo "$s" >>"$T/seen"
		n=$(tr -d '\r' <"$f" | grep -c "^line [0-9]* of $s \.*$")
		if [ "$n" -ne "$LINES" ] || ! tr -d '\r' <"$f" | grep -qx "END $s"; then
			echo "$s arrived half ($n of $LINES lines) in $f"
			rc=1
		fi
	done
	sort "$T/seen" | uniq -d >"$T/dups"
	[ -s "$T/dups" ] && say "delivered twice (allowed): $(tr '\n' ' ' <"$T/dups")"
	sort -u "$T/acked" | comm -23 - "$(sort -u "$T/seen" >"$T/seen.s"; echo "$T/seen.s")" \
		>"$T/undelivered"
	[ ! -s "$T/undelivered" ] || { echo "never arrived:"; cat "$T/undelivered"; rc=1; }
	return $rc
}

: >"$T/acked"
SINK_PID=

test_expect_success 'SIGKILL right after cp returns loses nothing' '
	mailfs_start a -o "$OPTS" &&
	submit_all 1 2 3 4 5 &&
	crash &&
	mailfs_start a -o "$OPTS" &&
	tmp_empty && all_acked_present &&
	grep -q "^END msg-5" "$MNT/queue"/*/message
'

test_expect_success 'SIGKILL while four writers are busy loses nothing acknowledged' '
	for w in 1 2 3 4; do
		( i=0; while [ $i -lt 200 ]; do
			submit "w$w.$i" || break; i=$((i + 1)); done ) &
		eval "writer$w=\$!"
	done &&
	wait_for 100 eval "[ \$(wc -l <\"\$T/acked\") -ge 20 ]" &&
	crash &&
	wait $writer1 $writer2 $writer3 $writer4
	say "$(wc -l <"$T/acked") messages acknowledged" &&
	mailfs_start a -o "$OPTS" &&
	tmp_empty && all_acked_present &&
	[ -z "$(ls -A "$MNT/outbox")" ]
'

test_expect_success 'after the restart everything acknowledged is delivered whole' '
	start_sink "$SINK" &&
	echo flush >"$MNT/ctl" &&
	wait_for 600 all_sent &&
	[ -z "$(ls "$MNT/queue")" ] &&
	sink_complete
'

# sending: some recipient is being delivered right now
sending() {
	grep -q "^sending [1-9]" "$MNT/stats" ||
	cat "$MNT/queue"/*/status 2>/dev/null | grep -q " sending "
}

# in_flight_crash SINKOPTS: a new message meets a sink that stalls as
# SINKOPTS say; mailfs dies during the stall and restarts with the sink
# gone; then a prompt sink takes the message.
in_flight_crash() {
	kill_pid "$SINK_PID"
	start_sink "$SINK" "$@" &&
	n=f$(wc -l <"$T/acked") &&
	submit $n &&
	wait_for 300 sending &&
	crash &&
	kill_pid "$SINK_PID" &&
	mailfs_start a -o "$OPTS" &&
	tmp_empty && all_acked_present &&
	wait_for 50 grep -q " deferred " "$MNT/queue"/*/status &&
	start_sink "$SINK" &&
	echo flush >"$MNT/ctl" &&
	wait_for 600 all_sent &&
	sink_complete
}

test_expect_success 'SIGKILL before the DATA reply: delivered after restart' '
	in_flight_crash -w 60
'

test_expect_success 'SIGKILL after the final dot, before 250: delivered (maybe twice)' '
	in_flight_crash -W .:60
'

test_expect_success 'SIGKILL amid a stream of deliveries: all arrive whole' '
	before=$(ls "$T/sink" | wc -l) &&
	submit_all $(seq -f "s%g" 30) &&
	wait_for 600 eval "[ \$(ls \"\$T/sink\" | wc -l) -ge \$((before + 5)) ]" &&
	crash &&
	mailfs_start a -o "$OPTS" &&
	tmp_empty && all_acked_present &&
	echo flush >"$MNT/ctl" &&
	wait_for 600 all_sent &&
	sink_complete
'

test_expect_success 'graceful restart: the queue resumes where it was' '
	kill_pid "$SINK_PID" &&
	submit_all g1 g2 g3 &&
	mailfs_stop &&
	! mountpoint -q "$MNT" &&
	mailfs_start a -o "$OPTS" &&
	tmp_empty && all_acked_present &&
	[ "$(subjects_in queue | grep -c "^msg-g")" -eq 3 ] &&
	start_sink "$SINK" &&
	echo flush >"$MNT/ctl" &&
	wait_for 600 all_sent &&
	sink_complete
'

test_expect_success 'a graceful stop during a stalled delivery defers it' '
	kill_pid "$SINK_PID" &&
	start_sink "$SINK" -w 60 &&
	submit g4 &&
	wait_for 300 sending &&
	mailfs_stop &&
	kill_pid "$SINK_PID" &&
	mailfs_start a -o "$OPTS" &&
	all_acked_present &&
	start_sink "$SINK" &&
	echo flush >"$MNT/ctl" &&
	wait_for 600 all_sent &&
	sink_complete &&
	tmp_empty
'

# A crash after the last recipient's result was written but before the
# entry moved to sent/ leaves a finished entry in SPOOL/queue/: the next
# start must finish the move and keep it there, restart after restart.
test_expect_success 'a finished entry left in queue/ by a crash stays in sent/' '
	mailfs_start b -o "$OPTS" &&
	submit_all b1 &&
	wait_for 600 eval "ls \"\$MNT/sent\" | grep -q ." &&
	id=$(ls "$MNT/sent") &&
	mailfs_stop &&
	mv "$SPOOL/sent/$id" "$SPOOL/queue/$id" &&
	mailfs_start b -o "$OPTS" &&
	wait_for 50 test -d "$MNT/sent/$id" &&
	mailfs_stop &&
	mailfs_start b -o "$OPTS" &&
	{ test -d "$SPOOL/sent/$id" ||
		{ echo "sent/$id is gone"; ls -R "$SPOOL/corrupt"; false; }; } &&
	test -d "$MNT/sent/$id" &&
	[ -z "$(ls "$MNT/queue")" ]
'

test_done
