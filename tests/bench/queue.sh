# queue.sh - line 6 of issue 9: queue/ with N_QUEUE deferred entries
# (gen-queue.py, written into the spool while no daemon runs, kept for
# every run). Per run: start-up (from exec until ctl appears, page cache
# warm), `ls queue`, `cat` of the status files of the first twentieth of
# the names `ls queue` gave (5,000 of 100,000), and the daemon's peak RSS
# after that. Nothing is due during the run (the generator makes every
# entry due in a day). Records qstart, qls, qstatus (s) and qrss (MiB).

# queue_run RUN: one start over the queue and the figures after it; a
# start-up that timed out once is not tried again
queue_run() {
	gave_up qstart && return
	mailfs_up queue "relayhost=127.0.0.1:$DEAD_PORT,retry=1h"
	record qstart "$STARTUP"
	if [ "$STARTUP" = timeout ]; then
		record qls timeout
		record qstatus timeout
		record qrss timeout
		return
	fi
	wait_stat queue "$N_QUEUE" ||
		note "queue: $(stat_of queue) of $N_QUEUE loaded ${LIMIT}s after ctl appeared"
	# the names of the first run that listed them in time
	if ! gave_up qls; then
		v=$(timed ls "$MNT/queue")
		record qls "$v"
		[ "$v" = timeout ] || [ -s "$T/queue.ls" ] || cp "$T/out" "$T/queue.ls"
	fi
	n=$(cat "$T/queue.ls" 2>/dev/null | wc -l)
	[ "$n" -eq "$N_QUEUE" ] || note "queue: ls queue listed $n of $N_QUEUE"
	head -n $((N_QUEUE / 20)) "$T/queue.ls" 2>/dev/null | sed 's|$|/status|' >"$T/queue.cat"
	if [ ! -s "$T/queue.cat" ]; then
		gave_up qstatus || record qstatus timeout	# no names: ls timed out
	elif ! gave_up qstatus; then
		v=$(timed sh -c 'cd "$1" && xargs cat <"$2"' sh "$MNT/queue" "$T/queue.cat")
		record qstatus "$v"
		[ "$v" = timeout ] || lines_are $((N_QUEUE / 20)) qstatus
	fi
	record qrss "$(hwm "$MAILFS_PID")"
	mailfs_down
}

bench_queue() {
	note "queue: $N_QUEUE deferred; start-up, ls queue, cat of $((N_QUEUE / 20)) status files, peak RSS"
	mkdir -p "$T/queue/spool"
	$PY "$BENCH_DIR/gen-queue.py" "$T/queue/spool" "$N_QUEUE"
	DEAD_PORT=$(free_port)	# nothing listens there
	each_run queue_run
	rm -rf "$T/queue"
}
