#!/bin/sh
# t1002-outbox - sending by writing into outbox/: cp of LF and CRLF
# messages, every refusal at close() (EINVAL, EFBIG) with its `rejected`
# line, dot-file staging, writers that die or exit non-zero, the shell's
# `> file`, appends, truncation and seeks, renames.
. "$(dirname "$0")/test-lib.sh"

DEAD=127.0.0.1:$(free_port)

msg() {
	printf 'From: a@mailfs.test\nTo: b@example.test\nSubject: %s\n\nbody\n' "$1"
}

# queued NAME: exactly one queue/ID/ has that name
queued() {
	[ "$(cat "$MNT"/queue/*/name 2>/dev/null | grep -cx "$1")" = 1 ]
}

# count of entries in queue/
nqueued() {
	ls "$MNT/queue" | wc -l
}

outbox_empty() {
	[ -z "$(ls -A "$MNT/outbox")" ]
}

test_expect_success 'cp of an LF message queues it, close() returns 0' '
	mailfs_start o -o "relayhost=$DEAD,retry=1h" &&
	msg lf >"$T/lf" && cp "$T/lf" "$MNT/outbox/lf" &&
	queued lf && outbox_empty &&
	grep -q " queued .*name=lf" "$MNT/log"
'

test_expect_success 'cp of a CRLF message queues it; it is stored with CRLF' '
	msg crlf | sed "s/\$/\r/" >"$T/crlf" && cp "$T/crlf" "$MNT/outbox/crlf" &&
	queued crlf && outbox_empty &&
	id=$(grep -lx crlf "$MNT"/queue/*/name) &&
	m=$(dirname "$id")/message &&
	cr=$(printf "\r") &&
	grep -q "^Subject: crlf$cr\$" "$m" && ! grep -q "$cr$cr" "$m"
'

# refused NAME FILE ERRTEXT: cp fails with ERRTEXT, a rejected line, nothing queued
refused() {
	before=$(nqueued) &&
	! cp "$2" "$MNT/outbox/$1" 2>err &&
	grep -q "$3" err &&
	grep -q " rejected name=$1 " "$MNT/log" &&
	[ "$(nqueued)" = "$before" ] &&
	outbox_empty
}

test_expect_success 'EINVAL: no recipient' '
	printf "From: a@mailfs.test\nSubject: x\n\nbody\n" >"$T/norcpt" &&
	refused norcpt "$T/norcpt" "Invalid argument"
'

test_expect_success 'EINVAL: no From:' '
	printf "To: b@example.test\nSubject: x\n\nbody\n" >"$T/nofrom" &&
	refused nofrom "$T/nofrom" "Invalid argument"
'

test_expect_success 'EINVAL: an address that does not parse' '
	printf "From: a@mailfs.test\nTo: <<b@@\nSubject: x\n\nbody\n" >"$T/badaddr" &&
	refused badaddr "$T/badaddr" "Invalid argument"
'

test_expect_success 'EINVAL: not a message at all' '
	head -c 3000 /bin/sh >"$T/binary" &&
	refused binary "$T/binary" "Invalid argument"
'

test_expect_success 'an empty file is not a message: dropped, logged' '
	touch "$MNT/outbox/empty" &&
	wait_for 50 outbox_empty &&
	grep -q " rejected name=empty " "$MNT/log"
'

test_expect_success 'the shell'"'"'s > file works (its first close has nothing yet)' '
	msg redir >"$T/redir" && cat "$T/redir" >"$MNT/outbox/redir" &&
	queued redir && outbox_empty
'

test_expect_success 'dd with a small block size works' '
	msg dd >"$T/dd" && dd if="$T/dd" of="$MNT/outbox/dd" bs=7 2>/dev/null &&
	queued dd
'

test_expect_success 'a file built by appends, truncation and seeks is sent as it ends up' '
	msg seek >"$T/seek" &&
	"$PY" - "$T/seek" "$MNT/outbox/seek" <<-\PYEOF
	import os, sys
	data = open(sys.argv[1], "rb").read()
	fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
	os.write(fd, b"junk" * 100)
	os.ftruncate(fd, 0)
	os.lseek(fd, 10, os.SEEK_SET)
	os.write(fd, data[10:])
	os.lseek(fd, 0, os.SEEK_SET)
	os.write(fd, data[:10])
	assert os.fstat(fd).st_size == len(data)
	os.close(fd)
	fd = os.open(sys.argv[2] + "2", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
	half = len(data) // 2
	os.write(fd, data[:half])
	os.lseek(fd, 0, os.SEEK_SET)
	os.write(fd, data[half:])
	os.close(fd)
	PYEOF
	queued seek && queued seek2 &&
	for n in seek seek2; do
		id=$(grep -lx $n "$MNT"/queue/*/name) &&
		tr -d "\r" <"$(dirname "$id")/message" >got &&
		grep -q "^Subject: seek\$" got && grep -qx body got || return 1
	done
'

test_expect_success 'a file being written is listed and can be read back' '
	"$PY" - "$MNT/outbox/open" "$T/seen" <<-\PYEOF
	import os, sys
	fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
	os.write(fd, b"From: a@mailfs.test\n")
	names = os.listdir(os.path.dirname(sys.argv[1]))
	back = open(sys.argv[1], "rb").read()
	open(sys.argv[2], "w").write("%s %d %r\n" % (names, os.stat(sys.argv[1]).st_size, back))
	os.write(fd, b"To: b@example.test\n\nbody\n")
	os.close(fd)
	PYEOF
	grep -q "\[.open.\] 20 b.From: a@mailfs.test" "$T/seen" &&
	queued open
'

test_expect_success 'a writer killed mid-write sends nothing' '
	before=$(nqueued) &&
	"$PY" - "$MNT/outbox/killed" <<-\PYEOF
	import os, sys
	fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
	os.write(fd, b"From: a@mailfs.test\nTo: b@example.test\nSubject: half\n\nbo")
	os.kill(os.getpid(), 9)
	PYEOF
	wait_for 50 grep -q " rejected name=killed reason=\"writer died\"" "$MNT/log" &&
	[ "$(nqueued)" = "$before" ] && outbox_empty
'

test_expect_success 'a writer exiting 1 after writing sends nothing' '
	before=$(nqueued) &&
	! "$PY" - "$MNT/outbox/exit1" <<-\PYEOF &&
	import os, sys
	fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
	os.write(fd, b"From: a@mailfs.test\nTo: b@example.test\nSubject: x\n\nbody\n")
	os._exit(1)
	PYEOF
	wait_for 50 grep -q " rejected name=exit1 " "$MNT/log" &&
	[ "$(nqueued)" = "$before" ] && outbox_empty
'

test_expect_success 'a writer exiting 0 without close() sends' '
	"$PY" - "$MNT/outbox/exit0" <<-\PYEOF &&
	import os, sys
	fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
	os.write(fd, b"From: a@mailfs.test\nTo: b@example.test\nSubject: x\n\nbody\n")
	os._exit(0)
	PYEOF
	wait_for 50 queued exit0
'

test_expect_success 'dot-files are staging: kept, and sent when renamed' '
	msg staged >"$T/staged" && cp "$T/staged" "$MNT/outbox/.staged" &&
	[ "$(ls -A "$MNT/outbox")" = .staged ] &&
	! cat "$MNT"/queue/*/name | grep -q staged &&
	cmp "$T/staged" "$MNT/outbox/.staged" &&
	mv "$MNT/outbox/.staged" "$MNT/outbox/staged" &&
	queued staged && outbox_empty
'

test_expect_success 'rsync (a dot-file renamed into place) sends once' '
	msg rsync >"$T/rsync" && rsync -a "$T/rsync" "$MNT/outbox/rsync" &&
	queued rsync && outbox_empty &&
	! grep -q " rejected name=.rsync" "$MNT/log"
'

test_expect_success 'vim saves a message, and edits a staged draft' '
	lines="[\"From: a@mailfs.test\", \"To: b@example.test\", \"\", \"hi\"]" &&
	(cd "$MNT/outbox" &&
	 vim -u NONE -i NONE -es -c "call setline(1, $lines)" -c "w vimmsg" -c q &&
	 vim -u NONE -i NONE -es -c "call setline(1, $lines)" -c "w .vimdraft" -c q &&
	 vim -u NONE -i NONE -es -c "call setline(5, [\"more\"])" -c w -c q .vimdraft) &&
	queued vimmsg && [ "$(ls -A "$MNT/outbox")" = .vimdraft ] &&
	tail -n 1 "$MNT/outbox/.vimdraft" >actual && echo more >expect &&
	test_cmp expect actual &&
	mv "$MNT/outbox/.vimdraft" "$MNT/outbox/vimdraft" &&
	queued vimdraft && outbox_empty && ! grep -q " rejected name=[0-9]" "$MNT/log"
'

test_expect_success 'a refused staging file stays where it was' '
	printf "From: a@mailfs.test\n\nno rcpt\n" >"$MNT/outbox/.bad" &&
	"$PY" -c "
import errno, os, sys
try:
    os.rename(sys.argv[1] + \"/.bad\", sys.argv[1] + \"/bad\")
except OSError as e:
    sys.exit(e.errno != errno.EINVAL)
sys.exit(1)
" "$MNT/outbox" &&
	[ "$(ls -A "$MNT/outbox")" = .bad ] &&
	[ "$(grep -c " rejected name=bad " "$MNT/log")" = 1 ] &&
	! mv "$MNT/outbox/.bad" "$MNT/outbox/bad" &&
	[ "$(grep -c " rejected name=bad " "$MNT/log")" = 1 ] &&
	rm "$MNT/outbox/.bad" && outbox_empty
'

test_expect_success 'staging files rename among themselves and unlink' '
	echo draft >"$MNT/outbox/.a" && mv "$MNT/outbox/.a" "$MNT/outbox/.b" &&
	[ "$(ls -A "$MNT/outbox")" = .b ] && echo draft >expect &&
	test_cmp expect "$MNT/outbox/.b" &&
	rm "$MNT/outbox/.b" && outbox_empty
'

test_expect_success 'renames out of outbox/ or onto a name there: EXDEV (mv copies)' '
	echo one >"$MNT/outbox/.x" && echo two >"$MNT/outbox/.y" &&
	"$PY" -c "
import errno, os, sys
m = sys.argv[1]
for a, b in ((m + \"/outbox/.x\", m + \"/outbox/.y\"), (m + \"/outbox/.x\", m + \"/queue/x\")):
    try:
        os.rename(a, b)
    except OSError as e:
        assert e.errno == errno.EXDEV, e
    else:
        sys.exit(1)
" "$MNT" &&
	mv "$MNT/outbox/.x" "$T/x" && echo one >expect && test_cmp expect "$T/x" &&
	rm "$MNT/outbox/.y" && outbox_empty
'

test_expect_success 'a file from elsewhere in the tree can be mv-ed into outbox/' '
	id=$(grep -lx lf "$MNT"/queue/*/name) && m=$(dirname "$id")/message &&
	cp "$m" "$T/again" &&
	"$PY" -c "
import errno, os, sys
try:
    os.rename(sys.argv[1], sys.argv[2])
except OSError as e:
    sys.exit(e.errno != errno.EXDEV)
sys.exit(1)
" "$m" "$MNT/outbox/again" &&
	cp "$T/again" "$MNT/outbox/again" && queued again
'

test_expect_success 'EFBIG past max_size, at write and at close' '
	mailfs_stop && mailfs_start big -o "relayhost=$DEAD,retry=1h,max_size=1K" &&
	{ msg big; head -c 3000 /dev/zero | tr "\0" x; echo; } >"$T/bigmsg" &&
	! cp "$T/bigmsg" "$MNT/outbox/big" 2>err &&
	grep -q "File too large" err &&
	grep -q " rejected name=big " "$MNT/log" &&
	[ "$(nqueued)" = 0 ] && outbox_empty &&
	msg small >"$T/small" && cp "$T/small" "$MNT/outbox/small" && queued small
'

test_done
