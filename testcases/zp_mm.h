/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zp_mm.h - the mm helpers of the zpfarm guest fault tests (header-only):
 * shmem regions (memfd, tmpfs, tmpfs-huge, SysV; full-tmpfs regions), touching
 * pages, readers of /proc/meminfo, /proc/self/status, st_blocks, sysfs,
 * pagemap and the zero pfn, memcg v1/v2 enter/leave, SIGBUS probes.
 * Includes the harness, zp_harness.h.
 */
#ifndef ZP_MM_H
#define ZP_MM_H

#include "zp_harness.h"
#include <sys/ioctl.h>

/* --------------------------------------------------------------- regions */

/* One shmem object: a memfd, a tmpfs file or a SysV segment. */
struct zp_region {
	const struct zp_mode *mode;
	size_t size;
	int fd;		/* -1 for SysV */
	int shmid;	/* -1 for fd backings */
	char path[PATH_MAX];
};

static ZP_UNUSED bool zp_is_sysv_mode(const struct zp_mode *m)
{
	return m->backing == ZP_SYSV;
}

static ZP_UNUSED bool zp_is_sysv(const struct zp_region *r)
{
	return r->fd < 0;
}

/* The directory used for a tmpfs backing. */
static ZP_UNUSED const char *zp_tmpfs_dir(enum zp_backing b)
{
	if (b == ZP_TMPFS_HUGE)
		return zp_env("ZPFARM_TMPFS_HUGE", "/nonexistent");
	return zp_env("ZPFARM_TMPFS", "/dev/shm");
}

/*
 * Create a shmem object of @size bytes (all hole) for mode @m.  tmpfs files
 * are unlinked at once (r->path keeps the name for messages); SysV segments
 * are attached once and marked IPC_RMID (Linux still allows shmat by id).
 */
static ZP_UNUSED int zp_region_create(struct zp_region *r,
				      const struct zp_mode *m, size_t size)
{
	memset(r, 0, sizeof(*r));
	r->mode = m;
	r->size = size;
	r->fd = -1;
	r->shmid = -1;

	switch (m->backing) {
	case ZP_MEMFD:
		r->fd = (int)syscall(SYS_memfd_create, "zpfarm", MFD_CLOEXEC);
		zp_fmt(r->path, sizeof(r->path), "memfd:zpfarm");
		break;
	case ZP_TMPFS:
	case ZP_TMPFS_HUGE:
		zp_fmt(r->path, sizeof(r->path), "%s/zpfarm-XXXXXX",
			 zp_tmpfs_dir(m->backing));
		r->fd = mkostemp(r->path, O_CLOEXEC);
		if (r->fd >= 0)
			unlink(r->path);
		break;
	case ZP_SYSV: {
		void *p;

		r->shmid = shmget(IPC_PRIVATE, size, IPC_CREAT | 0600);
		if (r->shmid < 0) {
			ktap_diag("shmget(%zu): %s", size, strerror(errno));
			return -1;
		}
		p = shmat(r->shmid, NULL, SHM_RDONLY);	/* keeps it alive */
		shmctl(r->shmid, IPC_RMID, NULL);
		if (p == (void *)-1) {
			ktap_diag("shmat: %s", strerror(errno));
			return -1;
		}
		zp_fmt(r->path, sizeof(r->path), "sysv:%d", r->shmid);
		return 0;
	}
	default:
		errno = EINVAL;
	}
	if (r->fd < 0) {
		ktap_diag("creating %s: %s", r->path, strerror(errno));
		return -1;
	}
	if (ftruncate(r->fd, (off_t)size)) {
		ktap_diag("ftruncate(%s, %zu): %s", r->path, size, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * A region of @size bytes (all hole) on a private tmpfs mount of @mount_kb
 * kB that is then filled to the last block by another file: every page
 * allocation in it fails with ENOSPC.  The mount is lazily detached at once
 * (it lives as long as the fds).  Returns NULL or why it is not possible.
 */
static ZP_UNUSED const char *zp_region_on_full_tmpfs(struct zp_region *r,
						     const struct zp_mode *m,
						     size_t size, size_t mount_kb)
{
	static char why[256];
	char dir[] = "/tmp/zpfarm-full-XXXXXX", path[64], opts[32], *buf;
	size_t ps = zp_page_size();
	int filler;

	memset(r, 0, sizeof(*r));
	r->mode = m;
	r->size = size;
	r->shmid = -1;
	if (!mkdtemp(dir))
		return "mkdtemp failed";
	zp_fmt(opts, sizeof(opts), "size=%zuk", mount_kb);
	if (mount("zpfarm", dir, "tmpfs", 0, opts)) {
		zp_fmt(why, sizeof(why), "cannot mount a small tmpfs: %s", strerror(errno));
		rmdir(dir);
		return why;
	}
	zp_fmt(path, sizeof(path), "%s/sparse", dir);
	r->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	zp_fmt(r->path, sizeof(r->path), "%s", path);
	zp_fmt(path, sizeof(path), "%s/filler", dir);
	filler = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	if (r->fd < 0 || filler < 0 || ftruncate(r->fd, (off_t)size))
		return "cannot create files on the small tmpfs";
	buf = calloc(1, ps);
	if (!buf)
		return "calloc";
	buf[0] = 1;
	while (write(filler, buf, ps) == (ssize_t)ps)
		;
	free(buf);
	if (errno != ENOSPC) {
		zp_fmt(why, sizeof(why), "filling the small tmpfs: %s", strerror(errno));
		return why;
	}
	return NULL;
}

/*
 * A new mapping of the whole region.  fd backings: MAP_SHARED or MAP_PRIVATE
 * as asked; SysV: shmat (always shared; SHM_RDONLY without PROT_WRITE).
 * Returns NULL (with a diagnostic) on failure.
 */
static ZP_UNUSED char *zp_map(struct zp_region *r, int prot, bool shared)
{
	void *p;

	if (zp_is_sysv(r)) {
		p = shmat(r->shmid, NULL, (prot & PROT_WRITE) ? 0 : SHM_RDONLY);
		if (p == (void *)-1) {
			ktap_diag("shmat(%d): %s", r->shmid, strerror(errno));
			return NULL;
		}
		return p;
	}
	p = mmap(NULL, r->size, prot, shared ? MAP_SHARED : MAP_PRIVATE,
		 r->fd, 0);
	if (p == MAP_FAILED) {
		ktap_diag("mmap(%s): %s", r->path, strerror(errno));
		return NULL;
	}
	return p;
}

/* A mapping in the test's own mode (shared or private). */
static ZP_UNUSED char *zp_map_mode(struct zp_region *r, int prot)
{
	return zp_map(r, prot, r->mode->shared);
}

static ZP_UNUSED void zp_unmap(struct zp_region *r, char *p)
{
	if (zp_is_sysv(r))
		shmdt(p);
	else
		munmap(p, r->size);
}

/*
 * Write @len bytes at @off "from elsewhere": pwrite(2) for fd backings, a
 * store through a fresh shared attach for SysV.
 */
static ZP_UNUSED int zp_region_write(struct zp_region *r, size_t off,
				     const void *buf, size_t len)
{
	char *p;

	if (!zp_is_sysv(r))
		return pwrite(r->fd, buf, len, (off_t)off) == (ssize_t)len ? 0 : -1;
	p = zp_map(r, PROT_READ | PROT_WRITE, true);
	if (!p)
		return -1;
	memcpy(p + off, buf, len);
	shmdt(p);
	return 0;
}

/* Read back through pread(2) or a fresh SysV attach. */
static ZP_UNUSED int zp_region_read(struct zp_region *r, size_t off, void *buf,
				    size_t len)
{
	char *p;

	if (!zp_is_sysv(r))
		return pread(r->fd, buf, len, (off_t)off) == (ssize_t)len ? 0 : -1;
	p = zp_map(r, PROT_READ, true);
	if (!p)
		return -1;
	memcpy(buf, p + off, len);
	shmdt(p);
	return 0;
}

/* Fork a child that writes @val at @off through its OWN new shared mapping. */
static ZP_UNUSED int zp_peer_store(struct zp_region *r, size_t off,
				   unsigned long val)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		char *p = zp_map(r, PROT_READ | PROT_WRITE, true);

		if (!p)
			_exit(1);
		*(volatile unsigned long *)(p + off) = val;
		_exit(0);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return (WIFEXITED(status) && WEXITSTATUS(status) == 0) ? 0 : -1;
}

/* ------------------------------------------------------ touching memory */

static ZP_UNUSED bool zp_all_zero(const void *p, size_t len)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (c[i])
			return false;
	return true;
}

/* Read-fault every page; returns the number of pages with a non-zero word. */
static ZP_UNUSED size_t zp_read_pages(const char *p, size_t size)
{
	size_t off, nonzero = 0;

	for (off = 0; off < size; off += zp_page_size())
		if (*(const volatile unsigned long *)(p + off))
			nonzero++;
	return nonzero;
}

/* Number of pages in [p, p+size) with any non-zero byte (full scan). */
static ZP_UNUSED size_t zp_count_dirty_pages(const char *p, size_t size)
{
	size_t off, n = 0;

	for (off = 0; off < size; off += zp_page_size())
		if (!zp_all_zero(p + off, zp_page_size()))
			n++;
	return n;
}

/* Store @seed ^ page index into the first word of every page. */
static ZP_UNUSED void zp_write_pages(char *p, size_t size, unsigned long seed)
{
	size_t off;

	for (off = 0; off < size; off += zp_page_size())
		*(volatile unsigned long *)(p + off) = seed ^ (off / zp_page_size());
}

/* Returns the first page index whose first word is not seed ^ index, or -1. */
static ZP_UNUSED long zp_check_pages(const char *p, size_t size,
				     unsigned long seed)
{
	size_t off;

	for (off = 0; off < size; off += zp_page_size())
		if (*(const volatile unsigned long *)(p + off) !=
		    (seed ^ (off / zp_page_size())))
			return (long)(off / zp_page_size());
	return -1;
}

/* ------------------------------------------------------ /proc readers */

/* A "Key:   value kB" field of a /proc file, in kB (or pages/count); -1 if absent. */
static ZP_UNUSED long long zp_proc_field(const char *file, const char *key)
{
	char line[512];
	size_t klen = strlen(key);
	long long v = -1;
	FILE *f = fopen(file, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtoll(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

static ZP_UNUSED long long zp_meminfo_kb(const char *key)
{
	return zp_proc_field("/proc/meminfo", key);
}

static ZP_UNUSED long long zp_status_kb(const char *key)
{
	return zp_proc_field("/proc/self/status", key);
}

/* Allocated size of the backing object in kB: st_blocks, or SysV shm_rss. */
static ZP_UNUSED long long zp_region_alloc_kb(struct zp_region *r)
{
	if (zp_is_sysv(r)) {
		struct shm_info info;

		/* Global over all segments: the tests create only one. */
		if (shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info) < 0)
			return -1;
		return (long long)(info.shm_rss + info.shm_swp) *
		       (long long)(zp_page_size() / 1024);
	} else {
		struct stat st;

		if (fstat(r->fd, &st))
			return -1;
		return (long long)st.st_blocks / 2;
	}
}

static ZP_UNUSED int zp_write_file(const char *path, const char *val)
{
	ssize_t n;
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

/* PMD-sized THP in kB (hpage_pmd_size), 0 if the kernel has no THP. */
static ZP_UNUSED long long zp_hpage_pmd_kb(void)
{
	char buf[64];

	if (zp_read_file("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size",
			 buf, sizeof(buf)))
		return 0;
	return strtoll(buf, NULL, 10) / 1024;
}

/* ------------------------------------------------------------ pagemap */

#define ZP_PM_PRESENT	(1ULL << 63)
#define ZP_PM_SWAP	(1ULL << 62)
#define ZP_PM_PFN_MASK	((1ULL << 55) - 1)

static ZP_UNUSED uint64_t zp_pagemap_entry(const void *addr)
{
	static int fd = -1;
	uint64_t ent = 0;
	off_t off = (off_t)((uintptr_t)addr / zp_page_size() * sizeof(ent));

	if (fd < 0)
		fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, &ent, sizeof(ent), off) != sizeof(ent))
		return 0;
	return ent;
}

/* PFN mapped at @addr, 0 if not present (or PFNs hidden). */
static ZP_UNUSED uint64_t zp_pfn(const void *addr)
{
	uint64_t ent = zp_pagemap_entry(addr);

	return (ent & ZP_PM_PRESENT) ? (ent & ZP_PM_PFN_MASK) : 0;
}

/*
 * The PFN of the shared zero page: read-fault a fresh one-page anonymous
 * private mapping and look it up.  0 if PFNs are not visible (not root).
 */
static ZP_UNUSED uint64_t zp_zero_pfn(void)
{
	static uint64_t pfn;
	volatile char *p;

	if (pfn)
		return pfn;
	p = mmap(NULL, zp_page_size(), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return 0;
	(void)p[0];
	pfn = zp_pfn((const void *)p);
	munmap((void *)p, zp_page_size());
	return pfn;
}

/* Skip-worthy reason if pagemap PFNs cannot be used, else NULL. */
static ZP_UNUSED const char *zp_pagemap_unusable(void)
{
	if (!zp_zero_pfn())
		return "pagemap shows no PFNs (need CAP_SYS_ADMIN) or no zero page for anonymous reads";
	return NULL;
}

/* Number of pages in [p, p+size) that map the zero pfn. */
static ZP_UNUSED size_t zp_count_zero_pfn(const char *p, size_t size)
{
	size_t off, n = 0;
	uint64_t zpfn = zp_zero_pfn();

	for (off = 0; off < size; off += zp_page_size())
		if (zp_pfn(p + off) == zpfn)
			n++;
	return n;
}

/*
 * The zero page is intact: a fresh anonymous page and a fresh shmem hole
 * (memfd) both read all zeros.  Returns true if so; prints what it saw.
 */
static ZP_UNUSED bool zp_zero_page_intact(void)
{
	size_t ps = zp_page_size();
	bool ok = true;
	char *a, *f;
	int fd;

	a = mmap(NULL, ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a != MAP_FAILED) {
		if (!zp_all_zero(a, ps)) {
			ktap_diag("fresh anonymous page is not zero: first word %#lx (zero page corrupted)",
				  *(unsigned long *)a);
			ok = false;
		}
		munmap(a, ps);
	}
	fd = (int)syscall(SYS_memfd_create, "zpfarm-check", MFD_CLOEXEC);
	if (fd >= 0 && !ftruncate(fd, (off_t)ps)) {
		f = mmap(NULL, ps, PROT_READ, MAP_SHARED, fd, 0);
		if (f != MAP_FAILED) {
			if (!zp_all_zero(f, ps)) {
				ktap_diag("fresh memfd hole is not zero: first word %#lx",
					  *(unsigned long *)f);
				ok = false;
			}
			munmap(f, ps);
		}
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

/* --------------------------------------------------------------- memcg */

/*
 * Move the calling process into a new memory cgroup (cgroup2, mounting it
 * if needed, else the v1 memory controller).  zp_memcg_kb() reads its
 * memory.current / memory.usage_in_bytes.  Returns NULL on success or the
 * reason why no memcg is usable.
 */
struct zp_memcg {
	char dir[PATH_MAX];
	char usage[PATH_MAX + 32];
};

static ZP_UNUSED bool zp_mount_of_type(const char *type, const char *opt,
				       char *dir, size_t len)
{
	char line[1024], mdir[512], mtype[64], mopts[512];
	bool found = false;
	FILE *f = fopen("/proc/self/mounts", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %511s %63s %511s", mdir, mtype, mopts) != 3)
			continue;
		if (strcmp(mtype, type))
			continue;
		if (opt) {
			char *o, *save = NULL;
			bool has = false;

			for (o = strtok_r(mopts, ",", &save); o;
			     o = strtok_r(NULL, ",", &save))
				if (!strcmp(o, opt))
					has = true;
			if (!has)
				continue;
		}
		zp_fmt(dir, len, "%s", mdir);
		found = true;
		break;
	}
	fclose(f);
	return found;
}

/* Path of our cgroup in a hierarchy ("0::" for v2 or the ":memory:" line). */
static ZP_UNUSED void zp_own_cgroup(const char *prefix, char *out, size_t len)
{
	char line[1024];
	size_t plen = strlen(prefix);
	FILE *f = fopen("/proc/self/cgroup", "r");

	zp_fmt(out, len, "/");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *c = strstr(line, prefix);

		if (c) {
			c += plen;
			c[strcspn(c, "\n")] = '\0';
			zp_fmt(out, len, "%s", c);
			break;
		}
	}
	fclose(f);
}

static ZP_UNUSED const char *zp_memcg_enter(struct zp_memcg *cg)
{
	static char why[512];
	char root[512], own[512], buf[512], pid[32];

	zp_fmt(pid, sizeof(pid), "%d", getpid());
	if (!zp_mount_of_type("cgroup2", NULL, root, sizeof(root))) {
		mkdir("/tmp/zpfarm-cgroup2", 0755);
		if (!mount("none", "/tmp/zpfarm-cgroup2", "cgroup2", 0, NULL))
			zp_fmt(root, sizeof(root), "/tmp/zpfarm-cgroup2");
		else
			root[0] = '\0';
	}
	if (root[0]) {
		zp_fmt(buf, sizeof(buf), "%s/cgroup.controllers", root);
		if (!zp_read_file(buf, why, sizeof(why)) && strstr(why, "memory")) {
			zp_own_cgroup("0::", own, sizeof(own));
			/* Only the root may have both processes and children. */
			if (strcmp(own, "/"))
				own[0] = '\0';
			zp_fmt(buf, sizeof(buf), "%s%s/cgroup.subtree_control", root, own);
			zp_write_file(buf, "+memory");
			zp_fmt(cg->dir, sizeof(cg->dir), "%s%s/zpfarm-%d", root, own, getpid());
			zp_fmt(cg->usage, sizeof(cg->usage), "%s/memory.current", cg->dir);
			goto join;
		}
	}
	if (zp_mount_of_type("cgroup", "memory", root, sizeof(root))) {
		zp_own_cgroup(":memory:", own, sizeof(own));
		if (!strcmp(own, "/"))
			own[0] = '\0';
		zp_fmt(cg->dir, sizeof(cg->dir), "%s%s/zpfarm-%d", root, own, getpid());
		zp_fmt(cg->usage, sizeof(cg->usage), "%s/memory.usage_in_bytes", cg->dir);
		goto join;
	}
	return "no memory cgroup controller (cgroup2 without memory and no v1 memory mount)";
join:
	if (mkdir(cg->dir, 0755) && errno != EEXIST) {
		zp_fmt(why, sizeof(why), "mkdir %s: %s", cg->dir, strerror(errno));
		return why;
	}
	zp_fmt(buf, sizeof(buf), "%s/cgroup.procs", cg->dir);
	if (zp_write_file(buf, pid)) {
		zp_fmt(why, sizeof(why), "joining %s: %s", cg->dir, strerror(errno));
		rmdir(cg->dir);
		return why;
	}
	return NULL;
}

static ZP_UNUSED long long zp_memcg_kb(struct zp_memcg *cg)
{
	char buf[64];

	if (zp_read_file(cg->usage, buf, sizeof(buf)))
		return -1;
	return strtoll(buf, NULL, 10) / 1024;
}

/* Leave the cgroup (back to its parent) and remove it. */
static ZP_UNUSED void zp_memcg_leave(struct zp_memcg *cg)
{
	char buf[PATH_MAX + 32], pid[32], *slash;

	zp_fmt(pid, sizeof(pid), "%d", getpid());
	zp_fmt(buf, sizeof(buf), "%s", cg->dir);
	slash = strrchr(buf, '/');
	if (slash) {
		zp_fmt(slash, sizeof(buf) - (size_t)(slash - buf), "/cgroup.procs");
		zp_write_file(buf, pid);
	}
	rmdir(cg->dir);
}

/* --------------------------------------------------------------- misc */

static ZP_UNUSED double zp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Run @fn(@arg) and report whether it raised SIGBUS (true) or returned.
 * Used for truncate/EOF semantics.
 */
static sigjmp_buf zp_sigbus_jmp;

static void zp_sigbus_handler(int sig)
{
	(void)sig;
	siglongjmp(zp_sigbus_jmp, 1);
}

static ZP_UNUSED bool zp_access_sigbus(volatile char *addr, bool write)
{
	struct sigaction sa = { .sa_handler = zp_sigbus_handler }, old;
	bool got = false;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(zp_sigbus_jmp, 1) == 0) {
		if (write)
			*addr = 1;
		else
			(void)*addr;
	} else {
		got = true;
	}
	sigaction(SIGBUS, &old, NULL);
	return got;
}

/* The long-term pin ioctls of /sys/kernel/debug/gup_test, from mm/gup_test.h (CONFIG_GUP_TEST). */
struct pin_longterm_test {
	uint64_t addr;
	uint64_t size;
	uint32_t flags;
};
#define PIN_LONGTERM_TEST_START	_IOW('g', 7, struct pin_longterm_test)
#define PIN_LONGTERM_TEST_STOP	_IO('g', 8)
#define PIN_LONGTERM_TEST_READ	_IOW('g', 9, uint64_t)
#define PIN_LONGTERM_TEST_FLAG_USE_FAST 2

#endif /* ZP_MM_H */
