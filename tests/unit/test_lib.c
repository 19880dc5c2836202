// SPDX-License-Identifier: MIT
/*
 * Unit tests of lib/. Build-ids: the first GNU note of 1..20 bytes, as the
 * kernel reads it; the own vDSO where the auxiliary vector says; MMAP2
 * records with and without a trusted build-id, cut or unterminated. Safe
 * files: an output appears whole or not at all; a
 * link of another user at an output path is refused and its target left
 * alone; the caller's own link is written through; a streamed output is
 * locked against a second writer; cache directories are created 0700
 * without following another user's link and refused when shared. Cases
 * that need a second user (lchown) run only as root and are skipped
 * otherwise.
 */
#include <dirent.h>
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
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/perf_event.h>

#include <cmocka.h>

#include "lib/lib.h"

#define NOBODY 65534

struct fixture {
	char dir[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/xprof-lib-test.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

static void put(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

/* path's contents (up to 255 bytes), or "<none>" */
static const char *get(const char *path)
{
	static char buf[256];
	int fd = open(path, O_RDONLY | O_NOFOLLOW);
	ssize_t n;

	if (fd < 0)
		return "<none>";
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

/* Entries in dir, dot files included (temporary files start with a dot). */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

static void test_atomic(void **state)
{
	struct fixture *f = *state;
	char path[128];
	struct xl_out o;

	snprintf(path, sizeof(path), "%s/out.folded", f->dir);
	put(path, "old\n");
	assert_int_equal(xl_out_open(&o, path, 0, 0644), 0);
	assert_int_equal(xl_write_all(o.fd, "new\n", 4), 0);
	/* not visible before commit: readers see the old file */
	assert_string_equal(get(path), "old\n");
	assert_int_equal(count_entries(f->dir), 2);
	assert_int_equal(xl_out_commit(&o), 0);
	assert_string_equal(get(path), "new\n");
	assert_int_equal(count_entries(f->dir), 1);

	/* abort: the old file stays, the temporary goes */
	assert_int_equal(xl_out_open(&o, path, 0, 0644), 0);
	assert_non_null(xl_out_stdio(&o));
	fputs("half", o.f);
	xl_out_abort(&o);
	assert_string_equal(get(path), "new\n");
	assert_int_equal(count_entries(f->dir), 1);

	/* a new file through stdio */
	snprintf(path, sizeof(path), "%s/fresh.svg", f->dir);
	assert_int_equal(xl_out_open(&o, path, XL_OUT_SYNC, 0644), 0);
	fputs("<svg/>", xl_out_stdio(&o));
	assert_int_equal(xl_out_commit(&o), 0);
	assert_string_equal(get(path), "<svg/>");
	assert_int_equal(count_entries(f->dir), 2);
}

static void test_links(void **state)
{
	struct fixture *f = *state;
	char path[128], target[128];
	struct xl_out o;
	struct stat st;

	/* the caller's own link: written through, and stays a link */
	snprintf(path, sizeof(path), "%s/mine.folded", f->dir);
	snprintf(target, sizeof(target), "%s/target", f->dir);
	put(target, "precious\n");
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(xl_out_check(path), 0);
	assert_int_equal(xl_write_file(path, "via link\n", 9), 0);
	assert_string_equal(get(target), "via link\n");
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));

	/* the caller's own dangling, relative link: the file is created where it points */
	snprintf(path, sizeof(path), "%s/rel.svg", f->dir);
	snprintf(target, sizeof(target), "%s/made.svg", f->dir);
	assert_int_equal(symlink("made.svg", path), 0);
	assert_int_equal(xl_write_file(path, "made\n", 5), 0);
	assert_string_equal(get(target), "made\n");
	snprintf(target, sizeof(target), "%s/target", f->dir);

	/* a directory is no output */
	assert_int_equal(xl_out_check(f->dir), -EISDIR);
	snprintf(path, sizeof(path), "%s/no/such/dir/x.svg", f->dir);
	assert_int_equal(xl_out_check(path), -ENOENT);

	if (geteuid() != 0) {
		skip();
		return;
	}
	/* another user's link: refused by check, atomic and stream alike; target untouched */
	put(target, "precious\n");
	snprintf(path, sizeof(path), "%s/theirs.xprof", f->dir);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(lchown(path, NOBODY, NOBODY), 0);
	assert_int_equal(xl_out_check(path), -ELOOP);
	assert_int_equal(xl_out_open(&o, path, 0, 0644), -ELOOP);
	assert_int_equal(xl_out_open(&o, path, XL_OUT_STREAM, 0644), -ELOOP);
	assert_string_equal(get(target), "precious\n");
	assert_string_equal(xl_strerror(-ELOOP), "a symbolic link owned by another user");
}

static void test_stream(void **state)
{
	struct fixture *f = *state;
	char path[128];
	struct xl_out a, b;

	snprintf(path, sizeof(path), "%s/rec.xprof", f->dir);
	put(path, "an older recording\n");
	assert_int_equal(xl_out_open(&a, path, XL_OUT_STREAM | XL_OUT_SYNC, 0644), 0);
	/* in place: the path is the file being written, truncated under the lock */
	assert_null(a.tmp);
	assert_string_equal(get(path), "");
	assert_int_equal(xl_write_all(a.fd, "first\n", 6), 0);
	/* a second writer is refused and does not truncate the first one's file */
	assert_int_equal(xl_out_open(&b, path, XL_OUT_STREAM, 0644), -EBUSY);
	assert_string_equal(get(path), "first\n");
	/* abort keeps a streamed file: its prefix is the point */
	xl_out_abort(&a);
	assert_string_equal(get(path), "first\n");
	/* the lock went with the descriptor */
	assert_int_equal(xl_out_open(&b, path, XL_OUT_STREAM, 0644), 0);
	assert_int_equal(xl_out_commit(&b), 0);
	assert_string_equal(get(path), "");

	/* /dev/null, root's device, takes a recording (benchmarks write there) */
	assert_int_equal(xl_out_open(&a, "/dev/null", XL_OUT_STREAM | XL_OUT_SYNC, 0644), 0);
	assert_int_equal(xl_write_all(a.fd, "x", 1), 0);
	assert_int_equal(xl_out_commit(&a), 0);

	/* a FIFO is no recording, and must not block the opener */
	snprintf(path, sizeof(path), "%s/fifo.xprof", f->dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_true(xl_out_open(&a, path, XL_OUT_STREAM, 0644) < 0);

	if (geteuid() != 0) {
		skip();
		return;
	}
	/* another user's file: they could read or change what root records */
	snprintf(path, sizeof(path), "%s/planted.xprof", f->dir);
	put(path, "theirs\n");
	assert_int_equal(chown(path, NOBODY, NOBODY), 0);
	assert_int_equal(xl_out_open(&a, path, XL_OUT_STREAM, 0644), -EPERM);
	assert_string_equal(get(path), "theirs\n");
}

static void test_dirs(void **state)
{
	struct fixture *f = *state;
	char path[192], other[128], *bad = NULL;
	struct stat st;

	snprintf(path, sizeof(path), "%s/a/b/c", f->dir);
	assert_int_equal(xl_mkdirs(path, 0700, &bad), 0);
	assert_null(bad);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(xl_dir_private(path), 0);
	/* again: existing directories are fine */
	assert_int_equal(xl_mkdirs(path, 0700, NULL), 0);

	/* shared with group or others: refused */
	assert_int_equal(chmod(path, 0777), 0);
	assert_int_equal(xl_dir_private(path), -EACCES);
	assert_int_equal(chmod(path, 0700), 0);

	/* a file in the way */
	snprintf(path, sizeof(path), "%s/file", f->dir);
	put(path, "x");
	snprintf(path, sizeof(path), "%s/file/sub", f->dir);
	assert_int_equal(xl_mkdirs(path, 0700, &bad), -ENOTDIR);
	assert_non_null(bad);
	assert_non_null(strstr(bad, "/file"));
	free(bad);

	/* a link is no private directory, even the caller's own */
	snprintf(other, sizeof(other), "%s/elsewhere", f->dir);
	assert_int_equal(mkdir(other, 0700), 0);
	snprintf(path, sizeof(path), "%s/link", f->dir);
	assert_int_equal(symlink(other, path), 0);
	assert_int_equal(xl_dir_private(path), -ELOOP);

	if (geteuid() != 0) {
		skip();
		return;
	}
	/* another user's directory */
	assert_int_equal(chown(other, NOBODY, NOBODY), 0);
	assert_int_equal(xl_dir_private(other), -EPERM);
	/* another user's link inside the path: not followed, nothing created behind it */
	assert_int_equal(lchown(path, NOBODY, NOBODY), 0);
	snprintf(path, sizeof(path), "%s/link/unwind-v9", f->dir);
	assert_int_equal(xl_mkdirs(path, 0700, &bad), -ELOOP);
	assert_non_null(bad);
	assert_non_null(strstr(bad, "/link"));
	free(bad);
	assert_int_equal(count_entries(other), 0);
}

static void test_open_regular(void **state)
{
	struct fixture *f = *state;
	char path[128], link[128];
	int fd;

	snprintf(path, sizeof(path), "%s/table", f->dir);
	put(path, "t");
	fd = xl_open_regular(path);
	assert_true(fd >= 0);
	close(fd);
	snprintf(link, sizeof(link), "%s/table.link", f->dir);
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(xl_open_regular(link), -ELOOP);
	snprintf(path, sizeof(path), "%s/fifo", f->dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(xl_open_regular(path), -EINVAL);
}

/* ---- elf.c, perf.c --------------------------------------------------------- */

/*
 * A minimal ELF64 file: one PT_NOTE holding the notes given, each
 * {type, name, desc of n bytes 0x11, 0x12, ...}; no sections.
 */
struct note_spec {
	uint32_t type;
	const char *name;
	uint32_t n;
	uint32_t namesz; /* 0: strlen(name) + 1 */
};

static void put_elf_notes(const char *path, const struct note_spec *notes, int nnotes)
{
	uint8_t buf[1024] = {0};
	Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
	Elf64_Phdr *ph = (Elf64_Phdr *)(buf + sizeof(*eh));
	size_t at = sizeof(*eh) + sizeof(*ph);
	FILE *fp;

	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_DYN;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 1;
	ph->p_type = PT_NOTE;
	ph->p_offset = at;
	ph->p_align = 4;
	for (int i = 0; i < nnotes; i++) {
		Elf64_Nhdr nh = {.n_namesz =
				     notes[i].namesz ? notes[i].namesz : strlen(notes[i].name) + 1,
				 .n_descsz = notes[i].n,
				 .n_type = notes[i].type};

		memcpy(buf + at, &nh, sizeof(nh));
		at += sizeof(nh);
		memcpy(buf + at, notes[i].name, nh.n_namesz);
		at += (nh.n_namesz + 3) & ~3u;
		for (uint32_t k = 0; k < notes[i].n; k++)
			buf[at + k] = 0x11 + k;
		at += (notes[i].n + 3) & ~3u;
	}
	ph->p_filesz = ph->p_memsz = at - ph->p_offset;
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, at, fp), at);
	assert_int_equal(fclose(fp), 0);
}

static void test_build_id(void **state)
{
	static const struct {
		struct note_spec notes[2];
		int nnotes;
		int err;
		size_t len;
	} cases[] = {
	    {{{NT_GNU_BUILD_ID, "GNU", 20, 0}}, 1, 0, 20},
	    {{{NT_GNU_BUILD_ID, "GNU", 8, 0}}, 1, 0, 8},
	    /* another note first, then the build-id */
	    {{{NT_GNU_ABI_TAG, "GNU", 16, 0}, {NT_GNU_BUILD_ID, "GNU", 16, 0}}, 2, 0, 16},
	    /* the kernel reports none of these */
	    {{{NT_GNU_BUILD_ID, "GNU", 21, 0}}, 1, -ENOENT, 0},
	    {{{NT_GNU_BUILD_ID, "GNU", 0, 0}}, 1, -ENOENT, 0},
	    {{{NT_GNU_BUILD_ID, "Go", 20, 0}}, 1, -ENOENT, 0},
	    {{{0, NULL, 0, 0}}, 0, -ENOENT, 0},
	};
	struct fixture *f = *state;
	char path[128];
	uint8_t id[20];
	size_t len;

	snprintf(path, sizeof(path), "%s/elf", f->dir);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		put_elf_notes(path, cases[c].notes, cases[c].nnotes);
		memset(id, 0, sizeof(id));
		assert_int_equal(xl_build_id_file(path, id, sizeof(id), &len), cases[c].err);
		assert_int_equal(len, cases[c].len);
		for (size_t k = 0; k < len; k++)
			assert_int_equal(id[k], 0x11 + k);
	}
	/* Go's note ("Go\0\0", type 4): its last 20 bytes, and only through the Go reader. */
	{
		struct note_spec go = {4, "Go\0", 40, 4}; /* namesz 4: "Go\0\0" */
		uint8_t gid[20], img[1024];
		ssize_t n;
		int fd;

		put_elf_notes(path, &go, 1);
		assert_int_equal(xl_build_id_file(path, id, sizeof(id), &len), -ENOENT);
		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		n = read(fd, img, sizeof(img));
		close(fd);
		assert_true(n > 0);
		assert_int_equal(xl_elf_go_build_id(img, n, gid, sizeof(gid), &len), 0);
		assert_int_equal(len, 20);
		for (size_t k = 0; k < len; k++)
			assert_int_equal(gid[k], 0x11 + 20 + k);
		assert_int_equal(xl_elf_build_id(img, n, gid, sizeof(gid), &len), -ENOENT);
		/* a note area cut anywhere is read as far as it goes, never past the image */
		for (ssize_t cut = 0; cut < n; cut++)
			xl_elf_go_build_id(img, cut, gid, sizeof(gid), &len);
	}
	put(path, "not an ELF file at all, just text long enough to have a header");
	assert_int_equal(xl_build_id_file(path, id, sizeof(id), &len), -EINVAL);
	snprintf(path, sizeof(path), "%s/missing", f->dir);
	assert_int_equal(xl_build_id_file(path, id, sizeof(id), &len), -ENOENT);
}

static void test_vdso_self(void **state)
{
	const uint8_t *img;
	size_t len;

	(void)state;
	assert_int_equal(xl_vdso_self(&img, &len), 0);
	assert_ptr_equal(img, (const uint8_t *)getauxval(AT_SYSINFO_EHDR));
	assert_memory_equal(img, ELFMAG, SELFMAG);
	assert_true(len >= 4096 && len % 4096 == 0);
}

/* An MMAP2 record: header, body, path, 16 bytes of sample_id trailer. */
static size_t mk_mmap2(uint8_t *rec, uint16_t misc, uint8_t bid_size, const char *path,
		       bool terminated)
{
	struct perf_event_header h = {.type = PERF_RECORD_MMAP2, .misc = misc};
	size_t plen = strlen(path) + terminated, at = sizeof(h);
	uint64_t v[3] = {0x7f0000001000, 0x2000, 0x1000};
	uint32_t ids[2] = {42, 43}, prot[2] = {5, 2};

	memcpy(rec + at, ids, 8);
	at += 8;
	memcpy(rec + at, v, 24);
	at += 24;
	rec[at] = bid_size;
	for (int k = 0; k < 20; k++)
		rec[at + 4 + k] = 0xa0 + k;
	at += 24;
	memcpy(rec + at, prot, 8);
	at += 8;
	memcpy(rec + at, path, plen);
	at += plen;
	memset(rec + at, 0xee, 16); /* the trailer: no NUL in it */
	at += 16;
	h.size = at;
	memcpy(rec, &h, sizeof(h));
	return at;
}

static void test_perf_mmap2(void **state)
{
	uint8_t rec[256];
	struct xl_mmap2 m;
	size_t n;

	(void)state;
	n = mk_mmap2(rec, PERF_RECORD_MISC_MMAP_BUILD_ID, 20, "/usr/lib/libc.so.6", true);
	assert_int_equal(xl_perf_mmap2(rec, n, 16, true, &m), 0);
	assert_int_equal(m.pid, 42);
	assert_int_equal(m.tid, 43);
	assert_int_equal(m.addr, 0x7f0000001000);
	assert_int_equal(m.len, 0x2000);
	assert_int_equal(m.pgoff, 0x1000);
	assert_int_equal(m.prot, 5);
	assert_int_equal(m.flags, 2);
	assert_string_equal(m.path, "/usr/lib/libc.so.6");
	assert_int_equal(m.build_id_len, 20);
	assert_int_equal(m.build_id[19], 0xa0 + 19);
	/* the caller's event did not ask for build-ids: the flag is not trusted */
	assert_int_equal(xl_perf_mmap2(rec, n, 16, false, &m), 0);
	assert_int_equal(m.build_id_len, 0);
	/* no flag; size 0 (the kernel could not read it); a size no build-id has */
	n = mk_mmap2(rec, 0, 20, "/x", true);
	assert_int_equal(xl_perf_mmap2(rec, n, 16, true, &m), 0);
	assert_int_equal(m.build_id_len, 0);
	n = mk_mmap2(rec, PERF_RECORD_MISC_MMAP_BUILD_ID, 0, "/x", true);
	assert_int_equal(xl_perf_mmap2(rec, n, 16, true, &m), 0);
	assert_int_equal(m.build_id_len, 0);
	n = mk_mmap2(rec, PERF_RECORD_MISC_MMAP_BUILD_ID, 21, "/x", true);
	assert_int_equal(xl_perf_mmap2(rec, n, 16, true, &m), 0);
	assert_int_equal(m.build_id_len, 0);
	/* a name running into the trailer; a record too short for its body */
	n = mk_mmap2(rec, 0, 0, "/x", false);
	assert_int_equal(xl_perf_mmap2(rec, n, 16, true, &m), -EINVAL);
	n = mk_mmap2(rec, 0, 0, "", true);
	assert_int_equal(xl_perf_mmap2(rec, n, 16, true, &m), 0);
	assert_string_equal(m.path, "");
	assert_int_equal(xl_perf_mmap2(rec, 8 + 64 + 15, 16, true, &m), -EINVAL);
}

/* ---- hashing ------------------------------------------------------------------ */

/* FNV-1a's published 64-bit test vectors, whole and in pieces. */
static void test_fnv1a(void **state)
{
	(void)state;
	assert_int_equal(xl_fnv1a("", 0, XL_FNV_SEED), 0xcbf29ce484222325ull);
	assert_int_equal(xl_fnv1a("a", 1, XL_FNV_SEED), 0xaf63dc4c8601ec8cull);
	assert_int_equal(xl_fnv1a("foobar", 6, XL_FNV_SEED), 0x85944171f73967e8ull);
	assert_int_equal(xl_fnv1a("bar", 3, xl_fnv1a("foo", 3, XL_FNV_SEED)),
			 0x85944171f73967e8ull);
	assert_int_not_equal(xl_mix64(1), xl_mix64(2));
	assert_int_equal(xl_mix64(0), 0);
}

/*
 * The table against a plain array, through inserts, replacements and
 * deletions of keys that collide on purpose (multiples of a power of two),
 * growth, clear and reuse.
 */
static void test_hmap(void **state)
{
	enum { N = 3000 };
	struct xl_hmap h = {0};
	static uint64_t ref[N]; /* value + 1 of key i, 0: absent */
	uint64_t v, x = 12345;

	(void)state;
	assert_false(xl_hmap_get(&h, 7, &v));
	xl_hmap_del(&h, 7); /* empty: nothing to do */
	assert_int_equal(xl_hmap_put(&h, 0, 1), -EINVAL);
	memset(ref, 0, sizeof(ref));
	for (int round = 0; round < 20000; round++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t i = (x >> 33) % N, key = (i + 1) << 12;

		if ((x >> 20) % 3) {
			assert_int_equal(xl_hmap_put(&h, key, x), 0);
			ref[i] = x + 1;
		} else {
			xl_hmap_del(&h, key);
			ref[i] = 0;
		}
		if (round % 1000 == 0 || round > 19900) {
			size_t n = 0;

			for (uint64_t k = 0; k < N; k++) {
				bool in = xl_hmap_get(&h, (k + 1) << 12, &v);

				assert_int_equal(in, ref[k] != 0);
				if (in)
					assert_int_equal(v + 1, ref[k]);
				n += in;
			}
			assert_int_equal(h.n, n);
		}
	}
	assert_true(h.cap >= 2 * h.n);
	xl_hmap_clear(&h);
	assert_int_equal(h.n, 0);
	assert_false(xl_hmap_get(&h, 1 << 12, &v));
	assert_int_equal(xl_hmap_put(&h, 5, 6), 0);
	assert_true(xl_hmap_get(&h, 5, &v));
	assert_int_equal(v, 6);
	xl_hmap_release(&h);
	assert_null(h.keys);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_atomic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_links, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dirs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_regular, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_build_id, setup, teardown),
	    cmocka_unit_test(test_vdso_self),
	    cmocka_unit_test(test_perf_mmap2),
	    cmocka_unit_test(test_fnv1a),
	    cmocka_unit_test(test_hmap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
