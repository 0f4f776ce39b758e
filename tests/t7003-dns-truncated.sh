#!/bin/sh
# t7003-dns-truncated - a name server that truncates its answer for one
# domain (TC=1) and refuses the TCP retry (it listens on UDP only): the
# mail for that domain is deferred 4.4.3, the mail for five other domains
# sent at the same moment is delivered. A fault for one name stays with it.
. "$(dirname "$0")/test-lib.sh"

DNSPORT=$(free_port)
PORT=$(free_port)
start_sink 127.0.0.3:$PORT

# UDP only: MX 10 mx.NAME for goodN.test, mx.goodN.test A 127.0.0.3,
# TC=1 and no answer for bad.test, NXDOMAIN for the rest; logs each query.
# Answers wait a while (bad.test 0.3 s, the others 1 s), so that the
# lookups of good domains are in flight when bad.test's TCP retry fails.
cat >"$T/dns.py" <<-\EOF
import select, socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
print("ready", flush=True)
def labels(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
later = []
while True:
    now = time.monotonic()
    for a in [a for a in later if a[0] <= now]:
        later.remove(a)
        s.sendto(a[1], a[2])
    wait = min([a[0] for a in later], default=now + 1) - now
    if not select.select([s], [], [], max(wait, 0))[0]:
        continue
    q, peer = s.recvfrom(512)
    qid, flags = struct.unpack(">HH", q[:4])
    i, parts = 12, []
    while q[i]:
        parts.append(q[i + 1:i + 1 + q[i]].decode())
        i += 1 + q[i]
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    question = q[12:i + 5]
    name = ".".join(parts).lower()
    print("query", name, qtype, flush=True)
    rcode, tc, answers = 0, 0, []
    if name == "bad.test":
        tc = 1
    elif name.startswith("good") and name.endswith(".test"):
        if qtype == 15:
            answers.append((15, struct.pack(">H", 10) + labels("mx." + name)))
    elif name.startswith("mx.good") and name.endswith(".test"):
        if qtype == 1:
            answers.append((1, socket.inet_aton("127.0.0.3")))
    else:
        rcode = 3
    out = struct.pack(">HHHHHH", qid, 0x8400 | (tc << 9) | (flags & 0x0100) |
        0x80 | rcode, 1, len(answers), 0, 0) + question
    for t, rdata in answers:
        out += struct.pack(">HHHIH", 0xc00c, t, 1, 60, len(rdata)) + rdata
    later.append((time.monotonic() + (0.3 if tc else 1.0), out, peer))
EOF
$PY "$T/dns.py" "$DNSPORT" >"$T/dns.log" 2>&1 &
track_pid $!
wait_for 50 grep -q ready "$T/dns.log"

mailfs_start m -o "dns=127.0.0.1:$DNSPORT,smtp_port=$PORT,retry=1h,tls=none"

# at_once P L BAD: P1..P5 to L@good1.test..L@good5.test and BAD to
# L@bad.test, sent together: the five are delivered, BAD deferred 4.4.3
at_once() {
	for i in 1 2 3 4 5; do send "$1$i" "$2@good$i.test" || return 1; done &&
	send "$3" "$2@bad.test" &&
	for i in 1 2 3 4 5; do
		wait_for 300 status_is sent "$1$i" "$2@good$i.test" delivered 2.0.0 || return 1
	done &&
	wait_for 300 status_is queue "$3" "$2@bad.test" deferred 4.4.3
}

test_expect_success 'a truncated answer for one domain: the others are delivered' '
	at_once g u bad &&
	say "$(grep -c "^query" "$T/dns.log") queries answered; bad.test: $(grep "deferred to=u@bad.test" "$MNT/log" | sed "s/.*text=//")" >&3 &&
	for i in 1 2 3 4 5; do
		grep -q "delivered to=u@good$i.test relay=mx.good$i.test\[127.0.0.3\]:$PORT" "$MNT/log" || return 1
	done
'

test_expect_success 'and again, with the bad domain still being retried' '
	at_once h v bad2
'

test_done
