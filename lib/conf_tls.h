/*
 * conf_tls.h - checks of the TLS settings, for conf.c (conf_tls.c).
 */
#ifndef MAILFS_CONF_TLS_H
#define MAILFS_CONF_TLS_H

#include <stddef.h>

struct conf;

/* tls_ca, tls_cert and tls_key load: 0, or -1 with err naming the key. */
int	conf_tls_check_files(const struct conf *c, char *err, size_t errlen);
/* An OpenSSL cipher list that selects at least one cipher: 0, else -1. */
int	conf_tls_check_ciphers(const char *list);

#endif
