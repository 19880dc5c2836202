// SPDX-License-Identifier: MIT
/*
 * The labels of every process the agent has met, keyed by pid. They are
 * read when a process first shows up in the event stream, not when its
 * window ends: by then a process that lived 50 ms is long gone. A forked
 * child takes its parent's labels (same cgroup, same executable until it
 * execs), an exec takes its executable from the mmap that follows it, so a
 * short-lived process needs no /proc read at all.
 *
 * Bounded: entries live in one array of cap slots allocated at the start,
 * with a pid → slot hash; an exited process is dropped once the window that
 * could still need it is taken; when the table is full the entry seen
 * longest ago is evicted (an exited one first) and read again should it
 * come back. Only the strings are allocated per process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent_int.h"
#include "lib/lib.h"

struct ag_pidtab {
	struct ag_pid_ent *ents; /* cap slots; pid 0: free */
	size_t cap, used;
	uint32_t *free_slots; /* stack of free slot indexes */
	size_t nfree;
	struct xl_hmap by_pid; /* pid + 1 → slot */
	ag_pid_read_fn rd;
	void *rd_ctx;
	struct ag_pidtab_stats st;
};

int ag_pid_read_proc(void *ctx, uint32_t pid, struct ag_pid_info *out)
{
	struct ag_labels l;
	char path[64];
	ssize_t n;
	int err;

	(void)ctx;
	memset(out, 0, sizeof(*out));
	err = ag_labels_read((pid_t)pid, &l);
	if (err)
		return err;
	memcpy(out->service, l.service, sizeof(out->service));
	memcpy(out->container, l.container, sizeof(out->container));
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, out->exe, sizeof(out->exe));
	if (n <= 0 || (size_t)n >= sizeof(out->exe))
		out->exe[0] = 0; /* a kernel thread, gone, or longer than a label keeps */
	else
		out->exe[n] = 0;
	return 0;
}

struct ag_pidtab *ag_pidtab_new(size_t cap, ag_pid_read_fn rd, void *ctx)
{
	struct ag_pidtab *t = calloc(1, sizeof(*t));

	if (!cap)
		cap = AG_PIDTAB_DEFAULT;
	if (!t)
		goto fail;
	t->cap = cap;
	t->rd = rd;
	t->rd_ctx = ctx;
	t->ents = calloc(cap, sizeof(*t->ents));
	t->free_slots = calloc(cap, sizeof(*t->free_slots));
	if (!t->ents || !t->free_slots)
		goto fail;
	for (size_t i = 0; i < cap; i++)
		t->free_slots[i] = (uint32_t)(cap - 1 - i);
	t->nfree = cap;
	return t;
fail:
	ag_pidtab_free(t);
	errno = ENOMEM;
	return NULL;
}

static void ent_clear(struct ag_pid_ent *e)
{
	free(e->service);
	free(e->container);
	free(e->exe);
	memset(e, 0, sizeof(*e));
}

void ag_pidtab_free(struct ag_pidtab *t)
{
	if (!t)
		return;
	if (t->ents)
		for (size_t i = 0; i < t->cap; i++)
			ent_clear(&t->ents[i]);
	free(t->ents);
	free(t->free_slots);
	xl_hmap_release(&t->by_pid);
	free(t);
}

struct ag_pid_ent *ag_pidtab_get(struct ag_pidtab *t, uint32_t pid)
{
	uint64_t slot;

	if (!xl_hmap_get(&t->by_pid, pid + 1ull, &slot))
		return NULL;
	return &t->ents[slot];
}

static void ent_drop(struct ag_pidtab *t, struct ag_pid_ent *e)
{
	xl_hmap_del(&t->by_pid, e->pid + 1ull);
	ent_clear(e);
	t->free_slots[t->nfree++] = (uint32_t)(e - t->ents);
	t->used--;
}

/* Room for one more: the exited entry that ended first, else the one seen longest ago. */
static void evict_one(struct ag_pidtab *t)
{
	struct ag_pid_ent *best = NULL;

	for (size_t i = 0; i < t->cap; i++) {
		struct ag_pid_ent *e = &t->ents[i];

		if (!e->pid)
			continue;
		if (!best || (e->exited && !best->exited) ||
		    (e->exited == best->exited && e->last_ns < best->last_ns))
			best = e;
	}
	if (best) {
		ent_drop(t, best);
		t->st.evicted++;
	}
}

/* A string copy for an entry: NULL for "" (unknown), -ENOMEM reported through *err. */
static char *dup_label(const char *s, int *err)
{
	char *d;

	if (!s || !*s)
		return NULL;
	d = strdup(s);
	if (!d)
		*err = -ENOMEM;
	return d;
}

/* A fresh entry for pid (replacing a stale one: the pid was reused). NULL: out of memory. */
static struct ag_pid_ent *ent_new(struct ag_pidtab *t, uint32_t pid, uint64_t time_ns)
{
	struct ag_pid_ent *e = ag_pidtab_get(t, pid);
	uint32_t slot;

	if (e) {
		ent_clear(e);
	} else {
		if (!t->nfree)
			evict_one(t);
		slot = t->free_slots[--t->nfree];
		if (xl_hmap_put(&t->by_pid, pid + 1ull, slot)) {
			t->nfree++;
			return NULL;
		}
		e = &t->ents[slot];
		t->used++;
	}
	e->pid = pid;
	e->last_ns = time_ns;
	t->st.added++;
	return e;
}

/* Labels from a read of the process; fields it could not read stay as they were. */
static int ent_read(struct ag_pidtab *t, struct ag_pid_ent *e, bool exe_too)
{
	struct ag_pid_info in;
	int err = 0;

	if (!t->rd || t->rd(t->rd_ctx, e->pid, &in))
		return 0; /* gone already: what was inherited stays */
	free(e->service);
	free(e->container);
	e->service = dup_label(in.service, &err);
	e->container = dup_label(in.container, &err);
	if (exe_too && in.exe[0]) {
		free(e->exe);
		e->exe = dup_label(in.exe, &err);
		e->build_id[0] = 0;
	}
	return err;
}

/* The entry of pid, made and read now if it is new. NULL: out of memory. */
static struct ag_pid_ent *ent_lookup(struct ag_pidtab *t, uint32_t pid, uint64_t time_ns, int *err)
{
	struct ag_pid_ent *e = ag_pidtab_get(t, pid);

	if (e) {
		if (time_ns > e->last_ns)
			e->last_ns = time_ns;
		return e;
	}
	e = ent_new(t, pid, time_ns);
	if (!e) {
		*err = -ENOMEM;
		return NULL;
	}
	*err = ent_read(t, e, true);
	return e;
}

static int on_fork(struct ag_pidtab *t, const struct xp_ev_task *f)
{
	struct ag_pid_ent *parent, *child;
	int err = 0;

	if (f->pid == f->ppid) {
		/* A new thread of a known process: nothing to read. */
		return ent_lookup(t, f->pid, f->time_ns, &err) ? err : -ENOMEM;
	}
	child = ag_pidtab_get(t, f->pid);
	if (child && child->last_ns > f->time_ns)
		return 0; /* delivered after the child's own events (misordered): theirs stand */
	parent = ent_lookup(t, f->ppid, f->time_ns, &err);
	if (!parent)
		return err;
	child = ent_new(t, f->pid, f->time_ns);
	if (!child)
		return -ENOMEM;
	/* ent_new may have evicted, but never the parent: it was just seen. */
	parent = ag_pidtab_get(t, f->ppid);
	if (!parent)
		return ent_read(t, child, true);
	child->service = dup_label(parent->service, &err);
	child->container = dup_label(parent->container, &err);
	child->exe = dup_label(parent->exe, &err);
	child->exe_pending = parent->exe_pending;
	memcpy(child->build_id, parent->build_id, sizeof(child->build_id));
	return err;
}

static int on_exec(struct ag_pidtab *t, const struct xp_ev_comm *c)
{
	struct ag_pid_ent *e;
	int err = 0;

	e = ent_lookup(t, c->pid, c->time_ns, &err);
	if (!e)
		return err;
	if (err)
		return err;
	/* The new image's mappings come after the exec: its first file mapping is the program. */
	free(e->exe);
	e->exe = NULL;
	e->build_id[0] = 0;
	e->exe_pending = true;
	e->exited = false;
	e->gen = 0; /* its labels change: a label set cached for them is stale */
	return ent_read(t, e, false);
}

static void hex(char *out, const uint8_t *id, uint32_t len)
{
	static const char digits[] = "0123456789abcdef";

	if (len > XP_BUILD_ID_MAX)
		len = XP_BUILD_ID_MAX;
	for (uint32_t i = 0; i < len; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
	}
	out[2 * len] = 0;
}

static int on_mmap(struct ag_pidtab *t, const struct xp_ev_mmap *m)
{
	struct ag_pid_ent *e;
	int err = 0;

	e = ent_lookup(t, m->pid, m->time_ns, &err);
	if (!e || err)
		return err;
	if (m->path[0] != '/' || m->path[1] == '/')
		return 0; /* [vdso], //anon (perf's name for anonymous code): not a program */
	if (e->exe_pending) {
		if (strlen(m->path) >= AG_EXE_MAX)
			return 0;
		e->exe = dup_label(m->path, &err);
		e->exe_pending = false;
		hex(e->build_id, m->build_id, m->build_id_len);
		e->gen = 0;
	} else if (!e->build_id[0] && e->exe && !strcmp(e->exe, m->path)) {
		hex(e->build_id, m->build_id, m->build_id_len);
		e->gen = 0;
	}
	return err;
}

int ag_pidtab_event(struct ag_pidtab *t, const struct xp_event *ev)
{
	struct ag_pid_ent *e;
	int err = 0;

	switch (ev->type) {
	case XP_EV_SAMPLE:
		if (!ev->sample.pid)
			return 0; /* the idle task */
		e = ent_lookup(t, ev->sample.pid, ev->sample.time_ns, &err);
		return e ? err : -ENOMEM;
	case XP_EV_MMAP:
		return on_mmap(t, &ev->mmap);
	case XP_EV_COMM:
		if (ev->comm.exec)
			return on_exec(t, &ev->comm);
		e = ent_lookup(t, ev->comm.pid, ev->comm.time_ns, &err);
		return e ? err : -ENOMEM;
	case XP_EV_UID:
		e = ent_lookup(t, ev->uid.pid, ev->uid.time_ns, &err);
		return e ? err : -ENOMEM;
	case XP_EV_FORK:
		return on_fork(t, &ev->task);
	case XP_EV_EXIT:
		/* A thread's exit says nothing; the process goes with its leader's. */
		if (ev->task.pid != ev->task.tid)
			return 0;
		e = ag_pidtab_get(t, ev->task.pid);
		if (e) {
			e->exited = true;
			e->exit_ns = ev->task.time_ns;
		}
		return 0;
	default:
		return 0;
	}
}

void ag_pidtab_expire(struct ag_pidtab *t, uint64_t end_ns, uint64_t grace_ns)
{
	for (size_t i = 0; i < t->cap; i++) {
		struct ag_pid_ent *e = &t->ents[i];
		uint64_t last;

		if (!e->pid || !e->exited)
			continue;
		/* A leader that called pthread_exit() exits first and is sampled on. */
		last = e->last_ns > e->exit_ns ? e->last_ns : e->exit_ns;
		if (last + grace_ns <= end_ns) {
			ent_drop(t, e);
			t->st.expired++;
		}
	}
}

void ag_pidtab_get_stats(const struct ag_pidtab *t, struct ag_pidtab_stats *st)
{
	*st = t->st;
	st->entries = t->used;
}
