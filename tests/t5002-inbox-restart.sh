#!/bin/sh
# t5002-inbox-restart - durability of the inbox: mailfs is killed with
# SIGKILL while clients are sending to its listener and restarted on the
# same spool. Every message that got its 250 after DATA must be in inbox/,
# whole, and SPOOL/inbox/tmp must be empty; a graceful restart keeps the
# inbox as it was.
. "$(dirname "$0")/test-lib.sh"

PORT=$(free_port)
OPTS="listen=127.0.0.1:$PORT,domains=mailfs.test"
LINES=500

# client NAME COUNT: one SMTP session sending COUNT messages; the subject
# of each one acknowledged with 250 is appended to $T/acked at once.
client() {
	$PY - "$PORT" "$1" "$2" "$LINES" "$T/acked" <<-'EOP'
	import smtplib, sys
	port, name, count, lines, acked = sys.argv[1:]
	s = smtplib.SMTP("127.0.0.1", int(port), timeout=30)
	for i in range(int(count)):
	    subj = "in-%s-%d" % (name, i)
	    body = "".join("line %d of %s ....................\r\n" % (j, subj)
	                   for j in range(1, int(lines) + 1))
	    msg = ("From: a@example.test\r\nTo: b@mailfs.test\r\nSubject: %s\r\n\r\n%sEND %s\r\n"
	           % (subj, body, subj))
	    s.sendmail("a@example.test", ["b@mailfs.test"], msg)
	    with open(acked, "a") as f:
	        f.write(subj + "\n")
	s.quit()
	EOP
}

crash() {
	kill -9 "$MAILFS_PID"
	wait "$MAILFS_PID" 2>/dev/null
	fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
	! mountpoint -q "$MNT"
}

# inbox_has_acked: every acknowledged subject is in inbox/, complete
inbox_has_acked() {
	rc=0
	: >"$T/present"
	for d in "$MNT/inbox"/*/; do
		[ -e "$d/subject" ] || continue
		s=$(cat "$d/subject")
		echo "$s" >>"$T/present"
		n=$(tr -d '\r' <"$d/body" | grep -c "^line [0-9]* of $s \.*$")
		if [ "$n" -ne "$LINES" ] || ! tr -d '\r' <"$d/body" | grep -qx "END $s"; then
			echo "$s is half there ($n of $LINES lines)"
			rc=1
		fi
	done
	sort "$T/present" | uniq -d >"$T/dups"
	[ -s "$T/dups" ] && say "stored twice: $(tr '\n' ' ' <"$T/dups")"
	sort -u "$T/present" >"$T/present.s"
	sort -u "$T/acked" | comm -23 - "$T/present.s" >"$T/missing"
	[ ! -s "$T/missing" ] || { echo "lost:"; cat "$T/missing"; rc=1; }
	return $rc
}

tmp_empty() {
	[ -z "$(ls -A "$SPOOL/inbox/tmp" 2>/dev/null)" ] || {
		echo "leftovers:"; ls -lA "$SPOOL/inbox/tmp"; return 1; }
}

: >"$T/acked"

test_expect_success 'SIGKILL while four clients send: every 250 survives' '
	mailfs_start a -o "$OPTS" &&
	for c in 1 2 3 4; do
		client $c 300 2>/dev/null &
		eval "client$c=\$!"
	done &&
	wait_for 300 eval "[ \$(wc -l <\"\$T/acked\") -ge 20 ]" &&
	crash &&
	wait $client1 $client2 $client3 $client4
	say "$(wc -l <"$T/acked") messages acknowledged" &&
	mailfs_start a -o "$OPTS" &&
	tmp_empty && inbox_has_acked
'

test_expect_success 'the Maildir is readable by mblaze after the crash' '
	mlist "$SPOOL/inbox" >list &&
	[ "$(wc -l <list)" -ge "$(sort -u "$T/acked" | wc -l)" ]
'

test_expect_success 'a graceful restart keeps the inbox as it was' '
	ls "$MNT/inbox" >before &&
	client g 3 &&
	mailfs_stop &&
	mailfs_start a -o "$OPTS" &&
	ls "$MNT/inbox" >after &&
	[ "$(wc -l <after)" -eq $(( $(wc -l <before) + 3 )) ] &&
	comm -23 before after >gone && [ ! -s gone ] &&
	tmp_empty && inbox_has_acked
'

test_done
