#!/bin/sh
# t2001-deliver-mx - outbound delivery driven by DNS: dnsmasq serves MX
# records, smtp-sink plays the MX hosts on 127.0.0.2 and 127.0.0.3. MX,
# implicit MX, null MX (5.1.10), NXDOMAIN (5.1.2), the second MX when the
# first is down, every host down (4.4.1), a name server down (4.4.3), and
# one message split over several domains.
. "$(dirname "$0")/test-lib.sh"

DNSPORT=$(free_port)
PORT=$(free_port)
start_dns "$DNSPORT" \
	--mx-host=a.test,mx.a.test,10 --host-record=mx.a.test,127.0.0.2 \
	--host-record=implicit.test,127.0.0.3 \
	--mx-host=null.test,.,0 \
	--mx-host=backup.test,down.backup.test,10 \
	--mx-host=backup.test,mx.a.test,20 \
	--host-record=down.backup.test,127.0.0.4 \
	--mx-host=dead.test,down.backup.test,10 \
	--mx-host=dead.test,down2.dead.test,10 \
	--host-record=down2.dead.test,127.0.0.5 \
	--mx-host=v6.test,mx.v6.test,10 --host-record=mx.v6.test,::1
start_sink 127.0.0.2:$PORT
start_sink 127.0.0.3:$PORT
start_sink "[::1]:$PORT" || say "no IPv6 loopback"

# sunk RCPT SUBJECT: smtp-sink received it
sunk() {
	grep -l "^X-Rcpt-Args: <$1>" "$T"/sink/* 2>/dev/null |
		xargs -r grep -l "^Subject: $2\$" | grep -q .
}

mailfs_start m -o "dns=127.0.0.1:$DNSPORT,smtp_port=$PORT,retry=1s,tls=none"

test_expect_success 'MX: delivered to the MX host, archived in sent/' '
	send m1 b@a.test &&
	wait_for 100 status_is sent m1 b@a.test delivered 2.0.0 &&
	sunk b@a.test m1 &&
	grep -q "delivered to=b@a.test relay=mx.a.test\[127.0.0.2\]:$PORT code=2.0.0" "$MNT/log" &&
	d=$(entry sent m1) &&
	grep -q "delivered to=b@a.test" "$d/log"
'

test_expect_success 'what the MX received is the queued message, CRLF and dot-stuffed right' '
	printf "From: a@mailfs.test\nTo: dots@a.test\nSubject: dots\n\n.leading dot\n..two\nend\n" >"$T/dots" &&
	cp "$T/dots" "$MNT/outbox/dots" &&
	wait_for 100 status_is sent dots dots@a.test delivered 2.0.0 &&
	f=$(grep -l "^X-Rcpt-Args: <dots@a.test>" "$T"/sink/*) &&
	grep -q "^\.leading dot\$" "$f" && grep -q "^\.\.two\$" "$f"
'

test_expect_success 'implicit MX: a domain with only an address record' '
	send m2 c@implicit.test &&
	wait_for 100 status_is sent m2 c@implicit.test delivered 2.0.0 &&
	grep -q "relay=implicit.test\[127.0.0.3\]:$PORT" "$MNT/log"
'

test_expect_success 'null MX: failed at once with 5.1.10' '
	send m3 d@null.test &&
	wait_for 100 status_is failed m3 d@null.test failed 5.1.10 &&
	grep -q "failed to=d@null.test.*code=5.1.10" "$MNT/log"
'

test_expect_success 'NXDOMAIN: failed with 5.1.2' '
	send m4 e@nx.test &&
	wait_for 100 status_is failed m4 e@nx.test failed 5.1.2
'

test_expect_success 'the second MX is tried when the first is down' '
	send m5 f@backup.test &&
	wait_for 100 status_is sent m5 f@backup.test delivered 2.0.0 &&
	grep -q "delivered to=f@backup.test relay=mx.a.test\[127.0.0.2\]" "$MNT/log"
'

test_expect_success 'every MX host down: deferred 4.4.1, retried' '
	send m6 g@dead.test &&
	wait_for 100 status_is queue m6 g@dead.test deferred 4.4.1 &&
	d=$(entry queue m6) &&
	grep "^g@dead.test deferred" "$d/status" >"$T/st" &&
	awk "{ exit !(\$4 ~ /^[0-9-]+T[0-9:]+Z\$/) }" "$T/st" &&
	grep -q "deferred to=g@dead.test relay=down.*code=4.4.1 text=\"connect to" "$MNT/log" &&
	wait_for 100 awk "\$1 == \"g@dead.test\" && \$3 >= 2 { ok = 1 } END { exit !ok }" "$d/status"
'

test_expect_success 'one message, several domains: each gets its outcome' '
	send m7 h@a.test i@null.test j@implicit.test &&
	wait_for 100 status_is failed m7 i@null.test failed 5.1.10 &&
	status_is failed m7 h@a.test delivered 2.0.0 &&
	status_is failed m7 j@implicit.test delivered 2.0.0 &&
	sunk h@a.test m7 && sunk j@implicit.test m7
'

test_expect_success 'IPv6: an MX host with only an AAAA record' '
	send m9 v@v6.test &&
	wait_for 100 status_is sent m9 v@v6.test delivered 2.0.0 &&
	grep -q "delivered to=v@v6.test relay=mx.v6.test\[::1\]:$PORT" "$MNT/log"
'

test_expect_success 'a large message with dots on many lines arrives whole' '
	{
		printf "From: a@mailfs.test\nTo: big@a.test\nSubject: big\n\n"
		seq -f ".line %g with a leading dot ......................." 1 100000
		echo "last line"
	} >"$T/big" &&
	cp "$T/big" "$MNT/outbox/big" &&
	wait_for 300 status_is sent big big@a.test delivered 2.0.0 &&
	f=$(grep -l "^X-Rcpt-Args: <big@a.test>" "$T"/sink/*) &&
	test "$(grep -c "^\.line [0-9]* with a leading dot" "$f")" = 100000 &&
	tail -n 2 "$f" | grep -q "^last line"
'

test_expect_success 'name server down: deferred 4.4.3' '
	mailfs_stop &&
	mailfs_start nodns -o "dns=127.0.0.1:$(free_port),smtp_port=$PORT,retry=1h,tls=none" &&
	send m8 k@a.test &&
	wait_for 200 status_is queue m8 k@a.test deferred 4.4.3
'

test_done
