/*
 * cidr_test.c - unit tests of lib/cidr.c: parsing ranges, matching IPv4,
 * IPv6 and IPv4-mapped client addresses. TAP.
 */
#include <string.h>

#include "lib/cidr.h"
#include "tests/tap.h"

int
main(void)
{
	struct cidr v[3];

	ok(cidr_parse("127.0.0.0/8", &v[0]) == 0 && v[0].bits == 8,
	    "127.0.0.0/8 parses");
	ok(cidr_parse("::1", &v[1]) == 0 && v[1].bits == 128,
	    "a bare IPv6 address is one host");
	ok(cidr_parse("10.1.2.3/16", &v[2]) == 0 && v[2].addr[2] == 0 &&
	    v[2].addr[3] == 0, "host bits are cleared");
	ok(cidr_match(v, 3, "127.0.0.2") && cidr_match(v, 3, "::1") &&
	    cidr_match(v, 3, "10.1.200.9"), "addresses in the ranges match");
	ok(!cidr_match(v, 3, "128.0.0.1") && !cidr_match(v, 3, "::2") &&
	    !cidr_match(v, 3, "10.2.0.1"), "others do not");
	ok(cidr_match(v, 3, "::ffff:127.1.2.3"),
	    "an IPv4-mapped address matches as IPv4");
	ok(!cidr_match(v, 3, "unix") && !cidr_match(v, 3, ""),
	    "what is not an address matches nothing");
	ok(cidr_parse("127.0.0.1/32", &v[0]) == 0 &&
	    cidr_match(v, 1, "127.0.0.1") && !cidr_match(v, 1, "127.0.0.2"),
	    "a /32 is one host");
	ok(cidr_parse("0.0.0.0/0", &v[0]) == 0 && cidr_match(v, 1, "1.2.3.4") &&
	    !cidr_match(v, 1, "::1"), "/0 is every IPv4 address");
	ok(cidr_parse("fe80::/10", &v[0]) == 0 &&
	    cidr_match(v, 1, "fe80::1") && cidr_match(v, 1, "febf::1") &&
	    !cidr_match(v, 1, "fec0::1"), "an IPv6 prefix off a byte boundary");
	ok(cidr_parse("1.2.3.4/33", &v[0]) == -1 &&
	    cidr_parse("1.2.3.4/", &v[0]) == -1 &&
	    cidr_parse("1.2.3/8", &v[0]) == -1 &&
	    cidr_parse("/8", &v[0]) == -1 &&
	    cidr_parse("::1/129", &v[0]) == -1 &&
	    cidr_parse("1.2.3.4/8x", &v[0]) == -1 &&
	    cidr_parse("example.com", &v[0]) == -1, "bad ranges are refused");
	return tap_done();
}
