/*
 * maildrop.c - the maildrop file (format in maildrop.h): built and
 * written by sendmail(8), read back by the daemon's pickup.c.
 *
 * API: maildrop_prepare, maildrop_add_from, maildrop_write,
 * maildrop_parse (maildrop.h).
 *
 * The message is checked here with submit_prepare, the parser queue_submit
 * uses, so a message the queue would refuse is refused before it is
 * written (sendmail exits 65 with the reason); pickup checks it again,
 * since the file is the submitter's and is not trusted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include "queue/maildrop.h"
#include "queue/queue_int.h"
#include "queue/spool.h"

#define MAGIC	"mailfs-maildrop 1"

int
maildrop_prepare(const struct conf *c, const char *raw, size_t len,
    const struct queue_origin *o, char **out, size_t *outlen, char *reason,
    size_t reasonlen)
{
	struct submit_msg sm;
	FILE *f;
	size_t i;
	int err;

	*out = NULL;
	if ((err = submit_prepare(c, raw, len, o, &sm, reason,
	    reasonlen)) != 0)
		return err;
	if ((f = open_memstream(out, outlen)) == NULL) {
		submit_free(&sm);
		return ENOMEM;
	}
	fprintf(f, "%s\nfrom <%s>\n", MAGIC, sm.from);
	for (i = 0; i < sm.nrcpt; i++)
		fprintf(f, "to <%s>\n", sm.rcpts[i]);
	fputc('\n', f);
	fwrite(raw, 1, len, f);
	submit_free(&sm);
	if (fclose(f) != 0) {
		free(*out);
		*out = NULL;
		return ENOMEM;
	}
	return 0;
}

/* The length of the header field line at p ("Name:"), 0 if it is not one;
 * *name_len the length of its name. */
static int
is_field_line(const char *p, size_t len, size_t *name_len)
{
	size_t k = 0;

	while (k < len && p[k] > ' ' && p[k] < 127 && p[k] != ':')
		k++;
	*name_len = k;
	return k > 0 && k < len && p[k] == ':';
}

int
maildrop_add_from(const char *raw, size_t len, const char *from_field,
    char **out, size_t *outlen)
{
	const char *p = raw, *end = raw + len, *nl;
	size_t n, skip = 0;
	int has_header, has_from = 0;
	FILE *f;

	/* an mbox "From " line is dropped by the queue; look past it */
	if (len > 5 && memcmp(raw, "From ", 5) == 0) {
		nl = memchr(raw, '\n', len);
		skip = nl ? (size_t)(nl - raw) + 1 : len;
		p += skip;
	}
	has_header = is_field_line(p, (size_t)(end - p), &n);
	while (has_header && p < end && *p != '\n' && *p != '\r') {
		if (*p != ' ' && *p != '\t' &&
		    is_field_line(p, (size_t)(end - p), &n) && n == 4 &&
		    strncasecmp(p, "From", 4) == 0)
			has_from = 1;
		nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	if ((f = open_memstream(out, outlen)) == NULL)
		return ENOMEM;
	fwrite(raw, 1, skip, f);
	if (!has_from)
		fprintf(f, "From: %s\n", from_field);
	if (!has_header)
		fputc('\n', f);
	fwrite(raw + skip, 1, len - skip, f);
	if (fclose(f) != 0) {
		free(*out);
		*out = NULL;
		return ENOMEM;
	}
	return 0;
}

int
maildrop_write(const char *spool, const char *buf, size_t len,
    char name[MAILDROP_NAME_MAX])
{
	char path[4096];
	struct timeval tv;
	int dfd, err;

	snprintf(path, sizeof(path), "%s/%s", spool, MAILDROP_DIR);
	/* a member of `group` may write SPOOL/maildrop but not read it */
	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 &&
	    (errno != EACCES || (dfd = open(path, O_PATH | O_DIRECTORY |
	    O_CLOEXEC)) == -1))
		return errno;
	/* time and pid: unique among the writers of one machine */
	gettimeofday(&tv, NULL);
	snprintf(name, MAILDROP_NAME_MAX, "%lld.%06ld.%ld",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (long)getpid());
	err = spool_replace_file(dfd, name, buf, len);
	close(dfd);
	return err;
}

/* The address of a "KEY <ADDR>" line, or NULL. */
static char *
line_addr(char *line, const char *key)
{
	size_t kl = strlen(key), n = strlen(line);

	if (strncmp(line, key, kl) != 0 || line[kl] != ' ' ||
	    line[kl + 1] != '<' || n < kl + 3 || line[n - 1] != '>')
		return NULL;
	line[n - 1] = '\0';
	return line + kl + 2;
}

int
maildrop_parse(char *buf, size_t len, struct queue_origin *o,
    const char **msg, size_t *msglen)
{
	char *p = buf, *end = buf + len, *nl, *a, **v;
	size_t cap = 0;
	int line = 0;

	o->from = NULL;
	o->rcpts = NULL;
	o->nrcpt = 0;
	o->header_rcpts = 0;
	o->user = NULL;
	for (;;) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			goto bad;
		*nl = '\0';
		if (line++ == 0) {
			if (strcmp(p, MAGIC) != 0)
				goto bad;
		} else if (line == 2) {
			if ((o->from = line_addr(p, "from")) == NULL)
				goto bad;
		} else if (*p == '\0') {
			break;
		} else {
			if ((a = line_addr(p, "to")) == NULL)
				goto bad;
			if (o->nrcpt == cap) {
				cap = cap ? cap * 2 : 8;
				if ((v = realloc((void *)o->rcpts,
				    cap * sizeof(*v))) == NULL)
					goto bad;
				o->rcpts = v;
			}
			((char **)o->rcpts)[o->nrcpt++] = a;
		}
		p = nl + 1;
	}
	if (o->nrcpt == 0)
		goto bad;
	*msg = nl + 1;
	*msglen = (size_t)(end - (nl + 1));
	return 0;
bad:
	free((void *)o->rcpts);
	o->rcpts = NULL;
	return EINVAL;
}
