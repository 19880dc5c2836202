// SPDX-License-Identifier: MIT
/*
 * Unit tests of the table cache (unwind/cache.c): a table is built once,
 * written, then loaded from disk by a new session with the same answers; a
 * corrupt or truncated cache file is rejected and rebuilt; files without a
 * build-id are keyed by path, size and mtime; a build-id that no longer
 * matches the file on disk is refused; failures are remembered; a table file
 * swapped with another build-id's is rebuilt; a cache directory another user
 * owns, may write, or planted a link for is refused.
 */
#include <dirent.h>
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

#include "unwind/unwind_int.h"

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"
#define LIBM "/lib/x86_64-linux-gnu/libm.so.6"

struct fixture {
	char dir[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/xprof-cache-test.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int rm_rf(const char *path)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	return system(cmd);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rm_rf(f->dir);
	free(f);
	return 0;
}

/* The only cache file in dir/unwind-v*-c* (there is exactly one in these tests). */
static void only_file(const char *dir, char *out, size_t len)
{
	char sub[128];
	DIR *d;
	struct dirent *de;
	int n = 0;

	snprintf(sub, sizeof(sub), "%s/unwind-v%d-c%d", dir, UNW_TAB_VERSION, UNW_CACHE_VERSION);
	d = opendir(sub);
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(out, len, "%s/%s", sub, de->d_name);
		n++;
	}
	closedir(d);
	assert_int_equal(n, 1);
}

static void assert_same_table(const struct unw_table *a, const struct unw_table *b)
{
	assert_int_equal(unw_table_count(a), unw_table_count(b));
	for (size_t i = 0; i < unw_table_count(a); i += 7) {
		uint64_t x, y;
		struct unw_rule r, s;

		unw_table_row(a, i, &x, &r);
		unw_table_row(b, i, &y, &s);
		assert_int_equal(x, y);
		assert_memory_equal(&r, &s, sizeof(r));
	}
}

static void test_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct unw_cache *c = unw_cache_new(f->dir);
	struct unw_cache_stats st;
	struct unw_table *ref = unw_table_from_elf(LIBC, NULL, NULL);
	char file[512];

	assert_non_null(c);
	assert_non_null(ref);
	const struct unw_table *t = unw_cache_get(c, LIBC, NULL, 0);
	assert_non_null(t);
	assert_same_table(t, ref);
	/* the second get is the same object from memory */
	assert_ptr_equal(unw_cache_get(c, LIBC, NULL, 0), t);
	unw_cache_get_stats(c, &st);
	assert_int_equal(st.built, 1);
	assert_int_equal(st.mem_hits, 1);
	unw_cache_free(c);

	/* named by build-id */
	only_file(f->dir, file, sizeof(file));
	assert_non_null(strstr(file, ".tab"));
	assert_null(strstr(file, "path-"));

	/* a new session loads it */
	c = unw_cache_new(f->dir);
	t = unw_cache_get(c, LIBC, NULL, 0);
	assert_non_null(t);
	assert_same_table(t, ref);
	unw_cache_get_stats(c, &st);
	assert_int_equal(st.disk_hits, 1);
	assert_int_equal(st.built, 0);
	unw_cache_free(c);
	unw_table_free(ref);
}

/* Corrupt, truncated and foreign cache files are rebuilt, never used. */
static void test_corrupt(void **state)
{
	struct fixture *f = *state;
	struct unw_table *ref = unw_table_from_elf(LIBC, NULL, NULL);
	struct unw_cache_stats st;
	char file[512];
	const struct {
		const char *what;
		off_t at; /* byte to flip; -1: truncate */
		off_t truncate;
	} cases[] = {
	    {"a rule byte", 4096, 0}, {"the last byte", -2, 0}, {"the version", 4, 0},
	    {"truncated", -1, 1000},  {"empty", -1, 0},
	};

	assert_non_null(ref);
	struct unw_cache *c = unw_cache_new(f->dir);
	assert_non_null(unw_cache_get(c, LIBC, NULL, 0));
	unw_cache_free(c);
	only_file(f->dir, file, sizeof(file));

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = open(file, O_RDWR);
		struct stat sb;

		assert_true(fd >= 0);
		assert_int_equal(fstat(fd, &sb), 0);
		if (cases[i].at == -1) {
			assert_int_equal(ftruncate(fd, cases[i].truncate), 0);
		} else {
			off_t at = cases[i].at == -2 ? sb.st_size - 1 : cases[i].at;
			uint8_t b;

			assert_int_equal(pread(fd, &b, 1, at), 1);
			b ^= 0x10;
			assert_int_equal(pwrite(fd, &b, 1, at), 1);
		}
		close(fd);

		c = unw_cache_new(f->dir);
		const struct unw_table *t = unw_cache_get(c, LIBC, NULL, 0);
		assert_non_null(t);
		assert_same_table(t, ref);
		unw_cache_get_stats(c, &st);
		if (st.rejected + (cases[i].truncate == 0 && cases[i].at == -1) != 1 ||
		    st.built != 1)
			fail_msg("%s: rejected %llu built %llu", cases[i].what,
				 (unsigned long long)st.rejected, (unsigned long long)st.built);
		unw_cache_free(c);

		/* and the rebuilt file is good again */
		c = unw_cache_new(f->dir);
		assert_non_null(unw_cache_get(c, LIBC, NULL, 0));
		unw_cache_get_stats(c, &st);
		assert_int_equal(st.disk_hits, 1);
		unw_cache_free(c);
	}
	unw_table_free(ref);
}

static void copy_file(const char *from, const char *to)
{
	char cmd[1100];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	assert_int_equal(system(cmd), 0);
}

/* Without a build-id the key is path + size + mtime: touching the file rebuilds. */
static void test_no_build_id(void **state)
{
	struct fixture *f = *state;
	const char *b = getenv("XPROF_BUILD");
	char src[256], dst[256];
	struct unw_cache_stats st;
	struct timespec ts[2] = {{1000000000, 0}, {1000000000, 0}};

	snprintf(src, sizeof(src), "%s/progs/cfi_nobid", b && *b ? b : "build");
	snprintf(dst, sizeof(dst), "%s/nobid", f->dir);
	copy_file(src, dst);
	assert_int_equal(utimensat(AT_FDCWD, dst, ts, 0), 0);

	struct unw_cache *c = unw_cache_new(f->dir);
	assert_non_null(unw_cache_get(c, dst, NULL, 0));
	unw_cache_free(c);
	char file[512];
	only_file(f->dir, file, sizeof(file));
	assert_non_null(strstr(file, "path-"));

	c = unw_cache_new(f->dir);
	assert_non_null(unw_cache_get(c, dst, NULL, 0));
	unw_cache_get_stats(c, &st);
	assert_int_equal(st.disk_hits, 1);
	unw_cache_free(c);

	ts[1].tv_sec++;
	assert_int_equal(utimensat(AT_FDCWD, dst, ts, 0), 0);
	c = unw_cache_new(f->dir);
	assert_non_null(unw_cache_get(c, dst, NULL, 0));
	unw_cache_get_stats(c, &st);
	assert_int_equal(st.disk_hits, 0);
	assert_int_equal(st.built, 1);
	unw_cache_free(c);
}

/* Failures are remembered; a build-id the file no longer has is refused. */
static void test_failures(void **state)
{
	struct fixture *f = *state;
	struct unw_cache *c = unw_cache_new(f->dir);
	struct unw_cache_stats st;
	const uint8_t wrong[20] = {0xde, 0xad, 0xbe, 0xef};
	char path[256];

	assert_non_null(c);
	errno = 0;
	assert_null(unw_cache_get(c, "/nonexistent/lib.so", NULL, 0));
	assert_int_equal(errno, ENOENT);
	assert_null(unw_cache_get(c, "/etc/passwd", NULL, 0));
	assert_int_equal(errno, ENOEXEC);
	assert_null(unw_cache_get(c, LIBC, wrong, sizeof(wrong)));
	assert_int_equal(errno, ESTALE);

	/* remembered: creating the file now changes nothing in this session */
	snprintf(path, sizeof(path), "%s/appears-later.so", f->dir);
	assert_null(unw_cache_get(c, path, NULL, 0));
	copy_file(LIBC, path);
	errno = 0;
	assert_null(unw_cache_get(c, path, NULL, 0));
	assert_int_equal(errno, ENOENT);
	assert_null(unw_cache_get(c, "/etc/passwd", NULL, 0));
	assert_int_equal(errno, ENOEXEC);
	unw_cache_get_stats(c, &st);
	assert_int_equal(st.failed, 4);
	assert_int_equal(st.mem_hits, 2);
	assert_int_equal(st.built, 0);
	unw_cache_free(c);
	unw_cache_free(NULL);
}

/* A table file copied over another build-id's name is rejected and rebuilt, never used. */
static void test_swapped(void **state)
{
	struct fixture *f = *state;
	struct unw_table *ref = unw_table_from_elf(LIBC, NULL, NULL);
	struct unw_cache_stats st;
	char libc_file[512], libm_file[512];
	struct unw_cache *c;

	assert_non_null(ref);
	c = unw_cache_new(f->dir);
	assert_non_null(unw_cache_get(c, LIBM, NULL, 0));
	unw_cache_free(c);
	only_file(f->dir, libm_file, sizeof(libm_file));
	c = unw_cache_new(f->dir);
	assert_non_null(unw_cache_get(c, LIBC, NULL, 0));
	unw_cache_free(c);
	/* libc's file is the one that is not libm's */
	{
		char sub[128];
		DIR *d;
		struct dirent *de;

		snprintf(sub, sizeof(sub), "%s/unwind-v%d-c%d", f->dir, UNW_TAB_VERSION,
			 UNW_CACHE_VERSION);
		d = opendir(sub);
		assert_non_null(d);
		libc_file[0] = 0;
		while ((de = readdir(d)))
			if (de->d_name[0] != '.' && !strstr(libm_file, de->d_name))
				snprintf(libc_file, sizeof(libc_file), "%s/%s", sub, de->d_name);
		closedir(d);
		assert_true(libc_file[0]);
	}
	copy_file(libm_file, libc_file);

	c = unw_cache_new(f->dir);
	const struct unw_table *t = unw_cache_get(c, LIBC, NULL, 0);
	assert_non_null(t);
	assert_same_table(t, ref);
	unw_cache_get_stats(c, &st);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.built, 1);
	assert_int_equal(st.disk_hits, 0);
	unw_cache_free(c);
	unw_table_free(ref);
}

/* A directory the caller does not own alone is refused, with a line that names it. */
static void test_dir_trust(void **state)
{
	struct fixture *f = *state;
	char root[128], target[128], sub[192];
	char *why = NULL;
	struct unw_cache *c;

	snprintf(root, sizeof(root), "%s/shared", f->dir);
	assert_int_equal(mkdir(root, 0700), 0);
	assert_int_equal(chmod(root, 01777), 0);
	errno = 0;
	c = unw_cache_open(root, &why);
	assert_null(c);
	assert_int_equal(errno, EACCES);
	assert_non_null(why);
	assert_non_null(strstr(why, root));
	assert_non_null(strstr(why, "writable by group or others"));
	free(why);
	assert_int_equal(chmod(root, 0700), 0);
	c = unw_cache_open(root, &why);
	assert_non_null(c);
	assert_null(why);
	unw_cache_free(c);

	if (geteuid() != 0) {
		skip();
		return;
	}
	/* another user's directory */
	assert_int_equal(chown(root, 65534, 65534), 0);
	c = unw_cache_open(root, &why);
	assert_null(c);
	assert_int_equal(errno, EPERM);
	assert_non_null(strstr(why, "belongs to uid 65534"));
	free(why);

	/* a link planted by another user for the versioned subdirectory: not followed */
	snprintf(root, sizeof(root), "%s/mine", f->dir);
	snprintf(target, sizeof(target), "%s/elsewhere", f->dir);
	assert_int_equal(mkdir(root, 0700), 0);
	assert_int_equal(mkdir(target, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/unwind-v%d-c%d", root, UNW_TAB_VERSION, UNW_CACHE_VERSION);
	assert_int_equal(symlink(target, sub), 0);
	assert_int_equal(lchown(sub, 65534, 65534), 0);
	c = unw_cache_open(root, &why);
	assert_null(c);
	assert_int_equal(errno, ELOOP);
	assert_non_null(strstr(why, sub));
	free(why);
	/* nothing was written behind the link */
	{
		DIR *d = opendir(target);
		struct dirent *de;
		int n = 0;

		assert_non_null(d);
		while ((de = readdir(d)))
			n += de->d_name[0] != '.';
		closedir(d);
		assert_int_equal(n, 0);
	}
}

/* In memory only: built once, then answered from memory; no root for other caches. */
static void test_memory(void **state)
{
	(void)state;
	struct unw_cache *c = unw_cache_new_memory();
	struct unw_cache_stats st;

	assert_non_null(c);
	assert_null(unw_cache_root(c));
	const struct unw_table *t = unw_cache_get(c, LIBC, NULL, 0);
	assert_non_null(t);
	assert_ptr_equal(unw_cache_get(c, LIBC, NULL, 0), t);
	unw_cache_get_stats(c, &st);
	assert_int_equal(st.built, 1);
	assert_int_equal(st.mem_hits, 1);
	assert_int_equal(st.disk_hits + st.rejected, 0);
	unw_cache_free(c);
}

/* $XDG_CACHE_HOME decides the directory when none is given. */
static void test_xdg(void **state)
{
	struct fixture *f = *state;
	char sub[128];
	struct stat sb;
	char *old = getenv("XDG_CACHE_HOME") ? strdup(getenv("XDG_CACHE_HOME")) : NULL;

	setenv("XDG_CACHE_HOME", f->dir, 1);
	struct unw_cache *c = unw_cache_new(NULL);
	assert_non_null(c);
	snprintf(sub, sizeof(sub), "%s/xprof/unwind-v%d-c%d", f->dir, UNW_TAB_VERSION,
		 UNW_CACHE_VERSION);
	assert_int_equal(stat(sub, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	unw_cache_free(c);
	if (old)
		setenv("XDG_CACHE_HOME", old, 1);
	else
		unsetenv("XDG_CACHE_HOME");
	free(old);

	errno = 0;
	assert_null(unw_cache_new("/proc/xprof-cannot-create"));
	assert_true(errno != 0);
}

/* A held table survives trims; once put back it goes, least recently used first, and comes back. */
static void test_trim(void **state)
{
	struct fixture *f = *state;
	struct unw_cache *c = unw_cache_new(f->dir);
	struct unw_cache_stats st;
	const struct unw_table *t, *u;

	assert_non_null(c);
	t = unw_cache_get(c, LIBC, NULL, 0);
	assert_non_null(t);
	assert_null(unw_cache_get(c, "/nonexistent/lib.so", NULL, 0)); /* a remembered failure */
	unw_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 2);
	assert_true(st.bytes > unw_table_count(t));
	unw_cache_trim(c, 0);
	unw_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 1); /* the failure went; the held table stays */
	assert_int_equal(st.evicted, 1);
	assert_true(unw_table_count(t) > 100); /* and is still readable */
	unw_cache_put(c, t);
	/* Within budget: nothing goes. */
	unw_cache_trim(c, st.bytes);
	unw_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 1);
	unw_cache_trim(c, 0);
	unw_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	/* Asked again: from the cache directory, not from memory. */
	u = unw_cache_get(c, LIBC, NULL, 0);
	assert_non_null(u);
	unw_cache_get_stats(c, &st);
	assert_int_equal(st.disk_hits, 1);
	assert_int_equal(st.built, 1);
	unw_cache_put(c, u);
	unw_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_build_id, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_xdg, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_swapped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dir_trust, setup, teardown),
	    cmocka_unit_test(test_memory),
	    cmocka_unit_test_setup_teardown(test_trim, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
