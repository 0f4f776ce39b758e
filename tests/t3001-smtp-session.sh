#!/bin/sh
# t3001-smtp-session: the inbound listener speaks SMTP (swaks and byte-exact
# Python sessions), stores into the Maildir that mblaze reads, refuses
# relaying whatever the address trick, and cannot be made to take a
# smuggled message.
. "$(dirname "$0")/test-lib.sh"

PORT=$(free_port)
mailfs_start in -o "listen=127.0.0.1:$PORT,domains=example.test,other.test"
NEW=$SPOOL/inbox/new

nmsg() {
	ls "$NEW" | wc -l
}

HELLO='EHLO client.test\r\n'
ENV='MAIL FROM:<a@x.test>\r\nRCPT TO:<u@example.test>\r\nDATA\r\n'

test_expect_success 'swaks delivers a message into new/' '
	swaks --server 127.0.0.1:$PORT --helo client.test --from a@x.test \
		--to u@example.test --header "Subject: hello t3001" >swaks.out &&
	grep "^<-  250 2.0.0 Ok: queued as" swaks.out &&
	test "$(nmsg)" = 1 &&
	ID=$(ls "$NEW") &&
	grep "queued as $ID" swaks.out
'

test_expect_success 'Return-Path: and Received: on top' '
	sed -n 1,5p "$NEW/$ID" >top &&
	grep "^Return-Path: <a@x.test>$" top &&
	grep "^Received: from client.test (unknown \[127.0.0.1\])$" top &&
	grep "by mailfs.test with ESMTP id $ID$" top &&
	grep "for <u@example.test>;" top &&
	grep "^Subject: hello t3001" "$NEW/$ID"
'

test_expect_success 'the envelope is kept' '
	printf "from a@x.test\nto u@example.test\nclient 127.0.0.1\nhelo client.test\ntls no\n" >expect &&
	$PY "$SRCDIR/tests/spool-envelope.py" "$SPOOL" "$ID" >actual &&
	test_cmp expect actual
'

test_expect_success 'log and stats count it' '
	grep "Z $ID received from=a@x.test to=u@example.test client=127.0.0.1 size=" "$SPOOL/log" &&
	grep "^received 1$" "$MNT/stats"
'

test_expect_success 'mblaze reads the Maildir' '
	mlist "$SPOOL/inbox" >list &&
	test "$(wc -l <list)" = 1 &&
	test "$(mhdr -h subject "$(cat list)")" = "hello t3001" &&
	mshow "$(cat list)" >shown &&
	grep "This is a test mailing" shown
'

test_expect_success 'pipelined commands are answered in order' '
	chat "${HELLO}MAIL FROM:<>\r\nRCPT TO:<u@example.test>\r\nRCPT TO:<v@other.test>\r\nRCPT TO:<u@example.test>\r\nDATA\r\nSubject: pipe\r\n\r\nx\r\n.\r\nRSET\r\nNOOP\r\nVRFY u\r\nHELP\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 250 250 250 354 250 250 250 252 214 221 " &&
	grep "^250-PIPELINING" out && grep "^250-SIZE 26214400" out &&
	grep "^250-8BITMIME" out && grep "^250-SMTPUTF8" out &&
	grep "^250 ENHANCEDSTATUSCODES" out &&
	! grep STARTTLS out &&
	test "$(nmsg)" = 2
'

test_expect_success 'a client that shuts down its sending side gets every reply' '
	$PY - "$PORT" >half <<-\EOF &&
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 30)
	s.sendall(b"EHLO half.test\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<u@example.test>\r\n"
	          b"DATA\r\nSubject: half\r\n\r\nx\r\n.\r\nNOOP\r\n")
	s.shutdown(socket.SHUT_WR)
	print(s.makefile("rb").read().decode())
	EOF
	test "$(codes half)" = "220 250 250 250 354 250 250 " &&
	ID=$(sed -n "s/^250 2.0.0 Ok: queued as //p" half | tr -d "\r") &&
	grep "^Subject: half" "$NEW/$ID"
'

test_expect_success 'null sender, two recipients, once on disk' '
	PID2=$(sed -n "s/^250 2.0.0 Ok: queued as //p" out) &&
	printf "from <>\nto u@example.test\nto v@other.test\nclient 127.0.0.1\nhelo client.test\ntls no\n" >expect &&
	$PY "$SRCDIR/tests/spool-envelope.py" "$SPOOL" "$PID2" >actual &&
	test_cmp expect actual &&
	grep "^Return-Path: <>$" "$NEW/$PID2" &&
	! grep "for <" "$NEW/$PID2"
'

test_expect_success 'every reply but greeting, EHLO and 354 has an enhanced code' '
	! grep -Ev "^(220 mailfs.test ESMTP|250[- ]|354 )|^[245][0-9][0-9] [245]\.[0-9]+\.[0-9]+ " out
'

test_expect_success 'out of sequence: 503' '
	chat "MAIL FROM:<a@x.test>\r\n${HELLO}RCPT TO:<u@example.test>\r\nDATA\r\nMAIL FROM:<a@x.test>\r\nMAIL FROM:<a@x.test>\r\nDATA\r\nSTARTTLS\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 503 250 503 503 250 503 503 503 221 " &&
	grep "^503 5.5.1 " out
'

test_expect_success 'unknown 500, bad syntax 501, NUL refused' '
	chat "${HELLO}FOO\r\nMAIL FROM:a@x.test\r\nMAIL FROM:<a@x.test> FOO=1\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<u@example.test> NOTIFY=NEVER\r\nRCPT TO:u@example.test\r\nRCPT TO:<u@example.test>\r\nDATA now\r\nNO\x00OP\r\nRSET x\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 500 501 555 250 555 501 250 501 500 501 221 " &&
	grep "^500 5.5.2 .*NUL" out
'

test_expect_success 'trailing white space after a command is ignored, as Postfix does' '
	chat "EHLO client.test  \r\nMAIL FROM:<a@x.test>\t\r\nRCPT TO:<u@example.test> \r\nDATA \r\nSubject: sloppy\r\n\r\nx\r\n.\r\nNOOP \r\nQUIT \r\n" >out &&
	test "$(codes out)" = "220 250 250 250 354 250 250 221 "
'

test_expect_success 'RCPT TO:<> is bad syntax (501 5.1.3), not relaying' '
	chat "${HELLO}MAIL FROM:<>\r\nRCPT TO:<>\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 501 221 " &&
	grep "^501 5.1.3 " out
'

test_expect_success 'a sender without a domain is bad syntax, but <Postmaster>' '
	chat "${HELLO}MAIL FROM:<user>\r\nMAIL FROM:<\\"a@b.test\\">\r\nMAIL FROM:<b.test!a>\r\nMAIL FROM:<Postmaster>\r\nRCPT TO:<user>\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 501 501 501 250 501 221 "
'

test_expect_success 'a fully qualified domain with its trailing dot is ours' '
	chat "${HELLO}MAIL FROM:<a@x.test.>\r\nRCPT TO:<u@Example.Test.>\r\nDATA\r\nSubject: fqdn\r\n\r\nx\r\n.\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 250 354 250 221 " &&
	ID=$(sed -n "s/^250 2.0.0 Ok: queued as //p" out) &&
	$PY "$SRCDIR/tests/spool-envelope.py" "$SPOOL" "$ID" >actual &&
	grep "^to u@Example.Test$" actual &&
	grep "^Return-Path: <a@x.test>$" "$NEW/$ID"
'

test_expect_success 'too many errors: 421 4.7.0 and the connection closes' '
	chat "${HELLO}A\r\nB\r\nC\r\nD\r\nE\r\nF\r\nG\r\nH\r\nI\r\nJ\r\nNOOP\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 500 500 500 500 500 500 500 500 500 500 421 " &&
	grep "^421 4.7.0 " out
'

test_expect_success 'SIZE at MAIL, HELO without extensions, bare LF commands' '
	chat "HELO old.test\nMAIL FROM:<a@x.test> SIZE=10\r\nMAIL FROM:<a@x.test>\nRCPT TO:<Postmaster>\nQUIT\n" >out &&
	test "$(codes out)" = "220 250 555 250 250 221 " &&
	chat "${HELLO}MAIL FROM:<a@x.test> SIZE=1000 BODY=8BITMIME\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 221 "
'

test_expect_success 'UTF-8 addresses need SMTPUTF8' '
	chat "${HELLO}MAIL FROM:<j\xc3\xb6rg@x.test>\r\nMAIL FROM:<j\xc3\xb6rg@x.test> SMTPUTF8\r\nRCPT TO:<\xc3\xbc@example.test>\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 553 250 250 221 "
'

# recipients that name a remote host through one of our domains
for rcpt in 'user@remote.test' 'user@sub.example.test' \
	'user%remote.test@example.test' 'remote.test!user@example.test' \
	'\"user@remote.test\"@example.test' '\"user%remote.test\"@example.test' \
	'@example.test:user@remote.test' '@remote.test:user@example.test' \
	'@example.test,@other.test:user@remote.test' \
	'user@remote.test@example.test' 'a@b@example.test' \
	'user@[127.0.0.1]' 'user@[IPv6:::1]' 'user@example.test.remote.test' \
	'user@remote.test.' 'user%remote.test@example.test.' \
	'postmaster@remote.test' '\"postmaster@remote.test\"' \
	'\"user%remote.test\"' 'remote.test!user' 'user%remote.test' \
	'user@xn--exmple-cua.test' 'u\xc3\xa9@remote.test'
do
	title=$(printf %s "$rcpt" | sed 's/\\"/"/g')
	test_expect_success "no relaying: <$title>" "
		chat '${HELLO}MAIL FROM:<a@x.test>\r\nRCPT TO:<$rcpt>\r\nQUIT\r\n' >out &&
		test \"\$(codes out)\" = '220 250 250 550 221 ' &&
		grep '^550 5.7.1 ' out
	"
done

test_expect_success 'relay attempts are logged as refused' '
	grep "refused client=127.0.0.1 reason=\"relay access denied to <user%remote.test@example.test>\"" "$SPOOL/log"
'

test_expect_success 'our domains in any case are accepted' '
	chat "${HELLO}MAIL FROM:<a@x.test>\r\nRCPT TO:<U@EXAMPLE.TEST>\r\nRCPT TO:<\\\"john doe\\\"@other.test>\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 250 250 221 "
'

# Each sequence tries to end the data early so that what follows is taken
# as a second, smuggled transaction (CVE-2023-51764 and kin): the whole
# rest must stay data of one message, refused at the real end.
N0=$(ls "$NEW" | wc -l)
for seq in '\n.\n' '\n.\r\n' '\r.\n' '\r.\r\n' '\r\n.\n' '\r\n.\r' \
	'\r\n.\r\r\n' '\r\n.\n\r\n' '\n\r.\r\n' '\r\n\x00.\r\n' \
	'\r\n.\x00\r\n' '\r\x00\n.\r\n' '\r\n.\x00\n'
do
	title=$(printf %s "$seq" | sed 's/\\r/ CR/g; s/\\n/ LF/g; s/\\x00/ NUL/g')
	test_expect_success "no smuggling with$title" "
		chat '${HELLO}${ENV}Subject: first\r\n\r\nbody${seq}MAIL FROM:<evil@x.test>\r\nRCPT TO:<u@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\nQUIT\r\n' >out &&
		test \"\$(codes out)\" = '220 250 250 250 354 550 221 '
	"
done

test_expect_success 'bare LF or CR refuses the message with 550 5.5.2' '
	chat "${HELLO}${ENV}Subject: bare\r\n\r\nline\nother\r\n.\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 250 250 354 550 221 " &&
	grep "^550 5.5.2 " out &&
	chat "${HELLO}${ENV}Subject: bare\r\n\r\nline\rother\r\n.\r\nQUIT\r\n" >out &&
	grep "^550 5.5.2 " out &&
	grep "refused client=127.0.0.1 reason=\"bare CR or LF in the data\"" "$SPOOL/log"
'

test_expect_success 'nothing was stored by the smuggling attempts' '
	test "$(nmsg)" = "$N0"
'

test_expect_success 'dot-stuffing is undone, CRLF stored as LF' '
	chat "${HELLO}${ENV}Subject: dots\r\n\r\n..leading\r\n.\r\nQUIT\r\n" >out &&
	ID=$(sed -n "s/^250 2.0.0 Ok: queued as //p" out) &&
	tail -n 1 "$NEW/$ID" >last &&
	printf ".leading\n" >expect &&
	test_cmp expect last &&
	! grep -q "$(printf "\r")" "$NEW/$ID"
'

# chattr +i makes new/ refuse the link, as a full or failing disk would
test_expect_success 'a message that cannot be stored gets 451 4.3.0' '
	if chattr +i "$NEW" 2>/dev/null; then
		test_when_finished "chattr -i \"$NEW\"" &&
		N=$(nmsg) &&
		chat "${HELLO}${ENV}Subject: lost\r\n\r\nx\r\n.\r\nQUIT\r\n" >out &&
		chattr -i "$NEW" &&
		test "$(codes out)" = "220 250 250 250 354 451 221 " &&
		grep "^451 4.3.0 " out &&
		test "$(nmsg)" = "$N" &&
		test "$(ls "$SPOOL/inbox/tmp" | wc -l)" = 0 &&
		! grep -rl "Subject: lost" "$SPOOL/envelope" "$SPOOL/inbox"
	else
		test_skip "this file system has no chattr +i"
	fi
'

test_done
