#!/bin/sh
# t1010-inplace - tools that set a file's attributes after writing it
# (install -m, rsync --inplace, cp -p, touch after close) exit 0 and send
# exactly once; drafts/ is a plain directory for composing (vim with its
# swap file, sed -i) from which nothing is sent, and mv drafts/X outbox/
# sends X once and removes it; drafts survive a restart.
. "$(dirname "$0")/test-lib.sh"

DEAD=127.0.0.1:$(free_port)

msg() {
	printf 'From: a@mailfs.test\nTo: b@example.test\nSubject: %s\n\nbody\n' "$1"
}

# sent NAME: how many queue entries have that name
sent() {
	cat "$MNT"/queue/*/name 2>/dev/null | grep -cx "$1"
}

test_expect_success 'install -m 644 exits 0 and sends once' '
	mailfs_start p -o "relayhost=$DEAD,retry=1h" &&
	msg inst >"$T/inst" &&
	install -m 644 "$T/inst" "$MNT/outbox/inst" &&
	[ "$(sent inst)" = 1 ] && [ -z "$(ls "$MNT/outbox")" ]
'

test_expect_success 'rsync --inplace exits 0 and sends once' '
	msg rs >"$T/rs" &&
	rsync --inplace "$T/rs" "$MNT/outbox/rs" &&
	rsync --inplace -t "$T/rs" "$MNT/outbox/rs2" &&
	[ "$(sent rs)" = 1 ] && [ "$(sent rs2)" = 1 ]
'

test_expect_success 'cp -p and touch after close exit 0 and send once' '
	msg cpp >"$T/cpp" && chmod 640 "$T/cpp" &&
	cp -p "$T/cpp" "$MNT/outbox/cpp" &&
	touch "$MNT/outbox/cpp" &&
	[ "$(sent cpp)" = 1 ] &&
	! grep -q "rejected.*name=cpp" "$MNT/log"
'

test_expect_success 'writing the name again (>, >>) sends a new message' '
	msg again >"$T/again" && cp "$T/again" "$MNT/outbox/again" &&
	cat "$T/again" >"$MNT/outbox/again" &&
	[ "$(sent again)" = 2 ] &&
	cat "$T/again" >>"$MNT/outbox/again" &&
	[ "$(sent again)" = 3 ]
'

test_expect_success 'drafts/: sed -i, touch, rm, chmod; nothing is sent' '
	n=$(ls "$MNT/queue" | wc -l) &&
	msg draft >"$MNT/drafts/d1" &&
	sed -i "s/^Subject: draft/Subject: edited/" "$MNT/drafts/d1" &&
	grep -qx "Subject: edited" "$MNT/drafts/d1" &&
	chmod 600 "$MNT/drafts/d1" && [ "$(stat -c %a "$MNT/drafts/d1")" = 600 ] &&
	touch "$MNT/drafts/t" && rm "$MNT/drafts/t" &&
	[ "$(ls "$MNT/drafts")" = d1 ] &&
	[ "$(ls "$MNT/queue" | wc -l)" = "$n" ] &&
	test -f "$SPOOL/drafts/d1"
'

test_expect_success 'drafts/: vim edits with its swap and backup files' '
	n=$(ls "$MNT/queue" | wc -l) &&
	vim -u NONE -i NONE -N -n -e -s \
		-c "set swapfile directory=. backup writebackup" \
		-c "%s/body/vim body/" -c "wq" "$MNT/drafts/d1" </dev/null &&
	grep -qx "vim body" "$MNT/drafts/d1" &&
	(cd "$MNT/drafts" && vim -u NONE -i NONE -N -e -s \
		-c "set swapfile directory=." -c "%s/vim body/vim body 2/" \
		-c "w" -c "q" d1 </dev/null) &&
	grep -qx "vim body 2" "$MNT/drafts/d1" &&
	[ "$(ls "$MNT/queue" | wc -l)" = "$n" ]
'

test_expect_success 'drafts survive a restart' '
	mailfs_stop &&
	mailfs_start p -o "relayhost=$DEAD,retry=1h" &&
	grep -qx "vim body 2" "$MNT/drafts/d1"
'

test_expect_success 'mv drafts/X outbox/ sends X once and removes it' '
	mv "$MNT/drafts/d1" "$MNT/outbox/" &&
	[ "$(sent d1)" = 1 ] && ! test -e "$MNT/drafts/d1" &&
	! test -e "$SPOOL/drafts/d1" &&
	grep -q "vim body 2" "$MNT"/queue/*/message
'

test_expect_success 'a draft that is no message stays in drafts/' '
	echo "not a message" >"$MNT/drafts/bad" &&
	! mv "$MNT/drafts/bad" "$MNT/outbox/bad" 2>/dev/null &&
	test -f "$MNT/drafts/bad" && [ "$(sent bad)" = 0 ]
'

test_done
