/*
 * sendmail.c - main of ./sendmail and ./mailq, one program (mailq is
 * sendmail -bp), for the programs that hand mail to sendmail(8): cron,
 * mail(1), mutt, git send-email, PHP's mail().
 *
 *	sendmail [-t] [-i] [-oi] [-f ADDR] [-F NAME] [-C FILE] [-bm|-bp] [-v]
 *	    [RCPT...]
 *	mailq [-C FILE]
 *
 * It never talks to the daemon: the message, checked by the queue's own
 * parser, is written durably into SPOOL/maildrop with its envelope
 * (queue/maildrop.h) and the daemon's pickup thread queues it, now or at
 * its next start. mailq reads the spool's state files (queue/mailq.h).
 * Options are Postfix's: the historical ones it ignores are ignored here.
 *
 * Exit status (sysexits.h): 0 once the message is fsync'd in maildrop/;
 * 64 usage (no recipients), 65 a message the queue would refuse (the
 * reason on stderr), 74 unreadable input, 75 the spool cannot take it
 * now, 77 the caller may not submit (not in `group`), 78 bad settings.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sysexits.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "lib/conf.h"
#include "queue/mailq.h"
#include "queue/maildrop.h"

/* Postfix's sendmail option letters; ':' takes an argument. */
#define OPTIONS	"+A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx"

static const char *prog = "sendmail";

static void
die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
die(int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

struct opts {
	const char *cfile, *sender, *fullname;
	int extract, aeof, verbose, mailq;
};

static void
parse_options(int argc, char **argv, struct opts *o)
{
	int ch;

	opterr = 0;
	while (optind < argc) {
		/* -V and -q alone take no argument, unlike -Vxy and -qR */
		if (strcmp(argv[optind], "-V") == 0 ||
		    strcmp(argv[optind], "-q") == 0) {
			if (argv[optind][1] == 'q')
				die(EX_USAGE, "-q: flushing the queue is "
				    "queue/ID/ctl's \"retry\" in mailfs");
			optind++;
			continue;
		}
		if ((ch = getopt(argc, argv, OPTIONS)) == -1)
			break;
		switch (ch) {
		case 'C':
			o->cfile = optarg;
			break;
		case 'F':
			o->fullname = optarg;
			break;
		case 'f':
		case 'r':
			o->sender = optarg;
			break;
		case 'i':
			o->aeof = 0;
			break;
		case 'o':
			if (optarg[0] == 'i')
				o->aeof = 0;
			break;	/* -oem, -odi, -o7 ...: ignored */
		case 't':
			o->extract = 1;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'b':
			if (strcmp(optarg, "m") == 0)
				o->mailq = 0;
			else if (strcmp(optarg, "p") == 0)
				o->mailq = 1;
			else
				die(EX_USAGE, "unsupported: -b%s", optarg);
			break;
		case 'q':
			if (optarg[0] >= '0' && optarg[0] <= '9')
				exit(0);	/* a queue run interval */
			die(EX_USAGE, "-q%s is not implemented", optarg);
			break;
		case 'n':
			die(EX_USAGE, "-n option not supported");
			break;
		case '?':
			die(EX_USAGE, "usage: sendmail [-t] [-i] [-f ADDR] "
			    "[-F NAME] [-C FILE] [-bm|-bp] [-v] [RCPT...] "
			    "(bad option -%c)", optopt);
			break;
		default:	/* -B, -N, -R, -X, -L, -h, -e, -m, ...: ignored */
			break;
		}
	}
}

/* All of stdin; with aeof, up to a line holding a single dot. */
static char *
read_input(int aeof, size_t *len)
{
	char *buf = NULL, *line = NULL;
	size_t lcap = 0;
	ssize_t n;
	FILE *f;

	if ((f = open_memstream(&buf, len)) == NULL)
		die(EX_OSERR, "out of memory");
	while ((n = getline(&line, &lcap, stdin)) > 0) {
		if (aeof && (strcmp(line, ".\n") == 0 ||
		    strcmp(line, ".\r\n") == 0 || strcmp(line, ".") == 0))
			break;
		fwrite(line, 1, (size_t)n, f);
	}
	free(line);
	if (ferror(stdin))
		die(EX_IOERR, "reading the message: %s", strerror(errno));
	if (fclose(f) != 0)
		die(EX_OSERR, "out of memory");
	return buf;
}

/* The From: field to add when the message has none: -F or the account's
 * full name, and -f (unless <>) or the login name qualified with
 * hostname. */
static char *
made_from(const struct conf *c, const struct opts *o, const char *login)
{
	const char *addr = o->sender;
	char *name = NULL, *out, *q;
	struct passwd *pw;
	size_t n;

	if (o->fullname != NULL)
		name = strdup(o->fullname);
	else if ((pw = getpwuid(getuid())) != NULL && pw->pw_gecos != NULL)
		name = strndup(pw->pw_gecos, strcspn(pw->pw_gecos, ","));
	if (name == NULL)
		die(EX_OSERR, "out of memory");
	/* a quoted-string: no quote, backslash or control character */
	for (q = name; *q; q++)
		if (*q == '"' || *q == '\\' || (unsigned char)*q < ' ')
			*q = ' ';
	n = addr ? strlen(addr) : 0;
	if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>') {
		addr++;
		n -= 2;
	}
	if (n == 0) {		/* no -f, or the null sender: the login */
		addr = login;
		n = strlen(login);
	}
	if (asprintf(&out, "%s%s%s<%.*s%s%s>", name[0] ? "\"" : "", name,
	    name[0] ? "\" " : "", (int)n, addr,
	    memchr(addr, '@', n) ? "" : "@", memchr(addr, '@', n) ? "" :
	    c->hostname) == -1)
		die(EX_OSERR, "out of memory");
	free(name);
	return out;
}

/*
 * 1: a daemon holds SPOOL/lock, 0: none does, -1: cannot tell. Read from
 * /proc/locks rather than by trying the lock: holding it even briefly
 * could make a mailfs starting at that moment find its spool in use.
 */
static int
daemon_running(const char *spool)
{
	char path[4096], line[256];
	unsigned int maj, min;
	unsigned long ino;
	struct stat st;
	FILE *f;
	int r = 0;

	snprintf(path, sizeof(path), "%s/lock", spool);
	if (stat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((f = fopen("/proc/locks", "re")) == NULL)
		return -1;
	while (!r && fgets(line, sizeof(line), f) != NULL)
		r = sscanf(line, "%*d: FLOCK %*s %*s %*d %x:%x:%lu", &maj, &min,
		    &ino) == 3 && ino == st.st_ino &&
		    makedev(maj, min) == st.st_dev;
	fclose(f);
	return r;
}

static void
no_drop(const struct conf *c, int err)
{
	char grname[64] = "";
	struct group *g;

	if (err == EACCES || err == EPERM) {
		if (c->has_group && (g = getgrgid(c->group)) != NULL)
			snprintf(grname, sizeof(grname), "%s", g->gr_name);
		else if (c->has_group)
			snprintf(grname, sizeof(grname), "%lu",
			    (unsigned long)c->group);
		die(EX_NOPERM, "%s/%s: %s: only root%s%s may submit mail",
		    c->spool, MAILDROP_DIR, strerror(err), grname[0] ?
		    " and members of group " : "", grname);
	}
	if (err == ENOENT)
		die(EX_TEMPFAIL, "%s/%s: %s: mailfs is not running and has "
		    "never run on this spool", c->spool, MAILDROP_DIR,
		    strerror(err));
	die(EX_TEMPFAIL, "%s/%s: %s: try again later", c->spool, MAILDROP_DIR,
	    strerror(err));
}

int
main(int argc, char **argv)
{
	static struct conf conf;
	struct opts o = { .aeof = 1 };
	struct queue_origin qo;
	struct passwd *pw;
	char err[512], name[MAILDROP_NAME_MAX], login[64], *from, *raw;
	char *msg, *file;
	size_t len, mlen, flen;
	int e;

	if ((prog = strrchr(argv[0], '/')) != NULL)
		prog++;
	else
		prog = argv[0];
	o.mailq = strcmp(prog, "mailq") == 0;
	umask(077);	/* the maildrop file is the submitter's alone */
	parse_options(argc, argv, &o);

	conf_init_defaults(&conf);
	if (o.cfile == NULL && access("/etc/mailfs.conf", F_OK) == 0)
		o.cfile = "/etc/mailfs.conf";
	if (o.cfile != NULL && conf_load_file(&conf, o.cfile, err,
	    sizeof(err)) == -1)
		die(EX_CONFIG, "%s", err);

	if (o.mailq) {
		if (optind < argc)
			die(EX_USAGE, "listing the queue takes no recipient");
		if ((e = mailq_print(conf.spool, stdout)) != 0)
			die(e == EACCES ? EX_NOPERM : EX_TEMPFAIL,
			    "%s/queue: %s", conf.spool, strerror(e));
		conf_free(&conf);
		return 0;
	}
	if (optind == argc && !o.extract)
		die(EX_USAGE, "no recipients (give them as arguments, or -t)");

	if ((pw = getpwuid(getuid())) != NULL)
		snprintf(login, sizeof(login), "%s", pw->pw_name);
	else
		snprintf(login, sizeof(login), "%lu", (unsigned long)getuid());
	raw = read_input(o.aeof, &len);
	from = made_from(&conf, &o, login);
	g_mime_init();
	if (maildrop_add_from(raw, len, from, &msg, &mlen) != 0)
		die(EX_OSERR, "out of memory");
	qo = (struct queue_origin){ .uid = getuid(),
	    .from = o.sender ? o.sender : login, .rcpts = argv + optind,
	    .nrcpt = (size_t)(argc - optind), .header_rcpts = o.extract };
	e = maildrop_prepare(&conf, msg, mlen, &qo, &file, &flen, err,
	    sizeof(err));
	if (e == EINVAL || e == EFBIG)
		die(EX_DATAERR, "message refused: %s", err);
	if (e != 0)
		die(EX_OSERR, "%s", strerror(e));
	if ((e = maildrop_write(conf.spool, file, flen, name)) != 0)
		no_drop(&conf, e);
	if (o.verbose) {
		fprintf(stderr, "%s: written to %s/%s/%s:\n%.*s", prog,
		    conf.spool, MAILDROP_DIR, name,
		    (int)(strstr(file, "\n\n") + 1 - file), file);
		if (daemon_running(conf.spool) == 0)
			fprintf(stderr, "%s: mailfs is not running: the "
			    "message waits in %s/%s for its next start\n",
			    prog, conf.spool, MAILDROP_DIR);
	}
	free(file);
	free(msg);
	free(from);
	free(raw);
	conf_free(&conf);
	g_mime_shutdown();
	return 0;
}
