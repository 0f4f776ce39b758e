#!/bin/sh
# t5003-stop-inflight: SIGTERM while a delivery is in flight. What was
# being sent is "simply tried again on the next start" (interface.md):
# no attempt is counted, no retry delay is waited out, and after the
# restart the message is delivered at once even with retry=1h.
. "$(dirname "$0")/test-lib.sh"

PORT=$(free_port)
# -w 30: the sink holds its reply to DATA, so the delivery is in flight
smtp-sink -u root -w 30 127.0.0.7:$PORT 64 >/dev/null 2>&1 &
SLOW=$!
track_pid $SLOW
wait_for 50 $PY -c "import socket; socket.create_connection(('127.0.0.7',$PORT),1)"
mailfs_start s -o "relayhost=127.0.0.7:$PORT,retry=1h"
printf 'From: a@x.test\nTo: b@y.test\nSubject: in flight\n\nhi\n' >msg

test_expect_success 'a message is being sent' '
	cp msg "$MNT/outbox/m" &&
	wait_for 100 grep -q " sending " "$MNT"/queue/*/status
'

test_expect_success 'SIGTERM mid-delivery ends the daemon with status 0' '
	kill $MAILFS_PID &&
	wait $MAILFS_PID &&
	unmount "$MNT"
'

test_expect_success 'on disk the recipient is as before the attempt' '
	grep "^rcpt b@y.test queued 0 " "$SPOOL"/queue/*/state
'

test_expect_success 'after a restart it is delivered at once, retry=1h notwithstanding' '
	kill_pid $SLOW &&
	start_sink 127.0.0.7:$PORT &&
	mailfs_start s -o "relayhost=127.0.0.7:$PORT,retry=1h" &&
	wait_for 100 sh -c "ls \"$MNT/sent\" | grep -q ." &&
	grep "^b@y.test delivered 1 " "$MNT"/sent/*/status &&
	test "$(ls "$T/sink" | wc -l)" = 1
'

test_done
