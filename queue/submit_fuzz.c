/*
 * submit_fuzz.c - libFuzzer target for queue/submit.c: arbitrary bytes
 * written into outbox/ go through submit_prepare, the parser that decides
 * what is a message and who gets it. Seeds: tests/fuzz-seeds/submit_fuzz.
 *
 * Besides the sanitizers it checks what the queue relies on when
 * submit_prepare accepts: stored bytes with CRLF line ends only, no NUL,
 * ending in CRLF, a Date: and Message-ID:, no Bcc: left in the header, a
 * sender and distinct recipients that each have a domain. A GLib critical
 * or warning aborts, since it means GMime was called against its contract.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "lib/conf.h"
#include "queue/queue_int.h"
#include "tests/fuzz.h"

static struct conf conf;

/* Does the header block of data (up to the blank line) hold field? */
static int
header_has(const char *data, size_t len, const char *field)
{
	size_t fl = strlen(field), i = 0;

	while (i < len && !(data[i] == '\r' && i + 1 < len &&
	    data[i + 1] == '\n')) {
		if (len - i > fl && g_ascii_strncasecmp(data + i, field, fl) == 0)
			return 1;
		while (i < len && data[i] != '\n')
			i++;
		i++;
	}
	return 0;
}

static void
check(const struct submit_msg *m)
{
	size_t i, j;

	if (m->data == NULL || m->len < 2 ||
	    memcmp(m->data + m->len - 2, "\r\n", 2) != 0 ||
	    memchr(m->data, '\0', m->len) != NULL)
		abort();
	for (i = 0; i < m->len; i++)
		if ((m->data[i] == '\r') !=
		    (i + 1 < m->len && m->data[i + 1] == '\n') ||
		    (m->data[i] == '\n' && (i == 0 || m->data[i - 1] != '\r')))
			abort();
	if (!header_has(m->data, m->len, "Date:") ||
	    !header_has(m->data, m->len, "Message-ID:") ||
	    header_has(m->data, m->len, "Bcc:"))
		abort();
	if (m->from == NULL || strrchr(m->from, '@') == NULL || m->nrcpt == 0)
		abort();
	for (i = 0; i < m->nrcpt; i++) {
		if (strrchr(m->rcpts[i], '@') == NULL)
			abort();
		for (j = 0; j < i; j++)
			if (strcmp(m->rcpts[i], m->rcpts[j]) == 0)
				abort();
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	fuzz_glib_strict();
	g_mime_init();
	conf_init_defaults(&conf);
	if (conf_set(&conf, "hostname", "fuzz.test", err, sizeof(err)) ||
	    conf_set(&conf, "max_size", "64K", err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct submit_msg m;
	char reason[256];
	int err;

	err = submit_prepare(&conf, (const char *)data, size, NULL, &m, reason,
	    sizeof(reason));
	if (err == 0)
		check(&m);
	else if ((err != EINVAL && err != EFBIG) || reason[0] == '\0')
		abort();
	submit_free(&m);
	return 0;
}
