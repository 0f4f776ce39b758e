#!/bin/sh
# t4001-inbox - inbox/ID/ in the mount: mail received by the listener (swaks)
# and mail other tools put into the Maildir shows up decoded after upas/fs
# (header files, body, info, numbered MIME part dirs); mblaze reads the same
# Maildir; rm -r inbox/ID deletes the message from disk.
. "$(dirname "$0")/test-lib.sh"

PORT=$(free_port)
Q="'"

# inbox_dir SUBJECT: the inbox/ID dir whose subject file holds SUBJECT
inbox_dir() {
	for d in "$MNT"/inbox/*/; do
		[ "$(cat "$d/subject" 2>/dev/null)" = "$1" ] || continue
		echo "${d%/}"
		return 0
	done
	return 1
}

# send FILE: the message in FILE through the listener, from alice to bob
send() {
	swaks --server "127.0.0.1:$PORT" --from alice@example.org \
		--to bob@example.test --data "$1" >"$T/swaks.out" 2>&1 ||
		{ cat "$T/swaks.out"; return 1; }
}

# Maildir delivery by hand, as another tool does it: tmp/, then new/ or cur/
drop() {
	cp "$1" "$SPOOL/inbox/tmp/$2" && mv "$SPOOL/inbox/tmp/$2" "$SPOOL/inbox/$3/$2"
}

test_expect_success 'mailfs starts with a listener' '
	mailfs_start in -o "listen=127.0.0.1:$PORT,domains=example.test" &&
	wait_for 50 "$PY" -c "import socket; socket.create_connection((\"127.0.0.1\", $PORT), 1)"
'

test_expect_success 'a plain message: header files decoded, body, info' '
	cat >"$T/plain.eml" <<-\EOF &&
	From: =?utf-8?q?J=C3=BCrgen?= <alice@example.org>
	To: Bob <bob@example.test>
	Subject: =?iso-8859-1?q?caf=E9?= and
	 =?utf-8?b?w6l0w6k=?=
	Date: Mon, 2 Mar 2026 10:00:00 +0000
	Message-ID: <plain-1@example.org>

	Hello Bob.
	EOF
	send "$T/plain.eml" &&
	wait_for 50 inbox_dir "café and été" &&
	D=$(inbox_dir "café and été") &&
	printf "%s\n" "Jürgen <alice@example.org>" >"$T/expect" &&
	test_cmp "$T/expect" "$D/from" &&
	printf "%s\n" "Bob <bob@example.test>" >"$T/expect" &&
	test_cmp "$T/expect" "$D/to" &&
	printf "%s\n" "plain-1@example.org" >"$T/expect" &&
	test_cmp "$T/expect" "$D/messageid" &&
	printf "%s\n" "Mon, 2 Mar 2026 10:00:00 +0000" >"$T/expect" &&
	test_cmp "$T/expect" "$D/date" &&
	test ! -s "$D/cc" && test ! -s "$D/replyto" &&
	sed "1,/^\$/d" "$D/raw" >"$T/expect" &&
	head -n 1 "$T/expect" | grep -qx "Hello Bob." &&
	test_cmp "$T/expect" "$D/body" &&
	grep -qx "subject café and été" "$D/info" &&
	grep -qx "from Jürgen <alice@example.org>" "$D/info" &&
	grep -qx "size $(wc -c <"$D/raw")" "$D/info" &&
	grep -q "^Subject: café and été$" "$D/header" &&
	head -n 1 "$D/raw" | grep -q "^Return-Path: <alice@example.org>" &&
	grep -qx "from alice@example.org" "$D/envelope" &&
	test ! -e "$D/1"
'

# A decoded file is put into the kernel's page cache at its first open
# only (fs/tree.c): pages the kernel dropped while it kept the inode come
# back by READ.
test_expect_success 'decoded files read the same after the kernel dropped their pages' '
	if [ "$(id -u)" -ne 0 ]; then test_skip "drop_caches needs root"; return 0; fi
	D=$(inbox_dir "café and été") &&
	for f in subject from body header; do cat "$D/$f" >"$T/$f.1" || return 1; done &&
	sync && echo 1 >/proc/sys/vm/drop_caches &&
	for f in subject from body header; do
		cat "$D/$f" >"$T/$f.2" && test_cmp "$T/$f.1" "$T/$f.2" || return 1
	done &&
	test "$(cat "$D/subject")" = "café and été"
'

test_expect_success 'the top level lists its files in the upas/fs order' '
	D=$(inbox_dir "café and été") &&
	ls -U "$D" >"$T/actual" &&
	printf "%s\n" from to cc replyto subject date messageid header body \
		info >"$T/expect" &&
	head -n 10 "$T/actual" | test_cmp "$T/expect" - &&
	grep -qx raw "$T/actual" && grep -qx envelope "$T/actual"
'

test_expect_success 'a MIME message: parts as numbered dirs, decoded' '
	"$PY" -c "import sys; sys.stdout.buffer.write(bytes(range(256)) * 3)" \
		>"$T/blob" &&
	{
		cat <<-\EOF
		From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.org>
		To: bob@example.test
		Cc: "Doe, Carol" <carol@example.test>
		Reply-To: =?UTF-8?B?SsO8cmdlbg==?= <j@example.org>
		Subject: =?UTF-8?B?UmVwb3J0IMO8YmVy?=
		 =?UTF-8?Q?_mime?=
		Message-ID: <mime-1@example.org>
		MIME-Version: 1.0
		Content-Type: multipart/mixed; boundary="outer"

		--outer
		Content-Type: multipart/alternative; boundary="inner"

		--inner
		Content-Type: text/plain; charset=iso-8859-1
		Content-Transfer-Encoding: quoted-printable

		Gr=FC=DFe aus K=F6ln
		--inner
		Content-Type: text/html; charset=utf-8

		<p>Gr&uuml;&szlig;e</p>
		--inner--

		--outer
		Content-Type: application/octet-stream
		Content-Disposition: attachment; filename*=UTF-8QQr%C3%A9sum%C3%A9.bin
		Content-Transfer-Encoding: base64

		EOF
		base64 <"$T/blob"
		cat <<-\EOF
		--outer
		Content-Type: message/rfc822

		From: orig@example.org
		Subject: inner message

		forwarded text
		--outer--
		EOF
	} | sed "s/UTF-8QQ/UTF-8$Q$Q/" >"$T/mime.eml" &&
	send "$T/mime.eml" &&
	wait_for 50 inbox_dir "Report über mime" &&
	D=$(inbox_dir "Report über mime") &&
	printf "%s\n" "André <andre@example.org>" >"$T/expect" &&
	test_cmp "$T/expect" "$D/from" &&
	printf "%s\n" "\"Doe, Carol\" <carol@example.test>" >"$T/expect" &&
	test_cmp "$T/expect" "$D/cc" &&
	printf "%s\n" "Jürgen <j@example.org>" >"$T/expect" &&
	test_cmp "$T/expect" "$D/replyto" &&
	printf "Grüße aus Köln\n" >"$T/expect" &&
	test_cmp "$T/expect" "$D/body" &&
	ls "$D/1" >"$T/actual" &&
	printf "%s\n" 1 2 body filename raw type >"$T/expect" &&
	test_cmp "$T/expect" "$T/actual" &&
	echo multipart/alternative >"$T/expect" &&
	test_cmp "$T/expect" "$D/1/type" &&
	echo text/plain >"$T/expect" && test_cmp "$T/expect" "$D/1/1/type" &&
	echo text/html >"$T/expect" && test_cmp "$T/expect" "$D/1/2/type" &&
	grep -q "Gr&uuml;" "$D/1/2/body" &&
	grep -q "^Content-Type: text/html" "$D/1/2/raw" &&
	echo "résumé.bin" >"$T/expect" && test_cmp "$T/expect" "$D/2/filename" &&
	cmp "$T/blob" "$D/2/body" &&
	test ! -s "$D/1/filename" &&
	echo message/rfc822 >"$T/expect" && test_cmp "$T/expect" "$D/3/type" &&
	grep -q "^Subject: inner message" "$D/3/body" &&
	printf "forwarded text" >"$T/expect" &&
	tr -d "\r" <"$D/3/1/body" | test_cmp "$T/expect" - &&
	test ! -e "$D/4"
'

test_expect_success 'mail dropped into the Maildir by another tool shows up' '
	printf "From: other@example.net\nSubject: by hand\n\nmanual\n" >"$T/hand.eml" &&
	drop "$T/hand.eml" 1700000000.M1P1.other.host new &&
	wait_for 50 inbox_dir "by hand" &&
	D=$(inbox_dir "by hand") &&
	printf "manual\n" >"$T/expect" && test_cmp "$T/expect" "$D/body" &&
	cmp "$T/hand.eml" "$D/raw"
'

test_expect_success 'a message in cur/ shows its Maildir flags in info' '
	printf "From: other@example.net\nSubject: seen\n\nread\n" >"$T/seen.eml" &&
	drop "$T/seen.eml" "1700000001.M2P2.other.host:2,RS" cur &&
	wait_for 50 inbox_dir seen &&
	D=$(inbox_dir seen) &&
	grep -qx "flags RS" "$D/info"
'

test_expect_success 'a CRLF message by hand: folded names unfold to one space' '
	printf "From: \"Ann\r\n Lee\" <ann@example.net>\r\nSubject: crlf\r\n\tfold\r\n\r\nx\r\n" >"$T/crlf.eml" &&
	drop "$T/crlf.eml" 1700000002.M3P3.other.host new &&
	wait_for 50 inbox_dir "crlf fold" &&
	D=$(inbox_dir "crlf fold") &&
	echo "Ann Lee <ann@example.net>" >"$T/expect" &&
	test_cmp "$T/expect" "$D/from"
'

test_expect_success 'what is not a file in new/ or cur/ is no message' '
	mkdir "$SPOOL/inbox/new/1700000003.M4P4.other.host" &&
	test_when_finished "rmdir \"$SPOOL/inbox/new/1700000003.M4P4.other.host\"" &&
	! ls "$MNT/inbox" | grep -q 1700000003.M4P4 &&
	ls "$MNT/inbox"/* >/dev/null
'

test_expect_success 'mblaze reads the same Maildir' '
	mlist "$SPOOL/inbox" >"$T/list" &&
	test "$(wc -l <"$T/list")" -eq "$(ls "$MNT/inbox" | wc -l)" &&
	grep "/1700000000.M1P1.other.host" "$T/list" | mshow -q >"$T/mshow" &&
	grep -q "^Subject: by hand" "$T/mshow" &&
	f=$(grep -l "mime-1@example.org" $(cat "$T/list")) &&
	mshow -t "$f" >"$T/parts" &&
	grep -q "multipart/alternative" "$T/parts" &&
	grep -q "message/rfc822" "$T/parts"
'

test_expect_success 'rm -r inbox/ID deletes the message from disk' '
	D=$(inbox_dir "by hand") &&
	rm -r "$D" &&
	test ! -e "$D" &&
	! ls "$SPOOL/inbox/new" "$SPOOL/inbox/cur" | grep -q 1700000000.M1P1 &&
	! inbox_dir "by hand" &&
	D=$(inbox_dir "Report über mime") && id=${D##*/} &&
	rm -r "$D" &&
	! ls "$SPOOL/inbox/new" "$SPOOL/inbox/cur" | grep -q "^$id" &&
	inbox_dir "café and été" >/dev/null
'

test_expect_success 'the daemon is still healthy and stops cleanly' '
	kill -0 "$MAILFS_PID" && ls "$MNT/inbox" >/dev/null &&
	mailfs_stop &&
	! grep -E "ERROR: AddressSanitizer|runtime error" "$T/in/stderr"
'

test_done
