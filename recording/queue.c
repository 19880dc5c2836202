// SPDX-License-Identifier: MIT
/*
 * A sink that runs its consumer on a thread of its own. The live capture
 * must drain its rings every round or the kernel drops samples, while the
 * report pipeline may spend seconds on one event (the first mmap of a file
 * builds its unwind table and symbol index). Between the two sits a bounded
 * queue of events encoded as .xprof records (xpf_encode, decoded again with
 * xpf_decode: what the consumer sees is what a reader of the file would).
 *
 * The producer fills a private chunk and publishes it when full (or at the
 * end); the consumer takes published chunks in order. Chunks are reused, so
 * the steady state calls no malloc. When max_bytes are published and not yet
 * consumed the producer waits (counted as a stall): memory stays bounded and
 * the capture's own ring buffer absorbs the rest.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "recording/xprof_file.h"

/*
 * Small enough that the consumer starts early and the producer refills the
 * chunks it hands back while they are still in the cache (fresh 4 MiB
 * chunks cost a page fault per 4 KiB); a larger record gets a chunk its size.
 */
#define CHUNK_BYTES (256u << 10)

struct chunk {
	struct chunk *next;
	size_t len, cap;
	uint8_t data[];
};

struct xp_queue {
	xp_event_fn fn;
	void *ctx;
	uint32_t frequency;
	size_t max_bytes; /* at least 2 chunks */

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;	   /* published, consumed, or done changed */
	struct chunk *head, *tail; /* published, in order */
	struct chunk *spare;	   /* consumed, for reuse */
	size_t queued;		   /* bytes published and not consumed */
	bool done;		   /* the producer publishes no more */
	int err;		   /* fn's first non-zero value */
	uint64_t stalls;

	struct chunk *cur; /* the producer's, unpublished */
};

static struct chunk *chunk_get(struct xp_queue *q, size_t need)
{
	struct chunk *c = NULL;
	size_t cap = need > CHUNK_BYTES ? need : CHUNK_BYTES;

	pthread_mutex_lock(&q->lock);
	if (q->spare && q->spare->cap >= need) {
		c = q->spare;
		q->spare = c->next;
	}
	pthread_mutex_unlock(&q->lock);
	if (!c) {
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
	}
	c->next = NULL;
	c->len = 0;
	return c;
}

/* Hand the producer's chunk to the consumer; wait while too much is queued. */
static void publish(struct xp_queue *q)
{
	struct chunk *c = q->cur;

	q->cur = NULL;
	if (!c)
		return;
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = c;
	else
		q->head = c;
	q->tail = c;
	q->queued += c->len;
	pthread_cond_broadcast(&q->cond);
	if (q->queued >= q->max_bytes && !q->err)
		q->stalls++;
	while (q->queued >= q->max_bytes && !q->err)
		pthread_cond_wait(&q->cond, &q->lock);
	pthread_mutex_unlock(&q->lock);
}

static void deliver_chunk(struct xp_queue *q, const struct chunk *c, int *err)
{
	for (size_t at = 0; at + sizeof(struct xpf_rec) <= c->len;) {
		struct xpf_rec h;
		struct xp_event ev;
		int n;

		memcpy(&h, c->data + at, sizeof(h));
		n = xpf_decode(c->data + at, h.size, XPF_VERSION, q->frequency, &ev);
		if (n < 0 && !*err)
			*err = n; /* cannot be: the records were encoded here */
		if (n > 0 && !*err)
			*err = q->fn(q->ctx, &ev);
		at += h.size;
	}
}

static void *consumer(void *arg)
{
	struct xp_queue *q = arg;
	int err = 0;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct chunk *c;

		while (!q->head && !q->done)
			pthread_cond_wait(&q->cond, &q->lock);
		c = q->head;
		if (!c)
			break; /* done and drained */
		q->head = c->next;
		if (!q->head)
			q->tail = NULL;
		if (q->err && !err)
			err = q->err; /* xp_queue_free() before the end */
		pthread_mutex_unlock(&q->lock);
		/* After an error the rest is consumed unseen, so the producer never waits for it.
		 */
		deliver_chunk(q, c, &err);
		pthread_mutex_lock(&q->lock);
		if (err && !q->err)
			__atomic_store_n(&q->err, err, __ATOMIC_RELEASE);
		q->queued -= c->len;
		c->next = q->spare;
		q->spare = c;
		pthread_cond_broadcast(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

struct xp_queue *xp_queue_new(xp_event_fn fn, void *ctx, uint32_t frequency, size_t max_bytes)
{
	struct xp_queue *q = calloc(1, sizeof(*q));
	int err;

	if (!q)
		return NULL;
	q->fn = fn;
	q->ctx = ctx;
	q->frequency = frequency;
	q->max_bytes = max_bytes > 2 * CHUNK_BYTES ? max_bytes : 2 * CHUNK_BYTES;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	err = pthread_create(&q->thread, NULL, consumer, q);
	if (err) {
		pthread_cond_destroy(&q->cond);
		pthread_mutex_destroy(&q->lock);
		free(q);
		errno = err;
		return NULL;
	}
	return q;
}

int xp_queue_event(void *queue, const struct xp_event *ev)
{
	struct xp_queue *q = queue;
	size_t need = xpf_encode(ev, NULL, 0);
	int err;

	/* Set once by the consumer under the lock; a late look costs one more event. */
	err = __atomic_load_n(&q->err, __ATOMIC_ACQUIRE);
	if (err)
		return err;
	if (!need)
		return 0; /* a type the format does not carry */
	if (q->cur && q->cur->len + need > q->cur->cap)
		publish(q);
	if (!q->cur) {
		q->cur = chunk_get(q, need);
		if (!q->cur)
			return -ENOMEM;
	}
	xpf_encode(ev, q->cur->data + q->cur->len, need);
	q->cur->len += need;
	return 0;
}

int xp_queue_finish(struct xp_queue *q)
{
	int err;

	if (q->done)
		return q->err;
	publish(q);
	pthread_mutex_lock(&q->lock);
	q->done = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	err = q->err;
	return err;
}

uint64_t xp_queue_stalls(const struct xp_queue *q)
{
	return q->stalls;
}

void xp_queue_free(struct xp_queue *q)
{
	struct chunk *c;

	if (!q)
		return;
	if (!q->done) {
		/* Not finished: the consumer skips the rest (as after an error) and ends. */
		pthread_mutex_lock(&q->lock);
		if (!q->err)
			__atomic_store_n(&q->err, -ECANCELED, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&q->lock);
		xp_queue_finish(q);
	}
	free(q->cur);
	while ((c = q->head)) {
		q->head = c->next;
		free(c);
	}
	while ((c = q->spare)) {
		q->spare = c->next;
		free(c);
	}
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
}
