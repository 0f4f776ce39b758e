#!/usr/bin/env python3
"""gen-queue.py SPOOL N - tests/bench's big queue: N deferred entries
written straight into SPOOL/queue/ while no daemon runs, as queue/entry.c
writes and queue/load.c reads them: SPOOL/queue/ID/message and
SPOOL/queue/ID/state, IDs in queue/id.c's form (UTC time of submission,
microseconds). Each has one recipient deferred once, due again in a day,
so that no delivery starts during the run. The message is stored as it
is sent (CRLF line ends), with its CRC-32 in the state. The on-disk
format lives here alone: when queue/ changes it, change this file (and
nothing else)."""
import os
import sys
import time
import zlib

spool, n = sys.argv[1], int(sys.argv[2])
qdir = os.path.join(spool, "queue")
os.makedirs(qdir, exist_ok=True)
now = int(time.time())
arrival = now - 3600
due = now + 86400
body = ("y" * 71 + "\r\n") * 12
for i in range(n):
    # one microsecond apart from an hour ago: unique, sorted by age
    us = arrival * 1000000 + i
    tm = time.gmtime(us // 1000000)
    qid = time.strftime("%Y%m%dT%H%M%S", tm) + ".%06d" % (us % 1000000)
    msg = ("From: bench@bench.test\r\nTo: rcpt%d@example.test\r\n"
           "Subject: queued %d\r\nDate: Mon, 30 Nov 2026 12:00:00 +0000\r\n"
           "Message-ID: <q%d.bench@bench.test>\r\n\r\n%s"
           % (i, i, i, body)).encode()
    state = ("mailfs-state 1\nfrom bench@bench.test\nname q%d\nuid 0\n"
             "arrival %d\ndone 0\nsize %d\neightbit 0\ncrc32 %08x\n"
             "rcpt rcpt%d@example.test deferred 1 %d 4.4.1 "
             "connect%%20to%%20relay:%%20Connection%%20refused\n"
             % (i, arrival, len(msg), zlib.crc32(msg), i, due))
    d = os.path.join(qdir, qid)
    os.mkdir(d)
    with open(os.path.join(d, "message"), "wb") as f:
        f.write(msg)
    with open(os.path.join(d, "state"), "w") as f:
        f.write(state)
