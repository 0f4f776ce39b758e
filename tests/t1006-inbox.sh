#!/bin/sh
# t1006-inbox - inbox/ID/ as files: raw, envelope, the decoded header files
# and MIME part directories with sizes that agree with their content;
# mail other tools put into the Maildir; rm -r inbox/ID deletes it.
. "$(dirname "$0")/test-lib.sh"

PORT=$(free_port)

test_expect_success 'a received message is inbox/ID/ with its files' '
	mailfs_start i -o "listen=127.0.0.1:$PORT,domains=mailfs.test" &&
	echo attached >"$T/att.txt" &&
	swaks --server 127.0.0.1:$PORT --from x@example.test --to u@mailfs.test \
		--header "Subject: =?UTF-8?B?SMOpbGxv?=" --body "hello there" \
		--attach-type text/plain --attach @"$T/att.txt" >/dev/null 2>&1 &&
	ID=$(ls "$MNT/inbox") && [ -n "$ID" ] &&
	for f in raw envelope from to cc replyto subject date messageid header \
		body info; do
		test -f "$MNT/inbox/$ID/$f" || { echo "no $f"; return 1; }
	done &&
	printf "H\303\251llo\n" >expect && test_cmp expect "$MNT/inbox/$ID/subject" &&
	grep -qx "from x@example.test" "$MNT/inbox/$ID/envelope" &&
	grep -qx "to u@mailfs.test" "$MNT/inbox/$ID/envelope" &&
	grep -q "^Received: " "$MNT/inbox/$ID/raw" &&
	test -d "$MNT/inbox/$ID/1" && test -d "$MNT/inbox/$ID/2" &&
	echo attached >expect && test_cmp expect "$MNT/inbox/$ID/2/body" &&
	grep -qx "inbox 1" "$MNT/stats"
'

test_expect_success 'every file: stat size equals what is read; modes' '
	find "$MNT/inbox/$ID" -type f >files && [ $(wc -l <files) -gt 15 ] &&
	while read -r f; do
		[ "$(stat -c %s "$f")" = "$(wc -c <"$f")" ] || { echo "$f"; return 1; }
		[ "$(stat -c %a "$f")" = 444 ] || { echo "$f mode"; return 1; }
	done <files &&
	cp -r "$MNT/inbox/$ID" "$T/copy" && cmp "$T/copy/raw" "$MNT/inbox/$ID/raw"
'

test_expect_success 'raw is the message as stored in the Maildir' '
	cmp "$MNT/inbox/$ID/raw" "$(ls "$SPOOL"/inbox/new/* "$SPOOL"/inbox/cur/* 2>/dev/null | head -n 1)"
'

test_expect_success 'inbox files are read-only' '
	! sh -c "echo x >\"$MNT/inbox/$ID/subject\"" 2>/dev/null &&
	! touch "$MNT/inbox/$ID/new" 2>/dev/null &&
	! mkdir "$MNT/inbox/$ID/3" 2>/dev/null
'

test_expect_success 'mail put into the Maildir by another tool shows up, without envelope' '
	printf "From: o@example.test\nTo: u@mailfs.test\nSubject: other\n\nhi\n" \
		>"$SPOOL/inbox/new/1700000000.M1P1.other" &&
	test -d "$MNT/inbox/1700000000.M1P1.other" &&
	echo other >expect && test_cmp expect "$MNT/inbox/1700000000.M1P1.other/subject" &&
	test ! -e "$MNT/inbox/1700000000.M1P1.other/envelope" &&
	test -f "$MNT/inbox/1700000000.M1P1.other/raw"
'

test_expect_success 'rm -r inbox/ID deletes the message from disk' '
	! rmdir "$MNT/inbox/$ID" 2>/dev/null &&
	rm -r "$MNT/inbox/$ID" &&
	test ! -e "$MNT/inbox/$ID" &&
	[ "$(ls "$MNT/inbox")" = 1700000000.M1P1.other ] &&
	! ls "$SPOOL"/inbox/new "$SPOOL"/inbox/cur | grep -q "^$ID" &&
	rm -r "$MNT/inbox/1700000000.M1P1.other" &&
	test ! -e "$SPOOL/inbox/new/1700000000.M1P1.other" &&
	[ -z "$(ls "$MNT/inbox")" ]
'

test_done
