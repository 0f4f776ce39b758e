/*
 * cidr.h - address ranges as "net/bits" (IPv4 or IPv6; a bare address is
 * the one host) and the check whether a client's textual address is in a
 * list of them. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches as
 * the IPv4 address it carries. No I/O, no state: safe in any thread.
 */
#ifndef MAILFS_CIDR_H
#define MAILFS_CIDR_H

#include <stddef.h>

struct cidr {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	addr[16];	/* network order, host bits zero */
	int		bits;
};

/* "127.0.0.0/8", "::1", "10.0.0.1": 0, or -1 if not such a range. */
int	cidr_parse(const char *s, struct cidr *out);
/* 1 if ip (numeric, as getnameinfo gives it) is in one of v[0..n). */
int	cidr_match(const struct cidr *v, size_t n, const char *ip);

#endif
