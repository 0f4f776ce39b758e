#!/usr/bin/python3
# gen-queue.py - build N deferred queue entries directly in a stopped
# daemon's spool, in the on-disk format of queue/entry.h:
#	SPOOL/queue/ID/message	the message (CRLF)
#	SPOOL/queue/ID/state	"mailfs-state 1", the envelope, one rcpt line
# For the scale tests and make bench (queue/ with 100,000 entries).
#
#	gen-queue.py SPOOL N [--domain D] [--next EPOCH] [--size BYTES]
#	    [--attempts K] [--start EPOCH]
#
# Every entry has one recipient uI@D (D: example.test), deferred after
# K attempts (1), due at EPOCH (--next; default a day from now), with the
# reply text a refused connection leaves. IDs are made from --start (default
# a week ago) plus I microseconds, so they are valid, unique and in order.
# No fsync: the spool is test scratch. The daemon must be stopped.
import argparse
import os
import time

ap = argparse.ArgumentParser()
ap.add_argument("spool")
ap.add_argument("n", type=int)
ap.add_argument("--domain", default="example.test")
ap.add_argument("--next", type=int, default=int(time.time()) + 86400)
ap.add_argument("--size", type=int, default=512)
ap.add_argument("--attempts", type=int, default=1)
ap.add_argument("--start", type=int, default=int(time.time()) - 7 * 86400)
a = ap.parse_args()

qdir = os.path.join(a.spool, "queue")
for d in ("tmp", "queue", "sent", "failed"):
    os.makedirs(os.path.join(a.spool, d), exist_ok=True)

body = ("x" * 71 + "\r\n") * max(1, a.size // 73)
for i in range(a.n):
    us = a.start * 1000000 + i
    t = time.gmtime(us // 1000000)
    qid = time.strftime("%Y%m%dT%H%M%S", t) + ".%06d" % (us % 1000000)
    rcpt = "u%d@%s" % (i, a.domain)
    msg = ("From: gen@mailfs.test\r\nTo: %s\r\nSubject: gen %d\r\n"
           "Message-ID: <%s@mailfs.test>\r\n"
           "Date: Mon, 30 Nov 2026 12:00:00 +0000\r\n\r\n%s"
           % (rcpt, i, qid, body)).encode()
    state = ("mailfs-state 1\nfrom gen@mailfs.test\nname gen%d\nuid 0\n"
             "arrival %d\ndone 0\nsize %d\neightbit 0\n"
             "rcpt %s deferred %d %d 4.4.1 "
             "connect%%20to%%20127.0.0.1:9:%%20Connection%%20refused\n"
             % (i, us // 1000000, len(msg), rcpt, a.attempts, a.next))
    d = os.path.join(qdir, qid)
    os.mkdir(d, 0o750)
    with open(os.path.join(d, "message"), "wb") as f:
        f.write(msg)
    with open(os.path.join(d, "state"), "w") as f:
        f.write(state)
