#!/bin/sh
# t3006-smtp-stream: the listener streams DATA into a file in the Maildir
# as it arrives (a nameless one made with O_TMPFILE in new/, or
# inbox/tmp/ID where the file system has none), so its memory does not
# grow with the size of the messages: 20 concurrent 20 MB messages raise
# the daemon's peak RSS (VmHWM) by far less than their sum, and each is
# stored whole. A message refused after its data, a client gone mid-DATA
# and a stop mid-DATA leave nothing in tmp/ or new/ and no file open;
# after a kill -9 mid-DATA nothing is visible, and the next start cleans
# tmp/.
. "$(dirname "$0")/test-lib.sh"

# under ASan (make check SANITIZE=1) freed memory would stay in
# quarantine and look like growth
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
export ASAN_OPTIONS
PORT=$(free_port)
mailfs_start big -o "listen=127.0.0.1:$PORT,domains=example.test,max_size=25M"
NEW=$SPOOL/inbox/new
TMP=$SPOOL/inbox/tmp

peak() {
	sed -n 's/^VmHWM:[^0-9]*\([0-9]*\).*/\1/p' /proc/$MAILFS_PID/status
}

nmsg() {
	ls "$NEW" | wc -l
}

tmp_empty() {
	[ -z "$(ls -A "$TMP")" ]
}

tmp_used() {
	[ -n "$(ls -A "$TMP")" ]
}

# writing: the daemon has a message file open that is not in the inbox
# yet, nameless ("new/#INODE (deleted)" in /proc) or tmp/ID
writing() {
	ls -l "/proc/$MAILFS_PID/fd" 2>/dev/null |
		grep -q -e " $NEW/#[0-9]* (deleted)\$" -e " $TMP/"
}

not_writing() {
	! writing
}

# big.py PORT MODE SESSIONS SIZE RESULTS [READY GO]: SESSIONS concurrent
# sessions each sending a message of about SIZE octets (every 1000th line
# dot-stuffed), spoiled as MODE says; RESULTS gets "SUBJECT SHA256 REPLY"
# per session, the hash of the message as it must be stored (LF line ends,
# dots unstuffed). MODE cut: send half, create READY, wait for GO, close.
cat >"$T/big.py" <<-\EOF
	import hashlib, os, socket, sys, threading, time
	port, mode, n, size, results = int(sys.argv[1]), sys.argv[2], \
	    int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
	lines, total, i = [], 0, 0
	while total < size:
	    l = b"%s%08d the quick brown fox jumps over the lazy dog 0123456789\r\n" \
	        % (b".." if i % 1000 == 0 else b"", i)
	    lines.append(l)
	    total += len(l)
	    i += 1
	body = b"".join(lines)
	spoil = {"ok": b"", "bare": b"a bare\nLF\r\n", "nul": b"a\x00NUL\r\n",
	         "long": b"x" * 1200 + b"\r\n", "hops": b"", "toobig": b"",
	         "cut": b""}[mode]
	body = body[:len(body) // 2] + spoil + body[len(body) // 2:]
	if mode == "toobig":
	    body = body * 2
	hops = b"Received: from a by b; Thu, 1 Jan 2026 00:00:00 +0000\r\n" * \
	    (31 if mode == "hops" else 0)
	out, lock = [], threading.Lock()
	def reply(f):
	    while True:
	        l = f.readline().decode()
	        if l[3:4] != "-":
	            return l.rstrip()
	def client(c):
	    subj = b"big-%d-%d" % (os.getpid(), c)
	    msg = hops + b"Subject: " + subj + b"\r\n\r\n" + body
	    stored = (b"\n" + msg.replace(b"\r\n", b"\n")).replace(b"\n.", b"\n")[1:]
	    s = socket.create_connection(("127.0.0.1", port), 600)
	    f = s.makefile("rb")
	    reply(f)
	    s.sendall(b"EHLO c%d.test\r\nMAIL FROM:<b@x.test>\r\n"
	              b"RCPT TO:<u@example.test>\r\nDATA\r\n" % c)
	    for k in range(4):
	        r = reply(f)
	    assert r.startswith("354"), r
	    if mode == "cut":
	        s.sendall(msg[:len(msg) // 2])
	        open(sys.argv[6], "w").write("ready\n")
	        while not os.path.exists(sys.argv[7]):
	            time.sleep(0.1)
	        s.close()
	        return
	    s.sendall(msg + b".\r\n")	# msg ends in CR LF
	    r = reply(f)
	    s.sendall(b"QUIT\r\n")
	    assert reply(f).startswith("221"), "session not healthy after " + r
	    with lock:
	        out.append("%s %s %s" % (subj.decode(),
	                   hashlib.sha256(stored).hexdigest(), r))
	th = [threading.Thread(target=client, args=(c,)) for c in range(n)]
	for t in th: t.start()
	for t in th: t.join()
	open(results, "w").write("".join(l + "\n" for l in out))
EOF

# stored RESULTS: every message of RESULTS is in new/ exactly once and
# its content after our trace lines hashes as sent
cat >"$T/stored.py" <<-\EOF
	import hashlib, os, sys
	new, want = sys.argv[1], {}
	for l in open(sys.argv[2]):
	    subj, sha, reply = l.split(" ", 2)
	    assert reply.startswith("250 2.0.0 Ok: queued as "), l
	    want[subj] = sha
	found = {}
	for name in os.listdir(new):
	    data = open(os.path.join(new, name), "rb").read()
	    at = data.find(b"\nSubject: big-")
	    if at < 0:
	        continue
	    assert data.startswith(b"Return-Path: <b@x.test>\nReceived: "), name
	    subj = data[at + 10:data.index(b"\n", at + 1)].decode()
	    assert subj not in found, "twice: " + subj
	    found[subj] = hashlib.sha256(data[at + 1:]).hexdigest()
	for subj, sha in want.items():
	    assert found.get(subj) == sha, (subj, "differs" if subj in found
	                                    else "missing")
	print(len(want), "messages stored whole")
EOF

test_expect_success '20 concurrent 20 MB messages: memory bounded, all whole' '
	swaks --server 127.0.0.1:$PORT --from a@x.test --to u@example.test \
		>warm &&
	BASE=$(peak) &&
	$PY "$T/big.py" $PORT ok 20 20000000 "$T/ok" &&
	test "$(wc -l <"$T/ok")" = 20 &&
	AFTER=$(peak) &&
	say "peak RSS $BASE kB before, $AFTER kB after 400 MB of mail" &&
	test $((AFTER - BASE)) -lt 65536 &&
	$PY "$T/stored.py" "$NEW" "$T/ok" &&
	test "$(nmsg)" = 21 &&
	tmp_empty
'

# refused MODE CODE: a 3 MB message (many chunks already on disk when its
# end comes) refused with CODE leaves nothing behind
refused() {
	N=$(nmsg)
	$PY "$T/big.py" $PORT "$1" 1 3000000 "$T/$1" &&
	cat "$T/$1" &&
	grep -q " $2 " "$T/$1" &&
	wait_for 100 tmp_empty &&
	test "$(nmsg)" = "$N" &&
	! grep -rl "Subject: big-" "$SPOOL/envelope"
}

test_expect_success 'bare LF refused after 3 MB: nothing stored' '
	refused bare 550
'
test_expect_success 'NUL refused after 3 MB: nothing stored' '
	refused nul 550
'
test_expect_success 'long line refused after 3 MB: nothing stored' '
	refused long 500
'
test_expect_success 'mail loop refused after 3 MB: nothing stored' '
	refused hops 554
'
test_expect_success 'over max_size without SIZE=: 552, nothing stored' '
	N=$(nmsg) &&
	$PY "$T/big.py" $PORT toobig 1 14000000 "$T/toobig" &&
	grep -q " 552 5.3.4 " "$T/toobig" &&
	wait_for 100 tmp_empty &&
	test "$(nmsg)" = "$N"
'

# cut: a client sends half a message and waits; its file is being
# written
cut() {
	rm -f "$T/ready" "$T/go"
	$PY "$T/big.py" $PORT cut 1 6000000 "$T/cut" "$T/ready" "$T/go" &
	CLIENT=$!
	track_pid $CLIENT
	wait_for 600 test -e "$T/ready" &&
	wait_for 100 writing
}

test_expect_success 'client gone mid-DATA: its file is dropped' '
	N=$(nmsg) &&
	cut &&
	touch "$T/go" &&
	wait $CLIENT &&
	wait_for 100 not_writing &&
	wait_for 100 tmp_empty &&
	test "$(nmsg)" = "$N"
'

test_expect_success 'daemon stopped mid-DATA: its file is dropped' '
	N=$(nmsg) &&
	cut &&
	mailfs_stop &&
	touch "$T/go" &&
	{ wait $CLIENT || :; } &&
	tmp_empty &&
	test "$(nmsg)" = "$N" &&
	grep -q "stopped" "$T/big/stderr"
'

# a nameless file goes with the process; tmp/ID stays for the next start
test_expect_success 'kill -9 mid-DATA: nothing visible, tmp/ cleaned at start' '
	mailfs_start big -o "listen=127.0.0.1:$PORT,domains=example.test" &&
	N=$(nmsg) &&
	cut &&
	kill -9 $MAILFS_PID &&
	{ wait $MAILFS_PID; unmount "$MNT"; } &&
	touch "$T/go" &&
	{ wait $CLIENT || :; } &&
	test "$(nmsg)" = "$N" &&
	{ tmp_used || say "nothing in tmp/: the file had no name"; } &&
	mailfs_start big -o "listen=127.0.0.1:$PORT,domains=example.test" &&
	tmp_empty &&
	test "$(nmsg)" = "$N"
'

test_done
