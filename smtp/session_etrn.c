/*
 * session_etrn.c - ETRN (RFC 1985) on the listener: "ETRN node" makes
 * every deferred message for the domain node due now, "ETRN @node" for
 * node and its subdomains too; the delivery side picks them up at once
 * (queue_flush_domain wakes it). Only clients in etrn_clients may ask;
 * others get what Postfix answers a client its restrictions refuse.
 * The `etrn` event in the mail log says who asked for what and how many
 * messages wait for it. Internal API in session.h.
 *
 * Replies (RFC 1985 §5): 250 started, 251 nothing waits for the node,
 * 458 the queue cannot be run now, 459 the node is not one to run (a
 * queue name "#q", or a domain of ours: its mail is delivered here, not
 * queued); 501 a node that is not a domain name.
 */
#include "smtp/session.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "lib/cidr.h"
#include "lib/conf.h"
#include "queue/qlog.h"
#include "queue/queue.h"

void
session_etrn(struct session *s, const char *arg)
{
	const struct conf *c = session_ctx.conf;
	char node[ADDR_DOMAIN_MAX + 1], count[16];
	int sub = arg[0] == '@', n;
	size_t len;

	session_junk(s);	/* each one walks the queue */
	if (!cidr_match(c->etrn_clients, c->netrn_clients, s->ip)) {
		session_error(s, "554 5.7.1 <%s>: Client host rejected: "
		    "Access denied", s->ip);
		session_refuse(s->ip, "ETRN from a client not in etrn_clients");
		return;
	}
	if (arg[0] == '#') {
		session_reply(s, "459 4.3.0 Node %s not allowed: queue names "
		    "are not supported", arg);
		return;
	}
	if (!conf_valid_hostname(arg + sub)) {
		session_error(s, "501 5.5.4 Syntax: ETRN domain or @domain");
		return;
	}
	len = strlen(arg + sub);
	for (size_t i = 0; i <= len; i++)
		node[i] = (char)tolower((unsigned char)arg[sub + i]);
	if (node[len - 1] == '.')
		node[len - 1] = '\0';	/* fully qualified: the same */
	if (queue_domain_is_local(c, node)) {
		session_reply(s, "459 4.3.0 Node %s not allowed: its mail is "
		    "delivered here", arg);
		return;
	}
	n = queue_flush_domain(node, sub);
	snprintf(count, sizeof(count), "%d", n);
	qlog_event(NULL, "etrn", "client", s->ip, "domain", arg, "count",
	    count, NULL);
	if (n < 0)
		session_reply(s, "458 4.3.0 Unable to queue messages for node "
		    "%s", arg);
	else if (n == 0)
		session_reply(s, "251 2.0.0 No messages waiting for node %s",
		    arg);
	else
		session_reply(s, "250 2.0.0 Queuing for node %s started", arg);
}
