#!/bin/sh
# t6001-sendmail - sendmail(8) and mailq(1): the message goes through
# SPOOL/maildrop to the running daemon and out to smtp-sink (the MX of
# a.test and of mailfs.test, the hostname bare names get). Arguments as
# recipients, -t with Cc: and Bcc: (Bcc: never delivered), -f, a From:
# made up, bare names and comments, exit 65 and 64, a stopped daemon
# (the message waits in maildrop/), mailq, bsd-mailx, mutt and git
# send-email as real callers, and a non-root caller in and out of the
# `group` setting. Needs bsd-mailx, mutt and git-email.
. "$(dirname "$0")/test-lib.sh"

# the sendmail built beside the mailfs under test, else the top-level one
SENDMAIL=$(dirname "$MAILFS")/sendmail
[ -x "$SENDMAIL" ] || SENDMAIL=$SRCDIR/sendmail

DNSPORT=$(free_port)
PORT=$(free_port)
GID=60601	# the submitters' group: a number, no /etc/group entry needed
start_dns "$DNSPORT" \
	--mx-host=a.test,mx.a.test,10 --mx-host=mailfs.test,mx.a.test,10 \
	--host-record=mx.a.test,127.0.0.2 \
	--mx-host=down.test,mx.down.test,10 --host-record=mx.down.test,127.0.0.4
start_sink 127.0.0.2:$PORT

# mailfs.test is the hostname but not one of our domains: mail to bare
# names goes out to the sink, where the test can see it
OPTS="dns=127.0.0.1:$DNSPORT,smtp_port=$PORT,retry=1h,tls=none,domains=other.test,group=$GID"
mailfs_start m -o "$OPTS"
printf 'spool = %s\nhostname = mailfs.test\ngroup = %s\n' "$SPOOL" $GID >"$T/conf"
# what programs call: sendmail with our settings, and mailq by its name
mkdir "$T/bin"
printf '#!/bin/sh\nexec "%s" -C "%s" "$@"\n' "$SENDMAIL" "$T/conf" >"$T/bin/sendmail"
chmod 755 "$T/bin/sendmail"
ln -s "$SENDMAIL" "$T/bin/mailq"
SM=$T/bin/sendmail

# sunk RCPT SUBJECT: the file smtp-sink wrote for it
sunk() {
	grep -l "^X-Rcpt-Args: <$1>" "$T"/sink/* 2>/dev/null |
		xargs -r grep -l "^Subject: $2\$" | head -n 1 | grep .
}

# rcpt_file RCPT: a file smtp-sink wrote for RCPT
rcpt_file() {
	grep -l "^X-Rcpt-Args: <$1>" "$T"/sink/* 2>/dev/null | head -n 1 | grep .
}

# by_subject SUBJECT: the entry (queue/, sent/ or failed/) with that Subject:
by_subject() {
	grep -l "^Subject: $1" "$MNT"/queue/*/message "$MNT"/sent/*/message \
		"$MNT"/failed/*/message 2>/dev/null | head -n 1 | sed 's|/message$||' | grep .
}

maildrop_empty() {
	[ -z "$(ls -A "$SPOOL/maildrop")" ]
}

# the message smtp-sink received, without its X- envelope lines
received() {
	grep -v "^X-[A-Za-z-]*-Args: \|^X-Client-" "$1"
}

test_expect_success 'recipients as arguments (not To:); the sender is the login; the uid recorded' '
	printf "From: a@mailfs.test\nTo: x@a.test\nSubject: args\n\nhello\n" |
		"$SM" b@a.test c@a.test &&
	wait_for 100 sunk c@a.test args &&
	f=$(sunk b@a.test args) &&
	! grep -q "^X-Rcpt-Args: <x@a.test>" "$f" &&
	grep -q "^X-Mail-Args: <root@mailfs.test>" "$f" &&
	d=$(by_subject args) &&
	printf "from root@mailfs.test\nto b@a.test\nto c@a.test\nuid 0\n" >expect &&
	test_cmp expect "$d/envelope" &&
	grep -q "queued from=root@mailfs.test rcpts=b@a.test,c@a.test .* name=maildrop/.* uid=0\$" "$MNT/log" &&
	maildrop_empty
'

test_expect_success '-t: To:, Cc: and Bcc: added to the arguments; Bcc: never delivered' '
	printf "From: a@mailfs.test\nTo: t@a.test\nCc: c2@a.test\nBcc: hidden@a.test\nSubject: minus-t\n\nbody\n" |
		"$SM" -t arg@a.test &&
	wait_for 100 sunk hidden@a.test minus-t &&
	for r in arg t c2; do sunk $r@a.test minus-t >/dev/null || return 1; done &&
	! received "$(sunk hidden@a.test minus-t)" | grep -i "^Bcc:\|hidden" &&
	d=$(by_subject minus-t) &&
	grep -qx "to hidden@a.test" "$d/envelope" &&
	! grep -qi "hidden" "$d/message"
'

test_expect_success 'a lone dot ends the message, unless -i or -oi' '
	printf "From: a@mailfs.test\nSubject: dot1\n\nbefore\n.\nafter\n" | "$SM" d@a.test &&
	printf "From: a@mailfs.test\nSubject: dot2\n\nbefore\n.\nafter\n" | "$SM" -oi d@a.test &&
	printf "From: a@mailfs.test\nSubject: dot3\n\nbefore\n.\nafter\n" | "$SM" -i d@a.test &&
	wait_for 100 sunk d@a.test dot3 && wait_for 100 sunk d@a.test dot1 &&
	! grep -q after "$(sunk d@a.test dot1)" &&
	grep -q after "$(sunk d@a.test dot2)" && grep -q after "$(sunk d@a.test dot3)"
'

test_expect_success '-f sets the sender; a missing From: is made (-F, bare names qualified)' '
	printf "Subject: nofrom\n\nbody\n" | "$SM" -f bounce@a.test -F "Cron Daemon" e@a.test &&
	printf "Subject: login\n\nbody\n" | "$SM" root &&
	wait_for 100 sunk e@a.test nofrom && wait_for 100 sunk root@mailfs.test login &&
	f=$(sunk e@a.test nofrom) &&
	grep -q "^X-Mail-Args: <bounce@a.test>" "$f" &&
	grep -q "^From: \"Cron Daemon\" <bounce@a.test>" "$f" &&
	f=$(sunk root@mailfs.test login) &&
	grep -q "^X-Mail-Args: <root@mailfs.test>" "$f" &&
	grep -q "^From: .*<root@mailfs.test>" "$f" &&
	printf "Subject: null\n\nbody\n" | "$SM" -f "<>" n@a.test &&
	wait_for 100 sunk n@a.test null &&
	f=$(sunk n@a.test null) &&
	grep -q "^X-Mail-Args: <>" "$f" && grep -q "^From: .*<root@mailfs.test>" "$f"
'

test_expect_success 'a bare body (no header) is sent with a made From:' '
	echo "just a body" | "$SM" f@a.test &&
	wait_for 100 rcpt_file f@a.test &&
	f=$(rcpt_file f@a.test) &&
	grep -q "^just a body" "$f" && grep -q "^From: .*<root@mailfs.test>" "$f"
'

test_expect_success 'cron: From: root (Cron Daemon), To: a bare name; also through outbox/' '
	printf "From: root (Cron Daemon)\nTo: alice\nSubject: cron\n\nout\n" | "$SM" -t &&
	wait_for 300 sunk alice@mailfs.test cron &&
	grep -q "^X-Mail-Args: <root@mailfs.test>" "$(sunk alice@mailfs.test cron)" &&
	printf "From: \"Cron Daemon\" <root>\nTo: alice\nSubject: cron-cp\n\nout\n" >cron-cp &&
	cp cron-cp "$MNT/outbox/cron-cp" &&
	wait_for 300 sunk alice@mailfs.test cron-cp &&
	d=$(by_subject cron-cp) &&
	printf "from root@mailfs.test\nto alice@mailfs.test\nuid 0\n" >expect &&
	test_cmp expect "$d/envelope" &&
	grep -q "^From: \"Cron Daemon\" <root>" "$(sunk alice@mailfs.test cron-cp)"
'

test_expect_success 'a bad message: exit 65 with the reason, nothing queued' '
	n=$(ls "$MNT/queue" "$MNT/sent" "$MNT/failed" | wc -l) &&
	printf "From: a@mailfs.test\nTo: foo bar baz\nSubject: bad\n\nx\n" >bad &&
	test_expect_code 65 "$SM" -t <bad 2>err &&
	grep -q "bad address in To" err &&
	test_expect_code 65 "$SM" "a b@@x" </dev/null 2>err &&
	test_expect_code 64 "$SM" <bad 2>err &&
	grep -q "no recipients" err &&
	test_expect_code 64 "$SM" -bx a@a.test </dev/null &&
	sleep 0.3 && maildrop_empty &&
	test "$(ls "$MNT/queue" "$MNT/sent" "$MNT/failed" | wc -l)" = "$n"
'

test_expect_success 'historical options are accepted and ignored' '
	printf "From: a@mailfs.test\nSubject: hist\n\nx\n" |
		"$SM" -oem -odi -oi -L tag -N never -R hdrs -X /dev/null -U -m -v g@a.test 2>err &&
	wait_for 100 sunk g@a.test hist &&
	grep -q "maildrop" err
'

# mailq_shows TEXT: the listing of mailq has TEXT
mailq_shows() { "$T/bin/mailq" -C "$T/conf" | grep -q "$1"; }

test_expect_success 'mailq: a deferred message with its reason, then empty' '
	printf "From: a@mailfs.test\nSubject: slow\n\nx\n" | "$SM" h@down.test &&
	wait_for 100 grep -q "deferred to=h@down.test" "$MNT/log" &&
	# the log line comes first; the reason reaches the state on disk,
	# which mailq reads, with the next batch of the writer thread
	wait_for 100 mailq_shows 127.0.0.4 &&
	"$T/bin/mailq" -C "$T/conf" >q &&
	"$SM" -bp >q2 && test_cmp q q2 &&
	cat q &&
	head -n 1 q | grep -q "^-Queue ID- *--Size-- ----Arrival Time---- -Sender/Recipient-------" &&
	grep -q "^20[0-9T.]* *[0-9][0-9]* [A-Z][a-z][a-z] .* root@mailfs.test\$" q &&
	grep -q "^  *(.*127.0.0.4.*)\$" q &&
	grep -q "^  *h@down.test\$" q &&
	grep -q "^-- 1 Kbytes in 1 Request.\$" q &&
	d=$(by_subject slow) && echo delete >"$d/ctl" &&
	"$T/bin/mailq" -C "$T/conf" >q &&
	echo "Mail queue is empty" >expect && test_cmp expect q
'

test_expect_success 'bsd-mailx (mail -s) through its sendmail variable' '
	command -v bsd-mailx >/dev/null || { echo "bsd-mailx missing (apt-get install bsd-mailx)"; return 1; } &&
	echo "set sendmail=$SM" >mailrc &&
	echo "body from mailx" | MAILRC=$T/mailrc HOME=$T bsd-mailx -s mailx-subj -r from@a.test root &&
	wait_for 100 sunk root@mailfs.test mailx-subj &&
	grep -q "^X-Mail-Args: <from@a.test>" "$(sunk root@mailfs.test mailx-subj)"
'

test_expect_success 'mutt with a Bcc: recipient given only as an argument' '
	command -v mutt >/dev/null || { echo "mutt missing (apt-get install mutt)"; return 1; } &&
	echo "body from mutt" >body &&
	HOME=$T mutt -n -F /dev/null -e "set sendmail=\"$SM\"" -e "set from=m@a.test" \
		-e "set copy=no" -s mutt-subj -b bcc@a.test to@a.test <body &&
	wait_for 100 sunk bcc@a.test mutt-subj && sunk to@a.test mutt-subj >/dev/null &&
	! received "$(sunk to@a.test mutt-subj)" | grep -i "^Bcc:\|bcc@a.test"
'

test_expect_success 'git send-email with a Bcc: recipient' '
	git send-email -h 2>&1 | grep -q sendmail-cmd ||
		{ echo "git send-email missing (apt-get install git-email)"; return 1; } &&
	HOME=$T git init -q repo && (cd repo && git config user.email g@a.test &&
		git config user.name "G Sender" && echo x >f && git add f &&
		git commit -qm "the patch subject" &&
		git format-patch -1 -o "$T/patches" >/dev/null) &&
	HOME=$T GIT_COMMITTER_NAME="G Sender" GIT_COMMITTER_EMAIL=g@a.test \
	GIT_AUTHOR_NAME="G Sender" GIT_AUTHOR_EMAIL=g@a.test \
	git send-email --sendmail-cmd="$SM" --from="G Sender <g@a.test>" \
		--to=list@a.test --bcc=gbcc@a.test --confirm=never --suppress-cc=all \
		--no-chain-reply-to --quiet "$T"/patches/*.patch </dev/null &&
	wait_for 100 rcpt_file gbcc@a.test &&
	f=$(rcpt_file list@a.test) && grep -q "the patch subject" "$f" &&
	! received "$f" | grep -i "^Bcc:\|gbcc@a.test"
'

# as nobody, with or without the submitters' group
as_nobody() {
	setpriv --reuid=65534 --regid=65534 "$@"
}

test_expect_success 'a member of group submits; the uid is recorded' '
	chmod 711 "$T" &&
	stat -c %a:%g "$SPOOL/maildrop" >mode && echo "1730:$GID" >expect && test_cmp expect mode &&
	printf "Subject: nobody\n\nx\n" | as_nobody --groups=$GID "$SM" k@a.test &&
	wait_for 100 sunk k@a.test nobody &&
	grep -q "^From: .*<nobody@mailfs.test>" "$(sunk k@a.test nobody)" &&
	d=$(by_subject nobody) && grep -qx "uid 65534" "$d/envelope" &&
	grep -q "queued from=nobody@mailfs.test .*uid=65534\$" "$MNT/log"
'

test_expect_success 'a non-member: exit 77 with a clear message, nothing queued' '
	printf "Subject: outsider\n\nx\n" >out &&
	test_expect_code 77 as_nobody --clear-groups "$SM" k@a.test <out 2>err &&
	cat err && grep -q "members of group $GID" err
'

test_expect_success 'daemon stopped: the message waits in maildrop/, queued at the next start' '
	mailfs_stop &&
	printf "From: a@mailfs.test\nSubject: later\n\nx\n" | "$SM" -v l@a.test 2>err &&
	grep -q "not running" err &&
	! maildrop_empty &&
	mailfs_start m -o "$OPTS" &&
	wait_for 100 sunk l@a.test later &&
	wait_for 50 maildrop_empty
'

test_expect_success 'a forged maildrop file is kept in corrupt/; a day-old .tmp is removed' '
	echo "not a maildrop file" >"$SPOOL/maildrop/forged" &&
	wait_for 100 test -e "$SPOOL/corrupt/maildrop-forged" &&
	grep -q "rejected name=maildrop/forged reason=\"not a maildrop file\"" "$MNT/log" &&
	echo half >"$SPOOL/maildrop/123.tmp" && touch -d "2 days ago" "$SPOOL/maildrop/123.tmp" &&
	echo half >"$SPOOL/maildrop/456.tmp" &&
	printf "From: a@mailfs.test\nSubject: kick\n\nx\n" | "$SM" kick@a.test &&
	wait_for 100 sunk kick@a.test kick &&
	! test -e "$SPOOL/maildrop/123.tmp" && test -e "$SPOOL/maildrop/456.tmp" &&
	rm "$SPOOL/maildrop/456.tmp"
'

test_expect_success 'no spool: exit 75, saying mailfs is not running' '
	printf "spool = %s\n" "$T/nowhere" >conf2 &&
	test_expect_code 75 "$SENDMAIL" -C conf2 a@a.test </dev/null 2>err &&
	grep -q "not running" err &&
	test_expect_code 78 "$SENDMAIL" -C "$T/missing.conf" a@a.test </dev/null
'

# the issue's own example: a cron job's or a script's mail(1) to root on
# a server whose hostname is one of its domains lands in inbox/
test_expect_success 'mail -s subj root lands in inbox/ when the hostname is ours' '
	mailfs_start local -o "domains=mailfs.test" &&
	printf "spool = %s\nhostname = mailfs.test\n" "$SPOOL" >"$T/lconf" &&
	printf "#!/bin/sh\nexec \"%s\" -C \"%s\" \"\$@\"\n" "$SENDMAIL" \
		"$T/lconf" >"$T/bin/lsendmail" && chmod 755 "$T/bin/lsendmail" &&
	echo "set sendmail=$T/bin/lsendmail" >lmailrc &&
	echo "nightly report" | MAILRC=$T/lmailrc HOME=$T bsd-mailx -s "cron says" root &&
	wait_for 100 eval "test -n \"\$(ls \"\$MNT/inbox\")\"" &&
	ID=$(ls "$MNT/inbox") &&
	echo "cron says" >expect && test_cmp expect "$MNT/inbox/$ID/subject" &&
	grep -qx "nightly report" "$MNT/inbox/$ID/body" &&
	grep -q "^Delivered-To: root@mailfs.test" "$MNT/inbox/$ID/raw" &&
	mailfs_stop
'

test_done
