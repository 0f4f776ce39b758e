#!/bin/sh
# t3003-smtp-tls: STARTTLS on the listener with a certificate made here:
# openssl s_client delivers over it, the session starts over after the
# handshake, and commands injected before the handshake are discarded
# (CVE-2011-0411).
. "$(dirname "$0")/test-lib.sh"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=mailfs.test \
	>/dev/null 2>&1 || test_fail_all "openssl cannot make a certificate"
PORT=$(free_port)
mailfs_start tls -o "listen=127.0.0.1:$PORT,domains=example.test,tls_cert=$T/cert.pem,tls_key=$T/key.pem"
NEW=$SPOOL/inbox/new

test_expect_success 'EHLO offers STARTTLS' '
	swaks --server 127.0.0.1:$PORT --quit-after EHLO >out &&
	grep "^<-  250-STARTTLS" out
'

test_expect_success 'openssl s_client -starttls smtp delivers a message' '
	printf "EHLO client.test\nMAIL FROM:<a@x.test>\nRCPT TO:<u@example.test>\nDATA\nSubject: over tls\n\nsecret\n.\nQUIT\n" |
		openssl s_client -starttls smtp -connect 127.0.0.1:$PORT \
		-crlf -ign_eof -quiet >out 2>err &&
	grep "^250 2.0.0 Ok: queued as" out &&
	grep "^221 2.0.0" out &&
	! grep -i "unexpected eof" err
'

test_expect_success 'after the handshake EHLO no longer offers STARTTLS' '
	grep "^250-PIPELINING" out &&
	! grep STARTTLS out
'

test_expect_success 'the message says it came over TLS' '
	ID=$(tr -d "\r" <out | sed -n "s/^250 2.0.0 Ok: queued as //p") &&
	grep "^	(using TLSv1\.[23] with cipher " "$NEW/$ID" &&
	grep "with ESMTPS id $ID" "$NEW/$ID" &&
	$PY "$SRCDIR/tests/spool-envelope.py" "$SPOOL" "$ID" >actual &&
	grep "^tls yes$" actual
'

test_expect_success 'swaks -tls delivers too' '
	swaks --server 127.0.0.1:$PORT -tls --from a@x.test --to u@example.test >out &&
	grep "^<~  250 2.0.0 Ok: queued" out
'

# The client pipelines commands behind STARTTLS in the clear; a server that
# kept them would run them as if said under TLS.
test_expect_success 'commands pipelined behind STARTTLS are discarded' '
	$PY - "$PORT" >out <<-\EOF &&
	import socket, ssl, sys
	def replies(f, n):
	    out = []
	    while len(out) < n:
	        l = f.readline().decode()
	        if l[3] == " ":
	            out.append(l.rstrip())
	    return out
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 30)
	f = s.makefile("rb")
	replies(f, 1)
	s.sendall(b"EHLO a.test\r\n")
	replies(f, 1)
	s.sendall(b"STARTTLS\r\nEHLO evil.test\r\nMAIL FROM:<evil@x.test>\r\n")
	print(replies(f, 1)[0][:3])
	ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
	ctx.check_hostname = False
	ctx.verify_mode = ssl.CERT_NONE
	t = ctx.wrap_socket(s, server_hostname="mailfs.test")
	g = t.makefile("rb")
	t.sendall(b"MAIL FROM:<a@x.test>\r\nEHLO b.test\r\nSTARTTLS\r\nQUIT\r\n")
	for r in replies(g, 4):
	    print(r[:3])
	EOF
	printf "220\n503\n250\n503\n221\n" >expect &&
	test_cmp expect out
'

test_expect_success 'STARTTLS with an argument: 501, the session stays in the clear' '
	swaks --server 127.0.0.1:$PORT --quit-after EHLO >/dev/null &&
	$PY - "$PORT" >out <<-\EOF &&
	import socket, sys
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 30)
	s.sendall(b"EHLO a.test\r\nSTARTTLS now\r\nNOOP\r\nQUIT\r\n")
	for l in s.makefile("rb"):
	    if l[3:4] == b" ":
	        print(l[:3].decode())
	EOF
	printf "220\n250\n501\n250\n221\n" >expect &&
	test_cmp expect out
'

test_expect_success 'a TLS handshake that fails leaves the listener healthy' '
	printf "garbage\r\n" | $PY -c "
import socket, sys
s = socket.create_connection((\"127.0.0.1\", $PORT), 10)
f = s.makefile(\"rb\")
f.readline()
s.sendall(b\"EHLO x\\r\\nSTARTTLS\\r\\n\")
while not f.readline().startswith(b\"220 \"):
    pass
s.sendall(b\"\\x16\\x03\\x01garbage\\r\\n\" * 10)
print(f.read())" >out &&
	swaks --server 127.0.0.1:$PORT --from a@x.test --to u@example.test >out &&
	grep "^<-  250 2.0.0 Ok: queued" out
'

test_done
