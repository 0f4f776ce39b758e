#!/bin/sh
# t2003-deliver-aiosmtpd - delivery against aiosmtpd receivers (Python,
# STARTTLS with a self-signed certificate made here): tls=may, encrypt and
# verify (unknown CA, tls_ca, wrong host name), per-recipient replies in
# one transaction without PIPELINING, SIZE, one connection carrying
# several messages, and the concurrency limit.
. "$(dirname "$0")/test-lib.sh"

$PY -c 'import aiosmtpd' 2>/dev/null || test_fail_all "no python3-aiosmtpd (tests/deps.sh installs it)"

cat >"$T/smtpd.py" <<'PYEOF'
# smtpd.py DIR HOST PORT: an aiosmtpd receiver. Env: TLS_CERT/TLS_KEY
# (offer STARTTLS), BADTLS (offer it, but only TLS 1.0: handshakes fail),
# SIZE (advertised limit), DELAY (seconds before the 250 to DATA),
# MAXCONN (more connections at once get "421" as greeting). Local parts bad* get 550, soft* 450. DIR/msg.N holds each
# message with X-TLS/X-Rcpts/X-Mail-Options on top; DIR/stats counts
# connections (conns, cur, max), messages (msgs) and QUITs (quits).
import asyncio, os, ssl, sys
from aiosmtpd.smtp import SMTP

out, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
cert, key = os.environ.get("TLS_CERT"), os.environ.get("TLS_KEY")
delay = float(os.environ.get("DELAY", "0"))
state = {"conns": 0, "cur": 0, "max": 0, "msgs": 0, "quits": 0}

def save():
    tmp = os.path.join(out, "stats.tmp")
    with open(tmp, "w") as f:
        for k, v in state.items():
            f.write("%s %d\n" % (k, v))
    os.rename(tmp, os.path.join(out, "stats"))

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, options):
        local = address.split("@")[0]
        if local.startswith("bad"):
            return "550 5.1.1 <%s>: no such user" % address
        if local.startswith("soft"):
            return "450 4.2.1 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if delay:
            await asyncio.sleep(delay)
        state["msgs"] += 1
        with open(os.path.join(out, "msg.%d" % state["msgs"]), "wb") as f:
            f.write(("X-TLS: %s\nX-Rcpts: %s\nX-Mail-Options: %s\n" % (
                "yes" if session.ssl else "no", " ".join(envelope.rcpt_tos),
                " ".join(envelope.mail_options))).encode())
            f.write(envelope.original_content)
        save()
        return "250 2.0.0 OK"

    async def handle_QUIT(self, server, session, envelope):
        state["quits"] += 1
        save()
        return "221 Bye"

maxconn = int(os.environ.get("MAXCONN", "0"))

class Counting(SMTP):
    def connection_made(self, transport):
        if maxconn and state["cur"] >= maxconn and not hasattr(self, "counted"):
            state["refused"] = state.get("refused", 0) + 1
            save()
            transport.write(b"421 4.7.0 too many connections\r\n")
            transport.close()
            return
        # called again when STARTTLS wraps the transport: count once
        if not getattr(self, "counted", False):
            self.counted = True
            state["conns"] += 1
            state["cur"] += 1
            state["max"] = max(state["max"], state["cur"])
            save()
        super().connection_made(transport)

    def connection_lost(self, exc):
        if getattr(self, "counted", False) and not getattr(self, "lost", False):
            self.lost = True
            state["cur"] -= 1
            save()
        super().connection_lost(exc)

kw = {"hostname": "mx.a.test", "decode_data": False}
if os.environ.get("SIZE"):
    kw["data_size_limit"] = int(os.environ["SIZE"])
if cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if os.environ.get("BADTLS"):
        ctx.maximum_version = ssl.TLSVersion.TLSv1
    kw["tls_context"] = ctx
loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
loop.run_until_complete(loop.create_server(
    lambda: Counting(Handler(), **kw), host, port))
save()
open(os.path.join(out, "ready"), "w").close()
loop.run_forever()
PYEOF

# smtpd NAME HOST [VAR=VALUE...]: start a receiver writing into $T/NAME
smtpd() {
	name=$1 host=$2; shift 2
	mkdir -p "$T/$name"
	env "$@" "$PY" "$T/smtpd.py" "$T/$name" "$host" "$PORT" \
		>"$T/$name.log" 2>&1 &
	track_pid $!
	wait_for 100 test -e "$T/$name/ready"
}

# stat NAME KEY: a counter of receiver NAME
stat() {
	awk -v k="$2" '$1 == k { print $2 }' "$T/$1/stats"
}

# idle NAME: receiver NAME has no connection open
idle() {
	test "$(stat "$1" cur)" = 0
}

# got NAME RCPT HEADER-REGEX: receiver NAME has a message for RCPT with it
got() {
	grep -l "^X-Rcpts: .*$2" "$T/$1"/msg.* 2>/dev/null |
		xargs -r grep -l "$3" | grep -q .
}

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.a.test \
	-addext subjectAltName=DNS:mx.a.test \
	-keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 ||
	test_fail_all "openssl cannot make a certificate"

DNSPORT=$(free_port)
PORT=$(free_port)
start_dns "$DNSPORT" \
	--mx-host=a.test,mx.a.test,10 --host-record=mx.a.test,127.0.0.2 \
	--mx-host=wrongname.test,other.test,10 --host-record=other.test,127.0.0.2 \
	--host-record=plain.test,127.0.0.3 --host-record=size.test,127.0.0.4 \
	--host-record=slow.test,127.0.0.5 --host-record=badtls.test,127.0.0.6 \
	--host-record=limit.test,127.0.0.7
smtpd tls 127.0.0.2 TLS_CERT="$T/cert.pem" TLS_KEY="$T/key.pem"
smtpd plain 127.0.0.3
smtpd size 127.0.0.4 SIZE=400
smtpd slow 127.0.0.5 DELAY=0.3
smtpd limit 127.0.0.7 DELAY=0.3 MAXCONN=1
smtpd badtls 127.0.0.6 TLS_CERT="$T/cert.pem" TLS_KEY="$T/key.pem" BADTLS=1
OPTS="dns=127.0.0.1:$DNSPORT,smtp_port=$PORT,retry=1h"

mailfs_start may -o "$OPTS,tls=may"

test_expect_success 'tls=may: STARTTLS when offered' '
	send m1 b@a.test &&
	wait_for 100 status_is sent m1 b@a.test delivered 2.0.0 &&
	got tls b@a.test "^X-TLS: yes"
'

test_expect_success 'tls=may: in clear when not offered; SIZE given' '
	send m2 b@plain.test &&
	wait_for 100 status_is sent m2 b@plain.test delivered 2.0.0 &&
	got plain b@plain.test "^X-TLS: no" &&
	got plain b@plain.test "^X-Mail-Options: SIZE=[0-9]"
'

test_expect_success 'tls=may: the TLS handshake fails, again in clear' '
	send m1b b@badtls.test &&
	wait_for 100 status_is sent m1b b@badtls.test delivered 2.0.0 &&
	got badtls b@badtls.test "^X-TLS: no" &&
	test "$(stat badtls conns)" = 2
'

test_expect_success 'one transaction, each recipient its own reply' '
	send m3 ok1@plain.test bad1@plain.test soft1@plain.test ok2@plain.test &&
	wait_for 100 status_is queue m3 ok2@plain.test delivered 2.0.0 &&
	status_is queue m3 ok1@plain.test delivered 2.0.0 &&
	status_is queue m3 soft1@plain.test deferred 4.2.1 &&
	status_is queue m3 bad1@plain.test failed 5.1.1 &&
	grep -q "^bad1@plain.test failed .*no such user (in reply to RCPT TO)\$" "$d/status" &&
	got plain "ok1@plain.test ok2@plain.test\$" .
'

test_expect_success 'larger than the server SIZE: failed 5.3.4, not sent' '
	{ printf "From: a@mailfs.test\nTo: big@size.test\nSubject: big\n\n"; seq 1 200; } >"$T/big" &&
	cp "$T/big" "$MNT/outbox/big" &&
	wait_for 100 status_is failed big big@size.test failed 5.3.4 &&
	! ls "$T"/size/msg.* 2>/dev/null
'

test_expect_success 'tls=encrypt: delivered over TLS, never in clear' '
	mailfs_stop &&
	mailfs_start encrypt -o "$OPTS,tls=encrypt" &&
	send e0 c@badtls.test &&
	wait_for 100 status_is queue e0 c@badtls.test deferred 4.7.5 &&
	send e1 c@a.test &&
	wait_for 100 status_is sent e1 c@a.test delivered 2.0.0 &&
	got tls c@a.test "^X-TLS: yes"
'

test_expect_success 'tls=encrypt: STARTTLS not offered, deferred 4.7.4' '
	send e2 c@plain.test &&
	wait_for 100 status_is queue e2 c@plain.test deferred 4.7.4 &&
	! got plain c@plain.test .
'

test_expect_success 'tls=verify: unknown CA, deferred 4.7.5' '
	mailfs_stop &&
	mailfs_start verify -o "$OPTS,tls=verify" &&
	send v1 d@a.test &&
	wait_for 100 status_is queue v1 d@a.test deferred 4.7.5 &&
	grep -q "deferred to=d@a.test.*certificate" "$MNT/log" &&
	! got tls d@a.test .
'

test_expect_success 'tls=verify with tls_ca: delivered' '
	mailfs_stop &&
	mailfs_start verifyca -o "$OPTS,tls=verify,tls_ca=$T/cert.pem" &&
	send v2 e@a.test &&
	wait_for 100 status_is sent v2 e@a.test delivered 2.0.0 &&
	got tls e@a.test "^X-TLS: yes"
'

test_expect_success 'tls=verify: certificate for another name, deferred 4.7.5' '
	send v3 f@wrongname.test &&
	wait_for 100 status_is queue v3 f@wrongname.test deferred 4.7.5 &&
	! got tls f@wrongname.test .
'

test_expect_success 'one connection carries several messages' '
	mailfs_stop &&
	wait_for 100 idle plain &&
	before=$(stat plain conns) && quits=$(stat plain quits) &&
	mailfs_start reuse -o "$OPTS,tls=none,concurrency=1" &&
	for i in 1 2 3 4 5; do send "r$i" "reuse$i@plain.test" || return 1; done &&
	for i in 1 2 3 4 5; do
		wait_for 100 status_is sent "r$i" "reuse$i@plain.test" delivered 2.0.0 || return 1
	done &&
	test "$(stat plain conns)" = $((before + 1))
'

test_expect_success 'idle connection closed with QUIT' '
	wait_for 200 idle plain &&
	test "$(stat plain quits)" = $((quits + 1)) &&
	mountpoint -q "$MNT"
'

test_expect_success 'concurrency: never more connections than allowed' '
	mailfs_stop &&
	mailfs_start conc -o "$OPTS,tls=none,concurrency=2" &&
	for i in 1 2 3 4 5 6 7 8; do send "c$i" "conc$i@slow.test" || return 1; done &&
	for i in 1 2 3 4 5 6 7 8; do
		wait_for 200 status_is sent "c$i" "conc$i@slow.test" delivered 2.0.0 || return 1
	done &&
	max=$(stat slow max) && say "at most $max at once" &&
	test "$max" -ge 1 && test "$max" -le 2
'

test_expect_success 'a host that takes fewer connections: the mail waits for those it takes' '
	for i in 1 2 3 4 5 6; do send "l$i" "lim$i@limit.test" || return 1; done &&
	for i in 1 2 3 4 5 6; do
		wait_for 200 status_is sent "l$i" "lim$i@limit.test" delivered 2.0.0 || return 1
	done &&
	say "refused $(stat limit refused) connections"
'

test_done
