/*
 * addr_test.c - unit test of smtp/addr.c: path syntax (RFC 5321 §4.1.2,
 * RFC 6531) and the relay check against the known address tricks.
 * TAP on stdout; exit 1 on any failure.
 */
#include <stdio.h>
#include <string.h>

#include "lib/conf.h"
#include "smtp/addr.h"
#include "tests/tap.h"

static const struct {
	const char	*in;
	enum addr_status want;
	const char	*mailbox;	/* on ADDR_OK */
	const char	*rest;		/* what follows the path */
} syntax[] = {
	{ "<>", ADDR_OK, "", "" },
	{ "<user@example.test>", ADDR_OK, "user@example.test", "" },
	{ " <user@example.test> SIZE=10", ADDR_OK, "user@example.test",
	    " SIZE=10" },
	{ "<First.Last+tag@Sub.Example.TEST>", ADDR_OK,
	    "First.Last+tag@Sub.Example.TEST", "" },
	{ "<\"john doe\"@example.test>", ADDR_OK, "\"john doe\"@example.test",
	    "" },
	{ "<\"a\\\"b\"@example.test>", ADDR_OK, "\"a\\\"b\"@example.test", "" },
	{ "<@relay.test:user@example.test>", ADDR_OK, "user@example.test", "" },
	{ "<@a.test,@b.test:user@example.test>", ADDR_OK, "user@example.test",
	    "" },
	{ "<user@[127.0.0.1]>", ADDR_OK, "user@[127.0.0.1]", "" },
	{ "<Postmaster>", ADDR_OK, "Postmaster", "" },
	{ "<j\xc3\xb6rg@b\xc3\xbc\x63her.example.test>", ADDR_OK,
	    "j\xc3\xb6rg@b\xc3\xbc\x63her.example.test", "" },
	{ "user@example.test", ADDR_SYNTAX, NULL, NULL },
	{ "<user@example.test", ADDR_SYNTAX, NULL, NULL },
	{ "<user>", ADDR_SYNTAX, NULL, NULL },
	{ "<@example.test>", ADDR_SYNTAX, NULL, NULL },
	{ "<user@>", ADDR_SYNTAX, NULL, NULL },
	{ "<user@-bad.test>", ADDR_SYNTAX, NULL, NULL },
	{ "<user@a..test>", ADDR_SYNTAX, NULL, NULL },
	/* the root's dot, as Postfix's resolver strips it */
	{ "<user@example.test.>", ADDR_OK, "user@example.test", "" },
	{ "<user@example.test.> SIZE=1", ADDR_OK, "user@example.test",
	    " SIZE=1" },
	{ "<user@example.test..>", ADDR_SYNTAX, NULL, NULL },
	{ "<user@.>", ADDR_SYNTAX, NULL, NULL },
	{ "<user@[1.2.3.4].>", ADDR_SYNTAX, NULL, NULL },
	{ "<us er@example.test>", ADDR_SYNTAX, NULL, NULL },
	{ "<user\r@example.test>", ADDR_SYNTAX, NULL, NULL },
	{ "<\"unterminated@example.test>", ADDR_SYNTAX, NULL, NULL },
	{ "<\"ctl\x01\"@example.test>", ADDR_SYNTAX, NULL, NULL },
	{ "<user@[1.2.3.4>", ADDR_SYNTAX, NULL, NULL },
	{ "<@relay.test user@example.test>", ADDR_SYNTAX, NULL, NULL },
	{ "<user@exa_mple.test>", ADDR_SYNTAX, NULL, NULL },
	{ "<12345678901234567890123456789012345678901234567890123456789012345"
	    "@example.test>", ADDR_TOOLONG, NULL, NULL },
};

/* recipients and whether they are ours, with domains example.test and
 * other.test */
static const struct {
	const char	*in;
	int		local;
} relay[] = {
	{ "<user@example.test>", 1 },
	{ "<user@EXAMPLE.Test>", 1 },
	{ "<user@other.test>", 1 },
	{ "<\"john doe\"@example.test>", 1 },
	{ "<postmaster>", 1 },
	{ "<user@Example.Test.>", 1 },
	/* IDN: example.test is configured as xn--bcher-kva.test too */
	{ "<user@b\xc3\xbc\x63her.test>", 1 },
	{ "<user@XN--BCHER-KVA.test>", 1 },
	{ "<user@\xc3\xa9xample.test>", 0 },
	{ "<user@remote.test.>", 0 },
	/* unqualified, as in the abuse.net relay tests */
	{ "<\"user@remote.test\">", 0 },
	{ "<\"user%remote.test\">", 0 },
	{ "<remote.test!user>", 0 },
	{ "<user%remote.test>", 0 },
	{ "<POSTMASTER>", 1 },
	{ "<user%remote.test@example.test.>", 0 },
	{ "<user@remote.test>", 0 },
	{ "<user@sub.example.test>", 0 },
	{ "<user@example.test.remote.test>", 0 },
	{ "<user%remote.test@example.test>", 0 },
	{ "<remote.test!user@example.test>", 0 },
	{ "<\"user@remote.test\"@example.test>", 0 },
	{ "<\"user%remote.test\"@example.test>", 0 },
	{ "<\"remote.test!user\"@example.test>", 0 },
	{ "<@example.test:user@remote.test>", 0 },
	{ "<@remote.test:user@example.test>", 0 },
	{ "<@example.test,@remote.test:user@example.test>", 0 },
	{ "<user@remote.test@example.test>", 0 },
	{ "<user@example.test@remote.test>", 0 },
	{ "<a@b@c@example.test>", 0 },
	{ "<user@[127.0.0.1]>", 0 },
	{ "<user@[IPv6:::1]>", 0 },
	{ "<>", 0 },
};

int
main(void)
{
	struct conf c;
	char *doms[] = { "example.test", "other.test", "xn--bcher-kva.test" };
	struct addr_path p;
	const char *end;

	for (size_t i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++) {
		enum addr_status st = addr_parse_path(syntax[i].in, &p, &end);
		int good = st == syntax[i].want;

		if (good && st == ADDR_OK)
			good = strcmp(p.mailbox, syntax[i].mailbox) == 0 &&
			    strcmp(end, syntax[i].rest) == 0;
		ok(good, "syntax: %s", syntax[i].in);
	}
	addr_parse_path("<@r.test:Me@Example.TEST>", &p, &end);
	ok(p.flags == ADDR_ROUTE && strcmp(p.local, "Me") == 0 &&
	    strcmp(p.domain, "example.test") == 0,
	    "route flagged, local part kept, domain lower-cased%s", "");
	addr_parse_path("<>", &p, &end);
	ok(p.flags == ADDR_NULL && p.mailbox[0] == '\0', "null path%s", "");

	memset(&c, 0, sizeof(c));
	c.domains = doms;
	c.ndomains = 3;
	for (size_t i = 0; i < sizeof(relay) / sizeof(relay[0]); i++) {
		int good = addr_parse_path(relay[i].in, &p, &end) == ADDR_OK &&
		    addr_is_local(&c, &p) == relay[i].local;

		ok(good, relay[i].local ? "ours: %s" : "relay refused: %s",
		    relay[i].in);
	}
	return tap_done();
}
