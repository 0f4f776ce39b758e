#!/bin/sh
# t2701-queue-due - the queue's due order through the daemon: with the
# relayhost refusing, 60 messages wait deferred (retry=1d); a restart
# keeps every status line; ctl retry of one sends it alone once the
# relayhost answers; flush then sends all the rest, none twice. Then,
# with retry=3s and the relayhost refusing, a SIGHUP that makes l.test
# one of our domains turns a waiting l.test recipient into a local
# delivery (into inbox/) when it falls due, with no retry asked.
. "$(dirname "$0")/test-lib.sh"

N=60
RELAY=127.0.0.1:$(free_port)
CONF=$T/mailfs.conf

settings() {
	printf '%s\n' "relayhost = $RELAY" "retry = 1d" "$@" >"$CONF"
}

# deferred_count: how many status lines say deferred
deferred_count() {
	cat "$MNT"/queue/*/status 2>/dev/null | grep -c " deferred "
}

# sink_count: messages the sink has taken
sink_count() {
	ls "$T/sink" 2>/dev/null | wc -l
}

test_expect_success "$N messages wait deferred while the relayhost refuses" '
	settings "domains = example.test" &&
	mailfs_start q -c "$CONF" &&
	i=1 &&
	while [ $i -le $N ]; do
		printf "From: a@mailfs.test\nTo: u$i@remote.test\nSubject: m$i\n\nbody $i\n" \
			>"$MNT/outbox/m$i" || return 1
		i=$((i + 1))
	done &&
	wait_for 300 eval "[ \$(deferred_count) -eq $N ]" &&
	test "$(ls "$MNT/queue" | wc -l)" -eq $N
'

test_expect_success 'a restart keeps every status line' '
	cat "$MNT"/queue/*/status >before &&
	mailfs_stop &&
	mailfs_start q -c "$CONF" &&
	cat "$MNT"/queue/*/status >after &&
	test_cmp before after
'

test_expect_success 'ctl retry of one: it alone goes once the relayhost answers' '
	start_sink "$RELAY" &&
	d=$(entry queue m7) &&
	echo retry >"$d/ctl" &&
	wait_for 100 status_is sent m7 u7@remote.test delivered 2.0.0 &&
	sleep 1 &&
	test "$(sink_count)" -eq 1 &&
	test "$(deferred_count)" -eq $((N - 1))
'

test_expect_success 'flush sends every other one, none twice' '
	echo flush >"$MNT/ctl" &&
	wait_for 300 eval "[ \$(ls \"\$MNT/sent\" | wc -l) -eq $N ]" &&
	test "$(ls "$MNT/queue" | wc -l)" -eq 0 &&
	sleep 1 &&
	test "$(sink_count)" -eq "$N" &&
	mailfs_stop
'

test_expect_success 'SIGHUP making l.test ours: its waiting recipient goes local when due' '
	printf "%s\n" "relayhost = 127.0.0.1:$(free_port)" "retry = 3s" \
		"domains = example.test" >"$CONF" &&
	mailfs_start h -c "$CONF" &&
	send hmsg u@l.test &&
	wait_for 100 status_is queue hmsg u@l.test deferred 4.4.1 &&
	printf "%s\n" "relayhost = 127.0.0.1:$(free_port)" "retry = 1d" \
		"domains = example.test, l.test" >"$CONF" &&
	kill -HUP "$MAILFS_PID" &&
	wait_for 100 grep -q " reloaded " "$MNT/log" &&
	wait_for 150 status_is sent hmsg u@l.test delivered 2.0.0 &&
	grep -q "relay=local" "$(entry sent hmsg)/log" &&
	test "$(ls "$MNT/inbox" | wc -l)" -eq 1
'

test_done
