// SPDX-License-Identifier: MIT
/*
 * The call tree the flamegraph (svg.c) and the diff (diff.c) merge stacks
 * into: nodes keyed by (parent, key), found through an open-addressing
 * index so a stack of depth d costs d probes whatever the tree's size. The
 * writers keep their own node types, each starting with a struct
 * rep_ctree_node, so the counts they add up (one side or two) stay plain
 * fields next to the tree's links.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "report/report_int.h"

static struct rep_ctree_node *node_at(void *v, size_t elem, uint32_t i)
{
	return (struct rep_ctree_node *)((char *)v + (size_t)i * elem);
}

static uint32_t child_hash(uint32_t parent, uint32_t key)
{
	uint64_t h = ((uint64_t)parent << 32 | key) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(h >> 32) ^ (uint32_t)h;
}

/* Double the index (1024 slots first) and reinsert every id by its node's stored hash. */
static int idx_grow(struct rep_hidx *idx, void *v, size_t elem)
{
	uint32_t ncap = idx->mask ? (idx->mask + 1) * 2 : 1024, *ns;

	if (!ncap)
		return -ENOMEM;
	ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (uint32_t i = 0; idx->mask && i <= idx->mask; i++) {
		uint32_t id = idx->slots[i], j;

		if (!id)
			continue;
		for (j = node_at(v, elem, id - 1)->hash & (ncap - 1); ns[j];
		     j = (j + 1) & (ncap - 1))
			;
		ns[j] = id;
	}
	free(idx->slots);
	idx->slots = ns;
	idx->mask = ncap - 1;
	return 0;
}

int rep_ctree_root_vec(void **v, size_t *n, size_t *cap, size_t elem)
{
	int err = rep_vec_grow(v, cap, 1, elem);

	if (err)
		return err;
	memset(*v, 0, elem);
	node_at(*v, elem, 0)->parent = REP_NONE;
	*n = 1;
	return 0;
}

int rep_ctree_child_vec(struct rep_hidx *idx, void **v, size_t *n, size_t *cap, size_t elem,
			uint32_t parent, uint32_t key, uint32_t *out)
{
	uint32_t h = child_hash(parent, key), i;
	struct rep_ctree_node *nd;
	int err;

	/* at most half full, so a probe always ends on a free slot */
	if (idx->n + 1 > (idx->mask + 1) / 2) {
		err = idx_grow(idx, *v, elem);
		if (err)
			return err;
	}
	for (i = h & idx->mask; idx->slots[i]; i = (i + 1) & idx->mask) {
		nd = node_at(*v, elem, idx->slots[i] - 1);
		if (nd->parent == parent && nd->key == key) {
			*out = idx->slots[i] - 1;
			return 0;
		}
	}
	/* ids + 1 go in the slots and REP_NONE marks the root's parent */
	if (*n >= REP_NONE - 1)
		return -ENOMEM;
	err = rep_vec_grow(v, cap, *n + 1, elem);
	if (err)
		return err;
	nd = node_at(*v, elem, (uint32_t)*n);
	memset(nd, 0, elem);
	*nd = (struct rep_ctree_node){
	    .parent = parent, .key = key, .depth = node_at(*v, elem, parent)->depth + 1, .hash = h};
	*out = (uint32_t)(*n)++;
	idx->slots[i] = *out + 1;
	idx->n++;
	return 0;
}
