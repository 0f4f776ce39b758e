/*
 * conf_submission.c - the settings of message submission (RFC 6409,
 * RFC 8314) with SMTP AUTH (mailfs.conf(5)):
 *
 *	submission = host:port,...	STARTTLS, then AUTH, then MAIL
 *	submissions = host:port,...	the same with TLS from the first byte
 *	passwd = FILE			the users (lib/passwd.h)
 *	auth_cleartext_loopback = no	yes: AUTH without TLS, from loopback
 *
 * API: conf_set_submission and conf_finish_submission in lib/conf.h.
 * The file's contents and mode are passwd_load's to check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/conf.h"

int
conf_set_submission(struct conf *c, const char *key, const char *value,
    char *err, size_t errlen)
{
	int sub = strcmp(key, "submission") == 0;

	if (sub || strcmp(key, "submissions") == 0) {
		struct conf_addr **a = sub ? &c->submission : &c->submissions;
		size_t *n = sub ? &c->nsubmission : &c->nsubmissions;

		if (value[0] == '\0' || strcasecmp(value, "none") == 0) {
			free(*a);
			*a = NULL;
			*n = 0;
			return 0;
		}
		return conf_set_addrs(a, n, key, value, 1, 0, err, errlen);
	}
	if (strcmp(key, "passwd") == 0)
		return conf_set_file(&c->passwd, key, value, err, errlen);
	if (strcmp(key, "auth_cleartext_loopback") == 0) {
		if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0) {
			snprintf(err, errlen, "auth_cleartext_loopback: '%s' is "
			    "not yes or no", value);
			return -1;
		}
		c->auth_cleartext_loopback = value[0] == 'y';
		return 0;
	}
	return 1;
}

/*
 * A submission listener without the users is useless, and one without a
 * certificate could only take passwords in the clear: both are refused
 * at start rather than found out by the first client.
 */
int
conf_finish_submission(const struct conf *c, char *err, size_t errlen)
{
	const char *key = c->nsubmissions > 0 ? "submissions" :
	    c->nsubmission > 0 ? "submission" : NULL;

	if (key == NULL)
		return 0;
	if (c->passwd == NULL) {
		snprintf(err, errlen, "%s: set without passwd (the users who "
		    "may log in)", key);
		return -1;
	}
	if (c->tls_cert != NULL)
		return 0;
	if (c->nsubmissions > 0) {
		snprintf(err, errlen, "submissions: set without tls_cert and "
		    "tls_key");
		return -1;
	}
	if (!c->auth_cleartext_loopback) {
		snprintf(err, errlen, "submission: set without tls_cert and "
		    "tls_key, so no STARTTLS and no AUTH (or set "
		    "auth_cleartext_loopback = yes for clients on loopback)");
		return -1;
	}
	return 0;
}
