/*
 * cidr.c - address ranges and matching client addresses against them
 * (API in cidr.h).
 */
#include "lib/cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* ip into addr (4 or 16 octets): its family, or 0 if not an address */
static int
parse_ip(const char *ip, unsigned char addr[16])
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };

	if (inet_pton(AF_INET, ip, addr) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, ip, addr) != 1)
		return 0;
	if (memcmp(addr, mapped, sizeof(mapped)) == 0) {
		memmove(addr, addr + 12, 4);
		return AF_INET;
	}
	return AF_INET6;
}

int
cidr_parse(const char *s, struct cidr *out)
{
	char ip[INET6_ADDRSTRLEN + 1], *end;
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	int max;
	long bits;

	if (len == 0 || len >= sizeof(ip))
		return -1;
	memcpy(ip, s, len);
	ip[len] = '\0';
	memset(out, 0, sizeof(*out));
	if ((out->family = parse_ip(ip, out->addr)) == 0)
		return -1;
	max = out->family == AF_INET ? 32 : 128;
	bits = max;
	if (slash != NULL) {
		if (slash[1] < '0' || slash[1] > '9')
			return -1;
		bits = strtol(slash + 1, &end, 10);
		if (*end != '\0' || bits > max)
			return -1;
		if (out->family == AF_INET && strchr(ip, ':') != NULL)
			return -1;	/* ::ffff:a.b.c.d/N: say it as IPv4 */
	}
	out->bits = (int)bits;
	for (int i = out->bits; i < max; i++)
		out->addr[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
	return 0;
}

static int
in_range(const struct cidr *c, int family, const unsigned char *a)
{
	int full = c->bits / 8, rest = c->bits % 8;
	unsigned char mask = (unsigned char)(0xff00u >> rest);

	if (family != c->family || memcmp(a, c->addr, (size_t)full) != 0)
		return 0;
	return rest == 0 || (a[full] & mask) == c->addr[full];
}

int
cidr_match(const struct cidr *v, size_t n, const char *ip)
{
	unsigned char a[16];
	int family = parse_ip(ip, a);

	for (size_t i = 0; family != 0 && i < n; i++)
		if (in_range(&v[i], family, a))
			return 1;
	return 0;
}
