/* SPDX-License-Identifier: MIT */
/*
 * agent/ internals shared by its files and its unit tests.
 */
#ifndef XPROF_AGENT_INT_H
#define XPROF_AGENT_INT_H

#include <stdbool.h>
#include <stdint.h>

/* Is name a sink name the spool can put in a file name: 1..31 of [A-Za-z0-9_-]? */
bool ag_sink_name_ok(const char *name);

/*
 * The delay before retry number attempts (1 = the first retry): the base
 * doubled per attempt up to the cap, drawn uniformly in [d/2, d] from *rng
 * (xorshift64*, advanced).
 */
uint64_t ag_backoff_ms(unsigned attempts, uint64_t *rng);

/* "20261206T231000Z" for Unix seconds t (UTC) into buf of at least 17 bytes. */
void ag_time_name(char *buf, uint64_t t);

/*
 * The Pyroscope /ingest URL for window w into a malloc'ed string, or NULL
 * with errno (ENOMEM). Exposed for the unit tests.
 */
struct ag_push_opts;
struct ag_window;
char *ag_push_url(const struct ag_push_opts *o, const struct ag_window *w);

#endif /* XPROF_AGENT_INT_H */
