/*
 * client_auth.c - logging in to the relayhost (RFC 4954), the S_AUTH step
 * of an outbound session (client_int.h): after EHLO, once TLS is up, with
 * relay_auth's user and password, by AUTH PLAIN (with its initial
 * response) or else AUTH LOGIN, whichever the relay offers.
 *
 * The credentials never go in the clear, and every failure here is
 * temporary (class 4) with the relay's own words: a wrong password is
 * fixed in the relay_auth file and the mail then goes out on `flush`.
 * The password is never logged; "authenticated to RELAY as USER" is, at
 * debug level.
 */
#include "smtp/client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "lib/conf.h"
#include "lib/log.h"

enum { A_PLAIN, A_LOGIN, A_USER, A_PASS };	/* what was last sent */

/* "PREFIX base64(data)\r\n" into the output; the copies are wiped. */
static int
send_b64(struct client *c, const char *prefix, const unsigned char *data,
    size_t len)
{
	size_t blen = 4 * ((len + 2) / 3) + 1;
	unsigned char *b = malloc(blen);
	int rc;

	if (b == NULL)
		return -1;
	EVP_EncodeBlock(b, data, (int)len);
	rc = evbuffer_add_printf(bufferevent_get_output(c->bev), "%s%s\r\n",
	    prefix, (char *)b) < 0 ? -1 : 0;
	OPENSSL_cleanse(b, blen);
	free(b);
	return rc;
}

/* RFC 4616: authzid (empty), NUL, user, NUL, password. */
static int
send_plain(struct client *c)
{
	const char *u = c->conf->relay_user, *p = c->conf->relay_pass;
	size_t ul = strlen(u), pl = strlen(p), len = ul + pl + 2;
	unsigned char *m = malloc(len);
	int rc;

	if (m == NULL)
		return -1;
	m[0] = '\0';
	memcpy(m + 1, u, ul + 1);
	memcpy(m + 2 + ul, p, pl);
	rc = send_b64(c, "AUTH PLAIN ", m, len);
	OPENSSL_cleanse(m, len);
	free(m);
	return rc;
}

int
client_auth_start(struct client *c)
{
	const struct conf *cf = c->conf;
	int rc;

	if (cf->relay_user == NULL || cf->relayhost.host[0] == '\0')
		return 1;
	if (!c->tls)
		return client_host_fail(c, 4, "4.7.0", "relay requires TLS "
		    "for AUTH (with %s TLS is not up, and the password is "
		    "never sent in the clear)", c->relay);
	if (!c->ehlo.auth_plain && !c->ehlo.auth_login)
		return client_host_fail(c, 4, "4.7.0", "relay offers no AUTH "
		    "PLAIN or LOGIN (%s offers %s), and relay_auth is set",
		    c->relay, c->ehlo.auth ? "only other mechanisms" :
		    "no AUTH at all");
	client_enter(c, S_AUTH);
	client_deadline(c, c->conf->smtp_helo_timeout);
	if (c->ehlo.auth_plain) {
		c->auth_step = A_PLAIN;
		rc = send_plain(c);
	} else {
		c->auth_step = A_LOGIN;
		rc = evbuffer_add_printf(bufferevent_get_output(c->bev),
		    "AUTH LOGIN\r\n") < 0 ? -1 : 0;
	}
	if (rc == -1)
		return client_trouble(c, "4.3.0", "out of memory");
	return 0;
}

int
client_auth_reply(struct client *c)
{
	const char *u = c->conf->relay_user, *p = c->conf->relay_pass;
	char esc[PROTO_ESC_MAX], text[1024];
	int rc = 0;

	if (c->reply.code == 235) {
		log_debug("smtp %s: authenticated to %s as %s", c->relay,
		    c->relay, u);
		return 1;
	}
	if (c->reply.code == 334 && c->auth_step == A_LOGIN) {
		c->auth_step = A_USER;
		rc = send_b64(c, "", (const unsigned char *)u, strlen(u));
	} else if (c->reply.code == 334 && c->auth_step == A_USER) {
		c->auth_step = A_PASS;
		rc = send_b64(c, "", (const unsigned char *)p, strlen(p));
	} else {
		/* 535 and every other refusal (or a 334 we have nothing
		 * more for): temporary, in its words; the connection is
		 * dropped, so nothing else is sent. */
		proto_reply_format(&c->reply, text, sizeof(text));
		proto_reply_esc(&c->reply, esc);
		esc[0] = '4';
		if (c->reply.code / 100 != 4 && c->reply.code / 100 != 5)
			memcpy(esc, "4.7.0", 6);
		return client_host_fail(c, 4, esc, "host %s said: %s (in reply "
		    "to AUTH %s as %s)", c->relay, text,
		    c->auth_step == A_PLAIN ? "PLAIN" : "LOGIN", u);
	}
	if (rc == -1)
		return client_trouble(c, "4.3.0", "out of memory");
	return 0;
}
