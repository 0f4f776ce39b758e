#!/bin/sh
# t2704-queue-status-size - the kernel keeps the attributes of a queue/
# entry's status (fs/place.c) and forgets its size at each change
# (fs/session.c): stat shows the size the content has, before and after
# an attempt that makes the file longer, for a name looked up before,
# and for a file held open across the change (fstat).
. "$(dirname "$0")/test-lib.sh"

RELAY=127.0.0.1:$(free_port)

# attempts: the attempt count in $S/status
attempts() {
	awk '{ print $3 }' "$S/status"
}

# same_size: stat's size of status is its content's
same_size() {
	a=$(stat -c %s "$S/status") && b=$(wc -c <"$S/status") &&
	{ [ "$a" -eq "$b" ] || { echo "stat $a, content $b"; false; }; }
}

test_expect_success 'a message waits deferred' '
	mailfs_start q -o "relayhost=$RELAY,retry=1d" &&
	send m u@remote.test &&
	wait_for 200 status_is queue m u@remote.test deferred 4.4.1 &&
	S=$(entry queue m) &&
	[ "$(attempts)" -eq 1 ] &&
	same_size
'

test_expect_success 'each attempt: stat keeps up, across 9 to 10 attempts' '
	exec 7<"$S/status" &&
	i=1 &&
	while [ $i -lt 11 ]; do
		stat "$S/status" >/dev/null &&
		echo retry >"$S/ctl" &&
		wait_for 200 eval "[ \$(attempts) -eq $((i + 1)) ]" &&
		wait_for 200 status_is queue m u@remote.test deferred 4.4.1 &&
		same_size || return 1
		i=$((i + 1))
	done &&
	[ "$(attempts)" -eq 11 ] &&
	# the fd opened before: fstat shows the size now, as stat does
	[ "$(stat -L -c %s /dev/fd/7)" -eq "$(wc -c <"$S/status")" ] &&
	exec 7<&-
'

test_expect_success 'stop' '
	mailfs_stop
'

test_done
