/*
 * conf_relay.c - the settings of logging in to the relayhost
 * (mailfs.conf(5)):
 *
 *	relay_auth = FILE	one line "user password" (the password is the
 *				rest of the line after the first space, so it
 *				may hold spaces); only its owner may read it
 *	relay_tls = starttls|wrapper	wrapper: TLS from the first byte
 *				(also when the relayhost's port is 465)
 *
 * and relayhost's Postfix spelling "[host]:port" (conf_parse_relayhost).
 *
 * The file is read when the key is set (at start, and again on SIGHUP),
 * so a file others can read, or one that does not parse, is refused
 * before the mount (exit 78). The password is never put in an error text.
 * API: conf_set_relay, conf_parse_relayhost, conf_relay_wrapper,
 * conf_finish_relay in
 * lib/conf.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "lib/conf.h"

#define AUTH_FILE_MAX	4096	/* more is no "user password" line */

static void
forget(char **s)
{
	if (*s != NULL) {
		OPENSSL_cleanse(*s, strlen(*s));
		free(*s);
	}
	*s = NULL;
}

static int
relay_err(char *err, size_t errlen, const char *file, const char *why)
{
	if (err != NULL)
		snprintf(err, errlen, "relay_auth: '%s' %s", file, why);
	return -1;
}

/* buf (NUL-terminated) as "user password" with an optional line end. */
static int
parse_auth(struct conf *c, char *buf)
{
	char *nl, *sp;

	if ((nl = strchr(buf, '\n')) != NULL) {
		if (nl[strspn(nl, "\r\n")] != '\0')
			return -1;	/* a second line */
		*nl = '\0';
	}
	buf[strcspn(buf, "\r")] = '\0';
	if ((sp = strchr(buf, ' ')) == NULL || sp == buf || sp[1] == '\0')
		return -1;
	*sp = '\0';
	if ((c->relay_user = strdup(buf)) == NULL ||
	    (c->relay_pass = strdup(sp + 1)) == NULL) {
		forget(&c->relay_user);
		return -1;
	}
	return 0;
}

static int
read_auth(struct conf *c, const char *file, char *err, size_t errlen)
{
	char buf[AUTH_FILE_MAX + 1];
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd, rc;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (err != NULL)
			snprintf(err, errlen, "relay_auth: cannot read '%s': %s",
			    file, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return relay_err(err, errlen, file, "is not a regular file");
	}
	if (st.st_mode & 077) {
		close(fd);
		return relay_err(err, errlen, file, "may be read by others than "
		    "its owner (chmod 600 it)");
	}
	while (len < sizeof(buf) - 1 &&
	    (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	rc = len < sizeof(buf) - 1 && strlen(buf) == len ?
	    parse_auth(c, buf) : -1;
	OPENSSL_cleanse(buf, sizeof(buf));
	if (rc == -1)
		return relay_err(err, errlen, file, "is not one line "
		    "'user password'");
	return 0;
}

int
conf_set_relay(struct conf *c, const char *key, const char *value,
    char *err, size_t errlen)
{
	if (strcmp(key, "relay_auth") == 0) {
		forget(&c->relay_user);
		forget(&c->relay_pass);
		if (value[0] == '\0' || strcasecmp(value, "none") == 0)
			return 0;
		return read_auth(c, value, err, errlen);
	}
	if (strcmp(key, "relay_tls") == 0) {
		if (strcasecmp(value, "starttls") == 0)
			c->relay_tls = CONF_RELAY_STARTTLS;
		else if (strcasecmp(value, "wrapper") == 0)
			c->relay_tls = CONF_RELAY_WRAPPER;
		else {
			snprintf(err, errlen, "relay_tls: '%s' is not one of "
			    "starttls, wrapper", value);
			return -1;
		}
		return 0;
	}
	return 1;
}

int
conf_parse_relayhost(const char *s, struct conf_addr *out)
{
	char buf[sizeof(out->host) + 16];
	const char *close;
	size_t n;

	if (s[0] == '[' && (close = strchr(s, ']')) != NULL &&
	    memchr(s, ':', (size_t)(close - s)) == NULL) {
		n = (size_t)(close - s - 1);
		if (n == 0 || snprintf(buf, sizeof(buf), "%.*s%s", (int)n,
		    s + 1, close + 1) >= (int)sizeof(buf))
			return -1;
		return conf_parse_addr(buf, out);
	}
	return conf_parse_addr(s, out);
}

int
conf_relay_wrapper(const struct conf *c)
{
	return c->relayhost.host[0] != '\0' &&
	    (c->relay_tls == CONF_RELAY_WRAPPER || c->relayhost.port == 465);
}

int
conf_finish_relay(const struct conf *c, char *err, size_t errlen)
{
	if (c->relay_user != NULL && c->relayhost.host[0] == '\0') {
		snprintf(err, errlen, "relay_auth: set without relayhost");
		return -1;
	}
	/* Credentials never go in the clear; wrapper mode is TLS. */
	if (c->relay_user != NULL && c->tls == CONF_TLS_NONE) {
		snprintf(err, errlen, "relay_auth: needs tls other than none "
		    "(the password is only sent over TLS)");
		return -1;
	}
	if (conf_relay_wrapper(c) && c->tls == CONF_TLS_NONE) {
		snprintf(err, errlen, "relay_tls: wrapper (or relayhost port "
		    "465) needs tls other than none");
		return -1;
	}
	return 0;
}
