/*
 * addr.h - RFC 5321 paths as the listener receives them in MAIL FROM:<...>
 * and RCPT TO:<...> (RFC 6531 UTF-8 allowed), and the relay check: is this
 * recipient one of ours, with no trick that names a remote host through a
 * local domain (%, !, a quoted @, a source route, several @)?
 *
 * No I/O, no state: safe in any thread.
 * Diagnostics: return values only.
 */
#ifndef MAILFS_ADDR_H
#define MAILFS_ADDR_H

#include <stddef.h>

struct conf;

#define ADDR_LOCAL_MAX	64	/* RFC 5321 §4.5.3.1.1 */
#define ADDR_DOMAIN_MAX	255	/* §4.5.3.1.2 */
#define ADDR_PATH_MAX	256	/* §4.5.3.1.3, with the brackets */

/* flags of a parsed path */
#define ADDR_NULL	0x01	/* <> */
#define ADDR_ROUTE	0x02	/* <@a,@b:mbox>: a source route (dropped) */
#define ADDR_QUOTED	0x04	/* the local part is a quoted string */
#define ADDR_MULTIAT	0x08	/* an unquoted local part containing '@' */
#define ADDR_LITERAL	0x10	/* the domain is an address literal [...] */
#define ADDR_NODOMAIN	0x20	/* without a domain: <Postmaster>, or a
					 * local part that routes elsewhere
					 * (<"u@remote">, <remote!u>, <u%remote>)
					 * so that the relay check refuses it */

struct addr_path {
	char		mailbox[ADDR_PATH_MAX + 1];	/* local@domain as
						 * given; "" for <> */
	char		local[ADDR_PATH_MAX + 1];	/* as given, quotes kept */
	char		domain[ADDR_DOMAIN_MAX + 1];	/* lower-cased ASCII */
	unsigned	flags;
};

enum addr_status {
	ADDR_OK,
	ADDR_SYNTAX,		/* not a path: 501 5.1.3 / 5.1.7 */
	ADDR_TOOLONG,		/* over the RFC 5321 limits: 501 5.5.4 */
};

/*
 * addr_parse_path - parse "<...>" at s (leading spaces skipped). On
 * ADDR_OK, *end points just past the '>' (the ESMTP parameters follow).
 * A source route is recognized and flagged, not kept; "<Postmaster>" is
 * accepted without a domain (RFC 5321 §4.5.1), and so is a local part
 * with '%', '!' or '@' (ADDR_NODOMAIN): not a mailbox of ours, but a relay
 * attempt for addr_is_local to refuse.
 */
enum addr_status addr_parse_path(const char *s, struct addr_path *p,
	    const char **end);

/*
 * addr_is_local - 1 if mail to p may go into our inbox: its domain is one
 * of conf's domains (or it is the bare Postmaster) and nothing in it
 * routes elsewhere; 0 means 550 5.7.1 (relay access denied).
 */
int	addr_is_local(const struct conf *c, const struct addr_path *p);

#endif
