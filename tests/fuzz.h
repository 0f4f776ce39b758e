/*
 * fuzz.h - what the libFuzzer harnesses (X_fuzz.c) share: GLib made
 * strict, so that a GLib warning or critical from hostile input is a
 * finding, not a line on stderr, and every GLib allocation a plain malloc,
 * so that ASan sees each one. Call fuzz_glib_strict() first thing in
 * LLVMFuzzerInitialize, before g_mime_init().
 */
#ifndef MAILFS_FUZZ_H
#define MAILFS_FUZZ_H

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

static void
fuzz_glib_abort(const gchar *domain, GLogLevelFlags level, const gchar *msg,
    gpointer data)
{
	(void)level;
	(void)data;
	fprintf(stderr, "%s: %s\n", domain ? domain : "glib", msg);
	abort();
}

static inline void
fuzz_glib_strict(void)
{
	setenv("G_SLICE", "always-malloc", 1);
	g_log_set_default_handler(fuzz_glib_abort, NULL);
	g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
}

#endif
