/*
 * mailfs.c - main: settings, wiring, start and stop.
 *
 *	mailfs [-f] [-c FILE] [-o OPTIONS] [SOURCE] MOUNTPOINT
 *	mailfs --help | -h,  mailfs --version | -V
 *
 * mount(8) runs it through mount.fuse3 as `mailfs SOURCE MOUNTPOINT -o
 * OPTIONS`: options may follow the operands, SOURCE (the first field of
 * the fstab line) is ignored, and -o mixes settings with mount options
 * (lib/options.c).
 *
 * Threads: the FUSE session loop (multi-threaded, in main's thread group)
 * serves the tree; one event thread runs libevent for delivery, the
 * listener and periodic chores; a pickup thread queues what sendmail(8)
 * leaves in SPOOL/maildrop. Both sides meet only in queue/.
 *
 * Exit status: 0 after a clean unmount or SIGTERM/SIGINT, 64 usage,
 * 78 a bad setting (one line on stderr), 73 an unusable spool, 1 other
 * failures to start.
 */
#define FUSE_USE_VERSION 34

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <fuse_lowlevel.h>
#include <netdb.h>
#include <gmime/gmime.h>
#include <netinet/in.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs.h"
#include "lib/conf.h"
#include "lib/log.h"
#include "lib/options.h"
#include "lib/passwd.h"
#include "queue/maildir.h"
#include "queue/pickup.h"
#include "queue/qlog.h"
#include "queue/queue.h"
#include "smtp/deliver.h"
#include "smtp/server.h"

#define EX_USAGE	64
#define EX_CANTCREAT	73
#define EX_CONFIG	78
#define CHORE_INTERVAL	60	/* seconds between expiry sweeps */

/* Both passes over the arguments (options, then -o after the file) read
 * them the same way. The leading '-' hands operands over in order (code
 * 1), so options after them count even under POSIXLY_CORRECT. */
static const char short_opts[] = "-fc:o:Vh";
static const struct option long_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: mailfs [-f] [-c FILE] [-o KEY=VALUE|MOUNTOPT[,...]] "
	    "[SOURCE] MOUNTPOINT\n       mailfs --help | -h\n"
	    "       mailfs --version | -V\nSee mailfs(8) and mailfs.conf(5).\n");
}

static _Noreturn void
die_config(const char *msg)
{
	fprintf(stderr, "mailfs: %s\n", msg);
	exit(EX_CONFIG);
}

/* mkdir -p, mode 0700: the spool holds other people's mail. */
static int
mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return errno = ENAMETOOLONG, -1;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0700) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/*
 * check_listen - bind each listen, submission and submissions address
 * (and lmtp's host:port) once before mounting, so that a port in use or
 * an address not on this host is reported on the terminal with a failing
 * exit status, not only to syslog after daemonizing. Names resolve as smtp/server.c resolves
 * them, and each address is tried.
 */
static int
check_addrs(const struct conf_addr *a, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++) {
		struct addrinfo hints, *res, *ai;
		char port[16];
		int rc;

		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		snprintf(port, sizeof(port), "%d", a[i].port);
		if ((rc = getaddrinfo(a[i].host, port, &hints,
		    &res)) != 0) {
			fprintf(stderr, "mailfs: %s %s:%s: %s\n", key,
			    a[i].host, port, gai_strerror(rc));
			return -1;
		}
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			int fd, one = 1, ok;

			if ((fd = socket(ai->ai_family, ai->ai_socktype, 0)) == -1)
				break;
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (ai->ai_family == AF_INET6)
				setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				    sizeof(one));
			ok = bind(fd, ai->ai_addr, ai->ai_addrlen) == 0;
			close(fd);
			if (!ok)
				break;
		}
		if (ai != NULL)
			fprintf(stderr, "mailfs: %s %s:%s: %s\n", key,
			    a[i].host, port, strerror(errno));
		freeaddrinfo(res);
		if (ai != NULL)
			return -1;
	}
	return 0;
}

static int
check_listen(const struct conf *c)
{
	return check_addrs(c->listen, c->nlisten, "listen") == -1 ||
	    check_addrs(c->submission, c->nsubmission, "submission") == -1 ||
	    check_addrs(c->submissions, c->nsubmissions, "submissions") == -1 ||
	    check_addrs(&c->lmtp, c->lmtp.port != 0, "lmtp") == -1 ? -1 : 0;
}

/* spool_lock - SPOOL/lock, held (flock) for the daemon's life; -1 told. */
static int
spool_lock(const char *spool)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/lock", spool);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		fprintf(stderr, "mailfs: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		fprintf(stderr, "mailfs: spool %s: %s\n", spool,
		    errno == EWOULDBLOCK ? "in use by another mailfs" :
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * mount_path - the mount point as libfuse gets it: absolute, as libfuse's
 * own option parser makes it, since unmounting at exit goes by this path;
 * but /dev/fd/N (mount.fuse3's drop_privileges hands over an open
 * /dev/fuse so) as it is, as realpath would turn it into /dev/fuse.
 */
static int
mount_path(const char *arg, char *out)
{
	int fd;
	char end;

	if (sscanf(arg, "/dev/fd/%d%c", &fd, &end) == 1 && fd >= 0) {
		snprintf(out, PATH_MAX, "%s", arg);
		return 0;
	}
	if (realpath(arg, out) == NULL) {
		fprintf(stderr, "mailfs: %s: %s\n", arg, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * stderr_is_journal - with -f under systemd, stderr is the journal, which
 * also gets every syslog line: log to it only once. JOURNAL_STREAM names
 * the stream as "device:inode" (systemd.exec(5)); it is believed only
 * while stderr still is that stream.
 */
static int
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/*
 * settings_load - defaults, then the file, then every -o in order: at
 * start and again on SIGHUP, the same way. 0, or -1 with err set.
 */
static int
settings_load(struct conf *c, const char *cfile, int argc, char **argv,
    char *err, size_t errlen)
{
	int ch;

	conf_init_defaults(c);
	if (cfile != NULL && conf_load_file(c, cfile, err, errlen) == -1)
		return -1;
	for (optind = 1; (ch = getopt_long(argc, argv, short_opts, long_opts,
	    NULL)) != -1; )
		if (ch == 'o' && options_apply(c, optarg, err, errlen) == -1)
			return -1;
	return conf_finish(c, err, errlen);
}

/* What SIGHUP rereads: the same file and -o as at start. */
static struct {
	struct conf *live;
	const char *cfile;
	int argc;
	char **argv;
} reload;

/*
 * hup_cb - SIGHUP, on the event thread (libevent's signal event; it
 * replaces libfuse's handler, which would end the mount). A file that
 * does not load keeps every old setting and says why.
 */
static void
hup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conf fresh;
	char err[512], later[256];

	(void)fd;
	(void)what;
	(void)arg;
	memset(&fresh, 0, sizeof(fresh));
	if (settings_load(&fresh, reload.cfile, reload.argc, reload.argv, err,
	    sizeof(err)) == -1) {
		log_warnx("reload: %s; keeping the settings in use", err);
		qlog_event(NULL, "reload-failed", "file", reload.cfile,
		    "reason", err, NULL);
	} else {
		conf_reload(reload.live, &fresh, later, sizeof(later));
		queue_reload();		/* `domains` may have changed */
		if (passwd_reload(err, sizeof(err)) == -1) {
			/* the users in use stay: none is locked out */
			log_warnx("reload: %s; keeping the users in use", err);
			qlog_event(NULL, "reload-failed", "file",
			    reload.live->passwd, "reason", err, NULL);
		}
		if (later[0] != '\0')
			log_warnx("reload: %s changed: they take effect at the "
			    "next start", later);
		qlog_event(NULL, "reloaded", "file", reload.cfile,
		    "restart_needed", later[0] ? later : NULL, NULL);
	}
	conf_free(&fresh);
}

static void *
event_thread_main(void *arg)
{
	event_base_loop(arg, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static void
chores_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	queue_expire(time(NULL));
}

int
main(int argc, char **argv)
{
	static struct conf conf;	/* static: reachable to the end, for LeakSanitizer */
	char err[512];
	const char *cfile = NULL, *mnt = NULL;
	static char mountpoint[PATH_MAX];
	char *ops[3];
	int foreground = 0, ch, rc = 0, lockfd, nops = 0;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se;
	struct event_base *base;
	struct event *chores, *hup;
	struct timeval every = { CHORE_INTERVAL, 0 };
	pthread_t evthread;
	sigset_t sigs, old;

	/*
	 * With TZ unset, GLib (the Date: of every submission) checks
	 * /etc/localtime again on each local time: naming it once here lets
	 * GLib and glibc keep the zone they loaded. The same zone either way.
	 */
	if (getenv("TZ") == NULL)
		setenv("TZ", ":/etc/localtime", 0);
	while ((ch = getopt_long(argc, argv, short_opts, long_opts,
	    NULL)) != -1) {
		switch (ch) {
		case 'f':
			foreground = 1;
			break;
		case 'c':
			cfile = optarg;
			break;
		case 'o':	/* applied after the file, below */
			break;
		case 'V':
			printf("mailfs %s\n", MAILFS_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case 1:		/* an operand */
			if (nops < 3)
				ops[nops++] = optarg;
			break;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	while (optind < argc && nops < 3)	/* after "--" */
		ops[nops++] = argv[optind++];
	/*
	 * [SOURCE] MOUNTPOINT. SOURCE, the first field of an fstab line, is
	 * ignored whatever it is: mount(8) makes it an absolute path when it
	 * names a file in its working directory, so not even a directory
	 * there says anything.
	 */
	if (nops < 1 || nops > 2) {
		usage(stderr);
		return EX_USAGE;
	}
	mnt = ops[nops - 1];

	if (cfile == NULL && access("/etc/mailfs.conf", F_OK) == 0)
		cfile = "/etc/mailfs.conf";
	if (settings_load(&conf, cfile, argc, argv, err, sizeof(err)) == -1)
		die_config(err);
	if (conf.passwd != NULL && passwd_load(conf.passwd, err,
	    sizeof(err)) == -1)
		die_config(err);
	reload.live = &conf;
	reload.cfile = cfile;
	reload.argc = argc;
	reload.argv = argv;

	if (mount_path(mnt, mountpoint) == -1)
		return 1;

	if (mkdir_p(conf.spool) == -1 || access(conf.spool, W_OK) == -1) {
		fprintf(stderr, "mailfs: spool %s: %s\n", conf.spool,
		    strerror(errno));
		return EX_CANTCREAT;
	}
	/*
	 * One daemon per spool: two would each believe they own every entry.
	 * flock, unlike fcntl locks, stays held across fuse_daemonize's fork.
	 */
	if ((lockfd = spool_lock(conf.spool)) == -1)
		return EX_CANTCREAT;
	if (check_listen(&conf) == -1)
		return 1;

	log_init(foreground && !stderr_is_journal());
	fs_init(&conf);
	/*
	 * default_permissions always: the kernel checks every access against
	 * the modes the tree shows (fs/place.c), so the modes shown are the
	 * modes enforced, for other users under allow_other too. Then the
	 * mount options of -o, which lib/options.c keeps to those libfuse
	 * knows; its own message says what it refuses.
	 */
	if (fuse_opt_add_arg(&args, argv[0]) == -1 ||
	    fuse_opt_add_arg(&args,
	    "-ofsname=mailfs,subtype=mailfs,default_permissions") == -1 ||
	    (conf.mount_opts != NULL &&
	    (fuse_opt_add_arg(&args, "-o") == -1 ||
	    fuse_opt_add_arg(&args, conf.mount_opts) == -1)))
		fatalx("out of memory");
	se = fuse_session_new(&args, fs_ops(), sizeof(struct fuse_lowlevel_ops),
	    NULL);
	fuse_opt_free_args(&args);
	if (se == NULL) {
		fprintf(stderr, "mailfs: cannot start FUSE with options "
		    "'%s'\n", conf.mount_opts ? conf.mount_opts : "");
		return 1;
	}
	fs_session(se);
	if (fuse_set_signal_handlers(se) == -1)
		return 1;
	/* libfuse or fusermount3 has said why (allow_other without
	 * user_allow_other in /etc/fuse.conf, a busy mount point, ...) */
	if (fuse_session_mount(se, mountpoint) == -1) {
		fprintf(stderr, "mailfs: cannot mount %s\n", mountpoint);
		return 1;
	}
	fuse_daemonize(foreground);

	/*
	 * The event thread and the workers that queue_open, deliver_start
	 * and server_start spawn must never take SIGTERM or SIGINT: libfuse's
	 * handler ends the session loop only when it interrupts main or a
	 * FUSE worker.
	 */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	/*
	 * Threads do not survive fuse_daemonize's fork: everything that
	 * starts one (the queue's writer, the listener's workers) opens here.
	 * The FUSE loop has not started, so no request can see it half-open.
	 */
	g_mime_init();
	maildir_set_owner(conf.maildir_uid, conf.maildir_gid, conf.maildir_mode);
	if (qlog_open(conf.spool) == -1 || queue_open(&conf) == -1 ||
	    maildir_open(conf.spool, conf.hostname) == -1 ||
	    queue_local_start() == -1 || pickup_start(&conf) == -1) {
		log_warn("spool %s", conf.spool);
		fuse_session_unmount(se);
		return EX_CANTCREAT;
	}
	evthread_use_pthreads();
	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if (deliver_start(base, &conf) == -1 ||
	    ((conf.nlisten + conf.nsubmission + conf.nsubmissions > 0 ||
	    conf.lmtp_path != NULL || conf.lmtp.port != 0) &&
	    server_start(base, &conf) == -1)) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		rc = 1;
		goto out;
	}
	chores = event_new(base, -1, EV_PERSIST, chores_cb, NULL);
	event_add(chores, &every);
	hup = evsignal_new(base, SIGHUP, hup_cb, NULL);
	if (hup == NULL || event_add(hup, NULL) == -1)
		fatalx("cannot handle SIGHUP");
	if (pthread_create(&evthread, NULL, event_thread_main, base) != 0)
		fatal("pthread_create");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	log_info("started, spool %s", conf.spool);

	/* until unmounted or a signal: a clean stop */
	rc = loop_run(se) < 0;

	event_base_loopexit(base, NULL);
	pthread_join(evthread, NULL);
	event_free(chores);
	event_free(hup);
out:
	server_stop();
	deliver_stop();
	fuse_remove_signal_handlers(se);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	fs_stop();
	event_base_free(base);
	pickup_stop();
	queue_local_stop();
	maildir_close();
	queue_close();
	passwd_close();
	log_info("stopped");
	qlog_close();
	conf_free(&conf);
	close(lockfd);
	return rc;
}
