#!/bin/sh
# t2602-message-checksum - a submission is made durable in one sync round,
# so a crash before it ends may leave an entry in queue/ whose message
# has the right size but not the right bytes. The size and CRC-32 in its
# state (and its seal) are checked before a byte of it is sent: such an
# entry never reaches an SMTP peer or the inbox, and lands in
# SPOOL/corrupt/ with a log line. Entries written by older versions (no
# checksum, no seal) are still sent; one whose seal was never made (a
# submission cut short) is not; a state rebuilt from the message at start
# is only rebuilt from a message its seal vouches for.
. "$(dirname "$0")/test-lib.sh"

SINK=127.0.0.1:$(free_port)
# first no recipient is local and the relay does not answer: all wait
HOLD="relayhost=$SINK,retry=1h,tls=none,domains=elsewhere.test"
OPTS="relayhost=$SINK,retry=1h,tls=none,domains=mailfs.test"

# body NAME TO: a message whose last line names it
body() {
	printf 'From: a@mailfs.test\nTo: %s\nSubject: %s\n\n' "$2" "$1"
	seq -f "line %g of $1 ................................" 40
	printf 'END %s\n' "$1"
}

# queue_one NAME TO: cp it into outbox/; prints its ID
queue_one() {
	body "$1" "$2" >"$T/$1" &&
	cp "$T/$1" "$MNT/outbox/$1" &&
	f=$(grep -lx "$1" "$MNT/queue"/*/name) &&
	f=${f%/name} && echo "${f##*/}"
}

# garble ID: change one byte of its message in place, keeping the size
garble() {
	printf 'X' | dd of="$SPOOL/queue/$1/message" bs=1 seek=300 \
		conv=notrunc status=none
}

# at_sink NAME: a whole copy of message NAME reached the sink
at_sink() {
	grep -lx "END $1" $(ls "$T/sink"/* 2>/dev/null) /dev/null 2>/dev/null |
		grep -q .
}

# in_inbox NAME: message NAME is in the Maildir
in_inbox() {
	grep -rlq "^Subject: $1" "$SPOOL/inbox/new" "$SPOOL/inbox/cur" 2>/dev/null
}

test_expect_success 'messages wait in the queue, sealed with their checksum' '
	mailfs_start a -o "$HOLD" &&
	good=$(queue_one good b@remote.test) &&
	bad=$(queue_one bad b@remote.test) &&
	goodl=$(queue_one goodl b@mailfs.test) &&
	badl=$(queue_one badl b@mailfs.test) &&
	old=$(queue_one old b@remote.test) &&
	cut=$(queue_one cut b@remote.test) &&
	rebuilt=$(queue_one rebuilt b@remote.test) &&
	empty=$(queue_one empty b@remote.test) &&
	mailfs_stop &&
	size=$(wc -c <"$SPOOL/queue/$bad/message") &&
	grep -q "^crc32 [0-9a-f]\{8\}$" "$SPOOL/queue/$bad/state" &&
	ls "$SPOOL/queue/$bad" | grep -qx "seal-$size-[0-9a-f]\{8\}"
'

test_expect_success 'a message whose bytes changed is never sent, by SMTP or into the inbox' '
	garble "$bad" && garble "$badl" &&
	garble "$rebuilt" && echo garbage >"$SPOOL/queue/$rebuilt/state" &&
	# what a power loss may leave: the state empty, the message cut short
	: >"$SPOOL/queue/$empty/state" &&
	truncate -s 1000 "$SPOOL/queue/$empty/message" &&
	[ "$(wc -c <"$SPOOL/queue/$bad/message")" = "$size" ] &&
	# as an older version wrote it: no checksum, no seal
	sed -i "/^crc32 /d" "$SPOOL/queue/$old/state" &&
	rm "$SPOOL/queue/$old"/seal-* &&
	# a spare seal never renamed: its submission never finished
	sed -i "/^crc32 /d" "$SPOOL/queue/$cut/state" &&
	mv "$SPOOL/queue/$cut"/seal-* "$SPOOL/queue/$cut/seal" &&
	start_sink "$SINK" &&
	mailfs_start a -o "$OPTS" &&
	echo flush >"$MNT/ctl" &&
	wait_for 300 at_sink good &&
	wait_for 300 at_sink old &&
	wait_for 300 in_inbox goodl &&
	wait_for 300 test -d "$SPOOL/corrupt/$bad" &&
	wait_for 300 test -d "$SPOOL/corrupt/$badl" &&
	wait_for 300 test -d "$SPOOL/corrupt/$cut" &&
	test -d "$SPOOL/corrupt/$rebuilt" && test -d "$SPOOL/corrupt/$empty" &&
	sleep 1 &&
	! at_sink bad && ! in_inbox badl && ! at_sink cut && ! at_sink rebuilt &&
	! grep -rq "^Subject: bad" "$T/sink" &&
	! grep -rq "^Subject: cut" "$T/sink" &&
	! grep -rq "^Subject: rebuilt" "$T/sink" &&
	! grep -rq "^Subject: empty" "$T/sink" &&
	[ ! -e "$MNT/queue/$bad" ] && [ ! -e "$MNT/queue/$badl" ] &&
	[ ! -e "$MNT/queue/$cut" ] && [ ! -e "$MNT/queue/$rebuilt" ] &&
	grep -q "queue/$bad: its message has CRC-32 .*; not sent, moved to corrupt/" "$T/a/stderr" &&
	grep -q "queue/$badl: its message has CRC-32 .*; not sent, moved to corrupt/" "$T/a/stderr" &&
	grep -q "queue/$cut: its submission was cut short (never sealed); not sent" "$T/a/stderr" &&
	grep -q "queue/$rebuilt: .*not the one its seal describes; moved to corrupt/" "$T/a/stderr" &&
	grep -q "queue/$empty: .*not the one its seal describes; moved to corrupt/" "$T/a/stderr"
'

test_expect_success 'after a restart the good ones are recorded sent, the bad ones stay aside' '
	wait_for 300 eval "[ -z \"\$(ls -A \"\$SPOOL/queue\")\" ]" &&
	test -d "$SPOOL/sent/$good" && test -d "$SPOOL/sent/$old" &&
	test -d "$SPOOL/sent/$goodl" &&
	mailfs_stop &&
	mailfs_start a -o "$OPTS" &&
	[ ! -e "$MNT/queue/$bad" ] && [ ! -e "$MNT/sent/$bad" ] &&
	test -d "$SPOOL/corrupt/$bad"
'

test_done
