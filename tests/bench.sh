#!/bin/sh
# bench.sh - `make bench`: the figures of issue 9 side by side with their
# references (a plain directory with fsync, Postfix, mblaze) in one run on
# this machine, each against its goal in tests/bench/goals, ending with
# "bench: N of M goals met". A report, not a test: it exits 0 whatever the
# figures. Outside `make check`; about 15 minutes on 2 cores.
#
#   MAILFS=/path/to/mailfs   the binary measured (default ./mailfs)
#   BENCH_RUNS=3             runs per figure; medians are reported
#   BENCH_QUICK=1            a tenth of every size, for a quick look
#   BENCH_LIMIT=120          seconds any one timed phase may take
#                            ("timeout", a FAIL, rather than a hang)
#   BENCH_ONLY="inbox queue" some parts only: enqueue drain smtpin inbox queue
#   BENCH_BASELINE_OUT=FILE  append the peak RSS figures, as lines for
#                            tests/bench/baseline, to FILE
#
# The parts are tests/bench/PART.sh; tests/bench/lib.sh has what they
# share. Needs root for Postfix and for cold caches; without root those
# lines say SKIP. Uses only 127.0.0.1; ends every process it starts by
# PID and unmounts what it mounted.
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=$SRCDIR/tests/bench
. "$BENCH_DIR/lib.sh"

[ -x "$MAILFS" ] || { echo "bench: no $MAILFS; run make first" >&2; exit 0; }
note "mailfs: $MAILFS; $MODE sizes, $RUNS runs, medians; phases bounded by ${LIMIT}s"
[ $POSTFIX -eq 1 ] || note "Postfix lines skipped: they need root and the postfix package"
[ $ROOT -eq 1 ] || note "cold inbox lines skipped: dropping caches needs root"
for part in ${BENCH_ONLY:-enqueue drain smtpin inbox queue}; do
	. "$BENCH_DIR/$part.sh"
	"bench_$part"
done
report
exit 0
