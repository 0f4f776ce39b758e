/*
 * inbox_index.c - the inbox index (see inbox_index.h): its SQLite store
 * and the rows kept in memory; the codec of the rows is inbox_codec.c.
 *
 * The store: table msg (id, size, mtime, ino, meta) and table big (id,
 * data), the latter read with the incremental blob API so that opening one
 * file reads its bytes only. WAL and synchronous=NORMAL: a commit costs
 * no fsync, and a crash loses at most the last commits, never the
 * database (the index is a cache). user_version tells the schema; another
 * one is dropped and made anew. SQLITE_CORRUPT or SQLITE_NOTADB from any
 * statement, or the file gone from its path (deleted, replaced), makes
 * the index anew, logged once with log_warn.
 *
 * The msg rows are also kept in memory (fs/inbox_rows.h), up to MEM_MAX
 * bytes: inbox_index_load reads them in one pass, a chunk per lock, and
 * from then on a lookup or the list of ids needs no query. Every put and
 * delete changes both under the one lock, so a row in memory is the row
 * in the file; while loading, a row not yet in memory is asked of SQLite.
 * Past MEM_MAX the rows in memory are dropped and every lookup is a query
 * again.
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
#include "fs/inbox_rows.h"
#include "fs/mime.h"
#include "lib/log.h"
#include "lib/strv.h"

#define SCHEMA		"1"	/* user_version; another is made anew */
#define MEM_MAX		(32 * 1024 * 1024)
#define LOAD_CHUNK	512
#define LOAD_CHUNK_S	"512"

enum { S_GET, S_PUT_MSG, S_PUT_BIG, S_DEL_MSG, S_DEL_BIG, S_BIG, S_IDS,
	S_LOAD, S_BEGIN, S_COMMIT, S_ROLLBACK, S_N };

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
	[S_LOAD] = "SELECT rowid, id, size, mtime, ino, meta FROM msg"
	    " WHERE rowid > ?1 ORDER BY rowid LIMIT " LOAD_CHUNK_S,
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
	struct inbox_rows *mem;	/* NULL: every lookup is a query */
	int loaded;		/* mem holds every row */
	sqlite3_int64 cursor;	/* the last rowid loaded */
} ix = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* Rows in memory no more: a lookup is a query. */
static void
mem_drop(void)
{
	inbox_rows_free(ix.mem);
	ix.mem = NULL;
	ix.loaded = 0;
}

/* Keep id's row in memory too, if mem is kept. */
static void
mem_put(const char *id, const struct inbox_key *k, const void *meta,
    size_t len)
{
	int err;

	if (ix.mem && (err = inbox_rows_put(ix.mem, id, k, meta, len))) {
		if (err == E2BIG)
			log_warnx("inbox index: more than %d MiB of rows: "
			    "querying the file for each", MEM_MAX >> 20);
		mem_drop();
	}
}

static void
db_close(void)
{
	mem_drop();
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
	/* to be loaded (inbox_index_load), but a file made just now has
	 * nothing to load (one made anew while running has no loader) */
	ix.mem = inbox_rows_new(MEM_MAX);
	ix.loaded = strcmp(ver, SCHEMA) != 0;
	ix.cursor = 0;
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
	const unsigned char *meta;
	struct inbox_key k;
	sqlite3_stmt *s;
	size_t len;
	int rc, err = ENOENT, have;

	pthread_mutex_lock(&ix.mu);
	db_still_there();
	have = ix.mem && inbox_rows_get(ix.mem, id, &k, &meta, &len) == 0;
	if (have || (ix.mem && ix.loaded)) {
		/* the row in memory is the file's; none when all are loaded */
		if (have && inbox_key_eq(&k, key) &&
		    (*tree = inbox_index_decode(meta, len)))
			err = 0;
	} else if (ix.db) {
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
	for (i = 0; i < n && !rc; i++)
		if (rows[i].metalen < INT_MAX && rows[i].biglen < INT_MAX)
			mem_put(rows[i].id, &rows[i].key, rows[i].meta,
			    rows[i].metalen);
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
			    inbox_index_sum(*buf, n->len) == n->sum)
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
	/* from memory whatever the file says: a row missing there costs a
	 * render at most */
	for (size_t i = 0; ix.mem && i < n; i++)
		inbox_rows_delete(ix.mem, ids[i]);
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
	if (ix.mem && ix.loaded) {
		err = inbox_rows_ids(ix.mem, &v, n);
		pthread_mutex_unlock(&ix.mu);
		*ids = err ? NULL : v;
		return err;
	}
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

/* One chunk of rows into memory: 1 if there may be more, else 0. */
static int
load_chunk(void)
{
	sqlite3_stmt *s;
	struct inbox_key k;
	const char *id;
	int rc = SQLITE_DONE, got = 0;

	if (!ix.db || !ix.mem || ix.loaded)
		return 0;
	s = stmt(S_LOAD);
	sqlite3_bind_int64(s, 1, ix.cursor);
	while (ix.mem && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		got++;
		ix.cursor = sqlite3_column_int64(s, 0);
		k.size = sqlite3_column_int64(s, 2);
		k.mtime_ns = sqlite3_column_int64(s, 3);
		k.ino = sqlite3_column_int64(s, 4);
		if ((id = (const char *)sqlite3_column_text(s, 1)))
			mem_put(id, &k, sqlite3_column_blob(s, 5),
			    (size_t)sqlite3_column_bytes(s, 5));
	}
	sqlite3_reset(s);
	if (!ix.mem)
		return 0;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		mem_drop();
		db_check(rc);
		return 0;
	}
	if (got < LOAD_CHUNK)
		ix.loaded = 1;
	return !ix.loaded;
}

void
inbox_index_load(void)
{
	int more;

	do {
		pthread_mutex_lock(&ix.mu);
		more = load_chunk();
		pthread_mutex_unlock(&ix.mu);
	} while (more);
}
