# enqueue.sh - lines 1 and 2 of issue 9: N_ENQ messages of ~4 KiB copied
# into outbox/ by `cp`, one after another and by 8 writers at once, against
# `dd conv=fsync` of the same files into a plain directory on the same disk
# by as many processes (a durable create with the same fork/exec per
# file). Deliveries go to a tarpit that never answers, so that only the
# enqueue is measured. Syncs per message: a run of N_SYNCS messages under
# strace. Records enq1, enq1.dd, enq8, enq8.dd (msg/s), enq1.syncs,
# enq8.syncs and rss.enq (the daemon's peak RSS over both); and, noted
# without a goal, enq1.cp and enq8.cp: cp into a plain directory with no
# sync at all. On this kind of machine that runs no faster than dd with
# its fsync (cp is the heavier program to start): the goals ask of a
# durable cp into mailfs about what cp does with no durability at all.

# enq_mailfs RUN K: one mailfs, N_ENQ messages by K writers; records the
# rate
enq_mailfs() {
	gave_up "enq$2" && return
	mailfs_up "enq$1.$2" "relayhost=127.0.0.1:$TARPIT_PORT,retry=1h" ||
		{ record "enq$2" error; return; }
	s=$(timed sh "$BENCH_DIR/writers.sh" "$2" "$ALLFILES" cp "$MNT/outbox")
	q=$(stat_of queued)
	[ "$q" = "$N_ENQ" ] || { note "enqueue x$2: $q of $N_ENQ queued"; s=error; }
	record "enq$2" "$(rate "$N_ENQ" "$s")"
	mailfs_down
	RSS_ENQ=$(max "$RSS_ENQ" "$HWM")
}

# enq_plain RUN K HOW: the same files by K writers into a plain directory,
# HOW as writers.sh takes it: dd (dd conv=fsync, the reference), or cp
# (no sync at all: what cp itself costs here, so the most an enqueue by
# cp could reach; noted, no goal: dd is a lighter process). Records
# enqK.HOW.
enq_plain() {
	gave_up "enq$2.$3" && return
	d=$T/enq$1.$2.$3
	mkdir -p "$d"
	s=$(timed sh "$BENCH_DIR/writers.sh" "$2" "$ALLFILES" "$3" "$d")
	[ "$(count "$d")" = "$N_ENQ" ] || s=error
	record "enq$2.$3" "$(rate "$N_ENQ" "$s")"
	rm -rf "$d"
}

# enq_syncs K: syncs per message with K writers, N_SYNCS messages
enq_syncs() {
	mailfs_up "enqsync.$1" "relayhost=127.0.0.1:$TARPIT_PORT,retry=1h" ||
		{ record "enq$1.syncs" error; return; }
	head -n "$N_SYNCS" "$ALLFILES" >"$T/syncfiles"
	strace_up "$MAILFS_PID" "$T/strace.enq$1"
	timeout -k 5 "$LIMIT" sh "$BENCH_DIR/writers.sh" "$1" "$T/syncfiles" cp "$MNT/outbox"
	strace_down
	record "enq$1.syncs" "$(per "$N_SYNCS" "$SYNCS")"
	mailfs_down
}

# enq_run RUN: 1 writer, then 8, each mailfs then dd; the run's peak RSS
# is the larger of its two daemons'
enq_run() {
	RSS_ENQ=""
	for k in 1 8; do
		enq_mailfs "$1" $k
		enq_plain "$1" $k dd
		enq_plain "$1" $k cp
	done
	[ -z "$RSS_ENQ" ] || record rss.enq "$RSS_ENQ"
}

bench_enqueue() {
	note "enqueue: $N_ENQ messages of ~4 KiB by cp into outbox/, 1 and 8 writers, vs dd conv=fsync"
	messages "$T/msgs" "$N_ENQ"
	ALLFILES=$T/msgs.list
	ls "$T"/msgs/* >"$ALLFILES"
	TARPIT_PORT=$(free_port)
	tarpit_up "$TARPIT_PORT" || { note "enqueue: no tarpit"; return; }
	each_run enq_run
	note "enqueue: cp into a plain directory, no sync (no goal; cp alone): $(median enq1.cp)/s with 1 writer, $(median enq8.cp)/s with 8"
	if command -v strace >/dev/null; then
		enq_syncs 1
		enq_syncs 8
	else
		note "enqueue: no strace, syncs not counted"
	fi
	stop "$TARPIT_PID"
}
