#!/bin/sh
# t8003-submission: message submission (RFC 6409) on `submission` with
# STARTTLS and on `submissions` with TLS from the first byte (RFC 8314),
# AUTH PLAIN and LOGIN against a passwd file of crypt(3) hashes. Real
# clients (swaks, Python smtplib, git send-email: an empty
# sendemail.smtpsslcertpath takes the self-signed certificate) send to an
# outside recipient whose MX (dnsmasq) is smtp-sink; a wrong password
# waits longer each time, AUTH is neither offered nor taken before TLS,
# MAIL needs a login and a sender the user may give, a passwd file others
# can read is refused at start, SIGHUP rereads it.
. "$(dirname "$0")/test-lib.sh"

# made once with `mkpasswd -m yescrypt secret123` and `mkpasswd -m sha-512
# secret123` (package whois): the tests need no mkpasswd
ALICE='$y$j9T$ivRrfu6z5e.SflIXR0ejm1$3OW8WeMZP5XSQSluKBQUFff0sIhDTF.xPpt0VIZ5Sg9'
BOB='$6$cEPTpj8Xvx4IvIOr$afZisuNwS7nzDNQIdYRrFt0tRyw6L.1Kr5DEYnDJAYHCpMIsmBuw19zrWCTkVYoQ9ohWguh2frxJFwiE8gj80/'
# "\0alice\0secret123" and "\0alice\0wrong"
PLAIN_OK=AGFsaWNlAHNlY3JldDEyMw==

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=mailfs.test \
	>/dev/null 2>&1 || test_fail_all "openssl cannot make a certificate"
printf '# the users\nalice:%s\nbob:%s:bob@other.test,@lists.test\n' \
	"$ALICE" "$BOB" >"$T/passwd"
chmod 600 "$T/passwd"

DNSPORT=$(free_port)
SINKPORT=$(free_port)
SUB=$(free_port)
SUBS=$(free_port)
PORT=$SUB	# chat's
start_dns "$DNSPORT" --mx-host=far.test,mx.far.test,10 \
	--host-record=mx.far.test,127.0.0.2
start_sink 127.0.0.2:$SINKPORT
mailfs_start m -o "domains=example.org,dns=127.0.0.1:$DNSPORT,smtp_port=$SINKPORT,tls=none,retry=1s" \
	-o "tls_cert=$T/cert.pem,tls_key=$T/key.pem,passwd=$T/passwd" \
	-o "submission=127.0.0.1:$SUB,submissions=127.0.0.1:$SUBS"

# sunk RCPT SUBJECT: the file smtp-sink wrote for it
sunk() {
	grep -l "^X-Rcpt-Args: <$1>" "$T"/sink/* 2>/dev/null |
		xargs -r grep -l "^Subject: $2" | head -n 1 | grep .
}

# implicit MECH USER SWAKS-ARGS...: swaks on submissions (TLS from the
# first byte), logged in as USER with secret123
implicit() {
	mech=$1 user=$2
	shift 2
	swaks --server 127.0.0.1:$SUBS --tls-on-connect --auth "$mech" \
		--auth-user "$user" --auth-password secret123 "$@"
}

test_expect_success 'swaks --auth PLAIN after STARTTLS: queued, delivered outside' '
	swaks --server 127.0.0.1:$SUB -tls --auth PLAIN --auth-user alice \
		--auth-password secret123 --from alice@example.org \
		--to out@far.test --header "Subject: plain-starttls" >out &&
	grep "^<~  235 2.7.0" out &&
	grep "^<~  250 2.0.0 Ok: queued as " out &&
	wait_for 100 sunk out@far.test plain-starttls &&
	grep -q "auth client=127.0.0.1 user=alice mech=PLAIN result=ok" "$MNT/log" &&
	grep -q "queued from=alice@example.org rcpts=out@far.test .*user=alice" "$MNT/log"
'

test_expect_success 'it went through queue/ to sent/, its Received: says ESMTPSA, not the password' '
	ID=$(sed -n "s/^<~  250 2.0.0 Ok: queued as //p" out) &&
	wait_for 100 test -d "$MNT/sent/$ID" &&
	f=$(sunk out@far.test plain-starttls) &&
	grep -q "with ESMTPSA id " "$f" &&
	grep -q "(using TLSv1\.[23] with cipher " "$f" &&
	! grep -q secret123 "$f" &&
	! grep -q "$PLAIN_OK" "$f" &&
	! grep -q secret123 "$MNT/log"
'

test_expect_success 'swaks --auth LOGIN with --tls-on-connect on submissions' '
	implicit LOGIN alice --from alice@example.org --to tls@far.test \
		--header "Subject: login-implicit" >out &&
	grep "^<~  250 2.0.0 Ok: queued as " out &&
	wait_for 100 sunk tls@far.test login-implicit &&
	grep -q "auth client=127.0.0.1 user=alice mech=LOGIN result=ok" "$MNT/log"
'

test_expect_success 'swaks --auth PLAIN with --tls-on-connect; bob may send as his own address' '
	implicit PLAIN bob --from bob@other.test --to bob2@far.test \
		--header "Subject: bob-implicit" >out &&
	grep "^<~  250 2.0.0 Ok: queued as " out &&
	wait_for 100 sunk bob2@far.test bob-implicit
'

test_expect_success 'before STARTTLS: AUTH not offered, and refused 538 5.7.11' '
	swaks --server 127.0.0.1:$SUB --quit-after EHLO >out &&
	grep "^<-  250-STARTTLS" out &&
	! grep "AUTH" out &&
	chat "EHLO c.test\r\nAUTH PLAIN $PLAIN_OK\r\nQUIT\r\n" >out &&
	grep "^538 5.7.11 " out &&
	! grep "^235" out
'

test_expect_success 'after STARTTLS AUTH PLAIN LOGIN is offered' '
	swaks --server 127.0.0.1:$SUB -tls --quit-after AUTH >out 2>&1;
	grep "^<~  250-AUTH PLAIN LOGIN" out
'

test_expect_success 'without AUTH, MAIL gets 530 5.7.0' '
	test_expect_code 23 swaks --server 127.0.0.1:$SUB -tls \
		--from alice@example.org --to x@far.test >out &&
	grep "^<~\* 530 5.7.0 " out
'

test_expect_success 'a sender the user may not give: 553 5.7.1' '
	test_expect_code 23 swaks --server 127.0.0.1:$SUB -tls --auth PLAIN \
		--auth-user alice --auth-password secret123 \
		--from eve@other.test --to x@far.test >out &&
	grep "^<~\* 553 5.7.1 " out &&
	test_expect_code 23 implicit PLAIN bob --from bob@example.org \
		--to x@far.test >out &&
	grep "^<~\* 553 5.7.1 " out
'

test_expect_success 'a wrong password: 535 5.7.8, each time later; the third closes' '
	$PY - "$SUB" >out <<-\EOF &&
	import smtplib, ssl, sys, time
	s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=60)
	s.starttls(context=ssl._create_unverified_context())
	s.ehlo("c.test")
	s.user, s.password = "alice", "wrong"
	took = []
	for i in range(3):
	    t = time.monotonic()
	    try:
	        s.auth("PLAIN", s.auth_plain)
	        print("accepted")
	    except smtplib.SMTPAuthenticationError as e:
	        print(e.smtp_code, e.smtp_error.decode().split()[0])
	    took.append(time.monotonic() - t)
	print("slower" if took[1] > took[0] + 0.5 and took[0] >= 0.9 else took)
	try:
	    print(s.noop()[0])
	except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException) as e:
	    print("closed", getattr(e, "smtp_code", ""))
	EOF
	cat out &&
	test "$(sed -n 1p out)" = "535 5.7.8" &&
	test "$(sed -n 2p out)" = "535 5.7.8" &&
	test "$(sed -n 4p out)" = slower &&
	grep "^421\|^closed" out &&
	grep -q "auth client=127.0.0.1 user=alice mech=PLAIN result=fail" "$MNT/log"
'

test_expect_success 'Python smtplib: login and sendmail over STARTTLS' '
	sleep 1 &&
	$PY - "$SUB" >out <<-\EOF &&
	import smtplib, ssl, sys
	s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=60)
	s.starttls(context=ssl._create_unverified_context())
	s.login("bob", "secret123")
	s.sendmail("list@lists.test", ["py@far.test"],
	    "From: list@lists.test\r\nTo: py@far.test\r\nSubject: smtplib\r\n\r\nhi\r\n")
	s.quit()
	print("sent")
	EOF
	grep sent out &&
	wait_for 100 sunk py@far.test smtplib
'

# git-email only recommends the Perl modules of STARTTLS and AUTH
test_expect_success 'git send-email through submission with STARTTLS' '
	perl -MAuthen::SASL -MIO::Socket::SSL -e 1 || { echo "git send-email" \
		"needs libauthen-sasl-perl and libio-socket-ssl-perl"; return 1; } &&
	mkdir repo && (cd repo && git init -q && echo text >file &&
		git add file &&
		git -c user.name=Alice -c user.email=alice@example.org \
			commit -q -m "a change" &&
		git format-patch -1 -o .. >/dev/null) &&
	HOME=$T git -c user.name=Alice -c user.email=alice@example.org \
		-c sendemail.smtpsslcertpath= -C repo send-email \
		--confirm=never --suppress-cc=all --to=dev@far.test \
		--from="Alice <alice@example.org>" --smtp-server=127.0.0.1 \
		--smtp-server-port=$SUB --smtp-encryption=tls --smtp-user=alice \
		--smtp-pass=secret123 "$T"/0001-*.patch </dev/null >out 2>&1;
	cat out;
	grep "OK" out &&
	wait_for 100 sunk dev@far.test "\[PATCH\] a change"
'

test_expect_success 'SIGHUP rereads passwd; one others may read is refused and the users stay' '
	printf "carol:%s\n" "$BOB" >"$T/passwd.new" && chmod 600 "$T/passwd.new" &&
	cat "$T/passwd.new" >"$T/passwd" &&
	kill -HUP $MAILFS_PID &&
	wait_for 50 grep -q reloaded "$MNT/log" &&
	implicit PLAIN carol --quit-after AUTH >out &&
	grep "^<~  235 " out &&
	chmod 644 "$T/passwd" &&
	kill -HUP $MAILFS_PID &&
	wait_for 50 grep -q "reload-failed.*group or others" "$MNT/log" &&
	implicit PLAIN carol --quit-after AUTH >out &&
	grep "^<~  235 " out
'

M=$T/refused
mkdir -p "$M"
test_expect_success 'a passwd file group or others may read: exit 78' '
	chmod 644 "$T/passwd" &&
	config_refused passwd -f -o "spool=$T/r,listen=none,passwd=$T/passwd" \
		-o "submission=127.0.0.1:$(free_port),tls_cert=$T/cert.pem,tls_key=$T/key.pem"
'

test_expect_success 'submission without tls_cert, or without passwd: exit 78' '
	chmod 600 "$T/passwd" &&
	config_refused submission -f -o "spool=$T/r,listen=none,passwd=$T/passwd" \
		-o "submission=127.0.0.1:$(free_port)" &&
	config_refused submissions -f -o "spool=$T/r,listen=none" \
		-o "submissions=127.0.0.1:$(free_port),tls_cert=$T/cert.pem,tls_key=$T/key.pem"
'

# auth_cleartext_loopback: no certificate, a client on loopback; the SASL
# exchanges by hand, pipelined behind a failure's delay. Its mail stays
# in queue/: far.test's MX does not listen on port 25.
printf 'alice:%s\n' "$ALICE" >"$T/passwd2"
chmod 600 "$T/passwd2"
PORT=$(free_port)
mailfs_start p -o "domains=example.org,passwd=$T/passwd2,dns=127.0.0.1:$DNSPORT" \
	-o "submission=127.0.0.1:$PORT,auth_cleartext_loopback=yes"

test_expect_success 'auth_cleartext_loopback: AUTH without TLS from loopback' '
	chat "EHLO c.test\r\nAUTH LOGIN\r\n*\r\n" \
		"AUTH PLAIN Ym9iAGFsaWNlAHNlY3JldDEyMw==\r\n" \
		"AUTH LOGIN YWxpY2U=\r\nc2VjcmV0MTIz\r\nAUTH PLAIN =\r\n" \
		"MAIL FROM:<alice@example.org>\r\nRCPT TO:<x@far.test>\r\n" \
		"QUIT\r\n" >out &&
	grep "^250-AUTH PLAIN LOGIN" out &&
	test "$(codes out)" = "220 250 334 501 535 334 235 503 250 250 221 "
'

test_expect_success 'an authzid (bob) other than the user: a failure of the user' '
	grep -q "auth client=127.0.0.1 user=alice mech=PLAIN result=fail" "$MNT/log" &&
	grep -q "auth client=127.0.0.1 user=alice mech=LOGIN result=ok" "$MNT/log"
'

test_expect_success 'a message without From: gets the envelope sender as its From:' '
	chat "EHLO c.test\r\nAUTH PLAIN $PLAIN_OK\r\n" \
		"MAIL FROM:<alice@example.org>\r\nRCPT TO:<nofrom@far.test>\r\n" \
		"DATA\r\nSubject: no from\r\n\r\nhi\r\n.\r\nQUIT\r\n" >out &&
	test "$(codes out)" = "220 250 235 250 250 354 250 221 " &&
	ID=$(tr -d "\r" <out | sed -n "s/^250 2.0.0 Ok: queued as //p") &&
	grep -q "^From: alice@example.org" "$MNT/queue/$ID/message" &&
	grep -q "^Subject: no from" "$MNT/queue/$ID/message"
'

test_done
