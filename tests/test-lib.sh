# test-lib.sh - sourced by every tests/tNNNN-*.sh: TAP output in the manner
# of git's t/test-lib.sh, plus helpers that start real peers (mailfs,
# smtp-sink, dnsmasq) and end each of them by PID when the script exits.
#
#	. "$(dirname "$0")/test-lib.sh"
#	test_expect_success 'title' '
#		commands && test_cmp expect actual
#	'
#	test_done
#
# Each test body runs inside a function in the test script's shell, as in
# git's test_eval_inner_: variables it sets stay visible to later tests,
# and `return 1` leaves the body, not test_expect_success. Its status
# decides ok / not ok. A body that ends the script instead (`exit`, an unset
# variable under set -u, a signal) is reported as `not ok` by the exit
# trap, with its output, and the script then exits non-zero with a plan
# line, so prove names the test. Cleanups registered with
# test_when_finished run after the body, whatever its outcome.

set -u
TEST_NAME=$(basename "$0" .sh)
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
MAILFS=${MAILFS:-$SRCDIR/mailfs}
PY=/usr/bin/python3
T=$(mktemp -d "/tmp/mailfs-$TEST_NAME.XXXXXX")
# like git's trash directory: scratch files of a test never land in the tree
cd "$T" || exit 1
# TAP lines and failure reports go to the script's own stdout and stderr
# (fds 3 and 4), whatever a body has redirected when it ends.
exec 3>&1 4>&2
test_count=0
test_failed=0
test_cleanup=""
test_title=""
test_in_body=""
test_skip_reason=""
test_pids=""
test_mounts=""

say() { printf '# %s\n' "$*"; }

test_when_finished() {
	test_cleanup="$*; $test_cleanup"
}

# test_eval_body_ BODY: the body as a function, so that `return` ends the
# body alone
test_eval_body_() {
	eval "$1"
}

# test_report_ STATUS: ok or not ok for the current test, then its cleanup
test_report_() {
	if [ "$1" -eq 0 ] && [ -n "$test_skip_reason" ]; then
		printf 'ok %d - %s # skip %s\n' "$test_count" "$test_title" "$test_skip_reason" >&3
	elif [ "$1" -eq 0 ]; then
		printf 'ok %d - %s\n' "$test_count" "$test_title" >&3
	else
		printf 'not ok %d - %s\n' "$test_count" "$test_title" >&3
		test_failed=$((test_failed + 1))
		{ printf '# failed: %s %d - %s\n' "$TEST_NAME" "$test_count" "$test_title"
		  tail -n 40 "$T/out.$test_count" | sed 's/^/#   /'; } >&4
	fi
	[ -n "$test_cleanup" ] && eval "$test_cleanup" >/dev/null 2>&1
	test_cleanup=""
	test_skip_reason=""
}

test_expect_success() {
	test_count=$((test_count + 1))
	test_title=$1
	test_cleanup=""
	test_in_body=1
	( exit 0 )
	test_eval_body_ "$2" >"$T/out.$test_count" 2>&1 </dev/null
	test_status=$?
	test_in_body=""
	test_report_ $test_status
	return 0
}

test_skip_all() {
	echo "1..0 # SKIP $*" >&3
	exit 0
}

# test_fail_all REASON: a set-up step outside any test failed (a peer
# that deps.sh installs is missing, a certificate cannot be made): one
# failing test says so, and the script ends non-zero
test_fail_all() {
	test_count=$((test_count + 1))
	printf 'not ok %d - set-up: %s\n1..%d\n' "$test_count" "$*" "$test_count" >&3
	exit 1
}

# test_skip REASON, in a body: this test could not run here (a property of
# the machine, never a missing package); it is reported `ok N # skip`
test_skip() {
	test_skip_reason=$*
}

# test_expect_code N CMD...: CMD exits with status N exactly
test_expect_code() {
	want=$1; shift
	"$@"
	got=$?
	[ "$got" -eq "$want" ] || { echo "exit status $got, expected $want" >&2; return 1; }
}

test_cmp() {
	diff -u "$1" "$2"
}

# retry CMD for up to $1 seconds (tenths), e.g. wait_for 50 test -e file
wait_for() {
	n=$1; shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	"$@"
}

# a free TCP port on 127.0.0.1
free_port() {
	$PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# track a background process for the exit cleanup
track_pid() {
	test_pids="$test_pids $1"
}

kill_pid() {
	kill "$1" 2>/dev/null
	n=50
	while kill -0 "$1" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n-1)); done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# mailfs_pid_with TEXT: the pid of a mailfs (its command name mailfs or
# that of $MAILFS) whose command line holds TEXT, a unique temp path: how
# a test finds a daemon that detached. Not pgrep: it reads every process's
# stat, and blocks on any process stuck in a FUSE call elsewhere; comm and
# our own daemon's cmdline are safe to read.
mailfs_pid_with() {
	comm=$(basename "$MAILFS" | cut -c1-15)
	for d in /proc/[0-9]*; do
		case $(cat "$d/comm" 2>/dev/null) in
		mailfs|"$comm") ;;
		*) continue ;;
		esac
		tr '\0' '\n' <"$d/cmdline" 2>/dev/null | grep -qF -- "$1" &&
			echo "${d#/proc/}" && return 0
	done
	return 1
}

# gone PID: true once the process has ended (reaped or not our child)
gone() {
	! kill -0 "$1" 2>/dev/null ||
	[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# mailfs_start NAME [-o opts]: mounts $T/NAME/mnt over $T/NAME/spool in the
# foreground (stderr in $T/NAME/stderr); sets MNT, SPOOL, MAILFS_PID.
mailfs_start() {
	name=$1; shift
	MNT=$T/$name/mnt
	SPOOL=$T/$name/spool
	mkdir -p "$MNT" "$SPOOL"
	"$MAILFS" -f -o "spool=$SPOOL,listen=none,hostname=mailfs.test" "$@" "$MNT" \
		>>"$T/$name/stderr" 2>&1 &
	MAILFS_PID=$!
	track_pid $MAILFS_PID
	test_mounts="$test_mounts $MNT"
	wait_for 100 test -e "$MNT/ctl" || { cat "$T/$name/stderr" >&2; return 1; }
}

# unmount DIR: a daemon that died leaves a mount that `mountpoint` no longer sees
# ("transport endpoint is not connected"): unmount without asking it.
unmount() {
	fusermount3 -u "$1" 2>/dev/null || umount -l "$1" 2>/dev/null
	return 0
}

# mailfs_stop: SIGTERM the daemon and wait until it has unmounted.
mailfs_stop() {
	kill_pid "$MAILFS_PID"
	unmount "$MNT"
}

# config_refused KEY ARGS...: `mailfs ARGS $M` exits 78 (EX_CONFIG) without
# mounting $M, with exactly one line on stderr that names KEY
config_refused() {
	key=$1; shift
	"$MAILFS" "$@" "$M" >"$T/stdout" 2>"$T/stderr"
	rc=$?
	cat "$T/stderr"
	[ $rc -eq 78 ] || { echo "exit $rc, want 78"; return 1; }
	[ "$(wc -l <"$T/stderr")" -eq 1 ] || { echo "want one line"; return 1; }
	grep -q -- "$key" "$T/stderr" || { echo "does not name $key"; return 1; }
	! mountpoint -q "$M" || { echo "mounted"; return 1; }
}

# chat PART...: one connection to 127.0.0.1:$PORT; after the greeting send
# the PARTs (each the body of a Python bytes literal, so \r \n \x00 are
# exact; N*PART is PART N times) in one go, then print every reply until
# the server closes.
chat() {
	$PY - "$PORT" "$@" <<-'EOF'
	import ast, re, socket, sys
	data = b""
	for part in sys.argv[2:]:
	    m = re.fullmatch(r"(\d+)\*(.*)", part, re.S)
	    n, part = (int(m[1]), m[2]) if m else (1, part)
	    data += ast.literal_eval('b"' + part + '"') * n
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 60)
	f = s.makefile("rb")
	print(f.readline().decode().rstrip())
	try:
	    s.sendall(data)
	    for l in f:
	        print(l.decode("utf-8", "backslashreplace").rstrip("\r\n"))
	except ConnectionError as e:
	    print("connection:", e)
	EOF
}

# codes FILE: the final reply codes in chat's output, on one line
codes() {
	sed -n 's/^\([0-9][0-9][0-9]\) .*/\1/p' "$1" | tr '\n' ' '
}

# send NAME TO...: a message named NAME in outbox/ to these recipients
send() {
	name=$1; shift
	to=$(echo "$@" | sed 's/ /, /g')
	printf 'From: a@mailfs.test\nTo: %s\nSubject: %s\n\nbody of %s\n' \
		"$to" "$name" "$name" >"$T/$name"
	cp "$T/$name" "$MNT/outbox/$name"
}

# entry WHERE NAME: the directory of the message named NAME in WHERE/
entry() {
	for d in "$MNT/$1"/*/; do
		[ -e "$d/name" ] && [ "$(cat "$d/name")" = "$2" ] &&
			{ echo "${d%/}"; return 0; }
	done
	return 1
}

# status_is WHERE NAME RCPT STATE CODE-REGEX: one line of its status file
status_is() {
	d=$(entry "$1" "$2") &&
	awk -v r="$3" -v s="$4" -v c="^$5\$" \
		'$1 == r && $2 == s && $5 ~ c { ok = 1 } END { exit !ok }' \
		"$d/status"
}

# start_sink ADDR:PORT [smtp-sink options]: smtp-sink dumping into $T/sink/
start_sink() {
	addr=$1; shift
	mkdir -p "$T/sink"
	smtp-sink -u root -d "$T/sink/%H%M%S." "$@" "$addr" 256 >"$T/sink.log" 2>&1 &
	SINK_PID=$!
	track_pid $SINK_PID
	wait_for 150 "$PY" -c "import socket,sys; h,p='$addr'.rsplit(':',1); socket.create_connection((h.strip('[]'),int(p)),1)"
}

# start_dns PORT [dnsmasq options]: a DNS server for the .test zones
start_dns() {
	port=$1; shift
	dnsmasq --keep-in-foreground --port="$port" --listen-address=127.0.0.1 \
		--bind-interfaces --no-resolv --no-hosts --local=/test/ \
		--pid-file= --user=root "$@" >"$T/dns.log" 2>&1 &
	DNS_PID=$!
	track_pid $DNS_PID
	# listening: its UDP port in /proc/net/udp (probing by binding the
	# port could itself keep dnsmasq from binding it)
	hex=$(printf ' 0100007F:%04X ' "$port")
	wait_for 100 grep -q "$hex" /proc/net/udp || { cat "$T/dns.log"; return 1; }
}

# postfix_start DIR MAIN MASTER: a throwaway Postfix (root and the postfix
# package) with its config, queue and data directories in DIR: a base
# main.cf (loopback only, nothing delivered locally, mail_owner postfix,
# its log in DIR/maillog) with the lines MAIN, whose keys replace the
# base's; the system's master.cf without chroot and without its port-25
# smtpd, plus the lines MASTER (e.g. "127.0.0.1:PORT inet n - n - - smtpd"). $T
# becomes searchable (o+x) so Postfix's unprivileged daemons reach DIR.
# Sets POSTFIX_PID (the master, tracked); postfix_stop DIR ends it.
postfix_start() {
	pf_dir=$1 pf_main=$2 pf_master=$3
	chmod o+x "$T"
	mkdir -p "$pf_dir/conf" "$pf_dir/queue" "$pf_dir/data"
	chown postfix "$pf_dir/data"
	printf '%s\n' "$pf_main" >"$pf_dir/main.extra"
	# the base without the keys MAIN sets (a key set twice is warned of)
	awk -F ' *= *' 'NR == FNR { if (NF > 1) set[$1] = 1; next }
		!($1 in set)' "$pf_dir/main.extra" - >"$pf_dir/conf/main.cf" <<-EOC
	compatibility_level = 3.6
	queue_directory = $pf_dir/queue
	data_directory = $pf_dir/data
	maillog_file = $pf_dir/maillog
	maillog_file_prefixes = $pf_dir
	mail_owner = postfix
	setgid_group = postdrop
	myhostname = postfix.test
	mydomain = postfix.test
	myorigin = postfix.test
	mydestination =
	inet_interfaces = 127.0.0.1
	inet_protocols = ipv4
	mynetworks = 127.0.0.0/8
	smtp_tls_security_level = none
	smtpd_tls_security_level = none
	alias_maps =
	alias_database =
	local_recipient_maps =
	smtputf8_enable = no
	biff = no
	EOC
	cat "$pf_dir/main.extra" >>"$pf_dir/conf/main.cf"
	{ awk '/^[a-z]/ { if ($1 == "smtp" && $2 == "inet") next
			  if ($5 == "y") $5 = "n" }
	       !/^[ \t]*(#|$)/ { print }' /etc/postfix/master.cf
	  printf '%s\n' "$pf_master"; } >"$pf_dir/conf/master.cf"
	postfix -c "$pf_dir/conf" start >"$pf_dir/start.log" 2>&1 ||
		{ cat "$pf_dir/start.log" >&2; return 1; }
	wait_for 100 test -s "$pf_dir/queue/pid/master.pid" || return 1
	POSTFIX_PID=$(tr -dc 0-9 <"$pf_dir/queue/pid/master.pid")
	track_pid "$POSTFIX_PID"
}

# postfix_stop DIR: stop the Postfix of postfix_start DIR
postfix_stop() {
	postfix -c "$1/conf" stop >/dev/null 2>&1
	pf_pid=$(tr -dc 0-9 <"$1/queue/pid/master.pid" 2>/dev/null)
	[ -z "$pf_pid" ] || kill_pid "$pf_pid"
}

# test_done: end the peers, then one last test: no daemon or peer left a
# sanitizer report (make check SANITIZE=1) in anything under $T, where
# mailfs_start and the scripts keep their stderr (not in the bodies'
# outputs, out.N: those only repeat what a test printed); then the plan.
test_done() {
	test_lib_stop
	test_expect_success 'no sanitizer reports from the daemons' '
		! grep -rIl -e "ERROR: AddressSanitizer" -e "ERROR: LeakSanitizer" \
			-e "runtime error:" "$T" --exclude="out.*" \
			>sanitizer.files ||
		{ cat $(cat sanitizer.files); false; }
	'
	echo "1..$test_count" >&3
	[ "$test_failed" -eq 0 ]
	exit $?
}

# test_lib_stop: unmount (which ends a daemon cleanly), end every tracked
# process by PID, unmount what a dead daemon left
test_lib_stop() {
	for m in $test_mounts; do
		fusermount3 -u "$m" 2>/dev/null
	done
	for p in $test_pids; do
		kill_pid "$p"
	done
	for m in $test_mounts; do
		unmount "$m"
	done
	test_pids=""
}

test_lib_cleanup() {
	test_lib_stop
	rm -rf "$T"
}

# test_lib_exit_: the EXIT trap. A script that ends inside a body has not
# said how its test went: say not ok, run the test's cleanup, give the plan.
test_lib_exit_() {
	test_exit_status=$?
	if [ -n "$test_in_body" ]; then
		test_in_body=""
		echo "# the body ended the script (exit status $test_exit_status)" \
			>>"$T/out.$test_count"
		test_report_ 1
		echo "1..$test_count" >&3
		[ "$test_exit_status" -ne 0 ] || test_exit_status=1
	fi
	test_lib_cleanup
	exit "$test_exit_status"
}
trap test_lib_exit_ EXIT
trap 'exit 130' INT TERM
