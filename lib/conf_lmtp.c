/*
 * conf_lmtp.c - the settings of mailfs as the final delivery behind
 * another MTA (mailfs.conf(5)):
 *
 *	lmtp = unix:/path | host:port	the LMTP listener (RFC 2033)
 *	etrn_clients = 127.0.0.0/8,::1	who may send ETRN (RFC 1985)
 *
 * API: conf_set_lmtp in lib/conf.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/cidr.h"
#include "lib/conf.h"

/* a comma (or blank) list of ranges into c; -1 with err */
static int
set_clients(struct conf *c, const char *value, char *err, size_t errlen)
{
	char *copy = strdup(value), *tok, *save = NULL;
	struct cidr *v = NULL, *r;
	size_t n = 0;

	if (copy == NULL)
		return snprintf(err, errlen, "etrn_clients: out of memory"), -1;
	for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save)) {
		if (strcasecmp(tok, "none") == 0)
			continue;	/* nobody */
		if ((r = realloc(v, (n + 1) * sizeof(*v))) == NULL ||
		    cidr_parse(tok, &r[n]) == -1) {
			snprintf(err, errlen, "etrn_clients: '%s' is not an "
			    "address or address/bits", r ? tok : "?");
			free(r ? r : v);
			free(copy);
			return -1;
		}
		v = r;
		n++;
	}
	free(copy);
	free(c->etrn_clients);
	c->etrn_clients = v;
	c->netrn_clients = n;
	return 0;
}

int
conf_set_lmtp(struct conf *c, const char *key, const char *value,
    char *err, size_t errlen)
{
	struct conf_addr a;

	if (strcmp(key, "etrn_clients") == 0)
		return set_clients(c, value, err, errlen);
	if (strcmp(key, "lmtp") != 0)
		return 1;
	free(c->lmtp_path);
	c->lmtp_path = NULL;
	memset(&c->lmtp, 0, sizeof(c->lmtp));
	if (value[0] == '\0' || strcasecmp(value, "none") == 0)
		return 0;
	if (strncmp(value, "unix:", 5) == 0) {
		/* sockaddr_un's sun_path holds 108 octets with the NUL */
		if (value[5] != '/' || strlen(value + 5) >= 108) {
			snprintf(err, errlen, "lmtp: '%s' is not unix:/PATH "
			    "(absolute, under 108 octets)", value);
			return -1;
		}
		if ((c->lmtp_path = strdup(value + 5)) == NULL) {
			snprintf(err, errlen, "lmtp: out of memory");
			return -1;
		}
		return 0;
	}
	if (conf_parse_addr(value, &a) == -1 || a.port == 0) {
		snprintf(err, errlen, "lmtp: '%s' is not unix:/PATH or "
		    "HOST:PORT", value);
		return -1;
	}
	c->lmtp = a;
	return 0;
}
