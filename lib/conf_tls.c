/*
 * conf_tls.c - the TLS settings checked with OpenSSL as smtp/client.c and
 * smtp/server.c will load them (API in conf_tls.h, used by conf.c), so a
 * bad file or cipher list is refused before the mount.
 */
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/conf.h"
#include "lib/conf_tls.h"

/* conf_tls_err - the key, its file and OpenSSL's first reason; the error
 * queue is emptied so nothing stale reaches a later TLS session. */
static int
conf_tls_err(char *err, size_t errlen, const char *key, const char *file,
    const char *what)
{
	const char *why = ERR_reason_error_string(ERR_peek_error());

	snprintf(err, errlen, "%s: '%s' %s%s%s", key, file, what,
	    why ? ": " : "", why ? why : "");
	ERR_clear_error();
	return -1;
}

/* Load the TLS files as smtp/client.c and smtp/server.c will. */
int
conf_tls_check_files(const struct conf *c, char *err, size_t errlen)
{
	SSL_CTX *ctx;
	int rc = 0;

	if (c->tls_ca != NULL) {
		if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
			return conf_tls_err(err, errlen, "tls_ca", c->tls_ca,
			    "cannot be checked");
		if (SSL_CTX_load_verify_locations(ctx, c->tls_ca, NULL) != 1)
			rc = conf_tls_err(err, errlen, "tls_ca", c->tls_ca,
			    "holds no PEM CA certificate");
		SSL_CTX_free(ctx);
		if (rc == -1)
			return -1;
	}
	if (c->tls_cert == NULL)
		return 0;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		return conf_tls_err(err, errlen, "tls_cert", c->tls_cert,
		    "cannot be checked");
	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1)
		rc = conf_tls_err(err, errlen, "tls_cert", c->tls_cert,
		    "holds no PEM certificate");
	else if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key,
	    SSL_FILETYPE_PEM) != 1)
		rc = conf_tls_err(err, errlen, "tls_key", c->tls_key,
		    "is no PEM private key of tls_cert");
	else if (SSL_CTX_check_private_key(ctx) != 1)
		rc = conf_tls_err(err, errlen, "tls_key", c->tls_key,
		    "does not match tls_cert");
	SSL_CTX_free(ctx);
	return rc;
}

int
conf_tls_check_ciphers(const char *list)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int ok = ctx != NULL && SSL_CTX_set_cipher_list(ctx, list) == 1;

	SSL_CTX_free(ctx);
	ERR_clear_error();
	return ok ? 0 : -1;
}
