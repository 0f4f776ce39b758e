# drain.sh - line 3 of issue 9: N_DRAIN deferred messages of ~4 KiB
# drained to smtp-sink after a flush. Both queues are filled the same way
# a real outage does it: the relay's port has nothing listening, so every
# message is tried once and deferred (mailfs with retry=1h, Postfix with
# its 5-minute back-off: neither retries by itself during the run); then
# smtp-sink starts on that port and the clock runs from the flush (mailfs:
# `echo flush > ctl`; Postfix: `postqueue -f`) until the sink holds every
# message and the queue is empty (the delivery recorded). Both at a
# concurrency of 20. Records drain, drain.postfix (msg/s) and rss.drain.

# drained SINK EMPTY...: seconds from T0 until SINK holds every message
# and the command EMPTY... says the queue is empty, or "timeout"
drained() {
	sink=$1; shift
	if wait_count "$sink" "$N_DRAIN" && wait_until "$@"; then
		elapsed "$T0" "$(now)"
	else
		echo timeout
	fi
}

drain_mailfs() {
	port=$(free_port)
	mailfs_up "drain$1" "relayhost=127.0.0.1:$port,retry=1h,concurrency=20" ||
		{ record drain error; return; }
	timeout -k 5 "$LIMIT" sh "$BENCH_DIR/writers.sh" 8 "$T/drain.list" cp "$MNT/outbox"
	if ! wait_stat deferred "$N_DRAIN"; then
		note "drain: $(stat_of deferred) of $N_DRAIN deferred in time"
		record drain error
	elif sink_up "$T/drain$1/sink" "$port"; then
		T0=$(now)
		echo flush >"$MNT/ctl"
		record drain "$(rate "$N_DRAIN" "$(drained "$T/drain$1/sink" stat_is queue 0)")"
		stop "$SINK_PID"
	else
		record drain error
	fi
	mailfs_down
	record rss.drain "$HWM"
}

drain_postfix() {
	[ $POSTFIX -eq 1 ] || return 0
	port=$(free_port) sport=$(free_port)
	pf_up "pfdrain$1" "relayhost = [127.0.0.1]:$port
default_destination_concurrency_limit = 20" \
		"127.0.0.1:$sport inet n - n - - smtpd" || { record drain.postfix error; return; }
	timeout -k 5 "$LIMIT" smtp-source -s 20 -m "$N_DRAIN" -l "$SIZE" \
		-f bench@bench.test -t rcpt@example.test "127.0.0.1:$sport" >/dev/null 2>&1
	# every message tried once: all of them in deferred/, none elsewhere
	if ! wait_until pf_all_deferred; then
		note "drain: Postfix deferred $(find "$PFX/queue/deferred" -type f | wc -l) of $N_DRAIN in time"
		record drain.postfix error
	elif sink_up "$PFX/sink" "$port"; then
		T0=$(now)
		postqueue -c "$PFX/conf" -f
		record drain.postfix "$(rate "$N_DRAIN" "$(drained "$PFX/sink" pf_empty)")"
		stop "$SINK_PID"
	else
		record drain.postfix error
	fi
	pf_down
}

pf_all_deferred() {
	[ "$(find "$PFX/queue/deferred" -type f | wc -l)" -eq "$N_DRAIN" ] &&
	[ -z "$(find "$PFX/queue/incoming" "$PFX/queue/active" -type f)" ]
}

pf_empty() {
	[ -z "$(find "$PFX/queue/deferred" "$PFX/queue/active" -type f)" ]
}

bench_drain() {
	note "drain: $N_DRAIN deferred messages to smtp-sink after a flush, vs Postfix postqueue -f"
	messages "$T/drain.msgs" "$N_DRAIN"
	ls "$T"/drain.msgs/* >"$T/drain.list"
	each_run drain_mailfs drain_postfix
}
