/*
 * check.c - the integrity of a queued message: its CRC-32 (zlib's),
 * computed once at submission and kept in the state file (entry.h) and in
 * the entry's seal name, and checked where the message is used.
 *
 * Why: a submission makes its message, state and name in queue/ durable
 * in one shared round (queue.c), so a crash before that round ends may
 * leave an entry in queue/ whose files are empty, cut short, zero-filled
 * or stale. Such an entry was never acknowledged: it may be dropped, or
 * sent if it is intact, but never sent damaged. Load already moves aside
 * an entry whose message is not the size its state says (load.c);
 * checking every checksum there would cost the start-up time of a large
 * queue, so the checksum is checked at use instead: before a byte of the
 * message goes to an SMTP peer (smtp/client.c), into the inbox (local.c)
 * or into a report quoting it (bounce.c). An entry that fails is moved
 * to SPOOL/corrupt/ with a log line, never sent. Entries written by older
 * versions have no checksum: they were made durable before they were
 * named, and are trusted as before.
 *
 * The seal, SPOOL/queue/ID/seal-SIZE-CRC, is a second name of the message
 * file (no inode of its own) whose name carries the same two facts: a
 * crash can lose or garble the state, and rebuilding the state from the
 * message (load.c) must not trust a message no seal vouches for. A
 * spare's seal is named plain "seal" (SPARE_SEAL) until its submission
 * renames it.
 *
 * API: check_crc, check_verdict, check_seal_name, check_seal_parse,
 * check_fd, check_find_seal, check_corrupt_dir, check_message,
 * queue_set_aside, queue_message_check (queue_int.h); queue_job_check (queue.h).
 * Diagnostics: log_warnx when an entry is moved aside.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "lib/log.h"
#include "queue/core.h"
#include "queue/queue_int.h"
#include "queue/spare.h"

#define SEAL_PREFIX	"seal-"
#define READ_CHUNK	65536

uint32_t
check_crc(uint32_t crc, const void *p, size_t len)
{
	const unsigned char *b = p;
	uInt n;

	/* zlib takes an unsigned int length */
	while (len > 0) {
		n = len > 1u << 30 ? 1u << 30 : (uInt)len;
		crc = (uint32_t)crc32(crc, b, n);
		b += n;
		len -= n;
	}
	return crc;
}

int
check_verdict(size_t want, int has_crc, uint32_t want_crc, size_t got,
    uint32_t got_crc, char *why, size_t whylen)
{
	if (got != want)
		snprintf(why, whylen, "its message is %zu bytes, its state says "
		    "%zu", got, want);
	else if (has_crc && got_crc != want_crc)
		snprintf(why, whylen, "its message has CRC-32 %08" PRIx32
		    ", its state says %08" PRIx32, got_crc, want_crc);
	else
		return 0;
	return -1;
}

void
check_seal_name(size_t size, uint32_t crc, char name[CHECK_SEAL_MAX])
{
	snprintf(name, CHECK_SEAL_MAX, SEAL_PREFIX "%zu-%08" PRIx32, size, crc);
}

int
check_seal_parse(const char *name, size_t *size, uint32_t *crc)
{
	unsigned long long n;
	const char *p, *dash;
	char *end;

	if (strncmp(name, SEAL_PREFIX, strlen(SEAL_PREFIX)) != 0)
		return -1;
	p = name + strlen(SEAL_PREFIX);
	if ((dash = strchr(p, '-')) == NULL || dash == p ||
	    strspn(p, "0123456789") != (size_t)(dash - p) ||
	    strlen(dash + 1) != 8 ||
	    strspn(dash + 1, "0123456789abcdef") != 8)
		return -1;
	errno = 0;
	n = strtoull(p, &end, 10);
	if (errno != 0 || end != dash || n > SIZE_MAX)
		return -1;
	*size = (size_t)n;
	*crc = (uint32_t)strtoul(dash + 1, NULL, 16);
	return 0;
}

int
check_fd(int fd, size_t *len, uint32_t *crc)
{
	unsigned char *buf;
	uint32_t c = (uint32_t)crc32(0L, Z_NULL, 0);
	off_t off = 0;
	ssize_t n;

	if ((buf = malloc(READ_CHUNK)) == NULL)
		return ENOMEM;
	for (;;) {
		n = pread(fd, buf, READ_CHUNK, off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			n = errno;
			free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		c = check_crc(c, buf, (size_t)n);
		off += n;
	}
	free(buf);
	*len = (size_t)off;
	*crc = c;
	return 0;
}

int
check_find_seal(int dfd, size_t *size, uint32_t *crc)
{
	struct dirent *de;
	DIR *dir;
	int fd, found = -1;

	if ((fd = dup(dfd)) == -1)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	rewinddir(dir);
	while (found != 1 && (de = readdir(dir)) != NULL) {
		if (check_seal_parse(de->d_name, size, crc) == 0)
			found = 1;
		else if (strcmp(de->d_name, SPARE_SEAL) == 0)
			found = 0;
	}
	closedir(dir);
	return found;
}

int
check_corrupt_dir(void)
{
	if (mkdirat(queue.spoolfd, "corrupt", 0750) == -1 && errno != EEXIST)
		return -1;
	return openat(queue.spoolfd, "corrupt", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC);
}

void
queue_set_aside(const char *id, const char *why)
{
	int cfd, err;

	if ((cfd = check_corrupt_dir()) == -1) {
		log_warn("queue/%s: %s; not sent, and cannot move it to "
		    "corrupt/", id, why);
		return;
	}
	err = queue_take_out(QUEUE_QUEUE, id, cfd);
	close(cfd);
	if (err == ENOENT)
		return;		/* gone meanwhile: not sent either */
	if (err) {
		errno = err;
		log_warn("queue/%s: %s; not sent, and cannot move it to "
		    "corrupt/", id, why);
	} else
		log_warnx("queue/%s: %s; not sent, moved to corrupt/", id, why);
}

/* The seal of the entry whose message file is at path, as
 * check_find_seal says. */
static int
seal_of(const char *path, size_t *size, uint32_t *crc)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int dfd, r;

	if (slash == NULL || (size_t)(slash - path) >= sizeof(dir))
		return -1;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = check_find_seal(dfd, size, crc);
	close(dfd);
	return r;
}

int
check_message(const char *path, size_t size, int has_crc,
    uint32_t want_crc, uint32_t got_crc, size_t got, char *why, size_t whylen)
{
	size_t sealsize;
	uint32_t sealcrc;
	int sealed;

	/*
	 * A state without a checksum is an older version's, or a stale one
	 * a crash left in a new entry's file: a new entry has a seal, and
	 * then the seal decides. Only older entries pay this look.
	 */
	if (!has_crc && (sealed = seal_of(path, &sealsize, &sealcrc)) >= 0) {
		if (sealed == 0) {
			snprintf(why, whylen, "its submission was cut short "
			    "(never sealed)");
			return -1;
		}
		size = sealsize;
		has_crc = 1;
		want_crc = sealcrc;
	}
	return check_verdict(size, has_crc, want_crc, got, got_crc, why,
	    whylen);
}

int
queue_message_check(const char *id, const char *path, size_t size,
    int has_crc, uint32_t want_crc, uint32_t got_crc, size_t got)
{
	char why[128];

	if (check_message(path, size, has_crc, want_crc, got_crc, got, why,
	    sizeof(why)) == 0)
		return 0;
	queue_set_aside(id, why);
	return EBADMSG;
}

int
queue_job_check(const struct queue_job *job, int fd)
{
	uint32_t crc;
	size_t len;
	int err;

	if ((err = check_fd(fd, &len, &crc)) != 0)
		return err;
	return queue_message_check(job->id, job->path, job->size,
	    job->has_crc, job->crc, crc, len);
}
