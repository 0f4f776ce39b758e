#!/bin/sh
# t7001-smtpd-slow - slow clients against the listener: smtpd_timeout is a
# total per command line and per DATA block, not reset by each byte; when
# smtpd_client_limit sessions are open, a newcomer is served and a session
# of the address holding the most is closed with 421 4.4.2; the limit of
# 20 from one address still refuses with 421 4.7.0.
. "$(dirname "$0")/test-lib.sh"

PORT=$(free_port)
mailfs_start slow -o "listen=127.0.0.1:$PORT,domains=example.test,smtpd_timeout=4s,smtpd_client_limit=20"

# trickle PART...: after the greeting send the PARTs at once, then one
# byte a second of "x"; print the reply that ends it and how long it took
trickle() {
	$PY - "$PORT" "$@" <<-\EOF
	import socket, sys, time
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 30)
	buf = s.recv(4096)
	s.sendall("".join(sys.argv[2:]).encode().replace(b"\\n", b"\r\n"))
	t0 = time.monotonic()
	s.settimeout(1)
	buf = b""
	while time.monotonic() - t0 < 30:
	    try:
	        data = s.recv(4096)
	        if not data:
	            break
	        buf += data
	    except socket.timeout:
	        try:
	            s.sendall(b"x")
	        except OSError:
	            break
	    except OSError:
	        break
	lines = buf.decode().splitlines()
	last = lines[-1] if lines else "nothing"
	print("%s after %.1f s" % (last, time.monotonic() - t0))
	EOF
}

# elapsed OUT: the seconds in trickle's output, as an integer
elapsed() { sed -n 's/.* after \([0-9]*\)\.[0-9] s$/\1/p' "$1"; }

test_expect_success 'a command trickled one byte a second: 421 4.4.2 after smtpd_timeout' '
	trickle "EHLO x" >out && say "$(cat out)" >&3 &&
	grep "^421 4.4.2 .*timeout exceeded after" out &&
	t=$(elapsed out) && test "$t" -ge 3 && test "$t" -le 12
'

test_expect_success 'a message trickled one byte a second: 421 4.4.2 after smtpd_timeout' '
	trickle "EHLO x\nMAIL FROM:<a@x.test>\nRCPT TO:<u@example.test>\nDATA\nSubject: s\n\n" >out &&
	say "$(cat out)" >&3 &&
	grep "^421 4.4.2 .*timeout exceeded after" out &&
	t=$(elapsed out) && test "$t" -ge 3 && test "$t" -le 12 &&
	! ls "$SPOOL"/inbox/new/* 2>/dev/null | grep -q .
'

test_expect_success 'a client that talks on time is not cut' '
	$PY - "$PORT" <<-\EOF
	import socket, sys, time
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 30)
	f = s.makefile("rb")
	f.readline()
	for cmd in (b"EHLO a", b"NOOP", b"NOOP", b"QUIT"):
	    time.sleep(1.5)	# each well under smtpd_timeout, all above it
	    s.sendall(cmd + b"\r\n")
	    while True:
	        l = f.readline()
	        assert l[:1] in b"22", l
	        if l[3:4] == b" ":
	            break
	EOF
'

# LORIS (100; make stress: 1000) slowloris sockets from 127.0.0.2 on (20
# an address, the most from one) for 20 slots, trickling a byte a second
# and reconnecting 0.2 s after being cut; then an honest client from
# 127.0.0.1 sends 5 messages, one connection each. Prints how long they
# took and what the slowloris sockets got. smtpd_timeout is the default
# here: no slot frees itself.
LORIS=${LORIS:-100}
test_expect_success 'all slots held by slowloris sockets: an honest client is served' '
	mailfs_stop &&
	mailfs_start loris -o "listen=127.0.0.1:$PORT,domains=example.test,smtpd_client_limit=20" &&
	$PY - "$PORT" "$LORIS" <<-\EOF >out
	import resource, selectors, smtplib, socket, sys, threading, time
	port, nloris = int(sys.argv[1]), int(sys.argv[2])
	soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
	resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, nloris + 256)), hard))
	sel = selectors.DefaultSelector()
	stop = threading.Event()
	got = {}
	opened = [0]
	def connect(src):
	    s = socket.create_connection(("127.0.0.1", port), 10, (src, 0))
	    s.setblocking(False)
	    sel.register(s, selectors.EVENT_READ, src)
	    opened[0] += 1
	def loris():
	    tick = time.monotonic()
	    again = []
	    while not stop.is_set():
	        for key, _ in sel.select(0.1):
	            s = key.fileobj
	            try:
	                data = s.recv(4096)
	            except OSError:
	                data = b""
	            for l in data.decode().splitlines():
	                got[l[:9]] = got.get(l[:9], 0) + 1
	            if not data:
	                sel.unregister(s)
	                s.close()
	                again.append((time.monotonic() + 0.2, key.data))
	        now = time.monotonic()
	        for when, src in [a for a in again if a[0] <= now]:
	            again.remove((when, src))
	            connect(src)
	        if now - tick >= 1:
	            tick = now
	            for key in list(sel.get_map().values()):
	                try:
	                    key.fileobj.send(b"x")
	                except OSError:
	                    pass
	for i in range(nloris):
	    connect("127.0.%d.%d" % divmod(2 + i // 20, 256))
	th = threading.Thread(target=loris)
	th.start()
	time.sleep(1)
	took = []
	for n in range(5):
	    t0 = time.monotonic()
	    try:
	        c = smtplib.SMTP("127.0.0.1", port, timeout=20)
	        c.ehlo("honest")
	        c.sendmail("a@x.test", ["u@example.test"],
	            "Subject: honest%d\r\n\r\nhi\r\n" % n)
	        c.quit()
	        took.append("%.2f" % (time.monotonic() - t0))
	    except Exception as e:
	        took.append("failed: %r" % e)
	stop.set()
	th.join()
	print("honest client: 5 messages in", " ".join(took),
	    "s; slowloris sockets opened", opened[0], "got",
	    sorted(got.items()))
	EOF
	say "$(cat out)" >&3 &&
	! grep "failed" out &&
	grep "421 4.4.2" out &&
	test "$(grep -l "^Subject: honest" "$SPOOL"/inbox/new/* | wc -l)" = 5 &&
	grep "refused client=127.0.[0-9]*.[0-9]* reason=\"slot reclaimed for a new client\"" "$SPOOL/log"
'

test_expect_success 'a newcomer from an address at its own limit is still refused' '
	$PY - "$PORT" <<-\EOF >out
	import socket, sys
	port = int(sys.argv[1])
	keep = []
	for i in range(21):
	    s = socket.create_connection(("127.0.0.1", port), 10, ("127.0.0.9", 0))
	    keep.append(s)
	    print(s.makefile("rb").readline().decode().rstrip())
	EOF
	test "$(grep -c "^220 " out)" = 20 &&
	tail -n 1 out | grep "^421 4.7.0 .*too many connections from this address"
'

test_done
