#!/bin/sh
# bench.sh - `make bench`: mailfs side by side with a throwaway Postfix
# instance on the same machine and disk, both relaying to one smtp-sink on
# loopback. For each of BENCH_RUNS runs of BENCH_N messages of about
# BENCH_SIZE bytes it measures:
#   accept     time to hand over N messages one after another
#              (mailfs: cp into outbox/; Postfix: sendmail -t, i.e. postdrop)
#   accept x8  the same with 8 parallel writers
#   delivered  time from the first hand-over until the sink has all N
#   smtp in    smtp-source, 8 sessions, into the listener (mailfs: into the
#              inbox; Postfix: smtpd into its queue, then relayed on)
#   peak RSS   mailfs: VmHWM of the daemon; Postfix: sum of VmHWM of the
#              instance's processes alive at the end of the run
#   PSS        the same processes' proportional set size at the end
# and prints medians and mailfs/Postfix ratios. No thresholds: it passes
# or fails nothing. Every wait is bounded; only 127.0.0.1 is used; every
# process started is ended by PID. Needs root for the Postfix instance
# (without it, or without postfix, mailfs is measured alone).
set -u

# SUBMIT PREFIX FILE...: mailfs copies into the outbox (close() returns
# once the message is fsync'd); Postfix's sendmail hands it to postdrop.
mailfs_submit() {
	p=$1; shift
	for f in "$@"; do cp "$f" "$MNT/outbox/$p${f##*/}" || return 1; done
}
postfix_submit() {
	shift
	for f in "$@"; do sendmail -C "$PFX/conf" -t <"$f" || return 1; done
}

# bench.sh --submit KIND PREFIX FILE...: one of the parallel writers
if [ "${1:-}" = --submit ]; then
	kind=$2; shift 2
	"${kind}_submit" "$@"
	exit
fi

SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
# test-lib.sh for postfix_start (and wait_for, which it uses); it also
# makes T, the scratch directory used here, changes into it (undone: "$0"
# may be relative) and sets an EXIT trap (replaced below). The functions
# defined below replace its free_port and start_sink.
bench_cwd=$(pwd)
. "$SRCDIR/tests/test-lib.sh"
cd "$bench_cwd" || exit 1
MAILFS=${MAILFS:-$SRCDIR/mailfs}
N=${BENCH_N:-200}
RUNS=${BENCH_RUNS:-3}
SIZE=${BENCH_SIZE:-4096}
LIMIT=${BENCH_LIMIT:-120}	# seconds any one phase may take
PY=/usr/bin/python3
chmod 755 "$T"	# Postfix's unprivileged daemons must reach their dirs
pids=""
mounts=""
postfix_dirs=""

cleanup() {
	for m in $mounts; do
		mountpoint -q "$m" && fusermount3 -u "$m" 2>/dev/null
	done
	for d in $postfix_dirs; do
		postfix -c "$d/conf" stop >/dev/null 2>&1
	done
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	sleep 0.5
	for p in $pids; do
		kill -9 "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_count DIR N: until DIR holds N files; false after LIMIT seconds
wait_count() {
	end=$(( $(date +%s) + LIMIT ))
	while [ "$(ls "$1" | wc -l)" -lt "$2" ]; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.05
	done
}

# record KIND METRIC VALUE
record() { echo "$3" >>"$T/res.$1.$2"; }

median() {
	[ -s "$1" ] || { echo "-"; return; }
	sort -g "$1" | awk '{ v[NR] = $1 } END {
		if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR/2] + v[NR/2 + 1]) / 2 }'
}

# the messages, made once
mkdir -p "$T/msgs"
i=1
while [ "$i" -le "$N" ]; do
	{
		printf 'From: bench@bench.test\nTo: rcpt%d@example.test\nSubject: bench %d\n\n' "$i" "$i"
		head -c "$SIZE" /dev/zero | tr '\0' x | fold -w 72
		echo
	} >"$T/msgs/$i"
	i=$((i + 1))
done

# start_sink DIR: a smtp-sink dumping into DIR; sets SINK, SINK_PID
start_sink() {
	mkdir -p "$1"
	SINK=127.0.0.1:$(free_port)
	smtp-sink -u root -d "$1/%H%M%S." "$SINK" 1024 >/dev/null 2>&1 &
	SINK_PID=$!
	pids="$pids $SINK_PID"
	n=50
	until $PY -c "import socket; socket.create_connection(('127.0.0.1', ${SINK#*:}), 1)" 2>/dev/null; do
		n=$((n - 1)); [ $n -gt 0 ] || return 1; sleep 0.1
	done
}

stop_pid() {
	kill "$1" 2>/dev/null
	n=50
	while kill -0 "$1" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# measure KIND SINKDIR SUBMIT: accept (sequential), then delivered; then the
# parallel accept of a second batch and its delivery. SUBMIT PREFIX FILE...
# hands messages over one after another.
measure() {
	kind=$1 sinkdir=$2 submit=$3
	t0=$(now)
	$submit s "$T"/msgs/* || { echo "$kind: submission failed" >&2; return 1; }
	t1=$(now)
	wait_count "$sinkdir" "$N" || { echo "$kind: delivery timed out" >&2; return 1; }
	t2=$(now)
	record "$kind" accept "$(elapsed "$t0" "$t1")"
	record "$kind" delivered "$(elapsed "$t0" "$t2")"
	t0=$(now)
	ls "$T"/msgs/* | xargs -P 8 -n 8 "$0" --submit "$kind" p ||
		{ echo "$kind: parallel submission failed" >&2; return 1; }
	t1=$(now)
	wait_count "$sinkdir" $((2 * N)) || { echo "$kind: delivery timed out" >&2; return 1; }
	t2=$(now)
	record "$kind" accept8 "$(elapsed "$t0" "$t1")"
	record "$kind" delivered8 "$(elapsed "$t0" "$t2")"
}

# smtp_in KIND PORT RCPT: smtp-source, 8 sessions, N messages
smtp_in() {
	t0=$(now)
	timeout "$LIMIT" smtp-source -s 8 -m "$N" -l "$SIZE" -f bench@bench.test \
		-t "$3" "127.0.0.1:$2" >/dev/null 2>&1 ||
		{ echo "$1: smtp-source failed" >&2; return 1; }
	record "$1" smtpin "$(elapsed "$t0" "$(now)")"
}

# children PID: from /proc/*/status, which (unlike pgrep's stat) never
# blocks on a process stuck in a FUSE call
children() {
	grep -l "^PPid:[[:space:]]*$1\$" /proc/[0-9]*/status 2>/dev/null |
		sed 's|/proc/\([0-9]*\)/status|\1|'
}
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
pss() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null; }

run_mailfs() {
	r=$1
	MNT=$T/mailfs$r/mnt SPOOL=$T/mailfs$r/spool
	export MNT
	mkdir -p "$MNT" "$SPOOL"
	start_sink "$T/mailfs$r/sink" || return 1
	lport=$(free_port)
	"$MAILFS" -f -o "spool=$SPOOL,hostname=bench.test,domains=bench.test,listen=127.0.0.1:$lport,relayhost=$SINK,tls=none,concurrency=20" \
		"$MNT" 2>"$T/mailfs$r/stderr" &
	mpid=$!
	pids="$pids $mpid"
	mounts="$mounts $MNT"
	n=100
	until [ -e "$MNT/ctl" ]; do
		n=$((n - 1)); [ $n -gt 0 ] || { cat "$T/mailfs$r/stderr" >&2; return 1; }
		sleep 0.1
	done
	measure mailfs "$T/mailfs$r/sink" mailfs_submit &&
	smtp_in mailfs "$lport" "rcpt@bench.test" &&
	record mailfs rss "$(hwm $mpid)" &&
	record mailfs pss "$(pss $mpid)"
	rc=$?
	fusermount3 -u "$MNT"
	stop_pid "$mpid"
	stop_pid "$SINK_PID"
	return $rc
}

# A Postfix instance of its own (test-lib.sh's postfix_start): config
# and queue in $T, no chroot, smtpd on a loopback port, relaying to the
# sink.
run_postfix() {
	r=$1
	PFX=$T/postfix$r
	export PFX
	start_sink "$PFX/sink" || return 1
	sport=$(free_port)
	postfix_start "$PFX" "myhostname = bench.test
mydomain = bench.test
myorigin = bench.test
relayhost = [${SINK%:*}]:${SINK#*:}
default_destination_concurrency_limit = 20" \
		"127.0.0.1:$sport inet n - n - - smtpd" ||
		{ echo "postfix: start failed" >&2; return 1; }
	postfix_dirs="$postfix_dirs $PFX"
	measure postfix "$PFX/sink" postfix_submit &&
	smtp_in postfix "$sport" "rcpt@example.test" &&
	wait_count "$PFX/sink" $((3 * N)) &&
	master=$(tr -dc 0-9 <"$PFX/queue/pid/master.pid") &&
	procs="$master $(children "$master")" &&
	record postfix rss "$(for p in $procs; do hwm "$p"; done | awk '{ s += $1 } END { print s }')" &&
	record postfix pss "$(for p in $procs; do pss "$p"; done | awk '{ s += $1 } END { print s }')"
	rc=$?
	postfix -c "$PFX/conf" stop >/dev/null 2>&1
	stop_pid "$SINK_PID"
	return $rc
}

[ -x "$MAILFS" ] || { echo "bench: no $MAILFS; run make first" >&2; exit 1; }
with_postfix=1
if [ "$(id -u)" -ne 0 ] || ! command -v postfix >/dev/null; then
	with_postfix=0
	echo "# Postfix is not measured: needs root and the postfix package"
fi

echo "# $N messages of ~$SIZE bytes, $RUNS runs, medians; one smtp-sink on loopback"
r=1
while [ "$r" -le "$RUNS" ]; do
	run_mailfs "$r" || echo "# run $r: mailfs failed (see above)"
	if [ $with_postfix -eq 1 ]; then
		run_postfix "$r" || { echo "# run $r: Postfix failed; measuring mailfs alone"; with_postfix=0; }
	fi
	r=$((r + 1))
done

printf '%-22s %12s %12s %10s\n' metric mailfs postfix ratio
for m in accept:"accept (s)" accept8:"accept x8 (s)" delivered:"delivered (s)" \
	delivered8:"delivered x8 (s)" smtpin:"smtp in x8 (s)" rss:"peak RSS (kB)" \
	pss:"PSS at end (kB)"; do
	key=${m%%:*} label=${m#*:}
	a=$(median "$T/res.mailfs.$key")
	b=$(median "$T/res.postfix.$key")
	ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }')
	printf '%-22s %12s %12s %10s\n' "$label" "$a" "$b" "$ratio"
done
echo "# ratio = mailfs / Postfix: below 1 means mailfs is faster or smaller"
echo "# Postfix's RSS sums its processes, counting shared pages in each;"
echo "# PSS (at the end of a run) shares them out fairly"
