/*
 * conf_reload.c - SIGHUP: carry the settings that can change without a
 * remount from a freshly loaded struct conf into the live one.
 *
 *	int conf_reload(struct conf *live, const struct conf *fresh,
 *	    char *later, size_t laterlen);
 *
 * Called on the event thread, which is the only reader of relayhost,
 * smtp_port, tls, the concurrency limits, the SMTP deadlines and client
 * limit, auth_cleartext_loopback, etrn_clients, and the relay_auth
 * credentials and relay_tls: those are plain assignments (the old
 * credentials are wiped and freed at once: nothing holds them between
 * two callbacks). Other
 * threads (FUSE, the queue's writer, local delivery) read hostname,
 * domains, retry, max_size, min_free, max_age, keep and delay_warning
 * while this runs, without a lock, so:
 *  - scalars are stored atomically;
 *  - a string or array is replaced by storing a new pointer; the old one
 *    is retired, never freed while running (conf_free frees it), so a
 *    reader holding it stays safe;
 *  - an array and its count can be seen out of step: the new array is
 *    padded to at least the old count by repeating its last element,
 *    which means the same (the last retry delay repeats; a domain listed
 *    twice is the same set), so either count fits either array.
 * Everything else (spool, listen, dns, tls_ca/cert/key, the mount options,
 * group and the maildir owner and mode, submission, submissions, the
 * passwd path and lmtp) needs a restart: `later` gets the names of those
 * that changed, for the log. The passwd file's users are reread by the caller
 * (lib/passwd.h), from the path in use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cidr.h"
#include "lib/conf.h"
#include "lib/log.h"

/* keep p until conf_free: a reader on another thread may still hold it */
static void
retire(struct conf *c, void *p)
{
	void **r;

	if (p == NULL)
		return;
	if ((r = realloc(c->retired, (c->nretired + 1) * sizeof(*r))) == NULL)
		fatalx("out of memory");
	c->retired = r;
	r[c->nretired++] = p;
}

/* a copy of v (n items of size sz) padded to at least min items */
static void *
padded(const void *v, size_t n, size_t sz, size_t min)
{
	size_t k = n > min ? n : min;
	char *out;

	if ((out = calloc(k, sz)) == NULL)
		fatalx("out of memory");
	memcpy(out, v, n * sz);
	for (size_t i = n; i < k; i++)
		memcpy(out + i * sz, (const char *)v + (n - 1) * sz, sz);
	return out;
}

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		fatalx("out of memory");
	return d;
}

static int
addrs_differ(const struct conf_addr *a, size_t na, const struct conf_addr *b,
    size_t nb)
{
	return na != nb || (na > 0 && memcmp(a, b, na * sizeof(*a)) != 0);
}

static int
strs_differ(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

static void
later_add(char *later, size_t len, const char *key)
{
	size_t n = strlen(later);

	snprintf(later + n, len - n, "%s%s", n > 0 ? "," : "", key);
}

int
conf_reload(struct conf *live, const struct conf *fresh, char *later,
    size_t laterlen)
{
	char **d;
	time_t *r;

	later[0] = '\0';
	if (strcmp(live->spool, fresh->spool) != 0)
		later_add(later, laterlen, "spool");
	if (addrs_differ(live->listen, live->nlisten, fresh->listen,
	    fresh->nlisten))
		later_add(later, laterlen, "listen");
	if (addrs_differ(live->dns, live->ndns, fresh->dns, fresh->ndns))
		later_add(later, laterlen, "dns");
	if (strs_differ(live->tls_ca, fresh->tls_ca))
		later_add(later, laterlen, "tls_ca");
	if (strs_differ(live->tls_cert, fresh->tls_cert))
		later_add(later, laterlen, "tls_cert");
	if (strs_differ(live->tls_key, fresh->tls_key))
		later_add(later, laterlen, "tls_key");
	if (strs_differ(live->mount_opts, fresh->mount_opts))
		later_add(later, laterlen, "mount options");
	if (live->has_group != fresh->has_group || live->group != fresh->group)
		later_add(later, laterlen, "group");
	if (live->maildir_uid != fresh->maildir_uid ||
	    live->maildir_gid != fresh->maildir_gid)
		later_add(later, laterlen, "maildir_owner");
	if (live->maildir_mode != fresh->maildir_mode)
		later_add(later, laterlen, "maildir_mode");
	if (addrs_differ(live->submission, live->nsubmission,
	    fresh->submission, fresh->nsubmission))
		later_add(later, laterlen, "submission");
	if (addrs_differ(live->submissions, live->nsubmissions,
	    fresh->submissions, fresh->nsubmissions))
		later_add(later, laterlen, "submissions");
	if (strs_differ(live->passwd, fresh->passwd))
		later_add(later, laterlen, "passwd");
	if (strs_differ(live->lmtp_path, fresh->lmtp_path) ||
	    addrs_differ(&live->lmtp, 1, &fresh->lmtp, 1))
		later_add(later, laterlen, "lmtp");

	if (strs_differ(live->smtpd_tls_ciphers, fresh->smtpd_tls_ciphers))
		later_add(later, laterlen, "smtpd_tls_ciphers");

	/* read by the event thread alone: this thread */
	live->relayhost = fresh->relayhost;
	live->smtp_port = fresh->smtp_port;
	live->tls = fresh->tls;
	live->concurrency = fresh->concurrency;
	live->relay_tls = fresh->relay_tls;
	if (strs_differ(live->relay_user, fresh->relay_user) ||
	    strs_differ(live->relay_pass, fresh->relay_pass)) {
		conf_set_relay(live, "relay_auth", "none", NULL, 0);
		if (fresh->relay_user != NULL) {
			live->relay_user = xstrdup(fresh->relay_user);
			live->relay_pass = xstrdup(fresh->relay_pass);
		}
	}
	live->concurrency_per_domain = fresh->concurrency_per_domain;
	live->smtpd_client_limit = fresh->smtpd_client_limit;
	live->smtpd_timeout = fresh->smtpd_timeout;
	live->smtp_connect_timeout = fresh->smtp_connect_timeout;
	live->smtp_helo_timeout = fresh->smtp_helo_timeout;
	live->smtp_mail_timeout = fresh->smtp_mail_timeout;
	live->smtp_rcpt_timeout = fresh->smtp_rcpt_timeout;
	live->smtp_data_init_timeout = fresh->smtp_data_init_timeout;
	live->smtp_data_xfer_timeout = fresh->smtp_data_xfer_timeout;
	live->smtp_data_done_timeout = fresh->smtp_data_done_timeout;
	live->smtp_quit_timeout = fresh->smtp_quit_timeout;
	live->auth_cleartext_loopback = fresh->auth_cleartext_loopback;
	free(live->etrn_clients);
	live->etrn_clients = NULL;
	live->netrn_clients = 0;
	if (fresh->netrn_clients > 0) {
		live->etrn_clients = padded(fresh->etrn_clients,
		    fresh->netrn_clients, sizeof(*fresh->etrn_clients), 0);
		live->netrn_clients = fresh->netrn_clients;
	}

	/* read by other threads too */
	__atomic_store_n(&live->max_size, fresh->max_size, __ATOMIC_RELAXED);
	__atomic_store_n(&live->min_free, fresh->min_free, __ATOMIC_RELAXED);
	__atomic_store_n(&live->min_free_pct, fresh->min_free_pct,
	    __ATOMIC_RELAXED);
	__atomic_store_n(&live->max_age, fresh->max_age, __ATOMIC_RELAXED);
	__atomic_store_n(&live->keep, fresh->keep, __ATOMIC_RELAXED);
	__atomic_store_n(&live->delay_warning, fresh->delay_warning,
	    __ATOMIC_RELAXED);
	if (strcmp(live->hostname, fresh->hostname) != 0) {
		retire(live, live->hostname);
		__atomic_store_n(&live->hostname, xstrdup(fresh->hostname),
		    __ATOMIC_RELEASE);
	}

	r = padded(fresh->retry, fresh->nretry, sizeof(*r), live->nretry);
	retire(live, live->retry);
	__atomic_store_n(&live->retry, r, __ATOMIC_RELEASE);
	__atomic_store_n(&live->nretry, fresh->nretry, __ATOMIC_RELEASE);

	d = padded(fresh->domains, fresh->ndomains, sizeof(*d), live->ndomains);
	for (size_t i = 0; i < fresh->ndomains; i++)
		d[i] = xstrdup(fresh->domains[i]);
	for (size_t i = fresh->ndomains; i < live->ndomains; i++)
		d[i] = d[fresh->ndomains - 1];	/* the same string, once owned */
	for (size_t i = 0; i < live->ndomains; i++)
		if (i == 0 || live->domains[i] != live->domains[i - 1])
			retire(live, live->domains[i]);
	retire(live, live->domains);
	__atomic_store_n(&live->domains, d, __ATOMIC_RELEASE);
	__atomic_store_n(&live->ndomains, fresh->ndomains, __ATOMIC_RELEASE);
	return 0;
}
