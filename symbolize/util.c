// SPDX-License-Identifier: MIT
/*
 * Small containers shared by symbolize/: the session arena (chunks that never
 * move, so frames and names handed out stay valid), the string blob used
 * while building tables, and the address -> frames cache that makes repeated
 * lookups of one address a single hash probe; and a whole-file reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolize/symbolize_int.h"

struct sym_arena_chunk {
	struct sym_arena_chunk *prev;
	size_t cap;
	char data[];
};

#define ARENA_CHUNK (64 * 1024)
#define ARENA_FIRST 1024

void *sym_arena_alloc(struct sym_arena *a, size_t size)
{
	size = (size + 15) & ~(size_t)15;
	if (!a->head || a->cap - a->used < size) {
		/*
		 * Chunks double from 1 KiB to 64 KiB: a file's arena (one per
		 * file, most of them holding a few names) stays small.
		 */
		size_t next =
		    a->cap ? (a->cap * 2 < ARENA_CHUNK ? a->cap * 2 : ARENA_CHUNK) : ARENA_FIRST;
		size_t cap = size > next / 4 ? size : next;
		struct sym_arena_chunk *c = malloc(sizeof(*c) + cap);

		if (!c) {
			errno = ENOMEM;
			return NULL;
		}
		c->cap = cap;
		a->bytes += sizeof(*c) + cap;
		if (size > next / 4 && a->head) {
			/* A big block gets a chunk of its own behind the head, so the
			 * head's free space is not wasted. */
			c->prev = a->head->prev;
			a->head->prev = c;
			return c->data;
		}
		c->prev = a->head;
		a->head = c;
		a->used = 0;
		a->cap = cap;
	}
	void *p = a->head->data + a->used;
	a->used += size;
	return p;
}

char *sym_arena_strdup(struct sym_arena *a, const char *str)
{
	size_t len = strlen(str);
	char *p = sym_arena_alloc(a, len + 1);

	if (p)
		memcpy(p, str, len + 1);
	return p;
}

char *sym_arena_printf(struct sym_arena *a, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	if ((size_t)n < sizeof(buf))
		return sym_arena_strdup(a, buf);
	char *p = sym_arena_alloc(a, (size_t)n + 1);
	if (!p)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void sym_arena_release(struct sym_arena *a)
{
	struct sym_arena_chunk *c = a->head;

	while (c) {
		struct sym_arena_chunk *prev = c->prev;

		free(c);
		c = prev;
	}
	a->head = NULL;
	a->used = a->cap = a->bytes = 0;
}

int64_t sym_blob_add(struct sym_blob *b, const char *str, size_t len)
{
	if (b->cap - b->len < len + 1) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap - b->len < len + 1)
			cap *= 2;
		if (cap > UINT32_MAX)
			return -ENOMEM; /* offsets are 32-bit */
		char *buf = realloc(b->buf, cap);

		if (!buf)
			return -ENOMEM;
		b->buf = buf;
		b->cap = cap;
	}
	int64_t off = (int64_t)b->len;

	memcpy(b->buf + b->len, str, len);
	b->buf[b->len + len] = '\0';
	b->len += len + 1;
	return off;
}

static inline size_t cache_hash(uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return (size_t)key;
}

int sym_cache_get(const struct sym_cache *c, uint64_t addr, const void **val)
{
	if (addr == UINT64_MAX) {
		if (c->top.n)
			*val = c->top.val;
		return c->top.n;
	}
	if (!c->slots)
		return 0;
	uint64_t key = addr + 1;

	for (size_t i = cache_hash(key) & c->mask;; i = (i + 1) & c->mask) {
		const struct sym_cache_slot *sl = &c->slots[i];

		if (sl->key == key) {
			*val = sl->val;
			return sl->n;
		}
		if (!sl->key)
			return 0;
	}
}

/* True if the key is new (a slot was taken). */
static bool cache_insert(struct sym_cache_slot *slots, size_t mask, const struct sym_cache_slot *in)
{
	size_t i = cache_hash(in->key) & mask;

	while (slots[i].key && slots[i].key != in->key)
		i = (i + 1) & mask;
	bool fresh = !slots[i].key;

	slots[i] = *in;
	return fresh;
}

int sym_cache_put(struct sym_cache *c, uint64_t addr, const void *val, int n)
{
	if (addr == UINT64_MAX) {
		c->top = (struct sym_cache_slot){.key = 0, .val = val, .n = n};
		return 0;
	}
	/* Keep the load under 1/2 so probes stay short. */
	if (!c->slots || (c->used + 1) * 2 > c->mask + 1) {
		size_t nslots = c->slots ? (c->mask + 1) * 2 : 1024;
		struct sym_cache_slot *slots = calloc(nslots, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		if (c->slots) {
			for (size_t i = 0; i <= c->mask; i++)
				if (c->slots[i].key)
					cache_insert(slots, nslots - 1, &c->slots[i]);
			free(c->slots);
		}
		c->slots = slots;
		c->mask = nslots - 1;
	}
	struct sym_cache_slot sl = {.key = addr + 1, .val = val, .n = n};

	if (cache_insert(c->slots, c->mask, &sl))
		c->used++;
	return 0;
}

void sym_cache_release(struct sym_cache *c)
{
	free(c->slots);
	c->slots = NULL;
	c->mask = c->used = 0;
	c->top.n = 0;
}

/* Files of /proc report size 0: read until EOF, doubling the buffer. */
char *sym_read_file(const char *path, size_t *lenp)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		cap = (size_t)st.st_size + 1;
	if (cap < 4096)
		cap = 4096;
	for (;;) {
		if (len == cap || !buf) {
			size_t ncap = buf ? cap * 2 : cap;
			char *nb = ncap > ((size_t)1 << 31) ? NULL : realloc(buf, ncap);

			if (!nb) {
				free(buf);
				close(fd);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + len, cap - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			free(buf);
			close(fd);
			errno = e;
			return NULL;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	*lenp = len;
	return buf;
}
