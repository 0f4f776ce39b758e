/*
 * load.c - the outbound queue at start: tmp/ emptied of what a stop left
 * half-written, every entry of queue/, sent/ and failed/ loaded into the
 * index, a damaged entry rebuilt from its message or moved aside to
 * SPOOL/corrupt/ (never dropped), and an entry found finished in queue/
 * moved to where it belongs.
 *
 * API: queue_clean_tmp, queue_load_dir (core.h), for queue_open.
 * Diagnostics: log_warn/log_warnx for every entry not loaded as it was.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "queue/core.h"
#include "queue/queue_int.h"

/* Put a damaged entry where it does no harm and a person can look. */
static void
move_aside(enum queue_where w, const char *id, const char *why)
{
	int cfd = check_corrupt_dir();

	if (cfd == -1 || renameat(queue.dirs[w].fd[0], id, cfd, id) == -1)
		log_warn("%s/%s: %s; cannot move it to corrupt/",
		    queue_dir_names[w], id, why);
	else
		log_warnx("%s/%s: %s; moved to corrupt/", queue_dir_names[w], id, why);
	if (cfd != -1)
		close(cfd);
}

/*
 * rebuild - a queue/ entry whose state is missing or unreadable still
 * holds an acknowledged message: derive the envelope from its header
 * again, as at submission (Bcc: recipients are gone with the field). But
 * a crash during a submission can leave the state empty or stale and the
 * message cut short (queue.c): so the message must match its seal
 * (check.c), and an entry whose spare seal was never renamed was never
 * acknowledged. An entry without any seal is one of an older version,
 * whose files were durable before its name: trusted as before. why is
 * set when it fails.
 */
static int
rebuild(struct msg *m, int dfd, const struct stat *st, const char **why)
{
	struct submit_msg sm;
	char reason[512], *data, *state, text[128];
	uint32_t crc = 0;
	size_t len, i, sealsize = 0;
	int err, sealed;

	*why = "unreadable state";
	sealed = check_find_seal(dfd, &sealsize, &crc);
	if (sealed == 0) {
		*why = "unreadable state of a submission cut short";
		return EBADMSG;
	}
	if ((err = spool_read_file(dfd, "message", &data, &len)) != 0)
		return err;
	if (sealed == 1 && check_verdict(sealsize, 1, crc, len,
	    check_crc(0, data, len), text, sizeof(text)) != 0) {
		free(data);
		*why = "unreadable state, and its message is not the one "
		    "its seal describes";
		return EBADMSG;
	}
	err = submit_prepare(queue.conf, data, len, NULL, &sm, reason, sizeof(reason));
	free(data);
	if (err)
		return err;
	m->from = strdup(sm.from);
	m->name = strdup("");
	m->arrival = st->st_mtime;
	m->eightbit = sm.eightbit;
	m->size = (size_t)st->st_size;
	m->has_crc = sealed == 1;
	m->crc = crc;
	err = m->from == NULL || m->name == NULL ? ENOMEM : 0;
	for (i = 0; !err && i < sm.nrcpt; i++)
		err = entry_add_rcpt(m, sm.rcpts[i]);
	submit_free(&sm);
	if (!err && (state = entry_serialize(m, &len)) != NULL) {
		err = spool_replace_file(dfd, "state", state, len);
		free(state);
	}
	if (!err)
		log_warnx("queue/%s: state rebuilt from the message header",
		    m->id);
	return err;
}

static void
load_entry(enum queue_where w, const char *id)
{
	char p[QUEUE_ID_MAX + 16], *text = NULL;
	int wfd = queue.dirs[w].fd[0];
	const char *why = "unreadable state";
	struct stat st;
	struct msg *m;
	size_t len;
	int dfd, ok;

	enum queue_where had = QUEUE_QUEUE;

	pthread_mutex_lock(&queue.mu);
	if ((m = g_hash_table_lookup(queue.index, id)) != NULL)
		had = m->where;
	pthread_mutex_unlock(&queue.mu);
	if (m != NULL) {
		/* Already here: a finished entry found in queue/ was just
		 * moved to this place. Elsewhere only a hand-made copy can
		 * do this: keep the first found (queue/ is loaded first, so
		 * nothing pending is lost). */
		if (had != w)
			move_aside(w, id, "the same ID is already loaded");
		return;
	}
	/* Paths below the place's directory: no descriptor per entry. A
	 * state.tmp is left: only ever an older state (or a save cut short),
	 * never read, rewritten whole by the next save (writer.c); an unlink
	 * of each at start would cost a big queue seconds. */
	snprintf(p, sizeof(p), "%s/message", id);
	if (fstatat(wfd, p, &st, 0) == -1) {
		if (errno == ENOENT)
			move_aside(w, id, "no message file");
		else
			log_warn("%s/%s: not loaded", queue_dir_names[w], id);
		return;
	}
	if ((m = entry_new(id)) == NULL)
		return;
	snprintf(p, sizeof(p), "%s/state", id);
	ok = spool_read_file(wfd, p, &text, &len) == 0 &&
	    entry_parse(m, text) == 0;
	free(text);
	if (!ok && w == QUEUE_QUEUE) {
		entry_free(m);
		dfd = openat(wfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ok = dfd != -1 && (m = entry_new(id)) != NULL &&
		    rebuild(m, dfd, &st, &why) == 0;
		if (dfd == -1)
			m = NULL;
		else
			close(dfd);
	}
	if (!ok) {
		if (m != NULL)
			entry_free(m);
		move_aside(w, id, why);
		return;
	}
	/* The state says how long the acknowledged message is: a message
	 * file of another size is not it, and is never sent. */
	if (w == QUEUE_QUEUE && m->size != 0 &&
	    m->size != (size_t)st.st_size) {
		entry_free(m);
		move_aside(w, id, "its message is not the size its state says");
		return;
	}
	m->where = w;
	m->size = (size_t)st.st_size;
	queue_id_seen(id);
	pthread_mutex_lock(&queue.mu);
	queue_index_add(m);
	pthread_mutex_unlock(&queue.mu);
	/* Stopped between writing the last result and moving the entry. */
	if (w == QUEUE_QUEUE && queue_destination(m) != QUEUE_QUEUE) {
		if (m->done == 0)
			m->done = time(NULL);
		if (queue_save(m) != 0) {
			/* The writer tries again until it lands. */
			pthread_mutex_lock(&queue.mu);
			queue_save_later(m);
			pthread_mutex_unlock(&queue.mu);
		}
	}
}

static gint
cmp_names(gconstpointer a, gconstpointer b)
{
	return strcmp(a, b);
}

/* Loaded in ID order: each queue/ entry then goes at the end of the
 * sorted list (queue.c) and at once into place in the due heaps, where
 * the directory's order would cost a shift of the list per entry. The
 * names (all QUEUE_ID_LEN long) are kept in one flat array, which a
 * large queue gets from mmap and gives back whole. */
int
queue_load_dir(enum queue_where w)
{
	GArray *names = g_array_new(FALSE, FALSE, QUEUE_ID_LEN + 1);
	struct dirent *de;
	DIR *dir;
	guint i;
	int fd;

	if ((fd = openat(queue.spoolfd, queue_dir_names[w], O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || (dir = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		g_array_free(names, TRUE);
		return -1;
	}
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (!queue_id_valid(de->d_name))
			log_warnx("%s/%s: not a queue entry; left alone",
			    queue_dir_names[w], de->d_name);
		else
			g_array_append_vals(names, de->d_name, 1);
	}
	closedir(dir);
	g_array_sort(names, cmp_names);
	for (i = 0; i < names->len; i++)
		load_entry(w, &g_array_index(names, char, i * (QUEUE_ID_LEN + 1)));
	g_array_free(names, TRUE);
	return 0;
}

/* Whatever a stop left half-written in tmp/ was never acknowledged. */
int
queue_clean_tmp(void)
{
	struct dirent *de;
	DIR *dir;
	int fd;

	if ((fd = dup(queue.tmpfd)) == -1)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			spool_remove_tree(queue.tmpfd, de->d_name);
	closedir(dir);
	return 0;
}
