#!/bin/sh
# t2501-inbox-index - the inbox index (SPOOL/inbox.index) is a cache that is
# never trusted blindly: after other tools moved, flagged, deleted, added or
# rewrote Maildir files (with mailfs running, and while it was stopped),
# after the index was deleted, filled with garbage, truncated or tampered
# with (before a start and while running), and after a kill -9 in the middle
# of indexing, inbox/ shows exactly what a render of the Maildir shows;
# stats counts what inbox/ shows, and rm -r takes an entry away at once.
. "$(dirname "$0")/test-lib.sh"

N=200

# gen DIR FROM TO: messages FROM..TO-1 into DIR (tmp/ then new/, as a
# Maildir writer does), with varied headers and MIME; subject "msg I ..."
gen() {
	$PY - "$1" "$2" "$3" <<-'EOP'
	import os, sys, base64
	d, a, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
	for i in range(a, b):
	    subj = "msg %d caf\u00e9" % i
	    if i % 4 == 0:
	        subj = "=?utf-8?b?" + base64.b64encode(subj.encode()).decode() + "?="
	    head = "From: User %d <u%d@example.org>\nTo: bob@example.test\nSubject: %s\nMessage-ID: <m%d@example.org>\n" % (i, i, subj, i)
	    text = "".join("line %d of message %d\n" % (j, i) for j in range(i % 50 + 1))
	    if i % 3 == 0:
	        att = base64.encodebytes(bytes(range(256)) * (1 + i % 7)).decode()
	        body = ("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b%d\n\n--b%d\nContent-Type: text/plain\n\n%s--b%d\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=f%d.bin\nContent-Transfer-Encoding: base64\n\n%s--b%d--\n" % (i, i, text, i, i, att, i))
	    else:
	        body = "\n" + text
	    name = "1700000000.M%dP%d.other" % (i, i)
	    with open(os.path.join(d, "tmp", name), "w") as f:
	        f.write(head + body)
	    os.rename(os.path.join(d, "tmp", name), os.path.join(d, "new", name))
	EOP
}

# view: every file of inbox/ as "ID/REL SIZE MD5", sorted
view() {
	# sizes first: join must not open the file while it is being written
	(cd "$MNT/inbox" && find . -type f -printf '%p %s\n' | sort) >"$T/sizes" &&
	(cd "$MNT/inbox" && find . -type f -print0 | sort -z | xargs -0 md5sum |
	sort -k 2) | awk '{print $2, $1}' | join - "$T/sizes" |
	awk '{print $1, $3, $2}'
}

# same_view FILE: the view now is FILE's (and the sizes agree with the
# contents: md5 of what was read, size from stat)
same_view() {
	view >"$T/now" && test_cmp "$1" "$T/now"
}

# rows: how many rows the index holds now
rows() {
	sqlite3 "$SPOOL/inbox.index" "select count(*) from msg" 2>/dev/null
}

restart() {
	mailfs_stop && mailfs_start a
}

test_expect_success 'start on a Maildir of other tools, no index yet' '
	mkdir -p "$T/a/spool/inbox/tmp" "$T/a/spool/inbox/new" "$T/a/spool/inbox/cur" &&
	gen "$T/a/spool/inbox" 0 $N &&
	mailfs_start a &&
	[ "$(ls "$MNT/inbox" | wc -l)" -eq $N ] &&
	view >"$T/v0" && [ "$(wc -l <"$T/v0")" -gt $((N * 12)) ] &&
	grep -qx "msg 7 café" "$MNT/inbox/1700000000.M7P7.other/subject" &&
	grep -qx "msg 8 café" "$MNT/inbox/1700000000.M8P8.other/subject" &&
	cmp "$MNT/inbox/1700000000.M9P9.other/raw" \
		"$SPOOL/inbox/new/1700000000.M9P9.other" &&
	$PY -c "import sys; sys.stdout.buffer.write(bytes(range(256)) * 3)" >"$T/att9" &&
	cmp "$T/att9" "$MNT/inbox/1700000000.M9P9.other/2/body"
'

test_expect_success 'the index fills, outside the Maildir, which stays plain' '
	wait_for 300 eval "[ \"\$(rows)\" = $N ]" &&
	[ "$(stat -c %a "$SPOOL/inbox.index")" = 600 ] &&
	[ -z "$(find "$SPOOL/inbox" -type f ! -path "*/new/*" ! -path "*/cur/*")" ] &&
	[ "$(mlist "$SPOOL/inbox" | wc -l)" -eq $N ] &&
	same_view "$T/v0"
'

test_expect_success 'a restart serves the same from the index' '
	restart &&
	same_view "$T/v0" &&
	[ "$(rows)" = $N ]
'

test_expect_success 'small files given to the page cache at open read right at any offset' '
	restart &&
	f="$MNT/inbox/1700000000.M12P12.other" &&
	[ "$(dd if="$f/subject" bs=1 skip=4 2>/dev/null)" = "12 café" ] &&
	[ "$(dd if="$f/from" bs=5 skip=1 count=1 2>/dev/null)" = "12 <u" ] &&
	[ "$(head -c 3 "$f/subject")" = msg ] &&
	[ "$(stat -c %s "$f/subject")" = "$(wc -c <"$f/subject")" ] &&
	grep -qx "msg 12 café" "$f/subject"
'

I=$SPOOL/inbox
test_expect_success 'another tool flags, moves, deletes, adds and rewrites: seen at once' '
	mv "$I/new/1700000000.M3P3.other" "$I/cur/1700000000.M3P3.other:2,RS" &&
	minc "$I" >/dev/null &&
	[ -z "$(ls "$I/new")" ] &&
	mflag -S "$I/cur/1700000000.M1P1.other:2," "$I/cur/1700000000.M2P2.other:2," >/dev/null &&
	grep -qx "flags S" "$MNT/inbox/1700000000.M1P1.other/info" &&
	grep -qx "flags RS" "$MNT/inbox/1700000000.M3P3.other/info" &&
	[ "$(stat -c %s "$MNT/inbox/1700000000.M3P3.other/info")" = \
		"$(wc -c <"$MNT/inbox/1700000000.M3P3.other/info")" ] &&
	cmp "$MNT/inbox/1700000000.M3P3.other/raw" "$I/cur/1700000000.M3P3.other:2,RS" &&
	rm "$I/cur/1700000000.M4P4.other:2," "$I/cur/1700000000.M5P5.other:2," &&
	! ls "$MNT/inbox" | grep -q "M4P4\|M5P5" &&
	wait_for 50 eval "! test -e \"$MNT/inbox/1700000000.M4P4.other\"" &&
	! cat "$MNT/inbox/1700000000.M5P5.other/subject" 2>/dev/null &&
	gen "$I" $N $((N + 3)) &&
	grep -qx "msg $((N + 2)) café" "$MNT/inbox/1700000000.M$((N + 2))P$((N + 2)).other/subject" &&
	sed "s/^Subject: .*/Subject: rewritten in place/" "$I/cur/1700000000.M6P6.other:2," >"$T/m6" &&
	cat "$T/m6" >"$I/cur/1700000000.M6P6.other:2," &&
	wait_for 50 grep -qx "rewritten in place" "$MNT/inbox/1700000000.M6P6.other/subject" &&
	cmp "$T/m6" "$MNT/inbox/1700000000.M6P6.other/raw" &&
	[ "$(ls "$MNT/inbox" | wc -l)" -eq $((N + 1)) ] &&
	grep -v "M[1-6]P[1-6]\.other/" "$T/v0" >"$T/v0.rest" &&
	view | grep -v "M[1-6]P[1-6]\.other/" | grep -v "M$N\|M$((N + 1))\|M$((N + 2))" >"$T/now" &&
	test_cmp "$T/v0.rest" "$T/now" &&
	view >"$T/v1"
'

# inbox_stat: the inbox line of stats
inbox_stat() {
	sed -n "s/^inbox //p" "$MNT/stats"
}

test_expect_success 'stats counts what inbox/ shows, after other tools too' '
	[ "$(inbox_stat)" -eq $((N + 1)) ] &&
	gen "$I" 5000 5002 &&
	[ "$(inbox_stat)" -eq $((N + 3)) ] &&
	mv "$I/new/1700000000.M5000P5000.other" "$I/cur/1700000000.M5000P5000.other:2,S" &&
	[ "$(inbox_stat)" -eq $((N + 3)) ] &&
	rm "$I/cur/1700000000.M5000P5000.other:2,S" "$I/new/1700000000.M5001P5001.other" &&
	[ "$(inbox_stat)" -eq $((N + 1)) ] &&
	[ "$(inbox_stat)" -eq "$(ls "$MNT/inbox" | wc -l)" ]
'

test_expect_success 'the same after a restart; gone rows are forgotten' '
	restart &&
	same_view "$T/v1" &&
	wait_for 300 eval "[ \"\$(rows)\" = $((N + 1)) ]"
'

test_expect_success 'changes made while mailfs was stopped are seen' '
	mailfs_stop &&
	mv "$I/cur/1700000000.M1P1.other:2,S" "$I/cur/1700000000.M1P1.other:2,FS" &&
	rm "$I/cur/1700000000.M10P10.other:2," &&
	gen "$I" $((N + 3)) $((N + 4)) &&
	sed "s/^Subject: .*/Subject: rewritten while stopped/" \
		"$I/cur/1700000000.M11P11.other:2," >"$T/m11" &&
	cat "$T/m11" >"$I/cur/1700000000.M11P11.other:2," &&
	mailfs_start a &&
	grep -qx "flags FS" "$MNT/inbox/1700000000.M1P1.other/info" &&
	! test -e "$MNT/inbox/1700000000.M10P10.other" &&
	grep -qx "msg $((N + 3)) café" "$MNT/inbox/1700000000.M$((N + 3))P$((N + 3)).other/subject" &&
	grep -qx "rewritten while stopped" "$MNT/inbox/1700000000.M11P11.other/subject" &&
	cmp "$T/m11" "$MNT/inbox/1700000000.M11P11.other/raw" &&
	view >"$T/v2" &&
	[ "$(wc -l <"$T/v2")" -gt $((N * 12)) ]
'

test_expect_success 'index deleted before a start: made anew, same view' '
	mailfs_stop &&
	rm -f "$SPOOL/inbox.index" "$SPOOL/inbox.index-wal" "$SPOOL/inbox.index-shm" &&
	mailfs_start a &&
	same_view "$T/v2" &&
	wait_for 300 eval "[ \"\$(rows)\" = $((N + 1)) ]"
'

test_expect_success 'index of garbage before a start: logged, made anew, same view' '
	mailfs_stop &&
	dd if=/dev/urandom of="$SPOOL/inbox.index" bs=4096 count=50 2>/dev/null &&
	rm -f "$SPOOL/inbox.index-wal" "$SPOOL/inbox.index-shm" &&
	mailfs_start a &&
	same_view "$T/v2" &&
	grep -q "inbox index.*making it anew" "$T/a/stderr" &&
	kill -0 "$MAILFS_PID"
'

test_expect_success 'index truncated, or garbage in its middle, before a start: same view' '
	wait_for 300 eval "[ \"\$(rows)\" = $((N + 1)) ]" &&
	mailfs_stop &&
	truncate -s 8192 "$SPOOL/inbox.index" &&
	mailfs_start a &&
	same_view "$T/v2" &&
	wait_for 300 eval "[ \"\$(rows)\" = $((N + 1)) ]" &&
	mailfs_stop &&
	size=$(stat -c %s "$SPOOL/inbox.index") &&
	dd if=/dev/urandom of="$SPOOL/inbox.index" bs=1 seek=$((size / 2)) \
		count=20000 conv=notrunc 2>/dev/null &&
	mailfs_start a &&
	same_view "$T/v2" &&
	kill -0 "$MAILFS_PID"
'

test_expect_success 'rows tampered with (keys, blobs): not used, same view' '
	wait_for 300 eval "[ \"\$(rows)\" = $((N + 1)) ]" &&
	mailfs_stop &&
	sqlite3 "$SPOOL/inbox.index" "update msg set meta = randomblob(300) where rowid % 3 = 0;
		update msg set size = size + 1 where rowid % 3 = 1;
		update big set data = randomblob(length(data));" &&
	mailfs_start a &&
	same_view "$T/v2"
'

test_expect_success 'index deleted or garbled while running: same view' '
	rm -f "$SPOOL/inbox.index" "$SPOOL/inbox.index-wal" "$SPOOL/inbox.index-shm" &&
	sleep 1.1 &&
	same_view "$T/v2" &&
	wait_for 50 test -e "$SPOOL/inbox.index" &&
	wait_for 300 eval "[ \"\$(rows)\" = $((N + 1)) ]" &&
	size=$(stat -c %s "$SPOOL/inbox.index") &&
	dd if=/dev/urandom of="$SPOOL/inbox.index" bs=1 seek=$((size / 3)) \
		count=$((size / 2)) conv=notrunc 2>/dev/null &&
	same_view "$T/v2" &&
	restart &&
	same_view "$T/v2"
'

M=2000
test_expect_success 'kill -9 while indexing many messages: all shown after a restart' '
	mailfs_stop &&
	rm -f "$SPOOL/inbox.index"* &&
	gen "$I" 1000 $((1000 + M)) &&
	mailfs_start a &&
	wait_for 300 eval "[ \"\$(rows)\" -gt 0 ]" &&
	{ kill -9 "$MAILFS_PID"; wait "$MAILFS_PID" 2>/dev/null; unmount "$MNT"; } &&
	say "killed with $(rows) of $((N + 1 + M)) rows" &&
	[ "$(sqlite3 "$SPOOL/inbox.index" "pragma integrity_check")" = ok ] &&
	mailfs_start a &&
	[ "$(ls "$MNT/inbox" | wc -l)" -eq $((N + 1 + M)) ] &&
	for i in 1000 1500 1999 2999; do
		grep -qx "msg $i café" "$MNT/inbox/1700000000.M${i}P$i.other/subject" ||
		return 1
	done &&
	cat "$MNT"/inbox/*/subject | grep -c "^msg [0-9]* café$" >"$T/count" &&
	[ "$(cat "$T/count")" -eq $((N + M - 1)) ] &&
	view | grep -v "M[12][0-9][0-9][0-9]P" >"$T/now" &&
	test_cmp "$T/v2" "$T/now"
'

test_expect_success 'rm -r of many entries, then a restart: gone for good' '
	(cd "$MNT/inbox" && rm -r $(ls | grep "M1[0-4][0-9][0-9]P")) &&
	[ "$(ls "$MNT/inbox" | wc -l)" -eq $((N + 1 + M - 500)) ] &&
	[ "$(ls "$I/new" "$I/cur" | grep -c "M1[0-4][0-9][0-9]P")" -eq 0 ] &&
	restart &&
	[ "$(ls "$MNT/inbox" | wc -l)" -eq $((N + 1 + M - 500)) ] &&
	wait_for 300 eval "[ \"\$(rows)\" = $((N + 1 + M - 500)) ]"
'

test_expect_success 'rm -r: gone at once from every view, and from stats' '
	n=$(ls "$MNT/inbox" | wc -l) &&
	cat "$MNT/inbox/1700000000.M1600P1600.other/subject" >/dev/null &&
	ls -l "$MNT/inbox/1700000000.M1601P1601.other" >/dev/null &&
	(cd "$MNT/inbox" && rm -r 1700000000.M1600P1600.other 1700000000.M1601P1601.other) &&
	! test -e "$MNT/inbox/1700000000.M1600P1600.other" &&
	! cat "$MNT/inbox/1700000000.M1601P1601.other/subject" 2>/dev/null &&
	! ls "$MNT/inbox" | grep -q "M160[01]P" &&
	[ "$(inbox_stat)" -eq $((n - 2)) ] &&
	[ -z "$(find "$I" -name "1700000000.M160[01]P*")" ] &&
	sleep 1.5 &&
	! test -e "$MNT/inbox/1700000000.M1600P1600.other" &&
	[ "$(ls "$MNT/inbox" | wc -l)" -eq $((n - 2)) ]
'

test_expect_success 'the daemon stops cleanly' '
	mailfs_stop
'

test_done
