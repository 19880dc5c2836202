/* SPDX-License-Identifier: MIT */
/*
 * lib/: the small layer every other folder may use; it uses nothing else of
 * xprof. It holds what several folders need done one way: ELF build-id
 * notes and the own vDSO (elf.c), perf's MMAP2 records (perf.c), hashing
 * and the one open-addressing table (hash.c), and files (files.c), the one
 * way xprof writes them, so that the outputs
 * (.xprof, .folded, .svg, .pb.gz, .txt) and the caches (unwind tables,
 * symbol indexes, kernel symbols) share one set of rules:
 *
 *  - A symbolic link at a path xprof writes is followed only when it belongs
 *    to the caller (geteuid()); another user's link is refused, so root never
 *    writes where someone else pointed it.
 *  - A finished output is created under a temporary name in its directory
 *    (O_CREAT|O_EXCL|O_NOFOLLOW) and renamed over the final path once whole;
 *    a failed one leaves no file behind (and no 0-byte output).
 *  - A streamed output (the .xprof of `record`) is written in place, so a
 *    killed recorder leaves its prefix where the user asked for it, and holds
 *    an exclusive flock() for its whole life, so a second writer fails at
 *    once instead of interleaving records into the same file.
 *  - A cache directory is created without following links, mode 0700, and
 *    is used only if the caller owns it and no group or other may write it.
 *
 * Functions return 0 or -errno, never print and never exit.
 */
#ifndef XPROF_LIB_H
#define XPROF_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum xl_out_flags {
	XL_OUT_STREAM = 1u << 0, /* write in place under an exclusive lock (see above) */
	XL_OUT_SYNC = 1u << 1,	 /* fsync before the file is published or closed */
};

/*
 * An output being written. Invariants: fd >= 0 from a successful
 * xl_out_open() until xl_out_commit() or xl_out_abort(); tmp is NULL for a
 * streamed output; f, once xl_out_stdio() made it, owns fd.
 */
struct xl_out {
	int fd;
	FILE *f;
	char *path; /* the file written: the final path, or the target of the caller's own link */
	char *tmp;  /* the temporary name, renamed to path by xl_out_commit() */
	unsigned flags;
};

/*
 * May path be written as an output? Checks without creating anything: a
 * symbolic link of another user (-ELOOP), a directory (-EISDIR), a missing
 * directory (-ENOENT), a directory the caller cannot write (-EACCES), a
 * path too long (-ENAMETOOLONG). 0 if it looks writable.
 */
int xl_out_check(const char *path);

/*
 * Open path for writing (mode before umask, as for open(2)); flags are
 * XL_OUT_*. Without XL_OUT_STREAM the data goes to a temporary file beside
 * path until xl_out_commit(). With it, path itself is opened (created if
 * needed) and truncated once the exclusive lock is held; an existing file
 * must be a regular file owned by the caller, or a character device of root
 * or the caller (/dev/null), which is neither locked nor truncated. Errors: -ELOOP (another
 * user's link), -EBUSY (another process holds the lock), -EPERM (existing
 * file of another user), -EINVAL (not a regular file), -ENOMEM, or open(2)'s.
 * On error o holds nothing to release.
 */
int xl_out_open(struct xl_out *o, const char *path, unsigned flags, int mode);

/* A stdio stream on o's descriptor, made once; NULL with errno set. o keeps owning it. */
FILE *xl_out_stdio(struct xl_out *o);

/*
 * Finish o: flush, fsync (XL_OUT_SYNC), close and, for a temporary file,
 * rename it over the final path. On failure the temporary file is removed
 * and the final path is left as it was. Releases o either way. 0 or -errno
 * (the real one: -ENOSPC for a full disk, -EDQUOT, -EIO).
 */
int xl_out_commit(struct xl_out *o);

/*
 * Give up on o: close it and remove the temporary file. A streamed output
 * is kept (its prefix is the point). Accepts an o that holds nothing.
 */
void xl_out_abort(struct xl_out *o);

/* Write all len bytes to fd, retrying short writes and EINTR. 0 or -errno. */
int xl_write_all(int fd, const void *buf, size_t len);

/*
 * The whole of buf as path, atomically (temporary file and rename), for
 * caches: readers see the old file or the new one, never half of one.
 * Errors as xl_out_open() and xl_out_commit().
 */
int xl_write_file(const char *path, const void *buf, size_t len);

/*
 * mkdir -p path with mode, following no symbolic link that belongs to
 * neither the caller nor root. 0, -ELOOP (such a link), -ENOTDIR, or
 * mkdir(2)'s errors. On failure *bad, if bad is not NULL, is the malloc'ed
 * path of the component at fault (or NULL if out of memory).
 */
int xl_mkdirs(const char *path, int mode, char **bad);

/*
 * Is the directory path fit to hold a cache: not a link, owned by the
 * caller, not writable by group or others? 0, -ELOOP (a link), -ENOTDIR,
 * -EPERM (another owner), -EACCES (group or other may write), or lstat's.
 */
int xl_dir_private(const char *path);

/*
 * Open an existing file for reading without following a link at its last
 * component (O_NOFOLLOW) and without blocking on a FIFO; it must be a
 * regular file. The descriptor, or -errno (-EINVAL: not a regular file).
 */
int xl_open_regular(const char *path);

/* "no space left on device" for -ENOSPC, and so on: strerror(-err) in xprof's words. */
const char *xl_strerror(int err);

/* ---- elf.c ---------------------------------------------------------------- */

/*
 * The GNU build-id of an ELF64 little-endian file image (len bytes): the
 * first NT_GNU_BUILD_ID note of 1..max bytes (the kernel reports no other),
 * in a PT_NOTE segment, else in an SHT_NOTE section. Every offset is checked
 * against len. Fills id and *idlen (0 when there is none). 0, -ENOENT (no such
 * note) or -EINVAL (not ELF64).
 */
int xl_elf_build_id(const void *image, size_t len, uint8_t *id, size_t max, size_t *idlen);

/*
 * Go's linker writes no GNU build-id unless asked to, only its own note
 * ("Go\0\0", type 4, "actionID/.../contentID"): the last max bytes of its
 * description (the content ID), found as xl_elf_build_id() finds its note.
 * 0, -ENOENT or -EINVAL.
 */
int xl_elf_go_build_id(const void *image, size_t len, uint8_t *id, size_t max, size_t *idlen);

/* The same for the file at path (mapped read-only). 0, -ENOENT, -EINVAL, or -errno from open(2). */
int xl_build_id_file(const char *path, uint8_t *id, size_t max, size_t *len);

/*
 * This process's vDSO: the [vdso] mapping at AT_SYSINFO_EHDR, whole (every
 * 64-bit process of this kernel maps the same image). *image stays valid for
 * the process's life. 0, -ENOENT (no vDSO), or -errno reading /proc/self/maps.
 */
int xl_vdso_self(const uint8_t **image, size_t *len);

/* ---- perf.c --------------------------------------------------------------- */

/* A PERF_RECORD_MMAP2 record, decoded. path points into the record. */
struct xl_mmap2 {
	uint32_t pid, tid;
	uint64_t addr, len, pgoff;
	uint32_t prot, flags;
	uint32_t build_id_len; /* 0: none given */
	uint8_t build_id[20];
	const char *path;
};

/*
 * Decode the MMAP2 record rec (size bytes, perf_event_header included)
 * whose last trailer bytes are its sample_id fields. The build-id is taken
 * only if build_id says the record's event asked for build-ids and the
 * record's misc flag says it carries one. 0, or -EINVAL when the record is
 * too short or its file name is not terminated.
 */
int xl_perf_mmap2(const void *rec, size_t size, size_t trailer, bool build_id, struct xl_mmap2 *m);

/* ---- hashing ---------------------------------------------------------------- */

#define XL_FNV_SEED 0xcbf29ce484222325ull /* FNV-1a's 64-bit offset basis */

/*
 * 64-bit FNV-1a of n bytes, continuing from h (XL_FNV_SEED to start): the
 * hash that names cache files and keys tables. Its low bits are weak: mix
 * it (xl_mix64) before masking.
 */
uint64_t xl_fnv1a(const void *p, size_t n, uint64_t h);

/* A 64-bit finalizer (MurmurHash3's fmix64): every input bit moves every output bit. */
uint64_t xl_mix64(uint64_t x);

/*
 * Open addressing from 64-bit keys to 64-bit values. Key 0 marks an empty
 * slot and is never stored (callers add 1 to ids that may be 0). Linear
 * probing at load factor at most 1/2; deletion shifts later entries back,
 * so no tombstones pile up in a table that lives for days. Zero-initialise
 * to start; not thread-safe.
 */
struct xl_hmap {
	uint64_t *keys, *vals;
	size_t cap, n; /* cap a power of two (or 0), n <= cap / 2 */
};

/* The value of key into *val; false if absent. */
bool xl_hmap_get(const struct xl_hmap *h, uint64_t key, uint64_t *val);
/* Insert or replace. 0, -EINVAL (key 0) or -ENOMEM (h unchanged). */
int xl_hmap_put(struct xl_hmap *h, uint64_t key, uint64_t val);
/* Remove key if present. */
void xl_hmap_del(struct xl_hmap *h, uint64_t key);
/* Remove every key (a large table's memory is returned too). */
void xl_hmap_clear(struct xl_hmap *h);
/* Free the table's memory; h is empty and usable again. */
void xl_hmap_release(struct xl_hmap *h);

#endif /* XPROF_LIB_H */
