/*
 * mailq.c - SPOOL/queue listed like Postfix's mailq(1), for sendmail -bp.
 * It reads the state files (entry.h) directly, read-only, so it works
 * whether the daemon runs or not; an entry whose state cannot be read is
 * skipped (the daemon's load.c deals with it). A recipient being sent is
 * shown in the state last written.
 *
 * API: mailq_print (mailq.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/strv.h"
#include "queue/entry.h"
#include "queue/mailq.h"
#include "queue/queue_int.h"
#include "queue/spool.h"

#define INDENT	(QUEUE_ID_LEN + 1 + 8 + 1 + 20 + 1)	/* the sender column */

/* The reason of the last failure, on one line of printable text. */
static void
put_reason(FILE *out, const char *s)
{
	fprintf(out, "%*s(", INDENT, "");
	for (; *s; s++)
		fputc((unsigned char)*s < ' ' || *s == 0x7f ? ' ' : *s, out);
	fputs(")\n", out);
}

/* One entry; 1 if it was shown. */
static int
show(int qfd, const char *id, FILE *out, size_t *bytes)
{
	char *text, when[32];
	struct msg *m;
	struct tm tm;
	size_t len, i;
	int dfd, shown = 0;

	if ((dfd = openat(qfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return 0;
	if (spool_read_file(dfd, "state", &text, &len) != 0) {
		close(dfd);
		return 0;
	}
	close(dfd);
	if ((m = entry_new(id)) != NULL && entry_parse(m, text) == 0) {
		localtime_r(&m->arrival, &tm);
		strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm);
		fprintf(out, "%-*s %8zu %-20s %s\n", QUEUE_ID_LEN, id,
		    m->size, when, m->from[0] ? m->from : "MAILER-DAEMON");
		for (i = 0; i < m->nr; i++) {
			if (m->r[i].state == QUEUE_RCPT_DELIVERED ||
			    m->r[i].state == QUEUE_RCPT_FAILED)
				continue;
			if (m->r[i].text != NULL)
				put_reason(out, m->r[i].text);
			fprintf(out, "%*s%s\n", INDENT, "", m->r[i].addr);
		}
		fputc('\n', out);
		*bytes += m->size;
		shown = 1;
	}
	if (m != NULL)
		entry_free(m);
	free(text);
	return shown;
}

int
mailq_print(const char *spool, FILE *out)
{
	char path[4096], **ids = NULL, **v;
	size_t n = 0, cap = 0, i, shown = 0, bytes = 0;
	struct dirent *de;
	DIR *d;
	int qfd;

	snprintf(path, sizeof(path), "%s/queue", spool);
	if ((qfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return errno;
	if ((d = fdopendir(dup(qfd))) == NULL) {
		close(qfd);
		return errno;
	}
	while ((de = readdir(d)) != NULL) {
		if (!queue_id_valid(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((v = realloc(ids, cap * sizeof(*v))) == NULL)
				break;
			ids = v;
		}
		if ((ids[n] = strdup(de->d_name)) == NULL)
			break;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(ids, n, sizeof(*ids), strv_cmp);
	for (i = 0; i < n; i++) {
		if (shown == 0 && i == 0)
			fprintf(out, "%-*s %8s %-20s %s\n", QUEUE_ID_LEN,
			    "-Queue ID-", "--Size--", "----Arrival Time----",
			    "-Sender/Recipient-------");
		shown += show(qfd, ids[i], out, &bytes);
	}
	close(qfd);
	strv_free(ids, n);
	if (shown == 0)
		fprintf(out, "Mail queue is empty\n");
	else
		fprintf(out, "-- %zu Kbytes in %zu Request%s.\n",
		    (bytes + 1023) / 1024, shown, shown == 1 ? "" : "s");
	return 0;
}
