// SPDX-License-Identifier: MIT
/*
 * The report pipeline: events of one recording in, a report profile out.
 *
 * Mappings over time. Each process keeps a sorted, non-overlapping array of
 * its executable mappings. Events arrive in the recording's order: an mmap
 * replaces whatever it overlaps, exec drops the mappings made before it, a
 * new process starts with a copy of its parent's. A sample is unwound and
 * symbolized against the mappings as they are when it is read, which is the
 * moment it was taken.
 *
 * Files. Every mapped file is opened once per session (keyed by build-id,
 * else path): its executable PT_LOAD segments give each mapping's load bias,
 * the table cache gives its unwind table, the symbolizer its names. With a
 * build-id, the file is looked for as its process sees it (the host's path,
 * else through /proc/PID: a container's files), and the caches read it by
 * the name it was found under. A file found nowhere with the recording's
 * build-id (replaced since, or its container gone) is not trusted for
 * either; its frames show as "[name+0xoff]".
 *
 * The per-sample path allocates nothing once warm: frames go into a session
 * buffer, unique (mapping, address) pairs are symbolized once and remembered
 * as report location ids in a hash table.
 *
 * Windows and expiry. The profile belongs to the current window: taking it
 * (xp_session_window_take) hands it to the caller and forgets every id that
 * pointed into it (the locs hash, each mapping's rep_id), while processes,
 * mappings, modules and symbols stay. A process goes XP_EXIT_GRACE_NS of
 * stream time after its EXIT (a sample may be read just after the EXIT of
 * its process), a thread's name likewise; a module goes when the last
 * mapping of it does, handing its unwind table and symbol file back to their
 * caches, which keep what fits in opts.memory_limit, least recently used
 * first. So memory follows what is alive, not what ever lived.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/types.h>

#include "bpf/sample.h"
#include "lib/lib.h"
#include "pipeline/pipeline.h"
#include "pipeline/pipeline_int.h"

#define MAX_SEGS 8
/* Descriptors of container files held for their first sample: well within 1024, the usual limit. */
#define XP_HELD_MAX 256

struct module {
	char *path;
	uint64_t key;  /* in s->files */
	unsigned refs; /* mappings of it, in every process */
	uint8_t build_id[XP_BUILD_ID_MAX];
	uint32_t build_id_len;
	bool vdso;
	bool stale;	/* file's build-id differs from the recording's */
	bool unreached; /* stale: no file with its build-id was found (tried again) */
	/*
	 * A file not at its host path (a container's): the name it was found
	 * under (NULL: path), and until module_load() its descriptor (-1: none),
	 * so a process gone by its first sample leaves it readable; at most
	 * XP_HELD_MAX modules hold one (s->nheld).
	 */
	char *open_path;
	int fd;
	bool go_build_id; /* build_id is the end of the Go build-id note, not a GNU one */
	bool loaded;	  /* module_load() ran: table, sym and image are what they will be */
	uint8_t cache_id[XP_BUILD_ID_MAX]; /* the id the caches key the file by */
	uint32_t cache_id_len;		   /* 0: none (a Go build-id, or no note) */
	unsigned nsegs;			   /* executable PT_LOADs */
	uint64_t seg_off[MAX_SEGS], seg_vaddr[MAX_SEGS], seg_filesz[MAX_SEGS];
	const struct unw_table *table;
	bool own_table; /* table built here (vDSO, Go overlay), not the cache's */
	const struct unw_table *cache_table; /* the cache's, held until module_free() */
	struct sym_file *sym;
	/* the file's bytes, mapped read-only: the code stack scanning decodes */
	const uint8_t *image;
	size_t image_len;
	bool image_mapped;	    /* image is our mmap (not the vDSO copy) */
	struct module *prev, *next; /* session's list */
};

struct map {
	struct unw_module um; /* start, end, bias, table: what the unwinder sees */
	bool ready;	      /* um.table and um.code set from the loaded module */
	uint64_t pgoff;
	uint64_t time_ns;   /* when it was mapped */
	struct module *mod; /* NULL: anonymous executable memory (JIT) */
	const char *path;   /* module path, or the anonymous mapping's name */
	uint32_t rep_id;    /* its report mapping; NO_REP_ID until first needed */
	bool stale;	    /* mod was stale when mapped: no bias, no table (mod may load later) */
};

#define NO_REP_ID UINT32_MAX

struct proc {
	uint32_t pid;
	uint64_t last_ns; /* time of its last sample or mmap */
	bool sampled;
	uint64_t window;  /* s->window when it was last counted in wprocesses */
	uint64_t exit_ns; /* time of its EXIT, 0 while alive */
	bool phantom;	  /* known from samples alone: expires like an exited process */
	bool uid_known;	  /* the recording said whom it ran as (an UID event, or its parent's) */
	uint32_t uid;
	struct map *maps; /* sorted by start, non-overlapping */
	size_t nmaps, cap;
};

/* A thread's name; exit_ns: time of its EXIT, 0 while alive. */
struct comm {
	char name[XP_EV_COMM_LEN];
	uint64_t exit_ns;
};

/* An EXIT waiting for its grace time to pass. */
struct exit_ev {
	uint32_t pid, tid;
	uint64_t time_ns;
};

struct xp_session {
	struct xp_session_opts opts;
	struct sym_session *sym;
	struct unw_cache *cache;
	char *cache_refused; /* why the cache directory was not used, or NULL */
	struct rep_profile *prof;
	struct module *modules;
	struct xl_hmap procs; /* pid + 1 -> struct proc * */
	struct xl_hmap comms; /* tid + 1 -> index into comm_blob */
	struct xl_hmap files; /* hash of (build-id or path) -> struct module * */
	struct xp_pins pins;  /* files a capture held open for us (xp_session_pin) */
	unsigned nheld;	      /* modules holding their file's descriptor */
	struct xl_hmap locs;  /* (mapping, ip, trap) -> location id + 1, this window's */
	struct comm *comm_blob;
	size_t ncomms, comm_cap;
	uint32_t *comm_free; /* slots of comm_blob freed by expiry, reused first */
	size_t ncomm_free, comm_free_cap;
	struct exit_ev *exits; /* ring of EXITs in arrival order */
	size_t exit_head, nexits, exit_cap;
	uint64_t now_ns;	    /* latest event time seen */
	uint64_t next_trim_ns;	    /* stream time of the next cache trim (memory_limit) */
	uint64_t window;	    /* windows taken so far */
	uint64_t window_start_ns;   /* stream time the current window began (0: first event) */
	uint64_t clock_ns, real_ns; /* one moment on the recording's clock and CLOCK_REALTIME */
	bool clock_set;
	uint64_t nprocs, nmodules;
	/* opts.describe_all: lines of files no longer mapped, and their keys */
	FILE *gone_f;
	char *gone;
	size_t gone_len;
	struct xl_hmap described;
	uint64_t period_ns;		/* of the latest sample: a new window's profile gets it */
	uint64_t first_ns;		/* time of the first event */
	struct xp_session_stats wbase;	/* stats when the current window began */
	struct xp_session_stats wstats; /* of the last window taken */
	uint64_t wprocesses;		/* distinct processes sampled in this window */
	uint8_t *vdso_image;		/* recorded (or, for perf.data, this machine's) vDSO */
	size_t vdso_len;
	struct xp_session_stats stats;
	struct unw_frame frames[XP_MAX_FRAMES];
	uint32_t loc_ids[XP_MAX_FRAMES + XP_KSTACK_MAX];
	struct rep_line lines[64];
};

/* FNV-1a, then mixed; never 0 so it can be a key. */
static uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
	uint64_t h = xl_mix64(xl_fnv1a(p, n, XL_FNV_SEED ^ seed));

	return h ? h : 1;
}

/* ---- processes and comms ------------------------------------------------- */

static struct proc *proc_get(struct xp_session *s, uint32_t pid, bool create)
{
	uint64_t v;
	struct proc *p;

	if (xl_hmap_get(&s->procs, (uint64_t)pid + 1, &v))
		return (struct proc *)(uintptr_t)v;
	if (!create)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	if (xl_hmap_put(&s->procs, (uint64_t)pid + 1, (uintptr_t)p)) {
		free(p);
		return NULL;
	}
	s->nprocs++;
	return p;
}

/*
 * Name thread tid. comm may point into comm_blob itself (a fork copies the
 * parent's name), and growing the blob moves it: copy the name out first.
 */
static void comm_set(struct xp_session *s, uint32_t tid, const char *comm)
{
	char name[XP_EV_COMM_LEN] = "";
	uint64_t v;

	/* A reader's name need not end in a NUL within its 16 bytes. */
	memcpy(name, comm, strnlen(comm, sizeof(name) - 1));
	if (!xl_hmap_get(&s->comms, (uint64_t)tid + 1, &v)) {
		if (s->ncomm_free) {
			v = s->comm_free[s->ncomm_free - 1];
		} else {
			if (s->ncomms == s->comm_cap) {
				size_t ncap = s->comm_cap ? s->comm_cap * 2 : 64;
				void *n = realloc(s->comm_blob, ncap * sizeof(*s->comm_blob));
				if (!n)
					return;
				s->comm_blob = n;
				s->comm_cap = ncap;
			}
			v = s->ncomms;
		}
		if (xl_hmap_put(&s->comms, (uint64_t)tid + 1, v))
			return;
		if (s->ncomm_free)
			s->ncomm_free--;
		else
			s->ncomms++;
	}
	memcpy(s->comm_blob[v].name, name, sizeof(name));
	s->comm_blob[v].exit_ns = 0;
}

/*
 * Copy thread tid's name into out; false if it has none. A copy, not a
 * pointer: the blob moves whenever comm_set() grows it.
 */
static bool comm_get(const struct xp_session *s, uint32_t tid, char out[XP_EV_COMM_LEN])
{
	uint64_t v;

	if (!xl_hmap_get(&s->comms, (uint64_t)tid + 1, &v))
		return false;
	memcpy(out, s->comm_blob[v].name, XP_EV_COMM_LEN);
	return true;
}

static struct comm *comm_entry(const struct xp_session *s, uint32_t tid)
{
	uint64_t v;

	return xl_hmap_get(&s->comms, (uint64_t)tid + 1, &v) ? &s->comm_blob[v] : NULL;
}

/* Forget thread tid's name; its slot is reused. */
static void comm_del(struct xp_session *s, uint32_t tid)
{
	uint64_t v;

	if (!xl_hmap_get(&s->comms, (uint64_t)tid + 1, &v))
		return;
	if (s->ncomm_free == s->comm_free_cap) {
		size_t ncap = s->comm_free_cap ? s->comm_free_cap * 2 : 64;
		uint32_t *n = realloc(s->comm_free, ncap * sizeof(*n));

		if (!n)
			return; /* keep the name: it costs 24 bytes, a lost slot would too */
		s->comm_free = n;
		s->comm_free_cap = ncap;
	}
	xl_hmap_del(&s->comms, (uint64_t)tid + 1);
	s->comm_free[s->ncomm_free++] = (uint32_t)v;
}

/* ---- modules (mapped files) ---------------------------------------------- */

/*
 * Go's linker writes no GNU build-id (unless asked to), only its own note;
 * its content ID (xl_elf_go_build_id()) stands in for the build-id where
 * only a name is needed (pprof mappings, report -v).
 */
/*
 * Read the executable PT_LOADs and the build-id note of an ELF file or image;
 * *go_len is set instead of *bid_len when only a Go build-id note is there.
 */
static int module_read_elf(struct module *m, Elf *elf, uint8_t *bid, size_t *bid_len,
			   size_t *go_len)
{
	GElf_Ehdr eh;
	size_t nph;

	if (!gelf_getehdr(elf, &eh) || eh.e_machine != EM_X86_64 || elf_getphdrnum(elf, &nph))
		return -ENOEXEC;
	*bid_len = 0;
	*go_len = 0;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph))
			continue;
		if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) && m->nsegs < MAX_SEGS) {
			m->seg_off[m->nsegs] = ph.p_offset;
			m->seg_vaddr[m->nsegs] = ph.p_vaddr;
			m->seg_filesz[m->nsegs] = ph.p_filesz;
			m->nsegs++;
		}
	}
	{
		size_t n;
		const char *raw = elf_rawfile(elf, &n); /* the mapped file or the image */

		if (raw && xl_elf_build_id(raw, n, bid, XP_BUILD_ID_MAX, bid_len))
			xl_elf_go_build_id(raw, n, bid, XP_BUILD_ID_MAX, go_len);
	}
	return m->nsegs ? 0 : -ENOEXEC;
}

/* ---- Go code: frames from .gopclntab ------------------------------------- */

struct go_spans {
	struct unw_span *v;
	size_t n, cap;
};

/*
 * One pcsp run as an unwind rule, Go's frame convention on amd64: the
 * return address sits sp bytes above rsp (CFA = rsp + sp + 8, as the
 * runtime's traceback computes fp), and Go code with a frame keeps the
 * caller's rbp right below it (CFA - 16: PUSHQ BP in newer releases, MOVQ
 * BP to the frame's top in go1.19; once a frame holds 8 bytes or more the
 * slot is written, except for the one instruction between SUBQ and MOVQ in
 * the MOVQ form). Assembly follows no such convention: rbp is left as it
 * is. Functions that write rsp arbitrarily use frame pointers, and the
 * outermost ones (goexit, mstart, rt0_go; mcall and morestack on g0) end
 * the stack.
 */
static int go_span(void *ctx, uint64_t lo, uint64_t hi, int32_t sp, uint32_t flags)
{
	struct go_spans *gs = ctx;
	struct unw_rule r = {.type = UNW_RULE_FALLBACK};

	if (flags & SYM_GO_SIGRETURN)
		r.type = UNW_RULE_SIGNAL;
	else if (flags & SYM_GO_TOPFRAME)
		r.type = UNW_RULE_OUTERMOST;
	else if (!(flags & SYM_GO_SPWRITE) && sp >= 0 && sp <= (1 << 28) && !(sp & 7))
		r = (struct unw_rule){
		    .type = UNW_RULE_CFA,
		    .cfa_reg = 7, /* rsp */
		    .cfa_off = sp + 8,
		    .ra_loc = UNW_LOC_CFA_OFF,
		    .ra_off = -8,
		    .bp_loc = !(flags & SYM_GO_ASM) && sp >= 8 ? UNW_LOC_CFA_OFF : UNW_LOC_SAME,
		    .bp_off = !(flags & SYM_GO_ASM) && sp >= 8 ? -16 : 0,
		};
	if (gs->n && lo < gs->v[gs->n - 1].end)
		return 0; /* out of order (a malformed table): keep the first */
	if (gs->n == gs->cap) {
		size_t ncap = gs->cap ? gs->cap * 2 : 4096;
		struct unw_span *nv = realloc(gs->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		gs->v = nv;
		gs->cap = ncap;
	}
	gs->v[gs->n++] = (struct unw_span){.start = lo, .end = hi, .rule = r};
	return 0;
}

struct unw_table *xp_go_table(const struct sym_file *sym, const struct unw_table *base)
{
	struct go_spans gs = {0};
	struct unw_table *t = NULL;
	int err;

	if (!sym_file_is_go(sym)) {
		errno = ENOENT;
		return NULL;
	}
	err = sym_file_go_spans(sym, go_span, &gs);
	if (!err && !gs.n)
		err = -ENOENT;
	if (!err) {
		t = unw_table_overlay(base, gs.v, gs.n);
		err = t ? 0 : -errno;
	}
	free(gs.v);
	errno = -err;
	return t;
}

/*
 * A Go binary's table: its pcsp runs over whatever CFI it has (.debug_frame
 * in a default build, nothing with -s -w; the C code of cgo keeps its
 * .eh_frame). Built per session: decoding pcsp costs milliseconds.
 */
static void module_go_table(struct module *m)
{
	struct unw_table *t = xp_go_table(m->sym, m->table);

	if (t) {
		m->table = t;
		m->own_table = true;
	}
}

/* Make sure the session has this machine's vDSO when the recording carried none. */
static void vdso_capture_own(struct xp_session *s)
{
	const uint8_t *img;
	size_t len;

	if (s->vdso_image || xl_vdso_self(&img, &len))
		return;
	s->vdso_image = malloc(len);
	if (s->vdso_image) {
		memcpy(s->vdso_image, img, len);
		s->vdso_len = len;
	}
}

/*
 * The file of mapping mm as its process sees it (mapped.c), and in
 * open_path a name of it for the caches, which open by path. Without a
 * build-id to check a candidate against, the host's path, as it is. A file
 * none of whose candidates has the mapping's build-id is stale: changed
 * since, or in the mount namespace of a process gone. A descriptor or -errno.
 */
static int module_open(struct xp_session *s, struct module *m, const struct xp_ev_mmap *mm,
		       char *open_path, size_t len)
{
	enum xp_mapped_via via;
	int fd;

	if (!mm->build_id_len) {
		snprintf(open_path, len, "%s", mm->path);
		fd = open(mm->path, O_RDONLY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	fd = xp_mapped_open("/proc", mm->pid, mm->start, mm->start + mm->len, mm->path,
			    mm->build_id, mm->build_id_len, open_path, len, &via);
	if (fd >= 0 && via != XP_MAPPED_HOST)
		s->stats.ns_files++;
	if (fd >= 0) {
		int pin = xp_pins_take(&s->pins, mm->build_id, mm->build_id_len);

		if (pin >= 0)
			close(pin); /* found as it is: the pin's name would say less */
	} else if (fd == -ESTALE || fd == -ENOENT) {
		/* the process is gone; its file, if a capture held it for us, is not */
		fd = xp_pins_take(&s->pins, mm->build_id, mm->build_id_len);
		if (fd >= 0) {
			snprintf(open_path, len, "/proc/self/fd/%d", fd);
			s->stats.ns_files++;
		} else {
			if (!m->unreached)
				s->stats.stale_files++;
			m->stale = m->unreached = true;
			return -ESTALE;
		}
	}
	if (fd >= 0)
		m->stale = m->unreached = false;
	return fd;
}

/* Does process pid exist on this machine now (as whoever)? */
static bool proc_alive(uint32_t pid)
{
	return pid && pid <= INT32_MAX && (!kill((pid_t)pid, 0) || errno == EPERM);
}

/*
 * Open m's file for mapping mm when it is mapped: segments, build-id. A file
 * found away from its host path keeps its name, and its descriptor if there
 * is room, for module_load().
 */
static void module_read(struct xp_session *s, struct module *m, const struct xp_ev_mmap *mm,
			bool vdso)
{
	uint8_t bid[XP_BUILD_ID_MAX];
	size_t bid_len = 0, go_len = 0;
	char open_path[4352]; /* PATH_MAX under /proc/PID/root */
	Elf *elf = NULL;
	int fd = -1;

	if (vdso) {
		vdso_capture_own(s);
		if (s->vdso_image)
			elf = elf_memory((char *)s->vdso_image, s->vdso_len);
	} else {
		fd = module_open(s, m, mm, open_path, sizeof(open_path));
		if (fd >= 0)
			elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	}
	if (!elf || module_read_elf(m, elf, bid, &bid_len, &go_len))
		goto out; /* unreadable: no bias, no table; frames become "[name+0xoff]" */
	if (!m->build_id_len && go_len) {
		/* a name only: the caches check GNU build-ids, so they get none */
		memcpy(m->build_id, bid, go_len);
		m->build_id_len = (uint32_t)go_len;
		m->go_build_id = true;
	}
	if (m->build_id_len && !m->go_build_id && bid_len &&
	    (bid_len != m->build_id_len || memcmp(bid, m->build_id, bid_len))) {
		m->stale = true;
		s->stats.stale_files++;
		goto out;
	}
	if (!m->go_build_id) {
		m->cache_id_len = m->build_id_len ? m->build_id_len : (uint32_t)bid_len;
		memcpy(m->cache_id, m->build_id_len ? m->build_id : bid, m->cache_id_len);
	}
	if (vdso) {
		m->image = s->vdso_image;
		m->image_len = s->vdso_len;
		m->table = unw_table_from_image(s->vdso_image, s->vdso_len, NULL);
		m->own_table = true;
		m->sym = sym_file_from_image(s->sym, "[vdso]", s->vdso_image, s->vdso_len);
	}
	if (!vdso && m->nsegs && strcmp(open_path, m->path)) {
		bool ours = !strncmp(open_path, "/proc/self/", 11); /* fd's name: dies with it */

		free(m->open_path);
		m->open_path = ours ? NULL : strdup(open_path);
		if (s->nheld < XP_HELD_MAX) {
			m->fd = fd;
			fd = -1;
			s->nheld++;
		}
	}
out:
	m->loaded = vdso || m->stale || !m->nsegs; /* nothing more to read */
	if (elf)
		elf_end(elf);
	if (fd >= 0)
		close(fd);
}

static struct module *module_get(struct xp_session *s, const struct xp_ev_mmap *mm, bool vdso)
{
	uint64_t key, v;
	struct module *m;

	if (vdso)
		key = hash_bytes("[vdso]", 6, 2);
	else if (mm->build_id_len)
		key = hash_bytes(mm->build_id, mm->build_id_len, 0);
	else
		key = hash_bytes(mm->path, strlen(mm->path), 1);
	if (xl_hmap_get(&s->files, key, &v)) {
		int pin;

		m = (struct module *)(uintptr_t)v;
		if (m->unreached && (proc_alive(mm->pid) ||
				     xp_pins_held(&s->pins, mm->build_id, mm->build_id_len))) {
			/*
			 * A process whose file could not be reached left it stale; this
			 * one is alive, or its file held: try again, or every later
			 * process would share the raw frames while any mapping holds m.
			 * (Not for a gone one: a report of another machine's recording
			 * would look for its missing files at every mmap.)
			 */
			module_read(s, m, mm, vdso);
			return m;
		}
		pin = vdso || !mm->build_id_len
			  ? -ENOENT
			  : xp_pins_take(&s->pins, mm->build_id, mm->build_id_len);
		if (pin >= 0)
			close(pin); /* the file is open already */
		return m;
	}

	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->path = strdup(vdso ? "[vdso]" : mm->path);
	if (!m->path) {
		free(m);
		return NULL;
	}
	m->vdso = vdso;
	m->key = key;
	m->fd = -1;
	m->build_id_len = mm->build_id_len;
	memcpy(m->build_id, mm->build_id, mm->build_id_len);
	if (xl_hmap_put(&s->files, key, (uintptr_t)m)) {
		free(m->path);
		free(m);
		return NULL;
	}
	m->next = s->modules;
	if (s->modules)
		s->modules->prev = m;
	s->modules = m;
	s->nmodules++;

	module_read(s, m, mm, vdso);
	return m;
}

/*
 * What a file costs, read on its first sample rather than when it is
 * mapped: its unwind table, its symbols (perhaps a debuginfod query) and
 * its bytes for the code analysers. A host-wide agent sees hundreds of
 * files mapped and samples a few of them: `record -a` for 3 s over 285
 * processes sampled 17. A file replaced in between is caught by the caches'
 * build-id checks.
 */
static void module_load(struct xp_session *s, struct module *m)
{
	char fd_path[32];
	const char *path = m->open_path ? m->open_path : m->path;
	struct stat st;
	void *img;
	int fd;

	if (m->loaded)
		return;
	m->loaded = true;
	if (m->fd >= 0) {
		uint8_t id[XP_BUILD_ID_MAX];
		size_t len = 0;

		/* The name it was found under while it still is that file (a live
		 * process): symbols and .gnu_debuglink go by it. Else the one held. */
		if (!m->open_path || xl_build_id_file(m->open_path, id, sizeof(id), &len) ||
		    len != m->cache_id_len || memcmp(id, m->cache_id, len)) {
			snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", m->fd);
			path = fd_path;
		}
		fd = m->fd;
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd >= 0) {
		if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size > 0 &&
		    (img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) !=
			MAP_FAILED) {
			m->image = img;
			m->image_len = (size_t)st.st_size;
			m->image_mapped = true;
		}
	}
	m->table = m->cache_table =
	    unw_cache_get(s->cache, path, m->cache_id_len ? m->cache_id : NULL, m->cache_id_len);
	m->sym = sym_file_get(s->sym, path, m->cache_id_len ? m->cache_id : NULL, m->cache_id_len);
	module_go_table(m);
	/* Indexing read the file's symbols; a bounded session need not keep them resident. */
	if (s->opts.memory_limit)
		sym_file_pageout(m->sym);
	if (fd >= 0)
		close(fd);
	if (m->fd >= 0) {
		m->fd = -1;
		s->nheld--;
	}
}

/* A mapping's table and code, from its module loaded on first use. */
static void map_ready(struct xp_session *s, struct map *m)
{
	uint64_t len = m->um.end - m->um.start;

	if (m->ready || !m->mod)
		return;
	m->ready = true;
	module_load(s, m->mod);
	if (m->stale) /* when mapped: its module may have been found since, not for it */
		return;
	m->um.table = m->mod->table;
	if (m->mod->image && m->pgoff < m->mod->image_len) {
		m->um.code = m->mod->image + m->pgoff;
		m->um.code_len =
		    m->mod->image_len - m->pgoff < len ? m->mod->image_len - m->pgoff : len;
	}
}

/* One line for m: path, build-id, unwind table size, debuginfo source. */
static void describe_one(const struct module *m, FILE *out)
{
	char hex[2 * XP_BUILD_ID_MAX + 1] = "-";
	const char *dbg = m->sym ? sym_file_debug_source(m->sym) : "";

	for (uint32_t i = 0; i < m->build_id_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", m->build_id[i]);
	fprintf(out, "xprof: file %s build-id %s: ", m->path, hex);
	if (m->stale)
		fprintf(out, "changed since recording, not used\n");
	else if (!m->nsegs)
		fprintf(out, "not readable\n");
	else if (!m->loaded)
		fprintf(out, "not sampled, not read\n");
	else
		fprintf(out, "table %zu rows, debuginfo %s\n",
			m->table ? unw_table_count(m->table) : 0, *dbg ? dbg : "none");
}

/* A module no mapping uses any more: its table and symbols go back to their caches. */
static void module_free(struct xp_session *s, struct module *m)
{
	if (m->prev)
		m->prev->next = m->next;
	else
		s->modules = m->next;
	if (m->next)
		m->next->prev = m->prev;
	xl_hmap_del(&s->files, m->key);
	s->nmodules--;
	/* Its line for report -v, once per file however often it comes and goes. */
	if (s->gone_f && !xl_hmap_get(&s->described, m->key, &(uint64_t){0}) &&
	    !xl_hmap_put(&s->described, m->key, 1))
		describe_one(m, s->gone_f);
	/* An overlay (Go) reads its base, the cache's table: free it first. */
	if (m->own_table)
		unw_table_free((struct unw_table *)m->table);
	unw_cache_put(s->cache, m->cache_table);
	if (m->image_mapped)
		munmap((void *)m->image, m->image_len);
	sym_file_put(s->sym, m->sym);
	if (m->fd >= 0) {
		close(m->fd);
		s->nheld--;
	}
	free(m->open_path);
	free(m->path);
	free(m);
}

static void maps_ref(struct map *maps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (maps[i].mod)
			maps[i].mod->refs++;
}

static void maps_unref(struct xp_session *s, struct map *maps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (maps[i].mod && !--maps[i].mod->refs)
			module_free(s, maps[i].mod);
}

/* Load bias of a mapping at start with file offset pgoff: runtime address - vaddr. */
static uint64_t module_bias(const struct module *m, uint64_t start, uint64_t pgoff)
{
	for (unsigned i = 0; i < m->nsegs; i++) {
		uint64_t off = m->seg_off[i] & ~0xfffULL;

		if (pgoff >= off && pgoff < m->seg_off[i] + m->seg_filesz[i])
			return start + m->seg_off[i] - pgoff - m->seg_vaddr[i];
	}
	return start - pgoff; /* unknown layout: assume vaddr == file offset */
}

/* ---- mappings ------------------------------------------------------------ */

static int proc_reserve(struct proc *p, size_t n)
{
	if (p->nmaps + n <= p->cap)
		return 0;
	size_t ncap = p->cap ? p->cap * 2 : 16;
	while (ncap < p->nmaps + n)
		ncap *= 2;
	struct map *nm = realloc(p->maps, ncap * sizeof(*nm));
	if (!nm)
		return -ENOMEM;
	p->maps = nm;
	p->cap = ncap;
	return 0;
}

/*
 * Insert m, trimming or splitting every mapping it overlaps. Rebuilds the
 * array: mmap events are rare next to samples, and this keeps it obvious.
 */
static int proc_map_insert(struct xp_session *s, struct proc *p, const struct map *m)
{
	size_t cap = p->nmaps + 2; /* m itself, and one more if it splits a mapping */
	struct map *out = malloc(cap * sizeof(*out));
	size_t n = 0;
	bool placed = false;

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < p->nmaps; i++) {
		struct map cur = p->maps[i];

		if (!placed && cur.um.start >= m->um.start) {
			out[n++] = *m;
			placed = true;
		}
		if (cur.um.end <= m->um.start || cur.um.start >= m->um.end) {
			out[n++] = cur;
			continue;
		}
		if (cur.um.start < m->um.start) {
			struct map lo = cur;
			lo.um.end = m->um.start;
			lo.rep_id = NO_REP_ID; /* a new range: a new report mapping */
			out[n++] = lo;
			if (!placed) {
				out[n++] = *m;
				placed = true;
			}
		}
		if (cur.um.end > m->um.end) {
			struct map hi = cur;
			hi.pgoff += m->um.end - cur.um.start;
			hi.um.start = m->um.end;
			hi.rep_id = NO_REP_ID;
			out[n++] = hi;
		}
	}
	if (!placed)
		out[n++] = *m;
	/* New references first: a module in both arrays never drops to 0 on the way. */
	maps_ref(out, n);
	maps_unref(s, p->maps, p->nmaps);
	free(p->maps);
	p->maps = out;
	p->nmaps = n;
	p->cap = cap;
	return 0;
}

static struct map *proc_map_at(struct proc *p, uint64_t addr)
{
	size_t lo = 0, hi = p->nmaps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->maps[mid].um.start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && addr < p->maps[lo - 1].um.end)
		return &p->maps[lo - 1];
	return NULL;
}

/* What the unwinder's callbacks get: the session and the sample's process. */
struct walk_ctx {
	struct xp_session *s;
	struct proc *p;
};

/* The unwinder's unw_find_fn. */
static const struct unw_module *proc_find(void *ctx, uint64_t addr)
{
	struct walk_ctx *wc = ctx;
	struct map *m = proc_map_at(wc->p, addr);

	if (!m)
		return NULL;
	map_ready(wc->s, m);
	return &m->um;
}

/* The unwinder's unw_bounds_fn: the ELF symbol, or the perf-map entry for JIT code. */
static bool proc_bounds(void *ctx, uint64_t addr, uint64_t *start, uint64_t *end)
{
	struct walk_ctx *wc = ctx;
	struct map *m = proc_map_at(wc->p, addr);
	uint64_t vs, ve;

	if (!m)
		return false;
	if (!m->mod)
		return sym_jit_bounds(wc->s->sym, wc->p->pid,
				      wc->p->uid_known ? wc->p->uid : SYM_UID_UNKNOWN, addr, start,
				      end) == 0;
	map_ready(wc->s, m);
	if (!m->mod->sym || m->stale || sym_file_bounds(m->mod->sym, addr - m->um.bias, &vs, &ve))
		return false;
	*start = vs + m->um.bias;
	*end = ve + m->um.bias;
	return true;
}

static int on_mmap(struct xp_session *s, const struct xp_ev_mmap *mm)
{
	struct proc *p;
	struct map m = {0};
	bool vdso = !strcmp(mm->path, "[vdso]");
	/* perf names anonymous memory "//anon"; the recorder may say "[anon:...]" or "". */
	bool anon = !vdso && (mm->path[0] != '/' || !strncmp(mm->path, "//anon", 6));

	/* prot 0: the reader does not know (perf's MMAP records only executable ones). */
	if ((mm->prot && !(mm->prot & PROT_EXEC)) || !mm->len)
		return 0;
	p = proc_get(s, mm->pid, true);
	if (!p)
		return -ENOMEM;
	p->last_ns = mm->time_ns;
	if (p->phantom) { /* its mappings arrive late: a real process after all */
		p->phantom = false;
		p->exit_ns = 0;
	}
	m.um.start = mm->start;
	m.um.end = mm->start + mm->len;
	m.rep_id = NO_REP_ID;
	m.pgoff = mm->pgoff;
	m.time_ns = mm->time_ns;
	if (!anon) {
		m.mod = module_get(s, mm, vdso);
		if (!m.mod)
			return -ENOMEM;
		m.path = m.mod->path;
		m.stale = m.mod->stale;
		if (!m.stale)
			m.um.bias = module_bias(m.mod, m.um.start, m.pgoff);
	} else {
		m.path = "[anon]";
		m.um.flags = UNW_MOD_F_ANON;
	}
	return proc_map_insert(s, p, &m);
}

static int on_fork(struct xp_session *s, const struct xp_ev_task *t)
{
	char pc[XP_EV_COMM_LEN];
	struct proc *parent, *child;

	if (comm_get(s, t->ptid, pc))
		comm_set(s, t->tid, pc);
	if (t->pid == t->ppid)
		return 0; /* a new thread shares its process's mappings */
	parent = proc_get(s, t->ppid, false);
	child = proc_get(s, t->pid, true);
	if (!child)
		return -ENOMEM;
	child->exit_ns = 0;
	child->phantom = false;
	maps_unref(s, child->maps, child->nmaps);
	child->nmaps = 0; /* a reused pid starts over */
	/* A child runs as its parent until an exec or setuid says otherwise. */
	child->uid_known = parent && parent->uid_known;
	child->uid = parent ? parent->uid : 0;
	if (parent && parent->nmaps) {
		if (proc_reserve(child, parent->nmaps))
			return -ENOMEM;
		memcpy(child->maps, parent->maps, parent->nmaps * sizeof(*child->maps));
		child->nmaps = parent->nmaps;
		maps_ref(child->maps, child->nmaps);
	}
	return 0;
}

static void on_comm(struct xp_session *s, const struct xp_ev_comm *c)
{
	struct proc *p;

	comm_set(s, c->tid, c->comm);
	if (!c->exec || !(p = proc_get(s, c->pid, false)))
		return;
	/* A new address space: only mappings made at or after the exec survive. */
	size_t j = 0;
	for (size_t i = 0; i < p->nmaps; i++) {
		struct map m = p->maps[i];

		if (m.time_ns >= c->time_ns)
			p->maps[j++] = m;
		else
			maps_unref(s, &m, 1);
	}
	p->nmaps = j;
}

static void proc_free(struct xp_session *s, struct proc *p)
{
	maps_unref(s, p->maps, p->nmaps);
	xl_hmap_del(&s->procs, (uint64_t)p->pid + 1);
	sym_jit_forget(s->sym, p->pid);
	s->nprocs--;
	free(p->maps);
	free(p);
}

static int exit_push(struct xp_session *s, uint32_t pid, uint32_t tid, uint64_t time_ns)
{
	if (s->nexits == s->exit_cap) {
		size_t ncap = s->exit_cap ? s->exit_cap * 2 : 64;
		struct exit_ev *n = malloc(ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		for (size_t i = 0; i < s->nexits; i++)
			n[i] = s->exits[(s->exit_head + i) % s->exit_cap];
		free(s->exits);
		s->exits = n;
		s->exit_cap = ncap;
		s->exit_head = 0;
	}
	s->exits[(s->exit_head + s->nexits++) % s->exit_cap] =
	    (struct exit_ev){.pid = pid, .tid = tid, .time_ns = time_ns};
	return 0;
}

/*
 * Forget what exited XP_EXIT_GRACE_NS or more before now: a thread's name,
 * and at its leader's EXIT the process, unless one of its threads was still
 * heard of since (the leader called pthread_exit(); then it waits for
 * silence), or its pid started over (a FORK cleared exit_ns).
 */
static void expire(struct xp_session *s, uint64_t now)
{
	while (s->nexits) {
		struct exit_ev e = s->exits[s->exit_head];
		struct comm *c;
		struct proc *p;

		if (e.time_ns + XP_EXIT_GRACE_NS > now)
			break;
		s->exit_head = (s->exit_head + 1) % s->exit_cap;
		s->nexits--;
		c = comm_entry(s, e.tid);
		if (c && c->exit_ns && c->exit_ns <= e.time_ns)
			comm_del(s, e.tid);
		if (e.pid != e.tid || !(p = proc_get(s, e.pid, false)) || !p->exit_ns)
			continue;
		if (p->last_ns > e.time_ns) {
			/* Without memory to wait, let it go now. */
			if (!exit_push(s, e.pid, e.pid, p->last_ns))
				continue;
		}
		proc_free(s, p);
	}
}

static int on_exit_ev(struct xp_session *s, const struct xp_ev_task *t)
{
	struct comm *c = comm_entry(s, t->tid);
	struct proc *p;

	if (c)
		c->exit_ns = t->time_ns;
	if (t->pid == t->tid && (p = proc_get(s, t->pid, false)))
		p->exit_ns = t->time_ns;
	else if (!c)
		return 0; /* nothing to forget */
	return exit_push(s, t->pid, t->tid, t->time_ns);
}

static int on_vdso(struct xp_session *s, const struct xp_ev_vdso *v)
{
	if (s->vdso_image || !v->len)
		return 0;
	s->vdso_image = malloc(v->len);
	if (!s->vdso_image)
		return -ENOMEM;
	memcpy(s->vdso_image, v->image, v->len);
	s->vdso_len = v->len;
	return 0;
}

/* ---- samples ------------------------------------------------------------- */

static enum rep_kind kind_of(uint32_t sym_flags)
{
	if (sym_flags & SYM_F_KERNEL)
		return REP_KIND_KERNEL;
	if (sym_flags & SYM_F_JIT)
		return REP_KIND_JIT;
	if (sym_flags & SYM_F_UNKNOWN)
		return REP_KIND_UNKNOWN;
	return REP_KIND_USER;
}

/* Turn symbolizer frames into a report location. */
static int add_location(struct xp_session *s, uint32_t mapping, uint64_t addr,
			const struct sym_frame *f, int n, uint32_t *id)
{
	unsigned nl = 0;

	for (int i = 0; i < n && nl < sizeof(s->lines) / sizeof(s->lines[0]); i++) {
		uint32_t fid;
		int err =
		    rep_profile_function(s->prof, f[i].name, f[i].file, kind_of(f[i].flags), &fid);

		if (err)
			return err;
		s->lines[nl].function = fid;
		s->lines[nl].line = f[i].line;
		s->lines[nl].inlined = f[i].flags & SYM_F_INLINED;
		nl++;
	}
	return rep_profile_location(s->prof, mapping, addr, s->lines, nl, id);
}

/* "[name+0xoff]" when nothing better is known about an address. */
static int unknown_location(struct xp_session *s, uint32_t mapping, uint64_t addr, const char *path,
			    uint64_t off, uint32_t *id)
{
	char name[256];
	const char *base = path ? strrchr(path, '/') : NULL;
	struct sym_frame f = {.name = name, .flags = SYM_F_UNKNOWN};

	/* A pseudo-file ("[vdso]") keeps one pair of brackets: "[vdso+0x7bd]". */
	if (path && !base && path[0] == '[' && strlen(path) > 2 && path[strlen(path) - 1] == ']')
		snprintf(name, sizeof(name), "[%.*s+0x%llx]", (int)strlen(path) - 2, path + 1,
			 (unsigned long long)off);
	else if (path)
		snprintf(name, sizeof(name), "[%s+0x%llx]", base ? base + 1 : path,
			 (unsigned long long)off);
	else
		snprintf(name, sizeof(name), "[unknown]");
	return add_location(s, mapping, addr, &f, 1, id);
}

/* The report mapping of a process mapping, interned on first use and remembered. */
static int rep_mapping_of(struct xp_session *s, struct map *m, uint32_t *id)
{
	char hex[2 * XP_BUILD_ID_MAX + 1] = "";
	struct rep_mapping rm = {
	    .start = m->um.start,
	    .limit = m->um.end,
	    .offset = m->pgoff,
	    .file = m->path,
	};

	int err;

	if (m->rep_id != NO_REP_ID) {
		*id = m->rep_id;
		return 0;
	}
	if (m->mod && m->mod->build_id_len) {
		for (uint32_t i = 0; i < m->mod->build_id_len; i++)
			snprintf(hex + 2 * i, 3, "%02x", m->mod->build_id[i]);
		rm.build_id = hex;
	}
	err = rep_profile_mapping(s->prof, &rm, id);
	if (!err)
		m->rep_id = *id;
	return err;
}

/* Location id of a user frame: symbolized on first sight, then from the hash. */
static int user_location(struct xp_session *s, struct proc *p, const struct unw_frame *fr,
			 uint32_t *id)
{
	struct map *m = proc_map_at(p, fr->ip);
	const struct sym_frame *sf;
	uint64_t key, v, vaddr;
	uint32_t mapping;
	int n, err;

	/*
	 * A return address points after its call; symbolize the call itself so
	 * the inline chain and line are the call site's. The key keeps the trap
	 * bit because the same ip can be both.
	 */
	bool trap = fr->flags & UNW_FRAME_F_TRAP;
	uint64_t sym_ip = trap ? fr->ip : fr->ip - 1;

	if (!m) {
		key = xl_mix64(sym_ip ^ 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)p->pid << 1) ^ trap;
		if (key && xl_hmap_get(&s->locs, key, &v)) {
			*id = (uint32_t)v - 1;
			return 0;
		}
		err = unknown_location(s, UINT32_MAX, fr->ip, NULL, 0, id);
		goto remember;
	}
	err = rep_mapping_of(s, m, &mapping);
	if (err)
		return err;
	key = xl_mix64(((uint64_t)mapping << 32) ^ xl_mix64(sym_ip)) ^ trap;
	if (key && xl_hmap_get(&s->locs, key, &v)) {
		*id = (uint32_t)v - 1;
		return 0;
	}
	vaddr = sym_ip - m->um.bias;
	map_ready(s, m);
	if (!m->mod) {
		n = sym_jit_lookup(s->sym, p->pid, p->uid_known ? p->uid : SYM_UID_UNKNOWN, sym_ip,
				   &sf);
		err = n > 0 ? add_location(s, mapping, fr->ip, sf, n, id)
			    : unknown_location(s, mapping, fr->ip, NULL, 0, id);
	} else if (m->stale || !m->mod->sym) {
		err = unknown_location(s, mapping, fr->ip, m->path, sym_ip - m->um.start + m->pgoff,
				       id);
	} else {
		n = sym_file_lookup(s->sym, m->mod->sym, vaddr, &sf);
		err = n > 0 ? add_location(s, mapping, fr->ip, sf, n, id) : n;
	}
remember:
	if (!err && key)
		err = xl_hmap_put(&s->locs, key, (uint64_t)*id + 1);
	return err;
}

static int kernel_location(struct xp_session *s, uint64_t addr, uint32_t *id)
{
	const struct sym_frame *sf;
	uint64_t key = xl_mix64(addr ^ 0x6b65726e656cULL), v;
	int n, err;

	if (key && xl_hmap_get(&s->locs, key, &v)) {
		*id = (uint32_t)v - 1;
		return 0;
	}
	n = sym_kernel_lookup(s->sym, addr, &sf);
	if (n < 0)
		return n;
	err = add_location(s, UINT32_MAX, addr, sf, n, id);
	if (!err && key)
		err = xl_hmap_put(&s->locs, key, (uint64_t)*id + 1);
	return err;
}

static bool filtered_out(const struct xp_filter *f, const struct xp_ev_sample *sm, const char *comm)
{
	bool hit;

	if (f->npids) {
		hit = false;
		for (unsigned i = 0; i < f->npids; i++)
			hit |= f->pids[i] == sm->pid;
		if (!hit)
			return true;
	}
	if (f->ntids) {
		hit = false;
		for (unsigned i = 0; i < f->ntids; i++)
			hit |= f->tids[i] == sm->tid;
		if (!hit)
			return true;
	}
	return f->comm && strcmp(f->comm, comm);
}

static int on_sample(struct xp_session *s, const struct xp_ev_sample *sm)
{
	struct unw_input in = {0};
	struct unw_result res;
	struct proc *p;
	char comm[XP_EV_COMM_LEN];
	unsigned nlocs = 0;
	int err;

	s->stats.samples++;
	if (!comm_get(s, sm->tid, comm) && !comm_get(s, sm->pid, comm))
		snprintf(comm, sizeof(comm), "[unknown]");
	if (filtered_out(&s->opts.filter, sm, comm))
		return 0;
	s->stats.kept++;
	if (sm->period_ns)
		s->period_ns = sm->period_ns;
	if (!s->prof) {
		s->prof = rep_profile_new(s->period_ns);
		if (!s->prof)
			return -ENOMEM;
	}
	p = proc_get(s, sm->pid, true);
	if (!p)
		return -ENOMEM;
	p->last_ns = sm->time_ns;
	if (!p->sampled) {
		p->sampled = true;
		s->stats.processes++;
	}
	if (p->window != s->window + 1) {
		p->window = s->window + 1;
		s->wprocesses++;
	}
	if (!p->nmaps) {
		s->stats.no_process++;
		if (!p->exit_ns && !p->uid_known) {
			/*
			 * Known from samples alone (no mmap, fork or uid): no EXIT
			 * will come for what never began, so it goes like an
			 * exited process, a grace after its last sample.
			 */
			p->phantom = true;
			p->exit_ns = sm->time_ns ? sm->time_ns : 1;
			err = exit_push(s, p->pid, p->pid, p->exit_ns);
			if (err)
				return err;
		}
	}

	for (uint32_t i = 0; i < sm->nkstack && nlocs < XP_KSTACK_MAX; i++) {
		err = kernel_location(s, sm->kstack[i], &s->loc_ids[nlocs]);
		if (err)
			return err;
		nlocs++;
	}

	if (sm->flags & XP_EV_SAMPLE_F_CALLCHAIN) {
		/*
		 * No stack copy to unwind: the recorder's frame-pointer walk is
		 * the stack, taken as it is (no status: nothing here can tell a
		 * complete chain from one that lost frames without a frame
		 * pointer). [0] is the interrupted ip, the rest return addresses.
		 */
		res.nframes = sm->nuser < XP_MAX_FRAMES ? sm->nuser : XP_MAX_FRAMES;
		for (unsigned i = 0; i < res.nframes; i++) {
			s->frames[i].ip = sm->ustack[i];
			s->frames[i].flags = UNW_FRAME_F_FP | (i ? 0 : UNW_FRAME_F_TRAP);
		}
		s->stats.callchain++;
		s->stats.frames += res.nframes;
	} else {
		memcpy(in.regs, sm->regs, sizeof(in.regs));
		in.nsegs = sm->nsegs > 2 ? 2 : sm->nsegs;
		for (unsigned i = 0; i < in.nsegs; i++) {
			in.segs[i].start = sm->segs[i].start;
			in.segs[i].data = sm->segs[i].data;
			in.segs[i].len = sm->segs[i].len;
		}
		struct walk_ctx wc = {.s = s, .p = p};
		struct unw_env env = {.find = proc_find, .bounds = proc_bounds, .ctx = &wc};

		err = unw_walk_env(&in, &env, s->frames, XP_MAX_FRAMES, &res);
		if (err)
			return err;
		/*
		 * The sampler saw the task exiting with no user memory left (do_exit past
		 * exit_mm): the walk could only stop at the end of an empty copy, which is
		 * not a stack too deep for the copy.
		 */
		if ((sm->flags & XP_SAMPLE_F_EXITING) && res.status != UNW_OK_COMPLETE)
			res.status = UNW_STOP_EXITING;
		s->stats.status[res.status < UNW_STATUS_NR ? res.status : UNW_STOP_BAD_RULE]++;
		s->stats.frames += res.nframes;
		s->stats.fp_used += !!(res.flags & UNW_RES_F_FP_USED);
		s->stats.synth_used += !!(res.flags & UNW_RES_F_SYNTH);
		s->stats.scan_used += !!(res.flags & UNW_RES_F_SCAN);
		s->stats.stack2 += !!(res.flags & UNW_RES_F_STACK2);
	}

	for (unsigned i = 0; i < res.nframes; i++) {
		err = user_location(s, p, &s->frames[i], &s->loc_ids[nlocs]);
		if (err)
			return err;
		nlocs++;
	}
	struct rep_sample_key key = {.pid = sm->pid, .tid = sm->tid, .comm = comm};

	if (s->opts.labels)
		key.labels = s->opts.labels(s->opts.labels_ctx, s->prof, sm->pid);
	return rep_profile_add(s->prof, &key, s->loc_ids, nlocs, 1);
}

/* ---- the session --------------------------------------------------------- */

uint64_t xp_event_time(const struct xp_event *ev)
{
	switch (ev->type) {
	case XP_EV_SAMPLE:
		return ev->sample.time_ns;
	case XP_EV_MMAP:
		return ev->mmap.time_ns;
	case XP_EV_COMM:
		return ev->comm.time_ns;
	case XP_EV_FORK:
	case XP_EV_EXIT:
		return ev->task.time_ns;
	case XP_EV_LOST:
		return ev->lost.time_ns;
	case XP_EV_VDSO:
	case XP_EV_UID:
		break;
	}
	return 0;
}

/* Caches down to their share of opts.memory_limit; symbol indexes written back. */
static void caches_trim(struct xp_session *s)
{
	size_t limit = s->opts.memory_limit;

	/*
	 * Tables are small next to symbols and DWARF (libc: a 118 KB table, MBs
	 * of symbols and line tables): an eighth of the budget.
	 */
	if (limit)
		unw_cache_trim(s->cache, limit / 8);
	sym_session_trim(s->sym, limit ? limit - limit / 8 : SIZE_MAX);
}

/*
 * A bounded session (memory_limit) gives back, once per window, the pages of
 * files it touched: the symbolizer's ELF files, read once to index them and
 * then seldom, and the module images, of which the code analysers read a
 * few instructions per sample. Left alone they stay resident for as long as
 * the file is mapped (a large C++ library: tens of MiB), though the page
 * cache holds them anyway. Read-only private mappings nobody wrote:
 * MADV_DONTNEED only drops our references.
 */
static void pages_release(struct xp_session *s)
{
	uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);

	for (struct module *m = s->modules; m; m = m->next)
		if (m->image_mapped && m->image_len >= pg)
			madvise((void *)m->image, m->image_len & ~(pg - 1), MADV_DONTNEED);
	sym_session_pageout(s->sym);
}

/* Stream time moves on: expire what exited long enough ago, trim caches once a second. */
static void advance(struct xp_session *s, uint64_t t)
{
	if (!t || t <= s->now_ns)
		return;
	if (!s->first_ns)
		s->first_ns = t;
	s->now_ns = t;
	if (s->nexits)
		expire(s, t);
	if (s->opts.memory_limit && t >= s->next_trim_ns) {
		caches_trim(s);
		s->next_trim_ns = t + 1000000000ull;
	}
}

int xp_session_event(void *session, const struct xp_event *ev)
{
	struct xp_session *s = session;

	advance(s, xp_event_time(ev));
	switch (ev->type) {
	case XP_EV_SAMPLE:
		return on_sample(s, &ev->sample);
	case XP_EV_MMAP:
		return on_mmap(s, &ev->mmap);
	case XP_EV_COMM:
		on_comm(s, &ev->comm);
		return 0;
	case XP_EV_FORK:
		return on_fork(s, &ev->task);
	case XP_EV_VDSO:
		return on_vdso(s, &ev->vdso);
	case XP_EV_LOST:
		s->stats.lost += ev->lost.count;
		return 0;
	case XP_EV_EXIT:
		/* Not yet: samples read just after the exit may still need its mappings. */
		return on_exit_ev(s, &ev->task);
	case XP_EV_UID: {
		struct proc *p = proc_get(s, ev->uid.pid, true);

		if (!p)
			return -ENOMEM;
		p->uid = ev->uid.uid;
		p->uid_known = true;
		return 0;
	}
	}
	return 0;
}

struct rep_profile *xp_session_window_take(struct xp_session *s, uint64_t end_ns)
{
	struct rep_profile *p = s->prof;
	uint64_t start = s->window_start_ns ? s->window_start_ns : s->first_ns;

	if (!p && !(p = rep_profile_new(s->period_ns))) {
		errno = ENOMEM;
		return NULL;
	}
	s->prof = NULL;
	if (!end_ns)
		end_ns = s->now_ns;
	if (start && end_ns > start)
		rep_profile_set_time(p, s->clock_set ? s->real_ns + (start - s->clock_ns) : 0,
				     end_ns - start);
	/* Every id cached so far points into p: the next window starts its own. */
	xl_hmap_clear(&s->locs);
	for (size_t i = 0; i < s->procs.cap; i++) {
		if (s->procs.keys[i]) {
			struct proc *pr = (struct proc *)(uintptr_t)s->procs.vals[i];

			for (size_t j = 0; j < pr->nmaps; j++)
				pr->maps[j].rep_id = NO_REP_ID;
		}
	}
	advance(s, end_ns);
	caches_trim(s);
	if (s->opts.memory_limit) {
		s->next_trim_ns = s->now_ns + 1000000000ull;
		pages_release(s);
	}

	/* Every count is a uint64_t: the window's are the differences. */
	_Static_assert(sizeof(struct xp_session_stats) % sizeof(uint64_t) == 0, "stats layout");
	s->wstats = s->stats;
	uint64_t *w = (uint64_t *)&s->wstats;
	const uint64_t *b = (const uint64_t *)&s->wbase;
	for (size_t i = 0; i < sizeof(s->wstats) / sizeof(uint64_t); i++)
		w[i] -= b[i];
	s->wstats.processes = s->wprocesses;
	s->wbase = s->stats;
	s->wprocesses = 0;
	s->window++;
	s->window_start_ns = end_ns;
	return p;
}

const struct xp_session_stats *xp_session_window_stats(const struct xp_session *s)
{
	return &s->wstats;
}

void xp_session_set_clock(struct xp_session *s, uint64_t time_ns, uint64_t real_ns)
{
	s->clock_ns = time_ns;
	s->real_ns = real_ns;
	s->clock_set = true;
}

void xp_session_memory(const struct xp_session *s, struct xp_session_mem *out)
{
	struct unw_cache_stats us;
	struct sym_session_stats ss;

	unw_cache_get_stats(s->cache, &us);
	sym_session_get_stats(s->sym, &ss);
	*out = (struct xp_session_mem){
	    .processes = s->nprocs,
	    .threads = s->comms.n,
	    .modules = s->nmodules,
	    .exits_pending = s->nexits,
	    .tables = us.entries,
	    .table_bytes = us.bytes,
	    .sym_files = ss.files,
	    .sym_bytes = ss.bytes,
	};
}

struct xp_session *xp_session_new(const struct xp_session_opts *opts)
{
	struct xp_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (opts)
		s->opts = *opts;
	s->period_ns = 10101010; /* until a sample says: 99 Hz */
	xp_pins_init(&s->pins, "/proc");
	if (s->opts.describe_all && !(s->gone_f = open_memstream(&s->gone, &s->gone_len)))
		goto fail;
	elf_version(EV_CURRENT);
	/* Without a usable cache directory, tables are built in memory every run. */
	if (!s->opts.no_cache)
		s->cache = unw_cache_open(s->opts.cache_dir, &s->cache_refused);
	/* Symbol indexes and kernel symbols are cached beside the tables. */
	if (s->cache)
		s->opts.sym.cache_dir = unw_cache_root(s->cache);
	if (!s->cache) {
		/* In memory only: --no-cache must not leave tables in a /tmp directory per run. */
		s->cache = unw_cache_new_memory();
		if (!s->cache)
			goto fail;
	}
	s->sym = sym_session_new(&s->opts.sym);
	if (!s->sym)
		goto fail;
	return s;
fail:
	xp_session_free(s);
	errno = ENOMEM;
	return NULL;
}

void xp_session_pin(void *session, const struct xp_ev_mmap *mm)
{
	struct xp_session *s = session;

	xp_pins_note(&s->pins, mm);
}

void xp_session_free(struct xp_session *s)
{
	if (!s)
		return;
	xp_pins_release(&s->pins);
	for (size_t i = 0; i < s->procs.cap; i++) {
		if (s->procs.keys[i]) {
			struct proc *p = (struct proc *)(uintptr_t)s->procs.vals[i];
			free(p->maps);
			free(p);
		}
	}
	/* The caches go below, whole: no need to hand tables and files back one by one. */
	while (s->modules) {
		struct module *m = s->modules;
		s->modules = m->next;
		if (m->own_table)
			unw_table_free((struct unw_table *)m->table);
		if (m->image_mapped)
			munmap((void *)m->image, m->image_len);
		if (m->fd >= 0)
			close(m->fd);
		free(m->open_path);
		free(m->path);
		free(m);
	}
	free(s->comm_free);
	free(s->exits);
	if (s->gone_f)
		fclose(s->gone_f);
	free(s->gone);
	xl_hmap_release(&s->described);
	xl_hmap_release(&s->procs);
	xl_hmap_release(&s->comms);
	xl_hmap_release(&s->files);
	xl_hmap_release(&s->locs);
	free(s->comm_blob);
	free(s->vdso_image);
	free(s->cache_refused);
	unw_cache_free(s->cache);
	sym_session_free(s->sym);
	rep_profile_free(s->prof);
	free(s);
}

int xp_session_lookup(struct xp_session *s, uint32_t pid, uint64_t addr, const char **path,
		      uint64_t *bias)
{
	struct proc *p = proc_get(s, pid, false);
	const struct map *m = p ? proc_map_at(p, addr) : NULL;

	if (!m)
		return -ENOENT;
	*path = m->path;
	*bias = m->um.bias;
	return 0;
}

void xp_session_warnings(const struct xp_session *s, FILE *out)
{
	const char *line;

	for (size_t i = 0; (line = sym_session_refused(s->sym, i)); i++)
		fprintf(out, "xprof: %s\n", line);
}

void xp_session_describe(const struct xp_session *s, FILE *out)
{
	uint64_t v;

	for (const struct module *m = s->modules; m; m = m->next)
		if (!xl_hmap_get(&s->described, m->key, &v))
			describe_one(m, out);
	if (s->gone_f && !fflush(s->gone_f) && s->gone_len)
		fwrite(s->gone, 1, s->gone_len, out);
}

struct rep_profile *xp_session_profile(struct xp_session *s)
{
	uint64_t start = s->window_start_ns ? s->window_start_ns : s->first_ns;

	if (!s->prof)
		s->prof = rep_profile_new(s->period_ns);
	/* With a clock, the profile so far says when it began and how long it covers. */
	if (s->prof && s->clock_set && start && s->now_ns > start)
		rep_profile_set_time(s->prof, s->real_ns + (start - s->clock_ns),
				     s->now_ns - start);
	return s->prof;
}

const char *xp_session_cache_refused(const struct xp_session *s)
{
	return s->cache_refused;
}

const struct xp_session_stats *xp_session_stats(const struct xp_session *s)
{
	return &s->stats;
}
