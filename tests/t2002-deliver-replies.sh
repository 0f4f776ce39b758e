#!/bin/sh
# t2002-deliver-replies - what each SMTP reply does to a recipient, with
# smtp-sink told to refuse: 4xx to RCPT (deferred), 5xx to RCPT and to
# MAIL (failed), the connection dropped at the end of data (deferred
# 4.4.2), a 4xx greeting, EHLO refused (HELO instead), no PIPELINING,
# BODY=8BITMIME; then delivery through a relayhost, by address and by name.
. "$(dirname "$0")/test-lib.sh"

DNSPORT=$(free_port)
PORT=$(free_port)
start_dns "$DNSPORT" \
	--host-record=ok.test,127.0.0.2 --host-record=soft.test,127.0.0.3 \
	--host-record=hard.test,127.0.0.4 --host-record=drop.test,127.0.0.5 \
	--host-record=mailrej.test,127.0.0.6 --host-record=greet.test,127.0.0.7 \
	--host-record=helo.test,127.0.0.8 --host-record=nopipe.test,127.0.0.9 \
	--host-record=datarej.test,127.0.0.10 --host-record=relay.test,127.0.0.11
start_sink 127.0.0.2:$PORT
start_sink 127.0.0.3:$PORT -r RCPT
start_sink 127.0.0.4:$PORT -f RCPT
start_sink 127.0.0.5:$PORT -q .
start_sink 127.0.0.6:$PORT -f MAIL
start_sink 127.0.0.7:$PORT -r CONNECT
start_sink 127.0.0.8:$PORT -f EHLO
start_sink 127.0.0.9:$PORT -P
start_sink 127.0.0.10:$PORT -f DATA
start_sink 127.0.0.11:$PORT

# sunk_file RCPT: the smtp-sink dump that has this recipient
sunk_file() {
	grep -l "^X-Rcpt-Args: <$1>" "$T"/sink/* 2>/dev/null | head -n 1 | grep .
}

mailfs_start m -o "dns=127.0.0.1:$DNSPORT,smtp_port=$PORT,retry=1h,tls=none"

test_expect_success '4xx to RCPT: deferred with the server code' '
	send m1 b@soft.test &&
	wait_for 100 status_is queue m1 b@soft.test deferred "4\.[0-9.]*" &&
	grep -q "deferred to=b@soft.test relay=soft.test\[127.0.0.3\]:$PORT code=4" "$MNT/log"
'

test_expect_success '5xx to RCPT: failed' '
	send m2 b@hard.test &&
	wait_for 100 status_is failed m2 b@hard.test failed "5\.[0-9.]*"
'

test_expect_success '5xx to MAIL: every recipient failed' '
	send m3 b@mailrej.test c@mailrej.test &&
	wait_for 100 status_is failed m3 b@mailrej.test failed "5\.[0-9.]*" &&
	status_is failed m3 c@mailrej.test failed "5\.[0-9.]*"
'

test_expect_success 'connection dropped after the data: deferred 4.4.2' '
	send m4 b@drop.test &&
	wait_for 100 status_is queue m4 b@drop.test deferred 4.4.2 &&
	grep -q "deferred to=b@drop.test.*code=4.4.2.*lost connection" "$MNT/log"
'

test_expect_success '5xx to DATA: failed' '
	send m5 b@datarej.test &&
	wait_for 100 status_is failed m5 b@datarej.test failed "5\.[0-9.]*"
'

test_expect_success '4xx greeting: deferred' '
	send m6 b@greet.test &&
	wait_for 100 status_is queue m6 b@greet.test deferred "4\.[0-9.]*"
'

test_expect_success 'EHLO refused: HELO, delivered' '
	send m7 b@helo.test &&
	wait_for 100 status_is sent m7 b@helo.test delivered 2.0.0 &&
	f=$(sunk_file b@helo.test) && grep -q "^X-Client-Proto: SMTP" "$f"
'

test_expect_success 'no PIPELINING: one command at a time, several recipients' '
	send m8 b@nopipe.test c@nopipe.test &&
	wait_for 100 status_is sent m8 b@nopipe.test delivered 2.0.0 &&
	status_is sent m8 c@nopipe.test delivered 2.0.0 &&
	f=$(sunk_file b@nopipe.test) && grep -q "^X-Rcpt-Args: <c@nopipe.test>" "$f"
'

test_expect_success 'pipelined, a message to two domains: one refuses, one takes both its recipients' '
	send m9 b@ok.test c@ok.test d@hard.test &&
	wait_for 100 status_is failed m9 d@hard.test failed "5\.[0-9.]*" &&
	status_is failed m9 b@ok.test delivered 2.0.0 &&
	status_is failed m9 c@ok.test delivered 2.0.0
'

test_expect_success '8-bit body: BODY=8BITMIME when offered' '
	printf "From: a@mailfs.test\nTo: eight@ok.test\nSubject: 8bit\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nh\303\251llo\n" >"$T/eight" &&
	cp "$T/eight" "$MNT/outbox/eight" &&
	wait_for 100 status_is sent eight eight@ok.test delivered 2.0.0 &&
	f=$(sunk_file eight@ok.test) && grep -q "^X-Mail-Args: <a@mailfs.test>.*BODY=8BITMIME" "$f"
'

test_expect_success 'relayhost by address: everything goes there, no MX' '
	mailfs_stop &&
	mailfs_start relay -o "relayhost=127.0.0.11:$PORT,dns=127.0.0.1:$(free_port),retry=1h,tls=none" &&
	send r1 x@nowhere.example y@elsewhere.example &&
	wait_for 100 status_is sent r1 x@nowhere.example delivered 2.0.0 &&
	status_is sent r1 y@elsewhere.example delivered 2.0.0 &&
	grep -q "delivered to=x@nowhere.example relay=127.0.0.11\[127.0.0.11\]:$PORT" "$MNT/log" &&
	f=$(sunk_file x@nowhere.example) && grep -q "^X-Rcpt-Args: <y@elsewhere.example>" "$f"
'

test_expect_success 'relayhost by name' '
	mailfs_stop &&
	mailfs_start relayname -o "relayhost=relay.test:$PORT,dns=127.0.0.1:$DNSPORT,retry=1h,tls=none" &&
	send r2 z@nowhere.example &&
	wait_for 100 status_is sent r2 z@nowhere.example delivered 2.0.0 &&
	grep -q "delivered to=z@nowhere.example relay=relay.test\[127.0.0.11\]:$PORT" "$MNT/log"
'

test_done
