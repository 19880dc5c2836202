// SPDX-License-Identifier: MIT
/*
 * unwind_bench: how fast unw_walk() unwinds, alone, tables warm, one core.
 *
 * Reads a recording (.xprof or perf.data) with xp_recording_read(), keeps
 * every sample (registers and stack copies) and the executable mappings of
 * each process image (a process between two execs; a forked child starts
 * with a copy of its parent's), builds the unwind table of every mapped
 * file and of the vDSO image once, then walks every sample `rounds` times,
 * best of 5 trials (the machine is shared), and prints frames/s, samples/s
 * and ns/frame. Setup is not timed; the
 * timed loop is unw_walk() and the find callback only. (Mappings removed
 * within one image are not tracked: the bench needs plausible, not exact,
 * mappings; xprof report tracks them exactly.)
 *
 * usage: unwind_bench RECORDING [ROUNDS] [NAME]
 * prints: bench: unwind NAME: frames/s: N (R x the 5M frames/s goal) ...
 *        unwind_bench --dump RECORDING
 * prints every sample that did not unwind completely: status, then each
 * frame as file+vaddr with its flags (for looking into why).
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"
#include "recording/recording.h"
#include "unwind/unwind.h"

#define MAX_FRAMES 512
#define TRIALS	   5

struct map {
	uint32_t img; /* process image: index in bench.img_pid */
	struct unw_module um;
	char *path;
	uint64_t pgoff;
	bool vdso;
};

struct sample {
	uint32_t pid, img;
	struct unw_input in;
};

struct bench {
	struct map *maps;
	size_t nmaps, cap_maps;
	struct sample *samples;
	size_t nsamples, cap_samples;
	uint32_t *img_pid; /* pid of each process image */
	size_t nimg, cap_img;
	uint8_t *vdso;
	uint32_t vdso_len;
};

struct proc_view { /* the find callback's ctx: one process's sorted maps */
	const struct map *maps;
	size_t n;
};

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 64;
	return realloc(p, *cap * size);
}

/* A new image for pid (exec, fork, first sight); -ENOMEM. */
static int img_new(struct bench *b, uint32_t pid)
{
	b->img_pid = grow(b->img_pid, &b->cap_img, b->nimg, sizeof(*b->img_pid));
	if (!b->img_pid)
		return -ENOMEM;
	b->img_pid[b->nimg] = pid;
	return (int)b->nimg++;
}

/* The current image of pid, created if there is none; -ENOMEM. */
static int img_of(struct bench *b, uint32_t pid)
{
	for (size_t i = b->nimg; i-- > 0;)
		if (b->img_pid[i] == pid)
			return (int)i;
	return img_new(b, pid);
}

static int add_map(struct bench *b, const struct map *m)
{
	b->maps = grow(b->maps, &b->cap_maps, b->nmaps, sizeof(*b->maps));
	if (!b->maps)
		return -ENOMEM;
	b->maps[b->nmaps] = *m;
	b->maps[b->nmaps].path = strdup(m->path);
	if (!b->maps[b->nmaps].path)
		return -ENOMEM;
	b->nmaps++;
	return 0;
}

/* A forked child's image: a copy of the parent's current maps. */
static int on_fork(struct bench *b, const struct xp_ev_task *t)
{
	int parent, child;
	size_t n = b->nmaps;

	if (t->pid == t->ppid)
		return 0; /* a thread */
	parent = img_of(b, t->ppid);
	child = img_new(b, t->pid);
	if (parent < 0 || child < 0)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (b->maps[i].img != (uint32_t)parent)
			continue;
		struct map m = b->maps[i];

		m.img = (uint32_t)child;
		if (add_map(b, &m))
			return -ENOMEM;
	}
	return 0;
}

static int on_event(void *ctx, const struct xp_event *ev)
{
	struct bench *b = ctx;

	if (ev->type == XP_EV_COMM && ev->comm.exec && ev->comm.pid == ev->comm.tid) {
		return img_new(b, ev->comm.pid) < 0 ? -ENOMEM : 0;
	} else if (ev->type == XP_EV_FORK) {
		return on_fork(b, &ev->task);
	} else if (ev->type == XP_EV_MMAP) {
		const struct xp_ev_mmap *m = &ev->mmap;
		bool vdso = !strcmp(m->path, "[vdso]");

		int img = img_of(b, m->pid);
		struct map nm = {.pgoff = m->pgoff, .vdso = vdso, .path = (char *)m->path};

		if ((m->prot && !(m->prot & PROT_EXEC)) || !m->len || (m->path[0] != '/' && !vdso))
			return 0;
		if (img < 0)
			return -ENOMEM;
		nm.img = (uint32_t)img;
		nm.um.start = m->start;
		nm.um.end = m->start + m->len;
		return add_map(b, &nm);
	} else if (ev->type == XP_EV_VDSO && !b->vdso) {
		b->vdso = malloc(ev->vdso.len);
		if (!b->vdso)
			return -ENOMEM;
		memcpy(b->vdso, ev->vdso.image, ev->vdso.len);
		b->vdso_len = ev->vdso.len;
	} else if (ev->type == XP_EV_SAMPLE) {
		const struct xp_ev_sample *sm = &ev->sample;
		struct sample *s;

		b->samples = grow(b->samples, &b->cap_samples, b->nsamples, sizeof(*b->samples));
		if (!b->samples)
			return -ENOMEM;
		s = &b->samples[b->nsamples];
		memset(s, 0, sizeof(*s));
		s->pid = sm->pid;
		int img = img_of(b, sm->pid);

		if (img < 0)
			return -ENOMEM;
		s->img = (uint32_t)img;
		memcpy(s->in.regs, sm->regs, sizeof(s->in.regs));
		s->in.nsegs = sm->nsegs > 2 ? 2 : sm->nsegs;
		for (unsigned i = 0; i < s->in.nsegs; i++) {
			uint8_t *copy = malloc(sm->segs[i].len ? sm->segs[i].len : 1);

			if (!copy)
				return -ENOMEM;
			memcpy(copy, sm->segs[i].data, sm->segs[i].len);
			s->in.segs[i] =
			    (struct unw_stack_seg){sm->segs[i].start, copy, sm->segs[i].len};
		}
		b->nsamples++;
	}
	return 0;
}

/* vaddr of file offset pgoff by the ELF's PT_LOAD headers; -1 if none holds it. */
static int64_t elf_vaddr_of(Elf *e, uint64_t pgoff)
{
	size_t n;
	GElf_Phdr ph;

	if (elf_getphdrnum(e, &n))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (pgoff >= (ph.p_offset & ~0xfffull) && pgoff < ph.p_offset + ph.p_filesz)
			return (int64_t)(ph.p_vaddr - (ph.p_offset - pgoff));
	}
	return -1;
}

/* Load bias and table of every mapping; files shared by maps share one table. */
static int load_tables(struct bench *b)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	for (size_t i = 0; i < b->nmaps; i++) {
		struct map *m = &b->maps[i];
		int64_t vaddr = -1;
		Elf *e;
		int fd = -1;

		for (size_t j = 0; j < i; j++)
			if (!strcmp(b->maps[j].path, m->path) && b->maps[j].um.table) {
				m->um.table = b->maps[j].um.table;
				break;
			}
		if (m->vdso) {
			if (!b->vdso)
				continue;
			e = elf_memory((char *)b->vdso, b->vdso_len);
			if (!m->um.table)
				m->um.table = unw_table_from_image(b->vdso, b->vdso_len, NULL);
		} else {
			fd = open(m->path, O_RDONLY);
			if (fd < 0)
				continue;
			e = elf_begin(fd, ELF_C_READ, NULL);
			if (!m->um.table)
				m->um.table = unw_table_from_elf(m->path, NULL, NULL);
		}
		if (e)
			vaddr = elf_vaddr_of(e, m->pgoff);
		elf_end(e);
		if (fd >= 0)
			close(fd);
		if (vaddr >= 0)
			m->um.bias = m->um.start - (uint64_t)vaddr;
	}
	return 0;
}

static int cmp_map(const void *a, const void *b)
{
	const struct map *x = a, *y = b;

	if (x->img != y->img)
		return x->img < y->img ? -1 : 1;
	if (x->um.start != y->um.start)
		return x->um.start < y->um.start ? -1 : 1;
	return 0;
}

static const struct unw_module *find(void *ctx, uint64_t addr)
{
	const struct proc_view *v = ctx;
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->maps[mid].um.start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && addr < v->maps[lo - 1].um.end)
		return &v->maps[lo - 1].um;
	return NULL;
}

static struct proc_view view_of(const struct bench *b, uint32_t img)
{
	struct proc_view v = {NULL, 0};

	for (size_t i = 0; i < b->nmaps; i++)
		if (b->maps[i].img == img) {
			if (!v.maps)
				v.maps = &b->maps[i];
			v.n++;
		}
	return v;
}

static void dump_frames(const struct proc_view *v, const struct unw_frame *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		const struct unw_module *um = find((void *)v, f[i].ip);
		const struct map *m =
		    (const struct map *)((const char *)um - offsetof(struct map, um));

		printf("  #%-3u %#18llx %s+%#llx%s%s%s\n", i, (unsigned long long)f[i].ip,
		       um ? m->path : "?", um ? (unsigned long long)(f[i].ip - um->bias) : 0ull,
		       f[i].flags & UNW_FRAME_F_TRAP ? " trap" : "",
		       f[i].flags & UNW_FRAME_F_SIGNAL ? " signal" : "",
		       f[i].flags & UNW_FRAME_F_FP ? " fp" : "");
	}
}

int main(int argc, char **argv)
{
	static struct unw_frame frames[MAX_FRAMES];
	struct bench b = {0};
	struct proc_view *views;
	uint64_t status[UNW_STATUS_NR] = {0}, frames_total = 0, sink = 0;
	const char *why = NULL, *name;
	unsigned rounds;
	double t0, t;
	int err;

	bool dump = argc > 2 && !strcmp(argv[1], "--dump");

	if (argc < 2) {
		fprintf(stderr, "usage: unwind_bench RECORDING [ROUNDS] [NAME]\n"
				"       unwind_bench --dump RECORDING\n");
		return 2;
	}
	if (dump) {
		argv++;
		argc = 2;
	}
	rounds = argc > 2 ? (unsigned)atoi(argv[2]) : 20;
	name = argc > 3 ? argv[3] : argv[1];
	if (!rounds)
		rounds = 1;
	err = xp_recording_read(argv[1], on_event, &b, NULL, &why);
	if (err) {
		fprintf(stderr, "unwind_bench: cannot read '%s': %s\n", argv[1],
			why ? why : strerror(-err));
		return 1;
	}
	if (!b.nsamples) {
		fprintf(stderr, "unwind_bench: '%s' has no samples\n", argv[1]);
		return 1;
	}
	/* Later maps first among equal starts would be better; one program's maps do not overlap.
	 */
	qsort(b.maps, b.nmaps, sizeof(*b.maps), cmp_map);
	load_tables(&b);
	views = calloc(b.nsamples, sizeof(*views));
	if (!views)
		return 1;
	for (size_t i = 0; i < b.nsamples; i++)
		views[i] = (i && b.samples[i].img == b.samples[i - 1].img)
			       ? views[i - 1]
			       : view_of(&b, b.samples[i].img);

	/* One untimed round: statistics, and warm caches and branch predictors. */
	for (size_t i = 0; i < b.nsamples; i++) {
		struct unw_result res;

		unw_walk(&b.samples[i].in, find, &views[i], frames, MAX_FRAMES, &res);
		status[res.status]++;
		frames_total += res.nframes;
		if (dump && res.status != UNW_OK_COMPLETE) {
			const struct unw_input *in = &b.samples[i].in;

			printf("sample %zu pid %u: %s, %u frames, sp %#llx, copy %u bytes", i,
			       b.samples[i].pid, unw_status_name(res.status), res.nframes,
			       (unsigned long long)in->regs[7], in->nsegs ? in->segs[0].len : 0);
			if (in->nsegs > 1)
				printf(", second segment %#llx %u bytes",
				       (unsigned long long)in->segs[1].start, in->segs[1].len);
			printf("\n");
			dump_frames(&views[i], frames, res.nframes);
		}
	}
	if (dump)
		return 0;
	/*
	 * The best of TRIALS timed runs: the machine is shared, and the
	 * fastest run is the one least disturbed by other work.
	 */
	t = 0;
	for (int trial = 0; trial < TRIALS; trial++) {
		sink = 0;
		t0 = bench_now_s();
		for (unsigned r = 0; r < rounds; r++)
			for (size_t i = 0; i < b.nsamples; i++) {
				struct unw_result res;

				unw_walk(&b.samples[i].in, find, &views[i], frames, MAX_FRAMES,
					 &res);
				sink += res.nframes;
			}
		t0 = bench_now_s() - t0;
		if (!trial || t0 < t)
			t = t0;
	}
	if (sink != frames_total * rounds) {
		fprintf(stderr, "unwind_bench: walks are not repeatable\n");
		return 1;
	}

	double fps = (double)sink / t, sps = (double)b.nsamples * rounds / t;

	printf("bench: unwind %s: %zu samples, %.1f frames/sample, complete %.1f%%", name,
	       b.nsamples, (double)frames_total / (double)b.nsamples,
	       100.0 * (double)status[UNW_OK_COMPLETE] / (double)b.nsamples);
	for (int s = 1; s < UNW_STATUS_NR; s++)
		if (status[s])
			printf(", %s %.1f%%", unw_status_name(s),
			       100.0 * (double)status[s] / (double)b.nsamples);
	printf("\n");
	printf("bench: unwind %s frames/s: %.2fM (%.2fx the 5M frames/s goal)\n", name, fps / 1e6,
	       fps / 5e6);
	printf("bench: unwind %s samples/s: %.2fM (%.0f ns/sample)\n", name, sps / 1e6, 1e9 / sps);
	printf("bench: unwind %s ns/frame: %.1f (goal <= 200)\n", name, 1e9 / fps);
	return 0;
}
