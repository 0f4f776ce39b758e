# spool-envelope.py SPOOL [ID] - for the tests: the envelopes the spool
# keeps for inbox messages, found as maildir_envelope finds them
# (queue/maildir_envelope.c): the extended attribute user.mailfs.envelope
# of the message file in SPOOL/inbox/new or cur, else the file
# SPOOL/envelope/ID (where the file system has no xattrs, an envelope too
# big for one, an older spool).
#
#	$PY "$SRCDIR/tests/spool-envelope.py" "$SPOOL" "$ID" >actual
#		the envelope of ID; exit 1, saying why, when it has none
#	$PY "$SRCDIR/tests/spool-envelope.py" "$SPOOL" >ids
#		the ID of every message in new/ and cur/ that has one
import errno
import os
import sys


def envelope(spool, msgid, path):
    """The envelope of msgid, whose file is path (None: not found)."""
    if path is not None:
        try:
            return os.getxattr(path, "user.mailfs.envelope")
        except OSError as e:
            if e.errno not in (errno.ENODATA, errno.ENOTSUP):
                raise
    try:
        with open(os.path.join(spool, "envelope", msgid), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def messages(spool):
    """(ID, path) of every message file in new/ and cur/."""
    for sub in ("new", "cur"):
        d = os.path.join(spool, "inbox", sub)
        for name in sorted(os.listdir(d)):
            if not name.startswith("."):
                yield name.split(":", 1)[0], os.path.join(d, name)


spool = sys.argv[1]
if len(sys.argv) == 2:
    for msgid, path in messages(spool):
        if envelope(spool, msgid, path) is not None:
            print(msgid)
    sys.exit(0)
msgid = sys.argv[2]
path = next((p for i, p in messages(spool) if i == msgid), None)
env = envelope(spool, msgid, path)
if env is None:
    sys.exit("no envelope for %s in %s" % (msgid, spool))
sys.stdout.buffer.write(env)
