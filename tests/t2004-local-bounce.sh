#!/bin/sh
# t2004-local-bounce - the server's own mail system: mail to our domains
# goes straight into inbox/ (no DNS, no SMTP), and failures come back to
# the sender as RFC 3464 reports (DSNs), themselves queued: into inbox/
# for a local sender, by MX (smtp-sink) for a remote one, never to <>.
# Also max_age expiry and delay_warning. dnsmasq serves the MX records;
# the sink on 127.0.0.2 takes everything, the one on 127.0.0.3 refuses
# every recipient with 5xx.
. "$(dirname "$0")/test-lib.sh"

DNSPORT=$(free_port)
PORT=$(free_port)
start_dns "$DNSPORT" \
	--mx-host=remote.test,mx.remote.test,10 \
	--host-record=mx.remote.test,127.0.0.2 \
	--mx-host=bad.test,mx.bad.test,10 --host-record=mx.bad.test,127.0.0.3 \
	--mx-host=dead.test,mx.dead.test,10 --host-record=mx.dead.test,127.0.0.4
start_sink 127.0.0.2:$PORT
start_sink 127.0.0.3:$PORT -f RCPT

# inbox_dir SUBJECT: the inbox/ID dir whose subject file holds SUBJECT
inbox_dir() {
	for d in "$MNT"/inbox/*/; do
		[ "$(cat "$d/subject" 2>/dev/null)" = "$1" ] &&
			{ echo "${d%/}"; return 0; }
	done
	return 1
}

# inbox_count SUBJECT: how many inbox messages have that subject
inbox_count() {
	n=0
	for d in "$MNT"/inbox/*/; do
		[ "$(cat "$d/subject" 2>/dev/null)" = "$1" ] && n=$((n + 1))
	done
	echo $n
}

# mail NAME FROM TO: a message from FROM put in outbox/
mail() {
	printf 'From: %s\nTo: %s\nSubject: %s\n\nbody of %s\n' "$2" "$3" \
		"$1" "$1" >"$T/$1"
	cp "$T/$1" "$MNT/outbox/$1"
}

# dsn_entry TO: the queue/sent/failed entry of a DSN to TO
dsn_entry() {
	for d in "$MNT"/queue/*/ "$MNT"/sent/*/ "$MNT"/failed/*/; do
		[ -e "$d/envelope" ] && grep -qx "from <>" "$d/envelope" &&
			grep -qx "to $1" "$d/envelope" &&
			{ echo "${d%/}"; return 0; }
	done
	return 1
}

mailfs_start m -o "dns=127.0.0.1:$DNSPORT,smtp_port=$PORT,retry=1s,tls=none,domains=mailfs.test"

test_expect_success 'to our domain: into inbox/, delivered 2.0.0, in sent/' '
	mail l1 a@mailfs.test u@MAILFS.test &&
	wait_for 100 status_is sent l1 u@MAILFS.test delivered 2.0.0 &&
	d=$(entry sent l1) &&
	grep -q "delivered to inbox as " "$d/status" &&
	grep -q "delivered to=u@MAILFS.test relay=local code=2.0.0" "$MNT/log" &&
	D=$(inbox_dir l1) &&
	id=$(basename "$D") &&
	grep -q "delivered to inbox as $id" "$d/status" &&
	head -n 1 "$D/raw" | grep -qx "Return-Path: <a@mailfs.test>" &&
	grep -qx "Delivered-To: u@MAILFS.test" "$D/raw" &&
	grep -q "^Received: by mailfs.test (mailfs) with local id " "$D/raw" &&
	grep -qx "body of l1" "$D/raw" &&
	! grep -q "$(printf "\r")" "$D/raw" &&
	grep -qx "from a@mailfs.test" "$D/envelope" &&
	grep -qx "client local" "$D/envelope" &&
	! grep -q "sending to=u@MAILFS.test domain=" "$MNT/log"
'

test_expect_success 'one local and one remote recipient: both delivered' '
	mail l2 a@mailfs.test "v@mailfs.test, w@remote.test" &&
	wait_for 100 status_is sent l2 v@mailfs.test delivered 2.0.0 &&
	status_is sent l2 w@remote.test delivered 2.0.0 &&
	inbox_dir l2 &&
	grep -l "^X-Rcpt-Args: <w@remote.test>" "$T"/sink/* >"$T/l2" &&
	test "$(wc -l <"$T/l2")" = 1 &&
	! grep -q "X-Rcpt-Args: <v@mailfs.test>" "$T"/sink/*
'

test_expect_success 'a 5xx recipient: the local sender gets a bounce in inbox/' '
	mail b1 a@mailfs.test x@bad.test &&
	wait_for 100 status_is failed b1 x@bad.test failed 5.* &&
	wait_for 100 inbox_dir "Undelivered Mail Returned to Sender" &&
	D=$(inbox_dir "Undelivered Mail Returned to Sender") &&
	head -n 1 "$D/raw" | grep -qx "Return-Path: <>" &&
	grep -q "^Content-Type: multipart/report;" "$D/raw" &&
	grep -q "report-type=delivery-status" "$D/raw" &&
	grep -q "MAILER-DAEMON@mailfs.test" "$D/from" &&
	test "$(cat "$D/2/type")" = "message/delivery-status" &&
	grep -qx "Final-Recipient: rfc822; x@bad.test" "$D/2/body" &&
	grep -qx "Action: failed" "$D/2/body" &&
	grep -q "^Status: 5\.[0-9]*\.[0-9]*$" "$D/2/body" &&
	grep -qx "Remote-MTA: dns; mx.bad.test" "$D/2/body" &&
	grep -q "^Diagnostic-Code: smtp; 5" "$D/2/body" &&
	test "$(cat "$D/3/type")" = "text/rfc822-headers" &&
	grep -qx "Subject: b1" "$D/3/body" &&
	grep -q "queued from=<> rcpts=a@mailfs.test" "$MNT/log" &&
	grep -q "dsn action=failed to=a@mailfs.test dsn=" "$(entry failed b1)/log"
'

test_expect_success 'a remote sender: the bounce goes by MX from <>' '
	mail b2 s@remote.test y@bad.test &&
	wait_for 100 status_is failed b2 y@bad.test failed 5.* &&
	wait_for 100 eval "grep -l \"^X-Rcpt-Args: <s@remote.test>\" \"\$T\"/sink/* >\"\$T/b2\"" &&
	f=$(cat "$T/b2") &&
	grep -q "^X-Mail-Args: <>" "$f" &&
	grep -q "^Subject: Undelivered Mail Returned to Sender" "$f" &&
	grep -q "^Final-Recipient: rfc822; y@bad.test" "$f" &&
	d=$(dsn_entry s@remote.test) &&
	wait_for 100 grep -q "^s@remote.test delivered" "$d/status"
'

test_expect_success 'a bounce that fails makes no second bounce' '
	mail b3 s@nx.test z@bad.test &&
	wait_for 100 status_is failed b3 z@bad.test failed 5.* &&
	wait_for 100 dsn_entry s@nx.test &&
	d=$(dsn_entry s@nx.test) &&
	wait_for 100 grep -q "^s@nx.test failed .* 5.1.2 " "$d/status" &&
	wait_for 100 grep -q "dsn action=failed to=<> text=\"no notification to the null sender\"" "$d/log" &&
	! dsn_entry "<>"
'

test_expect_success 'max_age: expiry bounces; delay_warning: one warning first' '
	mailfs_stop &&
	mailfs_start e -o "dns=127.0.0.1:$DNSPORT,smtp_port=$PORT,retry=1s,tls=none,max_age=4s,delay_warning=1s" &&
	mail e1 a@mailfs.test q@dead.test &&
	wait_for 100 status_is queue e1 q@dead.test deferred 4.4.1 &&
	wait_for 150 status_is failed e1 q@dead.test failed 4.4.1 &&
	wait_for 100 inbox_dir "Undelivered Mail Returned to Sender" &&
	D=$(inbox_dir "Undelivered Mail Returned to Sender") &&
	grep -qx "Status: 5.4.7" "$D/2/body" &&
	grep -q "^Diagnostic-Code: X-mailfs; expired after" "$D/2/body" &&
	W=$(inbox_dir "Delayed Mail (still being retried)") &&
	grep -qx "Action: delayed" "$W/2/body" &&
	grep -qx "Status: 4.4.1" "$W/2/body" &&
	grep -q "^Will-Retry-Until: " "$W/2/body" &&
	test "$(inbox_count "Delayed Mail (still being retried)")" = 1 &&
	grep -qx "warned 1" "$SPOOL/failed/$(basename "$(entry failed e1)")/state"
'

test_expect_success 'delay_warning is refused when not a duration' '
	"$MAILFS" -o "spool=$T/x,delay_warning=soon" "$T/x" 2>"$T/err";
	test $? = 78 && grep -q delay_warning "$T/err"
'

test_done
