/*
 * conf_test.c - unit tests of lib/conf.c: durations, sizes, addresses,
 * every setting's validation (zero values, empty list elements), files
 * (and what is not a regular file) and precedence; -o is options_test.c.
 * TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/conf.h"
#include "tests/tap.h"

static int
set(struct conf *c, const char *k, const char *v)
{
	char err[256];

	return conf_set(c, k, v, err, sizeof(err));
}

int
main(void)
{
	struct conf c;
	struct conf_addr a;
	time_t t;
	size_t sz;
	char err[256], path[] = "/tmp/conf_test.XXXXXX";
	FILE *fp;
	int fd;

	ok(conf_parse_duration("90", &t) == 0 && t == 90, "duration plain seconds");
	ok(conf_parse_duration("5m", &t) == 0 && t == 300, "duration 5m");
	ok(conf_parse_duration("2h", &t) == 0 && t == 7200, "duration 2h");
	ok(conf_parse_duration("5d", &t) == 0 && t == 432000, "duration 5d");
	ok(conf_parse_duration("5x", &t) == -1, "duration 5x refused");
	ok(conf_parse_duration("m", &t) == -1, "duration without number refused");
	ok(conf_parse_duration("5mm", &t) == -1, "duration 5mm refused");
	ok(conf_parse_duration("-5", &t) == -1, "negative duration refused");
	ok(conf_parse_size("25M", &sz) == 0 && sz == 25u << 20, "size 25M");
	ok(conf_parse_size("1K", &sz) == 0 && sz == 1024, "size 1K");
	ok(conf_parse_size("3G", &sz) == 0 && sz == 3ull << 30, "size 3G");
	ok(conf_parse_size("10Q", &sz) == -1, "size 10Q refused");
	ok(conf_parse_addr("127.0.0.1:2525", &a) == 0 && a.port == 2525 &&
	    strcmp(a.host, "127.0.0.1") == 0, "addr v4:port");
	ok(conf_parse_addr("[::1]:25", &a) == 0 && a.port == 25 &&
	    strcmp(a.host, "::1") == 0, "addr [v6]:port");
	ok(conf_parse_addr("::1", &a) == 0 && a.port == 0, "addr bare v6");
	ok(conf_parse_addr("mx.example.org", &a) == 0 && a.port == 0, "addr name");
	ok(conf_parse_addr("mx.example.org:70000", &a) == -1, "port out of range");
	ok(conf_parse_addr("[foo]:25", &a) == -1, "bracketed non-v6 refused");
	ok(conf_parse_addr("bad host:25", &a) == -1, "space in host refused");

	conf_init_defaults(&c);
	ok(c.smtp_port == 25 && c.tls == CONF_TLS_MAY && c.concurrency == 20,
	    "defaults: smtp_port, tls, concurrency");
	ok(c.nretry == 7 && c.retry[0] == 60 && c.retry[6] == 14400,
	    "default retry schedule");
	ok(c.max_size == 25u << 20 && c.max_age == 5 * 86400 &&
	    c.keep == 7 * 86400, "default max_size, max_age, keep");
	ok(c.nlisten == 1 && c.listen[0].port == 2525, "default listen");
	ok(conf_finish(&c, err, sizeof(err)) == 0 && c.ndomains == 1 &&
	    strcmp(c.domains[0], c.hostname) == 0, "domains default to hostname");

	ok(set(&c, "bogus", "1") == -1, "unknown key refused");
	ok(conf_set(&c, "bogus", "1", err, sizeof(err)) == -1 &&
	    strstr(err, "bogus") != NULL, "error names the key");
	ok(set(&c, "tls", "maybe") == -1, "tls=maybe refused");
	ok(set(&c, "tls", "verify") == 0 && c.tls == CONF_TLS_VERIFY, "tls=verify");
	ok(set(&c, "listen", "garbage") == -1, "listen=garbage refused");
	ok(set(&c, "listen", "127.0.0.1") == -1, "listen without port refused");
	ok(set(&c, "listen", "none") == 0 && c.nlisten == 0, "listen=none");
	ok(set(&c, "listen", "127.0.0.1:25,[::1]:25") == 0 && c.nlisten == 2,
	    "listen list");
	ok(set(&c, "listen", "localhost:2525") == 0 && c.nlisten == 1 &&
	    strcmp(c.listen[0].host, "localhost") == 0, "listen by host name");
	ok(conf_set(&c, "listen", "nosuch.invalid:25", err, sizeof(err)) == -1 &&
	    strstr(err, "listen") != NULL, "listen name that does not resolve refused");
	ok(set(&c, "dns", "notanip") == -1, "dns=notanip refused");
	ok(set(&c, "dns", "localhost") == -1, "dns takes no host name");
	ok(set(&c, "dns", "[::1]:5353,127.0.0.1") == 0 && c.ndns == 2 &&
	    c.dns[0].port == 5353 && c.dns[1].port == 0, "dns [v6]:port and ip");
	ok(set(&c, "dns", "127.0.0.1:5353") == 0 && c.ndns == 1 &&
	    c.dns[0].port == 5353, "dns ip:port");
	ok(set(&c, "concurrency", "0") == -1, "concurrency=0 refused");
	ok(set(&c, "concurrency", "5") == 0 && c.concurrency == 5, "concurrency=5");
	ok(c.concurrency_per_domain == 0 && c.smtpd_client_limit == 100 &&
	    c.smtpd_timeout == 300 && c.smtp_connect_timeout == 30 &&
	    c.smtp_helo_timeout == 300 && c.smtp_data_init_timeout == 120 &&
	    c.smtp_data_xfer_timeout == 180 && c.smtp_data_done_timeout == 600 &&
	    c.smtpd_tls_ciphers == NULL, "defaults: limits and deadlines");
	ok(set(&c, "concurrency_per_domain", "0") == -1 &&
	    set(&c, "smtpd_client_limit", "10001") == -1 &&
	    set(&c, "concurrency_per_domain", "2") == 0 &&
	    c.concurrency_per_domain == 2, "concurrency_per_domain 1..10000");
	ok(set(&c, "smtpd_timeout", "0") == -1 &&
	    set(&c, "smtp_helo_timeout", "3x") == -1 &&
	    set(&c, "smtpd_timeout", "3s") == 0 && c.smtpd_timeout == 3 &&
	    set(&c, "smtp_data_done_timeout", "2m") == 0 &&
	    c.smtp_data_done_timeout == 120, "deadlines: durations above 0");
	ok(set(&c, "smtpd_tls_ciphers", "NO-SUCH-CIPHER") == -1 &&
	    set(&c, "smtpd_tls_ciphers", "DEFAULT") == 0 &&
	    strcmp(c.smtpd_tls_ciphers, "DEFAULT") == 0 &&
	    set(&c, "smtpd_tls_ciphers", "") == 0 &&
	    c.smtpd_tls_ciphers == NULL, "smtpd_tls_ciphers: checked by "
	    "OpenSSL, empty for the default");
	ok(conf_min_free(&c, 10000ULL << 20) == 100u << 20 &&
	    conf_min_free(&c, 1000ULL << 20) == 50u << 20,
	    "default min_free: 100M or 5 %%, whichever is smaller");
	ok(set(&c, "min_free", "1G") == 0 &&
	    conf_min_free(&c, 10000ULL << 20) == 1u << 30, "min_free=1G");
	ok(set(&c, "min_free", "10%") == 0 &&
	    conf_min_free(&c, 10000ULL << 20) == 1000ULL << 20, "min_free=10%%");
	ok(set(&c, "min_free", "0") == 0 && conf_min_free(&c, 1ULL << 40) == 0,
	    "min_free=0: off");
	ok(conf_set(&c, "min_free", "101%", err, sizeof(err)) == -1 &&
	    strstr(err, "min_free") != NULL, "min_free=101%% refused");
	ok(set(&c, "min_free", "5x") == -1, "min_free=5x refused");
	ok(set(&c, "smtp_port", "0") == -1, "smtp_port=0 refused");
	ok(set(&c, "retry", "1m,,5x") == -1, "bad retry refused");
	ok(set(&c, "retry", "1s, 2s") == 0 && c.nretry == 2 && c.retry[1] == 2,
	    "retry list with spaces");
	ok(conf_set(&c, "retry", "0s", err, sizeof(err)) == -1 &&
	    strstr(err, "retry") && strstr(err, "greater than zero") &&
	    c.nretry == 2, "retry=0s refused: must be greater than zero");
	ok(conf_set(&c, "retry", "1m,0", err, sizeof(err)) == -1 &&
	    strstr(err, "greater than zero"), "a zero delay later in the list refused");
	ok(conf_set(&c, "retry", "5x", err, sizeof(err)) == -1 &&
	    strstr(err, "not a duration"), "retry=5x is not a duration");
	ok(conf_set(&c, "retry", "", err, sizeof(err)) == -1 &&
	    strstr(err, "retry: empty list"), "retry= (nothing) refused");
	{
	static const char *const lists[][2] = {
		{ "retry", "1m," }, { "retry", "1m,,5m" }, { "retry", ",1m" },
		{ "retry", "1m, " }, { "domains", "a.test," },
		{ "domains", "a.test, ,b.test" }, { "listen", "127.0.0.1:25," },
		{ "dns", "127.0.0.1," }, { "dns", "," },
	};
	size_t nr = c.nretry, nd = c.ndomains, nl = c.nlisten, nn = c.ndns;

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		ok(conf_set(&c, lists[i][0], lists[i][1], err, sizeof(err)) == -1 &&
		    strncmp(err, lists[i][0], strlen(lists[i][0])) == 0 &&
		    strstr(err, "empty element"),
		    "%s=%s refused: an empty element", lists[i][0], lists[i][1]);
	ok(c.nretry == nr && c.ndomains == nd && c.nlisten == nl &&
	    c.ndns == nn, "a refused list leaves the earlier value");
	}
	ok(set(&c, "max_age", "1h") == 0 && c.max_age == 3600, "max_age=1h");
	ok(set(&c, "max_age", "0") == 0 && c.max_age == 0,
	    "max_age=0 accepted: one attempt only");
	ok(set(&c, "keep", "0s") == 0 && c.keep == 0,
	    "keep=0s accepted: nothing kept");
	ok(c.delay_warning == 0 && set(&c, "delay_warning", "4h") == 0 &&
	    c.delay_warning == 4 * 3600 && c.max_age == 0 && c.keep == 0,
	    "delay_warning: off by default, a duration of its own");
	ok(conf_set(&c, "delay_warning", "soon", err, sizeof(err)) == -1 &&
	    strstr(err, "delay_warning") != NULL, "delay_warning=soon refused");
	ok(conf_set(&c, "max_size", "0", err, sizeof(err)) == -1 &&
	    strstr(err, "max_size") && strstr(err, "greater than zero"),
	    "max_size=0 refused: must be greater than zero");
	ok(conf_set(&c, "max_size", "0M", err, sizeof(err)) == -1 &&
	    strstr(err, "greater than zero"), "max_size=0M refused too");
	ok(set(&c, "keep", "10Q") == -1, "keep=10Q refused");
	ok(set(&c, "max_size", "1K") == 0 && c.max_size == 1024, "max_size=1K");
	ok(set(&c, "spool", "relative") == -1, "relative spool refused");
	ok(set(&c, "relayhost", "smart.example:587") == 0 &&
	    c.relayhost.port == 587, "relayhost host:port");
	ok(set(&c, "relayhost", "none") == 0 && c.relayhost.host[0] == '\0',
	    "relayhost none");
	ok(set(&c, "tls_ca", "/nonexistent/ca.pem") == -1, "unreadable tls_ca refused");
	ok(chdir("/etc") == 0 && set(&c, "tls_ca", "hostname") == 0 &&
	    strcmp(c.tls_ca, "/etc/hostname") == 0, "tls_ca made absolute");
	ok(conf_finish(&c, err, sizeof(err)) == -1 && strstr(err, "tls_ca") != NULL,
	    "tls_ca that holds no certificate refused");
	ok(set(&c, "tls_ca", "none") == 0 && c.tls_ca == NULL, "tls_ca none");
	ok(set(&c, "domains", "A.Test, b.test") == 0 && c.ndomains == 2 &&
	    conf_is_local_domain(&c, "a.TEST") && !conf_is_local_domain(&c, "c.test"),
	    "domains list, case-insensitive");

	fd = mkstemp(path);
	fp = fdopen(fd, "w");
	fprintf(fp, "# comment\n\nsmtp_port = 2600  # trailing\nhostname=mx.example.org\n");
	fclose(fp);
	ok(conf_load_file(&c, path, err, sizeof(err)) == 0 && c.smtp_port == 2600 &&
	    strcmp(c.hostname, "mx.example.org") == 0, "config file");
	fp = fopen(path, "w");
	fprintf(fp, "smtp_port = 25\nwhat = 1\n");
	fclose(fp);
	ok(conf_load_file(&c, path, err, sizeof(err)) == -1 &&
	    strstr(err, ":2:") && strstr(err, "what"), "file error names line and key");
	fp = fopen(path, "w");
	fprintf(fp, "just words\n");
	fclose(fp);
	ok(conf_load_file(&c, path, err, sizeof(err)) == -1, "line without = refused");
	fp = fopen(path, "w");
	fprintf(fp, "hostname = %04094d\n", 0);	/* 4105 bytes and a newline */
	fclose(fp);
	ok(conf_load_file(&c, path, err, sizeof(err)) == -1 &&
	    strstr(err, ":1: line longer than"), "a line too long is refused, "
	    "not split in two");
	fp = fopen(path, "w");
	fprintf(fp, "# %04093d\nsmtp_port = 2601\n", 0);	/* 4095 and a newline */
	fclose(fp);
	ok(conf_load_file(&c, path, err, sizeof(err)) == 0 && c.smtp_port == 2601,
	    "a line of 4095 bytes and its newline is read whole");
	unlink(path);
	ok(conf_load_file(&c, "/tmp", err, sizeof(err)) == -1 &&
	    strstr(err, "/tmp") && strstr(err, "directory"), "a directory "
	    "is refused, naming it");
	ok(conf_load_file(&c, "/dev/zero", err, sizeof(err)) == -1 &&
	    strstr(err, "/dev/zero") && strstr(err, "character device"),
	    "/dev/zero is refused, not read forever");
	ok(mkfifo(path, 0600) == 0 &&
	    conf_load_file(&c, path, err, sizeof(err)) == -1 &&
	    strstr(err, "FIFO"), "a FIFO is refused, without waiting for a "
	    "writer");
	unlink(path);
	ok(conf_load_file(&c, "/dev/null", err, sizeof(err)) == 0 &&
	    c.smtp_port == 2601, "/dev/null reads as an empty file");
	conf_free(&c);

	conf_init_defaults(&c);
	set(&c, "tls_cert", "/etc/hostname");
	ok(conf_finish(&c, err, sizeof(err)) == -1 && strstr(err, "tls_key"),
	    "tls_cert without tls_key refused");
	set(&c, "tls_key", "/etc/hostname");
	ok(conf_finish(&c, err, sizeof(err)) == -1 && strstr(err, "tls_cert") &&
	    strstr(err, "PEM"), "tls_cert that holds no certificate refused");
	conf_free(&c);

	conf_init_defaults(&c);
	ok(!c.has_group && c.maildir_uid == (uid_t)-1 && c.maildir_mode == 0600,
	    "no group, maildir files the daemon's and 0600 by default");
	ok(set(&c, "group", "root") == 0 && c.has_group && c.group == 0 &&
	    set(&c, "group", "4242") == 0 && c.group == 4242 &&
	    set(&c, "group", "none") == 0 && !c.has_group,
	    "group: a name, a number, none");
	ok(conf_set(&c, "group", "no-such-group-x", err, sizeof(err)) == -1 &&
	    strstr(err, "group") && !c.has_group, "an unknown group is refused");
	ok(set(&c, "maildir_owner", "root:4242") == 0 && c.maildir_uid == 0 &&
	    c.maildir_gid == 4242 && set(&c, "maildir_owner", "root") == 0 &&
	    c.maildir_gid == 0, "maildir_owner: user[:group]");
	ok(conf_set(&c, "maildir_owner", "no-such-user-x", err,
	    sizeof(err)) == -1 && strstr(err, "maildir_owner"),
	    "an unknown maildir_owner is refused");
	ok(set(&c, "maildir_mode", "0640") == 0 && c.maildir_mode == 0640 &&
	    set(&c, "maildir_mode", "0755") == -1 &&
	    set(&c, "maildir_mode", "0044") == -1 &&
	    set(&c, "maildir_mode", "rw") == -1 && c.maildir_mode == 0640,
	    "maildir_mode: octal, no x bits, readable by its owner");
	conf_free(&c);

	conf_init_defaults(&c);
	ok(c.lmtp_path == NULL && c.lmtp.port == 0 && c.netrn_clients == 2,
	    "no lmtp, etrn_clients loopback by default");
	ok(set(&c, "lmtp", "unix:/run/mailfs/lmtp") == 0 && c.lmtp_path &&
	    strcmp(c.lmtp_path, "/run/mailfs/lmtp") == 0 && c.lmtp.port == 0,
	    "lmtp = unix:PATH");
	ok(set(&c, "lmtp", "127.0.0.1:24") == 0 && c.lmtp_path == NULL &&
	    c.lmtp.port == 24 && set(&c, "lmtp", "none") == 0 &&
	    c.lmtp.port == 0, "lmtp = HOST:PORT, none");
	ok(conf_set(&c, "lmtp", "unix:run/x", err, sizeof(err)) == -1 &&
	    strstr(err, "lmtp") && set(&c, "lmtp", "127.0.0.1") == -1 &&
	    set(&c, "lmtp", "bad host:24") == -1,
	    "lmtp: a relative path, no port, a bad host refused");
	ok(set(&c, "etrn_clients", "10.0.0.0/8, 2001:db8::/32") == 0 &&
	    c.netrn_clients == 2 && set(&c, "etrn_clients", "none") == 0 &&
	    c.netrn_clients == 0, "etrn_clients: a list, none");
	ok(conf_set(&c, "etrn_clients", "10.0.0.0/8,example.org", err,
	    sizeof(err)) == -1 && strstr(err, "example.org") &&
	    c.netrn_clients == 0, "etrn_clients: a name is refused");
	ok(conf_is_list_key("etrn_clients"), "etrn_clients is a list for -o");
	conf_free(&c);

	/* lib/conf_submission.c */
	conf_init_defaults(&c);
	ok(c.nsubmission == 0 && c.nsubmissions == 0 && c.passwd == NULL &&
	    !c.auth_cleartext_loopback, "no submission by default");
	ok(set(&c, "submission", "127.0.0.1:587,[::1]:587") == 0 &&
	    c.nsubmission == 2 && c.submission[1].port == 587 &&
	    set(&c, "submission", "127.0.0.1") == -1 && c.nsubmission == 2,
	    "submission: host:port list, the port needed");
	ok(conf_finish(&c, err, sizeof(err)) == -1 &&
	    strstr(err, "submission: set without passwd"),
	    "submission without passwd refused: %s", err);
	ok(set(&c, "passwd", "/etc/hostname") == 0 &&
	    conf_finish(&c, err, sizeof(err)) == -1 &&
	    strstr(err, "tls_cert") && strstr(err, "auth_cleartext_loopback"),
	    "submission without a certificate refused: %s", err);
	ok(set(&c, "auth_cleartext_loopback", "maybe") == -1 &&
	    set(&c, "auth_cleartext_loopback", "yes") == 0 &&
	    conf_finish(&c, err, sizeof(err)) == 0,
	    "... unless auth_cleartext_loopback = yes");
	ok(set(&c, "submissions", "127.0.0.1:465") == 0 &&
	    conf_finish(&c, err, sizeof(err)) == -1 &&
	    strstr(err, "submissions: set without tls_cert"),
	    "submissions without a certificate refused, whatever: %s", err);
	ok(set(&c, "submissions", "none") == 0 && c.nsubmissions == 0 &&
	    set(&c, "passwd", "none") == 0 && c.passwd == NULL &&
	    conf_is_list_key("submission") && conf_is_list_key("submissions"),
	    "none; the two lists are lists in -o");
	conf_free(&c);

	return tap_done();
}
