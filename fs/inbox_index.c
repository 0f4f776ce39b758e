/*
 * inbox_index.c - the inbox index (see inbox_index.h): the codec of a
 * message's tree, and its SQLite store.
 *
 * The meta blob: "MFI1", the root node, then the FNV-1a 64 of all bytes
 * before it (8 bytes, little-endian). A node is a kind byte, its name
 * (varint length, bytes), then by kind:
 *	'D'	varint count, the nodes of the entries
 *	'I'	varint length, the bytes (the file itself)
 *	'M'	varint offset, varint length (a slice of the message file)
 *	'B'	varint offset, varint length, 8-byte FNV-1a of the bytes (in
 *		the big blob)
 *	'R'	varint length (rendered when opened)
 * The top-level info is always inline: its last line gets the Maildir
 * flags of the moment (mime_info_flags), which are not in the index.
 *
 * The store: table msg (id, size, mtime, ino, meta) and table big (id,
 * data), the latter read with the incremental blob API so that opening one
 * file reads its bytes only. WAL and synchronous=NORMAL: a commit costs
 * no fsync, and a crash loses at most the last commits, never the
 * database (the index is a cache). user_version tells the schema; another
 * one is dropped and made anew. SQLITE_CORRUPT or SQLITE_NOTADB from any
 * statement, or the file gone from its path (deleted, replaced), makes
 * the index anew, logged once with log_warn.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fs/inbox_index.h"
#include "fs/mime.h"
#include "lib/log.h"
#include "lib/strv.h"

#define MAGIC		"MFI1"
#define SCHEMA		"1"	/* user_version; another is made anew */
#define MAX_DEPTH	64
#define MAX_NODES	100000

/* --- the codec --- */

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

static unsigned long long
fnv64(const void *data, size_t n)
{
	const unsigned char *p = data;
	unsigned long long h = 14695981039346656037ULL;

	while (n-- > 0)
		h = (h ^ *p++) * 1099511628211ULL;
	return h;
}

static void
encode_node(const struct mime_node *root, const struct mime_node *n,
    int top, struct buf *meta, struct buf *big)
{
	size_t namelen = strlen(n->name), i;
	const char *m0 = root->data, *m1 = root->data + root->len;
	char kind;

	if (n->is_dir)
		kind = 'D';
	else if (n->borrowed && n->data >= m0 && n->data + n->len <= m1)
		kind = 'M';
	else if (n->len <= INBOX_INLINE_MAX ||
	    (top && strcmp(n->name, "info") == 0))
		kind = 'I';
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
		buf_varint(meta, (unsigned long long)(n->data - m0));
		buf_varint(meta, n->len);
		break;
	case 'B':
		buf_varint(meta, big->len);
		buf_varint(meta, n->len);
		buf_u64(meta, fnv64(n->data, n->len));
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
	buf_u64(&meta, fnv64(meta.p, meta.len));
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
	if (fnv64(meta, len - 8) != rd_u64(&sum)) {
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

/* --- the store --- */

enum { S_GET, S_PUT_MSG, S_PUT_BIG, S_DEL_MSG, S_DEL_BIG, S_BIG, S_IDS,
	S_BEGIN, S_COMMIT, S_ROLLBACK, S_N };

static const char *const sql[S_N] = {
	[S_GET] = "SELECT size, mtime, ino, meta FROM msg WHERE id = ?1",
	[S_PUT_MSG] = "INSERT OR REPLACE INTO msg (id, size, mtime, ino, meta)"
	    " VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_PUT_BIG] = "INSERT OR REPLACE INTO big (id, data) VALUES (?1, ?2)",
	[S_DEL_MSG] = "DELETE FROM msg WHERE id = ?1",
	[S_DEL_BIG] = "DELETE FROM big WHERE id = ?1",
	[S_BIG] = "SELECT big.rowid, size, mtime, ino FROM msg JOIN big"
	    " ON big.id = msg.id WHERE msg.id = ?1",
	[S_IDS] = "SELECT id FROM msg ORDER BY id",
	[S_BEGIN] = "BEGIN",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
};

static struct {
	pthread_mutex_t mu;
	char *path;
	sqlite3 *db;
	sqlite3_stmt *st[S_N];
	dev_t dev;
	ino_t ino;
	time_t checked;		/* when the path was last compared */
	unsigned gen;
} ix = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void
db_close(void)
{
	for (int i = 0; i < S_N; i++) {
		sqlite3_finalize(ix.st[i]);
		ix.st[i] = NULL;
	}
	if (ix.db)
		sqlite3_close(ix.db);
	ix.db = NULL;
}

static void
db_unlink(void)
{
	char p[4096];

	unlink(ix.path);
	snprintf(p, sizeof(p), "%s-wal", ix.path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", ix.path);
	unlink(p);
}

/* Open ix.path, make the schema if it is not there: 0, or an SQLite
 * result code. */
static int
db_try(void)
{
	sqlite3_stmt *s = NULL;
	struct stat st;
	int rc, fd;
	char ver[16] = "";

	/* decoded mail: readable by the daemon only, whatever the umask
	 * (SQLite gives its -wal and -shm files the same mode) */
	if ((fd = open(ix.path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) != -1)
		close(fd);
	rc = sqlite3_open_v2(ix.path, &ix.db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_busy_timeout(ix.db, 2000);
	if ((rc = sqlite3_exec(ix.db, "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=NORMAL", NULL, NULL, NULL)) != SQLITE_OK)
		return rc;
	if ((rc = sqlite3_prepare_v2(ix.db, "PRAGMA user_version", -1, &s,
	    NULL)) != SQLITE_OK)
		return rc;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		snprintf(ver, sizeof(ver), "%d", sqlite3_column_int(s, 0));
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return rc;
	if (strcmp(ver, SCHEMA) != 0 && (rc = sqlite3_exec(ix.db,
	    "BEGIN; DROP TABLE IF EXISTS msg; DROP TABLE IF EXISTS big;"
	    "CREATE TABLE msg (id TEXT PRIMARY KEY, size INTEGER,"
	    " mtime INTEGER, ino INTEGER, meta BLOB);"
	    "CREATE TABLE big (id TEXT PRIMARY KEY, data BLOB);"
	    "PRAGMA user_version = " SCHEMA "; COMMIT", NULL, NULL,
	    NULL)) != SQLITE_OK)
		return rc;
	for (int i = 0; i < S_N; i++)
		if ((rc = sqlite3_prepare_v3(ix.db, sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &ix.st[i], NULL)) != SQLITE_OK)
			return rc;
	if (stat(ix.path, &st) == 0) {
		ix.dev = st.st_dev;
		ix.ino = st.st_ino;
	}
	ix.checked = time(NULL);
	return 0;
}

/* Open the index; when it is not usable, make it anew (why: logged). */
static void
db_open(const char *why)
{
	int rc;

	if (why == NULL && (rc = db_try()) == 0)
		return;
	if (why == NULL)
		why = ix.db ? sqlite3_errmsg(ix.db) : sqlite3_errstr(rc);
	log_warnx("inbox index %s: %s: making it anew", ix.path, why);
	db_close();
	db_unlink();
	ix.gen++;
	if ((rc = db_try()) != 0) {
		log_warnx("inbox index %s: %s: working without it", ix.path,
		    ix.db ? sqlite3_errmsg(ix.db) : sqlite3_errstr(rc));
		db_close();
	}
}

/* After a statement failed with rc: make the index anew if it is broken. */
static void
db_check(int rc)
{
	char why[256];

	rc &= 0xff;
	if (rc != SQLITE_CORRUPT && rc != SQLITE_NOTADB)
		return;
	snprintf(why, sizeof(why), "%s", sqlite3_errstr(rc));
	db_open(why);
}

/* The index file still at its path? Asked at most once a second. */
static void
db_still_there(void)
{
	struct stat st;
	time_t now = time(NULL);

	if (!ix.db || now == ix.checked)
		return;
	ix.checked = now;
	if (stat(ix.path, &st) == -1 || st.st_ino != ix.ino ||
	    st.st_dev != ix.dev)
		db_open("gone from its path");
}

static sqlite3_stmt *
stmt(int i)
{
	sqlite3_stmt *s = ix.st[i];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

void
inbox_index_open(const char *path)
{
	pthread_mutex_lock(&ix.mu);
	free(ix.path);
	ix.path = strdup(path);
	if (ix.path)
		db_open(NULL);
	pthread_mutex_unlock(&ix.mu);
}

void
inbox_index_close(void)
{
	pthread_mutex_lock(&ix.mu);
	db_close();
	free(ix.path);
	ix.path = NULL;
	pthread_mutex_unlock(&ix.mu);
}

unsigned
inbox_index_generation(void)
{
	unsigned g;

	pthread_mutex_lock(&ix.mu);
	g = ix.gen;
	pthread_mutex_unlock(&ix.mu);
	return g;
}

static int
key_matches(sqlite3_stmt *s, int col, const struct inbox_key *k)
{
	return sqlite3_column_int64(s, col) == k->size &&
	    sqlite3_column_int64(s, col + 1) == k->mtime_ns &&
	    sqlite3_column_int64(s, col + 2) == k->ino;
}

int
inbox_index_get(const char *id, const struct inbox_key *key,
    struct mime_node **tree)
{
	sqlite3_stmt *s;
	int rc, err = ENOENT;

	pthread_mutex_lock(&ix.mu);
	db_still_there();
	if (ix.db) {
		s = stmt(S_GET);
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW && key_matches(s, 0, key) &&
		    (*tree = inbox_index_decode(sqlite3_column_blob(s, 3),
		    sqlite3_column_bytes(s, 3))))
			err = 0;
		sqlite3_reset(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			db_check(rc);
	}
	pthread_mutex_unlock(&ix.mu);
	return err;
}

static int
put_one(const struct inbox_row *r)
{
	sqlite3_stmt *s = stmt(S_PUT_MSG);
	int rc;

	sqlite3_bind_text(s, 1, r->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, r->key.size);
	sqlite3_bind_int64(s, 3, r->key.mtime_ns);
	sqlite3_bind_int64(s, 4, r->key.ino);
	sqlite3_bind_blob(s, 5, r->meta, (int)r->metalen, SQLITE_STATIC);
	if ((rc = sqlite3_step(s)) != SQLITE_DONE)
		return rc;
	sqlite3_reset(s);
	s = stmt(r->biglen ? S_PUT_BIG : S_DEL_BIG);
	sqlite3_bind_text(s, 1, r->id, -1, SQLITE_STATIC);
	if (r->biglen)
		sqlite3_bind_blob(s, 2, r->big, (int)r->biglen, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : rc;
}

int
inbox_index_put(const struct inbox_row *rows, size_t n)
{
	int rc = 0;
	size_t i;

	pthread_mutex_lock(&ix.mu);
	if (!ix.db) {
		pthread_mutex_unlock(&ix.mu);
		return 0;
	}
	if ((rc = sqlite3_step(stmt(S_BEGIN))) == SQLITE_DONE)
		rc = 0;
	for (i = 0; i < n && !rc; i++)
		if (rows[i].metalen < INT_MAX && rows[i].biglen < INT_MAX)
			rc = put_one(&rows[i]);
	if (!rc && (rc = sqlite3_step(stmt(S_COMMIT))) == SQLITE_DONE)
		rc = 0;
	if (rc) {
		sqlite3_step(stmt(S_ROLLBACK));
		sqlite3_reset(ix.st[S_ROLLBACK]);
		db_check(rc);
	}
	if (ix.db)
		for (i = S_BEGIN; i <= S_COMMIT; i++)
			sqlite3_reset(ix.st[i]);
	pthread_mutex_unlock(&ix.mu);
	return rc ? EIO : 0;
}

int
inbox_index_big(const char *id, const struct inbox_key *key,
    const struct mime_node *n, char **buf)
{
	sqlite3_blob *b = NULL;
	sqlite3_stmt *s;
	sqlite3_int64 row = 0;
	int rc, err = ENOENT;

	if (!(*buf = malloc(n->len + 1)))
		return ENOMEM;
	pthread_mutex_lock(&ix.mu);
	if (ix.db) {
		s = stmt(S_BIG);
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW && key_matches(s, 1, key))
			row = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			db_check(rc);
		else if (row && n->len < INT_MAX && n->off < INT_MAX &&
		    (rc = sqlite3_blob_open(ix.db, "main", "big", "data", row,
		    0, &b)) == SQLITE_OK) {
			if (n->off + n->len <= (unsigned long long)
			    sqlite3_blob_bytes(b) &&
			    (rc = sqlite3_blob_read(b, *buf, (int)n->len,
			    (int)n->off)) == SQLITE_OK &&
			    fnv64(*buf, n->len) == n->sum)
				err = 0;
			sqlite3_blob_close(b);
			if (rc != SQLITE_OK)
				db_check(rc);
		} else if (row)
			db_check(rc);
	}
	pthread_mutex_unlock(&ix.mu);
	if (err) {
		free(*buf);
		*buf = NULL;
	} else
		(*buf)[n->len] = '\0';
	return err;
}

void
inbox_index_delete(char *const *ids, size_t n)
{
	sqlite3_stmt *s;
	int rc = 0;

	pthread_mutex_lock(&ix.mu);
	if (ix.db && n > 1)
		rc = sqlite3_step(stmt(S_BEGIN)) == SQLITE_DONE ? 0 : 1;
	for (size_t i = 0; ix.db && i < n && !rc; i++)
		for (int k = S_DEL_MSG; k <= S_DEL_BIG && !rc; k++) {
			s = stmt(k);
			sqlite3_bind_text(s, 1, ids[i], -1, SQLITE_STATIC);
			if ((rc = sqlite3_step(s)) == SQLITE_DONE)
				rc = 0;
			sqlite3_reset(s);
		}
	if (ix.db && n > 1) {
		if (rc)
			sqlite3_step(stmt(S_ROLLBACK));
		else if ((rc = sqlite3_step(stmt(S_COMMIT))) == SQLITE_DONE)
			rc = 0;
		for (int i = S_BEGIN; i <= S_ROLLBACK; i++)
			sqlite3_reset(ix.st[i]);
	}
	if (ix.db && rc)
		db_check(rc);
	pthread_mutex_unlock(&ix.mu);
}

int
inbox_index_ids(char ***ids, size_t *n)
{
	sqlite3_stmt *s;
	char **v = NULL, **nv;
	size_t cap = 0;
	int rc = SQLITE_DONE, err = 0;

	*n = 0;
	pthread_mutex_lock(&ix.mu);
	if (ix.db) {
		s = stmt(S_IDS);
		while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (*n == cap) {
				cap = cap ? 2 * cap : 256;
				if (!(nv = realloc(v, cap * sizeof(*v)))) {
					err = ENOMEM;
					break;
				}
				v = nv;
			}
			if (!(v[*n] = strdup(sqlite3_column_text(s, 0) ?
			    (const char *)sqlite3_column_text(s, 0) : "")))
				err = ENOMEM;
			else
				(*n)++;
		}
		sqlite3_reset(s);
		if (!err && rc != SQLITE_DONE) {
			db_check(rc);
			err = EIO;
		}
	}
	pthread_mutex_unlock(&ix.mu);
	if (err) {
		strv_free(v, *n);
		*n = 0;
		return err;
	}
	*ids = v;
	return 0;
}
