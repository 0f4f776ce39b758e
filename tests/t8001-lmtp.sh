#!/bin/sh
# t8001-lmtp - mailfs as the final delivery behind another MTA: the `lmtp`
# listener (RFC 2033) on a unix socket and on host:port, byte-exact from
# Python (LHLO, one reply per accepted recipient after the final dot, each
# 250 once the message is in the Maildir; EHLO/HELO unknown), then a real
# Postfix delivering into mailfs's inbox/ with virtual_transport = lmtp:.
. "$(dirname "$0")/test-lib.sh"

chmod 755 "$T"	# Postfix's lmtp client (user postfix) reaches the socket
PORT=$(free_port)
SOCK=$T/lmtp.sock
NEW=$T/in/spool/inbox/new

# lmtp ADDR PART...: one LMTP connection to ADDR (a socket path, or a TCP
# port on 127.0.0.1); after the greeting send the PARTs (bodies of Python
# bytes literals) in one go; print every reply until the server closes.
lmtp() {
	$PY - "$@" <<-'EOF'
	import ast, socket, sys
	addr = sys.argv[1]
	data = b"".join(ast.literal_eval('b"' + p + '"') for p in sys.argv[2:])
	if addr.startswith("/"):
	    s = socket.socket(socket.AF_UNIX)
	    s.settimeout(30)
	    s.connect(addr)
	else:
	    s = socket.create_connection(("127.0.0.1", int(addr)), 30)
	f = s.makefile("rb")
	print(f.readline().decode().rstrip())
	s.sendall(data)
	for l in f:
	    print(l.decode().rstrip("\r\n"))
	EOF
}

TXN='LHLO mta.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<u@example.test>\r\nRCPT TO:<v@foreign.test>\r\nRCPT TO:<w>\r\nDATA\r\nSubject: lmtp\r\n\r\nhello\r\n.\r\nQUIT\r\n'

test_expect_success 'mailfs starts with an lmtp unix socket' '
	mailfs_start in -o "lmtp=unix:$SOCK,domains=example.test" &&
	test -S "$SOCK" &&
	test "$(stat -c %a "$SOCK")" = 666
'

# check_txn OUT: the replies to $TXN, exactly
check_txn() {
	ID=$(sed -n "s/^250 2.0.0 <u@example.test> Ok: delivered as //p" "$1") &&
	test -n "$ID" &&
	cat >expect <<-EOF &&
	220 mailfs.test LMTP mailfs
	250-mailfs.test
	250-PIPELINING
	250-SIZE 26214400
	250-8BITMIME
	250-SMTPUTF8
	250 ENHANCEDSTATUSCODES
	250 2.1.0 Ok
	250 2.1.5 Ok
	550 5.7.1 <v@foreign.test>: Relay access denied
	250 2.1.5 Ok
	354 End data with <CR><LF>.<CR><LF>
	250 2.0.0 <u@example.test> Ok: delivered as $ID
	250 2.0.0 <w@example.test> Ok: delivered as $ID
	221 2.0.0 Bye
	EOF
	test_cmp expect "$1" &&
	grep "^Subject: lmtp" "$NEW/$ID" &&
	grep "^Received: from mta.test (unknown \[$2\])$" "$NEW/$ID" &&
	grep "by mailfs.test with LMTP id $ID;" "$NEW/$ID" &&
	printf "from a@x.test\nto u@example.test\nto w@example.test\nclient %s\nhelo mta.test\ntls no\n" "$2" >expect &&
	$PY "$SRCDIR/tests/spool-envelope.py" "$SPOOL" "$ID" >actual &&
	test_cmp expect actual &&
	wait_for 50 test -e "$MNT/inbox/$ID/subject" &&
	test "$(cat "$MNT/inbox/$ID/subject")" = lmtp
}

test_expect_success 'unix socket: one reply per accepted recipient after the dot' '
	lmtp "$SOCK" "$TXN" >out &&
	check_txn out unix
'

test_expect_success 'EHLO and HELO are unknown in LMTP (500), ETRN is 502' '
	lmtp "$SOCK" "EHLO a.test\r\nHELO a.test\r\nMAIL FROM:<a@x.test>\r\nETRN a.test\r\nLHLO\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 500 500 503 502 501 221 " &&
	grep "^500 5.5.2 Error: command not recognized" out &&
	grep "^503 5.5.1 Error: send LHLO first" out &&
	grep "^502 5.5.1 ETRN not available in LMTP" out
'

test_expect_success 'bare local parts are ours, unless they route on' '
	lmtp "$SOCK" "LHLO mta.test\r\nMAIL FROM:<>\r\nRCPT TO:<Postmaster>\r\nRCPT TO:<u%r.test>\r\nRCPT TO:<r.test!u>\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 250 550 550 221 "
'

test_expect_success 'a message refused at its end: one refusal per recipient' '
	lmtp "$SOCK" "LHLO mta.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<u@example.test>\r\nRCPT TO:<w@example.test>\r\nDATA\r\nSubject: bare\r\n\r\nbare\nLF\r\n.\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 250 250 354 550 550 221 " &&
	grep "^550 5.5.2 <u@example.test> Error: bare" out &&
	grep "^550 5.5.2 <w@example.test> Error: bare" out
'

test_expect_success 'the socket is removed at stop, a stale one replaced at start' '
	mailfs_stop &&
	! test -e "$SOCK" &&
	$PY -c "import socket; socket.socket(socket.AF_UNIX).bind(\"$SOCK\")" &&
	test -S "$SOCK" &&
	mailfs_start in -o "lmtp=unix:$SOCK,domains=example.test" &&
	lmtp "$SOCK" "LHLO mta.test\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 221 "
'

test_expect_success 'a live socket is not taken over' '
	mkdir -p "$T/other" "$T/m" &&
	test_expect_code 1 "$MAILFS" -f -o "spool=$T/other,listen=none,lmtp=unix:$SOCK" "$T/m" 2>err &&
	grep "in use" err &&
	lmtp "$SOCK" "LHLO mta.test\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 221 "
'

test_expect_success 'lmtp on host:port' '
	mailfs_stop &&
	mailfs_start in -o "lmtp=127.0.0.1:$PORT,domains=example.test" &&
	lmtp "$PORT" "$TXN" >out &&
	check_txn out 127.0.0.1
'

test_expect_success 'an lmtp port in use: exit 1 before mounting, even as a daemon' '
	# should it mount after all, unmounting ends the detached daemon
	test_when_finished "fusermount3 -u \"$T/m\" 2>/dev/null" &&
	mkdir -p "$T/busy" &&
	test_expect_code 1 "$MAILFS" -o "spool=$T/busy,listen=none,lmtp=127.0.0.1:$PORT" "$T/m" 2>err &&
	grep "lmtp 127.0.0.1:$PORT" err &&
	! mountpoint -q "$T/m"
'

test_expect_success 'bad lmtp settings are refused (78)' '
	M=$T/m && mkdir -p "$M" &&
	config_refused lmtp -o "lmtp=unix:relative" &&
	config_refused lmtp -o "lmtp=127.0.0.1" &&
	config_refused etrn_clients -o "etrn_clients=127.0.0.0/33"
'

# A real Postfix hands mail for example.test to mailfs over LMTP.
test_expect_success 'Postfix (virtual_transport = lmtp:unix:) delivers into inbox/' '
	if [ "$(id -u)" -ne 0 ]; then test_skip "Postfix needs root"; return 0; fi
	mailfs_stop &&
	mailfs_start in -o "lmtp=unix:$SOCK,domains=example.test" &&
	PPORT=$(free_port) &&
	postfix_start "$T/postfix" "virtual_mailbox_domains = example.test
virtual_transport = lmtp:unix:$SOCK" "127.0.0.1:$PPORT inet n - n - - smtpd" &&
	printf "From: root@postfix.test\nTo: u@example.test\nSubject: via postfix\n\nover lmtp\n" |
		sendmail -C "$T/postfix/conf" -t &&
	wait_for 300 grep -q "status=sent" "$T/postfix/maillog" &&
	grep "postfix/lmtp\[[0-9]*\]: .* to=<u@example.test>, relay=.*lmtp.sock.*status=sent (250 2.0.0 <u@example.test> Ok: delivered as " "$T/postfix/maillog" &&
	ID=$(sed -n "s/.*status=sent (250 2.0.0 <u@example.test> Ok: delivered as \([^)]*\)).*/\1/p" "$T/postfix/maillog") &&
	grep "^Subject: via postfix" "$NEW/$ID" &&
	grep "^Return-Path: <root@postfix.test>" "$NEW/$ID" &&
	wait_for 50 test -e "$MNT/inbox/$ID/subject" &&
	test "$(cat "$MNT/inbox/$ID/subject")" = "via postfix"
'

test_expect_success 'Postfix (lmtp:inet:) over TCP, mail through its smtpd' '
	if [ "$(id -u)" -ne 0 ]; then test_skip "Postfix needs root"; return 0; fi
	mailfs_stop &&
	mailfs_start in -o "lmtp=127.0.0.1:$PORT,domains=example.test" &&
	postconf -c "$T/postfix/conf" -e "virtual_transport = lmtp:inet:127.0.0.1:$PORT" &&
	postfix -c "$T/postfix/conf" reload >/dev/null 2>&1 &&
	swaks --server "127.0.0.1:$PPORT" --from a@x.test --to v@example.test \
		--header "Subject: via smtpd" >swaks.out &&
	wait_for 300 grep -q "to=<v@example.test>.*status=sent" "$T/postfix/maillog" &&
	grep "postfix/lmtp\[[0-9]*\]: .* to=<v@example.test>, relay=127.0.0.1\[127.0.0.1\]:$PORT, .*status=sent (250 2.0.0 <v@example.test> Ok: delivered as " "$T/postfix/maillog"
'

test_expect_success 'Postfix stops' '
	postfix_stop "$T/postfix"
'

test_done
