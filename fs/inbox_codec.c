/*
 * inbox_codec.c - the codec of the inbox index (see inbox_index.h): a
 * rendered tree (fs/mime.h) to a meta blob and a big blob, and back.
 *
 * The meta blob: "MFI1", the root node, then the FNV-1a 64 of all bytes
 * before it (8 bytes, little-endian). A node is a kind byte, its name
 * (varint length, bytes), then by kind:
 *	'D'	varint count, the nodes of the entries
 *	'I'	varint length, the bytes (the file itself)
 *	'M'	varint offset, varint length (a slice of the message file:
 *		a raw file, or decoded bytes found verbatim in the message)
 *	'B'	varint offset, varint length, 8-byte FNV-1a of the bytes (in
 *		the big blob)
 *	'R'	varint length (rendered when opened)
 * The top-level info is always inline: its last line gets the Maildir
 * flags of the moment (mime_info_flags), which are not in the index.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/inbox_index.h"
#include "fs/mime.h"

#define MAGIC		"MFI1"
#define MAX_DEPTH	64
#define MAX_NODES	100000

struct buf {
	unsigned char *p;
	size_t len, cap;
	int nomem;
};

static void
buf_add(struct buf *b, const void *data, size_t n)
{
	unsigned char *p;
	size_t cap;

	if (b->nomem)
		return;
	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		if (!(p = realloc(b->p, cap))) {
			b->nomem = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void
buf_varint(struct buf *b, unsigned long long v)
{
	unsigned char c[10];
	size_t n = 0;

	do {
		c[n] = v & 0x7f;
		v >>= 7;
		if (v)
			c[n] |= 0x80;
		n++;
	} while (v);
	buf_add(b, c, n);
}

static void
buf_u64(struct buf *b, unsigned long long v)
{
	unsigned char c[8];

	for (int i = 0; i < 8; i++)
		c[i] = (unsigned char)(v >> (8 * i));
	buf_add(b, c, 8);
}

unsigned long long
inbox_index_sum(const void *data, size_t n)
{
	const unsigned char *p = data;
	unsigned long long h = 14695981039346656037ULL;

	while (n-- > 0)
		h = (h ^ *p++) * 1099511628211ULL;
	return h;
}

/*
 * Where n bytes at p are found verbatim in [h, h + hlen), or NULL. By
 * their first bytes, then the rest (memmem of a long needle spends most
 * of its time on the needle); a needle whose start recurs too often is
 * given up.
 */
static const char *
find_verbatim(const char *h, size_t hlen, const char *p, size_t n)
{
	const char *end = h + hlen, *at = h;
	size_t lead = n < 32 ? n : 32;
	int tries = 0;

	while (tries++ < 16 && n <= (size_t)(end - at) &&
	    (at = memmem(at, (size_t)(end - at), p, lead))) {
		if ((size_t)(end - at) < n)
			return NULL;
		if (memcmp(at + lead, p + lead, n - lead) == 0)
			return at;
		at++;
	}
	return NULL;
}

static void
encode_node(const struct mime_node *root, const struct mime_node *n,
    int top, struct buf *meta, struct buf *big)
{
	size_t namelen = strlen(n->name), i;
	const char *m0 = root->data, *m1 = root->data + root->len, *at = NULL;
	int info = top && strcmp(n->name, "info") == 0;
	char kind;

	if (n->is_dir)
		kind = 'D';
	else if (n->borrowed && n->data >= m0 && n->data + n->len <= m1)
		at = n->data, kind = 'M';
	else if (n->len <= INBOX_INLINE_MAX || info)
		kind = 'I';
	/* decoded bytes that are the message's own (a text body in 8bit,
	 * say): a slice too, not a copy in the index */
	else if ((at = find_verbatim(m0, root->len, n->data, n->len)))
		kind = 'M';
	else if (n->len <= INBOX_BIG_MAX)
		kind = 'B';
	else
		kind = 'R';
	buf_add(meta, &kind, 1);
	buf_varint(meta, namelen);
	buf_add(meta, n->name, namelen);
	switch (kind) {
	case 'D':
		buf_varint(meta, n->nkids);
		for (i = 0; i < n->nkids; i++)
			encode_node(root, &n->kids[i], n == root, meta, big);
		break;
	case 'I':
		buf_varint(meta, n->len);
		buf_add(meta, n->data, n->len);
		break;
	case 'M':
		buf_varint(meta, (unsigned long long)(at - m0));
		buf_varint(meta, n->len);
		break;
	case 'B':
		buf_varint(meta, big->len);
		buf_varint(meta, n->len);
		buf_u64(meta, inbox_index_sum(n->data, n->len));
		buf_add(big, n->data, n->len);
		break;
	default:
		buf_varint(meta, n->len);
	}
}

int
inbox_index_encode(const struct mime_node *root, struct inbox_row *r)
{
	struct buf meta = { 0 }, big = { 0 };

	buf_add(&meta, MAGIC, 4);
	encode_node(root, root, 0, &meta, &big);
	buf_u64(&meta, inbox_index_sum(meta.p, meta.len));
	if (meta.nomem || big.nomem) {
		free(meta.p);
		free(big.p);
		errno = ENOMEM;
		return -1;
	}
	r->meta = meta.p;
	r->metalen = meta.len;
	r->big = big.p;
	r->biglen = big.len;
	return 0;
}

void
inbox_row_free(struct inbox_row *r)
{
	free(r->meta);
	free(r->big);
	r->meta = r->big = NULL;
}

struct rd {
	const unsigned char *p, *end;
	size_t nodes;
	int bad;
};

static unsigned long long
rd_varint(struct rd *r)
{
	unsigned long long v = 0;
	int shift = 0;

	while (!r->bad) {
		if (r->p >= r->end || shift > 63) {
			r->bad = 1;
			break;
		}
		v |= (unsigned long long)(*r->p & 0x7f) << shift;
		if (!(*r->p++ & 0x80))
			return v;
		shift += 7;
	}
	return 0;
}

static unsigned long long
rd_u64(struct rd *r)
{
	unsigned long long v = 0;

	if (r->end - r->p < 8) {
		r->bad = 1;
		return 0;
	}
	for (int i = 0; i < 8; i++)
		v |= (unsigned long long)r->p[i] << (8 * i);
	r->p += 8;
	return v;
}

/* n bytes of r, or NULL */
static const unsigned char *
rd_bytes(struct rd *r, unsigned long long n)
{
	const unsigned char *p = r->p;

	if (r->bad || n > (unsigned long long)(r->end - r->p)) {
		r->bad = 1;
		return NULL;
	}
	r->p += n;
	return p;
}

static char *
dup_bytes(const unsigned char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		if (n)
			memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

static void
node_clear(struct mime_node *n)
{
	for (size_t i = 0; i < n->nkids; i++)
		node_clear(&n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n->data);
}

static void
decode_node(struct rd *r, struct mime_node *n, int depth)
{
	const unsigned char *kind = rd_bytes(r, 1), *p;
	unsigned long long len, i;

	if (!kind || ++r->nodes > MAX_NODES || depth > MAX_DEPTH) {
		r->bad = 1;
		return;
	}
	len = rd_varint(r);
	if (!(p = rd_bytes(r, len)) || len > 255 ||
	    !(n->name = dup_bytes(p, len))) {
		r->bad = 1;
		return;
	}
	switch (*kind) {
	case 'D':
		n->is_dir = 1;
		len = rd_varint(r);
		if (r->bad || len > (unsigned long long)(r->end - r->p) ||
		    (len && !(n->kids = calloc(len, sizeof(*n->kids))))) {
			r->bad = 1;
			return;
		}
		for (i = 0; i < len && !r->bad; i++) {
			n->nkids++;
			decode_node(r, &n->kids[i], depth + 1);
		}
		return;
	case 'I':
		len = rd_varint(r);
		if (!(p = rd_bytes(r, len)) || !(n->data = dup_bytes(p, len)))
			r->bad = 1;
		n->len = len;
		return;
	case 'M':
	case 'B':
		n->where = *kind == 'M' ? MIME_IN_MESSAGE : MIME_IN_INDEX;
		n->off = rd_varint(r);
		n->len = rd_varint(r);
		if (*kind == 'B')
			n->sum = rd_u64(r);
		return;
	case 'R':
		n->where = MIME_RENDERED;
		n->len = rd_varint(r);
		return;
	default:
		r->bad = 1;
	}
}

struct mime_node *
inbox_index_decode(const unsigned char *meta, size_t len)
{
	struct rd r = { meta, meta + len, 0, 0 }, sum;
	struct mime_node *root;

	if (meta == NULL || len < 12 || memcmp(meta, MAGIC, 4) != 0) {
		errno = EINVAL;
		return NULL;
	}
	sum = (struct rd){ meta + len - 8, meta + len, 0, 0 };
	if (inbox_index_sum(meta, len - 8) != rd_u64(&sum)) {
		errno = EINVAL;
		return NULL;
	}
	r.p += 4;
	r.end = meta + len - 8;
	if (!(root = calloc(1, sizeof(*root)))) {
		errno = ENOMEM;
		return NULL;
	}
	decode_node(&r, root, 0);
	if (r.bad || r.p != r.end || !root->is_dir) {
		node_clear(root);
		free(root);
		errno = EINVAL;
		return NULL;
	}
	return root;
}

int
inbox_key_eq(const struct inbox_key *a, const struct inbox_key *b)
{
	return a->size == b->size && a->mtime_ns == b->mtime_ns &&
	    a->ino == b->ino;
}
