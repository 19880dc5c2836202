// SPDX-License-Identifier: MIT
/*
 * Unit tests of the choice of a mapped file (pipeline/mapped.c) over a fake
 * procfs in a temporary directory: the host's file when its build-id is the
 * mapping's; else PROCFS/PID/map_files/START-END, named by the root path
 * when that is the same file; else PROCFS/PID/root/PATH; a candidate with
 * another build-id or none (a decoy, a reused pid) is never taken, nor a
 * file reached through a symbolic link inside the process's root; -ESTALE
 * tells "found, but another file" from -ENOENT "nothing there".
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_choice),
	    cmocka_unit_test_setup_teardown(test_needs_build_id, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
