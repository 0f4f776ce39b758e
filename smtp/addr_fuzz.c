/*
 * addr_fuzz.c - libFuzzer target for smtp/addr.c: the input's first line
 * is what a client sends after "RCPT TO:", the other lines are the
 * `domains` setting. Seeds: tests/fuzz-seeds/addr_fuzz.
 *
 * Besides the sanitizers it checks the parse (the end pointer just past a
 * '>' inside the argument, the fields within their limits, the domain in
 * lower case, mailbox = local@domain) and the relay check: a recipient
 * taken as ours has a local part routing nowhere and either one of the
 * domains (or its other IDN spelling) or is the bare Postmaster.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <glib.h>

#include "lib/conf.h"
#include "smtp/addr.h"
#include "tests/fuzz.h"

#define MAX_DOMAINS	8

static void
check_path(const char *arg, const struct addr_path *p, const char *end)
{
	size_t ll = strlen(p->local), dl = strlen(p->domain);

	if (end <= arg || end > arg + strlen(arg) || end[-1] != '>')
		abort();
	if (strlen(p->mailbox) > ADDR_PATH_MAX || ll > ADDR_LOCAL_MAX ||
	    dl > ADDR_DOMAIN_MAX)
		abort();
	for (size_t i = 0; i < dl; i++)
		if (p->domain[i] >= 'A' && p->domain[i] <= 'Z')
			abort();
	if (p->flags & ADDR_NULL) {
		if (p->mailbox[0] != '\0' || p->flags != ADDR_NULL)
			abort();
		return;
	}
	if (ll == 0 || strncmp(p->mailbox, p->local, ll) != 0)
		abort();
	if (p->flags & ADDR_NODOMAIN) {
		if (p->mailbox[ll] != '\0' || dl != 0)
			abort();
	} else if (p->mailbox[ll] != '@' ||
	    strncasecmp(p->mailbox + ll + 1, p->domain, dl) != 0 ||
	    p->mailbox[ll + 1 + dl] != '\0' || dl == 0) {
		abort();
	}
}

/* What addr_is_local may answer 1 for, said the simple way. */
static void
check_local(const struct conf *c, const struct addr_path *p)
{
	char *ace, *uni;
	int ours;

	if (p->flags & (ADDR_NULL | ADDR_ROUTE | ADDR_MULTIAT | ADDR_LITERAL) ||
	    strpbrk(p->local, "%!@") != NULL)
		abort();
	if (p->flags & ADDR_NODOMAIN) {
		if (strcasecmp(p->local, "postmaster") != 0)
			abort();
		return;
	}
	ace = g_hostname_to_ascii(p->domain);
	uni = g_hostname_to_unicode(p->domain);
	ours = conf_is_local_domain(c, p->domain) ||
	    (ace && conf_is_local_domain(c, ace)) ||
	    (uni && conf_is_local_domain(c, uni));
	g_free(ace);
	g_free(uni);
	if (!ours)
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_glib_strict();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf c = { 0 };
	char *domains[MAX_DOMAINS], *text, *line, *next;
	struct addr_path p;
	const char *end = NULL;
	enum addr_status st;

	/* C strings: the listener never passes a NUL on (it ends a line) */
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	line = strchr(text, '\n');
	if (line != NULL)
		*line++ = '\0';
	for (; line != NULL && c.ndomains < MAX_DOMAINS; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		/* conf.c keeps domains in lower case */
		for (char *q = line; *q; q++)
			if (*q >= 'A' && *q <= 'Z')
				*q += 32;
		domains[c.ndomains++] = line;
	}
	c.domains = domains;

	st = addr_parse_path(text, &p, &end);
	if (st != ADDR_OK && st != ADDR_SYNTAX && st != ADDR_TOOLONG)
		abort();
	if (st == ADDR_OK) {
		check_path(text, &p, end);
		if (addr_is_local(&c, &p))
			check_local(&c, &p);
	}
	free(text);
	return 0;
}
