#!/bin/sh
# t1008-entry-files - a file inside an entry (inbox/ID, queue/ID, sent/ID,
# failed/ID) cannot be removed alone: EPERM, and it stays readable; rm -r
# and rm -rf still delete the whole entry from disk, and an entry held open
# by another process does not let a plain rm through.
. "$(dirname "$0")/test-lib.sh"

msg() {
	printf 'From: a@mailfs.test\nTo: b@example.test\nSubject: %s\n\nbody\n' "$1"
}

# maildir_put NAME: a message other tools put into the Maildir
maildir_put() {
	printf 'From: x@example.test\nSubject: %s\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n--b--\n' "$1" \
		>"$SPOOL/inbox/new/$1"
}

nonempty() {
	[ -n "$(ls -A "$1")" ]
}

# eperm FILE: rm FILE fails with EPERM and FILE is still there, readable
eperm() {
	! rm "$1" 2>err && grep -q "Operation not permitted" err &&
	test -f "$1" && cat "$1" >/dev/null
}

PORT=$(free_port)
OKPORT=$(free_port)
BADPORT=$(free_port)
DEADPORT=$(free_port)

test_expect_success 'inbox/ID/raw and a part file: EPERM, still there' '
	mailfs_start i -o "listen=127.0.0.1:$PORT,domains=mailfs.test,relayhost=127.0.0.1:$DEADPORT" &&
	maildir_put 1700000000.M1P1.a && maildir_put 1700000000.M2P1.b &&
	wait_for 50 test -d "$MNT/inbox/1700000000.M1P1.a" &&
	E=$MNT/inbox/1700000000.M1P1.a &&
	n=$(ls "$E" | wc -l) &&
	eperm "$E/raw" && eperm "$E/subject" && eperm "$E/1/body" &&
	cmp "$E/raw" "$SPOOL/inbox/new/1700000000.M1P1.a" &&
	[ "$(ls "$E" | wc -l)" = "$n" ] &&
	test -f "$SPOOL/inbox/new/1700000000.M1P1.a"
'

test_expect_success 'a directory held open by another process lets no rm through' '
	E=$MNT/inbox/1700000000.M1P1.a &&
	(exec 3<"$E"; sleep 3) & HOLDER=$! &&
	track_pid $HOLDER &&
	sleep 0.3 && eperm "$E/raw" &&
	kill_pid $HOLDER
'

test_expect_success 'rm -r inbox/ID and rm -rf inbox/ID delete from disk' '
	rm -r "$MNT/inbox/1700000000.M1P1.a" &&
	test ! -e "$MNT/inbox/1700000000.M1P1.a" &&
	test ! -e "$SPOOL/inbox/new/1700000000.M1P1.a" &&
	rm -rf "$MNT/inbox/1700000000.M2P1.b" &&
	test ! -e "$SPOOL/inbox/new/1700000000.M2P1.b" &&
	[ -z "$(ls "$MNT/inbox")" ] && [ -z "$(ls "$SPOOL/inbox/new")" ]
'

test_expect_success 'queue/ID: a file or the entry by rm: EPERM' '
	msg q >"$T/q" && cp "$T/q" "$MNT/outbox/q" &&
	wait_for 100 nonempty "$MNT/queue" &&
	ID=$(ls "$MNT/queue") &&
	eperm "$MNT/queue/$ID/message" && eperm "$MNT/queue/$ID/status" &&
	! rm -rf "$MNT/queue/$ID" 2>/dev/null &&
	test -f "$MNT/queue/$ID/message" && test -d "$SPOOL/queue/$ID" &&
	echo delete >"$MNT/queue/$ID/ctl" && mailfs_stop
'

test_expect_success 'sent/ID: rm of a file EPERM; rm -r deletes it' '
	start_sink 127.0.0.1:$OKPORT &&
	mailfs_start s -o "relayhost=127.0.0.1:$OKPORT" &&
	msg ok >"$T/ok" && cp "$T/ok" "$MNT/outbox/ok" &&
	wait_for 100 nonempty "$MNT/sent" &&
	ID=$(ls "$MNT/sent") &&
	eperm "$MNT/sent/$ID/message" && eperm "$MNT/sent/$ID/log" &&
	[ "$(ls "$MNT/sent/$ID" | wc -l)" = 6 ] &&
	rm -r "$MNT/sent/$ID" &&
	test ! -e "$MNT/sent/$ID" && test ! -e "$SPOOL/sent/$ID" &&
	mailfs_stop
'

test_expect_success 'failed/ID: rm of a file EPERM; rm -rf deletes it' '
	start_sink 127.0.0.1:$BADPORT -f RCPT &&
	mailfs_start f -o "relayhost=127.0.0.1:$BADPORT" &&
	msg bad >"$T/bad" && cp "$T/bad" "$MNT/outbox/bad" &&
	wait_for 100 nonempty "$MNT/failed" &&
	ID=$(ls "$MNT/failed") &&
	eperm "$MNT/failed/$ID/status" && eperm "$MNT/failed/$ID/name" &&
	rm -rf "$MNT/failed/$ID" &&
	test ! -e "$MNT/failed/$ID" && test ! -e "$SPOOL/failed/$ID"
'

test_done
