/*
 * addr.c - RFC 5321 §4.1.2 paths (Reverse-path, Forward-path) with the
 * RFC 6531 UTF-8 extension, and the relay check of the listener. API and
 * diagnostics in addr.h.
 *
 * The parser is deliberately a little wider than the grammar where the
 * relay check needs to see what a client meant: several unquoted '@' are
 * split at the last one and flagged, so that "<a@remote@ours>" is refused
 * as relaying (550 5.7.1), not as bad syntax a client might retry.
 */
#include <string.h>
#include <strings.h>

#include <glib.h>

#include "lib/conf.h"
#include "queue/queue.h"
#include "smtp/addr.h"

/* RFC 5322 atext, plus UTF-8 octets (RFC 6531 §3.3) */
static int
is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80 ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int
is_letdig(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80;
}

/*
 * scan_domain - a Domain (sub-domains of letters, digits, hyphens) or an
 * address literal "[...]" at s; returns its length, 0 if none.
 */
static size_t
scan_domain(const char *s, int *literal)
{
	size_t i = 0;

	*literal = s[0] == '[';
	if (*literal) {
		/* dcontent: printable US-ASCII except [ \ ] */
		for (i = 1; s[i] != ']'; i++)
			if (s[i] < 33 || s[i] > 126 || s[i] == '[' ||
			    s[i] == '\\')
				return 0;
		return i > 1 ? i + 1 : 0;
	}
	for (;;) {
		size_t start = i;

		while (is_letdig((unsigned char)s[i]) || s[i] == '-')
			i++;
		if (i == start && start > 0)
			return i;	/* "example.test.": the root's dot */
		if (i == start || s[start] == '-' || s[i - 1] == '-')
			return 0;
		if (s[i] != '.')
			return i;
		i++;
	}
}

/* A quoted string at s (s[0] == '"'): its length with the quotes, or 0. */
static size_t
scan_quoted(const char *s)
{
	size_t i = 1;

	for (;;) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"')
			return i + 1;
		if (c == '\\') {
			c = (unsigned char)s[i + 1];
			if (c < 32 || c > 126)
				return 0;
			i += 2;
		} else if (c >= 32 && c != 127) {
			i++;
		} else {
			return 0;
		}
	}
}

static size_t
scan_route(const char *s)
{
	size_t i = 0;
	int lit;

	for (;;) {
		size_t n;

		if (s[i] != '@' || (n = scan_domain(s + i + 1, &lit)) == 0)
			return 0;
		i += 1 + n;
		if (s[i] == ':')
			return i + 1;
		if (s[i] != ',')
			return 0;
		i++;
	}
}

static int
is_postmaster(const char *local, size_t len)
{
	return len == 10 && strncasecmp(local, "postmaster", 10) == 0;
}

/* Does a local part name another host ("a%b", "b!a", "\"a@b\"")? */
static int
routes(const char *local, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (local[i] == '%' || local[i] == '!' || local[i] == '@')
			return 1;
	return 0;
}

static void
copy_lower(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? src[i] + 32 : src[i];
	dst[n] = '\0';
}

enum addr_status
addr_parse_path(const char *s, struct addr_path *p, const char **end)
{
	const char *start, *local, *domain = NULL;
	size_t llen, dlen = 0, n;
	int lit = 0;

	memset(p, 0, sizeof(*p));
	while (*s == ' ')
		s++;
	if (*s != '<')
		return ADDR_SYNTAX;
	start = s++;
	if (*s == '>') {
		p->flags = ADDR_NULL;
		*end = s + 1;
		return ADDR_OK;
	}
	if (*s == '@') {
		if ((n = scan_route(s)) == 0)
			return ADDR_SYNTAX;
		p->flags |= ADDR_ROUTE;
		s += n;
	}
	local = s;
	if (*s == '"') {
		if ((n = scan_quoted(s)) == 0)
			return ADDR_SYNTAX;
		p->flags |= ADDR_QUOTED;
		s += n;
	} else {
		/* up to the last '@' before '>': see the top of the file */
		const char *at = NULL;

		for (; is_atext((unsigned char)*s) || *s == '.' || *s == '@';
		    s++)
			if (*s == '@')
				at = s;
		if (at != NULL) {
			if (memchr(local, '@', (size_t)(at - local)) != NULL)
				p->flags |= ADDR_MULTIAT;
			s = at;
		}
	}
	llen = (size_t)(s - local);
	if (llen == 0)
		return ADDR_SYNTAX;
	if (*s == '@') {
		domain = ++s;
		if ((dlen = scan_domain(s, &lit)) == 0)
			return ADDR_SYNTAX;
		s += dlen;
		if (lit)
			p->flags |= ADDR_LITERAL;
		else if (domain[dlen - 1] == '.')
			dlen--;		/* fully qualified: the same domain */
	} else if (is_postmaster(local, llen) || routes(local, llen)) {
		p->flags |= ADDR_NODOMAIN;
	} else {
		return ADDR_SYNTAX;
	}
	if (*s != '>')
		return ADDR_SYNTAX;
	if (llen > ADDR_LOCAL_MAX || dlen > ADDR_DOMAIN_MAX ||
	    (size_t)(s + 1 - start) > ADDR_PATH_MAX)
		return ADDR_TOOLONG;
	memcpy(p->local, local, llen);
	p->local[llen] = '\0';
	memcpy(p->mailbox, local, llen + (domain ? 1 + dlen : 0));
	p->mailbox[llen + (domain ? 1 + dlen : 0)] = '\0';
	copy_lower(p->domain, domain ? domain : "", dlen);
	*end = s + 1;
	return ADDR_OK;
}

int
addr_is_local(const struct conf *c, const struct addr_path *p)
{
	if (p->flags & (ADDR_NULL | ADDR_ROUTE | ADDR_MULTIAT | ADDR_LITERAL))
		return 0;
	/* user%remote@ours and remote!user@ours route on through many MTAs;
	 * a quoted "user@remote"@ours is the same trick in disguise */
	if (routes(p->local, strlen(p->local)))
		return 0;
	if (p->flags & ADDR_NODOMAIN)
		return 1;	/* <Postmaster> */
	return queue_domain_is_local(c, p->domain);
}
