#!/bin/sh
# t1004-errno - operations that make no sense fail with the errno a user
# expects, and change nothing.
. "$(dirname "$0")/test-lib.sh"

DEAD=127.0.0.1:$(free_port)

# errno_is ERRNAME PYTHON-STATEMENT: the statement fails with that errno
# (m is the mount point, q the queue entry).
errno_is() {
	"$PY" -c "
import errno, os, sys
m, q = sys.argv[1], sys.argv[2]
try:
    $2
except OSError as e:
    if e.errno != errno.$1:
        sys.exit('%s: got %s' % (sys.argv[3], errno.errorcode.get(e.errno)))
else:
    sys.exit(sys.argv[3] + ': succeeded')
" "$MNT" "$MNT/queue/$ID" "$2"
}

test_expect_success 'setup: one queued message' '
	mailfs_start e -o "relayhost=$DEAD,retry=1h" &&
	printf "From: a@mailfs.test\nTo: b@example.test\n\nbody\n" >"$MNT/outbox/m" &&
	ID=$(ls "$MNT/queue") && [ -n "$ID" ]
'

test_expect_success 'creating files outside outbox/: EACCES' '
	errno_is EACCES "os.open(m + \"/queue/x\", os.O_CREAT | os.O_WRONLY)" &&
	errno_is EACCES "os.open(q + \"/x\", os.O_CREAT | os.O_WRONLY)" &&
	errno_is EACCES "os.open(m + \"/sent/x\", os.O_CREAT | os.O_WRONLY)" &&
	errno_is EACCES "os.open(m + \"/inbox/x\", os.O_CREAT | os.O_WRONLY)" &&
	errno_is EACCES "os.open(m + \"/x\", os.O_CREAT | os.O_WRONLY)" &&
	errno_is EACCES "os.mknod(m + \"/queue/x\")" &&
	! touch "$MNT/queue/x" 2>/dev/null
'

test_expect_success 'mkdir: EPERM, or EEXIST for what exists' '
	errno_is EPERM "os.mkdir(m + \"/queue/x\")" &&
	errno_is EPERM "os.mkdir(m + \"/outbox/x\")" &&
	errno_is EPERM "os.mkdir(m + \"/x\")" &&
	errno_is EPERM "os.mkdir(q + \"/x\")" &&
	errno_is EEXIST "os.mkdir(m + \"/queue\")" &&
	errno_is EEXIST "os.mkdir(q)" &&
	mkdir -p "$MNT/queue/$ID"
'

test_expect_success 'writing or truncating generated files: EACCES' '
	errno_is EACCES "os.open(q + \"/status\", os.O_WRONLY)" &&
	errno_is EACCES "os.open(q + \"/message\", os.O_RDWR)" &&
	errno_is EACCES "os.open(q + \"/message\", os.O_RDONLY | os.O_TRUNC)" &&
	errno_is EACCES "os.open(m + \"/log\", os.O_WRONLY | os.O_APPEND)" &&
	errno_is EACCES "os.open(m + \"/stats\", os.O_WRONLY)" &&
	errno_is EACCES "os.truncate(q + \"/message\", 0)" &&
	! sh -c "echo x >\"$MNT/queue/$ID/status\"" 2>/dev/null &&
	grep -q "^From: a@mailfs.test" "$MNT/queue/$ID/message"
'

test_expect_success 'chmod, chown, utimes of generated files: EPERM' '
	errno_is EPERM "os.chmod(q + \"/message\", 0o600)" &&
	errno_is EPERM "os.chown(q + \"/message\", 1, 1)" &&
	errno_is EPERM "os.utime(q + \"/status\", (0, 0))" &&
	errno_is EPERM "os.chmod(m + \"/queue\", 0o700)" &&
	[ "$(stat -c %a "$MNT/queue/$ID/message")" = 444 ]
'

test_expect_success 'links: EPERM' '
	errno_is EPERM "os.symlink(\"x\", m + \"/outbox/l\")" &&
	errno_is EPERM "os.symlink(\"x\", m + \"/queue/l\")" &&
	errno_is EPERM "os.link(q + \"/message\", m + \"/outbox/l\")"
'

test_expect_success 'deleting queued mail by rm: EPERM (ctl delete is the way)' '
	errno_is EPERM "os.unlink(q + \"/message\")" &&
	errno_is EPERM "os.rmdir(q)" &&
	! rm -rf "$MNT/queue/$ID" 2>/dev/null &&
	test -f "$MNT/queue/$ID/message"
'

test_expect_success 'deleting the tree itself: EPERM' '
	errno_is EPERM "os.unlink(m + \"/ctl\")" &&
	errno_is EPERM "os.unlink(m + \"/log\")" &&
	errno_is EPERM "os.rmdir(m + \"/queue\")" &&
	errno_is EPERM "os.rmdir(m + \"/outbox\")"
'

test_expect_success 'renames outside outbox/: EPERM; into it: EXDEV' '
	errno_is EPERM "os.rename(q, m + \"/sent/\" + os.path.basename(q))" &&
	errno_is EPERM "os.rename(q + \"/status\", q + \"/status2\")" &&
	errno_is EPERM "os.rename(m + \"/queue\", m + \"/q2\")" &&
	errno_is EXDEV "os.rename(q + \"/message\", m + \"/outbox/x\")" &&
	test -d "$MNT/queue/$ID"
'

test_expect_success 'extended attributes: ENOTSUP' '
	errno_is ENOTSUP "os.setxattr(q + \"/message\", \"user.x\", b\"1\")" &&
	errno_is ENOTSUP "os.getxattr(q + \"/message\", \"user.x\")" &&
	errno_is ENOTSUP "os.listxattr(q + \"/message\")"
'

test_expect_success 'what is not there: ENOENT' '
	errno_is ENOENT "os.stat(q + \"/nothing\")" &&
	errno_is ENOENT "os.stat(m + \"/queue/nothing\")" &&
	errno_is ENOENT "os.stat(m + \"/sent/\" + os.path.basename(q))" &&
	errno_is ENOENT "os.stat(m + \"/nothing\")" &&
	errno_is ENOENT "os.open(m + \"/outbox/nothing\", os.O_RDONLY)" &&
	errno_is ENOTDIR "os.listdir(q + \"/message\")"
'

test_expect_success 'the daemon is still there and nothing changed' '
	[ "$(ls "$MNT/queue")" = "$ID" ] &&
	[ -z "$(ls -A "$MNT/outbox")" ] &&
	kill -0 "$MAILFS_PID"
'

test_done
