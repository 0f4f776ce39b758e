/*
 * view.c - what the fs sees of the outbound queue and what it may do to
 * it: the listing of queue/, sent/ and failed/, the files of an entry
 * (the queue_files table, their rendering and sizes), and the verbs of
 * ID/ctl and the top-level ctl (and its per-domain form, for the
 * listener's ETRN), the expiry of archived entries, and the gauges of
 * the stats file.
 *
 * API: queue.h ("the view the fs renders"); queue_format_time for jobs.c
 * (core.h). Locking as in queue.c: everything is read under queue.mu.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/conf.h"
#include "queue/core.h"
#include "queue/qlog.h"

/* ---- the view ---- */

/* An archived entry past keep: gone for readers even before the sweep. */
static int
expired(const struct msg *m, time_t now)
{
	return m->where != QUEUE_QUEUE && now - m->done >= queue.conf->keep;
}

/* Caller holds queue.mu. The IDs of place w, in one block as
 * queue_names gives them, unsorted but for queue/ (kept sorted). */
static int
names_block(enum queue_where w, char **ids, size_t *len, size_t *n)
{
	GHashTableIter it;
	gpointer key, val;
	const struct msg *m;
	size_t total = 0, k, at = 0;
	char *out = NULL;
	int pass;

	*n = 0;
	/* two passes: the size, then the copy */
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1 && (out = malloc(total ? total : 1)) == NULL)
			return ENOMEM;
		if (w == QUEUE_QUEUE) {
			for (k = 0; k < queue.queued->len; k++) {
				m = queue.queued->pdata[k];
				if (pass == 0)
					total += strlen(m->id) + 1;
				else
					at += stpcpy(out + at, m->id) - (out + at) + 1;
			}
			continue;
		}
		g_hash_table_iter_init(&it, queue.index);
		while (g_hash_table_iter_next(&it, &key, &val)) {
			if (((struct msg *)val)->where != w)
				continue;
			if (pass == 0)
				total += strlen(key) + 1;
			else {
				at += stpcpy(out + at, key) - (out + at) + 1;
				++*n;
			}
		}
	}
	if (w == QUEUE_QUEUE)
		*n = queue.queued->len;
	*ids = out;
	*len = total;
	return 0;
}

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort the n IDs of block ids (len bytes) in place. */
static int
names_sort(char *ids, size_t len, size_t n)
{
	char **v, *copy, *p;
	size_t i;

	if (n < 2)
		return 0;
	if ((v = malloc(n * sizeof(*v))) == NULL ||
	    (copy = malloc(len)) == NULL) {
		free(v);
		return ENOMEM;
	}
	memcpy(copy, ids, len);
	for (i = 0, p = copy; i < n; i++, p += strlen(p) + 1)
		v[i] = p;
	qsort(v, n, sizeof(*v), cmp_id);
	for (i = 0, p = ids; i < n; i++)
		p = stpcpy(p, v[i]) + 1;
	free(copy);
	free(v);
	return 0;
}

int
queue_names(enum queue_where w, char **ids, size_t *len, size_t *n)
{
	int err;

	*ids = NULL;
	*len = *n = 0;
	if (w != QUEUE_QUEUE)
		queue_expire(time(NULL));
	pthread_mutex_lock(&queue.mu);
	err = queue.index == NULL ? 0 : names_block(w, ids, len, n);
	pthread_mutex_unlock(&queue.mu);
	/* The list of queue/ is kept sorted; the others are sorted here,
	 * outside the lock. */
	if (!err && w != QUEUE_QUEUE && (err = names_sort(*ids, *len, *n))) {
		free(*ids);
		*ids = NULL;
		*len = *n = 0;
	}
	return err;
}

int
queue_lookup(enum queue_where w, const char *id, time_t *mtime)
{
	struct msg *m;
	int err = ENOENT, old = 0;

	pthread_mutex_lock(&queue.mu);
	if (queue.index != NULL && (m = queue_find(w, id)) != NULL) {
		if (mtime != NULL)
			*mtime = w == QUEUE_QUEUE ? m->arrival : m->done;
		old = expired(m, time(NULL));
		err = old ? ENOENT : 0;
	}
	pthread_mutex_unlock(&queue.mu);
	if (old)
		queue_drop(w, id, 0);
	return err;
}

void
queue_format_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The status TEXT: one line, whatever the reply held. */
static void
put_text(FILE *f, const char *s)
{
	if (s == NULL || *s == '\0') {
		fputc('-', f);
		return;
	}
	for (; *s; s++)
		fputc((unsigned char)*s < ' ' || *s == 0x7f ? ' ' : *s, f);
}

static void
text_name(const struct msg *m, FILE *f)
{
	fprintf(f, "%s\n", m->name);
}

static void
text_envelope(const struct msg *m, FILE *f)
{
	char uid[32];
	size_t i;

	fprintf(f, "from %s\n", m->from[0] ? m->from : "<>");
	for (i = 0; i < m->nr; i++)
		fprintf(f, "to %s\n", m->r[i].addr);
	entry_format_uid(m->uid, uid, sizeof(uid));
	fprintf(f, "uid %s\n", uid);
}

static void
text_status(const struct msg *m, FILE *f)
{
	const struct rcpt *r;
	char when[32];
	size_t i;

	for (i = 0; i < m->nr; i++) {
		r = &m->r[i];
		if (r->state == QUEUE_RCPT_QUEUED ||
		    r->state == QUEUE_RCPT_DEFERRED)
			queue_format_time(r->next, when, sizeof(when));
		else
			snprintf(when, sizeof(when), "-");
		fprintf(f, "%s %s %d %s %s ", r->addr,
		    entry_state_name(r->state), r->attempts, when,
		    r->code[0] ? r->code : "-");
		put_text(f, r->text);
		fputc('\n', f);
	}
}

const struct queue_file queue_files[] = {
	{ "message",	0444, 0, QUEUE_FILE_DISK,	NULL },
	{ "envelope",	0444, 0, QUEUE_FILE_MEMORY,	text_envelope },
	{ "status",	0444, 1, QUEUE_FILE_MEMORY,	text_status },
	{ "log",	0444, 1, QUEUE_FILE_DISK,	NULL },
	{ "name",	0444, 0, QUEUE_FILE_MEMORY,	text_name },
	{ "ctl",	0200, 1, QUEUE_FILE_CTL,	NULL },
};
const size_t queue_nfiles = sizeof(queue_files) / sizeof(queue_files[0]);

const struct queue_file *
queue_file_find(const char *name)
{
	size_t i;

	for (i = 0; i < queue_nfiles; i++)
		if (strcmp(queue_files[i].name, name) == 0)
			return &queue_files[i];
	return NULL;
}

/* Caller holds queue.mu. The text of a QUEUE_FILE_MEMORY file. */
static int
render_memory(const struct queue_file *qf, const struct msg *m, char **buf,
    size_t *len)
{
	FILE *f;

	*buf = NULL;
	if ((f = open_memstream(buf, len)) == NULL)
		return ENOMEM;
	qf->text(m, f);
	if (fclose(f) != 0) {
		free(*buf);
		*buf = NULL;
		return ENOMEM;
	}
	return 0;
}

/* Caller holds queue.mu, so a concurrent move cannot pull the file away
 * (it is small next to what a lookup costs). A dynamic file not written
 * yet (a log) is empty. */
static int
render_disk(const struct queue_file *qf, const struct msg *m, char **buf,
    size_t *len)
{
	int fd, err;

	fd = openat(queue.dirs[m->where].fd[0], m->id, O_RDONLY |
	    O_DIRECTORY | O_CLOEXEC);
	err = fd == -1 ? errno : spool_read_file(fd, qf->name, buf, len);
	if (fd != -1)
		close(fd);
	if (err == ENOENT && qf->dynamic)
		err = (*buf = strdup("")) == NULL ? ENOMEM : 0;
	return err;
}

int
queue_render(enum queue_where w, const char *id, const char *file,
    char **buf, size_t *len, char path[PATH_MAX])
{
	const struct queue_file *qf = queue_file_find(file);
	struct stat st;
	struct msg *m;
	int err;

	*buf = NULL;
	*len = 0;
	if (qf == NULL)
		return ENOENT;
	pthread_mutex_lock(&queue.mu);
	if (queue.index == NULL || (m = queue_find(w, id)) == NULL) {
		pthread_mutex_unlock(&queue.mu);
		return ENOENT;
	}
	switch (qf->source) {
	case QUEUE_FILE_DISK:
		if (qf->dynamic || path == NULL) {
			err = render_disk(qf, m, buf, len);
			break;
		}
		queue_entry_path(m, qf->name, path);
		err = stat(path, &st) == -1 ? errno : 0;
		*len = err ? 0 : (size_t)st.st_size;
		break;
	case QUEUE_FILE_MEMORY:
		err = render_memory(qf, m, buf, len);
		break;
	default:
		err = (*buf = strdup("")) == NULL ? ENOMEM : 0;
		break;
	}
	pthread_mutex_unlock(&queue.mu);
	return err;
}

int
queue_file_size(enum queue_where w, const char *id, const char *file,
    size_t *len)
{
	const struct queue_file *qf = queue_file_find(file);
	char p[PATH_MAX], *buf;
	struct stat st;
	struct msg *m;
	int err = 0;

	*len = 0;
	if (qf == NULL)
		return ENOENT;
	pthread_mutex_lock(&queue.mu);
	if (queue.index == NULL || (m = queue_find(w, id)) == NULL) {
		err = ENOENT;
	} else if (qf->source == QUEUE_FILE_DISK) {
		queue_entry_path(m, qf->name, p);
		*len = stat(p, &st) == 0 ? (size_t)st.st_size : 0;
	} else if (qf->source == QUEUE_FILE_MEMORY &&
	    (err = render_memory(qf, m, &buf, len)) == 0) {
		free(buf);
	}
	pthread_mutex_unlock(&queue.mu);
	return err;
}

/* ---- control ---- */

/* Caller holds queue.mu. Deferred recipients of m due at now, which the
 * writer saves so that a restart keeps it. */
static int
make_due(struct msg *m, time_t now)
{
	size_t i;
	int n = 0;

	for (i = 0; i < m->nr; i++) {
		if (m->r[i].state == QUEUE_RCPT_DEFERRED && m->r[i].next > now) {
			m->r[i].next = now;
			n++;
		}
	}
	if (n > 0) {
		queue_due_update(m);
		queue_save_later(m);
	}
	return n;
}

int
queue_ctl(enum queue_where w, const char *id, const char *verb)
{
	struct msg *m;
	int err;

	if (strcmp(verb, "delete") == 0) {
		/* only a queued message could be sent if the drop were lost */
		if ((err = queue_drop(w, id, w == QUEUE_QUEUE)) == 0)
			qlog_event(id, "deleted", NULL);
		return err;
	}
	/* a finished entry has nothing left to try */
	if (strcmp(verb, "retry") != 0 || w != QUEUE_QUEUE)
		return EINVAL;
	pthread_mutex_lock(&queue.mu);
	m = queue.index ? queue_find(QUEUE_QUEUE, id) : NULL;
	if (m != NULL)
		make_due(m, time(NULL));
	pthread_mutex_unlock(&queue.mu);
	if (m == NULL)
		return ENOENT;
	queue_wake();
	return 0;
}

int
queue_forget(enum queue_where w, const char *id)
{
	if (w == QUEUE_QUEUE)
		return EPERM;
	return queue_drop(w, id, 0);
}

void
queue_flush(void)
{
	time_t now = time(NULL);
	guint i;

	pthread_mutex_lock(&queue.mu);
	for (i = 0; queue.queued != NULL && i < queue.queued->len; i++)
		make_due(queue.queued->pdata[i], now);
	queue_retry_writes();
	pthread_mutex_unlock(&queue.mu);
	queue_wake();
}

/* 1 if d is node, or with sub a subdomain of it (both lower case) */
static int
domain_covered(const char *d, const char *node, int sub)
{
	size_t n = strlen(node), len = strlen(d);

	if (strcmp(d, node) == 0)
		return 1;
	return sub && len > n && d[len - n - 1] == '.' &&
	    strcmp(d + len - n, node) == 0;
}

int
queue_flush_domain(const char *node, int sub)
{
	time_t now = time(NULL);
	struct msg *m;
	int count = 0, waiting, changed;
	guint i;

	pthread_mutex_lock(&queue.mu);
	if (queue.queued == NULL) {
		pthread_mutex_unlock(&queue.mu);
		return -1;
	}
	for (i = 0; i < queue.queued->len; i++) {
		m = queue.queued->pdata[i];
		waiting = changed = 0;
		for (size_t j = 0; j < m->nr; j++) {
			struct rcpt *r = &m->r[j];

			if ((r->state != QUEUE_RCPT_DEFERRED &&
			    r->state != QUEUE_RCPT_QUEUED) ||
			    queue_rcpt_is_local(r) ||
			    !domain_covered(r->domain, node, sub))
				continue;
			waiting = 1;
			if (r->state == QUEUE_RCPT_DEFERRED && r->next > now) {
				r->next = now;
				changed = 1;
			}
		}
		if (changed) {
			queue_due_update(m);
			queue_save_later(m);	/* as make_due: kept due */
		}
		count += waiting;
	}
	pthread_mutex_unlock(&queue.mu);
	if (count > 0)
		queue_wake();
	return count;
}

void
queue_expire(time_t now)
{
	GHashTableIter it;
	gpointer val;
	GPtrArray *old = g_ptr_array_new_with_free_func(g_free);
	struct msg *m;
	guint i;

	pthread_mutex_lock(&queue.mu);
	if (queue.index != NULL) {
		g_hash_table_iter_init(&it, queue.index);
		while (g_hash_table_iter_next(&it, NULL, &val)) {
			m = val;
			if (expired(m, now))
				g_ptr_array_add(old, g_strdup(m->id));
		}
	}
	pthread_mutex_unlock(&queue.mu);
	/* Whichever of sent/ or failed/ it is in. */
	for (i = 0; i < old->len; i++)
		if (queue_drop(QUEUE_SENT, old->pdata[i], 0) == ENOENT)
			queue_drop(QUEUE_FAILED, old->pdata[i], 0);
	g_ptr_array_free(old, TRUE);
}

void
queue_gauges(struct queue_gauges *g)
{
	const struct msg *m;
	int deferred, sending;
	size_t j;
	guint i;

	memset(g, 0, sizeof(*g));
	pthread_mutex_lock(&queue.mu);
	for (i = 0; queue.queued != NULL && i < queue.queued->len; i++) {
		m = queue.queued->pdata[i];
		deferred = sending = 0;
		for (j = 0; j < m->nr; j++) {
			deferred |= m->r[j].state == QUEUE_RCPT_DEFERRED;
			sending |= m->r[j].state == QUEUE_RCPT_SENDING;
		}
		g->queue++;
		g->deferred += deferred;
		g->sending += sending;
	}
	pthread_mutex_unlock(&queue.mu);
}
