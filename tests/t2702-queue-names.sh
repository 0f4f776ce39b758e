#!/bin/sh
# t2702-queue-names - the kernel keeps queue/ID and the names of its
# files (fs/place.c), and forgets them when the entry leaves queue/
# (fs/session.c): with every name looked up just before, an entry
# deleted by ctl, one delivered to sent/ and one removed by rm -r from
# sent/ are gone from their old paths at once (stat, cat, ls), and a
# restart shows what is left. Status stays live while the names are kept.
. "$(dirname "$0")/test-lib.sh"

RELAY=127.0.0.1:$(free_port)

# warm: look every queue/ name up (stat, ls -l, cat), so the kernel has them
warm() {
	ls -l "$MNT/queue" >/dev/null &&
	for d in "$MNT"/queue/*/; do
		stat "$d" "$d/status" "$d/message" >/dev/null &&
		cat "$d/status" >/dev/null || return 1
	done
}

# gone PATH: nothing at PATH, for stat, cat and ls of its directory
gone() {
	! stat "$1" >/dev/null 2>&1 &&
	! cat "$1/status" >/dev/null 2>&1 &&
	! ls "${1%/*}" | grep -qx "${1##*/}"
}

test_expect_success 'three messages wait deferred; their names are kept' '
	mailfs_start q -o "relayhost=$RELAY,retry=1d" &&
	send ma u1@remote.test &&
	send mb u2@remote.test &&
	send mc u3@remote.test &&
	wait_for 200 status_is queue ma u1@remote.test deferred 4.4.1 &&
	wait_for 200 status_is queue mb u2@remote.test deferred 4.4.1 &&
	wait_for 200 status_is queue mc u3@remote.test deferred 4.4.1 &&
	A=$(entry queue ma) && B=$(entry queue mb) && C=$(entry queue mc) &&
	warm && warm
'

test_expect_success 'status read again shows its new attempt (not kept)' '
	cat "$C/status" >s1 &&
	echo retry >"$C/ctl" &&
	wait_for 200 eval "! cmp -s s1 \"\$C/status\"" &&
	grep -q "u3@remote.test deferred" "$C/status"
'

test_expect_success 'ctl delete: the entry is gone from queue/ at once' '
	warm &&
	echo delete >"$A/ctl" &&
	gone "$A" &&
	! stat "$A/message" >/dev/null 2>&1 &&
	test "$(ls "$MNT/queue" | wc -l)" -eq 2
'

test_expect_success 'a delivery to sent/: gone from queue/ as soon as sent/ shows it' '
	start_sink "$RELAY" &&
	id=${B##*/} &&
	warm &&
	echo retry >"$B/ctl" &&
	n=0 &&
	until [ -d "$MNT/sent/$id" ]; do
		cat "$B/status" >/dev/null 2>&1	# keep looking it up
		n=$((n + 1))
		[ $n -lt 200000 ] || return 1
	done &&
	gone "$B" &&
	! stat "$B/message" >/dev/null 2>&1 &&
	ls "$MNT/sent" | grep -qx "$id" &&
	grep -q "u2@remote.test delivered" "$MNT/sent/$id/status" &&
	stat "$MNT/sent/$id" >/dev/null
'

test_expect_success 'rm -r of the sent entry: gone at once' '
	id=${B##*/} &&
	stat "$MNT/sent/$id" "$MNT/sent/$id/status" >/dev/null &&
	rm -r "$MNT/sent/$id" &&
	gone "$MNT/sent/$id" &&
	test "$(ls "$MNT/sent" | wc -l)" -eq 0
'

test_expect_success 'a directory open in a delivered entry sees it gone' '
	id=${C##*/} &&
	warm &&
	(
		cd "$C" &&
		echo retry >ctl &&
		n=0 &&
		until [ -d "$MNT/sent/$id" ]; do
			n=$((n + 1))
			[ $n -lt 200000 ] || exit 1
		done &&
		! cat status >/dev/null 2>&1
	) &&
	gone "$C" &&
	test "$(ls "$MNT/queue" | wc -l)" -eq 0
'

test_expect_success 'a restart: queue/ empty, sent/ holds the delivered one' '
	mailfs_stop &&
	mailfs_start q -o "relayhost=$RELAY,retry=1d" &&
	test "$(ls "$MNT/queue" | wc -l)" -eq 0 &&
	! stat "$A" >/dev/null 2>&1 && ! stat "$B" >/dev/null 2>&1 &&
	ls "$MNT/sent" | grep -qx "${C##*/}" &&
	grep -q "u3@remote.test delivered" "$MNT/sent/${C##*/}/status" &&
	send md u4@remote.test &&
	wait_for 200 status_is sent md u4@remote.test delivered 2.0.0 &&
	test "$(ls "$MNT/queue" | wc -l)" -eq 0 &&
	mailfs_stop
'

test_expect_success 'an entry moved to corrupt/ when sent: its name goes too' '
	# no relay answers yet (the sink listens at RELAY)
	mailfs_start c -o "relayhost=127.0.0.1:$(free_port),retry=1d" &&
	send me u5@remote.test &&
	wait_for 200 status_is queue me u5@remote.test deferred 4.4.1 &&
	E=$(entry queue me) && id=${E##*/} &&
	mailfs_stop &&
	# one byte changed, the size kept: its checksum no longer matches
	printf X | dd of="$SPOOL/queue/$id/message" bs=1 seek=60 \
		conv=notrunc status=none &&
	mailfs_start c -o "relayhost=$RELAY,retry=1d" &&
	warm &&
	echo retry >"$E/ctl" &&
	wait_for 200 test -d "$SPOOL/corrupt/$id" &&
	wait_for 50 eval "! stat \"\$E\" >/dev/null 2>&1" &&
	gone "$E" &&
	mailfs_stop
'

test_done
