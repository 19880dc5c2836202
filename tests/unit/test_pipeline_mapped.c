// SPDX-License-Identifier: MIT
/*
 * Unit tests of the choice of a mapped file (pipeline/mapped.c) over a fake
 * procfs in a temporary directory: the host's file when its build-id is the
 * mapping's; else PROCFS/PID/map_files/START-END, named by the root path
 * when that is the same file; else PROCFS/PID/root/PATH; a candidate with
 * another build-id or none (a decoy, a reused pid) is never taken, nor a
 * file reached through a symbolic link inside the process's root; -ESTALE
 * tells "found, but another file" from -ENOENT "nothing there".
 *
 * The pins (xp_pins_*): a container's file noted while its process lives is
 * still readable after the process and its files are gone; a host file is
 * never held; at most XP_PINS_MAX are, the oldest dropped first. A session
 * retries a file it could not reach when another process maps it.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/lib.h"
#include "pipeline/pipeline.h"
#include "pipeline/pipeline_int.h"

#define PID   4242
#define START 0x400000ull
#define END   0x401000ull

static const uint8_t ID_A[20] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa,
				 0xab, 0xac, 0xad, 0xae, 0xaf, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4};
static const uint8_t ID_B[20] = {0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba,
				 0xbb, 0xbc, 0xbd, 0xbe, 0xbf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4};

struct fixture {
	char dir[64];
	char procfs[128]; /* DIR/proc */
	char path[128];	  /* the mapping's path: DIR/usr/bin/app, absolute as the kernel names it */
	char root[512];	  /* DIR/proc/PID/root */
	char mf[512];	  /* DIR/proc/PID/map_files/START-END */
	char in_root[768]; /* root + path */
};

/*
 * A minimal ELF64 file: the header, one PT_NOTE and its NT_GNU_BUILD_ID note
 * (id NULL: no note, a file without a build-id).
 */
static void write_elf(const char *path, const uint8_t *id)
{
	uint8_t img[64 + 56 + 36] = {0};
	Elf64_Ehdr eh = {0};
	Elf64_Phdr ph = {0};
	uint32_t nh[3] = {4, 20, NT_GNU_BUILD_ID};
	FILE *f;

	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_DYN;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_ehsize = sizeof(eh);
	eh.e_phoff = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = id ? 1 : 0;
	ph.p_type = PT_NOTE;
	ph.p_offset = sizeof(eh) + sizeof(ph);
	ph.p_filesz = sizeof(nh) + 4 + 20;
	ph.p_align = 4;
	memcpy(img, &eh, sizeof(eh));
	memcpy(img + sizeof(eh), &ph, sizeof(ph));
	if (id) {
		memcpy(img + ph.p_offset, nh, sizeof(nh));
		memcpy(img + ph.p_offset + sizeof(nh), "GNU", 4);
		memcpy(img + ph.p_offset + sizeof(nh) + 4, id, 20);
	}
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(img, 1, sizeof(img), f), sizeof(img));
	assert_int_equal(fclose(f), 0);
}

static void mkdirs(const char *path)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char d[1024];

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/xprof-mapped-test.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->procfs, sizeof(f->procfs), "%s/proc", f->dir);
	snprintf(f->path, sizeof(f->path), "%s/usr/bin/app", f->dir);
	snprintf(f->root, sizeof(f->root), "%s/%d/root", f->procfs, PID);
	snprintf(f->mf, sizeof(f->mf), "%s/%d/map_files/%llx-%llx", f->procfs, PID,
		 (unsigned long long)START, (unsigned long long)END);
	snprintf(f->in_root, sizeof(f->in_root), "%s%s", f->root, f->path);
	snprintf(d, sizeof(d), "%s/usr/bin", f->dir);
	mkdirs(d);
	snprintf(d, sizeof(d), "%s/%d/map_files", f->procfs, PID);
	mkdirs(d);
	snprintf(d, sizeof(d), "%s%s/usr/bin", f->root, f->dir);
	mkdirs(d);
	snprintf(d, sizeof(d), "%s/other", f->dir);
	mkdirs(d);
	snprintf(d, sizeof(d), "%s%s/other", f->root, f->dir);
	mkdirs(d);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

/* What each candidate holds in a case. */
enum cand {
	NONE,	   /* absent */
	HAS_A,	   /* a file with the mapping's build-id */
	HAS_B,	   /* another build (a decoy, a reused pid's file) */
	NO_ID,	   /* an ELF file without a build-id */
	ROOT_FILE, /* map_files only: a link to the very file at root/PATH */
	COPY_A,	   /* map_files only: a link to another file with build-id A (not root's) */
	LINK_TO_A, /* root only: a symbolic link to a file with A outside, planted */
	FIFO,	   /* host only: a FIFO (must neither block nor be taken) */
};

static void make_file(const struct fixture *f, const char *at, enum cand c, const char *name)
{
	char target[512];

	switch (c) {
	case NONE:
		return;
	case HAS_A:
		write_elf(at, ID_A);
		return;
	case HAS_B:
		write_elf(at, ID_B);
		return;
	case NO_ID:
		write_elf(at, NULL);
		return;
	case ROOT_FILE:
		assert_int_equal(symlink(f->in_root, at), 0);
		return;
	case COPY_A:
		snprintf(target, sizeof(target), "%s/other/%s", f->dir, name);
		write_elf(target, ID_A);
		assert_int_equal(symlink(target, at), 0);
		return;
	case LINK_TO_A: {
		/* to a file with A both on the host and inside the root: no way is followed */
		char inside[1024];

		snprintf(target, sizeof(target), "%s/other/%s", f->dir, name);
		write_elf(target, ID_A);
		snprintf(inside, sizeof(inside), "%s%s", f->root, target);
		write_elf(inside, ID_A);
		assert_int_equal(symlink(target, at), 0);
		return;
	}
	case FIFO:
		assert_int_equal(mkfifo(at, 0600), 0);
		return;
	}
}

static void test_choice(void **state)
{
	static const struct {
		const char *name;
		enum cand host, map_files, root;
		int want; /* 0: a descriptor */
		enum xp_mapped_via via;
		int out; /* 0: the path, 1: the map_files link, 2: the root path */
	} cases[] = {
	    {"host matches", HAS_A, HAS_B, HAS_B, 0, XP_MAPPED_HOST, 0},
	    {"host decoy, map_files is root's file", HAS_B, ROOT_FILE, HAS_A, 0,
	     XP_MAPPED_MAP_FILES, 2},
	    {"host decoy, map_files a copy: its own name", HAS_B, COPY_A, HAS_B, 0,
	     XP_MAPPED_MAP_FILES, 1},
	    {"host missing, file deleted in the namespace", NONE, HAS_A, NONE, 0,
	     XP_MAPPED_MAP_FILES, 1},
	    {"host decoy, no map_files (no CAP_SYS_ADMIN): root", HAS_B, NONE, HAS_A, 0,
	     XP_MAPPED_ROOT, 2},
	    {"host without build-id is not the file", NO_ID, NONE, HAS_A, 0, XP_MAPPED_ROOT, 2},
	    {"host FIFO", FIFO, NONE, HAS_A, 0, XP_MAPPED_ROOT, 2},
	    {"pid reused: every candidate another build", HAS_B, HAS_B, HAS_B, -ESTALE, 0, 0},
	    {"a link planted in the root is not followed", HAS_B, NONE, LINK_TO_A, -ESTALE, 0, 0},
	    {"process gone, host decoy", HAS_B, NONE, NONE, -ESTALE, 0, 0},
	    {"nothing anywhere", NONE, NONE, NONE, -ENOENT, 0, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture *f;
		enum xp_mapped_via via = (enum xp_mapped_via) - 1;
		char out[1024] = "";
		int fd;

		assert_int_equal(setup(state), 0);
		f = *state;
		make_file(f, f->in_root, cases[i].root, "r");
		make_file(f, f->path, cases[i].host, "h");
		make_file(f, f->mf, cases[i].map_files, "m");
		fd = xp_mapped_open(f->procfs, PID, START, END, f->path, ID_A, sizeof(ID_A), out,
				    sizeof(out), &via);
		print_message("  %s: %d %s\n", cases[i].name, fd < 0 ? fd : 0, out);
		if (cases[i].want) {
			assert_int_equal(fd, cases[i].want);
		} else {
			const char *want = cases[i].out == 0   ? f->path
					   : cases[i].out == 1 ? f->mf
							       : f->in_root;
			uint8_t hdr[4];

			assert_true(fd >= 0);
			assert_int_equal((int)via, (int)cases[i].via);
			assert_string_equal(out, want);
			/* the descriptor is the file: an ELF file, read from its start */
			assert_int_equal(pread(fd, hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
			assert_memory_equal(hdr, ELFMAG, SELFMAG);
			close(fd);
		}
		assert_int_equal(teardown(state), 0);
	}
}

/* The build-id is what makes a /proc candidate trustworthy: without one, nothing is tried. */
static void test_needs_build_id(void **state)
{
	struct fixture *f = *state;
	enum xp_mapped_via via;
	char out[1024], small[16];

	write_elf(f->path, ID_A);
	assert_int_equal(
	    xp_mapped_open(f->procfs, PID, START, END, f->path, NULL, 0, out, sizeof(out), &via),
	    -EINVAL);
	assert_int_equal(xp_mapped_open(f->procfs, PID, START, END, "usr/bin/app", ID_A,
					sizeof(ID_A), out, sizeof(out), &via),
			 -EINVAL);
	assert_int_equal(xp_mapped_open(f->procfs, PID, START, END, f->path, ID_A, sizeof(ID_A),
					small, sizeof(small), &via),
			 -EINVAL);
}

static struct xp_ev_mmap mmap_of(const char *path, const uint8_t *id, uint64_t start)
{
	struct xp_ev_mmap mm = {.pid = PID, .start = start, .len = END - START, .path = path};

	mm.prot = 5; /* PROT_READ | PROT_EXEC */
	mm.build_id_len = 20;
	memcpy(mm.build_id, id, 20);
	return mm;
}

static void assert_fd_has_id(int fd, const uint8_t *id)
{
	uint8_t img[256], got[20];
	ssize_t n = pread(fd, img, sizeof(img), 0);
	size_t len = 0;

	assert_true(n > 0);
	assert_int_equal(xl_elf_build_id(img, (size_t)n, got, sizeof(got), &len), 0);
	assert_int_equal(len, 20);
	assert_memory_equal(got, id, 20);
}

/* A file held while its process lived outlives the process, its /proc entries and its name. */
static void test_pins_hold(void **state)
{
	struct fixture *f = *state;
	struct xp_pins p;
	struct xp_ev_mmap mm = mmap_of(f->path, ID_A, START);
	char cmd[512];
	int fd;

	write_elf(f->path, ID_B); /* the host's decoy */
	make_file(f, f->mf, COPY_A, "m");
	xp_pins_init(&p, f->procfs);
	xp_pins_note(&p, &mm);
	xp_pins_note(&p, &mm); /* the same file twice: held once */
	assert_int_equal(p.pinned, 1);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s/other'", f->procfs, f->dir);
	assert_int_equal(system(cmd), 0);
	fd = xp_pins_take(&p, ID_A, sizeof(ID_A));
	assert_true(fd >= 0);
	assert_fd_has_id(fd, ID_A);
	close(fd);
	assert_int_equal(xp_pins_take(&p, ID_A, sizeof(ID_A)), -ENOENT);
	xp_pins_release(&p);
}

/* The host's own file is found by path later: not held, and checked once. */
static void test_pins_host(void **state)
{
	struct fixture *f = *state;
	struct xp_pins p;
	struct xp_ev_mmap mm = mmap_of(f->path, ID_A, START);

	write_elf(f->path, ID_A);
	make_file(f, f->mf, COPY_A, "m");
	xp_pins_init(&p, f->procfs);
	xp_pins_note(&p, &mm);
	assert_int_equal(p.pinned, 0);
	assert_int_equal(xp_pins_take(&p, ID_A, sizeof(ID_A)), -ENOENT);
	/* remembered: even with the host's file replaced, no second look */
	write_elf(f->path, ID_B);
	xp_pins_note(&p, &mm);
	assert_int_equal(p.pinned, 0);
	xp_pins_release(&p);
}

/* XP_PINS_MAX files at most: the first of XP_PINS_MAX + 1 goes, closed. */
static void test_pins_bound(void **state)
{
	struct fixture *f = *state;
	struct xp_pins p;
	uint8_t ids[XP_PINS_MAX + 1][20];
	int fd;

	write_elf(f->path, ID_B);
	xp_pins_init(&p, f->procfs);
	for (unsigned i = 0; i <= XP_PINS_MAX; i++) {
		uint64_t start = START + (uint64_t)i * 0x10000;
		char mf[600], target[600];
		struct xp_ev_mmap mm;

		memcpy(ids[i], ID_A, 20);
		ids[i][0] = (uint8_t)i;
		snprintf(mf, sizeof(mf), "%s/%d/map_files/%llx-%llx", f->procfs, PID,
			 (unsigned long long)start, (unsigned long long)(start + END - START));
		snprintf(target, sizeof(target), "%s/other/%u", f->dir, i);
		write_elf(target, ids[i]);
		assert_int_equal(symlink(target, mf), 0);
		mm = mmap_of(f->path, ids[i], start);
		xp_pins_note(&p, &mm);
	}
	assert_int_equal(p.pinned, XP_PINS_MAX + 1);
	assert_int_equal(p.evicted, 1);
	assert_int_equal(p.n, XP_PINS_MAX);
	assert_int_equal(xp_pins_take(&p, ids[0], 20), -ENOENT);
	fd = xp_pins_take(&p, ids[XP_PINS_MAX], 20);
	assert_true(fd >= 0);
	assert_fd_has_id(fd, ids[XP_PINS_MAX]);
	close(fd);
	xp_pins_release(&p);
}

/*
 * A session that could not reach a file (its process gone, nothing held)
 * tries again when a live process maps it, instead of leaving every later
 * process with raw frames while the first mapping lives; the first process's
 * mapping keeps what it had (no bias), and the file is counted once.
 */
static void test_session_retry(void **state)
{
	struct fixture *f = *state;
	struct xp_session_opts o = {.no_cache = true};
	struct xp_session *s = xp_session_new(&o);
	uint8_t id[20];
	size_t len = 0;
	const char *path;
	uint64_t bias = 1;
	char cmd[512];
	struct xp_event ev = {.type = XP_EV_MMAP};

	assert_non_null(s);
	assert_int_equal(xl_build_id_file("/proc/self/exe", id, sizeof(id), &len), 0);
	assert_int_equal(len, 20);
	ev.mmap = mmap_of(f->path, id, 0x7f0000001000ull);
	ev.mmap.pgoff = 0x1000;
	ev.mmap.pid = 0x7ffffff0; /* no such process: its /proc is not there */
	ev.mmap.time_ns = 1000;
	assert_int_equal(xp_session_event(s, &ev), 0);
	assert_int_equal(xp_session_stats(s)->stale_files, 1);
	assert_int_equal(xp_session_lookup(s, ev.mmap.pid, 0x7f0000001800ull, &path, &bias), 0);
	assert_int_equal(bias, 0);

	/* this test binary: in the shell, /proc/self would be cp's */
	snprintf(cmd, sizeof(cmd), "cp /proc/%d/exe '%s'", (int)getpid(), f->path);
	assert_int_equal(system(cmd), 0);
	/* another gone process: not looked for again (a foreign recording's missing files) */
	ev.mmap.pid = 0x7ffffff2;
	ev.mmap.time_ns = 2000;
	assert_int_equal(xp_session_event(s, &ev), 0);
	assert_int_equal(xp_session_lookup(s, ev.mmap.pid, 0x7f0000001800ull, &path, &bias), 0);
	assert_int_equal(bias, 0);
	/* a live one (this test): found */
	ev.mmap.pid = (uint32_t)getpid();
	ev.mmap.time_ns = 3000;
	assert_int_equal(xp_session_event(s, &ev), 0);
	assert_int_equal(xp_session_lookup(s, ev.mmap.pid, 0x7f0000001800ull, &path, &bias), 0);
	assert_true(bias != 0);
	assert_int_equal(xp_session_lookup(s, 0x7ffffff0, 0x7f0000001800ull, &path, &bias), 0);
	assert_int_equal(bias, 0);
	assert_int_equal(xp_session_stats(s)->stale_files, 1);
	xp_session_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_choice),
	    cmocka_unit_test_setup_teardown(test_needs_build_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pins_hold, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pins_host, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pins_bound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_session_retry, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
