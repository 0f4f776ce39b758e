#!/bin/sh
# t1007-acceptance - outbox/ and the archives as a hostile user sees them:
# addresses GMime would quietly repair, shell scripts whose children share
# the file being written, and timely keep and max_age.
. "$(dirname "$0")/test-lib.sh"

# refused TO: cp of a message to TO fails with EINVAL, nothing is queued
refused() {
	name=r$(echo "$1" | md5sum | cut -c1-8)
	printf 'From: a@mailfs.test\nTo: %s\n\nbody\n' "$1" >"$T/$name"
	! cp "$T/$name" "$MNT/outbox/$name" 2>err &&
	grep -q "Invalid argument" err &&
	grep -q "rejected name=$name reason=\"bad address" "$MNT/log" &&
	! entry queue "$name"
}

mailfs_start m -o "dns=127.0.0.1:1,keep=2s"

test_expect_success 'addresses that do not parse are EINVAL, not repaired' '
	refused "<b@example.test" &&
	refused "b@example.test>" &&
	refused "b@c@example.test" &&
	refused "<b@c@example.test>" &&
	refused "\"B <b@example.test>" &&
	refused "<<b@example.test>>"
'

test_expect_success 'a child that shares the file does not end the message' '
	{
		echo "From: a@mailfs.test"; echo "To: b@example.test"
		echo "Subject: script"; echo
		echo body1; ls / >/dev/null; echo body2
	} >"$MNT/outbox/script" &&
	wait_for 50 entry queue script &&
	d=$(entry queue script) &&
	grep -q "^body2" "$d/message"
'

test_expect_success 'a writer that exits non-zero after a child wrote sends nothing' '
	printf "From: a@mailfs.test\nTo: b@example.test\n\nhalf\n" >"$T/half" &&
	! sh -c "cat \"$T/half\"; exit 3" >"$MNT/outbox/exit3" &&
	wait_for 50 grep -q "rejected name=exit3 " "$MNT/log" &&
	! entry queue exit3 && [ -z "$(ls "$MNT/outbox")" ]
'

test_expect_success 'a child killed mid-message poisons it' '
	sh -c "cat \"$T/half\"; sh -c \"kill -9 \\\$\\\$\"; true" \
		>"$MNT/outbox/killed" 2>/dev/null;
	wait_for 50 grep -q "rejected name=killed reason=\"writer died\"" "$MNT/log" &&
	! entry queue killed
'

test_expect_success 'a file only a forked child closes is still sent' '
	$PY -c "
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
if os.fork() == 0:
    os.write(fd, b\"From: a@mailfs.test\\nTo: b@example.test\\n\\nchild\\n\")
    os._exit(0)
os.close(fd)
os.wait()
" "$MNT/outbox/forked" &&
	wait_for 50 entry queue forked &&
	grep -q "^child" "$(entry queue forked)/message"
'

test_expect_success 'keep=2s: a finished entry is gone within seconds, not at the minute sweep' '
	mailfs_stop &&
	DEAD=$(free_port) &&
	mailfs_start x -o "relayhost=127.0.0.1:$DEAD,keep=2s,max_age=2s,retry=1h" &&
	printf "From: a@mailfs.test\nTo: b@example.test\n\nx\n" >"$T/expire" &&
	cp "$T/expire" "$MNT/outbox/expire" &&
	wait_for 100 entry failed expire &&
	grep -q "^b@example.test failed .* 4\.4\.1 expired after" \
		"$(entry failed expire)/status" &&
	wait_for 100 sh -c "[ -z \"\$(ls \"$MNT/failed\")\" ]" &&
	[ -z "$(ls "$SPOOL/failed")" ]
'

test_done
