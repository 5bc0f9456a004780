// SPDX-License-Identifier: GPL-2.0
/*
 * memory: reading a hole of a shmem object must cost (almost) no memory, and
 * writing k pages afterwards must add exactly k pages.
 *
 * Every subtest reads ZPFARM_MEM_MB (default 64) MiB of a fresh hole through
 * a mapping of the mode under test and reports the deltas as metrics.  The
 * tests assert the desired behaviour (the shared zero page is mapped), so
 * the base kernel, which allocates a page per read fault, fails them with
 * numbers (see expectations.toml).
 */
#include "zp_mm.h"

#define ZP_MEM_SLACK_KB 1024	/* "about 0": below 1 MiB for any region size */
#define ZP_RSS_SLACK_KB 256	/* percpu batching of mm counters */
#define ZP_K_PAGES 16		/* pages written after the read */

static size_t region_size(void)
{
	return (size_t)zp_env_long("ZPFARM_MEM_MB", 64) << 20;
}

static void print_context(size_t size)
{
	ktap_diag("region %zu MiB, page %zu B, shmem_enabled=%s", size >> 20,
		  zp_page_size(), zp_thp_setting("shmem_enabled"));
}

/* Map, read-fault every page of the hole, check it reads zero. */
static char *read_whole_hole(struct zp_region *r)
{
	char *p = zp_map_mode(r, PROT_READ);
	size_t nonzero;

	if (!p)
		return NULL;
	nonzero = zp_read_pages(p, r->size);
	if (nonzero) {
		ktap_diag("hole read %zu non-zero pages", nonzero);
		return NULL;
	}
	return p;
}

/* Failure: reading a hole raised Shmem in /proc/meminfo (a page per read fault). */
static int read_hole_meminfo(const struct zp_mode *m)
{
	struct zp_region r;
	long long before, after;

	print_context(region_size());
	ZP_SYS(!zp_region_create(&r, m, region_size()), "region create");
	before = zp_meminfo_kb("Shmem");
	ZP_CHECK(read_whole_hole(&r), "a readable hole");
	after = zp_meminfo_kb("Shmem");
	ktap_metric("shmem_delta_kb", after - before);
	ktap_metric("region_kb", (long long)(r.size >> 10));
	ZP_CHECK(after - before < ZP_MEM_SLACK_KB,
		 "Shmem grew by %lld kB reading a %zu kB hole", after - before,
		 r.size >> 10);
	return ZP_PASS;
}

/* Failure: reading a hole allocated blocks (st_blocks, or SysV shm_rss). */
static int read_hole_blocks(const struct zp_mode *m)
{
	struct zp_region r;
	long long before, after;

	print_context(region_size());
	ZP_SYS(!zp_region_create(&r, m, region_size()), "region create");
	before = zp_region_alloc_kb(&r);
	ZP_CHECK(read_whole_hole(&r), "a readable hole");
	after = zp_region_alloc_kb(&r);
	ktap_metric("blocks_delta_kb", after - before);
	ZP_CHECK(after - before < ZP_MEM_SLACK_KB,
		 "the object allocated %lld kB reading a %zu kB hole",
		 after - before, r.size >> 10);
	return ZP_PASS;
}

/* Failure: reading a hole raised RssShmem of the reader (pages, not the zero page, mapped). */
static int read_hole_rss(const struct zp_mode *m)
{
	struct zp_region r;
	long long before, after;

	print_context(region_size());
	ZP_SYS(!zp_region_create(&r, m, region_size()), "region create");
	before = zp_status_kb("RssShmem");
	ZP_CHECK(read_whole_hole(&r), "a readable hole");
	after = zp_status_kb("RssShmem");
	ktap_metric("rss_shmem_delta_kb", after - before);
	ZP_CHECK(after - before < ZP_MEM_SLACK_KB,
		 "RssShmem grew by %lld kB reading a %zu kB hole",
		 after - before, r.size >> 10);
	return ZP_PASS;
}

/* Failure: reading a hole was charged to the reader's memcg (memory.current). */
static int read_hole_memcg(const struct zp_mode *m)
{
	struct zp_memcg cg;
	struct zp_region r;
	long long before, after;
	const char *why;
	char *p;

	why = zp_memcg_enter(&cg);
	if (why)
		return zp_skip("%s", why);
	print_context(region_size());
	ktap_diag("memcg %s", cg.usage);
	ZP_SYS(!zp_region_create(&r, m, region_size()), "region create");
	before = zp_memcg_kb(&cg);
	p = read_whole_hole(&r);
	after = zp_memcg_kb(&cg);
	if (p)
		zp_unmap(&r, p);
	if (r.fd >= 0)
		close(r.fd);
	zp_memcg_leave(&cg);
	ZP_CHECK(p, "a readable hole");
	ktap_metric("memcg_delta_kb", after - before);
	ZP_CHECK(after - before < ZP_MEM_SLACK_KB,
		 "memcg usage grew by %lld kB reading a %zu kB hole",
		 after - before, r.size >> 10);
	return ZP_PASS;
}

struct counters {
	long long shmem, alloc, rss_shmem, rss_anon;
};

static void sample(struct zp_region *r, struct counters *c)
{
	c->shmem = zp_meminfo_kb("Shmem");
	c->alloc = zp_region_alloc_kb(r);
	c->rss_shmem = zp_status_kb("RssShmem");
	c->rss_anon = zp_status_kb("RssAnon");
}

/*
 * After reading/not reading the hole, add k pages (stores through the
 * mapping, or pwrite(2) if @use_pwrite) and check the object grew by exactly
 * k pages overall.  MAP_PRIVATE stores add k anonymous pages instead and the
 * object stays empty.
 */
static int k_pages_test(const struct zp_mode *m, bool read_first, bool use_pwrite)
{
	size_t ps = zp_page_size(), size = region_size();
	size_t stride = size / ZP_K_PAGES, i;
	long long page_kb = (long long)(ps >> 10);
	long long k_kb = ZP_K_PAGES * page_kb;
	long long want_alloc, want_rss_shmem, want_rss_anon;
	struct counters c0, c1;
	struct zp_region r;
	char *p;

	print_context(size);
	ZP_SYS(!zp_region_create(&r, m, size), "region create");
	sample(&r, &c0);
	p = zp_map_mode(&r, PROT_READ | PROT_WRITE);
	ZP_CHECK(p, "a mapping");
	if (read_first)
		ZP_CHECK(zp_read_pages(p, size) == 0, "the hole reads zero");
	for (i = 0; i < ZP_K_PAGES; i++) {
		unsigned long v = 0x5a5a0000UL + i;

		if (use_pwrite)
			ZP_SYS(!zp_region_write(&r, i * stride, &v, sizeof(v)), "pwrite");
		else
			*(volatile unsigned long *)(p + i * stride) = v;
	}
	sample(&r, &c1);
	for (i = 0; i < ZP_K_PAGES; i++) {
		unsigned long v = 0;

		ZP_CHECK(*(volatile unsigned long *)(p + i * stride) == 0x5a5a0000UL + i,
			 "page %zu reads %#lx through the mapping", i * stride / ps,
			 *(volatile unsigned long *)(p + i * stride));
		zp_region_read(&r, i * stride, &v, sizeof(v));
		if (m->shared || use_pwrite)
			ZP_CHECK(v == 0x5a5a0000UL + i, "page %zu reads %#lx from the file",
				 i * stride / ps, v);
		else
			ZP_CHECK_EQ(v, 0, "a private store must not reach the file");
	}

	ktap_metric("k_pages", ZP_K_PAGES);
	ktap_metric("blocks_delta_kb", c1.alloc - c0.alloc);
	ktap_metric("shmem_delta_kb", c1.shmem - c0.shmem);
	ktap_metric("rss_shmem_delta_kb", c1.rss_shmem - c0.rss_shmem);
	ktap_metric("rss_anon_delta_kb", c1.rss_anon - c0.rss_anon);

	if (zp_mode_huge(m)) {
		/* Huge pages allowed: writing k pages allocates up to k huge pages. */
		ZP_CHECK(c1.alloc - c0.alloc <= ZP_K_PAGES * zp_hpage_pmd_kb(),
			 "object grew by %lld kB for %d huge-page writes",
			 c1.alloc - c0.alloc, ZP_K_PAGES);
		if (!use_pwrite && !m->shared)
			ZP_CHECK(c1.alloc - c0.alloc < ZP_MEM_SLACK_KB,
				 "private stores grew the object by %lld kB",
				 c1.alloc - c0.alloc);
		return ZP_PASS;
	}
	want_alloc = (m->shared || use_pwrite) ? k_kb : 0;
	want_rss_shmem = m->shared ? k_kb : 0;
	want_rss_anon = (m->shared || use_pwrite) ? 0 : k_kb;
	ZP_CHECK(c1.alloc - c0.alloc == want_alloc,
		 "object grew by %lld kB, want exactly %lld kB (%d pages)",
		 c1.alloc - c0.alloc, want_alloc, ZP_K_PAGES);
	ZP_CHECK(llabs(c1.shmem - c0.shmem - want_alloc) <= ZP_MEM_SLACK_KB,
		 "Shmem grew by %lld kB, want %lld kB", c1.shmem - c0.shmem,
		 want_alloc);
	if (!use_pwrite) {
		ZP_CHECK(llabs(c1.rss_shmem - c0.rss_shmem - want_rss_shmem) <= ZP_RSS_SLACK_KB,
			 "RssShmem grew by %lld kB, want %lld kB",
			 c1.rss_shmem - c0.rss_shmem, want_rss_shmem);
		ZP_CHECK(llabs(c1.rss_anon - c0.rss_anon - want_rss_anon) <= ZP_RSS_SLACK_KB,
			 "RssAnon grew by %lld kB, want %lld kB",
			 c1.rss_anon - c0.rss_anon, want_rss_anon);
	}
	return ZP_PASS;
}

/* Failure: after reading the hole, k stores did not add exactly k pages (base: the read already allocated). */
static int write_after_read(const struct zp_mode *m)
{
	return k_pages_test(m, true, false);
}

/* Failure: after reading the hole, pwrite of k pages did not add exactly k pages. */
static int pwrite_after_read(const struct zp_mode *m)
{
	return k_pages_test(m, true, true);
}

/* Failure: storing to k pages of a fresh hole (no read) through MAP_SHARED did not add exactly k pages (accounting broken). */
static int write_hole(const struct zp_mode *m)
{
	return k_pages_test(m, false, false);
}

/*
 * Failure: reading a hole of a file on a full tmpfs raised SIGBUS (a page
 * had to be allocated for a read; with the zero page reads cost nothing).
 */
static int read_hole_full_fs(const struct zp_mode *m)
{
	struct zp_region r;
	size_t off, sigbus = 0;
	const char *why;
	char *p;

	why = zp_region_on_full_tmpfs(&r, m, 4 << 20, 1024);
	if (why)
		return zp_skip("%s", why);
	p = zp_map_mode(&r, PROT_READ);
	ZP_SYS(p, "mapping");
	for (off = 0; off < r.size; off += zp_page_size())
		if (zp_access_sigbus(p + off, false))
			sigbus++;
		else
			ZP_CHECK(*(volatile unsigned long *)(p + off) == 0, "the hole reads zero");
	ktap_metric("sigbus_pages", (long long)sigbus);
	ktap_metric("pages", (long long)(r.size / zp_page_size()));
	ZP_CHECK(sigbus == 0, "%zu of %zu read faults of holes on a full tmpfs raised SIGBUS",
		 sigbus, r.size / zp_page_size());
	return ZP_PASS;
}

static const struct zp_test tests[] = {
	ZP_TEST(read_hole_meminfo, ZP_ALL),
	ZP_TEST(read_hole_blocks, ZP_ALL),
	ZP_TEST(read_hole_rss, ZP_ALL),
	ZP_TEST(read_hole_memcg, ZP_ALL),
	ZP_TEST(write_after_read, ZP_ALL),
	ZP_TEST(pwrite_after_read, ZP_FD_ALL),
	ZP_TEST(write_hole, ZP_ALL_SHARED),
	ZP_TEST(read_hole_full_fs, ZP_TMPFS_SHARED | ZP_TMPFS_PRIVATE),
};

int main(void)
{
	return zp_run_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
