/*
 * passwd.c - the users of message submission and their crypt(3) hashes
 * (API and file format in passwd.h).
 *
 * Passwords are checked with libxcrypt's crypt_rn, which is reentrant
 * (its state in a struct crypt_data per call) and fails with NULL
 * instead of returning a "*" string; the result is compared with the
 * stored hash in constant time (CRYPTO_memcmp). A user that does not
 * exist costs a hash all the same, so the time taken does not tell
 * which users exist.
 */
#include "lib/passwd.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "lib/conf.h"
#include "lib/strv.h"

#define LINE_MAX_LEN	4096

/* hashed when the user is unknown, so that the answer takes as long */
#define DUMMY_HASH \
	"$y$j9T$ivRrfu6z5e.SflIXR0ejm1$3OW8WeMZP5XSQSluKBQUFff0sIhDTF.xPpt0VIZ5Sg9"

struct user {
	char	*name, *hash;
	char	**allow;	/* NULL: anything in the domains */
	size_t	nallow;
};

struct table {
	struct user *u;
	size_t	n;
};

static struct {
	pthread_mutex_t	mu;	/* guards tab and path */
	struct table	tab;
	char		*path;
} pw = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void
table_free(struct table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->u[i].name);
		free(t->u[i].hash);
		strv_free(t->u[i].allow, t->u[i].nallow);
	}
	free(t->u);
	t->u = NULL;
	t->n = 0;
}

/* The allowed senders "a@b, @c" into u: 0, or -1 if out of memory. */
static int
parse_allow(struct user *u, char *list)
{
	char *item, *save = NULL;

	for (item = strtok_r(list, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		char **v;

		item = conf_trim_blanks(item);
		if (*item == '\0')
			continue;
		if ((v = realloc(u->allow, (u->nallow + 2) *
		    sizeof(*v))) == NULL)
			return -1;
		u->allow = v;
		if ((v[u->nallow] = strdup(item)) == NULL)
			return -1;
		v[++u->nallow] = NULL;
	}
	return 0;
}

/* One line "user:hash[:allow]" into t: 0, or -1 with err. */
static int
parse_line(struct table *t, char *line, const char *path, int lineno,
    char *err, size_t errlen)
{
	char *name = line, *hash, *allow;
	struct user *u, *v;

	if ((hash = strchr(name, ':')) == NULL) {
		snprintf(err, errlen, "passwd: %s line %d: not user:hash",
		    path, lineno);
		return -1;
	}
	*hash++ = '\0';
	if ((allow = strchr(hash, ':')) != NULL)
		*allow++ = '\0';
	if (name[0] == '\0' || strlen(name) >= PASSWD_USER_MAX) {
		snprintf(err, errlen, "passwd: %s line %d: bad user name",
		    path, lineno);
		return -1;
	}
	/* "$id$...": DES and other legacy hashes are too weak to take */
	if (hash[0] != '$' || crypt_checksalt(hash) != CRYPT_SALT_OK) {
		snprintf(err, errlen, "passwd: %s line %d: '%s' has no "
		    "crypt(3) hash that libcrypt takes (make one with "
		    "mkpasswd)", path, lineno, name);
		return -1;
	}
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->u[i].name, name) == 0) {
			snprintf(err, errlen, "passwd: %s line %d: user '%s' "
			    "given twice", path, lineno, name);
			return -1;
		}
	if ((v = realloc(t->u, (t->n + 1) * sizeof(*v))) == NULL)
		goto nomem;
	t->u = v;
	u = &t->u[t->n++];
	memset(u, 0, sizeof(*u));
	if ((u->name = strdup(name)) == NULL ||
	    (u->hash = strdup(hash)) == NULL ||
	    (allow != NULL && parse_allow(u, allow) == -1))
		goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "passwd: %s: out of memory", path);
	return -1;
}

/* The file into t: 0, or -1 with err (t then holds what was read). */
static int
read_table(const char *path, struct table *t, char *err, size_t errlen)
{
	char line[LINE_MAX_LEN];
	struct stat st;
	FILE *fp;
	int lineno = 0, rc = 0;

	if ((fp = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "passwd: cannot read '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fileno(fp), &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "passwd: '%s' is not a regular file",
		    path);
		fclose(fp);
		return -1;
	}
	if (st.st_mode & 077) {
		/* the hashes can be attacked offline by whoever reads them */
		snprintf(err, errlen, "passwd: '%s' is readable or writable "
		    "by group or others (mode %04o): chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
		fclose(fp);
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), fp) != NULL) {
		size_t len = strlen(line);
		char *p;

		lineno++;
		if (len > 0 && line[len - 1] != '\n' && !feof(fp)) {
			snprintf(err, errlen, "passwd: %s line %d: too long",
			    path, lineno);
			rc = -1;
			break;
		}
		p = conf_trim_blanks(line);
		if (*p == '\0' || *p == '#')
			continue;
		rc = parse_line(t, p, path, lineno, err, errlen);
	}
	if (rc == 0 && ferror(fp)) {
		snprintf(err, errlen, "passwd: cannot read '%s': %s", path,
		    strerror(errno));
		rc = -1;
	}
	explicit_bzero(line, sizeof(line));
	fclose(fp);
	return rc;
}

int
passwd_load(const char *path, char *err, size_t errlen)
{
	struct table t = { NULL, 0 }, old;
	char *p;

	if (read_table(path, &t, err, errlen) == -1) {
		table_free(&t);
		return -1;
	}
	if ((p = strdup(path)) == NULL) {
		snprintf(err, errlen, "passwd: out of memory");
		table_free(&t);
		return -1;
	}
	pthread_mutex_lock(&pw.mu);
	old = pw.tab;
	pw.tab = t;
	free(pw.path);
	pw.path = p;
	pthread_mutex_unlock(&pw.mu);
	table_free(&old);
	return 0;
}

int
passwd_reload(char *err, size_t errlen)
{
	char *path;
	int rc;

	pthread_mutex_lock(&pw.mu);
	path = pw.path != NULL ? strdup(pw.path) : NULL;
	pthread_mutex_unlock(&pw.mu);
	if (path == NULL)
		return 0;	/* never loaded: nothing to reload */
	rc = passwd_load(path, err, errlen);
	free(path);
	return rc;
}

void
passwd_close(void)
{
	pthread_mutex_lock(&pw.mu);
	table_free(&pw.tab);
	free(pw.path);
	pw.path = NULL;
	pthread_mutex_unlock(&pw.mu);
}

/* Caller holds pw.mu. */
static struct user *
find(const char *name)
{
	for (size_t i = 0; i < pw.tab.n; i++)
		if (strcmp(pw.tab.u[i].name, name) == 0)
			return &pw.tab.u[i];
	return NULL;
}

int
passwd_check(const char *user, const char *pass)
{
	struct crypt_data *cd;
	struct user *u;
	char *hash;
	const char *out;
	int ok = 0, known;

	pthread_mutex_lock(&pw.mu);
	u = find(user);
	known = u != NULL;
	hash = strdup(known ? u->hash : DUMMY_HASH);
	pthread_mutex_unlock(&pw.mu);
	if (hash == NULL)
		return 0;
	if ((cd = calloc(1, sizeof(*cd))) != NULL) {
		out = crypt_rn(pass, hash, cd, sizeof(*cd));
		ok = known && out != NULL && strlen(out) == strlen(hash) &&
		    CRYPTO_memcmp(out, hash, strlen(hash)) == 0;
		explicit_bzero(cd, sizeof(*cd));
		free(cd);
	}
	free(hash);
	return ok;
}

/* The domain of addr matches an "@domain" item, or addr the item. */
static int
allowed(const char *item, const char *addr, const char *domain)
{
	if (item[0] == '@')
		return domain != NULL && strcasecmp(item + 1, domain) == 0;
	return strcasecmp(item, addr) == 0;
}

int
passwd_sender_ok(const struct conf *c, const char *user, const char *addr)
{
	const char *at = strrchr(addr, '@');
	const char *domain = at != NULL ? at + 1 : NULL;
	struct user *u;
	int ok = 0;

	if (addr[0] == '\0')
		return 0;
	pthread_mutex_lock(&pw.mu);
	if ((u = find(user)) != NULL && u->allow != NULL) {
		for (size_t i = 0; !ok && i < u->nallow; i++)
			ok = allowed(u->allow[i], addr, domain);
	} else if (u != NULL)
		ok = domain != NULL && conf_is_local_domain(c, domain);
	pthread_mutex_unlock(&pw.mu);
	return ok;
}
