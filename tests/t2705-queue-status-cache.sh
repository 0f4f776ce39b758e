#!/bin/sh
# t2705-queue-status-cache - queue/ID/status read through the kernel's
# page cache (fs/status.c), its bytes stored at each open, and what keeps
# that right while the status changes: a relay whose 4xx reply text we
# choose makes the status longer or shorter at will. A new open sees the
# status as of its open, whole, with stat's size, after it grew and after
# it shrank; a reader holding it open across a change (and a stat of the
# new one in between) reads its own version whole, in one read or in two;
# readers racing deliveries never see a torn line; a held status outlives
# its entry's leaving queue/, and nothing stale is shown at the old path.
. "$(dirname "$0")/test-lib.sh"

PORT=$(free_port)
echo short >"$T/reply"

# a relay that takes the connection and answers every RCPT with
# "450 4.2.0 " and the text in $T/reply (read at each RCPT)
$PY - "$PORT" "$T/reply" >"$T/relay.log" 2>&1 <<'EOF' &
import socket, sys, threading
port, reply = int(sys.argv[1]), sys.argv[2]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(16)
def serve(c):
    f = c.makefile("rb")
    c.sendall(b"220 relay.test ESMTP\r\n")
    for line in f:
        verb = line[:4].upper()
        if verb == b"RCPT":
            text = open(reply).read().strip()
            c.sendall(b"450 4.2.0 " + text.encode() + b"\r\n")
        elif verb == b"QUIT":
            c.sendall(b"221 bye\r\n")
            break
        else:
            c.sendall(b"250 ok\r\n")
    c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
track_pid $!
wait_for 100 "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)"

LONG=$(printf 'mailbox busy, try later %.0s' 1 2 3 4 5 6 7 8 | sed 's/ $//')

# attempts: the attempt count in $S/status
attempts() {
	awk '{ print $3 }' "$S/status"
}

# the status line of u@remote.test after the relay said TEXT ($1)
line_re() {
	echo "u@remote.test [a-z]* [0-9]* [^ ]* [^ ]* 450 4\.2\.0 $1 (in reply to RCPT TO)"
}

# well_formed FILE TEXT: FILE is one whole status line of u@remote.test
# whose reply text is TEXT
well_formed() {
	[ "$(wc -l <"$1")" -eq 1 ] &&
	grep -qx "$(line_re "$2")" "$1" ||
	{ echo "not one line with \"$2\":"; od -c "$1" | head; false; }
}

# same_size FILE: stat's size of status is FILE's, and a cat's
same_size() {
	a=$(stat -c %s "$S/status") && b=$(wc -c <"$1") &&
	c=$(cat "$S/status" | wc -c) &&
	{ [ "$a" -eq "$b" ] && [ "$b" -eq "$c" ] ||
	{ echo "stat $a, read $b, cat $c"; false; }; }
}

# change TEXT: the next attempt gets TEXT; wait until status shows it
# and the attempt is over (deferred again)
change() {
	k=$(attempts) &&
	echo "$1" >"$T/reply" &&
	echo retry >"$S/ctl" &&
	wait_for 200 eval "[ \$(attempts) -gt $k ]" &&
	wait_for 200 status_is queue m u@remote.test deferred 4.2.0 &&
	wait_for 200 grep -qx "$(line_re "$1")" "$S/status"
}

test_expect_success 'a message waits deferred with the relay text' '
	mailfs_start q -o "relayhost=127.0.0.1:$PORT,retry=1d,tls=none" &&
	send m u@remote.test &&
	wait_for 200 status_is queue m u@remote.test deferred 4.2.0 &&
	S=$(entry queue m) &&
	cat "$S/status" >"$T/s0" &&
	well_formed "$T/s0" short &&
	same_size "$T/s0"
'

test_expect_success 'a new open sees the status grown, whole, with its size' '
	cat "$S/status" >/dev/null &&
	change "$LONG" &&
	cat "$S/status" >"$T/s1" &&
	well_formed "$T/s1" "$LONG" &&
	same_size "$T/s1"
'

test_expect_success 'a new open sees the status shrunk, whole, with its size' '
	cat "$S/status" >/dev/null &&
	change short &&
	cat "$S/status" >"$T/s2" &&
	well_formed "$T/s2" short &&
	same_size "$T/s2" &&
	cat "$S/status" >"$T/s2b" && test_cmp "$T/s2" "$T/s2b"
'

test_expect_success 'a reader holding status across a shrink reads its own, whole' '
	change "$LONG" &&
	exec 7<"$S/status" &&
	cat "$S/status" >"$T/held" &&
	change short &&
	# the new one, seen by stat and by new opens, while 7 is held
	cat "$S/status" >"$T/now" &&
	well_formed "$T/now" short &&
	same_size "$T/now" &&
	[ "$(stat -L -c %s /dev/fd/7)" -eq "$(wc -c <"$T/now")" ] &&
	ls -l "$S" >/dev/null &&
	cat <&7 >"$T/got" &&
	exec 7<&- &&
	test_cmp "$T/held" "$T/got" &&
	well_formed "$T/got" "$LONG" &&
	cat "$S/status" >"$T/after" && test_cmp "$T/now" "$T/after" &&
	same_size "$T/after"
'

test_expect_success 'a reader reading in two parts across a change gets one version' '
	$PY - "$S" "$T/reply" "$LONG" >"$T/parts" <<-\EOF &&
	import os, sys, time
	s, reply, long = sys.argv[1:]
	def attempts():
	    with open(s + "/status") as f:
	        return int(f.read().split()[2])
	for text in (long, "short", long):
	    n = attempts()
	    f = open(s + "/status", "rb", buffering=0)
	    head = f.read(12)
	    open(reply, "w").write(text + "\n")
	    with open(s + "/ctl", "w") as c:
	        c.write("retry\n")
	    t = time.time()
	    while attempts() <= n and time.time() - t < 20:
	        time.sleep(0.05)
	    time.sleep(0.3)
	    os.stat(s + "/status")
	    rest = f.read()
	    f.close()
	    line = (head + rest).decode()
	    print(line, end="")
	    assert line.count("\n") == 1 and line.endswith("\n"), repr(line)
	    assert int(line.split()[2]) == n, (line, n)
	EOF
	[ "$(wc -l <"$T/parts")" -eq 3 ] &&
	wait_for 200 status_is queue m u@remote.test deferred 4.2.0
'

test_expect_success 'readers racing deliveries: every read one whole line' '
	: >"$T/torn" &&
	(
		i=0
		while [ $i -lt 30 ]; do
			[ $((i % 2)) -eq 0 ] && t=short || t="$LONG"
			echo "$t" >"$T/reply"
			echo retry >"$S/ctl" 2>/dev/null
			sleep 0.05
			i=$((i + 1))
		done
	) &
	W=$! &&
	for r in 1 2; do
		(
			j=0
			while [ $j -lt 300 ]; do
				cat "$S/status" >"$T/r$r" 2>/dev/null &&
				{ [ "$(wc -l <"$T/r$r")" -eq 1 ] &&
				{ grep -qx "$(line_re short)" "$T/r$r" ||
				grep -qx "$(line_re "$LONG")" "$T/r$r"; } ||
				cat "$T/r$r" >>"$T/torn"; }
				j=$((j + 1))
			done
		) &
		eval R$r=\$!
	done &&
	wait $R1 && wait $R2 && wait $W &&
	test_cmp /dev/null "$T/torn" &&
	wait_for 200 status_is queue m u@remote.test deferred 4.2.0 &&
	cat "$S/status" >"$T/end" && same_size "$T/end"
'

test_expect_success 'a held status outlives its entry; nothing stale at the old path' '
	cat "$S/status" >"$T/last" &&
	exec 7<"$S/status" &&
	echo delete >"$S/ctl" &&
	! cat "$S/status" 2>/dev/null &&
	! stat "$S/status" 2>/dev/null &&
	! ls "$MNT/queue" | grep -qx "${S##*/}" &&
	cat <&7 >"$T/got" &&
	exec 7<&- &&
	test_cmp "$T/last" "$T/got"
'

test_expect_success 'stop' '
	mailfs_stop
'

test_done
