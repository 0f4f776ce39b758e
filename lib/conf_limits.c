/*
 * conf_limits.c - the settings that bound sizes and work (mailfs.conf(5)):
 *
 *	max_size = 25M		the largest message accepted
 *	concurrency = 20	delivery connections at once
 *	min_free = 100M|5%	free spool space kept for accepted mail
 *
 * API: conf_set_limits and conf_min_free in lib/conf.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/conf.h"

/* min_free: "0" (off), a size, or a percentage of the file system. */
static int
set_min_free(struct conf *c, const char *value, char *err, size_t errlen)
{
	char *end;
	unsigned long pct;
	size_t sz;

	if (isdigit((unsigned char)value[0]) &&
	    (pct = strtoul(value, &end, 10)) <= 100 && strcmp(end, "%") == 0) {
		c->min_free = (size_t)-1;
		c->min_free_pct = (int)pct;
		return 0;
	}
	if (conf_parse_size(value, &sz) == -1) {
		snprintf(err, errlen, "min_free: '%s' is not a size (a number "
		    "with K, M or G) or a percentage (0%% to 100%%)", value);
		return -1;
	}
	c->min_free = sz;
	c->min_free_pct = 100;
	return 0;
}

int
conf_set_limits(struct conf *c, const char *key, const char *value,
    char *err, size_t errlen)
{
	char *end;
	long v;
	size_t sz;

	if (strcmp(key, "min_free") == 0)
		return set_min_free(c, value, err, errlen);
	if (strcmp(key, "max_size") == 0) {
		if (conf_parse_size(value, &sz) == -1) {
			snprintf(err, errlen, "max_size: '%s' is not a size "
			    "(a number with K, M or G)", value);
			return -1;
		}
		if (sz == 0) {	/* not "no limit": no message would fit */
			snprintf(err, errlen, "max_size: '%s' must be "
			    "greater than zero", value);
			return -1;
		}
		c->max_size = sz;
		return 0;
	}
	if (strcmp(key, "concurrency") == 0) {
		v = strtol(value, &end, 10);
		if (!isdigit((unsigned char)value[0]) || *end != '\0' ||
		    v < 1 || v > 10000) {
			snprintf(err, errlen, "concurrency: '%s' is not a "
			    "number from 1 to 10000", value);
			return -1;
		}
		c->concurrency = (int)v;
		return 0;
	}
	return 1;
}

/* The smaller of the size and the percentage of total: 100M or 5 % by
 * default, whichever is smaller. Read while SIGHUP may change them. */
unsigned long long
conf_min_free(const struct conf *c, unsigned long long total)
{
	unsigned long long sz = __atomic_load_n(&c->min_free, __ATOMIC_RELAXED);
	unsigned long long pct = (unsigned long long)__atomic_load_n(
	    &c->min_free_pct, __ATOMIC_RELAXED) * (total / 100);

	return sz < pct ? sz : pct;
}
