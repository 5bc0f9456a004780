// SPDX-License-Identifier: GPL-2.0
/*
 * thp: with huge pages enabled for shmem, read faults of holes must not stop
 * huge pages from being used where they were before: writing a huge=always
 * tmpfs file (with or without reading it first) fills it with PMD-sized
 * pages (ShmemHugePages) mapped by PMDs (ShmemPmdMapped); memfd with
 * shmem_enabled=advise + MADV_HUGEPAGE likewise; MADV_COLLAPSE of a range
 * whose holes were read-faulted still collapses, and the collapsed page is
 * coherent with every mapping.  A failure is a THP regression (or stale
 * data after a collapse filled the holes).
 */
#include "zp_mm.h"	/* first: it defines _GNU_SOURCE */

#define NR_PMDS 4
#define HUGE_FRACTION_PCT 75	/* of the region that must be huge */

static const char *thp_unavailable(void)
{
	long long pmd_kb = zp_hpage_pmd_kb();

	if (!pmd_kb)
		return "no THP in this kernel (hpage_pmd_size missing)";
	if (pmd_kb > 32 * 1024)
		return "PMD size above 32 MiB (e.g. 64 KiB pages): regions too large for the farm";
	return NULL;
}

static size_t pmd_size(void)
{
	return (size_t)zp_hpage_pmd_kb() << 10;
}

/* Map the region at a PMD-aligned address (mode's sharing, @prot). */
static char *map_aligned(struct zp_region *r, int prot)
{
	size_t pmd = pmd_size();
	char *res, *aligned, *p;

	res = mmap(NULL, r->size + pmd, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		return NULL;
	aligned = (char *)(((uintptr_t)res + pmd - 1) & ~(uintptr_t)(pmd - 1));
	if (zp_is_sysv(r)) {
		munmap(res, r->size + pmd);
		p = shmat(r->shmid, aligned, (prot & PROT_WRITE) ? 0 : SHM_RDONLY);
		return p == (void *)-1 ? NULL : p;
	}
	p = mmap(aligned, r->size, prot,
		 (r->mode->shared ? MAP_SHARED : MAP_PRIVATE) | MAP_FIXED, r->fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

struct huge_counters {
	long long huge_kb, pmd_mapped_kb;
};

static void sample(struct huge_counters *c)
{
	c->huge_kb = zp_meminfo_kb("ShmemHugePages");
	c->pmd_mapped_kb = zp_meminfo_kb("ShmemPmdMapped");
}

/* Report and check the growth of ShmemHugePages (and ShmemPmdMapped if @mapped). */
static int check_huge(const struct huge_counters *c0, size_t size, bool mapped)
{
	long long want = (long long)(size >> 10) * HUGE_FRACTION_PCT / 100;
	struct huge_counters c1;

	sample(&c1);
	ktap_metric("shmem_huge_delta_kb", c1.huge_kb - c0->huge_kb);
	ktap_metric("shmem_pmd_mapped_delta_kb", c1.pmd_mapped_kb - c0->pmd_mapped_kb);
	ktap_metric("region_kb", (long long)(size >> 10));
	ZP_CHECK(c1.huge_kb - c0->huge_kb >= want,
		 "ShmemHugePages grew by %lld kB, want >= %lld kB of a %zu kB file",
		 c1.huge_kb - c0->huge_kb, want, size >> 10);
	if (mapped)
		ZP_CHECK(c1.pmd_mapped_kb - c0->pmd_mapped_kb >= want,
			 "ShmemPmdMapped grew by %lld kB, want >= %lld kB",
			 c1.pmd_mapped_kb - c0->pmd_mapped_kb, want);
	return ZP_PASS;
}

/* Write (optionally after reading) through a shared mapping; expect PMD-mapped huge pages. */
static int huge_store_test(const struct zp_mode *m, bool read_first, bool advise)
{
	struct huge_counters c0;
	struct zp_region r;
	const char *why = thp_unavailable();
	long bad;
	char *p;

	if (why)
		return zp_skip("%s", why);
	ktap_diag("shmem_enabled=%s", zp_thp_setting("shmem_enabled"));
	ZP_SYS(!zp_region_create(&r, m, NR_PMDS * pmd_size()), "region create");
	sample(&c0);
	p = map_aligned(&r, PROT_READ | PROT_WRITE);
	ZP_SYS(p, "aligned mapping");
	if (advise)
		ZP_SYS(!madvise(p, r.size, MADV_HUGEPAGE), "MADV_HUGEPAGE");
	if (read_first)
		ZP_CHECK(zp_read_pages(p, r.size) == 0, "the hole reads zero");
	zp_write_pages(p, r.size, 0x1234);
	bad = zp_check_pages(p, r.size, 0x1234);
	ZP_CHECK(bad < 0, "page %ld lost its store", bad);
	return check_huge(&c0, r.size, true);
}

/* Failure: storing to a fresh huge=always tmpfs file no longer gives PMD-mapped huge pages. */
static int write_uses_huge(const struct zp_mode *m)
{
	return huge_store_test(m, false, false);
}

/* Failure: after read faults of the holes, stores no longer give PMD-mapped huge pages. */
static int read_then_write_uses_huge(const struct zp_mode *m)
{
	return huge_store_test(m, true, false);
}

/*
 * Failure: a private mapping that read the holes of a huge=always file does
 * not see a later pwrite, or the file no longer gets huge pages.
 */
static int private_read_then_pwrite_huge(const struct zp_mode *m)
{
	struct huge_counters c0;
	struct zp_region r;
	const char *why = thp_unavailable();
	unsigned long *buf;
	long bad;
	char *p;

	if (why)
		return zp_skip("%s", why);
	ZP_SYS(!zp_region_create(&r, m, NR_PMDS * pmd_size()), "region create");
	sample(&c0);
	p = map_aligned(&r, PROT_READ);
	ZP_SYS(p, "aligned mapping");
	ZP_CHECK(zp_read_pages(p, r.size) == 0, "the hole reads zero");
	buf = malloc(r.size);
	ZP_SYS(buf, "malloc");
	memset(buf, 0, r.size);
	zp_write_pages((char *)buf, r.size, 0x4321);
	ZP_SYS(pwrite(r.fd, buf, r.size, 0) == (ssize_t)r.size, "pwrite");
	bad = zp_check_pages(p, r.size, 0x4321);
	ZP_CHECK(bad < 0, "private mapping misses the pwrite at page %ld", bad);
	return check_huge(&c0, r.size, false);
}

/* Set shmem_enabled=advise for the duration of a test; "" if not possible. */
static char saved_shmem_enabled[64];

static const char *shmem_advise_begin(void)
{
	const char *cur = zp_thp_setting("shmem_enabled");

	if (!*cur)
		return "no /sys/kernel/mm/transparent_hugepage/shmem_enabled";
	snprintf(saved_shmem_enabled, sizeof(saved_shmem_enabled), "%s", cur);
	if (!strcmp(cur, "advise"))
		return NULL;
	if (zp_write_file("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "advise"))
		return "cannot set shmem_enabled=advise";
	return NULL;
}

static void shmem_advise_end(void)
{
	if (saved_shmem_enabled[0] && strcmp(saved_shmem_enabled, "advise"))
		zp_write_file("/sys/kernel/mm/transparent_hugepage/shmem_enabled",
			      saved_shmem_enabled);
}

/*
 * Failure: memfd with shmem_enabled=advise + MADV_HUGEPAGE no longer gets
 * PMD-mapped huge pages after its holes were read.
 */
static int memfd_advise_read_then_write(const struct zp_mode *m)
{
	const char *why = thp_unavailable();
	int ret;

	if (why)
		return zp_skip("%s", why);
	why = shmem_advise_begin();
	if (why)
		return zp_skip("%s", why);
	ret = huge_store_test(m, true, true);
	shmem_advise_end();
	return ret;
}

/*
 * Control for collapse_after_read: the same kind of range (data every 4th
 * page, holes elsewhere) without read faults.  Returns why MADV_COLLAPSE
 * cannot be used here, or NULL.
 */
static const char *collapse_unsupported(const struct zp_mode *m)
{
	static char why[256];
	size_t ps = zp_page_size(), off;
	struct zp_region r;
	unsigned long v = 1;
	char *p;

	if (zp_region_create(&r, m, pmd_size()))
		return "control region";
	for (off = 0; off < r.size; off += 4 * ps)
		zp_region_write(&r, off, &v, sizeof(v));
	p = map_aligned(&r, PROT_READ);
	if (!p)
		return "control mapping";
	if (madvise(p, r.size, MADV_COLLAPSE)) {
		snprintf(why, sizeof(why), "MADV_COLLAPSE fails without read faults too: %s",
			 strerror(errno));
		return why;
	}
	zp_unmap(&r, p);
	if (r.fd >= 0)
		close(r.fd);
	return NULL;
}

/*
 * MADV_COLLAPSE of a PMD range whose holes were read-faulted: collapse must
 * succeed (as it does for the same range without the read faults), the
 * collapsed page must be coherent with the mapping for later file writes.
 */
static int collapse_after_read(const struct zp_mode *m)
{
	size_t ps = zp_page_size(), pmd, off;
	struct huge_counters c0, c1;
	struct zp_region r;
	const char *why = thp_unavailable();
	unsigned long v;
	char *p;

	if (why)
		return zp_skip("%s", why);
	pmd = pmd_size();
	ZP_SYS(!zp_region_create(&r, m, pmd), "region create");
	/* Counted from here: where huge pages are allowed, the writes allocate one already. */
	sample(&c0);
	/* Data in every 4th page, holes elsewhere. */
	for (off = 0; off < pmd; off += 4 * ps) {
		v = 0xc011a9UL ^ off;
		ZP_SYS(!zp_region_write(&r, off, &v, sizeof(v)), "write");
	}
	p = map_aligned(&r, m->shared ? PROT_READ | PROT_WRITE : PROT_READ);
	ZP_SYS(p, "aligned mapping");
	(void)zp_read_pages(p, pmd);	/* read-fault the holes */
	why = collapse_unsupported(m);
	if (why)
		return zp_skip("%s", why);
	ZP_SYS(!madvise(p, pmd, MADV_COLLAPSE),
	       "MADV_COLLAPSE of a range with read-faulted holes (the same range without read faults collapses)");
	sample(&c1);
	ktap_metric("shmem_huge_delta_kb", c1.huge_kb - c0.huge_kb);
	ZP_CHECK(c1.huge_kb - c0.huge_kb >= (long long)(pmd >> 10),
		 "ShmemHugePages grew by %lld kB (writes, read faults and MADV_COLLAPSE)",
		 c1.huge_kb - c0.huge_kb);
	for (off = 0; off < pmd; off += ps) {
		unsigned long want = (off % (4 * ps)) ? 0 : 0xc011a9UL ^ off;

		ZP_CHECK(*(volatile unsigned long *)(p + off) == want,
			 "after collapse offset %#zx reads %#lx, expected %#lx", off,
			 *(volatile unsigned long *)(p + off), want);
	}
	/* Fill former holes from outside: the mapping must see it. */
	for (off = ps; off < pmd; off += 4 * ps) {
		v = 0xf111edUL ^ off;
		ZP_SYS(!zp_region_write(&r, off, &v, sizeof(v)), "write");
		ZP_CHECK(*(volatile unsigned long *)(p + off) == v,
			 "after collapse a write at %#zx is not seen (reads %#lx)", off,
			 *(volatile unsigned long *)(p + off));
	}
	ZP_CHECK(zp_zero_page_intact(), "the zero page still reads zero");
	return ZP_PASS;
}

static const struct zp_test tests[] = {
	ZP_TEST(write_uses_huge, ZP_HUGE_SHARED),
	ZP_TEST(read_then_write_uses_huge, ZP_HUGE_SHARED),
	ZP_TEST(private_read_then_pwrite_huge, ZP_HUGE_PRIVATE),
	ZP_TEST(memfd_advise_read_then_write, ZP_MEMFD_SHARED),
	ZP_TEST(collapse_after_read, ZP_MEMFD_SHARED | ZP_MEMFD_PRIVATE |
				     ZP_TMPFS_SHARED | ZP_TMPFS_PRIVATE | ZP_SYSV_SHARED),
};

int main(void)
{
	return zp_run_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
