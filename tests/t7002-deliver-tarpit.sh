#!/bin/sh
# t7002-deliver-tarpit - MX hosts that trickle their greeting one byte at
# a time: each SMTP step has a total deadline (smtp_helo_timeout here), so
# a tarpit costs its deadline and the next MX host is tried; and with
# concurrency_per_domain two tarpitting domains cannot take every slot
# from a healthy one.
. "$(dirname "$0")/test-lib.sh"

DNSPORT=$(free_port)
PORT=$(free_port)
start_dns "$DNSPORT" \
	--mx-host=pit.test,mx.pit.test,10 --host-record=mx.pit.test,127.0.0.4 \
	--mx-host=backup.test,mx.pit.test,10 --mx-host=backup.test,mx.ok.test,20 \
	--host-record=mx.ok.test,127.0.0.3 \
	--mx-host=pit2.test,mx.pit2.test,10 --host-record=mx.pit2.test,127.0.0.5 \
	--mx-host=ok.test,mx.ok.test,10
start_sink 127.0.0.3:$PORT

# the tarpit on 127.0.0.4 and .5: "220 tarpit" one byte every $1 seconds;
# logs "open ADDR N" with the connections open to ADDR
cat >"$T/tarpit.py" <<-\EOF
import socket, sys, threading, time
port, delay = int(sys.argv[1]), float(sys.argv[2])
lock = threading.Lock()
live = {}
def serve(c, addr):
    with lock:
        live[addr] = live.get(addr, 0) + 1
        print("open", addr, live[addr], flush=True)
    try:
        for b in b"220 tarpit\r\n":
            c.sendall(bytes([b]))
            time.sleep(delay)
        while c.recv(1024):
            pass
    except OSError:
        pass
    with lock:
        live[addr] -= 1
    c.close()
def listen(addr):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, addr), daemon=True).start()
for a in ("127.0.0.4", "127.0.0.5"):
    threading.Thread(target=listen, args=(a,), daemon=True).start()
print("ready", flush=True)
while True:
    time.sleep(60)
EOF

# start_tarpit DELAY: (re)start it with DELAY seconds per byte
start_tarpit() {
	[ -n "${PIT_PID:-}" ] && kill_pid "$PIT_PID"
	$PY "$T/tarpit.py" "$PORT" "$1" >"$T/tarpit.log" 2>&1 &
	PIT_PID=$!
	track_pid $PIT_PID
	wait_for 50 grep -q ready "$T/tarpit.log"
}

# since START: whole seconds from START (date +%s) to now
since() { echo $(($(date +%s) - $1)); }

start_tarpit 1
mailfs_start m -o "dns=127.0.0.1:$DNSPORT,smtp_port=$PORT,retry=1h,tls=none,smtp_helo_timeout=3s"

test_expect_success 'a greeting trickled a byte a second: deferred 4.4.2 at smtp_helo_timeout' '
	t0=$(date +%s) &&
	send p1 a@pit.test &&
	wait_for 300 status_is queue p1 a@pit.test deferred 4.4.2 &&
	t=$(since $t0) && say "deferred after ${t}s (smtp_helo_timeout=3s, a byte a second)" >&3 &&
	test "$t" -ge 2 && test "$t" -le 20 &&
	grep -q "deferred to=a@pit.test relay=mx.pit.test\[127.0.0.4\]:$PORT code=4.4.2 text=\"conversation with .* timed out while receiving the initial server greeting" "$MNT/log"
'

test_expect_success 'the next MX host is tried after the tarpit' '
	t0=$(date +%s) &&
	send p2 b@backup.test &&
	wait_for 300 status_is sent p2 b@backup.test delivered 2.0.0 &&
	t=$(since $t0) && say "delivered by the second MX after ${t}s" >&3 &&
	test "$t" -le 20 &&
	grep -q "delivered to=b@backup.test relay=mx.ok.test\[127.0.0.3\]:$PORT" "$MNT/log"
'

test_expect_success 'two tarpitting domains with 2 messages each cannot stop a healthy one' '
	mailfs_stop &&
	start_tarpit 20 &&
	mailfs_start c -o "dns=127.0.0.1:$DNSPORT,smtp_port=$PORT,retry=1h,tls=none,concurrency=3,concurrency_per_domain=1" &&
	send c1 a@pit.test && send c2 b@pit.test &&
	send c3 a@pit2.test && send c4 b@pit2.test &&
	wait_for 100 grep -q "open 127.0.0.5 1" "$T/tarpit.log" &&
	wait_for 100 grep -q "open 127.0.0.4 1" "$T/tarpit.log" &&
	t0=$(date +%s) &&
	send h1 u@ok.test &&
	wait_for 300 status_is sent h1 u@ok.test delivered 2.0.0 &&
	t=$(since $t0) && say "healthy domain delivered after ${t}s beside two tarpits" >&3 &&
	test "$t" -le 20 &&
	! grep -q "open 127.0.0.[45] 2" "$T/tarpit.log"
'

test_done
