/*
 * local_test.c - unit tests of local delivery (queue/local.c) and its
 * routing decision in jobs.c, on a temporary spool with domains
 * mailfs.test: a recipient in our domains (any case) is never handed to
 * smtp/ (not by domain, not through a relayhost) and waits until the mail
 * system is started; then it lands in the inbox Maildir with Return-Path:,
 * Delivered-To: and Received: on top and is `delivered` 2.0.0, while the
 * remote recipient of the same message is still smtp/'s. TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "lib/conf.h"
#include "lib/strv.h"
#include "queue/maildir.h"
#include "queue/qlog.h"
#include "queue/queue.h"
#include "tests/tap.h"

static const char trace[] = "Return-Path: <a@mailfs.test>\n"
    "Delivered-To: U@MAILFS.TEST\n"
    "Received: by mailfs.test (mailfs) with local id ";

static const char mixed[] = "From: a@mailfs.test\nTo: U@MAILFS.TEST, "
    "r@remote.test\nSubject: mixed\n\nhello\n";

/* The status file of queue/ or sent/ entry id ("" if none). */
static char *
status(const char *id)
{
	static char out[4096];
	enum queue_where w;
	char *buf;
	size_t len;

	out[0] = '\0';
	for (w = QUEUE_QUEUE; w <= QUEUE_SENT; w++)
		if (queue_render(w, id, "status", &buf, &len, NULL) == 0) {
			snprintf(out, sizeof(out), "%.*s", (int)len, buf);
			free(buf);
			break;
		}
	return out;
}

static int
slurp_inbox(char *out, size_t size)
{
	char path[PATH_MAX], **ids;
	size_t n, len = 0;
	FILE *f;

	if (maildir_list(&ids, &n) != 0 || n != 1 ||
	    maildir_path(ids[0], path) != 0 || (f = fopen(path, "r")) == NULL) {
		if (n > 0)
			strv_free(ids, n);
		return -1;
	}
	len = fread(out, 1, size - 1, f);
	out[len] = '\0';
	fclose(f);
	strv_free(ids, n);
	return 0;
}

int
main(void)
{
	struct queue_job *jobs[8];
	struct conf c;
	char spool[64], err[256], id[QUEUE_ID_MAX], raw[4096], cmd[128];
	time_t next;
	size_t k;
	int i;

	g_mime_init();
	snprintf(spool, sizeof(spool), "/tmp/local_test.XXXXXX");
	if (mkdtemp(spool) == NULL)
		return 1;
	conf_init_defaults(&c);
	conf_set(&c, "spool", spool, err, sizeof(err));
	conf_set(&c, "hostname", "mailfs.test", err, sizeof(err));
	conf_set(&c, "domains", "mailfs.test,other.test", err, sizeof(err));
	ok(qlog_open(spool) == 0 && queue_open(&c) == 0, "queue_open");
	ok(queue_submit(mixed, strlen(mixed), "mixed", NULL, id) == 0,
	    "a message to a local and a remote recipient is queued");

	k = queue_take_due(time(NULL), jobs, 8, &next);
	ok(k == 1 && jobs[0]->nrcpt == 1 &&
	    strcmp(jobs[0]->rcpts[0], "r@remote.test") == 0,
	    "smtp/ gets only the remote recipient");
	ok(strstr(status(id), "U@MAILFS.TEST queued ") != NULL,
	    "the local one waits, queued, for the mail system");
	queue_report(jobs[0], "r@remote.test", 4, "4.4.1", "refused", NULL);
	queue_job_done(jobs[0]);

	conf_set(&c, "relayhost", "127.0.0.1:2525", err, sizeof(err));
	queue_flush();
	k = queue_take_due(time(NULL), jobs, 8, &next);
	ok(k == 1 && jobs[0]->domain == NULL && jobs[0]->nrcpt == 1 &&
	    strcmp(jobs[0]->rcpts[0], "r@remote.test") == 0,
	    "through a relayhost too, the local recipient stays ours");
	ok(queue_take_due(time(NULL), jobs + 1, 7, &next) == 0 && next == 0,
	    "and is not counted as due work for smtp/");

	ok(maildir_open(spool, "mailfs.test") == 0 && queue_local_start() == 0,
	    "the mail system starts");
	for (i = 0; i < 4000 && !strstr(status(id), "U@MAILFS.TEST delivered");
	    i++)
		usleep(1000);
	ok(strstr(status(id), "U@MAILFS.TEST delivered 1 - 2.0.0 delivered "
	    "to inbox as ") != NULL, "the local recipient: delivered 2.0.0");
	ok(strstr(status(id), "r@remote.test sending ") != NULL,
	    "the remote one is still smtp/'s");
	ok(maildir_count() == 1 && slurp_inbox(raw, sizeof(raw)) == 0 &&
	    strncmp(raw, trace, strlen(trace)) == 0 &&
	    strstr(raw, "\nSubject: mixed\n") && strstr(raw, "\n\nhello\n") &&
	    strchr(raw, '\r') == NULL,
	    "in the Maildir: trace fields on top, LF line ends");
	queue_report(jobs[0], "r@remote.test", 2, "2.0.0", "250 ok", "mx");
	queue_job_done(jobs[0]);
	for (i = 0; i < 4000 && queue_lookup(QUEUE_SENT, id, NULL) != 0; i++)
		usleep(1000);
	ok(queue_lookup(QUEUE_SENT, id, NULL) == 0, "both done: sent/");

	queue_local_stop();
	maildir_close();
	queue_close();
	qlog_close();
	conf_free(&c);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", spool);
	if (tap_failed == 0 && system(cmd) != 0)
		return 1;
	g_mime_shutdown();
	return tap_done();
}
