// SPDX-License-Identifier: MIT
/*
 * Labels from /proc/PID/cgroup: which container, pod and service a process
 * belongs to, read from the names the runtimes and systemd give its cgroup.
 * The file is another process's view and may be anything (a container can
 * hold a crafted cgroup namespace), so every length is checked and a
 * component that does not look exactly like what a runtime writes is
 * ignored rather than guessed at.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent/agent.h"

/* A span of the input: never NUL-ended, never longer than the input. */
struct span {
	const char *p;
	size_t n;
};

static bool span_prefix(struct span s, const char *pre)
{
	size_t n = strlen(pre);

	return s.n >= n && !memcmp(s.p, pre, n);
}

static bool span_suffix(struct span s, const char *suf)
{
	size_t n = strlen(suf);

	return s.n >= n && !memcmp(s.p + s.n - n, suf, n);
}

static bool span_eq(struct span s, const char *str)
{
	return s.n == strlen(str) && !memcmp(s.p, str, s.n);
}

static bool is_hex(struct span s)
{
	for (size_t i = 0; i < s.n; i++)
		if (!((s.p[i] >= '0' && s.p[i] <= '9') || (s.p[i] >= 'a' && s.p[i] <= 'f')))
			return false;
	return true;
}

/* Runtimes print 64 hex digits; 12 is docker's short form some tools write. */
static bool is_container_id(struct span s)
{
	return (s.n == 64 || s.n == 12) && is_hex(s);
}

/* Copy s into dst (AG_LABEL_MAX or n bytes) if it fits with its NUL; else leave dst alone. */
static bool set(char *dst, size_t cap, struct span s)
{
	if (s.n >= cap)
		return false;
	memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
	return true;
}

/* A systemd unit name: printable, no spaces or slashes (the path split took those). */
static bool is_unit_char(char c)
{
	return c > ' ' && c < 0x7f;
}

static bool is_unit(struct span s)
{
	if (s.n == 0)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if (!is_unit_char(s.p[i]))
			return false;
	return true;
}

/* "PREFIX<id>.scope" with a container id in the middle. */
static bool scope_id(struct span c, const char *prefix, struct span *id)
{
	size_t pre = strlen(prefix), suf = strlen(".scope");

	if (!span_prefix(c, prefix) || !span_suffix(c, ".scope") || c.n < pre + suf)
		return false;
	id->p = c.p + pre;
	id->n = c.n - pre - suf;
	return is_container_id(*id);
}

/*
 * A pod uid from "kubepods-…-pod<uid>.slice" (systemd driver: dashes of the
 * uid written as underscores) or "pod<uid>" (cgroupfs driver).
 */
static bool pod_uid(struct span c, char *dst)
{
	struct span u;
	const char *at = NULL;

	if (span_prefix(c, "kubepods") && span_suffix(c, ".slice")) {
		for (size_t i = 0; i + 4 <= c.n; i++)
			if (!memcmp(c.p + i, "-pod", 4))
				at = c.p + i + 4;
		if (!at)
			return false;
		u.p = at;
		u.n = (size_t)(c.p + c.n - strlen(".slice") - at);
	} else if (span_prefix(c, "pod")) {
		u.p = c.p + 3;
		u.n = c.n - 3;
	} else {
		return false;
	}
	if (u.n == 0 || u.n >= AG_LABEL_MAX)
		return false;
	for (size_t i = 0; i < u.n; i++) {
		char ch = u.p[i];

		if (ch == '_')
			ch = '-';
		else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || ch == '-'))
			return false;
		dst[i] = ch;
	}
	dst[u.n] = '\0';
	return true;
}

/* The labels one cgroup path gives, component by component, innermost last. */
static void parse_path(struct span path, struct ag_labels *l)
{
	struct span scope = {NULL, 0}, prev = {NULL, 0};
	bool in_kubepods = false;
	const char *p = path.p, *end = path.p + path.n;

	while (p < end) {
		struct span c, id;
		const char *slash = memchr(p, '/', (size_t)(end - p));

		c.p = p;
		c.n = (size_t)((slash ? slash : end) - p);
		p = slash ? slash + 1 : end;
		if (c.n == 0)
			continue;

		if (scope_id(c, "docker-", &id)) {
			set(l->container, sizeof(l->container), id);
			strcpy(l->runtime, "docker");
		} else if (scope_id(c, "cri-containerd-", &id)) {
			set(l->container, sizeof(l->container), id);
			strcpy(l->runtime, "containerd");
		} else if (scope_id(c, "crio-", &id)) {
			set(l->container, sizeof(l->container), id);
			strcpy(l->runtime, "crio");
		} else if (scope_id(c, "libpod-", &id)) {
			set(l->container, sizeof(l->container), id);
			strcpy(l->runtime, "podman");
		} else if (is_container_id(c) && span_eq(prev, "docker")) {
			/* cgroupfs driver: /docker/<id> */
			set(l->container, sizeof(l->container), c);
			strcpy(l->runtime, "docker");
		} else if (is_container_id(c) && in_kubepods && l->pod[0]) {
			/* cgroupfs driver: /kubepods/<qos>/pod<uid>/<id>; the runtime is not named
			 */
			set(l->container, sizeof(l->container), c);
		} else if (span_eq(c, "kubepods") || span_eq(c, "kubepods.slice")) {
			in_kubepods = true;
		} else if (in_kubepods && pod_uid(c, l->pod)) {
			/* pod uid written by pod_uid() */
		} else if (span_suffix(c, ".service") && c.n > strlen(".service") && is_unit(c)) {
			set(l->service, sizeof(l->service), c);
		} else if (span_suffix(c, ".scope") && c.n > strlen(".scope") && is_unit(c)) {
			scope = c;
		}
		prev = c;
	}
	if (l->service[0])
		return;
	if (l->container[0] && l->runtime[0]) {
		snprintf(l->service, sizeof(l->service), "%s-%.12s", l->runtime, l->container);
		return;
	}
	if (l->container[0]) {
		snprintf(l->service, sizeof(l->service), "%.12s", l->container);
		return;
	}
	if (scope.n)
		set(l->service, sizeof(l->service), scope);
}

int ag_labels_parse_cgroup(const char *buf, size_t len, struct ag_labels *l)
{
	struct span v2 = {NULL, 0}, systemd = {NULL, 0}, first = {NULL, 0}, path;
	bool any = false, have_v2 = false, have_systemd = false, have_first = false;
	const char *p = buf, *end = buf + len;

	memset(l, 0, sizeof(*l));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *c1, *c2;
		struct span ctl;

		c1 = memchr(p, ':', (size_t)(le - p));
		c2 = c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;
		if (c2 && c1 > p) {
			ctl.p = c1 + 1;
			ctl.n = (size_t)(c2 - c1 - 1);
			path.p = c2 + 1;
			path.n = (size_t)(le - c2 - 1);
			any = true;
			if (ctl.n == 0 && c1 - p == 1 && p[0] == '0') {
				v2 = path;
				have_v2 = true;
			} else if (span_eq(ctl, "name=systemd")) {
				systemd = path;
				have_systemd = true;
			} else if (!have_first && path.n > 1) {
				first = path;
				have_first = true;
			}
		}
		p = nl ? nl + 1 : end;
	}
	if (!any)
		return -EINVAL;
	/* A v2 path of "/" beside v1 lines is the hybrid layout's empty unified tree. */
	if (have_v2 && (v2.n > 1 || (!have_systemd && !have_first)))
		path = v2;
	else if (have_systemd)
		path = systemd;
	else if (have_first)
		path = first;
	else if (have_v2)
		path = v2;
	else
		return 0; /* lines, but none with a path worth reading ("1:cpu:/") */
	parse_path(path, l);
	return 0;
}

int ag_labels_read(pid_t pid, struct ag_labels *l)
{
	char path[64], buf[65536];
	ssize_t n;
	size_t got = 0;
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < sizeof(buf)) {
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (err)
		return err;
	return ag_labels_parse_cgroup(buf, got, l);
}

int ag_hostname(char *buf, size_t len)
{
	struct utsname u;
	size_t n;

	if (uname(&u))
		return -errno;
	n = strnlen(u.nodename, sizeof(u.nodename));
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(buf, u.nodename, n);
	buf[n] = '\0';
	return 0;
}
