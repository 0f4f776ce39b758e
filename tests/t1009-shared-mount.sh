#!/bin/sh
# t1009-shared-mount - a mount other users share (allow_other): members of
# `group` submit and read, other users get EACCES everywhere, and stat
# shows the modes the kernel enforces; maildir_owner and maildir_mode on
# what mailfs makes in SPOOL/inbox, read by Dovecot's imap as that user
# while new mail arrives and after Dovecot flags and moves messages.
. "$(dirname "$0")/test-lib.sh"

[ "$(id -u)" = 0 ] || test_skip_all "needs root (useradd, allow_other)"
PORT=$(free_port)
G=mfsg$$ IN=mfsi$$ OUT=mfso$$ VM=mfsv$$
chmod 711 "$T"

# as USER CMD...: run CMD as USER with USER's groups
as() {
	u=$1; shift
	setpriv --reuid="$u" --regid="$u" --init-groups "$@"
}

test_expect_success 'users and a group for the test' '
	groupadd "$G" && useradd -M -U -s /bin/sh -G "$G" "$IN" &&
	useradd -M -U -s /bin/sh "$OUT" && useradd -M -U -s /bin/sh "$VM"
'
# removed at the end, whatever happened
trap 'st=$?; userdel "$IN"; userdel "$OUT"; userdel "$VM"; groupdel "$G"
	(exit $st); test_lib_exit_' EXIT

test_expect_success 'an unknown group or maildir_owner is refused (78)' '
	M=$T/cfg && mkdir -p "$M" &&
	config_refused group -o group=nosuchgroup$$ &&
	config_refused maildir_owner -o maildir_owner=nosuchuser$$ &&
	config_refused maildir_mode -o maildir_mode=0755
'

test_expect_success 'group and allow_other: members submit and read' '
	mkdir -p "$T/s" && chmod 711 "$T/s" &&
	mailfs_start s -o "allow_other,group=$G,listen=127.0.0.1:$PORT,domains=mailfs.test,relayhost=127.0.0.1:9,retry=1h" &&
	printf "From: $IN@mailfs.test\nTo: x@example.test\nSubject: m\n\nbody\n" >"$T/msg" &&
	chmod 644 "$T/msg" &&
	as "$IN" cp "$T/msg" "$MNT/outbox/m" &&
	wait_for 50 test -n "$(ls "$MNT/queue")" &&
	swaks --server 127.0.0.1:$PORT --from a@example.test --to u@mailfs.test \
		--body "incoming" >/dev/null 2>&1 &&
	ID=$(ls "$MNT/inbox") && [ -n "$ID" ] &&
	Q=$(ls "$MNT/queue") &&
	as "$IN" cat "$MNT/log" "$MNT/stats" "$MNT/queue/$Q/message" \
		"$MNT/inbox/$ID/body" >/dev/null &&
	as "$IN" ls "$MNT/sent" "$MNT/failed" "$MNT/drafts" >/dev/null
'

test_expect_success 'non-members get EACCES on each' '
	for p in "" outbox queue inbox log stats queue/$Q/message inbox/$ID/body; do
		if as "$OUT" cat "$MNT/$p" >/dev/null 2>err ||
			as "$OUT" ls "$MNT/$p" >/dev/null 2>>err; then
			echo "$OUT reads $p"; return 1
		fi
		grep -q "Permission denied" err || { cat err; return 1; }
	done &&
	! as "$OUT" cp "$T/msg" "$MNT/outbox/x" 2>/dev/null &&
	[ "$(ls "$MNT/queue" | wc -l)" = 1 ]
'

test_expect_success 'stat shows what is enforced' '
	g=$(stat -c %G "$MNT") && [ "$g" = "$G" ] &&
	[ "$(stat -c %a "$MNT")" = 750 ] &&
	[ "$(stat -c %a "$MNT/outbox")" = 770 ] &&
	[ "$(stat -c %a "$MNT/drafts")" = 770 ] &&
	[ "$(stat -c %a "$MNT/queue")" = 750 ] &&
	[ "$(stat -c %a "$MNT/inbox/$ID/body")" = 440 ] &&
	[ "$(stat -c %a "$MNT/log")" = 440 ] &&
	[ "$(stat -c %a "$MNT/ctl")" = 200 ] &&
	! as "$IN" sh -c "echo flush >\"$MNT/ctl\"" 2>/dev/null &&
	! as "$IN" sh -c "echo x >\"$MNT/queue/$Q/message\"" 2>/dev/null &&
	mailfs_stop
'

test_expect_success 'without group, other users get EACCES under allow_other' '
	mkdir -p "$T/o" && chmod 711 "$T/o" &&
	mailfs_start o -o "allow_other" &&
	[ "$(stat -c %a "$MNT")" = 700 ] &&
	! as "$IN" ls "$MNT/outbox" 2>err && grep -q "Permission denied" err &&
	! as "$IN" cat "$MNT/stats" 2>/dev/null &&
	mailfs_stop
'

test_expect_success 'maildir_owner and maildir_mode on new files and dirs' '
	mkdir -p "$T/m" && chmod 711 "$T/m" &&
	mailfs_start m -o "maildir_owner=$VM,maildir_mode=0640,listen=127.0.0.1:$PORT,domains=mailfs.test" &&
	swaks --server 127.0.0.1:$PORT --from a@example.test --to u@mailfs.test \
		--header "Subject: one" --body "first" >/dev/null 2>&1 &&
	f=$(ls "$SPOOL/inbox/new/"*) &&
	[ "$(stat -c "%U %a" "$f")" = "$VM 640" ] &&
	for d in "$SPOOL/inbox" "$SPOOL/inbox/new" "$SPOOL/inbox/cur" "$SPOOL/inbox/tmp"; do
		[ "$(stat -c "%U %a" "$d")" = "$VM 750" ] || { stat "$d"; return 1; }
	done &&
	as "$VM" cat "$f" >/dev/null
'

cat >"$T/dovecot.conf" <<EOC
mail_location = maildir:$T/m/spool/inbox
ssl = no
log_path = $T/dovecot.log
base_dir = $T/dovecot-run
state_dir = $T/dovecot-state
protocols = imap
EOC

# imap SCRIPT: Dovecot's imap as $VM (pre-authenticated, on a pipe) and
# the Python lines of SCRIPT with m, the imaplib connection
imap() {
	$PY - "$1" <<EOP
import imaplib, sys
m = imaplib.IMAP4_stream("setpriv --reuid=$VM --regid=$VM --init-groups "
    "env -i USER=$VM HOME=$T /usr/lib/dovecot/imap -c $T/dovecot.conf")
exec(sys.argv[1])
m.logout()
EOP
}

test_expect_success 'Dovecot reads new mail as maildir_owner' '
	imap "
typ, n = m.select(\"INBOX\"); assert n == [b\"1\"], n
typ, d = m.fetch(\"1\", \"(BODY.PEEK[TEXT])\"); assert b\"first\" in d[0][1], d
print(\"ok\")" >out && grep -qx ok out
'

test_expect_success 'after Dovecot flags a message, mail keeps flowing' '
	imap "
typ, d = m.select(\"INBOX\")
typ, d = m.store(\"1\", \"+FLAGS\", \"\\\\Seen\"); assert typ == \"OK\", d" &&
	ls "$SPOOL/inbox/cur" | grep -q ":2,S$" &&
	swaks --server 127.0.0.1:$PORT --from a@example.test --to u@mailfs.test \
		--header "Subject: two" --body "second" >/dev/null 2>&1 &&
	imap "
typ, n = m.select(\"INBOX\"); assert n == [b\"2\"], n
typ, d = m.fetch(\"2\", \"(BODY.PEEK[TEXT])\"); assert b\"second\" in d[0][1], d
print(\"ok\")" >out && grep -qx ok out &&
	[ "$(ls "$MNT/inbox" | wc -l)" = 2 ] &&
	for id in $(ls "$MNT/inbox"); do
		cat "$MNT/inbox/$id/body" >>bodies || return 1
	done &&
	grep -q first bodies && grep -q second bodies &&
	mailfs_stop
'

test_done
