#!/bin/sh
# t3002-smtp-limits: every limit of the listener answers with its code and
# leaves the session and the daemon healthy, with memory bounded whatever
# a client sends.
. "$(dirname "$0")/test-lib.sh"

# under ASan (make check SANITIZE=1) freed memory would stay in
# quarantine and look like growth
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
export ASAN_OPTIONS
PORT=$(free_port)
mailfs_start lim -o "listen=127.0.0.1:$PORT,domains=example.test,max_size=1M"
NEW=$SPOOL/inbox/new

nmsg() {
	ls "$NEW" | wc -l
}

# peak resident memory of the daemon, in kB
peak() {
	sed -n 's/^VmHWM:[^0-9]*\([0-9]*\).*/\1/p' /proc/$MAILFS_PID/status
}

HELLO='EHLO client.test\r\n'
ENV='MAIL FROM:<a@x.test>\r\nRCPT TO:<u@example.test>\r\nDATA\r\n'
BASE=$(peak)

test_expect_success 'command line of 512 octets is fine, 513 is 500 5.5.2' '
	chat "${HELLO}NOOP " "505*x" "\r\nNOOP " "506*x" "\r\nNOOP\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 500 250 221 " &&
	grep "^500 5.5.2 " out
'

test_expect_success 'a 100 MB command line: one 500, then the session goes on' '
	chat "${HELLO}MAIL FROM:<" "100000000*a" "\r\nNOOP\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 500 250 221 "
'

test_expect_success 'text line of 1000 octets is fine, 1001 refuses the message' '
	chat "${HELLO}${ENV}" "998*x" "\r\n.\r\n${ENV}" "999*x" "\r\n.\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 250 354 250 250 250 354 500 221 " &&
	grep "^500 5.5.2 " out &&
	test "$(nmsg)" = 1
'

test_expect_success 'SIZE= over max_size: 552 5.3.4 at MAIL' '
	chat "${HELLO}MAIL FROM:<a@x.test> SIZE=1048577\r\nMAIL FROM:<a@x.test> SIZE=1048576\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 552 250 221 " &&
	grep "^552 5.3.4 " out
'

test_expect_success 'over max_size without SIZE=: 552 5.3.4 after the data, nothing stored' '
	chat "${HELLO}${ENV}Subject: big\r\n\r\n" "70000*0123456789abcdef\r\n" ".\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 250 354 552 221 " &&
	grep "^552 5.3.4 " out &&
	test "$(nmsg)" = 1 &&
	grep "refused client=127.0.0.1 reason=\"message too big\"" "$SPOOL/log"
'

test_expect_success '100 MB of data and a million headers: refused, memory bounded' '
	chat "${HELLO}${ENV}" "1000000*X: y\r\n" "\r\n" "100000000*z" "\r\n.\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 250 354 552 221 " &&
	test "$(nmsg)" = 1 &&
	say "peak RSS $BASE kB before, $(peak) kB after" &&
	test $(($(peak) - BASE)) -lt 32768
'

test_expect_success 'NOOPs cannot hold a session: past 100 junk commands they count as errors' '
	chat "${HELLO}" "100*NOOP\r\n" "9*RSET\r\n" "NOOP\r\nNOOP\r\nQUIT\r\n" >out &&
	test "$(grep -c "^250 2.0.0 Ok" out)" = 110 &&
	tail -n 1 out | grep "^421 4.7.0 " &&
	chat "${HELLO}" "60*NOOP\r\n" "${ENV}x\r\n.\r\n" "60*NOOP\r\n" "QUIT\r\n" >out &&
	tail -n 1 out | grep "^221 2.0.0"
'

test_expect_success '100 recipients, the 101st: 452 4.5.3' '
	RCPTS=$(for i in $(seq 101); do printf "RCPT TO:<u%d@example.test>\\\\r\\\\n" $i; done) &&
	chat "${HELLO}MAIL FROM:<a@x.test>\r\n${RCPTS}DATA\r\nSubject: many\r\n\r\nx\r\n.\r\nQUIT\r\n" >out &&
	test "$(grep -c "^250 2.1.5" out)" = 100 &&
	grep "^452 4.5.3 " out &&
	ID=$(sed -n "s/^250 2.0.0 Ok: queued as //p" out) &&
	$PY "$SRCDIR/tests/spool-envelope.py" "$SPOOL" "$ID" >actual &&
	test "$(grep -c "^to " actual)" = 100
'

test_expect_success '30 Received: lines pass, 31 are a loop: 554 5.4.6' '
	chat "${HELLO}${ENV}" "30*Received: from a by b; now\r\n" "\r\nx\r\n.\r\n${ENV}" "31*Received: from a by b; now\r\n" "\r\nx\r\n.\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 250 354 250 250 250 354 554 221 " &&
	grep "^554 5.4.6 " out
'

test_expect_success 'Received: in the body does not count' '
	chat "${HELLO}${ENV}Subject: quoted\r\n\r\n" "40*Received: from a by b; now\r\n" ".\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 250 354 250 221 "
'

test_expect_success 'a stalled client does not hold up another' '
	$PY - "$PORT" <<-\EOF >out
	import socket, sys
	port = int(sys.argv[1])
	def conn(src="127.0.0.1"):
	    s = socket.create_connection(("127.0.0.1", port), 30, (src, 0))
	    f = s.makefile("rb")
	    f.readline()
	    return s, f
	def replies(f, n):
	    out = []
	    while len(out) < n:
	        l = f.readline().decode()
	        if l[3] == " ":
	            out.append(l[:3])
	    return out
	a, fa = conn()
	a.sendall(b"EHLO a\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<u@example.test>\r\nDATA\r\n")
	print(*replies(fa, 4))
	a.sendall((b"y" * 78 + b"\r\n") * 5000)  # half a message, then nothing
	b, fb = conn()
	b.sendall(b"EHLO b\r\nMAIL FROM:<b@x.test>\r\nRCPT TO:<u@example.test>\r\nDATA\r\nSubject: b\r\n\r\nb\r\n.\r\n")
	print(*replies(fb, 5))
	a.sendall(b"\r\n.\r\n")
	print(*replies(fa, 1))
	EOF
	printf "250 250 250 354\n250 250 250 354 250\n250\n" >expect &&
	test_cmp expect out
'

# open N connections from each SRC=N and print their greetings; with
# "first" last, then what the first connection gets next
conns() {
	$PY - "$PORT" "$@" <<-\EOF
	import socket, sys
	port, plan = int(sys.argv[1]), sys.argv[2:]
	keep = []
	for p in plan:
	    if p == "first":
	        print(p, keep[0][1].readline().decode().rstrip())
	        break
	    src, n = p.split("=")
	    for i in range(int(n)):
	        s = socket.create_connection(("127.0.0.1", port), 30, (src, 0))
	        keep.append((s, s.makefile("rb")))
	        print(src, keep[-1][1].readline().decode().rstrip())
	EOF
}

# A client that reads its replies late: the socket takes only part of
# them, the rest waits in the daemon (the session stops reading past its
# limit of unread replies) and goes out as the client reads, in order.
test_expect_success 'a client that reads its replies late gets every one, in order' '
	$PY - "$PORT" >late <<-\EOF &&
	import socket, sys, threading, time
	n = 60000	# EHLO replies of 8 lines: more than a socket holds
	s = socket.socket()
	s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
	s.settimeout(60)
	s.connect(("127.0.0.1", int(sys.argv[1])))
	data = b"EHLO late.test\r\n" * (n + 1) + \
	    b"MAIL FROM:<a@x.test>\r\nRCPT TO:<u@example.test>\r\nDATA\r\n" \
	    b"Subject: late\r\n\r\nx\r\n.\r\nQUIT\r\n"
	t = threading.Thread(target=s.sendall, args=(data,))
	t.start()
	time.sleep(2)
	f = s.makefile("rb")
	codes = [l[:4] for l in f if l[3:4] != b"-"]
	t.join()
	want = [b"220 ", b"250 "] + [b"250 "] * n + \
	    [b"250 ", b"250 ", b"354 ", b"250 ", b"221 "]
	print(len(codes), "replies;", "in order" if codes == want else "NOT as expected")
	EOF
	cat late &&
	grep "^60007 replies; in order$" late
'

test_expect_success '20 connections from one address, the 21st: 421 4.7.0' '
	conns 127.0.0.1=21 >out &&
	test "$(grep -c " 220 " out)" = 20 &&
	tail -n 1 out | grep "^127.0.0.1 421 4.7.0 "
'

test_expect_success '100 connections in all: the 101st is served, the one idle longest gets 421 4.4.2' '
	conns 127.0.0.2=20 127.0.0.3=20 127.0.0.4=20 127.0.0.5=20 127.0.0.6=20 127.0.0.7=1 first >out &&
	test "$(grep -c " 220 " out)" = 101 &&
	tail -n 1 out | grep "^first 421 4.4.2 " &&
	grep "refused client=127.0.0.2 reason=\"slot reclaimed for a new client\"" "$SPOOL/log"
'

test_expect_success 'after all that the listener still works' '
	wait_for 50 $PY -c "
import socket
s = socket.create_connection((\"127.0.0.1\", $PORT), 5)
assert s.makefile(\"rb\").readline().startswith(b\"220 \")" &&
	swaks --server 127.0.0.1:$PORT --from a@x.test --to u@example.test >swaks.out &&
	grep "^<-  250 2.0.0 Ok: queued" swaks.out
'

test_done
