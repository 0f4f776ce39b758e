#!/bin/sh
# stress.sh - `make stress` (not part of make check: minutes). Long runs of
# what t5004 and t5001 check in short, each printing its figures as
# "# figure: ..." lines beside the TAP:
#
#   full disk   STRESS_N (300) messages deferred, the spool's tmpfs filled,
#               delivered while no state can be written, space freed:
#               state_write_errors, seconds until all are in sent/, and
#               deliveries after a restart (must be 0)
#   crash loop  STRESS_KILLS (50) kill -9 of the daemon under inbound
#               (SMTP) and outbox load, restarted each time; then every
#               acknowledged message is found: an inbound one exactly
#               once in the inbox, an outbound one at least once at the
#               sink (a kill between the sink's 250 and the saved result
#               sends it again: SMTP's duplicate window), duplicates
#               counted
#
# `make stress` then runs, with their figures: t7001 with LORIS=1000
# slowloris sockets against one honest client, t7002 (tarpitting MXes
# beside a healthy domain) and t7003 (a truncated DNS answer beside
# healthy lookups).
. "$(dirname "$0")/test-lib.sh"

STRESS_N=${STRESS_N:-300}
STRESS_KILLS=${STRESS_KILLS:-50}

figure() { printf '# figure: %s\n' "$*" >&3; }
stat_of() { sed -n "s/^$1 //p" "$MNT/stats"; }
nsunk() { ls "$T/sink" 2>/dev/null | wc -l; }
nsunk_is() { test "$(nsunk)" = "$1"; }
nin() { ls "$SPOOL/$1" | wc -l; }
nin_is() { test "$(nin "$1")" = "$2"; }
# fill DIR: take every free block of DIR's file system
fill() {
	dd if=/dev/zero of="$1/filler" bs=64k 2>/dev/null
	dd if=/dev/zero of="$1/filler2" bs=1k 2>/dev/null
	sync
	return 0
}

# ---- the full-disk cycle ----

FD=$T/fd/spool
mkdir -p "$FD"
if mount -t tmpfs -o size=20m tmpfs "$FD" 2>/dev/null; then
	test_mounts="$test_mounts $FD"
	SINKPORT=$(free_port)
	RELAY=127.0.0.9:$SINKPORT
	FDOPTS="relayhost=$RELAY,retry=1h,tls=none,listen=none,min_free=0"
	mailfs_start fd -o "$FDOPTS"

	test_expect_success "full disk: $STRESS_N messages deferred" '
		i=0 &&
		while [ $i -lt $STRESS_N ]; do
			printf "From: a@mailfs.test\nTo: r$i@remote.test\nSubject: fd$i\n\nx\n" \
				>"$MNT/outbox/fd$i" || return 1
			i=$((i + 1))
		done &&
		wait_for 600 sh -c "test \$(grep -l \" deferred \" \"$MNT\"/queue/*/status | wc -l) = $STRESS_N"
	'

	test_expect_success 'full disk: delivered while no state can be written' '
		fill "$FD" &&
		start_sink $RELAY &&
		echo flush >"$MNT/ctl" &&
		wait_for 1200 nsunk_is $STRESS_N &&
		wait_for 100 grep -q "cannot write its state: No space left" "$T/fd/stderr" &&
		figure "full disk: state_write_errors $(stat_of state_write_errors)" &&
		test "$(nin queue)" = $STRESS_N
	'

	test_expect_success 'full disk: space freed, every entry reaches sent/' '
		t0=$(date +%s) &&
		rm -f "$FD/filler" "$FD/filler2" &&
		wait_for 1200 nin_is sent $STRESS_N &&
		figure "full disk: all $STRESS_N in sent/ $(($(date +%s) - t0)) s after space returned" &&
		test "$(nin queue)" = 0
	'

	test_expect_success 'full disk: a restart sends nothing again' '
		mailfs_stop &&
		mailfs_start fd -o "$FDOPTS" &&
		echo flush >"$MNT/ctl" &&
		sleep 3 &&
		figure "full disk: sent again after the restart $(($(nsunk) - STRESS_N))" &&
		test "$(nsunk)" = $STRESS_N
	'
	mailfs_stop
	kill_pid $SINK_PID
else
	say "full disk: cannot mount a tmpfs (not root?): skipped"
fi

# ---- the crash loop ----

PORT=$(free_port)
CSINK=$(free_port)
rm -rf "$T/sink"
start_sink 127.0.0.10:$CSINK
CLOPTS="relayhost=127.0.0.10:$CSINK,retry=1s,tls=none,listen=127.0.0.1:$PORT,domains=mailfs.test"

# in_load FILE: SMTP messages into the listener, one a connection, until
# $T/stop exists; the number of each one acknowledged (250) into FILE
in_load() {
	$PY - "$PORT" "$1" "$T/stop" <<-'EOF'
	import os, smtplib, sys, time
	port, acked, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3]
	k = 0
	with open(acked, "a") as out:
	    while not os.path.exists(stop):
	        k += 1
	        msg = "From: a@x.test\r\nTo: me@mailfs.test\r\nSubject: in%d\r\n\r\nx\r\n" % k
	        try:
	            s = smtplib.SMTP("127.0.0.1", port, timeout=10)
	            s.sendmail("a@x.test", ["me@mailfs.test"], msg)
	            out.write("in%d\n" % k); out.flush()
	            s.quit()
	        except Exception:
	            time.sleep(0.05)
	EOF
}

# out_load MNT FILE: messages copied into the outbox until $T/stop
# exists; the number of each one whose close() succeeded (cp checks it)
# into FILE
out_load() {
	k=0
	mkdir -p "$T/o"
	while [ ! -e "$T/stop" ]; do
		k=$((k + 1))
		printf "From: a@mailfs.test\nTo: b@remote.test\nSubject: out$k\n\nx\n" \
			>"$T/o/out$k"
		if cp "$T/o/out$k" "$1/outbox/out$k" 2>/dev/null; then
			echo "out$k" >>"$2"
		else
			sleep 0.05
		fi
	done
}

test_expect_success "crash loop: $STRESS_KILLS kill -9 under inbound and outbox load" '
	rm -f "$T/stop" && : >"$T/in.acked" && : >"$T/out.acked" &&
	mailfs_start cl -o "$CLOPTS" || return 1
	in_load "$T/in.acked" >/dev/null 2>&1 &
	INL=$!
	track_pid $INL
	out_load "$MNT" "$T/out.acked" &
	OUTL=$!
	track_pid $OUTL
	kills=0
	while [ $kills -lt $STRESS_KILLS ]; do
		sleep 0.$(( (kills % 7) + 3 ))
		kill -9 $MAILFS_PID
		wait $MAILFS_PID 2>/dev/null
		unmount "$MNT"
		kills=$((kills + 1))
		mailfs_start cl -o "$CLOPTS" || return 1
	done
	touch "$T/stop"
	wait $INL
	wait $OUTL
	figure "crash loop: $kills kills, $(wc -l <"$T/in.acked") inbound and $(wc -l <"$T/out.acked") outbound messages acknowledged"
'

test_expect_success 'crash loop: every acknowledged inbound message is in the inbox once' '
	grep -h "^Subject: in[0-9]*\$" -r "$SPOOL/inbox/new" "$SPOOL/inbox/cur" | sed "s/^Subject: //" |
		sort >in.got &&
	sort "$T/in.acked" >in.want &&
	figure "crash loop: inbound stored $(sort -u in.got | wc -l) (acknowledged $(wc -l <in.want); the rest killed before the reply), stored twice $(uniq -d in.got | wc -l)" &&
	test -z "$(uniq -d in.got)" &&
	test -z "$(sort -u in.got | comm -13 - in.want)"
'

test_expect_success 'crash loop: every acknowledged outbound message reaches the sink' '
	wait_for 1200 sh -c "test \$(ls \"$SPOOL/queue\" | wc -l) = 0" &&
	grep -h "^Subject: out[0-9]*\$" "$T"/sink/* | sed "s/^Subject: //" |
		sort >out.got &&
	sort "$T/out.acked" >out.want &&
	figure "crash loop: outbound delivered $(sort -u out.got | wc -l) (acknowledged $(wc -l <out.want)), sent twice $(uniq -d out.got | wc -l) (killed between the sink'"'"'s 250 and the saved result)" &&
	test -z "$(sort -u out.got | comm -13 - out.want)"
'

test_done
