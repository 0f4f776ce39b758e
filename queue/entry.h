/*
 * entry.h - one queue entry in memory and its state file (private to
 * queue/). entry.c builds, frees, serializes and parses entries; queue.c
 * owns them, their index and their locking.
 */
#ifndef MAILFS_ENTRY_H
#define MAILFS_ENTRY_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "queue/dueheap.h"
#include "queue/queue.h"
#include "queue/queue_int.h"

struct rcpt {
	char *addr;
	char *domain;		/* lower case; may point into addr */
	char *text;		/* last reply or error, NULL none */
	char *relay;		/* who gave it, NULL unknown (not kept) */
	time_t next;		/* queued/deferred: when due */
	char code[16];		/* last enhanced status code, "" none */
	enum queue_rcpt_state state;
	enum queue_rcpt_state before;	/* while sending: the state to persist */
	int attempts;
	unsigned notified:1;	/* failed and its sender told (bounce.c) */
	unsigned domain_own:1;	/* domain is its own allocation */
};

/* One entry of queue/, sent/ or failed/; queue.c owns the locking. A
 * queue with 100,000 entries keeps them all in memory: keep it small. */
struct msg {
	/* Packed: small fields together, no holes (a 100,000-entry queue). */
	char id[QUEUE_ID_LEN + 1];
	enum queue_where where;
	uid_t uid;		/* who submitted it; (uid_t)-1: unknown */
	int refs;		/* the index holds one */
	unsigned eightbit:1;
	unsigned warned:1;	/* a delay warning went to the sender */
	unsigned gone:1;	/* no longer in the index */
	unsigned pending:1;	/* waiting for the writer thread */
	unsigned dirty:1;	/* its last state write failed: retried */
	unsigned has_crc:1;	/* crc known (entries of older versions: no) */
	uint32_t crc;		/* CRC-32 of the message file (queue_int.h) */
	char *from;		/* "" for <> */
	char *name;
	time_t arrival;
	time_t done;		/* when it moved to sent/ or failed/ */
	size_t size;
	struct rcpt *r;
	size_t nr;
	/* its places in the due heaps, by enum due_route (queue/due.c) */
	struct dueheap_node due[2];
	pthread_mutex_t wmu;
};

struct msg *entry_new(const char *id);
void	entry_free(struct msg *m);
/* Add a recipient, queued and due at m->arrival. 0 or ENOMEM. */
int	entry_add_rcpt(struct msg *m, const char *addr);
const char *entry_state_name(enum queue_rcpt_state st);
/*
 * The state file: "mailfs-state 1", then `key value` lines (from, name,
 * uid, arrival, done, size, eightbit, crc32 as 8 hex digits; uid absent
 * when unknown, crc32 in files older versions wrote) and one
 * line per recipient, `rcpt ADDR STATE ATTEMPTS NEXT CODE TEXT`, then
 * `notified ADDR` for each failed recipient whose sender was told, `warned
 * 1` once a delay warning went out (older files have neither); values are
 * %XX-encoded
 * (octets <= 0x20, 0x7f and '%'), "-" stands for empty. A recipient being
 * sent is written in the state it had before, so after a crash it is
 * simply tried again. entry_serialize returns a malloc'd text or NULL;
 * entry_parse fills a new entry from text (modified), -1 if it is not a
 * state file.
 */
/* The uid as the envelope file and the log show it: "-" when unknown. */
void	entry_format_uid(uid_t uid, char *buf, size_t len);
char	*entry_serialize(const struct msg *m, size_t *len);
int	entry_parse(struct msg *m, char *text);

#endif
