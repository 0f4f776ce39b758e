#!/bin/sh
# t3004-smtp-load: 20 concurrent sessions (smtp-source and a Python client
# that remembers every acknowledgement) all land on disk exactly once;
# a kill -9 in the middle of DATA leaves nothing in new/.
. "$(dirname "$0")/test-lib.sh"

PORT=$(free_port)
mailfs_start load -o "listen=127.0.0.1:$PORT,domains=example.test"
NEW=$SPOOL/inbox/new

nmsg() {
	ls "$NEW" | wc -l
}

test_expect_success 'smtp-source: 200 messages over 20 sessions' '
	smtp-source -s 20 -m 200 -f a@x.test -t u@example.test 127.0.0.1:$PORT &&
	test "$(nmsg)" = 200 &&
	test "$(grep -c " received from=a@x.test to=u@example.test " "$SPOOL/log")" = 200 &&
	test "$($PY "$SRCDIR/tests/spool-envelope.py" "$SPOOL" | wc -l)" = 200 &&
	test "$(ls "$SPOOL/inbox/tmp" | wc -l)" = 0
'

test_expect_success 'every acknowledged message is on disk exactly once' '
	$PY - "$PORT" "$NEW" <<-\EOF
	import os, socket, sys, threading
	port, new = int(sys.argv[1]), sys.argv[2]
	acked, lock = {}, threading.Lock()
	def replies(f, n):
	    out = []
	    while len(out) < n:
	        l = f.readline().decode()
	        if l[3] == " ":
	            out.append(l.rstrip())
	    return out
	def client(c):
	    s = socket.create_connection(("127.0.0.1", port), 60)
	    f = s.makefile("rb")
	    replies(f, 1)
	    s.sendall(b"EHLO c%d.test\r\n" % c)
	    replies(f, 1)
	    for m in range(15):
	        subj = "ack-%d-%d" % (c, m)
	        s.sendall(b"MAIL FROM:<c@x.test>\r\nRCPT TO:<u@example.test>\r\n"
	                  b"DATA\r\nSubject: %s\r\n\r\n%s\r\n.\r\n" % (subj.encode(), (b"x" * 70 + b"\r\n") * 70))
	        r = replies(f, 4)[-1]
	        if r.startswith("250 2.0.0 Ok: queued as "):
	            with lock:
	                acked[subj] = r.split()[-1]
	    s.sendall(b"QUIT\r\n")
	    replies(f, 1)
	th = [threading.Thread(target=client, args=(c,)) for c in range(20)]
	for t in th: t.start()
	for t in th: t.join()
	assert len(acked) == 300, len(acked)
	found = {}
	for name in os.listdir(new):
	    with open(os.path.join(new, name), "rb") as fp:
	        for line in fp:
	            if line.startswith(b"Subject: ack-"):
	                found.setdefault(line.split()[1].decode(), []).append(name)
	                break
	for subj, id in acked.items():
	    assert found.get(subj) == [id], (subj, id, found.get(subj))
	assert len(found) == 300
	EOF
'

test_expect_success 'kill -9 during DATA leaves nothing in new/' '
	N=$(nmsg)
	$PY - "$PORT" "$T/ready" <<-\EOF &
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 60)
	f = s.makefile("rb")
	f.readline()
	s.sendall(b"HELO k\r\nMAIL FROM:<k@x.test>\r\nRCPT TO:<u@example.test>\r\nDATA\r\n")
	for i in range(4):
	    f.readline()
	s.sendall(b"Subject: killed\r\n\r\n" + b"half a message\r\n" * 1000)
	s.sendall(b"NOOP\r\n")
	open(sys.argv[2], "w").write("ready\n")
	try:
	    f.read()
	except ConnectionError:
	    pass
	EOF
	CLIENT=$! && track_pid $CLIENT &&
	wait_for 300 test -s "$T/ready" &&
	kill -9 $MAILFS_PID &&
	wait $MAILFS_PID; wait $CLIENT
	# a dead daemon leaves a mount that mountpoint(1) does not see
	fusermount3 -u "$MNT" &&
	test "$(nmsg)" = "$N" &&
	! grep -rl "Subject: killed" "$SPOOL/inbox"
'

test_expect_success 'restarted on the same spool: all there, listener working' '
	mailfs_start load -o "listen=127.0.0.1:$PORT,domains=example.test" &&
	test "$(nmsg)" = "$N" &&
	test "$(ls "$SPOOL/inbox/tmp" | wc -l)" = 0 &&
	swaks --server 127.0.0.1:$PORT --from a@x.test --to u@example.test >out &&
	grep "^<-  250 2.0.0 Ok: queued" out &&
	test "$(nmsg)" = "$((N + 1))"
'

test_done
