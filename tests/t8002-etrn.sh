#!/bin/sh
# t8002-etrn - ETRN (RFC 1985) on the listener: with the MX of a.test
# down, its messages wait (deferred, retry=1h); once an smtp-sink plays
# the MX, `ETRN a.test` from an etrn_clients address gets them delivered
# within seconds, `ETRN @a.test` those of sub.a.test too; 251 when
# nothing waits, 459 for a domain of ours, 501 and 503 for bad use, 554
# for a client outside etrn_clients (from 127.0.0.2), logged as events.
. "$(dirname "$0")/test-lib.sh"

DNSPORT=$(free_port)
SPORT=$(free_port)
PORT=$(free_port)
start_dns "$DNSPORT" \
	--mx-host=a.test,mx.a.test,10 --host-record=mx.a.test,127.0.0.2 \
	--mx-host=sub.a.test,mx.a.test,10 \
	--mx-host=b.test,mx.b.test,10 --host-record=mx.b.test,127.0.0.3

OPTS="listen=127.0.0.1:$PORT,domains=example.test,dns=127.0.0.1:$DNSPORT,smtp_port=$SPORT,retry=1h,tls=none"
HELLO='EHLO client.test\r\n'

# etrn_from SOURCE-IP PART: one session to the listener from SOURCE-IP,
# PART (a Python bytes literal's body) sent after the greeting
etrn_from() {
	$PY - "$PORT" "$1" "$2" <<-'EOF'
	import ast, socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 30,
	                             source_address=(sys.argv[2], 0))
	f = s.makefile("rb")
	print(f.readline().decode().rstrip())
	s.sendall(ast.literal_eval('b"' + sys.argv[3] + '"'))
	for l in f:
	    print(l.decode().rstrip("\r\n"))
	EOF
}

test_expect_success 'with the MX down, mail for a.test, sub.a.test, b.test waits' '
	mailfs_start m -o "$OPTS" &&
	send m1 u@a.test &&
	send m2 u@sub.a.test &&
	send m3 u@b.test &&
	wait_for 100 status_is queue m1 u@a.test deferred 4.4.1 &&
	wait_for 100 status_is queue m2 u@sub.a.test deferred 4.4.1 &&
	wait_for 100 status_is queue m3 u@b.test deferred 4.4.1
'

test_expect_success 'EHLO offers ETRN' '
	chat "${HELLO}QUIT\r\n" >out &&
	grep "^250-ETRN$" out
'

test_expect_success 'ETRN a.test: 250, delivered within seconds, not sub.a.test' '
	start_sink 127.0.0.2:$SPORT &&
	chat "${HELLO}ETRN a.test\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 221 " &&
	grep "^250 2.0.0 Queuing for node a.test started$" out &&
	wait_for 50 status_is sent m1 u@a.test delivered 2.0.0 &&
	status_is queue m2 u@sub.a.test deferred 4.4.1 &&
	grep -q "etrn client=127.0.0.1 domain=a.test count=1" "$MNT/log"
'

test_expect_success 'ETRN @a.test covers sub.a.test' '
	chat "${HELLO}ETRN @a.test\r\nQUIT\r\n" >out &&
	grep "^250 2.0.0 Queuing for node @a.test started$" out &&
	wait_for 50 status_is sent m2 u@sub.a.test delivered 2.0.0 &&
	status_is queue m3 u@b.test deferred 4.4.1
'

test_expect_success 'nothing waits: 251; a domain of ours: 459' '
	chat "${HELLO}ETRN nothing.test\r\nETRN a.test\r\nETRN example.test\r\nETRN #queue\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 251 251 459 459 221 " &&
	grep "^251 2.0.0 No messages waiting for node nothing.test$" out &&
	grep "^459 4.3.0 Node example.test not allowed: " out &&
	grep -q "etrn client=127.0.0.1 domain=nothing.test count=0" "$MNT/log"
'

test_expect_success 'no argument or a bad one: 501; before EHLO or in a transaction: 503' '
	chat "ETRN a.test\r\n${HELLO}ETRN\r\nETRN a..test\r\nETRN a.test x\r\nMAIL FROM:<a@x.test>\r\nETRN a.test\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 503 250 501 501 501 250 503 221 " &&
	grep "^503 5.5.1 Error: send HELO/EHLO first" out &&
	grep "^503 5.5.1 Error: MAIL transaction in progress" out
'

test_expect_success 'a client outside etrn_clients: 554, and refused in the log' '
	mailfs_stop &&
	mailfs_start m -o "$OPTS,etrn_clients=127.0.0.1/32" &&
	wait_for 50 "$PY" -c "import socket; socket.create_connection((\"127.0.0.1\", $PORT), 1)" &&
	etrn_from 127.0.0.2 "${HELLO}ETRN b.test\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 554 221 " &&
	grep "^554 5.7.1 <127.0.0.2>: Client host rejected: Access denied$" out &&
	grep -q "refused client=127.0.0.2 reason=\"ETRN from a client not in etrn_clients\"" "$MNT/log" &&
	etrn_from 127.0.0.1 "${HELLO}ETRN b.test\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 221 "
'

test_expect_success 'etrn_clients = none: nobody' '
	mailfs_stop &&
	mailfs_start m -o "$OPTS,etrn_clients=none" &&
	wait_for 50 "$PY" -c "import socket; socket.create_connection((\"127.0.0.1\", $PORT), 1)" &&
	chat "${HELLO}ETRN b.test\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 554 221 "
'

test_expect_success 'SIGHUP rereads etrn_clients; a change of lmtp waits for a restart' '
	mailfs_stop &&
	printf "etrn_clients = none\n" >"$T/mailfs.conf" &&
	mailfs_start m -c "$T/mailfs.conf" -o "$OPTS" &&
	wait_for 50 "$PY" -c "import socket; socket.create_connection((\"127.0.0.1\", $PORT), 1)" &&
	chat "${HELLO}ETRN b.test\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 554 221 " &&
	printf "etrn_clients = 127.0.0.1\nlmtp = 127.0.0.1:$SPORT\n" >"$T/mailfs.conf" &&
	kill -HUP "$MAILFS_PID" &&
	wait_for 100 grep -q " reloaded .*restart_needed=lmtp" "$MNT/log" &&
	chat "${HELLO}ETRN b.test\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 221 "
'

test_done
