# lib.sh - sourced by tests/bench.sh: the sizes, the peers (mailfs,
# Postfix, smtp-sink, a tarpit), timing with a bound, syscall counting
# with strace, the result store and the report against tests/bench/goals.
#
# Every part (tests/bench/PART.sh, function bench_PART) records figures
# with `record KEY VALUE`, one value per run; the report takes medians.
# A value that is not a number ("timeout", "error") makes the median that
# word, and the goal line FAIL. Every process started here is tracked by
# PID and ended by PID (test-lib.sh's track_pid / kill_pid), every mount
# unmounted, every Postfix instance stopped, at the end or on a signal.

# test-lib.sh for wait_for, free_port, kill_pid, track_pid, unmount and
# postfix_start/postfix_stop; it makes T, the scratch directory, changes
# into it (undone: "$0" may be relative) and sets an EXIT trap (replaced).
bench_cwd=$(pwd)
. "$SRCDIR/tests/test-lib.sh"
cd "$bench_cwd" || exit 1
MAILFS=${MAILFS:-$SRCDIR/mailfs}
RUNS=${BENCH_RUNS:-3}
LIMIT=${BENCH_LIMIT:-60}	# seconds any one timed phase may take
SIZE=4096			# bytes of body per generated message
# the sizes of issue 9, or a tenth of them for a quick look
if [ "${BENCH_QUICK:-0}" = 1 ]; then SCALE=10 MODE=quick; else SCALE=1 MODE=full; fi
N_ENQ=$((2000 / SCALE))
N_DRAIN=$((3000 / SCALE))
N_SMTPIN=$((3000 / SCALE))
N_INBOX=$((10000 / SCALE))
N_QUEUE=$((100000 / SCALE))
# syscall counts come from a smaller run under strace (it slows the
# daemon): 200 messages, 50 in a quick run
N_SYNCS=$((200 / (SCALE > 1 ? 4 : 1)))
chmod 755 "$T"	# Postfix's unprivileged daemons must reach their dirs
# Each run's directories in a block group of their own (ext4's "top
# directory" hint spreads T's subdirectories): on ext4 without a journal,
# a new inode skips those freed in the last minutes, one by one, so a run
# in the group where the run before deleted thousands of files (dd's
# directory, Postfix's queue files) pays for that run's cleanup: one
# side's figure was set by the order of the runs. Elsewhere a no-op.
chattr +T "$T" 2>/dev/null || :
mkdir -p "$T/res"
postfix_dirs=""
ROOT=0
[ "$(id -u)" -eq 0 ] && ROOT=1
POSTFIX=0
[ $ROOT -eq 1 ] && command -v postfix >/dev/null && POSTFIX=1

bench_cleanup() {
	for d in $postfix_dirs; do
		postfix_stop "$d"
	done
	test_lib_cleanup
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

note() { printf '# %s\n' "$*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# rate N SECONDS: messages per second, or SECONDS when it is not a number
rate() {
	case $2 in
	*[!0-9.]*|'') echo "$2" ;;
	*) awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }' ;;
	esac
}
# per N COUNT: COUNT / N with two decimals
per() { awk -v n="$1" -v c="$2" 'BEGIN { printf "%.2f", c / n }'; }

# record KEY VALUE: one run's figure
record() { echo "$2" >>"$T/res/$1"; }

# median KEY: of the recorded values; "-" for none; a word if any is one
median() {
	f=$T/res/$1
	[ -s "$f" ] || { echo "-"; return; }
	w=$(grep -v '^[0-9.][0-9.]*$' "$f" | head -n 1)
	[ -z "$w" ] || { echo "$w"; return; }
	sort -g "$f" | awk '{ v[NR] = $1 } END {
		if (NR % 2) print v[(NR + 1) / 2]; else printf "%g\n", (v[NR/2] + v[NR/2 + 1]) / 2 }'
}

# untrack PID: forget an ended process (its PID may be reused later)
untrack() {
	test_pids=$(echo " $test_pids " | sed "s/ $1 / /; s/^ *//; s/ *\$//")
}

# stop PID: end a process we started, and forget it
stop() {
	kill_pid "$1"
	untrack "$1"
}

# gave_up KEY: KEY timed out in an earlier run; it is not measured again
# (its median is "timeout" whatever the other runs say, and a default run
# of a slow build stays within minutes)
gave_up() { grep -qx timeout "$T/res/$1" 2>/dev/null; }

# each_run FUNCTION...: call each FUNCTION with the run number, RUNS times,
# so that mailfs and its reference alternate under the same load
each_run() {
	run_no=1
	while [ $run_no -le "$RUNS" ]; do
		for fn in "$@"; do "$fn" $run_no; done
		run_no=$((run_no + 1))
	done
}

# timed CMD...: run CMD, bounded by LIMIT, its output in $T/out (for
# checks after); print its seconds, or "timeout"
timed() {
	t0=$(now)
	timeout -k 5 "$LIMIT" "$@" >"$T/out" 2>/dev/null
	rc=$?
	t1=$(now)
	case $rc in
	124|137) echo timeout ;;
	*) elapsed "$t0" "$t1" ;;
	esac
}

# lines_are N KEY: $T/out, what `timed` just ran printed, has N lines;
# else say so and record "error" for KEY (a fast answer that is wrong)
lines_are() {
	got=$(wc -l <"$T/out")
	[ "$got" -eq "$1" ] && return 0
	note "$2: $got lines of output, not $1"
	record "$2" error
}

# count DIR: the files in DIR
count() { ls -U "$1" 2>/dev/null | wc -l; }

# holds DIR N: DIR holds N files or more
holds() { [ "$(count "$1")" -ge "$2" ]; }

# wait_count DIR N: until DIR holds N files; false after LIMIT seconds
wait_count() { wait_until holds "$1" "$2"; }

# timed_count DIR N: seconds until DIR holds N files, or "timeout"
# (measured from the caller's T0)
timed_count() {
	if wait_count "$1" "$2"; then elapsed "$T0" "$(now)"; else echo timeout; fi
}

# hwm PID: peak resident set (VmHWM) in MiB, "error" if the process is gone
hwm() {
	v=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null)
	echo "${v:-error}"
}

# max A B: the larger figure; a word ("error") wins, an empty one is none
max() {
	case "$1" in '') echo "$2"; return ;; *[!0-9.]*) echo "$1"; return ;; esac
	case "$2" in '') echo "$1"; return ;; *[!0-9.]*) echo "$2"; return ;; esac
	awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 > b + 0) ? a : b }'
}

# stat_of KEY: the value of KEY in MNT/stats
stat_of() { awk -v k="$1" '$1 == k { print $2 }' "$MNT/stats" 2>/dev/null; }

# wait_until CMD...: until CMD is true; false after LIMIT seconds
wait_until() {
	end=$(( $(date +%s) + LIMIT ))
	until "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.05
	done
}

# stat_is KEY N: MNT/stats says KEY N
stat_is() { [ "$(stat_of "$1")" = "$2" ]; }

# wait_stat KEY N: until MNT/stats says KEY N; false after LIMIT seconds
wait_stat() { wait_until stat_is "$1" "$2"; }

# mailfs_up NAME [OPTIONS]: mailfs mounted on $T/NAME/mnt over
# $T/NAME/spool (which may hold a spool already), in the foreground, its
# stderr in $T/NAME/stderr, no listener unless OPTIONS has one. Sets MNT,
# SPOOL, MAILFS_PID and STARTUP (seconds until ctl appeared, or
# "timeout"). False, and ended, when it did not come up within LIMIT.
mailfs_up() {
	MNT=$T/$1/mnt SPOOL=$T/$1/spool MAILFS_ERR=$T/$1/stderr
	mkdir -p "$MNT" "$SPOOL"
	t0=$(now)
	"$MAILFS" -f -o "spool=$SPOOL,hostname=bench.test,domains=bench.test,tls=none,listen=none${2:+,$2}" \
		"$MNT" >>"$MAILFS_ERR" 2>&1 &
	MAILFS_PID=$!
	track_pid $MAILFS_PID
	test_mounts="$test_mounts $MNT"
	end=$(( $(date +%s) + LIMIT ))
	until [ -e "$MNT/ctl" ]; do
		if ! kill -0 $MAILFS_PID 2>/dev/null || [ "$(date +%s)" -ge "$end" ]; then
			STARTUP=timeout
			note "mailfs did not come up; its stderr:"
			tail -n 5 "$MAILFS_ERR" | sed 's/^/#   /'
			mailfs_down
			return 1
		fi
		sleep 0.02
	done
	STARTUP=$(elapsed "$t0" "$(now)")
}

# mailfs_down: unmount and end the daemon; sets HWM (its peak RSS, MiB)
mailfs_down() {
	HWM=$(hwm "$MAILFS_PID")
	fusermount3 -u "$MNT" 2>/dev/null
	stop "$MAILFS_PID"
	unmount "$MNT"
	test_mounts=$(echo " $test_mounts " | sed "s| $MNT | |")
}

# drop_caches: empty the page cache (root only), for cold figures
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# sink_up DIR PORT: smtp-sink on 127.0.0.1:PORT writing a file per message
# into DIR; sets SINK_PID
sink_up() {
	mkdir -p "$1"
	# -u: the user to run as, which it wants said when started as root
	sink_user=""
	[ $ROOT -eq 0 ] || sink_user="-u root"
	smtp-sink $sink_user -d "$1/%H%M%S." "127.0.0.1:$2" 1024 >/dev/null 2>&1 &
	SINK_PID=$!
	track_pid $SINK_PID
	listening "$2"
}

# tarpit_up PORT: a listener that never accepts, so that deliveries wait
# (the kernel completes the handshakes) and cost nothing while enqueue is
# measured; sets TARPIT_PID
tarpit_up() {
	$PY -c 'import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(256)
time.sleep(86400)' "$1" &
	TARPIT_PID=$!
	track_pid $TARPIT_PID
	listening "$1"
}

# listening PORT: until something listens on 127.0.0.1:PORT (from
# /proc/net/tcp: connecting would use up a tarpit's backlog)
listening() {
	hex=$(printf ' 0100007F:%04X 00000000:0000 0A ' "$1")
	wait_for 100 grep -q "$hex" /proc/net/tcp
}

# strace_up PID FILE: count the system calls of every thread of PID into
# FILE; sets STRACE_PID. strace_down ends it and sets SYNCS, the syncs
# counted (not in a command substitution: it waits for strace).
strace_up() {
	strace -f -c -o "$2" -p "$1" 2>/dev/null &
	STRACE_PID=$!
	STRACE_OUT=$2
	track_pid $STRACE_PID
	wait_for 100 all_traced "$1"
}
all_traced() {
	for s in /proc/"$1"/task/*/status; do
		grep -q '^TracerPid:[[:space:]]*0$' "$s" && return 1
	done
	return 0
}
strace_down() {
	kill -INT "$STRACE_PID" 2>/dev/null
	wait "$STRACE_PID" 2>/dev/null
	untrack "$STRACE_PID"
	SYNCS=$(awk '$NF ~ /^(fsync|fdatasync|syncfs|sync_file_range|sync)$/ { s += $4 }
	     END { print s + 0 }' "$STRACE_OUT")
}

# pf_up NAME MAIN [MASTER]: a throwaway Postfix in $T/NAME (test-lib.sh's
# postfix_start), relaying nothing locally; sets PFX. Listed for the
# exit's `postfix stop` first, in case it starts only halfway.
pf_up() {
	PFX=$T/$1
	postfix_dirs="$postfix_dirs $PFX"
	postfix_start "$PFX" "myhostname = bench.test
mydomain = bench.test
myorigin = bench.test
$2" "${3:-}" || { note "Postfix did not start"; pf_down; return 1; }
}
pf_down() {
	postfix_stop "$PFX"
	untrack "$POSTFIX_PID"
	postfix_dirs=$(echo " $postfix_dirs " | sed "s| $PFX | |")
}

# messages DIR N: N messages of about SIZE bytes, named 1..N, made once
messages() {
	[ -d "$1" ] && return 0
	mkdir -p "$1"
	$PY - "$1" "$2" "$SIZE" <<-'EOF'
	import sys
	d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
	line = "x" * 71 + "\n"
	body = line * (size // len(line))
	for i in range(1, n + 1):
	    with open("%s/%d" % (d, i), "w") as f:
	        f.write("From: bench@bench.test\nTo: rcpt%d@example.test\n"
	                "Subject: bench %d\n\n%s" % (i, i, body))
	EOF
}

# baseline KEY: today's figure for KEY at these sizes from
# tests/bench/baseline, or "-"
baseline() {
	v=$(awk -v k="$MODE.$1" '$1 == k { print $2 }' "$BENCH_DIR/baseline" 2>/dev/null)
	echo "${v:--}"
}

# report: one line per row of tests/bench/goals, then the summary; with
# BENCH_BASELINE_OUT=FILE it also appends the figures the baseline rows
# compare with to FILE, in tests/bench/baseline's form
report() {
	met=0 total=0 skipped=0
	printf '%-52s %9s %9s %6s %8s  %s\n' "line (unit)" mailfs reference ratio goal result
	while IFS='|' read -r line what unit mkey rkey test goal; do
		case $line in '#'*|'') continue ;; esac
		a=$(median "$mkey")
		# BENCH_ONLY: the rows of the parts not run are left out
		[ "$a" = "-" ] && [ -n "${BENCH_ONLY:-}" ] && continue
		case $rkey in
		-) b="-" ;;
		baseline) b=$(baseline "$mkey")
			  [ -z "${BENCH_BASELINE_OUT:-}" ] || [ "$a" = "-" ] ||
				echo "$MODE.$mkey $a" >>"$BENCH_BASELINE_OUT" ;;
		*) b=$(median "$rkey") ;;
		esac
		ratio="-"
		case $test in ratio*)
			case "$a$b" in
			*[!0-9.]*) ;;
			*) ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }') ;;
			esac
		esac
		case $test in
		'ratio>=') g=">= ${goal}x" v=$ratio ;;
		'ratio<=') g="<= ${goal}x" v=$ratio ;;
		*) g="$test $goal" v=$a ;;
		esac
		# SKIP: not measured, or a measured figure without its reference
		# (a mailfs figure that is a word, "timeout", fails anyway)
		if [ "$a" = "-" ] || { [ "$b" = "-" ] && [ "$rkey" != "-" ] &&
		    expr "$a" : '[0-9.]*$' >/dev/null; }; then
			result=SKIP
			skipped=$((skipped + 1))
		else
			total=$((total + 1))
			result=$(awk -v v="$v" -v t="$test" -v g="$goal" 'BEGIN {
				if (v !~ /^[0-9.]+$/) { print "FAIL"; exit }
				ok = t == "ratio>=" ? v >= g : t == "<" ? v < g : v <= g
				print ok ? "PASS" : "FAIL" }')
			[ "$result" = PASS ] && met=$((met + 1))
		fi
		printf '%-52s %9s %9s %6s %8s  %s\n' "$line $what ($unit)" "$a" "$b" "$ratio" "$g" "$result"
	done <"$BENCH_DIR/goals"
	[ $skipped -eq 0 ] || note "SKIP: not measured here (see above), or no baseline for a $MODE run"
	echo "bench: $met of $total goals met"
}
