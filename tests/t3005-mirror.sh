#!/bin/sh
# t3005-mirror: the client and the listener face each other. One mailfs
# (sender) delivers from its outbox over verified STARTTLS to another
# mailfs (receiver) found through an MX record served by dnsmasq; the
# message lands in the receiver's inbox/ whole, marked as received
# over TLS, and the sender files it under sent/.
. "$(dirname "$0")/test-lib.sh"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=mx.b.test \
	-addext subjectAltName=DNS:mx.b.test >/dev/null 2>&1 ||
	test_fail_all "openssl cannot make a certificate"
DNSPORT=$(free_port)
SMTPPORT=$(free_port)
start_dns "$DNSPORT" --mx-host=b.test,mx.b.test,10 \
	--host-record=mx.b.test,127.0.0.5 \
	--mx-host=wrong.test,wrongname.b.test,10 \
	--host-record=wrongname.b.test,127.0.0.5

mailfs_start receiver -o "listen=127.0.0.5:$SMTPPORT,domains=b.test,wrong.test,hostname=mx.b.test,tls_cert=$T/cert.pem,tls_key=$T/key.pem"
RMNT=$MNT
RSPOOL=$SPOOL
mailfs_start sender -o "dns=127.0.0.1:$DNSPORT,smtp_port=$SMTPPORT,tls=verify,tls_ca=$T/cert.pem,retry=1h"
SMNT=$MNT

cat >msg <<-\EOF
From: Alice <alice@a.test>
To: Bob <bob@b.test>
Subject: =?UTF-8?Q?caf=C3=A9?= across the mirror

Hello Bob,
.a line starting with a dot
.
the end
EOF

test_expect_success 'cp into the sender outbox is accepted' '
	cp msg "$SMNT/outbox/hello" &&
	test "$(ls "$SMNT/queue" "$SMNT/sent" | grep -c "^[0-9]")" = 1
'

test_expect_success 'the sender delivers over verified STARTTLS and files it in sent/' '
	wait_for 150 sh -c "ls \"$SMNT/sent\" | grep -q ." &&
	ID=$(ls "$SMNT/sent") &&
	grep "^bob@b.test delivered 1 - 2\.[0-9.]* " "$SMNT/sent/$ID/status" &&
	grep " delivered to=bob@b.test relay=mx.b.test" "$SMNT/log"
'

test_expect_success 'the receiver has it in inbox/, whole and decoded' '
	wait_for 50 sh -c "ls \"$RMNT/inbox\" | grep -q ." &&
	RID=$(ls "$RMNT/inbox") &&
	echo "café across the mirror" >expect &&
	test_cmp expect "$RMNT/inbox/$RID/subject" &&
	printf "Hello Bob,\n.a line starting with a dot\n.\nthe end\n" >expect &&
	test_cmp expect "$RMNT/inbox/$RID/body"
'

test_expect_success 'the receiver saw the envelope and TLS' '
	RID=$(ls "$RMNT/inbox") &&
	grep "^from alice@a.test$" "$RMNT/inbox/$RID/envelope" &&
	grep "^to bob@b.test$" "$RMNT/inbox/$RID/envelope" &&
	grep "^tls yes$" "$RMNT/inbox/$RID/envelope" &&
	grep "with ESMTPS" "$RMNT/inbox/$RID/raw" &&
	grep "^Return-Path: <alice@a.test>" "$RMNT/inbox/$RID/raw"
'

test_expect_success 'the receiver logged and counted it' '
	grep " received from=alice@a.test to=bob@b.test client=127.0.0.1" "$RMNT/log" &&
	grep "^received 1$" "$RMNT/stats" &&
	grep "^delivered 1$" "$SMNT/stats"
'

test_expect_success 'a certificate for another name is refused under tls=verify' '
	printf "From: alice@a.test\nTo: carol@wrong.test\nSubject: x\n\nx\n" >msg2 &&
	cp msg2 "$SMNT/outbox/wrong" &&
	wait_for 150 sh -c "grep -q \"carol@wrong.test deferred\" \"$SMNT\"/queue/*/status" &&
	grep "carol@wrong.test deferred 1 .* 4\.7\." "$SMNT"/queue/*/status &&
	test "$(ls "$RMNT/inbox" | wc -l)" = 1
'

test_done
