/*
 * conf.h - mailfs settings: built-in defaults, mailfs.conf(5) files and
 * -o KEY=VALUE overrides, validated before anything is mounted. -o also
 * carries mount options (lib/options.h): FUSE's are kept in mount_opts.
 *
 * Diagnostics: every setter returns 0, or -1 with one line in err naming
 * the key and what is wrong (the caller exits 78, EX_CONFIG).
 */
#ifndef MAILFS_CONF_H
#define MAILFS_CONF_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

enum conf_tls { CONF_TLS_NONE, CONF_TLS_MAY, CONF_TLS_ENCRYPT, CONF_TLS_VERIFY };
enum conf_relay_tls { CONF_RELAY_STARTTLS, CONF_RELAY_WRAPPER };

/* One "host:port" or "[v6]:port" address, already split. */
struct cidr;

struct conf_addr {
	char host[256];		/* name or literal IP, without brackets */
	int port;		/* 0 = not given (caller's default) */
};

struct conf {
	char *spool;
	char *hostname;
	char **domains;		/* lower case */
	size_t ndomains;
	struct conf_addr *listen;	/* nlisten == 0: listener disabled */
	size_t nlisten;
	struct conf_addr *dns;	/* ndns == 0: the system's resolv.conf */
	size_t ndns;
	int smtp_port;
	struct conf_addr relayhost;	/* relayhost.host[0] == 0: none */
	enum conf_tls tls;
	char *tls_ca, *tls_cert, *tls_key;	/* NULL: not set */
	time_t *retry;		/* seconds; the last one repeats */
	size_t nretry;
	time_t max_age;
	time_t delay_warning;	/* 0: no "still trying" DSN */
	size_t max_size;
	int concurrency;
	int concurrency_per_domain;	/* 0: concurrency / 5, at least 1 */
	size_t min_free;	/* spool space kept free: the smaller of min_free */
	int min_free_pct;	/* and min_free_pct % of the file system */
	time_t keep;
	char *mount_opts;	/* from -o, for libfuse: "allow_other,ro"; NULL none */
	void **retired;		/* replaced by conf_reload, freed by conf_free */
	size_t nretired;
	/* lib/conf_access.c: who may use the tree, who owns SPOOL/inbox */
	int has_group;		/* group: members may submit and read */
	gid_t group;
	uid_t maildir_uid;	/* maildir_owner; (uid_t)-1: the daemon's */
	gid_t maildir_gid;	/* (gid_t)-1: the daemon's, or the user's */
	mode_t maildir_mode;	/* files; directories add the x bits */
	/* lib/conf_relay.c: logging in to the relayhost */
	char *relay_user, *relay_pass;	/* from relay_auth; NULL: none */
	enum conf_relay_tls relay_tls;
	/* lib/conf_lmtp.c: the LMTP listener, who may send ETRN */
	char *lmtp_path;	/* lmtp = unix:PATH; NULL: not a socket */
	struct conf_addr lmtp;	/* lmtp = HOST:PORT; port 0: none */
	struct cidr *etrn_clients;	/* netrn_clients == 0: nobody */
	size_t netrn_clients;
	/* the listener: sessions in all, total time per command line or
	 * DATA block, TLS 1.2 cipher list (NULL: the built-in one) */
	int smtpd_client_limit;
	time_t smtpd_timeout;
	char *smtpd_tls_ciphers;
	/* the client: total time per step (RFC 5321 §4.5.3.2) */
	time_t smtp_connect_timeout, smtp_helo_timeout, smtp_mail_timeout,
	    smtp_rcpt_timeout, smtp_data_init_timeout, smtp_data_xfer_timeout,
	    smtp_data_done_timeout, smtp_quit_timeout;
	/* lib/conf_submission.c: message submission (RFC 6409) with AUTH */
	struct conf_addr *submission;	/* STARTTLS listeners */
	size_t nsubmission;
	struct conf_addr *submissions;	/* implicit TLS listeners */
	size_t nsubmissions;
	char *passwd;		/* the users' file (lib/passwd.h); NULL none */
	int auth_cleartext_loopback;	/* AUTH without TLS from loopback */
};

/* The listener's TLS 1.2 suites when smtpd_tls_ciphers is not set:
 * Mozilla's "intermediate" profile without DHE (no DH parameters). */
#define CONF_TLS_CIPHERS	"ECDHE-ECDSA-AES128-GCM-SHA256:" \
	"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:" \
	"ECDHE-RSA-CHACHA20-POLY1305"

void	conf_init_defaults(struct conf *c);
int	conf_set(struct conf *c, const char *key, const char *value,
	    char *err, size_t errlen);
int	conf_load_file(struct conf *c, const char *path, char *err, size_t errlen);
int	conf_is_list_key(const char *key);
char	*conf_trim_blanks(char *s);
int	conf_finish(struct conf *c, char *err, size_t errlen);
int	conf_is_local_domain(const struct conf *c, const char *domain);
/* 1 if s is a DNS name: labels of letters, digits, '-' and '_', 1 to 63
 * long, 253 in all; a trailing dot (fully qualified) is allowed. */
int	conf_valid_hostname(const char *s);
int	conf_parse_duration(const char *s, time_t *out);
int	conf_parse_size(const char *s, size_t *out);
int	conf_parse_addr(const char *s, struct conf_addr *out);
void	conf_free(struct conf *c);
/* group, maildir_owner, maildir_mode: 0 or -1 as conf_set; 1 when key is
 * none of them (lib/conf_access.c). */
int	conf_set_access(struct conf *c, const char *key, const char *value,
	    char *err, size_t errlen);
/* relay_auth, relay_tls: as conf_set_access (lib/conf_relay.c). */
int	conf_set_relay(struct conf *c, const char *key, const char *value,
	    char *err, size_t errlen);
/* conf_parse_relayhost - conf_parse_addr, and Postfix's "[host]:port"
 * for any host: the brackets (no MX lookup there) change nothing here,
 * as the relayhost's address records are all that is ever looked up. */
int	conf_parse_relayhost(const char *s, struct conf_addr *out);
/* conf_relay_wrapper - TLS from the first byte with the relayhost:
 * relay_tls = wrapper, or its port 465. */
int	conf_relay_wrapper(const struct conf *c);
/* The checks of the relay settings against the others, for conf_finish. */
int	conf_finish_relay(const struct conf *c, char *err, size_t errlen);

/* max_size, concurrency, min_free: as conf_set_access
 * (lib/conf_limits.c). */
int	conf_set_limits(struct conf *c, const char *key, const char *value,
	    char *err, size_t errlen);
/* The free space to keep on a file system of total bytes (min_free). */
unsigned long long conf_min_free(const struct conf *c,
	    unsigned long long total);
/* submission, submissions, passwd, auth_cleartext_loopback: 0 or -1 as
 * conf_set; 1 when key is none of them (lib/conf_submission.c).
 * conf_finish_submission checks them together, at conf_finish. */
int	conf_set_submission(struct conf *c, const char *key, const char *value,
	    char *err, size_t errlen);
int	conf_finish_submission(const struct conf *c, char *err, size_t errlen);
/* A comma list of addresses into *out (need_port, ip_only as the key
 * needs), and a file setting made an absolute path ("none": NULL); for
 * the setters in other files. 0, or -1 with err. */
int	conf_set_addrs(struct conf_addr **out, size_t *nout, const char *key,
	    const char *value, int need_port, int ip_only, char *err,
	    size_t errlen);
int	conf_set_file(char **slot, const char *key, const char *value,
	    char *err, size_t errlen);
/* lmtp, etrn_clients: 0 or -1 as conf_set; 1 when key is neither of them
 * (lib/conf_lmtp.c). */
int	conf_set_lmtp(struct conf *c, const char *key, const char *value,
	    char *err, size_t errlen);

/* conf_reload - SIGHUP: what can change while mounted goes from fresh into
 * live (lib/conf_reload.c); later gets the changed keys that need a
 * restart, comma-separated. */
int	conf_reload(struct conf *live, const struct conf *fresh, char *later,
	    size_t laterlen);

#endif
