#!/usr/bin/env python3
"""gen-maildir.py DIR N - tests/bench's inbox: a Maildir of N messages of
about 4 KiB in DIR/{cur,new,tmp}, as a mail reader leaves one: most read
(cur/, flag S), a fifth new; a fifth multipart (text and a base64
attachment), some subjects RFC 2047-encoded, some folded. The same N gives
the same Maildir (a fixed seed), so runs and builds compare."""
import base64
import os
import random
import sys

d, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(9)
words = ("invoice meeting report lunch patch review release build deploy "
         "question answer draft budget travel notes fix test urgent hello "
         "weekly status plan idea").split()
for sub in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(d, sub), exist_ok=True)
line = "x" * 71 + "\n"
t0 = 1780000000
for i in range(n):
    subj = " ".join(rnd.choice(words) for _ in range(rnd.randint(2, 8)))
    if i % 7 == 0:
        subj = "=?UTF-8?B?%s?=" % base64.b64encode(
            ("Grüße: " + subj).encode()).decode()
    elif i % 11 == 0:
        subj = subj + "\n " + " ".join(rnd.choice(words) for _ in range(5))
    head = ("Return-Path: <sender%d@example.test>\n"
            "From: Sender %d <sender%d@example.test>\n"
            "To: rcpt@bench.test\n"
            "Subject: %s\n"
            "Date: Mon, 30 Nov 2026 12:%02d:%02d +0000\n"
            "Message-ID: <%d.bench@example.test>\n"
            "MIME-Version: 1.0\n" % (i % 97, i % 97, i % 97, subj,
                                      i // 60 % 60, i % 60, i))
    text = "message %d\n%s" % (i, line * 52)
    if i % 5 == 0:
        att = base64.encodebytes(bytes(rnd.getrandbits(8)
                                       for _ in range(1200))).decode()
        body = ("Content-Type: multipart/mixed; boundary=\"b%d\"\n\n"
                "--b%d\nContent-Type: text/plain; charset=utf-8\n\n%s\n"
                "--b%d\nContent-Type: application/octet-stream\n"
                "Content-Disposition: attachment; filename=\"a%d.bin\"\n"
                "Content-Transfer-Encoding: base64\n\n%s\n--b%d--\n"
                % (i, i, line * 30, i, i, att, i))
    else:
        body = "Content-Type: text/plain; charset=utf-8\n\n" + text
    name = "%d.M%dP1.bench" % (t0 + i, i)
    if i % 5 == 4:
        path = os.path.join(d, "new", name)
    else:
        path = os.path.join(d, "cur", name + ":2,S")
    with open(path, "w") as f:
        f.write(head + body)
    os.utime(path, (t0 + i, t0 + i))
