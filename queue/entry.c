/*
 * entry.c - a queue entry in memory (struct msg, entry.h) and its state
 * file: build, free, serialize, parse.
 *
 * API: entry_new, entry_free, entry_add_rcpt, entry_state_name,
 * entry_serialize, entry_parse (entry.h). No locking here: queue.c calls
 * these on entries it holds. Diagnostics: none; a state file that does
 * not parse is reported by the caller.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "queue/entry.h"
#include "queue/queue_int.h"

#define STATE_MAGIC	"mailfs-state 1"

static const char *const state_name[] = {
	[QUEUE_RCPT_QUEUED] = "queued", [QUEUE_RCPT_SENDING] = "sending",
	[QUEUE_RCPT_DEFERRED] = "deferred",
	[QUEUE_RCPT_DELIVERED] = "delivered", [QUEUE_RCPT_FAILED] = "failed",
};

const char *
entry_state_name(enum queue_rcpt_state st)
{
	return (unsigned)st < sizeof(state_name) / sizeof(state_name[0]) ?
	    state_name[st] : "queued";
}

void
entry_free(struct msg *m)
{
	size_t i;

	for (i = 0; i < m->nr; i++) {
		if (m->r[i].domain_own)
			free(m->r[i].domain);
		free(m->r[i].addr);
		free(m->r[i].text);
		free(m->r[i].relay);
	}
	free(m->r);
	free(m->from);
	free(m->name);
	pthread_mutex_destroy(&m->wmu);
	free(m);
}

struct msg *
entry_new(const char *id)
{
	struct msg *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	g_strlcpy(m->id, id, sizeof(m->id));
	m->refs = 1;
	m->uid = (uid_t)-1;
	pthread_mutex_init(&m->wmu, NULL);
	return m;
}

int
entry_add_rcpt(struct msg *m, const char *addr)
{
	struct rcpt *r, *nr;
	char *at;

	if ((nr = realloc(m->r, (m->nr + 1) * sizeof(*nr))) == NULL)
		return ENOMEM;
	m->r = nr;
	r = &m->r[m->nr];
	memset(r, 0, sizeof(*r));
	r->addr = strdup(addr);
	r->domain = submit_domain(addr);
	if (r->addr == NULL || r->domain == NULL) {
		free(r->addr);
		free(r->domain);
		return ENOMEM;
	}
	/* Most addresses end in their domain as it is kept (lower case):
	 * then it is that part of addr, not a copy. */
	if ((at = strrchr(r->addr, '@')) != NULL &&
	    strcmp(at + 1, r->domain) == 0) {
		free(r->domain);
		r->domain = at + 1;
	} else
		r->domain_own = 1;
	r->state = r->before = QUEUE_RCPT_QUEUED;
	r->next = m->arrival;
	m->nr++;
	return 0;
}

static void
enc(FILE *f, const char *s)
{
	unsigned char ch;

	if (s == NULL || *s == '\0') {
		fputc('-', f);
		return;
	}
	if (strcmp(s, "-") == 0) {
		fputs("%2D", f);
		return;
	}
	for (; *s; s++) {
		ch = (unsigned char)*s;
		if (ch <= ' ' || ch == 0x7f || ch == '%')
			fprintf(f, "%%%02X", ch);
		else
			fputc(ch, f);
	}
}

static char *
dec(const char *s)
{
	char *out, *o;
	unsigned int ch;

	if (strcmp(s, "-") == 0)
		return strdup("");
	if ((out = malloc(strlen(s) + 1)) == NULL)
		return NULL;
	for (o = out; *s; s++) {
		if (*s == '%' && sscanf(s + 1, "%2x", &ch) == 1 &&
		    ch != 0) {
			*o++ = (char)ch;
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

void
entry_format_uid(uid_t uid, char *buf, size_t len)
{
	if (uid == (uid_t)-1)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%lu", (unsigned long)uid);
}

char *
entry_serialize(const struct msg *m, size_t *len)
{
	const struct rcpt *r;
	char *buf = NULL;
	size_t i;
	FILE *f;

	if ((f = open_memstream(&buf, len)) == NULL)
		return NULL;
	fprintf(f, "%s\nfrom ", STATE_MAGIC);
	enc(f, m->from);
	fputs("\nname ", f);
	enc(f, m->name);
	if (m->uid != (uid_t)-1)
		fprintf(f, "\nuid %lu", (unsigned long)m->uid);
	fprintf(f, "\narrival %lld\ndone %lld\nsize %zu\neightbit %d\n",
	    (long long)m->arrival, (long long)m->done, m->size, m->eightbit);
	if (m->has_crc)
		fprintf(f, "crc32 %08" PRIx32 "\n", m->crc);
	for (i = 0; i < m->nr; i++) {
		r = &m->r[i];
		fputs("rcpt ", f);
		enc(f, r->addr);
		fprintf(f, " %s %d %lld ", state_name[r->state ==
		    QUEUE_RCPT_SENDING ? r->before : r->state], r->attempts,
		    (long long)r->next);
		enc(f, r->code);
		fputc(' ', f);
		enc(f, r->text);
		fputc('\n', f);
	}
	for (i = 0; i < m->nr; i++) {
		if (!m->r[i].notified)
			continue;
		fputs("notified ", f);
		enc(f, m->r[i].addr);
		fputc('\n', f);
	}
	if (m->warned)
		fputs("warned 1\n", f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static int
parse_state_name(const char *s, enum queue_rcpt_state *st)
{
	size_t i;

	for (i = 0; i < sizeof(state_name) / sizeof(state_name[0]); i++) {
		if (strcmp(s, state_name[i]) == 0) {
			/* "sending" is never written; read it as queued. */
			*st = i == QUEUE_RCPT_SENDING ? QUEUE_RCPT_QUEUED :
			    (enum queue_rcpt_state)i;
			return 0;
		}
	}
	return -1;
}

static int
parse_rcpt(struct msg *m, char *line)
{
	char *tok[6], *save = NULL, *code, *end;
	struct rcpt *r;
	int i;

	for (i = 0; i < 6; i++)
		if ((tok[i] = strtok_r(i ? NULL : line, " ", &save)) == NULL)
			return -1;
	if (strtok_r(NULL, " ", &save) != NULL)
		return -1;
	if ((code = dec(tok[0])) == NULL || entry_add_rcpt(m, code) != 0) {
		free(code);
		return -1;
	}
	free(code);
	r = &m->r[m->nr - 1];
	if (parse_state_name(tok[1], &r->state) == -1)
		return -1;
	r->before = r->state;
	r->attempts = (int)strtol(tok[2], &end, 10);
	if (*end != '\0')
		return -1;
	r->next = (time_t)strtoll(tok[3], &end, 10);
	if (*end != '\0')
		return -1;
	if ((code = dec(tok[4])) == NULL)
		return -1;
	snprintf(r->code, sizeof(r->code), "%s", code);
	free(code);
	if ((r->text = dec(tok[5])) == NULL)
		return -1;
	if (r->text[0] == '\0') {
		free(r->text);
		r->text = NULL;
	}
	return 0;
}

/* A `notified ADDR` line: the recipient addr's sender was told. */
static int
mark_notified(struct msg *m, const char *val)
{
	char *addr = dec(val);
	size_t i;

	if (addr == NULL)
		return -1;
	for (i = 0; i < m->nr; i++)
		if (strcmp(m->r[i].addr, addr) == 0)
			m->r[i].notified = 1;
	free(addr);
	return 0;
}

/* Exactly 8 hex digits: a state cut short or overwritten is not read as
 * some other checksum. */
static int
parse_crc(const char *s, uint32_t *crc)
{
	unsigned long v;
	char *end;

	if (strlen(s) != 8 || strspn(s, "0123456789abcdefABCDEF") != 8)
		return -1;
	v = strtoul(s, &end, 16);
	if (*end != '\0')
		return -1;
	*crc = (uint32_t)v;
	return 0;
}

int
entry_parse(struct msg *m, char *text)
{
	char *line, *save = NULL, *val;
	long long n;
	int have_from = 0;

	line = strtok_r(text, "\n", &save);
	if (line == NULL || strcmp(line, STATE_MAGIC) != 0)
		return -1;
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		if ((val = strchr(line, ' ')) == NULL)
			return -1;
		*val++ = '\0';
		if (strcmp(line, "rcpt") == 0) {
			if (parse_rcpt(m, val) == -1)
				return -1;
			continue;
		}
		if (strcmp(line, "notified") == 0) {
			if (mark_notified(m, val) == -1)
				return -1;
			continue;
		}
		if (strcmp(line, "from") == 0 || strcmp(line, "name") == 0) {
			char **dst = line[0] == 'f' ? &m->from : &m->name;

			free(*dst);
			if ((*dst = dec(val)) == NULL)
				return -1;
			have_from |= line[0] == 'f';
			continue;
		}
		if (strcmp(line, "crc32") == 0) {
			if (parse_crc(val, &m->crc) == -1)
				return -1;
			m->has_crc = 1;
			continue;
		}
		n = strtoll(val, NULL, 10);
		if (strcmp(line, "arrival") == 0)
			m->arrival = (time_t)n;
		else if (strcmp(line, "done") == 0)
			m->done = (time_t)n;
		else if (strcmp(line, "size") == 0)
			m->size = (size_t)n;
		else if (strcmp(line, "eightbit") == 0)
			m->eightbit = n != 0;
		else if (strcmp(line, "warned") == 0)
			m->warned = n != 0;
		else if (strcmp(line, "uid") == 0 && n >= 0 &&
		    n < (long long)(uid_t)-1)
			m->uid = (uid_t)n;
	}
	if (!have_from || m->nr == 0)
		return -1;
	if (m->name == NULL && (m->name = strdup("")) == NULL)
		return -1;
	return 0;
}

