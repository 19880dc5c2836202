// SPDX-License-Identifier: MIT
/*
 * Separate debuginfo for a file, in the order gdb and perf look:
 *   1. the file itself when it carries .debug_info and .symtab;
 *   2. DEBUG_ROOT/.build-id/xx/yyyy.debug (Debian's -dbg and -dbgsym);
 *   3. .gnu_debuglink next to the file, in its .debug/ and under
 *      DEBUG_ROOT/<dir>/, accepted only when its CRC32 matches;
 *   4. debuginfod (libdebuginfod, which caches) when DEBUGINFOD_URLS is set;
 *   5. MiniDebugInfo: the xz-compressed ELF in .gnu_debugdata (Fedora, RHEL)
 *      holding the .symtab entries that .dynsym lacks.
 * A debug file whose build-id differs from the file's is refused.
 */
#include <dlfcn.h>
#include <elfutils/debuginfod.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "symbolize/symbolize_int.h"

#define XZ_MAX_OUT ((size_t)1 << 30) /* refuse decompression bombs */

int sym_file_crc32(int fd, uint32_t *crc)
{
	unsigned char buf[1 << 16];
	uLong c = crc32(0, Z_NULL, 0);
	off_t off = 0;

	for (;;) {
		ssize_t r = pread(fd, buf, sizeof(buf), off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		c = crc32(c, buf, (uInt)r);
		off += r;
	}
	*crc = (uint32_t)c;
	return 0;
}

int sym_xz_decompress(const void *in, size_t in_len, void **out, size_t *out_len)
{
	lzma_stream strm = LZMA_STREAM_INIT;
	size_t cap = in_len * 4 + 4096, len = 0;
	unsigned char *buf = NULL;
	int err = -EINVAL;

	if (lzma_stream_decoder(&strm, UINT64_MAX, 0) != LZMA_OK)
		return -ENOMEM;
	strm.next_in = in;
	strm.avail_in = in_len;
	for (;;) {
		if (!buf || len == cap) {
			size_t ncap = buf ? cap * 2 : cap;
			unsigned char *nb;

			if (ncap > XZ_MAX_OUT) {
				err = -EFBIG;
				goto out;
			}
			nb = realloc(buf, ncap);
			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		strm.next_out = buf + len;
		strm.avail_out = cap - len;
		lzma_ret ret = lzma_code(&strm, LZMA_FINISH);

		len = cap - strm.avail_out;
		if (ret == LZMA_STREAM_END)
			break;
		if (ret != LZMA_OK) {
			err = ret == LZMA_MEM_ERROR ? -ENOMEM : -EINVAL;
			goto out;
		}
		if (strm.avail_out && !strm.avail_in) {
			err = -EINVAL; /* truncated */
			goto out;
		}
	}
	*out = buf;
	*out_len = len;
	buf = NULL;
	err = 0;
out:
	free(buf);
	lzma_end(&strm);
	return err;
}

static bool same_build_id(struct sym_file *f, Elf *elf)
{
	const void *id;
	ssize_t len;

	if (!f->build_id_len)
		return true;
	len = dwelf_elf_gnu_build_id(elf, &id);
	if (len <= 0)
		return true; /* a debug file without a note: trust the path */
	return (size_t)len == f->build_id_len && !memcmp(id, f->build_id, f->build_id_len);
}

static bool use_debug_file(struct sym_file *f, const char *path, const char *prefix, bool check_crc,
			   uint32_t crc)
{
	int fd;
	struct stat a, b;

	/* The debuglink may name the file itself ("libfoo.so" in its dir). */
	if (f->path[0] && stat(path, &a) == 0 && stat(f->path, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino)
		return false;
	if (check_crc) {
		FILE *fp = fopen(path, "re");
		uint32_t got;

		if (!fp)
			return false;
		int err = sym_file_crc32(fileno(fp), &got);

		fclose(fp);
		if (err || got != crc)
			return false;
	}
	Elf *elf = sym_elf_open(path, &fd);

	if (!elf)
		return false;
	if (!same_build_id(f, elf)) {
		elf_end(elf);
		if (fd >= 0)
			close(fd);
		return false;
	}
	f->dbg_elf = elf;
	f->dbg_fd = fd;
	f->debug_source = sym_arena_printf(&f->arena, "%s%s", prefix, path);
	if (!f->debug_source)
		f->debug_source = "";
	return true;
}

static bool try_build_id_dir(struct sym_file *f, const char *root)
{
	char path[4096], idhex[2 * 64 + 1];

	if (f->build_id_len < 2)
		return false;
	for (size_t i = 0; i < f->build_id_len; i++)
		snprintf(idhex + 2 * i, 3, "%02x", f->build_id[i]);
	snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug", root, idhex, idhex + 2);
	return use_debug_file(f, path, "", false, 0);
}

static bool try_debuglink(struct sym_file *f, const char *root)
{
	GElf_Word crc;
	const char *link;
	char dir[4096], path[4096 + 256];

	if (!f->elf || !(link = dwelf_elf_gnu_debuglink(f->elf, &crc)) || !link[0] ||
	    strchr(link, '/'))
		return false;
	const char *slash = strrchr(f->path, '/');

	if (slash)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - f->path), f->path);
	else
		snprintf(dir, sizeof(dir), ".");
	const char *subs[] = {"", "/.debug"};

	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s%s/%s", dir, subs[i], link);
		if (use_debug_file(f, path, "", true, crc))
			return true;
	}
	snprintf(path, sizeof(path), "%s%s%s/%s", root, dir[0] == '/' ? "" : "/", dir, link);
	return use_debug_file(f, path, "", true, crc);
}

/*
 * xprof's limits for one debuginfod query, used when the user has not set
 * libdebuginfod's own variables (debuginfod-client-config(7)). Its defaults
 * are a 90 s "commencing" timeout (tried three times: DEBUGINFOD_RETRY_LIMIT
 * is 2), no limit on the whole download and none on its size: a server that
 * drips a byte a second held a report for minutes, and a 300 MB reply filled
 * the cache. A report waits at most this long for one file, and only once:
 * after a timeout the server counts as down for the session.
 */
#define DBGD_TIMEOUT	 "10"	       /* s: at least 100 KiB within this time, or give up */
#define DBGD_MAXTIME	 "60"	       /* s: a whole download, all retries included */
#define DBGD_MAXSIZE	 "268435456"   /* bytes (256 MiB): Debian's largest -dbgsym files fit */
#define DBGD_FIRST_BYTES (100 * 1024L) /* what DEBUGINFOD_TIMEOUT asks for */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The user's value of a DEBUGINFOD_* variable, else ours (set for libdebuginfod to read too). */
static long dbgd_knob(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	if (!v) {
		/*
		 * libdebuginfod 0.188 reads its limits from the environment at
		 * every query and has no API for them; setenv is the only way
		 * to hand it ours. Not overwriting keeps the user's choice.
		 */
		setenv(name, dflt, 0);
		v = dflt;
	}
	return atol(v);
}

/*
 * libdebuginfod calls this about once a second during a query (a: bytes
 * received once a server answers, b: its announced size, 0 before). It
 * enforces the limits where the library does not: its size cap trusts
 * Content-Length (a reply without one is never cut), its timeout and
 * maxtime restart with every retry. Non-zero cancels the query. (It takes
 * the place of the progress display DEBUGINFOD_PROGRESS would give.)
 */
static int dbgd_progress(debuginfod_client *c, long a, long b)
{
	void *(*get_user_data)(debuginfod_client *);
	struct sym_session *s;
	void *lib;
	double secs;

	/*
	 * The callback gets only the client; the session rides on it as user
	 * data, read with a function of the library, which is loaded
	 * RTLD_LOCAL: find it through the loaded library (RTLD_NOLOAD takes a
	 * reference to it, dropped again; it is never unloaded anyway).
	 */
	lib = dlopen("libdebuginfod.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
	if (!lib)
		return 0;
	get_user_data = (void *(*)(debuginfod_client *))dlsym(lib, "debuginfod_get_user_data");
	s = get_user_data ? get_user_data(c) : NULL;
	dlclose(lib);
	if (!s)
		return 0;
	secs = (double)(now_ns() - s->dbgd_start_ns) / 1e9;
	/* b is 0 until a server answers; a is then the bytes received so far */
	long got = b ? a : 0;

	if (s->dbgd_maxsize > 0 && (got > s->dbgd_maxsize || b > s->dbgd_maxsize)) {
		s->dbgd_cancel = -EFBIG;
		return 1;
	}
	if ((s->dbgd_maxtime > 0 && secs > (double)s->dbgd_maxtime) ||
	    (s->dbgd_timeout > 0 && secs > (double)s->dbgd_timeout && got < DBGD_FIRST_BYTES)) {
		s->dbgd_cancel = -ETIME;
		return 1;
	}
	return 0;
}

/*
 * libdebuginfod pulls in libcurl, GnuTLS, Kerberos and LDAP: linking it
 * would cost every run ~5 ms of loading and constructors, more than a
 * cached report of a small recording. Like libdwfl, load it only when a
 * file actually needs it.
 *
 * RTLD_NODELETE: it is never unloaded. libcurl's global state, which
 * libdebuginfod initializes and never cleans up (curl_global_init), lives
 * in the library's memory: unloading it made ~107 KB unreachable, reported
 * by LeakSanitizer on every run with DEBUGINFOD_URLS set.
 */
static bool debuginfod_load(struct sym_session *s)
{
	s->dbgd_lib = dlopen("libdebuginfod.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (s->dbgd_lib) {
		s->dbgd_begin =
		    (debuginfod_client * (*)(void)) dlsym(s->dbgd_lib, "debuginfod_begin");
		s->dbgd_find = (int (*)(debuginfod_client *, const unsigned char *, int,
					char **))dlsym(s->dbgd_lib, "debuginfod_find_debuginfo");
		s->dbgd_end = (void (*)(debuginfod_client *))dlsym(s->dbgd_lib, "debuginfod_end");
		s->dbgd_set_progressfn =
		    (void (*)(debuginfod_client *, debuginfod_progressfn_t))dlsym(
			s->dbgd_lib, "debuginfod_set_progressfn");
		s->dbgd_set_user_data = (void (*)(debuginfod_client *, void *))dlsym(
		    s->dbgd_lib, "debuginfod_set_user_data");
		s->dbgd_get_user_data =
		    (void *(*)(debuginfod_client *))dlsym(s->dbgd_lib, "debuginfod_get_user_data");
		s->dbgd_set_verbose_fd = (void (*)(debuginfod_client *, int))dlsym(
		    s->dbgd_lib, "debuginfod_set_verbose_fd");
	}
	if (!s->dbgd_begin || !s->dbgd_find || !s->dbgd_end || !s->dbgd_set_progressfn ||
	    !s->dbgd_set_user_data || !s->dbgd_get_user_data) {
		fprintf(stderr,
			"xprof: DEBUGINFOD_URLS is set but libdebuginfod.so.1 cannot be loaded: "
			"install libdebuginfod1 (or unset DEBUGINFOD_URLS)\n");
		return false;
	}
	s->dbgd_timeout = dbgd_knob("DEBUGINFOD_TIMEOUT", DBGD_TIMEOUT);
	s->dbgd_maxtime = dbgd_knob("DEBUGINFOD_MAXTIME", DBGD_MAXTIME);
	s->dbgd_maxsize = dbgd_knob("DEBUGINFOD_MAXSIZE", DBGD_MAXSIZE);
	s->dbgd = s->dbgd_begin();
	if (!s->dbgd)
		return false;
	s->dbgd_set_user_data(s->dbgd, s);
	s->dbgd_set_progressfn(s->dbgd, dbgd_progress);
	/*
	 * libdebuginfod 0.188 writes some verbose lines without checking that
	 * verbose output is on ("if (vfd)" with vfd -1, e.g. "using max size"),
	 * and glibc's dprintf() to a bad fd leaks its 8 KiB buffer: once per
	 * query. A real fd that discards them avoids it; DEBUGINFOD_VERBOSE
	 * still gets stderr.
	 */
	if (!getenv("DEBUGINFOD_VERBOSE") && s->dbgd_set_verbose_fd) {
		s->dbgd_null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		s->dbgd_null_open = s->dbgd_null_fd >= 0;
		if (s->dbgd_null_open)
			s->dbgd_set_verbose_fd(s->dbgd, s->dbgd_null_fd);
	}
	return true;
}

static bool try_debuginfod(struct sym_session *s, struct sym_file *f)
{
	const char *urls = getenv("DEBUGINFOD_URLS");
	char *path = NULL;

	if (s->opts.no_debuginfod || !urls || !urls[0] || !f->build_id_len)
		return false;
	if (!s->dbgd_tried) {
		s->dbgd_tried = true;
		debuginfod_load(s);
	}
	if (!s->dbgd || s->dbgd_down)
		return false;
	s->dbgd_start_ns = now_ns();
	s->dbgd_cancel = 0;
	int fd = s->dbgd_find(s->dbgd, f->build_id, (int)f->build_id_len, &path);

	if (fd < 0) {
		/* A cancelled query returns -ENOENT; the callback knows why. */
		int err = s->dbgd_cancel ? s->dbgd_cancel : fd;

		/* A server that cannot be reached or is too slow costs a timeout per file:
		 * after the first such failure, stop asking (ENOENT, "no such build-id", and
		 * EFBIG, "too large", are answers and do not count). libdebuginfod says
		 * ETIME for its own timeouts. */
		switch (-err) {
		case ETIME:
		case ETIMEDOUT:
		case ECONNREFUSED:
		case ECONNRESET:
		case EHOSTUNREACH:
		case ENETUNREACH:
		case ENETDOWN:
		case EAGAIN:
			s->dbgd_down = true;
			break;
		default:
			break;
		}
		free(path);
		return false;
	}
	close(fd);
	bool ok = path && use_debug_file(f, path, "debuginfod: ", false, 0);

	free(path);
	return ok;
}

static bool try_minidebuginfo(struct sym_file *f)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (!f->elf || elf_getshdrstrndx(f->elf, &shstrndx) != 0)
		return false;
	while ((scn = elf_nextscn(f->elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS)
			continue;
		name = elf_strptr(f->elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".gnu_debugdata"))
			continue;
		Elf_Data *data = elf_rawdata(scn, NULL);
		void *img;
		size_t len;

		if (!data || !data->d_buf ||
		    sym_xz_decompress(data->d_buf, data->d_size, &img, &len))
			return false;
		Elf *elf = elf_memory(img, len);

		if (!elf || elf_kind(elf) != ELF_K_ELF) {
			if (elf)
				elf_end(elf);
			free(img);
			return false;
		}
		f->dbg_elf = elf;
		f->dbg_image = img;
		f->debug_source = sym_arena_printf(&f->arena, "%s [.gnu_debugdata]", f->path);
		if (!f->debug_source)
			f->debug_source = "";
		return true;
	}
	return false;
}

void sym_debuginfo_find(struct sym_session *s, struct sym_file *f)
{
	const char *root = s->opts.debug_root ? s->opts.debug_root : "/usr/lib/debug";

	if (f->elf && sym_elf_has_section(f->elf, ".debug_info", -1) &&
	    sym_elf_has_section(f->elf, ".symtab", SHT_SYMTAB)) {
		f->debug_source = f->path;
		return;
	}
	if (try_build_id_dir(f, root) || try_debuglink(f, root) || try_debuginfod(s, f) ||
	    try_minidebuginfo(f))
		return;
	if (f->elf && sym_elf_has_section(f->elf, ".symtab", SHT_SYMTAB))
		f->debug_source = f->path;
}
