#!/bin/sh
# t1005-archive - sent/ID/ and failed/ID/: what they hold, and forgetting
# them with rm -r (whose unlinks inside must succeed before its rmdir).
. "$(dirname "$0")/test-lib.sh"

msg() {
	printf 'From: a@mailfs.test\nTo: b@example.test\nSubject: %s\n\nbody\n' "$1"
}

# nonempty DIR: DIR has an entry
nonempty() {
	[ -n "$(ls -A "$1")" ]
}

OKPORT=$(free_port)
BADPORT=$(free_port)

test_expect_success 'a delivered message moves from queue/ to sent/' '
	start_sink 127.0.0.1:$OKPORT &&
	mailfs_start s -o "relayhost=127.0.0.1:$OKPORT" &&
	msg ok >"$T/ok" && cp "$T/ok" "$MNT/outbox/ok" &&
	wait_for 100 nonempty "$MNT/sent" &&
	ID=$(ls "$MNT/sent") &&
	test ! -e "$MNT/queue/$ID" && [ -z "$(ls "$MNT/queue")" ] &&
	grep -q "^b@example.test delivered " "$MNT/sent/$ID/status" &&
	(cd "$MNT/sent/$ID" && ls) >actual &&
	printf "%s\n" ctl envelope log message name status >expect &&
	test_cmp expect actual &&
	echo ok >expect && test_cmp expect "$MNT/sent/$ID/name" &&
	for f in "$MNT/sent/$ID"/*; do
		[ "$(stat -c %s "$f")" = "$(wc -c <"$f")" ] || return 1
	done &&
	grep -qx "delivered 1" "$MNT/stats"
'

test_expect_success 'rmdir of a full entry: ENOTEMPTY; rm of a file in it: EPERM' '
	! rmdir "$MNT/sent/$ID" 2>err && grep -q "not empty" err &&
	! rm "$MNT/sent/$ID/message" 2>err &&
	grep -q "Operation not permitted" err &&
	grep -q "^Subject: " "$MNT/sent/$ID/message" &&
	[ "$(ls "$MNT/sent/$ID" | wc -l)" = 6 ] &&
	test -d "$MNT/sent/$ID"
'

test_expect_success 'rm -r sent/ID forgets the entry' '
	rm -r "$MNT/sent/$ID" &&
	test ! -e "$MNT/sent/$ID" && [ -z "$(ls "$MNT/sent")" ] &&
	test ! -e "$SPOOL/sent/$ID"
'

test_expect_success 'a refused message moves to failed/' '
	mailfs_stop &&
	start_sink 127.0.0.1:$BADPORT -f RCPT &&
	mailfs_start f -o "relayhost=127.0.0.1:$BADPORT" &&
	msg bad >"$T/bad" && cp "$T/bad" "$MNT/outbox/bad" &&
	wait_for 100 nonempty "$MNT/failed" &&
	ID=$(ls "$MNT/failed") &&
	grep -q "^b@example.test failed 1 - 5" "$MNT/failed/$ID/status" &&
	! echo retry >"$MNT/failed/$ID/ctl" &&
	grep -q " $ID failed " "$MNT/log" &&
	grep -qx "failed 1" "$MNT/stats"
'

test_expect_success 'rm -rf failed/ID forgets it' '
	rm -rf "$MNT/failed/$ID" &&
	test ! -e "$MNT/failed/$ID" && [ -z "$(ls "$MNT/failed")" ] &&
	test ! -e "$SPOOL/failed/$ID"
'

test_expect_success 'delete on failed/ID/ctl forgets it too, logged' '
	cp "$T/bad" "$MNT/outbox/bad2" &&
	wait_for 100 nonempty "$MNT/failed" &&
	ID=$(ls "$MNT/failed") &&
	echo delete >"$MNT/failed/$ID/ctl" &&
	test ! -e "$MNT/failed/$ID" && test ! -e "$SPOOL/failed/$ID" &&
	grep -q " $ID deleted" "$MNT/log"
'

test_done
