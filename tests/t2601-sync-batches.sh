#!/bin/sh
# t2601-sync-batches - group commit under SIGKILL: many writers share each
# sync round (cp into outbox/, SMTP sessions into the inbox), and the
# writer thread records deliveries in batches. mailfs is killed in the
# middle of each and restarted on the same spool: everything acknowledged
# is there and whole, nothing unacknowledged is half visible (every entry
# in queue/ and every message in the Maildir is complete, nothing goes to
# corrupt/), and every delivery recorded in batches reaches the sink
# whole, at least once. A queued message cut short by hand is refused at
# load, never sent.
. "$(dirname "$0")/test-lib.sh"

SINK=127.0.0.1:$(free_port)
PORT=$(free_port)
OPTS="relayhost=$SINK,retry=1s,tls=none,listen=127.0.0.1:$PORT,domains=mailfs.test"
WRITERS=8
SESSIONS=10
mkdir -p "$T/src"

# body NAME: a message to remote.test whose last line names it
body() {
	printf 'From: a@mailfs.test\nTo: b@remote.test\nSubject: %s\n\n' "$1"
	seq -f "line %g of $1 ................................" 60
	printf 'END %s\n' "$1"
}

# writer W N: cp N messages into outbox/; each whose close() returned 0
# is appended to $T/acked
writer() {
	i=0
	while [ $i -lt "$2" ]; do
		body "b$1-$i" >"$T/src/b$1-$i"
		cp "$T/src/b$1-$i" "$MNT/outbox/b$1-$i" 2>/dev/null || return 0
		echo "b$1-$i" >>"$T/acked"
		i=$((i + 1))
	done
}

# kill9: SIGKILL the daemon, clear its dead mount
kill9() {
	kill -9 "$MAILFS_PID"
	wait "$MAILFS_PID" 2>/dev/null
	fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
	! mountpoint -q "$MNT"
}

# queue_whole: every entry of SPOOL/queue and SPOOL/sent holds a whole
# message and a state; prints their subjects
queue_whole() {
	for d in "$SPOOL/queue"/*/ "$SPOOL/sent"/*/; do
		[ -d "$d" ] || continue
		n=$(tr -d '\r' <"$d/message" | sed -n 's/^Subject: //p' | head -n 1)
		[ -s "$d/state" ] || { echo "no state: $d" >&2; return 1; }
		tr -d '\r' <"$d/message" | grep -qx "END $n" || {
			echo "half: $d" >&2; return 1; }
		echo "$n"
	done
}

# acked_in FILE: every line of $T/acked is in FILE
acked_in() {
	sort -u "$T/acked" | comm -23 - "$(sort -u "$1" >"$1.s"; echo "$1.s")" >"$T/lost"
	[ ! -s "$T/lost" ] || { echo "lost:"; cat "$T/lost"; return 1; }
}

no_corrupt() {
	[ -z "$(ls -A "$SPOOL/corrupt" 2>/dev/null)" ] || {
		echo "moved aside:"; ls -R "$SPOOL/corrupt"; return 1; }
}

: >"$T/acked"

test_expect_success "SIGKILL amid $WRITERS writers sharing sync rounds" '
	mailfs_start a -o "$OPTS" &&
	pids= &&
	for w in $(seq $WRITERS); do
		writer "$w" 400 & pids="$pids $!"
	done &&
	wait_for 300 eval "[ \$(wc -l <\"\$T/acked\") -ge 80 ]" &&
	kill9 && wait $pids
	say "$(wc -l <"$T/acked") acknowledged before the kill" &&
	queue_whole >"$T/present" &&
	acked_in "$T/present" &&
	mailfs_start a -o "$OPTS" &&
	no_corrupt &&
	[ -z "$(ls -A "$SPOOL/tmp")" ] &&
	queue_whole >"$T/present" && acked_in "$T/present"
'

# sessions N: SESSIONS concurrent SMTP sessions, N messages each; the
# subject of each one that got its 250 goes to $T/in-acked at once
sessions() {
	$PY - "$PORT" "$SESSIONS" "$1" "$T/in-acked" <<-'EOP'
	import smtplib, sys, threading
	port, sessions, count, acked = sys.argv[1:]
	lock = threading.Lock()
	def one(k):
	    try:
	        s = smtplib.SMTP("127.0.0.1", int(port), timeout=30)
	        for i in range(int(count)):
	            subj = "in%d-%d" % (k, i)
	            body = "".join("line %d of %s ....\r\n" % (j, subj) for j in range(40))
	            s.sendmail("a@remote.test", ["b@mailfs.test"],
	                "Subject: %s\r\n\r\n%sEND %s\r\n" % (subj, body, subj))
	            with lock, open(acked, "a") as f:
	                f.write(subj + "\n")
	    except Exception:
	        pass
	ts = [threading.Thread(target=one, args=(k,)) for k in range(int(sessions))]
	[t.start() for t in ts]
	[t.join() for t in ts]
	EOP
}

# maildir_whole: every message in the Maildir is whole and has its
# envelope (an xattr of its file, or SPOOL/envelope/ID); prints their
# subjects
maildir_whole() {
	$PY "$SRCDIR/tests/spool-envelope.py" "$SPOOL" >"$T/with-env" || return 1
	for f in "$SPOOL/inbox/new"/* "$SPOOL/inbox/cur"/*; do
		[ -f "$f" ] || continue
		n=$(tr -d '\r' <"$f" | sed -n 's/^Subject: //p' | head -n 1)
		tr -d '\r' <"$f" | grep -qx "END $n" || { echo "half: $f" >&2; return 1; }
		id=${f##*/}
		grep -qx "${id%%:2,*}" "$T/with-env" ||
			{ echo "no envelope: $f" >&2; return 1; }
		echo "$n"
	done
}

test_expect_success "SIGKILL amid $SESSIONS SMTP sessions sharing sync rounds" '
	: >"$T/in-acked" &&
	{ sessions 300 & } && spid=$! &&
	wait_for 300 eval "[ \$(wc -l <\"\$T/in-acked\") -ge 60 ]" &&
	kill9 && wait $spid
	say "$(wc -l <"$T/in-acked") received before the kill" &&
	maildir_whole >"$T/in-present" &&
	sort -u "$T/in-acked" | comm -23 - "$(sort -u "$T/in-present" >"$T/in.s"; echo "$T/in.s")" >"$T/in-lost" &&
	[ ! -s "$T/in-lost" ] &&
	mailfs_start a -o "$OPTS" &&
	[ -z "$(ls -A "$SPOOL/inbox/tmp")" ] &&
	maildir_whole >/dev/null
'

# sink_whole: every message at the sink is whole; prints their subjects
sink_whole() {
	for f in "$T/sink"/*; do
		[ -f "$f" ] || continue
		n=$(tr -d '\r' <"$f" | sed -n 's/^Subject: //p' | head -n 1)
		tr -d '\r' <"$f" | grep -qx "END $n" || { echo "half at the sink: $f" >&2; return 1; }
		echo "$n"
	done
}

all_in_sent() {
	[ -z "$(ls -A "$SPOOL/queue")" ]
}

test_expect_success 'SIGKILL amid batched delivery records: all arrive whole' '
	half=$(($(wc -l <"$T/acked") / 2)) &&
	start_sink "$SINK" &&
	echo flush >"$MNT/ctl" &&
	wait_for 600 eval "[ \$(ls \"\$SPOOL/sent\" | wc -l) -ge $half ]" &&
	kill9 &&
	mailfs_start a -o "$OPTS" &&
	no_corrupt &&
	echo flush >"$MNT/ctl" &&
	wait_for 1200 all_in_sent &&
	sink_whole >"$T/at-sink" &&
	acked_in "$T/at-sink" &&
	queue_whole >/dev/null &&
	sort "$T/at-sink" | uniq -d >"$T/twice" &&
	say "delivered twice (allowed): $(wc -l <"$T/twice")"
'

test_expect_success 'a queued message cut short is refused at load, never sent' '
	kill_pid "$SINK_PID" &&
	body short >"$T/src/short" &&
	cp "$T/src/short" "$MNT/outbox/short" &&
	id=$(grep -l "^short$" "$MNT/queue"/*/name | head -n 1) &&
	id=${id%/name} && id=${id##*/} &&
	mailfs_stop &&
	truncate -s 100 "$SPOOL/queue/$id/message" &&
	mailfs_start a -o "$OPTS" &&
	[ -d "$SPOOL/corrupt/$id" ] && [ ! -e "$MNT/queue/$id" ] &&
	grep -q "not the size its state says" "$T/a/stderr"
'

test_done
