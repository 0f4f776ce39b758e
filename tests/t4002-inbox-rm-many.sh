#!/bin/sh
# t4002-inbox-rm-many - rm -r of many inbox entries at once (xargs, as
# make bench does), and while ls lists them: each entry goes whole (gone
# from inbox/ and from new/ and cur/), the others stay whole, no entry is
# half there; a deleted file is moved into the Maildir's tmp/ under a
# hidden name and unlinked there in the background: gone soon after, gone
# at a stop, and a crash's leftovers go at the next start.
. "$(dirname "$0")/test-lib.sh"

N=60

# put I: message I into the Maildir as another tool does (every third in
# cur/ with flags, every fifth multipart)
put() {
	name=1700000$(printf %03d "$1").M$1P1.other
	if [ $(($1 % 5)) = 0 ]; then
		printf 'From: x@example.test\nSubject: m%s\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\none %s\n--b\nContent-Type: application/octet-stream\n\ntwo\n--b--\n' "$1" "$1"
	else
		printf 'From: x@example.test\nSubject: m%s\n\nbody %s\n' "$1" "$1"
	fi >"$SPOOL/inbox/tmp/$name"
	if [ $(($1 % 3)) = 0 ]; then
		mv "$SPOOL/inbox/tmp/$name" "$SPOOL/inbox/cur/$name:2,S"
	else
		mv "$SPOOL/inbox/tmp/$name" "$SPOOL/inbox/new/$name"
	fi
}

# on_disk: the messages in new/ and cur/
on_disk() {
	ls "$SPOOL/inbox/new" "$SPOOL/inbox/cur" | grep -c '\.other'
}

# whole: every entry in inbox/ reads back as its Maildir file, with its subject
whole() {
	for d in "$MNT"/inbox/*; do
		id=${d##*/}
		f=$(ls "$SPOOL"/inbox/new/"$id" "$SPOOL"/inbox/cur/"$id":* \
			2>/dev/null | head -n 1) &&
		cmp -s "$d/raw" "$f" &&
		grep -q "^Subject: $(cat "$d/subject")\$" "$f" ||
		{ echo "$id is not whole"; return 1; }
	done
}

no_trash() {
	[ -z "$(ls -A "$SPOOL/inbox/tmp" | grep '^\.mailfs-trash-')" ]
}

test_expect_success "mailfs shows $N messages other tools put there" '
	mailfs_start a &&
	i=0 && while [ $i -lt $N ]; do put $i || return 1; i=$((i + 1)); done &&
	wait_for 50 eval "[ \$(ls \"\$MNT/inbox\" | wc -l) = $N ]" &&
	whole
'

test_expect_success 'xargs rm -r of 30 entries at once: each gone whole' '
	ls "$MNT/inbox" | head -n 30 >"$T/list" &&
	(cd "$MNT/inbox" && xargs rm -r <"$T/list") &&
	[ "$(ls "$MNT/inbox" | wc -l)" = $((N - 30)) ] &&
	[ "$(on_disk)" = $((N - 30)) ] &&
	! ls "$MNT/inbox" | grep -qxFf "$T/list" &&
	for id in $(cat "$T/list"); do
		test ! -e "$MNT/inbox/$id" &&
		! ls "$SPOOL/inbox/new" "$SPOOL/inbox/cur" | grep -q "^$id" ||
		return 1
	done &&
	whole
'

test_expect_success 'their files leave tmp/ soon after' '
	wait_for 50 no_trash &&
	[ -z "$(ls "$SPOOL/inbox/tmp")" ]
'

test_expect_success 'rm -r of 20 entries while ls -l and cat read the inbox' '
	ls "$MNT/inbox" | tail -n 20 >"$T/list2" || return 1
	{
		i=0
		while [ $i -lt 30 ]; do
			ls -l "$MNT/inbox" >/dev/null 2>&1
			cat "$MNT"/inbox/*/subject >/dev/null 2>&1
			ls -R "$MNT/inbox" >/dev/null 2>&1
			i=$((i + 1))
		done
	} &
	READER=$!
	track_pid $READER &&
	(cd "$MNT/inbox" && xargs rm -r <"$T/list2") &&
	wait $READER &&
	[ "$(ls "$MNT/inbox" | wc -l)" = $((N - 50)) ] &&
	[ "$(on_disk)" = $((N - 50)) ] &&
	whole
'

test_expect_success 'a file inside an entry still cannot be removed alone' '
	E=$MNT/inbox/$(ls "$MNT/inbox" | head -n 1) &&
	! rm "$E/raw" 2>"$T/err" && grep -q "Operation not permitted" "$T/err" &&
	test -f "$E/raw" && whole
'

test_expect_success 'rm -r then a stop at once: nothing left in tmp/' '
	ls "$MNT/inbox" | head -n 5 >"$T/list3" &&
	(cd "$MNT/inbox" && xargs rm -r <"$T/list3") &&
	mailfs_stop &&
	[ -z "$(ls -A "$SPOOL/inbox/tmp")" ] &&
	[ "$(on_disk)" = $((N - 55)) ]
'

test_expect_success 'a crash leftover in tmp/ goes at the next start' '
	echo gone >"$SPOOL/inbox/tmp/.mailfs-trash-3" &&
	mailfs_start a &&
	no_trash &&
	[ "$(ls "$MNT/inbox" | wc -l)" = $((N - 55)) ] &&
	whole
'

test_done
