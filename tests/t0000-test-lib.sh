#!/bin/sh
# t0000-test-lib - the test library itself, after git's t0000-basic: small
# scripts whose bodies fail in every way a body can (a false last command,
# `return 1`, `exit 1`, `exit 0`, an unset variable, a signal) must each be
# reported as `not ok N - title` with the body's output, run the cleanup
# the body registered, and end the run non-zero; passing bodies share
# their variables with later tests. If this script fails, no other result
# of `make check` can be trusted.
. "$(dirname "$0")/test-lib.sh"

LIB=$SRCDIR/tests/test-lib.sh

# sub NAME BODY [NEXT-BODY]: a script whose test 1 is BODY (registering a
# cleanup that touches $T/NAME.cleaned first), and whose test 2, when
# given, is NEXT-BODY; run it alone and through prove. Sets RC (its exit
# status) and leaves its stdout in NAME.out, stderr in NAME.err, prove's
# output in NAME.prove and prove's status in PRC.
sub() {
	{
		printf '. "%s"\n' "$LIB"
		printf "test_expect_success '%s 1' '\n" "$1"
		printf '\ttest_when_finished "touch %s/%s.cleaned" &&\n' "$T" "$1"
		printf '\techo "output of %s" &&\n%s\n' "$1" "$2"
		printf "'\n"
		if [ -n "${3:-}" ]; then
			printf "test_expect_success '%s 2' '\n%s\n'\n" "$1" "$3"
		fi
		printf 'test_done\n'
	} >"$T/$1.sh"
	sh "$T/$1.sh" >"$T/$1.out" 2>"$T/$1.err"
	RC=$?
	prove --exec sh "$T/$1.sh" >"$T/$1.prove" 2>&1
	PRC=$?
	cat "$T/$1.out" "$T/$1.err" "$T/$1.prove"
}

# failed NAME: test 1 of NAME was reported not ok with its output and
# cleanup, the plan was given, the run and prove failed, prove named test 1
failed() {
	grep -qx "not ok 1 - $1 1" "$T/$1.out" &&
	grep -q "^# failed: $1 1 - $1 1" "$T/$1.err" &&
	grep -q "^#   output of $1" "$T/$1.err" &&
	test -e "$T/$1.cleaned" &&
	grep -q '^1\.\.[123]$' "$T/$1.out" &&
	[ "$RC" -ne 0 ] && [ "$PRC" -ne 0 ] &&
	grep -q "Failed test.*1" "$T/$1.prove" &&
	! grep -q "Bad plan" "$T/$1.prove"
}

test_expect_success 'a passing body is ok, and its variables reach later tests' '
	sub pass "	X=42" "	[ \"\$X\" = 42 ]" &&
	printf "ok 1 - pass 1\nok 2 - pass 2\nok 3 - no sanitizer reports from the daemons\n1..3\n" >expect &&
	test_cmp expect "$T/pass.out" &&
	[ "$RC" -eq 0 ] && [ "$PRC" -eq 0 ] && test -e "$T/pass.cleaned"
'

test_expect_success 'a false last command is not ok; the next test still runs' '
	sub last "	false" "	true" &&
	failed last && grep -qx "ok 2 - last 2" "$T/last.out"
'

test_expect_success 'return 1 is not ok; the next test still runs' '
	sub ret "	return 1" "	true" &&
	failed ret && grep -qx "ok 2 - ret 2" "$T/ret.out"
'

test_expect_success 'return 1 inside a loop is not ok' '
	sub loop "	for i in 1 2; do [ \$i = 1 ] || return 1; done" "	true" &&
	failed loop && grep -qx "ok 2 - loop 2" "$T/loop.out"
'

test_expect_success 'exit 1 is not ok and ends the script with a plan' '
	sub ex1 "	exit 1" "	true" &&
	failed ex1 && ! grep -q "ok 2" "$T/ex1.out"
'

test_expect_success 'exit 0 inside a body is not ok either' '
	sub ex0 "	exit 0" &&
	failed ex0
'

test_expect_success 'an unset variable (set -u) is not ok' '
	sub unset "	echo \$no_such_variable" &&
	failed unset
'

test_expect_success 'a signal to the script mid-body is not ok' '
	sub sig "	kill -TERM \$\$; sleep 5" &&
	failed sig
'

test_expect_success 'test_skip in a body is reported as a skip, not a pass' '
	sub skip "	test_skip \"no such thing here\"" &&
	grep -qx "ok 1 - skip 1 # skip no such thing here" "$T/skip.out" &&
	[ "$RC" -eq 0 ] && [ "$PRC" -eq 0 ]
'

test_expect_success 'test_fail_all (a failed set-up) fails the script' '
	printf ". \"%s\"\ntest_fail_all \"no peer\"\n" "$LIB" >"$T/setup.sh" &&
	! sh "$T/setup.sh" >"$T/setup.out" 2>&1 &&
	printf "not ok 1 - set-up: no peer\n1..1\n" >expect &&
	test_cmp expect "$T/setup.out"
'

test_expect_success 'a sanitizer report left by a daemon fails the script' '
	test_when_finished "rm -f \"\$T\"/asan.*" &&
	sub asan "	mkdir -p \"\$T/d\" && echo \"==1==ERROR: LeakSanitizer: detected memory leaks\" >\"\$T/d/stderr\"" &&
	grep -qx "ok 1 - asan 1" "$T/asan.out" &&
	grep -qx "not ok 2 - no sanitizer reports from the daemons" "$T/asan.out" &&
	[ "$RC" -ne 0 ] && [ "$PRC" -ne 0 ]
'

test_expect_success 'the failing body output goes to stderr, not into the TAP stream' '
	! grep -q "output of last" "$T/last.out"
'

test_done
