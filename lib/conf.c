/*
 * conf.c - mailfs settings (mailfs.conf(5)): defaults and `key = value`
 * files with `#` comments (-o, which mixes in mount options, is
 * lib/options.c); a later value of a key replaces an earlier one.
 *
 * Every setter validates fully, so a bad setting is refused before the
 * mount with one line naming the key and what is wrong: a listen host name
 * must resolve, and conf_finish loads tls_ca, tls_cert and tls_key with
 * OpenSSL as the client and the listener will (conf_tls.c), so a file
 * that is no PEM certificate or key fails here, not after the mount.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/conf.h"
#include "lib/conf_tls.h"
#include "lib/strv.h"

#define DEFAULT_RETRY	"1m,5m,15m,30m,1h,2h,4h"
#define CONF_LINE_MAX	4096	/* a config file line, a -o value */

static int
conf_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL) {
		perror("mailfs");
		exit(71);
	}
	return p;
}

/* The system's FQDN: gethostname(), canonicalized through the resolver
 * only when it has no dot (as Postfix's myhostname does). */
static char *
conf_default_hostname(void)
{
	char name[256];
	struct addrinfo hints, *res;

	if (gethostname(name, sizeof(name)) == -1 || name[0] == '\0')
		return xstrdup("localhost");
	name[sizeof(name) - 1] = '\0';
	if (strchr(name, '.') == NULL) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_flags = AI_CANONNAME;
		if (getaddrinfo(name, NULL, &hints, &res) == 0) {
			if (res->ai_canonname && strchr(res->ai_canonname, '.'))
				snprintf(name, sizeof(name), "%s",
				    res->ai_canonname);
			freeaddrinfo(res);
		}
	}
	return xstrdup(name);
}

static char *
conf_default_spool(void)
{
	const char *state, *home;
	char buf[PATH_MAX];

	if (geteuid() == 0)
		return xstrdup("/var/spool/mailfs");
	if ((state = getenv("XDG_STATE_HOME")) != NULL && state[0] == '/')
		snprintf(buf, sizeof(buf), "%s/mailfs", state);
	else if ((home = getenv("HOME")) != NULL)
		snprintf(buf, sizeof(buf), "%s/.local/state/mailfs", home);
	else
		snprintf(buf, sizeof(buf), "/tmp/mailfs-%d", (int)geteuid());
	return xstrdup(buf);
}

void
conf_init_defaults(struct conf *c)
{
	char err[256];

	memset(c, 0, sizeof(*c));
	c->spool = conf_default_spool();
	c->hostname = conf_default_hostname();
	c->smtp_port = 25;
	c->tls = CONF_TLS_MAY;
	c->max_age = 5 * 86400;
	c->max_size = 25 * 1024 * 1024;
	c->min_free = 100 * 1024 * 1024;
	c->min_free_pct = 5;
	c->concurrency = 20;
	c->keep = 7 * 86400;
	c->maildir_uid = (uid_t)-1;
	c->maildir_gid = (gid_t)-1;
	c->maildir_mode = 0600;
	c->smtpd_client_limit = 100;
	c->smtpd_timeout = c->smtp_helo_timeout = c->smtp_mail_timeout =
	    c->smtp_rcpt_timeout = c->smtp_quit_timeout = 300;
	c->smtp_connect_timeout = 30;
	c->smtp_data_init_timeout = 120;
	c->smtp_data_xfer_timeout = 180;
	c->smtp_data_done_timeout = 600;
	conf_set(c, "listen", "127.0.0.1:2525", err, sizeof(err));
	conf_set(c, "retry", DEFAULT_RETRY, err, sizeof(err));
	conf_set(c, "etrn_clients", "127.0.0.0/8,::1", err, sizeof(err));
}

int
conf_parse_duration(const char *s, time_t *out)
{
	char *end;
	unsigned long long v;
	time_t mult = 1;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case '\0':
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (v > (unsigned long long)(INT_MAX / mult))
		return -1;
	*out = (time_t)v * mult;
	return 0;
}

int
conf_parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v, mult = 1;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case '\0': mult = 1; break;
	case 'K': mult = 1024ULL; break;
	case 'M': mult = 1024ULL * 1024; break;
	case 'G': mult = 1024ULL * 1024 * 1024; break;
	default: return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	if (v > SIZE_MAX / mult)
		return -1;
	*out = (size_t)(v * mult);
	return 0;
}

static int
conf_parse_port(const char *s, int *port)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/* A DNS host name: labels of letters, digits and hyphens (conf.h). */
int
conf_valid_hostname(const char *s)
{
	size_t label = 0, n = strlen(s);

	if (n == 0 || n > 253)
		return 0;
	for (; *s; s++) {
		if (*s == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)*s) || *s == '-' || *s == '_') {
			if (++label > 63)
				return 0;
		} else
			return 0;
	}
	return 1;
}

static int
conf_is_ip(const char *s)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1;
}

/*
 * conf_parse_addr - "host", "host:port", "[v6]", "[v6]:port", or a bare
 * IPv6 literal. The host is a name or an IP literal; port 0 = not given.
 */
int
conf_parse_addr(const char *s, struct conf_addr *out)
{
	const char *colon, *close;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		if ((close = strchr(s, ']')) == NULL)
			return -1;
		n = (size_t)(close - s - 1);
		if (n == 0 || n >= sizeof(out->host))
			return -1;
		memcpy(out->host, s + 1, n);
		if (!conf_is_ip(out->host) || strchr(out->host, ':') == NULL)
			return -1;
		if (close[1] == '\0')
			return 0;
		if (close[1] != ':')
			return -1;
		return conf_parse_port(close + 2, &out->port);
	}
	colon = strchr(s, ':');
	if (colon != NULL && strchr(colon + 1, ':') != NULL) {
		/* a bare IPv6 literal, no port */
		if (strlen(s) >= sizeof(out->host) || !conf_is_ip(s))
			return -1;
		strcpy(out->host, s);
		return 0;
	}
	n = colon ? (size_t)(colon - s) : strlen(s);
	if (n == 0 || n >= sizeof(out->host))
		return -1;
	memcpy(out->host, s, n);
	if (!conf_is_ip(out->host) && !conf_valid_hostname(out->host))
		return -1;
	if (colon == NULL)
		return 0;
	return conf_parse_port(colon + 1, &out->port);
}

/*
 * conf_split - a comma list into trimmed items. An empty item (a trailing
 * or doubled comma) is refused, not skipped: it is most likely a value
 * left out. -1 with err naming key; *items is then NULL.
 */
static int
conf_split(const char *key, const char *value, char ***items, size_t *n,
    char *err, size_t errlen)
{
	char *copy = xstrdup(value), *p, *next, *s, *e;
	char **v = NULL;
	size_t count = 0;

	*items = NULL;
	*n = 0;
	for (p = copy; p != NULL; p = next) {
		if ((next = strchr(p, ',')) != NULL)
			*next++ = '\0';
		for (s = p; isspace((unsigned char)*s); s++)
			;
		for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		if (*s == '\0') {
			if (next == NULL && count == 0)
				conf_err(err, errlen, "%s: empty list", key);
			else
				conf_err(err, errlen, "%s: '%s' has an empty "
				    "element (a stray comma?)", key, value);
			strv_free(v, count);
			free(copy);
			return -1;
		}
		v = realloc(v, (count + 1) * sizeof(*v));
		if (v == NULL) {
			perror("mailfs");
			exit(71);
		}
		v[count++] = xstrdup(s);
	}
	free(copy);
	*items = v;
	*n = count;
	return 0;
}

static void
conf_replace(char **slot, const char *value)
{
	free(*slot);
	*slot = value ? xstrdup(value) : NULL;
}

/* Parse a comma list of addresses; need_port / ip_only per setting. */
int
conf_set_addrs(struct conf_addr **out, size_t *nout, const char *key,
    const char *value, int need_port, int ip_only, char *err, size_t errlen)
{
	char **items;
	size_t n;
	struct conf_addr *a;

	if (conf_split(key, value, &items, &n, err, errlen) == -1)
		return -1;
	a = calloc(n, sizeof(*a));
	if (a == NULL) {
		perror("mailfs");
		exit(71);
	}
	for (size_t i = 0; i < n; i++) {
		if (n > 1 && (strcasecmp(items[i], "none") == 0 ||
		    strcasecmp(items[i], "system") == 0)) {
			/* "listen=none,allow_other" before -o knew mount
			 * options; now what follows a word like it */
			conf_err(err, errlen, "%s: '%s' must be the whole value, "
			    "not part of the list '%s'", key, items[i], value);
			strv_free(items, n);
			free(a);
			return -1;
		}
		if (conf_parse_addr(items[i], &a[i]) == -1 ||
		    (need_port && a[i].port == 0) ||
		    (ip_only && !conf_is_ip(a[i].host))) {
			conf_err(err, errlen, "%s: bad address '%s' (expected %s)",
			    key, items[i], ip_only ?
			    (need_port ? "ip:port or [ipv6]:port" : "ip, ip:port or [ipv6]:port") :
			    "host:port or [ipv6]:port");
			strv_free(items, n);
			free(a);
			return -1;
		}
	}
	strv_free(items, n);
	free(*out);
	*out = a;
	*nout = n;
	return 0;
}

int
conf_set_file(char **slot, const char *key, const char *value, char *err,
    size_t errlen)
{
	char *abs;

	if (strcasecmp(value, "none") == 0 || value[0] == '\0') {
		conf_replace(slot, NULL);
		return 0;
	}
	/* absolute: the daemon works from / (fuse_daemonize chdirs even
	 * with -f) and reads these files only after that */
	if (access(value, R_OK) == -1 || (abs = realpath(value, NULL)) == NULL)
		return conf_err(err, errlen, "%s: cannot read '%s': %s", key,
		    value, strerror(errno));
	free(*slot);
	*slot = abs;
	return 0;
}

/* A listen address given by name must resolve now, as the listener
 * binds what it resolves to; a name that does not is a bad value. */
static int
conf_check_listen_names(struct conf *c, char *err, size_t errlen)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	for (size_t i = 0; i < c->nlisten; i++) {
		if (conf_is_ip(c->listen[i].host))
			continue;
		if ((rc = getaddrinfo(c->listen[i].host, NULL, &hints, &res)) != 0) {
			conf_err(err, errlen, "listen: cannot resolve '%s': %s",
			    c->listen[i].host, gai_strerror(rc));
			free(c->listen);
			c->listen = NULL;
			c->nlisten = 0;
			return -1;
		}
		freeaddrinfo(res);
	}
	return 0;
}

/* Settings that are a plain duration (> 0) or number (min..max). */
#define CONF_NUM(key, field, min, max)	{ key, offsetof(struct conf, field), \
	sizeof(((struct conf *)0)->field) == sizeof(int), min, max }
static const struct conf_num {
	const char *key;
	size_t off;
	int is_int;		/* else a time_t duration */
	long min, max;
} conf_nums[] = {
	CONF_NUM("concurrency_per_domain", concurrency_per_domain, 1, 10000),
	CONF_NUM("smtpd_client_limit", smtpd_client_limit, 1, 10000),
	CONF_NUM("smtpd_timeout", smtpd_timeout, 1, 0),
	CONF_NUM("smtp_connect_timeout", smtp_connect_timeout, 1, 0),
	CONF_NUM("smtp_helo_timeout", smtp_helo_timeout, 1, 0),
	CONF_NUM("smtp_mail_timeout", smtp_mail_timeout, 1, 0),
	CONF_NUM("smtp_rcpt_timeout", smtp_rcpt_timeout, 1, 0),
	CONF_NUM("smtp_data_init_timeout", smtp_data_init_timeout, 1, 0),
	CONF_NUM("smtp_data_xfer_timeout", smtp_data_xfer_timeout, 1, 0),
	CONF_NUM("smtp_data_done_timeout", smtp_data_done_timeout, 1, 0),
	CONF_NUM("smtp_quit_timeout", smtp_quit_timeout, 1, 0),
};

static int
conf_set_num(struct conf *c, const struct conf_num *n, const char *value,
    char *err, size_t errlen)
{
	char *end;
	long v;
	time_t t;

	if (!n->is_int) {
		if (conf_parse_duration(value, &t) == -1 || t < n->min)
			return conf_err(err, errlen, "%s: '%s' is not a duration "
			    "greater than zero (a number with s, m, h or d)",
			    n->key, value);
		*(time_t *)(void *)((char *)c + n->off) = t;
		return 0;
	}
	v = strtol(value, &end, 10);
	if (!isdigit((unsigned char)value[0]) || *end != '\0' || v < n->min ||
	    v > n->max)
		return conf_err(err, errlen, "%s: '%s' is not a number from "
		    "%ld to %ld", n->key, value, n->min, n->max);
	*(int *)(void *)((char *)c + n->off) = (int)v;
	return 0;
}

int
conf_set(struct conf *c, const char *key, const char *value, char *err,
    size_t errlen)
{
	time_t t;
	char **items;
	size_t n;
	int rc;

	if (strcmp(key, "spool") == 0) {
		if (value[0] != '/')
			return conf_err(err, errlen,
			    "spool: '%s' is not an absolute path", value);
		conf_replace(&c->spool, value);
	} else if (strcmp(key, "hostname") == 0) {
		if (!conf_valid_hostname(value))
			return conf_err(err, errlen,
			    "hostname: '%s' is not a valid host name", value);
		conf_replace(&c->hostname, value);
	} else if (strcmp(key, "domains") == 0) {
		if (conf_split(key, value, &items, &n, err, errlen) == -1)
			return -1;
		for (size_t i = 0; i < n; i++) {
			if (!conf_valid_hostname(items[i])) {
				conf_err(err, errlen,
				    "domains: '%s' is not a domain name", items[i]);
				strv_free(items, n);
				return -1;
			}
			for (char *p = items[i]; *p; p++)
				*p = (char)tolower((unsigned char)*p);
		}
		strv_free(c->domains, c->ndomains);
		c->domains = items;
		c->ndomains = n;
	} else if (strcmp(key, "listen") == 0) {
		if (strcasecmp(value, "none") == 0) {
			free(c->listen);
			c->listen = NULL;
			c->nlisten = 0;
			return 0;
		}
		if (conf_set_addrs(&c->listen, &c->nlisten, key, value, 1, 0,
		    err, errlen) == -1)
			return -1;
		return conf_check_listen_names(c, err, errlen);
	} else if (strcmp(key, "dns") == 0) {
		if (value[0] == '\0' || strcasecmp(value, "system") == 0) {
			free(c->dns);
			c->dns = NULL;
			c->ndns = 0;
			return 0;
		}
		return conf_set_addrs(&c->dns, &c->ndns, key, value, 0, 1,
		    err, errlen);
	} else if (strcmp(key, "smtp_port") == 0) {
		if (conf_parse_port(value, &c->smtp_port) == -1)
			return conf_err(err, errlen,
			    "smtp_port: '%s' is not a port (1-65535)", value);
	} else if (strcmp(key, "relayhost") == 0) {
		if (value[0] == '\0' || strcasecmp(value, "none") == 0) {
			memset(&c->relayhost, 0, sizeof(c->relayhost));
			return 0;
		}
		if (conf_parse_relayhost(value, &c->relayhost) == -1) {
			memset(&c->relayhost, 0, sizeof(c->relayhost));
			return conf_err(err, errlen,
			    "relayhost: bad address '%s' (expected host[:port])",
			    value);
		}
	} else if (strcmp(key, "tls") == 0) {
		if (strcmp(value, "none") == 0)
			c->tls = CONF_TLS_NONE;
		else if (strcmp(value, "may") == 0)
			c->tls = CONF_TLS_MAY;
		else if (strcmp(value, "encrypt") == 0)
			c->tls = CONF_TLS_ENCRYPT;
		else if (strcmp(value, "verify") == 0)
			c->tls = CONF_TLS_VERIFY;
		else
			return conf_err(err, errlen, "tls: '%s' is not one of "
			    "none, may, encrypt, verify", value);
	} else if (strcmp(key, "tls_ca") == 0) {
		return conf_set_file(&c->tls_ca, key, value, err, errlen);
	} else if (strcmp(key, "tls_cert") == 0) {
		return conf_set_file(&c->tls_cert, key, value, err, errlen);
	} else if (strcmp(key, "tls_key") == 0) {
		return conf_set_file(&c->tls_key, key, value, err, errlen);
	} else if (strcmp(key, "retry") == 0) {
		time_t *r;

		if (conf_split(key, value, &items, &n, err, errlen) == -1)
			return -1;
		r = calloc(n, sizeof(*r));
		if (r == NULL) {
			perror("mailfs");
			exit(71);
		}
		for (size_t i = 0; i < n; i++) {
			if (conf_parse_duration(items[i], &r[i]) == -1)
				conf_err(err, errlen, "retry: '%s' is not a duration "
				    "(a number with s, m, h or d)", items[i]);
			else if (r[i] == 0)	/* a deferral would spin */
				conf_err(err, errlen, "retry: a delay of '%s' "
				    "must be greater than zero", items[i]);
			else
				continue;
			strv_free(items, n);
			free(r);
			return -1;
		}
		strv_free(items, n);
		free(c->retry);
		c->retry = r;
		c->nretry = n;
	} else if (strcmp(key, "max_age") == 0 || strcmp(key, "keep") == 0 ||
	    strcmp(key, "delay_warning") == 0) {
		if (conf_parse_duration(value, &t) == -1)
			return conf_err(err, errlen, "%s: '%s' is not a duration "
			    "(a number with s, m, h or d)", key, value);
		*(key[0] == 'k' ? &c->keep : key[0] == 'd' ?
		    &c->delay_warning : &c->max_age) = t;
	} else if (strcmp(key, "smtpd_tls_ciphers") == 0) {
		if (value[0] != '\0' && conf_tls_check_ciphers(value) == -1)
			return conf_err(err, errlen, "smtpd_tls_ciphers: '%s' "
			    "selects no cipher OpenSSL knows", value);
		conf_replace(&c->smtpd_tls_ciphers, value[0] ? value : NULL);
	} else if ((rc = conf_set_limits(c, key, value, err, errlen)) != 1) {
		return rc;	/* 0, or -1 with err */
	} else if ((rc = conf_set_access(c, key, value, err, errlen)) != 1 ||
	    (rc = conf_set_submission(c, key, value, err, errlen)) != 1 ||
	    (rc = conf_set_relay(c, key, value, err, errlen)) != 1 ||
	    (rc = conf_set_lmtp(c, key, value, err, errlen)) != 1) {
		return rc;	/* 0, or -1 with err */
	} else {
		for (size_t i = 0; i < sizeof(conf_nums) / sizeof(*conf_nums); i++)
			if (strcmp(key, conf_nums[i].key) == 0)
				return conf_set_num(c, &conf_nums[i], value, err,
				    errlen);
		return conf_err(err, errlen, "unknown setting '%s'", key);
	}
	return 0;
}

/* conf_trim_blanks - s without leading blanks, its trailing ones cut off
 * in place. */
char *
conf_trim_blanks(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* What a file that is not a regular one is, for the message. */
static const char *
conf_file_type(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	return "an unknown kind of file";
}

int
conf_load_file(struct conf *c, const char *path, char *err, size_t errlen)
{
	FILE *fp;
	char line[CONF_LINE_MAX], msg[512], *p, *eq, *key, *value;
	int lineno = 0, rc = 0, fd, ch;
	struct stat st;

	/*
	 * O_NONBLOCK: opening a FIFO must not wait for a writer. Only a
	 * regular file is read (a directory reads as nothing, /dev/zero as
	 * one endless line); /dev/null is the usual way to say "no file"
	 * (ssh -F /dev/null), so it reads as an empty one.
	 */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return conf_err(err, errlen, "%s: %s", path, strerror(errno));
	if ((rc = fstat(fd, &st) == -1 ? errno : 0) != 0 ||
	    !S_ISREG(st.st_mode)) {
		struct stat null;

		/* rc: fstat's own errno, never one left by an earlier call */
		close(fd);
		if (rc == 0 && S_ISCHR(st.st_mode) &&
		    stat("/dev/null", &null) == 0 && S_ISCHR(null.st_mode) &&
		    null.st_rdev == st.st_rdev)
			return 0;
		if (rc == 0)
			return conf_err(err, errlen, "%s: is %s, not a file of "
			    "settings", path, conf_file_type(st.st_mode));
		return conf_err(err, errlen, "%s: %s", path, strerror(rc));
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		return conf_err(err, errlen, "%s: %s", path, strerror(errno));
	}
	while (rc == 0 && fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		/* a full buffer without its newline: the line goes on */
		if (strlen(line) == sizeof(line) - 1 && line[sizeof(line) - 2]
		    != '\n' && (ch = getc(fp)) != EOF && ch != '\n') {
			rc = conf_err(err, errlen, "%s:%d: line longer than %zu "
			    "bytes", path, lineno, sizeof(line) - 1);
			break;
		}
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		p = conf_trim_blanks(line);
		if (*p == '\0')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			rc = conf_err(err, errlen, "%s:%d: expected 'key = value'",
			    path, lineno);
			break;
		}
		*eq = '\0';
		key = conf_trim_blanks(p);
		value = conf_trim_blanks(eq + 1);
		if (conf_set(c, key, value, msg, sizeof(msg)) == -1)
			rc = conf_err(err, errlen, "%s:%d: %s", path, lineno, msg);
	}
	fclose(fp);
	return rc;
}

/* The settings whose value is a comma list: -o lets their value go on
 * past a comma (lib/options.c). */
int
conf_is_list_key(const char *key)
{
	static const char *const lists[] = { "domains", "listen", "dns",
	    "retry", "submission", "submissions", "etrn_clients", NULL };

	for (const char *const *l = lists; *l != NULL; l++)
		if (strcmp(*l, key) == 0)
			return 1;
	return 0;
}

/* Checks across keys, once everything is read. */
int
conf_finish(struct conf *c, char *err, size_t errlen)
{
	char e2[16];

	if ((c->tls_cert == NULL) != (c->tls_key == NULL))
		return conf_err(err, errlen, "%s: set without %s",
		    c->tls_cert ? "tls_cert" : "tls_key",
		    c->tls_cert ? "tls_key" : "tls_cert");
	if (conf_tls_check_files(c, err, errlen) == -1 ||
	    conf_finish_submission(c, err, errlen) == -1 ||
	    conf_finish_relay(c, err, errlen) == -1)
		return -1;
	if (c->ndomains == 0)
		return conf_set(c, "domains", c->hostname, e2, sizeof(e2));
	return 0;
}

int
conf_is_local_domain(const struct conf *c, const char *domain)
{
	for (size_t i = 0; i < c->ndomains; i++)
		if (strcasecmp(c->domains[i], domain) == 0)
			return 1;
	return 0;
}

void
conf_free(struct conf *c)
{
	free(c->spool);
	free(c->hostname);
	strv_free(c->domains, c->ndomains);
	free(c->listen);
	free(c->dns);
	free(c->tls_ca);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->smtpd_tls_ciphers);
	conf_set_relay(c, "relay_auth", "none", NULL, 0);
	free(c->retry);
	free(c->mount_opts);
	free(c->submission);
	free(c->submissions);
	free(c->passwd);
	free(c->lmtp_path);
	free(c->etrn_clients);
	for (size_t i = 0; i < c->nretired; i++)
		free(c->retired[i]);
	free(c->retired);
	memset(c, 0, sizeof(*c));
}
