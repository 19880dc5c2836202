// SPDX-License-Identifier: MIT
/*
 * soak_bench: the pipeline's memory over a long run (bench/bench_soak.sh).
 * A synthetic event stream of short-lived processes, each forked from one
 * parent, mapping its own copy of a small binary (the same code under a
 * build-id of its own, so nothing can be shared between them) and the real
 * libc, sampled four times in the binary's functions and exiting 50 ms
 * later, is fed through one session in 1 s windows. After every window the
 * profile is written (folded, to /dev/null) and freed, and the process's
 * resident set size is read; the curve is printed every 30 windows.
 *
 *   soak_bench BINARY LIBC TMPDIR [PROCESSES [WINDOWS [LIMIT_MIB]]]
 *
 * Copies of BINARY go to TMPDIR/bin (128 names, each replaced by rename so a
 * file still mapped keeps its old inode); the caches to TMPDIR/cache. Exits
 * 1 if RSS after the last window is over 110% of RSS after window 60 (or
 * the first tenth) or over 64 MiB.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/pipeline.h"

#define NS	   1000000000ull
#define BASE	   0x555555554000ull /* where every copy is "loaded" */
#define LIBC_BASE  0x7f0000000000ull
#define NSLOTS	   128
#define RSS_MAX_MB 64.0

struct elf_info {
	uint64_t seg_vaddr, seg_off, seg_filesz; /* the executable PT_LOAD */
	uint64_t bid_off;			 /* file offset of the build-id bytes */
	uint32_t bid_len;
	uint8_t bid[XP_BUILD_ID_MAX];
	uint64_t fn[4]; /* leaf, mid, run, main */
};

static int die(const char *what, const char *path)
{
	fprintf(stderr, "soak_bench: %s '%s'\n", what, path);
	exit(2);
}

static void elf_read(const char *path, struct elf_info *in, bool want_fns)
{
	static const char *const names[4] = {"leaf", "mid", "run", "main"};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t nph;

	memset(in, 0, sizeof(*in));
	if (fd < 0)
		die("cannot open", path);
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_getphdrnum(elf, &nph))
		die("not an ELF file:", path);
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
			in->seg_vaddr = ph.p_vaddr;
			in->seg_off = ph.p_offset;
			in->seg_filesz = ph.p_filesz;
		}
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || !(d = elf_getdata(scn, NULL)))
			continue;
		if (sh.sh_type == SHT_NOTE) {
			GElf_Nhdr nh;
			size_t off = 0, noff, doff;

			while ((off = gelf_getnote(d, off, &nh, &noff, &doff)) > 0) {
				if (nh.n_type == NT_GNU_BUILD_ID &&
				    nh.n_descsz <= XP_BUILD_ID_MAX) {
					in->bid_off = sh.sh_offset + doff;
					in->bid_len = nh.n_descsz;
					memcpy(in->bid, (char *)d->d_buf + doff, nh.n_descsz);
				}
			}
		}
		if (want_fns && sh.sh_type == SHT_SYMTAB) {
			for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
				GElf_Sym sym;
				const char *n;

				if (!gelf_getsym(d, (int)i, &sym) ||
				    GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
				    !(n = elf_strptr(elf, sh.sh_link, sym.st_name)))
					continue;
				/* GCC may name them leaf.constprop.0 and the like. */
				for (int k = 0; k < 4; k++) {
					size_t nl = strlen(names[k]);

					if (!strncmp(n, names[k], nl) && (!n[nl] || n[nl] == '.'))
						in->fn[k] = sym.st_value;
				}
			}
		}
	}
	elf_end(elf);
	close(fd);
	if (!in->seg_filesz || !in->bid_len)
		die("no executable segment or build-id in", path);
	for (int k = 0; want_fns && k < 4; k++)
		if (!in->fn[k])
			die("missing function leaf/mid/run/main in", path);
}

static char *read_all(const char *path, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;

	if (fd < 0 || fstat(fd, &st))
		die("cannot read", path);
	buf = malloc((size_t)st.st_size);
	if (!buf || read(fd, buf, (size_t)st.st_size) != st.st_size)
		die("cannot read", path);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* Write the copy for process i under its slot's name, by rename: a mapped old copy stays whole. */
static void write_copy(const char *dir, unsigned i, char *image, size_t len,
		       const struct elf_info *bin, uint8_t *bid, char *path, size_t plen)
{
	char tmp[4300];
	int fd;

	memcpy(bid, bin->bid, bin->bid_len);
	for (int k = 0; k < 4; k++)
		bid[k] ^= (uint8_t)(i >> (8 * k)); /* distinct for every process */
	memcpy(image + bin->bid_off, bid, bin->bid_len);
	snprintf(path, plen, "%s/bin/prog-%u", dir, i % NSLOTS);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (fd < 0 || write(fd, image, len) != (ssize_t)len || close(fd) || rename(tmp, path))
		die("cannot write", tmp);
}

static uint64_t page_down(uint64_t x)
{
	return x & ~0xfffull;
}

static void feed(struct xp_session *s, const struct xp_event *ev)
{
	int err = xp_session_event(s, ev);

	if (err) {
		fprintf(stderr, "soak_bench: event: %s\n", strerror(-err));
		exit(2);
	}
}

static void ev_mmap(struct xp_session *s, uint64_t t, uint32_t pid, uint64_t base,
		    const struct elf_info *in, const uint8_t *bid, const char *path)
{
	struct xp_event ev = {.type = XP_EV_MMAP};
	uint64_t start = base + page_down(in->seg_vaddr);

	ev.mmap = (struct xp_ev_mmap){
	    .time_ns = t,
	    .pid = pid,
	    .tid = pid,
	    .start = start,
	    .len = base + in->seg_vaddr + in->seg_filesz - start,
	    .pgoff = page_down(in->seg_off),
	    .prot = PROT_READ | PROT_EXEC,
	    .path = path,
	};
	if (bid) {
		ev.mmap.build_id_len = in->bid_len;
		memcpy(ev.mmap.build_id, bid, in->bid_len);
	}
	feed(s, &ev);
}

static double rss_mib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size, res = 0;

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (double)res * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct elf_info bin, libc;
	struct xp_session_opts o = {.sym.no_debuginfod = true};
	struct rep_opts ro = {0};
	char cache[4200], path[4200], *image;
	size_t len;
	unsigned nproc, nwin, ref_win;
	double limit_mib, rss_ref = 0, rss = 0, t0;
	FILE *devnull;

	if (argc < 4) {
		fprintf(stderr, "usage: soak_bench BINARY LIBC TMPDIR [PROCESSES [WINDOWS "
				"[LIMIT_MIB]]]\n");
		return 2;
	}
	nproc = argc > 4 ? (unsigned)atoi(argv[4]) : 20000;
	nwin = argc > 5 ? (unsigned)atoi(argv[5]) : 600;
	limit_mib = argc > 6 ? atof(argv[6]) : 16;
	if (!nproc || nwin < 10)
		die("bad counts:", argv[4]);
	ref_win = nwin >= 600 ? 60 : nwin / 10;
	elf_read(argv[1], &bin, true);
	elf_read(argv[2], &libc, false);
	image = read_all(argv[1], &len);
	snprintf(cache, sizeof(cache), "%s/cache", argv[3]);
	snprintf(path, sizeof(path), "%s/bin", argv[3]);
	if ((mkdir(path, 0700) && errno != EEXIST) || (mkdir(cache, 0700) && errno != EEXIST))
		die("cannot create", path);
	o.cache_dir = cache;
	o.memory_limit = (size_t)(limit_mib * 1024 * 1024);
	devnull = fopen("/dev/null", "w");
	struct xp_session *s = xp_session_new(&o);

	if (!s || !devnull)
		die("cannot start a session in", cache);

	struct xp_event ev = {.type = XP_EV_COMM};

	ev.comm = (struct xp_ev_comm){.time_ns = 1, .pid = 1, .tid = 1};
	snprintf(ev.comm.comm, sizeof(ev.comm.comm), "parent");
	feed(s, &ev);
	ev_mmap(s, 2, 1, LIBC_BASE, &libc, NULL, argv[2]);

	printf("soak: %u processes, %u windows of 1 s, memory_limit %.0f MiB, binary %s (%zu "
	       "bytes)\n",
	       nproc, nwin, limit_mib, argv[1], len);
	t0 = now_s();
	for (unsigned w = 0, i = 0; w < nwin; w++) {
		unsigned end = (unsigned)((uint64_t)nproc * (w + 1) / nwin), first = i;
		uint64_t wstart = (uint64_t)w * NS, step = NS / (end - first + 1);

		for (; i < end; i++) {
			uint32_t pid = 1000 + i;
			uint64_t t = wstart + (i - first) * step + 10;
			uint8_t bid[XP_BUILD_ID_MAX];
			uint64_t stack[5];

			write_copy(argv[3], i, image, len, &bin, bid, path, sizeof(path));
			ev = (struct xp_event){.type = XP_EV_FORK};
			ev.task = (struct xp_ev_task){
			    .time_ns = t, .pid = pid, .tid = pid, .ppid = 1, .ptid = 1};
			feed(s, &ev);
			ev = (struct xp_event){.type = XP_EV_COMM};
			ev.comm = (struct xp_ev_comm){.time_ns = t + 1, .pid = pid, .tid = pid};
			snprintf(ev.comm.comm, sizeof(ev.comm.comm), "prog-%u", i % NSLOTS);
			feed(s, &ev);
			ev_mmap(s, t + 2, pid, BASE, &bin, bid, path);
			for (unsigned k = 0; k < 4; k++) {
				stack[0] = BASE + bin.fn[k & 1 ? 0 : 1] + 4;
				stack[1] = BASE + bin.fn[1] + 8;
				stack[2] = BASE + bin.fn[2] + 8;
				stack[3] = BASE + bin.fn[3] + 8;
				stack[4] = LIBC_BASE + libc.seg_vaddr + 0x1000 + 64 * k;
				ev = (struct xp_event){.type = XP_EV_SAMPLE};
				ev.sample =
				    (struct xp_ev_sample){.time_ns = t + 3 + k * 10000000ull,
							  .pid = pid,
							  .tid = pid,
							  .flags = XP_EV_SAMPLE_F_CALLCHAIN,
							  .nuser = 5,
							  .ustack = stack,
							  .period_ns = 1010101};
				feed(s, &ev);
			}
			ev = (struct xp_event){.type = XP_EV_EXIT};
			ev.task =
			    (struct xp_ev_task){.time_ns = t + 50000000ull, .pid = pid, .tid = pid};
			feed(s, &ev);
		}
		struct rep_profile *p = xp_session_window_take(s, wstart + NS);

		if (!p || rep_write_folded(p, &ro, devnull)) {
			fprintf(stderr, "soak_bench: window %u: cannot take or write it\n", w + 1);
			return 2;
		}
		rep_profile_free(p);
		rss = rss_mib();
		if (w + 1 == ref_win)
			rss_ref = rss;
		if ((w + 1) % 30 == 0 || w + 1 == ref_win || w == 0) {
			struct xp_session_mem m;

			xp_session_memory(s, &m);
			printf("soak: window %4u  rss %6.2f MiB  processes %3llu  modules %3llu  "
			       "tables %4llu (%6.1f KiB)  sym files %4llu (%7.1f KiB)  %.1f s\n",
			       w + 1, rss, (unsigned long long)m.processes,
			       (unsigned long long)m.modules, (unsigned long long)m.tables,
			       (double)m.table_bytes / 1024, (unsigned long long)m.sym_files,
			       (double)m.sym_bytes / 1024, now_s() - t0);
		}
	}
	const struct xp_session_stats *st = xp_session_stats(s);

	printf("soak: %llu samples, %llu kept, %llu without a process\n",
	       (unsigned long long)st->samples, (unsigned long long)st->kept,
	       (unsigned long long)st->no_process);
	printf("bench: soak RSS after %u windows: %.2f MiB (%.3fx RSS after %u windows, %.2f "
	       "MiB; limit %.0f MiB)\n",
	       nwin, rss, rss / rss_ref, ref_win, rss_ref, RSS_MAX_MB);
	printf("soak: processing: %.2f ms per process (%u processes, %u windows)\n",
	       (now_s() - t0) * 1000 / nproc, nproc, nwin);
	xp_session_free(s);
	fclose(devnull);
	free(image);
	if (rss > rss_ref * 1.10 || rss > RSS_MAX_MB || st->no_process) {
		fprintf(stderr,
			"soak_bench: memory grew: %.2f MiB after %u windows, %.2f MiB after %u\n",
			rss, nwin, rss_ref, ref_win);
		return 1;
	}
	return 0;
}
