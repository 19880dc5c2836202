// SPDX-License-Identifier: MIT
/*
 * The one hash function (64-bit FNV-1a, with a final mix for tables) and the
 * one open-addressing table (64-bit keys to 64-bit values, linear probing,
 * backward-shift deletion) the folders of xprof share.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lib.h"

uint64_t xl_fnv1a(const void *p, size_t n, uint64_t h)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

uint64_t xl_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static size_t slot_of(const struct xl_hmap *h, uint64_t key)
{
	return (size_t)xl_mix64(key) & (h->cap - 1);
}

static int hmap_grow(struct xl_hmap *h)
{
	size_t ncap = h->cap ? h->cap * 2 : 256;
	uint64_t *nk = calloc(ncap, sizeof(*nk)), *nv = calloc(ncap, sizeof(*nv));

	if (!nk || !nv) {
		free(nk);
		free(nv);
		return -ENOMEM;
	}
	for (size_t i = 0; i < h->cap; i++) {
		if (!h->keys[i])
			continue;
		size_t j = (size_t)xl_mix64(h->keys[i]) & (ncap - 1);
		while (nk[j])
			j = (j + 1) & (ncap - 1);
		nk[j] = h->keys[i];
		nv[j] = h->vals[i];
	}
	free(h->keys);
	free(h->vals);
	h->keys = nk;
	h->vals = nv;
	h->cap = ncap;
	return 0;
}

bool xl_hmap_get(const struct xl_hmap *h, uint64_t key, uint64_t *val)
{
	if (!h->cap || !key)
		return false;
	for (size_t j = slot_of(h, key);; j = (j + 1) & (h->cap - 1)) {
		if (!h->keys[j])
			return false;
		if (h->keys[j] == key) {
			*val = h->vals[j];
			return true;
		}
	}
}

int xl_hmap_put(struct xl_hmap *h, uint64_t key, uint64_t val)
{
	if (!key)
		return -EINVAL;
	if ((h->n + 1) * 2 > h->cap && hmap_grow(h))
		return -ENOMEM;
	size_t j = slot_of(h, key);
	while (h->keys[j] && h->keys[j] != key)
		j = (j + 1) & (h->cap - 1);
	if (!h->keys[j])
		h->n++;
	h->keys[j] = key;
	h->vals[j] = val;
	return 0;
}

void xl_hmap_del(struct xl_hmap *h, uint64_t key)
{
	size_t i, j;

	if (!h->cap || !key)
		return;
	for (i = slot_of(h, key);; i = (i + 1) & (h->cap - 1)) {
		if (!h->keys[i])
			return;
		if (h->keys[i] == key)
			break;
	}
	for (j = (i + 1) & (h->cap - 1); h->keys[j]; j = (j + 1) & (h->cap - 1)) {
		size_t home = slot_of(h, h->keys[j]);

		/* Move j back into the hole at i unless its home lies in (i, j]. */
		if (((j - home) & (h->cap - 1)) >= ((j - i) & (h->cap - 1))) {
			h->keys[i] = h->keys[j];
			h->vals[i] = h->vals[j];
			i = j;
		}
	}
	h->keys[i] = 0;
	h->n--;
}

void xl_hmap_clear(struct xl_hmap *h)
{
	/* A large one is freed rather than kept at its peak size. */
	if (h->cap > 4096) {
		xl_hmap_release(h);
		return;
	}
	if (h->cap)
		memset(h->keys, 0, h->cap * sizeof(*h->keys));
	h->n = 0;
}

void xl_hmap_release(struct xl_hmap *h)
{
	free(h->keys);
	free(h->vals);
	memset(h, 0, sizeof(*h));
}
