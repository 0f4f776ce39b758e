#!/bin/sh
# t1003-parallel - 1000 files copied into outbox/ by 8 parallel writers are
# each queued exactly once, and every close() says so.
. "$(dirname "$0")/test-lib.sh"

DEAD=127.0.0.1:$(free_port)

test_expect_success '1000 messages by 8 writers: every cp succeeds' '
	mailfs_start p -o "relayhost=$DEAD,retry=1h" &&
	mkdir "$T/src" &&
	i=0 && while [ $i -lt 1000 ]; do
		printf "From: a@mailfs.test\nTo: b%d@example.test\nSubject: %d\n\nbody %d\n" \
			$i $i $i >"$T/src/m$i"
		i=$((i + 1))
	done &&
	ls "$T/src" | xargs -P 8 -n 25 sh -c '"'"'
		for f; do cp "$0/src/$f" "$0/p/mnt/outbox/$f" || exit 255; done
	'"'"' "$T"
'

test_expect_success 'each is queued exactly once, under its own name' '
	[ "$(ls "$MNT/queue" | wc -l)" = 1000 ] &&
	cat "$MNT"/queue/*/name | sort >actual &&
	ls "$T/src" | sort >expect &&
	test_cmp expect actual &&
	[ "$(grep -c " queued " "$MNT/log")" = 1000 ] &&
	[ -z "$(ls -A "$MNT/outbox")" ] &&
	grep -qx "queued 1000" "$MNT/stats"
'

test_expect_success 'each queue/ID/ holds the message written under its name' '
	for d in "$MNT"/queue/*; do
		n=$(cat "$d/name") &&
		grep -qx "to b${n#m}@example.test" "$d/envelope" || { echo "$d"; return 1; }
	done
'

test_done
