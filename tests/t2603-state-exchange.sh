#!/bin/sh
# t2603-state-exchange - a save of an entry's state after its first
# exchanges state.tmp and state (queue/writer.c): the new state takes the
# inode an older one left as state.tmp, so saves neither allocate nor
# free inodes (an attempt may save more than once: the two inodes only
# change places); state.tmp is an older state, never read, and a restart
# leaves it (queue/load.c) and goes on from state.
. "$(dirname "$0")/test-lib.sh"

RELAY=127.0.0.1:$(free_port)

ino() { stat -c %i "$Q/$1"; }

# same_inodes A B: state and state.tmp are inodes A and B, in any order
same_inodes() {
	set -- "$1" "$2" "$(ino state)" "$(ino state.tmp)"
	{ [ "$3" = "$1" ] && [ "$4" = "$2" ]; } ||
	{ [ "$3" = "$2" ] && [ "$4" = "$1" ]; } ||
	{ echo "inodes $3 $4, not $1 $2"; false; }
}

# saved N: the state on disk says N attempts
saved() {
	grep -q "^rcpt u@remote.test deferred $1 " "$Q/state"
}

test_expect_success 'a deferred message: state and state.tmp on disk' '
	mailfs_start x -o "relayhost=$RELAY,retry=1d,listen=none" &&
	send m u@remote.test &&
	wait_for 200 status_is queue m u@remote.test deferred 4.4.1 &&
	ID=$(basename "$(entry queue m)") &&
	Q=$SPOOL/queue/$ID &&
	wait_for 200 saved 1 &&
	test -f "$Q/state.tmp"
'

test_expect_success 'the next attempt saves into the same two inodes' '
	a=$(ino state) && b=$(ino state.tmp) &&
	echo retry >"$MNT/queue/$ID/ctl" &&
	wait_for 200 saved 2 &&
	same_inodes "$a" "$b" &&
	! grep -q " deferred 2 " "$Q/state.tmp"
'

test_expect_success 'a restart keeps state.tmp and reads state' '
	mailfs_stop &&
	test -f "$Q/state.tmp" &&
	mailfs_start x -o "relayhost=$RELAY,retry=1d,listen=none" &&
	wait_for 200 status_is queue m u@remote.test deferred 4.4.1 &&
	grep -q " deferred 2 " "$MNT/queue/$ID/status" &&
	a=$(ino state) && b=$(ino state.tmp) &&
	echo retry >"$MNT/queue/$ID/ctl" &&
	wait_for 200 saved 3 &&
	same_inodes "$a" "$b"
'

test_done
