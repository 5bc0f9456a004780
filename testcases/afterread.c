// SPDX-License-Identifier: GPL-2.0
/*
 * afterread: what a mapping may do to a hole after it was read.  With the
 * series, a read fault of a hole maps the shared zero page; without it, the
 * read allocated a page.  Every mm operation that comes after the read must
 * behave as it did on base:
 *
 *  - userfaultfd MISSING, MINOR, WP and (7.3) RWP registered after the read:
 *    a store, MADV_POPULATE_WRITE, mlock() complete (bounded: a hang fails by
 *    name), UFFDIO_COPY and UFFDIO_ZEROPAGE fail with EEXIST as over the page
 *    base allocated, and the data written lands everywhere;
 *  - mremap() of a range holding zero pages: grow, shrink, move, move with
 *    MREMAP_DONTUNMAP;
 *  - MAP_SHARED|MAP_ANONYMOUS (shmem-backed) read then written across fork;
 *  - a R/O long-term pin (gup_test) through a read-only mapping, then a
 *    store through another mapping;
 *  - a zero-page PTE is never writable after mprotect(), fork, mremap(),
 *    RWP (async, and mremap() of a protected range) or migration: a store of 0 must leave a real page at that address
 *    (pagemap), and data then goes round trip between the mapping, another
 *    mapping of the file and pread()/pwrite().
 *
 * Stores into a possibly still mapped zero page write 0 only, so a bug does
 * not corrupt the zero page that every process shares.
 */
#include "zp_mm.h"	/* first: it defines _GNU_SOURCE */
#include <pthread.h>
#include <poll.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

#define REGION_PAGES 64
#define TARGET 9		/* the page index every case writes */
#define WAIT_S 3		/* an access that takes longer retries forever */
#define RT_WAIT_S 10		/* a round trip (several syscalls) under TCG */

static size_t region_size(void)
{
	return REGION_PAGES * zp_page_size();
}

static unsigned long peek(const char *p, size_t off)
{
	return *(const volatile unsigned long *)(p + off);
}

static void poke(char *p, size_t off, unsigned long v)
{
	*(volatile unsigned long *)(p + off) = v;
}

static unsigned long file_word(struct zp_region *r, size_t off)
{
	unsigned long v = ~0UL;

	zp_region_read(r, off, &v, sizeof(v));
	return v;
}

/* The region, a mapping @p in the mode and a shared read-only mapping @q, every page of both read. */
static int setup(struct zp_region *r, const struct zp_mode *m, size_t size,
		 char **p, char **q)
{
	if (zp_region_create(r, m, size))
		return -1;
	*p = zp_map_mode(r, PROT_READ | PROT_WRITE);
	*q = zp_map(r, PROT_READ, true);
	if (!*p || !*q)
		return -1;
	if (zp_read_pages(*q, size) || zp_read_pages(*p, size)) {
		ktap_diag("fresh hole is not zero");
		return -1;
	}
	return 0;
}

/*
 * The round trip at @p + @off, which maps file offset @foff (@q maps the
 * whole file, shared, read-only):
 *  1. a store of 0 replaces whatever maps there by a real page: a zero pfn
 *     still mapped after the store means the PTE was writable;
 *  2. a stored value reaches pread() and @q (shared) or stays private;
 *  3. a pwrite() to another word of the page (shared) or to the next page
 *     (read only, not stored) is seen through @p.
 */
static int round_trip(struct zp_region *r, char *p, char *q, size_t off,
		      size_t foff, const char *what)
{
	bool shared = r->mode->shared, pfns = !zp_pagemap_unusable();
	size_t ps = zp_page_size();
	unsigned long v = 0x5a5a0000UL ^ foff, w = 0x7e570000UL ^ foff;

	poke(p, off, 0);
	if (pfns)
		ZP_CHECK(zp_pfn(p + off) != zp_zero_pfn(),
			 "%s: the zero page is still mapped at %#zx after a store there: its PTE was writable",
			 what, off);
	poke(p, off, v);
	ZP_CHECK_EQ(peek(p, off), v, "the mapping reads its store back");
	ZP_CHECK_EQ(file_word(r, foff), shared ? v : 0, "pread() after a store through the mapping");
	ZP_CHECK_EQ(peek(q, foff), shared ? v : 0, "another mapping after a store through the mapping");
	if (shared) {
		ZP_SYS(!zp_region_write(r, foff + 64, &w, sizeof(w)), "pwrite");
		ZP_CHECK_EQ(peek(p, off + 64), w, "the mapping after a pwrite() to the page it stored to");
	}
	ZP_SYS(!zp_region_write(r, foff + ps, &w, sizeof(w)), "pwrite");
	ZP_CHECK_EQ(peek(p, off + ps), w, "the mapping after a pwrite() to a page it only read");
	ZP_CHECK(zp_zero_page_intact(), "the zero page is intact");
	return ZP_PASS;
}

/* ------------------------------------------------- bounded access thread */

struct bounded {
	int (*fn)(void *arg);
	void *arg;
	int ret;	/* what fn returned */
	int err;	/* errno of the access, 0 if it worked */
};

static void *bounded_fn(void *arg)
{
	struct bounded *b = arg;

	b->ret = b->fn(b->arg);
	b->err = b->ret ? errno : 0;
	return NULL;
}

/*
 * Run @fn(@arg) in a thread for at most @secs s: ETIMEDOUT if it did not
 * return, else 0 (its result in b->ret, errno in b->err).
 */
static int run_bounded(struct bounded *b, int secs)
{
	struct timespec until;
	pthread_t t;
	int err;

	if (pthread_create(&t, NULL, bounded_fn, b))
		return EAGAIN;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += secs;
	err = pthread_timedjoin_np(t, NULL, &until);
	/* On a timeout, exiting the subtest's process ends the looping thread. */
	return err;
}

/* ------------------------------------------------------------ userfaultfd */

/* userfaultfd RWP (Linux 7.3); the UAPI may be newer than libc's. */
#ifndef UFFD_FEATURE_RWP
#define UFFD_FEATURE_RWP (1 << 17)
#define UFFD_FEATURE_RWP_ASYNC (1 << 18)
#define UFFDIO_REGISTER_MODE_RWP ((__u64)1 << 3)
#define _UFFDIO_RWPROTECT (0x09)
struct uffdio_rwprotect {
	struct uffdio_range range;
#define UFFDIO_RWPROTECT_MODE_RWP ((__u64)1 << 0)
	__u64 mode;
};
#define UFFDIO_RWPROTECT _IOWR(UFFDIO, _UFFDIO_RWPROTECT, struct uffdio_rwprotect)
#endif
#ifndef UFFD_FEATURE_MINOR_SHMEM
#define UFFD_FEATURE_MINOR_SHMEM (1 << 10)
#endif
#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif

enum uffd_reg { REG_MISSING, REG_MINOR, REG_WP, REG_RWP, REG_RWP_SYNC };
enum uffd_access { ACC_STORE, ACC_POPULATE_WRITE, ACC_MLOCK, ACC_COPY, ACC_ZEROPAGE };

static const char *const reg_name[] = { "MISSING", "MINOR", "WP", "RWP (async)", "RWP" };
static const char *const access_name[] = {
	"a store", "MADV_POPULATE_WRITE", "mlock()", "UFFDIO_COPY", "UFFDIO_ZEROPAGE",
};

/* Register [p, p + len) in @reg mode (RWP: and protect it); the uffd, or -errno. */
static int uffd_register_after_read(char *p, size_t len, enum uffd_reg reg)
{
	static const __u64 features[] = {
		[REG_MISSING] = 0,
		[REG_MINOR] = UFFD_FEATURE_MINOR_SHMEM,
		[REG_WP] = UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
		[REG_RWP] = UFFD_FEATURE_RWP | UFFD_FEATURE_RWP_ASYNC,
		[REG_RWP_SYNC] = UFFD_FEATURE_RWP,
	};
	static const __u64 modes[] = {
		[REG_MISSING] = UFFDIO_REGISTER_MODE_MISSING,
		[REG_MINOR] = UFFDIO_REGISTER_MODE_MINOR,
		[REG_WP] = UFFDIO_REGISTER_MODE_WP,
		[REG_RWP] = UFFDIO_REGISTER_MODE_RWP,
		[REG_RWP_SYNC] = UFFDIO_REGISTER_MODE_RWP,
	};
	struct uffdio_api api = { .api = UFFD_API, .features = features[reg] };
	struct uffdio_register r = {
		.range = { .start = (uintptr_t)p, .len = len },
		.mode = modes[reg],
	};
	struct uffdio_rwprotect rwp = {
		.range = { .start = (uintptr_t)p, .len = len },
		.mode = UFFDIO_RWPROTECT_MODE_RWP,
	};
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (uffd < 0)
		return -errno;
	if (ioctl(uffd, UFFDIO_API, &api) || ioctl(uffd, UFFDIO_REGISTER, &r))
		return -errno;
	if ((reg == REG_RWP || reg == REG_RWP_SYNC) && ioctl(uffd, UFFDIO_RWPROTECT, &rwp))
		return -errno;
	return uffd;
}

struct uffd_access_args {
	enum uffd_access how;
	int uffd;
	char *addr;
	void *src;
};

static int uffd_access_fn(void *arg)
{
	struct uffd_access_args *a = arg;
	size_t ps = zp_page_size();
	struct uffdio_copy copy = {
		.dst = (uintptr_t)a->addr, .src = (uintptr_t)a->src, .len = ps,
	};
	struct uffdio_zeropage zero = {
		.range = { .start = (uintptr_t)a->addr, .len = ps },
	};

	switch (a->how) {
	case ACC_STORE:
		poke(a->addr, 0, 0);
		return 0;
	case ACC_POPULATE_WRITE:
		return madvise(a->addr, ps, MADV_POPULATE_WRITE);
	case ACC_MLOCK:
		return mlock(a->addr, ps);
	case ACC_COPY:
		return ioctl(a->uffd, UFFDIO_COPY, &copy);
	case ACC_ZEROPAGE:
		return ioctl(a->uffd, UFFDIO_ZEROPAGE, &zero);
	}
	return 0;
}

struct round_trip_args {
	struct zp_region *r;
	char *p, *q;
	size_t off;
	const char *what;
};

static int round_trip_fn(void *arg)
{
	struct round_trip_args *a = arg;

	return round_trip(a->r, a->p, a->q, a->off, a->off, a->what);
}

/*
 * Run the round trip @b in a thread while watching @uffd: an event (for a
 * page that was read) fails the subtest at once, naming the page, instead
 * of blocking it until the timeout.
 */
static int round_trip_watched(struct bounded *b, int uffd, char *p,
			      const char *what, const char *reg)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;
	pthread_t t;
	int i;

	ZP_SYS(!pthread_create(&t, NULL, bounded_fn, b), "pthread_create");
	for (i = 0; i < RT_WAIT_S * 10; i++) {
		if (!pthread_tryjoin_np(t, NULL))
			return b->ret;
		if (poll(&pfd, 1, 100) == 1 && read(uffd, &msg, sizeof(msg)) == sizeof(msg)) {
			ktap_diag("the round trip after %s raised a userfaultfd %s event %#x (flags %#llx) at page %lld, which was read before registration: the fill unmapped what the read had mapped",
				  what, reg, msg.event, (unsigned long long)msg.arg.pagefault.flags,
				  (long long)(((uintptr_t)msg.arg.pagefault.address - (uintptr_t)p) /
					      zp_page_size()));
			return ZP_FAIL;
		}
	}
	ktap_diag("the round trip after %s did not complete in %d s", what, RT_WAIT_S);
	return ZP_FAIL;
}

/*
 * A hole read before userfaultfd registration counts as populated, as the
 * page base allocated on the read does: @how completes within WAIT_S s and
 * raises no event; UFFDIO_COPY and UFFDIO_ZEROPAGE fail with EEXIST, as over
 * any present PTE (anonymous memory's zero page included); then data goes
 * round trip through the mapping, another mapping and pread().
 * Failure: the access retried forever (v2 review N1), an event for an offset
 * that was read, a fill over the read hole, or stale / lost data.
 */
static int uffd_after_read(const struct zp_mode *m, enum uffd_reg reg,
			   enum uffd_access how)
{
	size_t ps = zp_page_size(), off = TARGET * ps;
	struct uffd_access_args a = { .how = how };
	struct bounded b = { .fn = uffd_access_fn, .arg = &a };
	struct round_trip_args rt = { .off = off, .what = access_name[how] };
	struct zp_region r;
	struct pollfd pfd;
	char *p, *q;
	int err;

	ZP_SYS(!setup(&r, m, region_size(), &p, &q), "setup");
	a.uffd = uffd_register_after_read(p, r.size, reg);
	if (a.uffd < 0)
		return zp_skip("userfaultfd %s on %s: %s", reg_name[reg], r.path, strerror(-a.uffd));
	a.addr = p + off;
	rt.r = &r;
	rt.p = p;
	rt.q = q;
	a.src = aligned_alloc(ps, ps);
	ZP_SYS(a.src, "aligned_alloc");
	memset(a.src, 0, ps);
	*(unsigned long *)a.src = 0xc0b1UL;
	err = run_bounded(&b, WAIT_S);
	ZP_CHECK(err != ETIMEDOUT,
		 "%s after a read of the hole and UFFDIO_REGISTER(%s) did not complete in %d s (retried forever?)",
		 access_name[how], reg_name[reg], WAIT_S);
	ZP_SYS(!err, "the access thread");
	if (how == ACC_COPY || how == ACC_ZEROPAGE) {
		if (!b.err)
			ktap_diag("%s filled the read hole: mapping %#lx, other mapping %#lx, pread %#lx",
				  access_name[how], peek(p, off), peek(q, off), file_word(&r, off));
		ZP_CHECK(b.err == EEXIST,
			 "%s over a hole read before registration: %s, where base says EEXIST (the read allocated the page)",
			 access_name[how], b.err ? strerror(b.err) : "succeeded");
		ZP_CHECK_EQ(peek(p, off), 0, "the mapping after a refused fill");
	} else {
		ZP_CHECK(!b.err, "%s: %s", access_name[how], strerror(b.err));
	}
	pfd.fd = a.uffd;
	pfd.events = POLLIN;
	ZP_CHECK(poll(&pfd, 1, 0) == 0, "no userfaultfd event for an offset that was read");
	/* The round trip must not block either: no page that was read may raise an event. */
	b.fn = round_trip_fn;
	b.arg = &rt;
	return round_trip_watched(&b, a.uffd, p, access_name[how], reg_name[reg]);
}

#define UFFD_CASE(reg, acc, fn)						\
static int fn(const struct zp_mode *m)					\
{									\
	return uffd_after_read(m, reg, acc);				\
}

UFFD_CASE(REG_MISSING, ACC_STORE, uffd_missing_after_read_store)
UFFD_CASE(REG_MISSING, ACC_POPULATE_WRITE, uffd_missing_after_read_populate_write)
UFFD_CASE(REG_MISSING, ACC_MLOCK, uffd_missing_after_read_mlock)
UFFD_CASE(REG_MISSING, ACC_COPY, uffd_missing_after_read_copy)
UFFD_CASE(REG_MISSING, ACC_ZEROPAGE, uffd_missing_after_read_zeropage)
UFFD_CASE(REG_MINOR, ACC_STORE, uffd_minor_after_read_store)
UFFD_CASE(REG_MINOR, ACC_POPULATE_WRITE, uffd_minor_after_read_populate_write)
UFFD_CASE(REG_MINOR, ACC_MLOCK, uffd_minor_after_read_mlock)
UFFD_CASE(REG_MINOR, ACC_COPY, uffd_minor_after_read_copy)
UFFD_CASE(REG_MINOR, ACC_ZEROPAGE, uffd_minor_after_read_zeropage)
UFFD_CASE(REG_WP, ACC_STORE, uffd_wp_after_read_store)
UFFD_CASE(REG_WP, ACC_POPULATE_WRITE, uffd_wp_after_read_populate_write)
UFFD_CASE(REG_WP, ACC_MLOCK, uffd_wp_after_read_mlock)
UFFD_CASE(REG_WP, ACC_COPY, uffd_wp_after_read_copy)
UFFD_CASE(REG_WP, ACC_ZEROPAGE, uffd_wp_after_read_zeropage)
UFFD_CASE(REG_RWP, ACC_STORE, uffd_rwp_after_read_store)
UFFD_CASE(REG_RWP, ACC_POPULATE_WRITE, uffd_rwp_after_read_populate_write)
UFFD_CASE(REG_RWP, ACC_MLOCK, uffd_rwp_after_read_mlock)
UFFD_CASE(REG_RWP, ACC_COPY, uffd_rwp_after_read_copy)
UFFD_CASE(REG_RWP, ACC_ZEROPAGE, uffd_rwp_after_read_zeropage)

/* ----------------------------------------------------------------- mremap */

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

enum remap_kind { REMAP_GROW, REMAP_SHRINK, REMAP_MOVE, REMAP_DONTUNMAP };

/*
 * mremap() a mapping whose pages were all read (zero pages on the series),
 * then the round trip at a page that moved (and, grown, at one in the new
 * tail; with MREMAP_DONTUNMAP, also through the old range, which faults
 * the file in again).
 * Failure: a moved zero-page PTE was writable, or stale after a pwrite().
 */
static int mremap_after_read(const struct zp_mode *m, enum remap_kind kind)
{
	size_t ps = zp_page_size(), half = region_size() / 2, off = TARGET * ps;
	struct zp_region r;
	char *p, *q, *n, *dst;
	int ret;

	ZP_SYS(!setup(&r, m, region_size(), &p, &q), "setup");
	switch (kind) {
	case REMAP_GROW:
		/* Map the first half only, read it, then grow over the second. */
		ZP_SYS(!munmap(p + half, half), "munmap the second half");
		n = mremap(p, half, r.size, MREMAP_MAYMOVE);
		ZP_SYS(n != MAP_FAILED, "mremap grow");
		ret = round_trip(&r, n, q, off, off, "mremap grow");
		if (ret)
			return ret;
		return round_trip(&r, n, q, half + off, half + off, "mremap grow (new tail)");
	case REMAP_SHRINK:
		n = mremap(p, r.size, half, 0);
		ZP_SYS(n == p, "mremap shrink");
		return round_trip(&r, n, q, off, off, "mremap shrink");
	case REMAP_MOVE:
	case REMAP_DONTUNMAP:
		dst = mmap(NULL, r.size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ZP_SYS(dst != MAP_FAILED, "mmap destination");
		n = mremap(p, r.size, r.size, MREMAP_MAYMOVE | MREMAP_FIXED |
			   (kind == REMAP_DONTUNMAP ? MREMAP_DONTUNMAP : 0), dst);
		if (n == MAP_FAILED && kind == REMAP_DONTUNMAP && errno == EINVAL)
			return zp_skip("MREMAP_DONTUNMAP of a %s mapping: EINVAL (before 5.13)",
				       m->shared ? "shared" : "private");
		ZP_SYS(n == dst, "mremap move");
		ret = round_trip(&r, n, q, off, off, "mremap move");
		if (ret || kind != REMAP_DONTUNMAP)
			return ret;
		ZP_CHECK_EQ(peek(p, off), m->shared ? peek(n, off) : 0,
			    "the old range of MREMAP_DONTUNMAP faults the file in again");
		return round_trip(&r, p, q, off + 2 * ps, off + 2 * ps, "MREMAP_DONTUNMAP old range");
	}
	return ZP_FAIL;
}

static int mremap_grow_after_read(const struct zp_mode *m)
{
	return mremap_after_read(m, REMAP_GROW);
}

static int mremap_shrink_after_read(const struct zp_mode *m)
{
	return mremap_after_read(m, REMAP_SHRINK);
}

static int mremap_move_after_read(const struct zp_mode *m)
{
	return mremap_after_read(m, REMAP_MOVE);
}

static int mremap_dontunmap_after_read(const struct zp_mode *m)
{
	return mremap_after_read(m, REMAP_DONTUNMAP);
}

/* ------------------------------------------ a zero PTE is never writable */

/*
 * Failure: mprotect(PROT_READ -> PROT_READ|PROT_WRITE) of a read hole left a
 * writable zero-page PTE, or data does not go round trip.
 */
static int never_writable_mprotect(const struct zp_mode *m)
{
	size_t off = TARGET * zp_page_size();
	struct zp_region r;
	char *p, *q;

	ZP_SYS(!zp_region_create(&r, m, region_size()), "region create");
	p = zp_map_mode(&r, PROT_READ);
	q = zp_map(&r, PROT_READ, true);
	ZP_SYS(p && q, "mappings");
	ZP_CHECK(!zp_read_pages(p, r.size) && !zp_read_pages(q, r.size), "holes read zero");
	ZP_SYS(!mprotect(p, r.size, PROT_READ | PROT_WRITE), "mprotect");
	return round_trip(&r, p, q, off, off, "mprotect RO->RW");
}

/*
 * Failure: after fork, the child's or the parent's copy of a read hole's
 * PTE was writable, or data does not go round trip in either.
 */
static int never_writable_fork(const struct zp_mode *m)
{
	size_t ps = zp_page_size(), off = TARGET * ps;
	struct zp_region r;
	int status;
	pid_t pid;
	char *p, *q;

	ZP_SYS(!setup(&r, m, region_size(), &p, &q), "setup");
	pid = fork();
	ZP_SYS(pid >= 0, "fork");
	if (pid == 0)
		_exit(round_trip(&r, p, q, off, off, "fork (child)"));
	ZP_SYS(waitpid(pid, &status, 0) == pid, "waitpid");
	ZP_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == ZP_PASS,
		 "the child's round trip (status %#x)", status);
	return round_trip(&r, p, q, off + 4 * ps, off + 4 * ps, "fork (parent)");
}

/* Failure: mremap() moved a read hole's PTE and left it writable. */
static int never_writable_mremap(const struct zp_mode *m)
{
	return mremap_after_read(m, REMAP_MOVE);
}

/*
 * Failure (v2 review N3 and the like): after async RWP protection of a read
 * hole and an access resolving it, the PTE was writable.
 */
static int never_writable_rwp(const struct zp_mode *m)
{
	size_t off = TARGET * zp_page_size();
	struct zp_region r;
	char *p, *q;
	int uffd;

	ZP_SYS(!setup(&r, m, region_size(), &p, &q), "setup");
	uffd = uffd_register_after_read(p, r.size, REG_RWP);
	if (uffd < 0)
		return zp_skip("userfaultfd RWP (async) on %s: %s", r.path, strerror(-uffd));
	ZP_CHECK_EQ(peek(p, off), 0, "the RWP-protected hole reads zero");
	return round_trip(&r, p, q, off, off, "async RWP");
}

/*
 * Failure (v2 review N3): mremap() of a RWP-protected read hole, without
 * UFFD_FEATURE_EVENT_REMAP (so the moved range leaves userfaultfd), rebuilt
 * the zero-page PTE from the shared mapping's writable vm_page_prot.
 */
static int never_writable_rwp_mremap(const struct zp_mode *m)
{
	size_t off = TARGET * zp_page_size();
	struct zp_region r;
	char *p, *q, *n, *dst;
	int uffd;

	ZP_SYS(!setup(&r, m, region_size(), &p, &q), "setup");
	uffd = uffd_register_after_read(p, r.size, REG_RWP_SYNC);
	if (uffd < 0)
		return zp_skip("userfaultfd RWP on %s: %s", r.path, strerror(-uffd));
	dst = mmap(NULL, r.size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ZP_SYS(dst != MAP_FAILED, "mmap destination");
	n = mremap(p, r.size, r.size, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ZP_SYS(n == dst, "mremap");
	return round_trip(&r, n, q, off, off, "mremap of RWP");
}

#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE (1 << 1)
#endif

/*
 * Migrate what a read hole maps (move_pages() to node 0, which refuses the
 * zero page, then memory compaction, which migrates movable shmem pages).
 * Failure: a PTE rebuilt by migration maps the zero page writable, or data
 * does not go round trip.
 */
static int never_writable_migrate(const struct zp_mode *m)
{
	size_t ps = zp_page_size(), off = TARGET * ps, i;
	void *pages[REGION_PAGES];
	int nodes[REGION_PAGES], status[REGION_PAGES];
	struct zp_region r;
	char *p, *q;
	long ret;

	ZP_SYS(!setup(&r, m, region_size(), &p, &q), "setup");
	/* A few real pages among the read holes, for migration to move. */
	for (i = 0; i < REGION_PAGES; i += 8)
		poke(p, i * ps + 8, 0);
	for (i = 0; i < REGION_PAGES; i++) {
		pages[i] = p + i * ps;
		nodes[i] = 0;
		status[i] = -1;
	}
	ret = syscall(SYS_move_pages, 0, REGION_PAGES, pages, nodes, status, MPOL_MF_MOVE);
	if (ret < 0)
		ktap_diag("move_pages: %s (no NUMA): compaction only", strerror(errno));
	else
		ktap_diag("move_pages: status of the target page %d", status[TARGET]);
	if (zp_write_file("/proc/sys/vm/compact_memory", "1"))
		ktap_diag("compact_memory: %s", strerror(errno));
	if (ret < 0 && errno == ENOSYS && access("/proc/sys/vm/compact_memory", W_OK))
		return zp_skip("neither move_pages() (NUMA) nor compaction to migrate with");
	return round_trip(&r, p, q, off, off, "migration");
}

/* ------------------------------------------------ MAP_SHARED|MAP_ANONYMOUS */

/*
 * A MAP_SHARED|MAP_ANONYMOUS region (shmem behind it) read, then written by
 * a forked child and by the parent: each sees the other's stores, and a
 * store leaves no zero page mapped.
 * Failure: a stale zero-page PTE in one of the processes, or a writable one.
 */
static int shared_anon_fork(const struct zp_mode *m)
{
	size_t ps = zp_page_size(), len = region_size(), i;
	bool pfns = !zp_pagemap_unusable();
	int to_child[2], to_parent[2], status;
	struct pollfd pfd;
	char *p, c = 'g';
	pid_t pid;

	(void)m;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ZP_SYS(p != MAP_FAILED, "mmap MAP_SHARED|MAP_ANONYMOUS");
	ZP_CHECK(zp_read_pages(p, len) == 0, "holes read zero");
	ZP_SYS(!pipe(to_child) && !pipe(to_parent), "pipe");
	pid = fork();
	ZP_SYS(pid >= 0, "fork");
	if (pid == 0) {
		pfd.fd = to_child[0];
		pfd.events = POLLIN;
		(void)zp_read_pages(p, len);	/* the child's own read faults */
		poke(p, TARGET * ps, 0);
		if (pfns && zp_pfn(p + TARGET * ps) == zp_zero_pfn())
			_exit(3);
		poke(p, TARGET * ps, 0xc41dUL);
		if (write(to_parent[1], &c, 1) != 1 || poll(&pfd, 1, 10000) != 1)
			_exit(2);
		_exit(peek(p, 2 * TARGET * ps) == 0x9a7eUL ? 0 : 1);
	}
	pfd.fd = to_parent[0];
	pfd.events = POLLIN;
	ZP_CHECK(poll(&pfd, 1, 10000) == 1 && read(to_parent[0], &c, 1) == 1,
		 "the child stored within 10 s");
	ZP_CHECK_EQ(peek(p, TARGET * ps), 0xc41dUL, "the parent sees the child's store");
	poke(p, 2 * TARGET * ps, 0);
	if (pfns)
		ZP_CHECK(zp_pfn(p + 2 * TARGET * ps) != zp_zero_pfn(),
			 "the zero page is still mapped after a store: its PTE was writable");
	poke(p, 2 * TARGET * ps, 0x9a7eUL);
	ZP_SYS(write(to_child[1], &c, 1) == 1, "pipe write");
	ZP_SYS(waitpid(pid, &status, 0) == pid, "waitpid");
	ZP_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "the child: 0 = sees the parent's store, 1 = stale, 2 = no go, 3 = writable zero page (status %#x)",
		 status);
	for (i = 0; i < len; i += ps)
		if (i != TARGET * ps && i != 2 * TARGET * ps)
			ZP_CHECK_EQ(peek(p, i), 0, "an untouched page reads zero");
	ZP_CHECK(zp_zero_page_intact(), "the zero page is intact");
	return ZP_PASS;
}

/* -------------------------------------------------------- long-term pins */

/*
 * A R/O long-term pin (as cow.c / gup_longterm.c take it) through a
 * read-only shared mapping of read holes, then a store through another
 * (writable) mapping: the pin must see it - GUP promises R/O long-term pins
 * the page the file will hold, never the zero page.
 * Failure: the pin holds the zero page (stale) or the store was lost.
 */
static int ro_longterm_pin_then_store(const struct zp_mode *m)
{
	size_t ps = zp_page_size(), off = TARGET * ps;
	struct pin_longterm_test args;
	struct zp_region r;
	unsigned long *out;
	char *ro, *rw;
	uint64_t dst;
	int fd;

	fd = open("/sys/kernel/debug/gup_test", O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
		fd = open("/sys/kernel/debug/gup_test", O_RDWR | O_CLOEXEC);
	}
	if (fd < 0)
		return zp_skip("/sys/kernel/debug/gup_test: %s (needs CONFIG_GUP_TEST)", strerror(errno));
	ZP_SYS(!zp_region_create(&r, m, region_size()), "region create");
	ro = zp_map(&r, PROT_READ, true);
	rw = zp_map(&r, PROT_READ | PROT_WRITE, true);
	ZP_SYS(ro && rw, "mappings");
	ZP_CHECK(!zp_read_pages(ro, r.size) && !zp_read_pages(rw, r.size), "holes read zero");
	args.addr = (uintptr_t)ro;
	args.size = r.size;
	args.flags = 0;
	if (ioctl(fd, PIN_LONGTERM_TEST_START, &args))
		return zp_skip("PIN_LONGTERM_TEST_START: %s", strerror(errno));
	poke(rw, off, 0);
	poke(rw, off, 0x9117UL);
	out = malloc(r.size);
	ZP_SYS(out, "malloc");
	dst = (uintptr_t)out;
	ZP_SYS(!ioctl(fd, PIN_LONGTERM_TEST_READ, &dst), "PIN_LONGTERM_TEST_READ");
	ioctl(fd, PIN_LONGTERM_TEST_STOP);
	ZP_CHECK_EQ(out[off / sizeof(*out)], 0x9117UL, "the pinned page after a store through another mapping");
	ZP_CHECK_EQ(peek(ro, off), 0x9117UL, "the read-only mapping after the store");
	ZP_CHECK_EQ(file_word(&r, off), 0x9117UL, "pread() after the store");
	ZP_CHECK(zp_zero_page_intact(), "the zero page is intact");
	return ZP_PASS;
}

static const struct zp_test tests[] = {
	ZP_TEST(uffd_missing_after_read_store, ZP_FD_ALL),
	ZP_TEST(uffd_missing_after_read_populate_write, ZP_FD_ALL),
	ZP_TEST(uffd_missing_after_read_mlock, ZP_FD_ALL),
	ZP_TEST(uffd_missing_after_read_copy, ZP_FD_ALL),
	ZP_TEST(uffd_missing_after_read_zeropage, ZP_FD_ALL),
	ZP_TEST(uffd_minor_after_read_store, ZP_FD_ALL),
	ZP_TEST(uffd_minor_after_read_populate_write, ZP_FD_ALL),
	ZP_TEST(uffd_minor_after_read_mlock, ZP_FD_ALL),
	ZP_TEST(uffd_minor_after_read_copy, ZP_FD_ALL),
	ZP_TEST(uffd_minor_after_read_zeropage, ZP_FD_ALL),
	ZP_TEST(uffd_wp_after_read_store, ZP_FD_ALL),
	ZP_TEST(uffd_wp_after_read_populate_write, ZP_FD_ALL),
	ZP_TEST(uffd_wp_after_read_mlock, ZP_FD_ALL),
	ZP_TEST(uffd_wp_after_read_copy, ZP_FD_ALL),
	ZP_TEST(uffd_wp_after_read_zeropage, ZP_FD_ALL),
	ZP_TEST(uffd_rwp_after_read_store, ZP_FD_ALL),
	ZP_TEST(uffd_rwp_after_read_populate_write, ZP_FD_ALL),
	ZP_TEST(uffd_rwp_after_read_mlock, ZP_FD_ALL),
	ZP_TEST(uffd_rwp_after_read_copy, ZP_FD_ALL),
	ZP_TEST(uffd_rwp_after_read_zeropage, ZP_FD_ALL),
	ZP_TEST(mremap_grow_after_read, ZP_FD_ALL | ZP_SYSV_SHARED),
	ZP_TEST(mremap_shrink_after_read, ZP_FD_ALL | ZP_SYSV_SHARED),
	ZP_TEST(mremap_move_after_read, ZP_FD_ALL | ZP_SYSV_SHARED),
	ZP_TEST(mremap_dontunmap_after_read, ZP_FD_ALL | ZP_SYSV_SHARED),
	ZP_TEST(never_writable_mprotect, ZP_FD_ALL),
	ZP_TEST(never_writable_fork, ZP_FD_ALL | ZP_SYSV_SHARED),
	ZP_TEST(never_writable_mremap, ZP_FD_ALL | ZP_SYSV_SHARED),
	ZP_TEST(never_writable_rwp, ZP_FD_ALL),
	ZP_TEST(never_writable_rwp_mremap, ZP_FD_ALL),
	ZP_TEST(never_writable_migrate, ZP_FD_ALL | ZP_SYSV_SHARED),
	ZP_TEST(shared_anon_fork, 0),
	ZP_TEST(ro_longterm_pin_then_store, ZP_FD_SHARED),
};

int main(void)
{
	return zp_run_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
