/*
 * data_test.c - unit tests of smtp/data.c (TAP): the end of DATA and
 * every smuggling sequence around it, dot-unstuffing, the RFC 5321
 * limits, each fed whole, byte by byte and in random chunks (with a
 * small output buffer too), always with the same result.
 */
#include "smtp/data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"

struct result {
	char		*out;
	size_t		nout, used;
	enum data_pos	pos;
	enum data_verdict verdict;
	int		hops;
};

/* Feed len octets in pieces of chunk (0: random sizes), out at most cap
 * octets per call. */
static struct result
run(const char *in, size_t len, size_t max_size, size_t chunk, size_t cap)
{
	struct data_parser d;
	struct result r = { .out = malloc(len * 2 + 1) };
	char buf[8192];

	data_init(&d, max_size);
	while (r.used < len && d.pos != DATA_END) {
		size_t want = chunk ? chunk : 1 + (size_t)rand() % 7;
		size_t piece = len - r.used < want ? len - r.used : want;
		size_t off = 0, n;

		while (off < piece && d.pos != DATA_END) {
			off += data_feed(&d, in + r.used + off, piece - off,
			    buf, cap, &n);
			memcpy(r.out + r.nout, buf, n);
			r.nout += n;
		}
		r.used += off;
	}
	r.pos = d.pos;
	r.verdict = data_verdict(&d);
	r.hops = d.count.hops;
	return r;
}

static int
same(const struct result *a, const struct result *b)
{
	return a->nout == b->nout && memcmp(a->out, b->out, a->nout) == 0 &&
	    a->used == b->used && a->pos == b->pos && a->verdict == b->verdict;
}

/*
 * check - feed in, expect the stored form want (wlen octets), the end
 * reached or not, verdict v, and that many octets consumed (len: all);
 * the same fed byte by byte, in random chunks, through a 2-octet output.
 */
static void
check(const char *name, const char *in, size_t len, size_t max_size,
    const char *want, size_t wlen, int end, enum data_verdict v,
    size_t used)
{
	struct result whole = run(in, len, max_size, len ? len : 1, 8192);
	int ok_all = 1;

	ok(whole.nout == wlen && memcmp(whole.out, want, wlen) == 0,
	    "%s: stored form", name);
	ok((whole.pos == DATA_END) == end, "%s: %s", name,
	    end ? "ends" : "does not end");
	ok(whole.verdict == v, "%s: verdict %d (got %d)", name, v,
	    whole.verdict);
	ok(whole.used == used, "%s: consumes %zu (got %zu)", name, used,
	    whole.used);
	for (int k = 0; k < 40; k++) {
		struct result r = run(in, len, max_size, k == 0 ? 1 : 0,
		    k < 20 ? 8192 : DATA_OUT_MIN + (size_t)(k % 3));

		ok_all &= same(&whole, &r);
		free(r.out);
	}
	ok(ok_all, "%s: same fed byte by byte and in random chunks", name);
	free(whole.out);
}

#define S(x)	x, sizeof(x) - 1
#define CHECK(name, in, want, end, v) \
	check(name, S(in), 1 << 20, S(want), end, v, sizeof(in) - 1)

/* count lines of n octets (with CRLF) and the end */
static char *
lines(const char *head, size_t n, int count, size_t *len)
{
	size_t hl = strlen(head);
	char *p = malloc(hl + (size_t)count * n + 6), *q = p;

	memcpy(q, head, hl);
	q += hl;
	for (int i = 0; i < count; i++) {
		memset(q, 'x', n - 2);
		q[0] = i % 2 ? 'y' : 'x';
		memcpy(q + n - 2, "\r\n", 2);
		q += n;
	}
	memcpy(q, ".\r\n", 3);
	*len = (size_t)(q + 3 - p);
	return p;
}

static void
limits(void)
{
	char *in, *want, name[64];
	size_t len, i, w;

	/* a text line of exactly 1000 octets with CRLF, then 1001 */
	for (size_t n = DATA_TEXT_MAX; n <= DATA_TEXT_MAX + 1; n++) {
		in = lines("", n, 3, &len);
		want = malloc(len);
		for (i = w = 0; i + 3 < len; i++)
			if (in[i] != '\r')
				want[w++] = in[i];
		snprintf(name, sizeof(name), "line of %zu octets", n);
		check(name, in, len, 1 << 20, want, w, 1,
		    n <= DATA_TEXT_MAX ? DATA_OK : DATA_TOOLONG, len);
		free(in);
		free(want);
	}

	/* size exactly at max_size, then one over: what is past it is
	 * not kept, and the rest still read to the end */
	CHECK("size", "12345\r\n.\r\n", "12345\n", 1, DATA_OK);
	check("size at max", S("12345\r\n.\r\n"), 6, S("12345\n"), 1,
	    DATA_OK, 10);
	check("size over max", S("12345\r\n.\r\n"), 5, S("12345"), 1,
	    DATA_TOOBIG, 10);
	check("size over max, then bare LF", S("123456\n\r\n.\r\n"), 3,
	    S("123"), 1, DATA_TOOBIG, 12);
	check("empty message, max_size 0", S(".\r\n"), 0, "", 0, 1, DATA_OK,
	    3);

	/* Received: lines in the header: DATA_MAX_HOPS, then one more */
	for (int hops = DATA_MAX_HOPS; hops <= DATA_MAX_HOPS + 1; hops++) {
		size_t cap = (size_t)hops * 40 + 64;
		char *p;
		struct result r;

		in = malloc(cap);
		p = in;
		for (int k = 0; k < hops; k++)
			p += sprintf(p, "%s: from x by y\r\n",
			    k % 2 ? "RECEIVED" : "Received");
		p += sprintf(p, "Subject: s\r\n\r\nReceived: body\r\n.\r\n");
		len = (size_t)(p - in);
		r = run(in, len, 1 << 20, len, 8192);
		ok(r.hops == hops && r.verdict == (hops > DATA_MAX_HOPS ?
		    DATA_LOOP : DATA_OK), "%d Received: lines: %s", hops,
		    hops > DATA_MAX_HOPS ? "a loop" : "fine");
		free(r.out);
		r = run(in, len, 1 << 20, 1, DATA_OUT_MIN);
		ok(r.hops == hops, "%d Received: lines, fed byte by byte",
		    hops);
		free(r.out);
		free(in);
	}
	/* a body's Received: lines, a folded header, a short "Received" */
	CHECK("Received: in the body", "A: b\r\n\r\nReceived: x\r\n.\r\n",
	    "A: b\n\nReceived: x\n", 1, DATA_OK);
	{
		struct result r = run(S("Received x\r\n\tReceived: y\r\n"
		    "Received:z\r\n.\r\n"), 1 << 20, 1, 8192);

		ok(r.hops == 1, "only lines that start with Received: count");
		free(r.out);
	}
}

int
main(void)
{
	srand(5321);

	/* the end, and what follows it is not consumed */
	CHECK("plain", "Subject: x\r\n\r\nbody\r\n.\r\n",
	    "Subject: x\n\nbody\n", 1, DATA_OK);
	check("pipelined after the end", S("a\r\n.\r\nQUIT\r\n"), 1 << 20,
	    S("a\n"), 1, DATA_OK, 6);
	CHECK("no end yet", "a\r\nb\r\n.", "a\nb\n", 0, DATA_OK);
	CHECK("no end: dot CR", "a\r\n.\r", "a\n", 0, DATA_OK);
	CHECK("CR LF at the end kept", "a\r\n\r\n.\r\n", "a\n\n", 1, DATA_OK);

	/* dots at the start of the stream and stuffed lines */
	CHECK("empty message", ".\r\n", "", 1, DATA_OK);
	CHECK("stuffed dot first", "..x\r\n.\r\n", ".x\n", 1, DATA_OK);
	CHECK("lone dot line stuffed", "..\r\n.\r\n", ".\n", 1, DATA_OK);
	CHECK("dot then text first", ".x\r\n.\r\n", "x\n", 1, DATA_OK);
	CHECK("stuffed lines", "a\r\n..b\r\n...\r\n.c\r\n.\r\n",
	    "a\n.b\n..\nc\n", 1, DATA_OK);
	CHECK("dot inside a line", "a.b\r\n.x.\r\n.\r\n", "a.b\nx.\n", 1,
	    DATA_OK);

	/* smuggling: no bare CR or LF form ends the data */
	CHECK("LF . LF", "a\n.\nb\r\n.\r\n", "a\n.\nb\n", 1, DATA_BARE);
	CHECK("LF . CR LF", "a\n.\r\nb\r\n.\r\n", "a\n.\nb\n", 1, DATA_BARE);
	CHECK("CR . LF", "a\r.\nb\r\n.\r\n", "a\r.\nb\n", 1, DATA_BARE);
	CHECK("CR LF . LF", "a\r\n.\nb\r\n.\r\n", "a\n\nb\n", 1, DATA_BARE);
	CHECK("CR . CR LF", "a\r.\r\nb\r\n.\r\n", "a\r.\nb\n", 1, DATA_BARE);
	CHECK("CR . CR", "a\r.\rb\r\n.\r\n", "a\r.\rb\n", 1, DATA_BARE);
	CHECK("CR LF . CR then not LF", "a\r\n.\rX\r\n.\r\n", "a\n\rX\n", 1,
	    DATA_BARE);
	CHECK("CR LF . CR CR LF", "a\r\n.\r\r\n.\r\n", "a\n\r\n", 1,
	    DATA_BARE);
	CHECK("dot LF first", ".\n.\r\n", "\n.\n", 0, DATA_BARE);
	CHECK("LF first then end", "\n.\r\n", "\n.\n", 0, DATA_BARE);
	CHECK("CR CR LF", "a\r\r\n.\r\n", "a\r\n", 1, DATA_BARE);
	CHECK("bare LF only", "a\nb\n.\n", "a\nb\n.\n", 0, DATA_BARE);
	CHECK("bare CR only", "a\rb\r.\r", "a\rb\r.", 0, DATA_BARE);

	/* NUL octets */
	check("NUL", S("a\0b\r\n.\r\n"), 1 << 20, S("a\0b\n"), 1, DATA_NUL,
	    8);
	check("NUL after a dot", S(".\0\r\n.\r\n"), 1 << 20, S("\0\n"), 1,
	    DATA_NUL, 7);
	check("bare LF wins over NUL", S("\0\n\r\n.\r\n"), 1 << 20,
	    S("\0\n\n"), 1, DATA_BARE, 7);

	/* after the end nothing more is consumed */
	{
		struct data_parser d;
		char out[16];
		size_t n, used;

		data_init(&d, 100);
		used = data_feed(&d, S(".\r\nx"), out, sizeof(out), &n);
		ok(used == 3 && n == 0 && d.pos == DATA_END, "end at once");
		ok(data_feed(&d, S("x"), out, sizeof(out), &n) == 0 && n == 0,
		    "nothing consumed after the end");
		data_init(&d, 100);
		ok(data_feed(&d, S("abc"), out, 1, &n) == 0 && n == 0,
		    "no room for DATA_OUT_MIN: nothing consumed");
	}

	limits();
	return tap_done();
}
