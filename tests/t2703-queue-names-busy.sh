#!/bin/sh
# t2703-queue-names-busy - the kernel keeps queue/ names (fs/place.c) and
# forgets them from a thread of its own (fs/session.c): with more ctl
# deletes at once than libfuse has workers, deliveries to sent/ at the
# same time, and processes looking up every queue/ name all along,
# nothing hangs, and no name is seen at its old place once its delete
# has returned or its entry shows in sent/. (Forgetting the names from
# the request that deletes hung here: every worker waited for queue/'s
# lock, held by a LOOKUP no worker was left to answer.)
. "$(dirname "$0")/test-lib.sh"

RELAY=127.0.0.1:$(free_port)
N=80

test_expect_success "$N messages wait deferred" '
	mailfs_start q -o "relayhost=$RELAY,retry=1d" &&
	i=0 &&
	while [ $i -lt $N ]; do
		send m$i u$i@remote.test || return 1
		i=$((i + 1))
	done &&
	wait_for 300 eval "[ \$(ls \"\$MNT/queue\" | wc -l) -eq $N ]" &&
	wait_for 300 eval "grep -qx \"deferred $N\" \"\$MNT/stats\"" &&
	ls "$MNT/queue" >ids &&
	head -n 10 ids >deliver &&
	tail -n $((N - 10)) ids >delete
'

# look up every queue/ name until told to stop
hammer() {
	while [ ! -e stop ]; do
		for d in "$MNT"/queue/*/; do
			stat "$d" "$d/status" >/dev/null 2>&1
			cat "$d/status" >/dev/null 2>&1
		done
		ls -l "$MNT/queue" >/dev/null 2>&1
	done
}

# delete ID: it is gone from queue/ when the write returns
delete_one() {
	echo delete >"$MNT/queue/$1/ctl" || { echo "$1: delete failed" >>bad; return; }
	! stat "$MNT/queue/$1" >/dev/null 2>&1 &&
	! cat "$MNT/queue/$1/status" >/dev/null 2>&1 &&
	! ls "$MNT/queue" | grep -qx "$1" ||
		echo "$1: seen in queue/ after its delete" >>bad
}

# watch ID: from the moment sent/ID shows, queue/ID is gone
watch_one() {
	n=0
	until [ -d "$MNT/sent/$1" ]; do
		stat "$MNT/queue/$1/status" >/dev/null 2>&1
		n=$((n + 1))
		[ $n -lt 100000 ] || { echo "$1: never in sent/" >>bad; return; }
	done
	! stat "$MNT/queue/$1" >/dev/null 2>&1 &&
	! stat "$MNT/queue/$1/status" >/dev/null 2>&1 ||
		echo "$1: in queue/ after sent/ showed it" >>bad
}

# everything that touches the mount, in the background: a hang leaves
# no "done" behind, and the test's own shell, which only waits for that
# file, ends it (the cleanup stops the daemon, which frees the stuck)
run() {
	w=
	for id in $(cat deliver); do
		watch_one $id & w="$w $!"
	done
	for id in $(cat deliver); do
		echo retry >"$MNT/queue/$id/ctl" || echo "$id: retry failed" >>bad
	done
	for id in $(cat delete); do
		delete_one $id & w="$w $!"
	done
	wait $w
	until [ "$(ls "$MNT/queue" | wc -l)" -eq 0 ]; do sleep 0.1; done
	ls "$MNT/sent" >sent
	touch done
}

test_expect_success 'deletes, deliveries and lookups at once: no hang, nothing stale' '
	rm -f stop bad done &&
	for d in "$MNT"/queue/*/; do stat "$d/status" >/dev/null; done &&
	start_sink "$RELAY" &&
	pids= &&
	for k in 1 2 3 4 5 6 7 8; do
		hammer &
		pids="$pids $!"
	done
	run &
	pids="$pids $!"
	n=0 &&
	while [ $n -lt 600 ] && [ ! -e done ]; do
		sleep 0.1
		n=$((n + 1))
	done &&
	{ [ -e done ] || echo "hung: queue/ never emptied" >>bad; } &&
	touch stop &&
	for p in $pids; do
		m=0
		while kill -0 $p 2>/dev/null && [ $m -lt 100 ]; do
			sleep 0.1
			m=$((m + 1))
		done
		kill -0 $p 2>/dev/null && echo "$p hung" >>bad
	done
	! test -s bad || { cat bad; false; }
'

test_expect_success 'queue/ is empty; sent/ holds the delivered, not the deleted' '
	sort deliver | cmp - sent &&
	test "$(ls "$MNT/queue" | wc -l)" -eq 0 &&
	mailfs_stop
'

test_done
