// SPDX-License-Identifier: GPL-2.0
/*
 * zeropage: read faults of shmem holes map the shared zero page, and no write
 * path ever writes into it.
 *
 * read_hole_maps_zero_pfn asserts the desired behaviour of the series (base
 * allocates, so it fails there: see expectations.toml).  Every other subtest
 * read-faults a hole, writes one word by some path (a store, mprotect RO->RW
 * then a store, /proc/self/mem, process_vm_writev, read(2) into the mapping,
 * MADV_POPULATE_WRITE) and then checks that the data landed in a real page
 * (pagemap: not the zero pfn), reached the file (shared) or stayed private,
 * and that the zero page is intact: the other read-faulted pages, a fresh
 * anonymous page and a fresh memfd hole all still read zero.  A failure
 * there means the shared zero page was written: system-wide corruption.
 */
#include "zp_mm.h"	/* first: it defines _GNU_SOURCE */
#include <sys/uio.h>

#define REGION_PAGES 64
#define TARGET_PAGE 9
#define MAGIC 0x7e57da7a5eedUL

/*
 * At least one PMD where the kernel has THP: shmem_enabled=within_size allows
 * a huge page only when one fits below i_size, and the mode names say
 * "-huge" for it (zp_mode_huge()).
 */
static size_t region_size(void)
{
	size_t small = REGION_PAGES * zp_page_size();
	size_t pmd = (size_t)zp_hpage_pmd_kb() << 10;

	return pmd > small ? pmd : small;
}

static size_t target_off(void)
{
	return TARGET_PAGE * zp_page_size() + 64;
}

/* Create a region, map it with @prot in the mode, read-fault every page. */
static char *setup(struct zp_region *r, const struct zp_mode *m, int prot)
{
	char *p;

	if (zp_region_create(r, m, region_size()))
		return NULL;
	p = zp_map_mode(r, prot);
	if (p && zp_read_pages(p, r->size)) {
		ktap_diag("fresh hole is not zero");
		return NULL;
	}
	return p;
}

/*
 * After MAGIC was written at target_off() by some path: it is visible where
 * it should be, it sits in a real page, and the zero page is intact.
 */
static int verify_written(struct zp_region *r, char *p, const char *how)
{
	const char *nopfn = zp_pagemap_unusable();
	unsigned long got = *(volatile unsigned long *)(p + target_off());
	unsigned long file = ~0UL;
	size_t nonzero;

	ZP_CHECK_EQ(got, MAGIC, how);
	ZP_SYS(!zp_region_read(r, target_off(), &file, sizeof(file)), "read back");
	if (r->mode->shared)
		ZP_CHECK_EQ(file, MAGIC, how);
	else
		ZP_CHECK_EQ(file, 0, how);
	if (nopfn) {
		ktap_diag("pfn check skipped: %s", nopfn);
	} else {
		uint64_t pfn = zp_pfn(p + target_off());

		ktap_metric("zero_pfn_pages_after_write", (long long)zp_count_zero_pfn(p, r->size));
		ZP_CHECK(pfn && pfn != zp_zero_pfn(),
			 "%s: written offset maps pfn %#llx, the zero pfn is %#llx",
			 how, (unsigned long long)pfn, (unsigned long long)zp_zero_pfn());
	}
	nonzero = zp_count_dirty_pages(p, r->size);
	ZP_CHECK(nonzero == 1, "%s: %zu pages read non-zero, expected only the written one (zero page written?)",
		 how, nonzero);
	ZP_CHECK(zp_zero_page_intact(), "%s: the zero page still reads zero", how);
	return ZP_PASS;
}

/* Failure: read faults of a hole did not map the shared zero page (pagemap). */
static int read_hole_maps_zero_pfn(const struct zp_mode *m)
{
	const char *nopfn = zp_pagemap_unusable();
	struct zp_region r;
	size_t n;
	char *p;

	if (nopfn)
		return zp_skip("%s", nopfn);
	p = setup(&r, m, PROT_READ);
	ZP_SYS(p, "setup");
	n = zp_count_zero_pfn(p, r.size);
	ktap_metric("zero_pfn_pages", (long long)n);
	ktap_metric("pages", (long long)(r.size / zp_page_size()));
	ZP_CHECK(n == r.size / zp_page_size(), "%zu of %zu read-faulted hole pages map the zero pfn %#llx",
		 n, r.size / zp_page_size(), (unsigned long long)zp_zero_pfn());
	return ZP_PASS;
}

/* Failure: a store after a read fault wrote the zero page or was lost. */
static int store_after_read(const struct zp_mode *m)
{
	struct zp_region r;
	char *p = setup(&r, m, PROT_READ | PROT_WRITE);

	ZP_SYS(p, "setup");
	*(volatile unsigned long *)(p + target_off()) = MAGIC;
	return verify_written(&r, p, "store");
}

/* Failure: mprotect(RO->RW) left a zero-page PTE writable (the store hit the zero page) or lost it. */
static int mprotect_rw_store(const struct zp_mode *m)
{
	struct zp_region r;
	char *p;

	/* SysV: attach RW, drop to RO; fd: an RO mapping of an O_RDWR file. */
	p = setup(&r, m, zp_is_sysv_mode(m) ? PROT_READ | PROT_WRITE : PROT_READ);
	ZP_SYS(p, "setup");
	if (zp_is_sysv_mode(m)) {
		ZP_SYS(!mprotect(p, r.size, PROT_READ), "mprotect RO");
		(void)zp_read_pages(p, r.size);
	}
	ZP_SYS(!mprotect(p, r.size, PROT_READ | PROT_WRITE), "mprotect RW");
	*(volatile unsigned long *)(p + target_off()) = MAGIC;
	return verify_written(&r, p, "mprotect RO->RW + store");
}

/*
 * Failure: a write through /proc/self/mem (GUP, FOLL_FORCE for the private
 * read-only mapping) wrote the zero page or was lost.
 */
static int proc_self_mem_write(const struct zp_mode *m)
{
	unsigned long v = MAGIC;
	struct zp_region r;
	ssize_t n;
	int fd;
	char *p;

	/* Shared: a writable mapping; private: read-only, as ptrace pokes text. */
	p = setup(&r, m, m->shared ? PROT_READ | PROT_WRITE : PROT_READ);
	ZP_SYS(p, "setup");
	fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	ZP_SYS(fd >= 0, "open /proc/self/mem");
	n = pwrite(fd, &v, sizeof(v), (off_t)(uintptr_t)(p + target_off()));
	/* PROC_MEM_FORCE_PTRACE / proc_mem.force_override=ptrace: no FOLL_FORCE without ptrace. */
	if (n < 0 && errno == EIO && !m->shared)
		return zp_skip("/proc/self/mem may not override a read-only mapping here (proc_mem.force_override)");
	ZP_SYS(n == sizeof(v), "pwrite /proc/self/mem");
	close(fd);
	return verify_written(&r, p, "/proc/self/mem");
}

/*
 * Failure: a write to /proc/self/mem through a read-only shared mapping of a
 * read hole succeeded (FOLL_FORCE must not write a shared mapping), or it
 * wrote the zero page.
 */
static int proc_self_mem_ro_shared(const struct zp_mode *m)
{
	unsigned long v = MAGIC, file = ~0UL;
	struct zp_region r;
	ssize_t n;
	int fd;
	char *p;

	p = setup(&r, m, PROT_READ);
	ZP_SYS(p, "setup");
	fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	ZP_SYS(fd >= 0, "open /proc/self/mem");
	n = pwrite(fd, &v, sizeof(v), (off_t)(uintptr_t)(p + target_off()));
	close(fd);
	ZP_CHECK(n < 0, "pwrite to /proc/self/mem wrote %zd bytes into a read-only shared mapping", n);
	ZP_CHECK_EQ(*(volatile unsigned long *)(p + target_off()), 0, "the mapping still reads zero");
	ZP_SYS(!zp_region_read(&r, target_off(), &file, sizeof(file)), "read back");
	ZP_CHECK_EQ(file, 0, "the file still reads zero");
	ZP_CHECK(zp_zero_page_intact(), "zero page intact");
	return ZP_PASS;
}

/* Failure: process_vm_writev from another process wrote the zero page or was lost. */
static int process_vm_write(const struct zp_mode *m)
{
	struct zp_region r;
	int status;
	pid_t pid;
	char *p;

	p = setup(&r, m, PROT_READ | PROT_WRITE);
	ZP_SYS(p, "setup");
	pid = fork();
	ZP_SYS(pid >= 0, "fork");
	if (pid == 0) {
		unsigned long v = MAGIC;
		struct iovec local = { .iov_base = &v, .iov_len = sizeof(v) };
		struct iovec remote = { .iov_base = p + target_off(), .iov_len = sizeof(v) };

		if (process_vm_writev(getppid(), &local, 1, &remote, 1, 0) == sizeof(v))
			_exit(0);
		_exit(errno == ENOSYS ? 2 : 1);
	}
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
		return zp_skip("process_vm_writev: ENOSYS (kernel without CONFIG_CROSS_MEMORY_ATTACH)");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
		ktap_diag("process_vm_writev into the parent failed");
	ZP_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "process_vm_writev worked");
	return verify_written(&r, p, "process_vm_writev");
}

/* Failure: read(2) into a read-faulted mapping (kernel copy_to_user) wrote the zero page or was lost. */
static int read_syscall_into(const struct zp_mode *m)
{
	unsigned long v = MAGIC;
	struct zp_region r;
	int pfd[2];
	char *p;

	p = setup(&r, m, PROT_READ | PROT_WRITE);
	ZP_SYS(p, "setup");
	ZP_SYS(!pipe(pfd), "pipe");
	ZP_SYS(write(pfd[1], &v, sizeof(v)) == sizeof(v), "pipe write");
	ZP_SYS(read(pfd[0], p + target_off(), sizeof(v)) == sizeof(v), "read into mapping");
	return verify_written(&r, p, "read(2) into the mapping");
}

/*
 * Failure: MADV_POPULATE_WRITE after read faults left zero-page PTEs (or
 * wrote through them), or a store after it is lost.
 */
static int populate_write_after_read(const struct zp_mode *m)
{
	const char *nopfn = zp_pagemap_unusable();
	struct zp_region r;
	char *p;

	p = setup(&r, m, PROT_READ | PROT_WRITE);
	ZP_SYS(p, "setup");
	if (madvise(p, r.size, MADV_POPULATE_WRITE))
		return zp_skip("MADV_POPULATE_WRITE: %s", strerror(errno));
	if (!nopfn)
		ZP_CHECK(zp_count_zero_pfn(p, r.size) == 0,
			 "%zu pages still map the zero pfn after MADV_POPULATE_WRITE",
			 zp_count_zero_pfn(p, r.size));
	*(volatile unsigned long *)(p + target_off()) = MAGIC;
	return verify_written(&r, p, "MADV_POPULATE_WRITE + store");
}

/*
 * Failure: on a full tmpfs, a store to a read-faulted hole through a shared
 * mapping did not SIGBUS (no page can be allocated: if it "worked", it went
 * into the zero page) or the zero page no longer reads zero.
 */
static int store_full_fs_sigbus(const struct zp_mode *m)
{
	size_t ps = zp_page_size(), off;
	struct zp_region r;
	const char *why;
	char *p;

	why = zp_region_on_full_tmpfs(&r, m, REGION_PAGES * ps, 1024);
	if (why)
		return zp_skip("%s", why);
	p = zp_map_mode(&r, PROT_READ | PROT_WRITE);
	ZP_SYS(p, "mapping");
	for (off = 0; off < r.size; off += ps)
		(void)zp_access_sigbus(p + off, false);	/* base: SIGBUS here */
	ZP_CHECK(zp_access_sigbus(p + target_off(), true),
		 "a store with no space left raises SIGBUS; it returned and reads %#lx",
		 *(volatile unsigned long *)(p + target_off()));
	ZP_CHECK(zp_zero_page_intact(), "the zero page still reads zero");
	return ZP_PASS;
}

static const struct zp_test tests[] = {
	ZP_TEST(read_hole_maps_zero_pfn, ZP_ALL),
	ZP_TEST(store_after_read, ZP_ALL),
	ZP_TEST(mprotect_rw_store, ZP_ALL),
	ZP_TEST(proc_self_mem_write, ZP_ALL),
	ZP_TEST(proc_self_mem_ro_shared, ZP_ALL_SHARED),
	ZP_TEST(process_vm_write, ZP_ALL),
	ZP_TEST(read_syscall_into, ZP_ALL),
	ZP_TEST(populate_write_after_read, ZP_ALL),
	ZP_TEST(store_full_fs_sigbus, ZP_TMPFS_SHARED),
};

int main(void)
{
	return zp_run_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
