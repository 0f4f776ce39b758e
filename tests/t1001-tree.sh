#!/bin/sh
# t1001-tree - the synthetic tree: the top level, queue/ID/ files with the
# right content and sizes (stat agrees with what is read), stats, the log
# growing under `tail -f`, ctl verbs, inode numbers that stay put.
. "$(dirname "$0")/test-lib.sh"

# Nothing leaves loopback: deliveries go to a port where nobody listens.
DEAD=127.0.0.1:$(free_port)

msg() {
	printf 'From: a@mailfs.test\nTo: b@example.test\nSubject: %s\n\nbody\n' "$1"
}

test_expect_success 'the top level' '
	mailfs_start t -o "relayhost=$DEAD,retry=1h" &&
	(cd "$MNT" && ls -a) >actual &&
	printf "%s\n" . .. ctl drafts failed inbox log outbox queue sent stats >expect &&
	test_cmp expect actual &&
	test -d "$MNT/outbox" && test -d "$MNT/queue" && test -d "$MNT/sent" &&
	test -d "$MNT/failed" && test -d "$MNT/inbox" &&
	test -f "$MNT/ctl" && test -f "$MNT/log" && test -f "$MNT/stats" &&
	[ "$(stat -c %a "$MNT/queue")" = 755 ] &&
	[ "$(stat -c %a "$MNT/outbox")" = 755 ] && test -w "$MNT/outbox" &&
	[ "$(stat -c %a "$MNT/stats")" = 444 ] &&
	[ "$(stat -c %u "$MNT/queue")" = "$(id -u)" ]
'

test_expect_success 'stats has every key, in order' '
	cut -d" " -f1 "$MNT/stats" >actual &&
	printf "%s\n" queue deferred sending inbox spool_free spool_free_pct \
		queued delivered failed received rejected refused \
		state_write_errors >expect &&
	test_cmp expect actual &&
	! grep -v "^[a-z_]* [0-9][0-9]*\$" "$MNT/stats"
'

test_expect_success 'a copied message is queue/ID/ with envelope, status, name' '
	msg one >"$T/one" && cp "$T/one" "$MNT/outbox/first" &&
	ls "$MNT/queue" >ids && [ $(wc -l <ids) = 1 ] &&
	ID=$(cat ids) &&
	(cd "$MNT/queue/$ID" && ls) >actual &&
	printf "%s\n" ctl envelope log message name status >expect &&
	test_cmp expect actual &&
	printf "from a@mailfs.test\nto b@example.test\nuid 0\n" >expect &&
	test_cmp expect "$MNT/queue/$ID/envelope" &&
	echo first >expect && test_cmp expect "$MNT/queue/$ID/name" &&
	grep -q "^Subject: one" "$MNT/queue/$ID/message" &&
	wait_for 100 grep -q "^b@example.test deferred 1 " "$MNT/queue/$ID/status" &&
	grep -q " $ID queued .*name=first" "$MNT/log" &&
	grep -q " queued " "$MNT/queue/$ID/log" &&
	[ -z "$(ls "$MNT/outbox")" ]
'

test_expect_success 'stat sizes agree with what is read, for every file' '
	for f in "$MNT"/ctl "$MNT"/log "$MNT"/stats "$MNT"/queue/*/*; do
		s=$(stat -c %s "$f") && w=$(wc -c <"$f") &&
		[ "$s" = "$w" ] || { echo "$f: stat $s, read $w"; return 1; }
	done
'

test_expect_success 'generated files are read-only, ctl is write-only' '
	for f in message envelope status log name; do
		[ "$(stat -c %a "$MNT/queue/$ID/$f")" = 444 ] || return 1
	done &&
	[ "$(stat -c %a "$MNT/queue/$ID/ctl")" = 200 ] &&
	[ "$(stat -c %a "$MNT/ctl")" = 200 ] &&
	[ -z "$(cat "$MNT/ctl")" ]
'

test_expect_success 'cp -r copies an entry, byte for byte' '
	cp -r "$MNT/queue/$ID" "$T/copy" &&
	cmp "$T/copy/message" "$MNT/queue/$ID/message" &&
	cmp "$T/copy/envelope" "$MNT/queue/$ID/envelope"
'

test_expect_success 'inode numbers stay put' '
	a=$(stat -c %i "$MNT/queue/$ID/status") &&
	ls -i "$MNT/queue/$ID" >/dev/null &&
	b=$(stat -c %i "$MNT/queue/$ID/status") &&
	[ "$a" = "$b" ] &&
	ls -i "$MNT/queue/$ID" | grep " status\$" >line &&
	[ "$(awk "{print \$1}" line)" = "$a" ] &&
	[ "$a" != "$(stat -c %i "$MNT/queue/$ID/log")" ]
'

test_expect_success 'stats counts what happened' '
	grep -qx "queue 1" "$MNT/stats" &&
	grep -qx "queued 1" "$MNT/stats"
'

test_expect_success 'tail -f log sees new lines' '
	tail -n +1 -f "$MNT/log" >"$T/tail" 2>/dev/null &
	tailpid=$! && track_pid $tailpid &&
	wait_for 100 grep -q "queued .*name=first" "$T/tail" &&
	msg two >"$T/two" && cp "$T/two" "$MNT/outbox/second" &&
	wait_for 100 grep -q "queued .*name=second" "$T/tail" &&
	kill_pid $tailpid
'

test_expect_success 'ctl: flush retries every deferred message now, anything else EINVAL' '
	wait_for 100 grep -q " deferred " "$MNT/queue/$ID/status" &&
	n=$(awk "{print \$3}" "$MNT/queue/$ID/status") &&
	echo flush >"$MNT/ctl" &&
	wait_for 100 grep -q "^b@example.test deferred $((n + 1)) " \
		"$MNT/queue/$ID/status" &&
	! env printf "bogus\n" >"$MNT/ctl" 2>err &&
	grep -q "Invalid argument" err
'

test_expect_success 'queue/ID/ctl: retry and delete' '
	n=$(awk "{print \$3}" "$MNT/queue/$ID/status") &&
	echo retry >"$MNT/queue/$ID/ctl" &&
	wait_for 100 grep -q "^b@example.test deferred $((n + 1)) " \
		"$MNT/queue/$ID/status" &&
	! env printf "bogus\n" >"$MNT/queue/$ID/ctl" &&
	echo delete >"$MNT/queue/$ID/ctl" &&
	wait_for 50 test ! -e "$MNT/queue/$ID" &&
	test ! -e "$MNT/queue/$ID/status" &&
	! ls "$MNT/queue" | grep -qx "$ID"
'

test_expect_success 'df works on the mount' '
	df "$MNT" >/dev/null
'

test_done
