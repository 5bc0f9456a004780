// SPDX-License-Identifier: GPL-2.0
/*
 * coherence: after a mapping read-faulted a hole, data that reaches the file
 * by any path (another process's or thread's mapping, another thread's store
 * through the same mapping, write(2), pwrite(2), fallocate+write, punch+write,
 * fork, mremap, MAP_POPULATE, mlock, userfaultfd UFFDIO_COPY) must be seen through that mapping, and truncation
 * must still raise SIGBUS beyond EOF.  A hole that was read counts as populated
 * for userfaultfd registered afterwards (MISSING, RWP), and MAP_POPULATE of a
 * shared mapping still allocates.  A failure means a stale (zero page)
 * PTE survived a page being added to the file: silent data corruption.
 *
 * MAP_PRIVATE mappings that never wrote must see file changes too.
 */
#include "zp_mm.h"	/* first: it defines _GNU_SOURCE */
#include <pthread.h>
#include <poll.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define REGION_PAGES 1024	/* 4 MiB with 4 KiB pages: room for 2 PMD THPs */
#define NR_PROBES 8		/* offsets checked per test */

static size_t region_size(void)
{
	return REGION_PAGES * zp_page_size();
}

/* Probe i: spread over the region, not page aligned within the page. */
static size_t probe_off(unsigned int i)
{
	return (size_t)i * (REGION_PAGES / NR_PROBES) * zp_page_size() +
	       (i % 4) * sizeof(unsigned long) * 7;
}

static unsigned long probe_val(unsigned int i, unsigned long seed)
{
	return 0xc0de0000UL ^ (seed << 8) ^ i;
}

static unsigned long peek(const char *p, size_t off)
{
	return *(const volatile unsigned long *)(p + off);
}

/* Every probe of @p reads the value the peer wrote (or 0 if @seed is 0). */
static bool probes_read(const char *p, unsigned long seed, const char *what)
{
	unsigned int i;

	for (i = 0; i < NR_PROBES; i++) {
		unsigned long want = seed ? probe_val(i, seed) : 0;
		unsigned long got = peek(p, probe_off(i));

		if (got != want) {
			ktap_diag("%s: offset %#zx reads %#lx, expected %#lx (stale zero-page PTE?)",
				  what, probe_off(i), got, want);
			return false;
		}
	}
	return true;
}

static bool file_reads(struct zp_region *r, unsigned long seed, const char *what)
{
	unsigned int i;

	for (i = 0; i < NR_PROBES; i++) {
		unsigned long want = seed ? probe_val(i, seed) : 0, got = ~0UL;

		zp_region_read(r, probe_off(i), &got, sizeof(got));
		if (got != want) {
			ktap_diag("%s: file offset %#zx holds %#lx, expected %#lx",
				  what, probe_off(i), got, want);
			return false;
		}
	}
	return true;
}

/* Read-fault every page of a fresh mapping of the mode (RO unless @prot says). */
static char *map_and_read(struct zp_region *r, int prot)
{
	char *p = zp_map_mode(r, prot);

	if (p && zp_read_pages(p, r->size)) {
		ktap_diag("fresh hole is not zero");
		return NULL;
	}
	return p;
}

static int setup(struct zp_region *r, const struct zp_mode *m, char **p, int prot)
{
	if (zp_region_create(r, m, region_size()))
		return -1;
	*p = map_and_read(r, prot);
	return *p ? 0 : -1;
}

/* Failure: the RFC case: a process did not see another process's write through its own mapping. */
static int read_then_remote_write_process(const struct zp_mode *m)
{
	struct zp_region r;
	unsigned int i;
	char *p;

	ZP_SYS(!setup(&r, m, &p, PROT_READ), "setup");
	for (i = 0; i < NR_PROBES; i++)
		ZP_SYS(!zp_peer_store(&r, probe_off(i), probe_val(i, 1)), "peer store");
	ZP_CHECK(probes_read(p, 1, "reader"), "reader sees the peer's stores");
	return ZP_PASS;
}

struct thread_store {
	struct zp_region *r;
	char *p;		/* store through this mapping, or NULL: map the region anew */
	unsigned long seed;
	int err;
};

static void *thread_store_fn(void *arg)
{
	struct thread_store *ts = arg;
	unsigned int i;
	char *q = ts->p ? ts->p : zp_map(ts->r, PROT_READ | PROT_WRITE, true);

	if (!q) {
		ts->err = 1;
		return NULL;
	}
	for (i = 0; i < NR_PROBES; i++)
		*(volatile unsigned long *)(q + probe_off(i)) = probe_val(i, ts->seed);
	if (!ts->p)
		zp_unmap(ts->r, q);
	return NULL;
}

/* Another thread stores every probe, through @p or its own new mapping of @r; 0 if it could. */
static int store_from_thread(struct zp_region *r, char *p, unsigned long seed)
{
	struct thread_store ts = { .r = r, .p = p, .seed = seed };
	pthread_t t;

	if (pthread_create(&t, NULL, thread_store_fn, &ts))
		return -1;
	pthread_join(t, NULL);
	return ts.err ? -1 : 0;
}

/* Failure: the RFC case across threads: a thread's write via its own mapping is not seen. */
static int read_then_remote_write_thread(const struct zp_mode *m)
{
	struct zp_region r;
	char *p;

	ZP_SYS(!setup(&r, m, &p, PROT_READ), "setup");
	ZP_SYS(!store_from_thread(&r, NULL, 2), "the writer thread");
	ZP_CHECK(probes_read(p, 2, "reader thread"), "reader sees the thread's stores");
	return ZP_PASS;
}

/*
 * Failure: a thread's stores through the very mapping another thread read are
 * not seen by that thread.  One VMA, so the write fault replaces the zero-page
 * PTE itself, without an rmap walk: its TLB flush must reach the reader's CPU.
 */
static int read_then_same_mapping_write_thread(const struct zp_mode *m)
{
	struct zp_region r;
	char *p;

	ZP_SYS(!setup(&r, m, &p, PROT_READ | PROT_WRITE), "setup");
	ZP_SYS(!store_from_thread(&r, p, 3), "the writer thread");
	ZP_CHECK(probes_read(p, 3, "reader thread"), "reader sees the stores through the same mapping");
	ZP_CHECK(!m->shared || file_reads(&r, 3, "read(2)"), "the stores reached the file");
	return ZP_PASS;
}

/* Store every probe with write(2) (or pwrite(2)) after a read fault of the mapping. */
static int read_then_syscall_write(const struct zp_mode *m, bool positioned)
{
	const char *what = positioned ? "pwrite(2)" : "write(2)";
	unsigned long gen = positioned ? 4 : 3;
	struct zp_region r;
	unsigned int i;
	char *p;

	ZP_SYS(!setup(&r, m, &p, PROT_READ), "setup");
	for (i = 0; i < NR_PROBES; i++) {
		unsigned long v = probe_val(i, gen);
		off_t off = (off_t)probe_off(i);

		if (positioned) {
			ZP_SYS(pwrite(r.fd, &v, sizeof(v), off) == sizeof(v), "pwrite");
			continue;
		}
		ZP_SYS(lseek(r.fd, off, SEEK_SET) >= 0, "lseek");
		ZP_SYS(write(r.fd, &v, sizeof(v)) == sizeof(v), "write");
	}
	ZP_CHECK(probes_read(p, gen, what), "mapping sees %s", what);
	return ZP_PASS;
}

/* Failure: write(2) after a read fault is not seen through the mapping. */
static int read_then_write(const struct zp_mode *m)
{
	return read_then_syscall_write(m, false);
}

/* Failure: pwrite(2) after a read fault is not seen through the mapping. */
static int read_then_pwrite(const struct zp_mode *m)
{
	return read_then_syscall_write(m, true);
}

/*
 * Failure: after a read fault, fallocate() then writes are not seen (or the
 * fallocated range does not read zero).
 */
static int read_then_fallocate(const struct zp_mode *m)
{
	struct zp_region r;
	unsigned int i;
	char *p;

	ZP_SYS(!setup(&r, m, &p, PROT_READ), "setup");
	ZP_SYS(!fallocate(r.fd, 0, 0, (off_t)r.size), "fallocate");
	ZP_CHECK(probes_read(p, 0, "after fallocate"), "fallocated range reads zero");
	ZP_CHECK(zp_read_pages(p, r.size) == 0, "whole fallocated range reads zero");
	for (i = 0; i < NR_PROBES; i++)
		ZP_SYS(!zp_peer_store(&r, probe_off(i), probe_val(i, 5)), "peer store");
	ZP_CHECK(probes_read(p, 5, "after fallocate+store"), "mapping sees the stores");
	return ZP_PASS;
}

/*
 * Failure: after punching a hole the mapping does not read zeros, or after
 * re-reading the new hole a later pwrite is not seen.
 */
static int read_then_punch(const struct zp_mode *m)
{
	struct zp_region r;
	unsigned int i;
	char *p;

	ZP_SYS(!zp_region_create(&r, m, region_size()), "region create");
	for (i = 0; i < NR_PROBES; i++) {
		unsigned long v = probe_val(i, 6);

		ZP_SYS(pwrite(r.fd, &v, sizeof(v), (off_t)probe_off(i)) == sizeof(v), "pwrite");
	}
	p = zp_map_mode(&r, PROT_READ);
	ZP_CHECK(p, "a mapping");
	ZP_CHECK(probes_read(p, 6, "before punch"), "data before punching");
	ZP_SYS(!fallocate(r.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			  (off_t)r.size), "punch hole");
	ZP_CHECK(zp_read_pages(p, r.size) == 0, "punched range reads zero");
	ZP_CHECK(probes_read(p, 0, "after punch"), "punched range reads zero");
	for (i = 0; i < NR_PROBES; i++) {
		unsigned long v = probe_val(i, 7);

		ZP_SYS(pwrite(r.fd, &v, sizeof(v), (off_t)probe_off(i)) == sizeof(v), "pwrite");
	}
	ZP_CHECK(probes_read(p, 7, "after punch+pwrite"), "mapping sees the refill");
	return ZP_PASS;
}

/*
 * Failure: after truncating, access beyond EOF through a mapping that had
 * read-faulted there did not SIGBUS, or after extending again the region
 * does not read zero / does not see a new write.
 */
static int truncate_sigbus(const struct zp_mode *m)
{
	size_t ps = zp_page_size();
	struct zp_region r;
	size_t off;
	char *p;

	ZP_SYS(!setup(&r, m, &p, PROT_READ | PROT_WRITE), "setup");
	off = r.size / 2 + 3 * ps;
	ZP_SYS(!ftruncate(r.fd, (off_t)(r.size / 2)), "ftruncate down");
	ZP_CHECK(zp_access_sigbus(p + off, false),
		 "no SIGBUS reading %#zx beyond EOF %#zx (zero-page PTE left mapped?)",
		 off, r.size / 2);
	if (m->shared)
		ZP_CHECK(zp_access_sigbus(p + off, true),
			 "no SIGBUS writing %#zx beyond EOF", off);
	ZP_CHECK(!zp_access_sigbus(p + ps, false), "no SIGBUS below EOF");
	ZP_SYS(!ftruncate(r.fd, (off_t)r.size), "ftruncate up");
	ZP_CHECK(!zp_access_sigbus(p + off, false), "no SIGBUS after extending");
	ZP_CHECK_EQ(peek(p, off), 0, "the re-extended range reads zero");
	ZP_SYS(!zp_peer_store(&r, off, 0xfeedUL), "peer store");
	ZP_CHECK_EQ(peek(p, off), 0xfeedUL, "the re-extended range shows another process's store");
	return ZP_PASS;
}

/*
 * Failure: a store next to the one page read is not seen through the mapping.
 * One read fault may map the zero page over the holes around it (shmem
 * fault-around): stores by another process, by write(2) (or another SysV
 * attach) and, when shared, through this very mapping must replace those too.
 */
static int read_one_then_neighbour_stores(const struct zp_mode *m)
{
	size_t ps = zp_page_size(), mid = region_size() / 2 + 8 * ps;
	unsigned long peer = 0x1111, syscall = 0x2222, own = 0x3333, got = 0;
	struct zp_region r;
	char *p;

	ZP_SYS(!zp_region_create(&r, m, region_size()), "region create");
	p = zp_map_mode(&r, PROT_READ | PROT_WRITE);
	ZP_SYS(p, "mmap");
	ZP_CHECK_EQ(peek(p, mid), 0, "a hole reads zero");
	ZP_SYS(!zp_peer_store(&r, mid - ps, peer), "peer store");
	ZP_SYS(!zp_region_write(&r, mid + ps, &syscall, sizeof(syscall)), "region write");
	if (m->shared)
		*(volatile unsigned long *)(p + mid + 2 * ps) = own;
	ZP_CHECK_EQ(peek(p, mid - ps), peer, "the page before shows another process's store");
	ZP_CHECK_EQ(peek(p, mid + ps), syscall, "the page after shows a write to the file");
	ZP_CHECK_EQ(peek(p, mid + 3 * ps), 0, "an untouched neighbour reads zero");
	if (m->shared) {
		ZP_SYS(!zp_region_read(&r, mid + 2 * ps, &got, sizeof(got)), "region read");
		ZP_CHECK_EQ(got, own, "the file holds what the mapping stored");
	}
	return ZP_PASS;
}

/*
 * Failure: a read fault just below EOF made the pages beyond it accessible
 * (shmem fault-around must stop at i_size, as a read fault there does).
 * Not where huge pages may be allocated: shmem has always PMD-mapped those
 * across i_size (see filemap_map_pages()).
 */
static int read_below_eof_then_beyond_sigbus(const struct zp_mode *m)
{
	size_t ps = zp_page_size(), last = region_size() / 2, eof = last + 100;
	struct zp_region r;
	char *p;

	if (zp_mode_huge(m))
		return zp_skip("a huge page may be mapped across EOF, as shmem always did");
	ZP_SYS(!zp_region_create(&r, m, region_size()), "region create");
	p = zp_map_mode(&r, PROT_READ);
	ZP_SYS(p, "mmap");
	ZP_SYS(!ftruncate(r.fd, (off_t)eof), "ftruncate");
	ZP_CHECK_EQ(peek(p, last), 0, "the last page reads zero");
	ZP_CHECK(zp_access_sigbus(p + last + ps, false), "no SIGBUS reading the page after EOF %#zx", eof);
	ZP_CHECK(zp_access_sigbus(p + last + 7 * ps, false), "no SIGBUS reading 7 pages after EOF %#zx", eof);
	return ZP_PASS;
}

/*
 * Failure: after fork, a child's store through the inherited mapping is
 * (shared) not seen by the parent, or (private) leaks to the parent/file.
 */
static int fork_child_write(const struct zp_mode *m)
{
	struct zp_region r;
	unsigned int i;
	int status;
	pid_t pid;
	char *p;

	ZP_SYS(!setup(&r, m, &p, PROT_READ | PROT_WRITE), "setup");
	pid = fork();
	ZP_SYS(pid >= 0, "fork");
	if (pid == 0) {
		for (i = 0; i < NR_PROBES; i++)
			*(volatile unsigned long *)(p + probe_off(i)) = probe_val(i, 8);
		_exit(probes_read(p, 8, "child") ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	ZP_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "child reads its own stores (status %#x)", status);
	if (m->shared) {
		ZP_CHECK(probes_read(p, 8, "parent"), "parent sees the child's stores");
		ZP_CHECK(file_reads(&r, 8, "file"), "the stores reached the file");
	} else {
		ZP_CHECK(probes_read(p, 0, "parent"), "child's private stores stay private");
		ZP_CHECK(file_reads(&r, 0, "file"), "private stores never reach the file");
	}
	return ZP_PASS;
}

/*
 * Failure: a child that inherited a read-faulted mapping does not see data
 * the parent later writes to the file (via pwrite or another mapping).
 */
static int fork_then_remote_write(const struct zp_mode *m)
{
	struct zp_region r;
	int go[2], status;
	unsigned int i;
	pid_t pid;
	char *p, c;

	ZP_SYS(!setup(&r, m, &p, PROT_READ), "setup");
	ZP_SYS(!pipe(go), "pipe");
	pid = fork();
	ZP_SYS(pid >= 0, "fork");
	if (pid == 0) {
		(void)zp_read_pages(p, r.size);	/* child faults its own PTEs */
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(probes_read(p, 9, "child") ? 0 : 1);
	}
	for (i = 0; i < NR_PROBES; i++) {
		unsigned long v = probe_val(i, 9);

		ZP_SYS(!zp_region_write(&r, probe_off(i), &v, sizeof(v)), "write");
	}
	ZP_SYS(write(go[1], "g", 1) == 1, "pipe write");
	waitpid(pid, &status, 0);
	ZP_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "child sees the parent's writes (status %#x)", status);
	ZP_CHECK(probes_read(p, 9, "parent"), "parent sees its writes");
	return ZP_PASS;
}

/*
 * Failure: after mremap() moved a read-faulted mapping, later writes to the
 * file are not seen at the new address (moved zero-page PTE not zapped).
 */
static int mremap_then_remote_write(const struct zp_mode *m)
{
	struct zp_region r;
	unsigned int i;
	char *p, *dst, *q;

	ZP_SYS(!setup(&r, m, &p, PROT_READ), "setup");
	dst = mmap(NULL, r.size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ZP_SYS(dst != MAP_FAILED, "mmap destination");
	q = mremap(p, r.size, r.size, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ZP_SYS(q != MAP_FAILED, "mremap");
	ZP_CHECK(probes_read(q, 0, "moved mapping"), "moved hole reads zero");
	for (i = 0; i < NR_PROBES; i++) {
		unsigned long v = probe_val(i, 10);

		ZP_SYS(!zp_region_write(&r, probe_off(i), &v, sizeof(v)), "write");
	}
	ZP_CHECK(probes_read(q, 10, "moved mapping"), "moved mapping sees the writes");
	return ZP_PASS;
}

/* Map with MAP_POPULATE (fd) or MADV_POPULATE_READ (SysV). */
static char *map_populated(struct zp_region *r, int prot)
{
	char *p;

	if (zp_is_sysv(r)) {
		p = zp_map(r, prot, true);
		if (p && madvise(p, r->size, MADV_POPULATE_READ)) {
			ktap_diag("MADV_POPULATE_READ: %s", strerror(errno));
			return NULL;
		}
		return p;
	}
	p = mmap(NULL, r->size, prot,
		 (r->mode->shared ? MAP_SHARED : MAP_PRIVATE) | MAP_POPULATE, r->fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

/*
 * Shared common part of populate/mlock: later writes to the file are seen,
 * and (shared) stores through the mapping reach the file.
 */
static int check_prefaulted(struct zp_region *r, char *p)
{
	unsigned int i;

	ZP_CHECK(probes_read(p, 0, "prefaulted hole"), "prefaulted hole reads zero");
	for (i = 0; i < NR_PROBES / 2; i++) {
		unsigned long v = probe_val(i, 11);

		ZP_SYS(!zp_region_write(r, probe_off(i), &v, sizeof(v)), "write");
	}
	for (i = 0; i < NR_PROBES / 2; i++)
		ZP_CHECK(peek(p, probe_off(i)) == probe_val(i, 11),
			 "prefaulted mapping reads %#lx at %#zx after a file write",
			 peek(p, probe_off(i)), probe_off(i));
	if (!r->mode->shared)
		return ZP_PASS;
	for (i = NR_PROBES / 2; i < NR_PROBES; i++)
		*(volatile unsigned long *)(p + probe_off(i)) = probe_val(i, 11);
	ZP_CHECK(file_reads(r, 11, "file"), "stores through the prefaulted mapping reach the file");
	return ZP_PASS;
}

/* Failure: a MAP_POPULATE'd mapping of a hole misses later writes, or its stores are lost. */
static int populate_then_write(const struct zp_mode *m)
{
	struct zp_region r;
	char *p;

	ZP_SYS(!zp_region_create(&r, m, region_size()), "region create");
	/* A writable private mapping would be COW-populated: map it read-only. */
	p = map_populated(&r, m->shared ? PROT_READ | PROT_WRITE : PROT_READ);
	ZP_SYS(p, "populated mapping");
	return check_prefaulted(&r, p);
}

/* Failure: an mlock'ed mapping of a hole misses later writes, or its stores are lost. */
static int mlock_then_write(const struct zp_mode *m)
{
	struct zp_region r;
	char *p;

	ZP_SYS(!zp_region_create(&r, m, region_size()), "region create");
	p = zp_map_mode(&r, m->shared ? PROT_READ | PROT_WRITE : PROT_READ);
	ZP_SYS(p, "mapping");
	if (mlock(p, r.size))
		return zp_skip("mlock: %s", strerror(errno));
	return check_prefaulted(&r, p);
}

/* ---------------------------------------------------------- userfaultfd */

static int uffd_open(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api))
		return -errno;
	return fd;
}

static int uffd_register_missing(int uffd, char *p, size_t len)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)p, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	return ioctl(uffd, UFFDIO_REGISTER, &reg);
}

static int uffd_copy(int uffd, char *dst, const void *src)
{
	struct uffdio_copy copy = {
		.dst = (uintptr_t)dst,
		.src = (uintptr_t)src,
		.len = zp_page_size(),
	};

	return ioctl(uffd, UFFDIO_COPY, &copy);
}

struct reader {
	char *addr;
	unsigned long seen;
};

static void *reader_fn(void *arg)
{
	struct reader *rd = arg;

	rd->seen = *(volatile unsigned long *)rd->addr;
	return NULL;
}

/*
 * Failure: a read fault of a hole in a userfaultfd MISSING-registered range
 * did not deliver the missing event (zero page mapped behind uffd's back),
 * or the UFFDIO_COPY'd data is not seen by the reader and other mappings.
 */
static int uffd_missing_read(const struct zp_mode *m)
{
	size_t ps = zp_page_size();
	struct reader rd = { 0 };
	struct uffd_msg msg;
	struct zp_region r;
	struct pollfd pfd;
	unsigned long *src;
	pthread_t t;
	int uffd;
	char *p;

	uffd = uffd_open();
	if (uffd < 0)
		return zp_skip("userfaultfd: %s", strerror(-uffd));
	ZP_SYS(!zp_region_create(&r, m, region_size()), "region create");
	p = zp_map_mode(&r, PROT_READ | PROT_WRITE);
	ZP_SYS(p, "mapping");
	if (uffd_register_missing(uffd, p, r.size))
		return zp_skip("UFFDIO_REGISTER MISSING on %s: %s", r.path, strerror(errno));
	rd.addr = p + 5 * ps;
	ZP_SYS(!pthread_create(&t, NULL, reader_fn, &rd), "pthread_create");
	pfd.fd = uffd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 10000) != 1) {
		ktap_diag("no userfaultfd MISSING event within 10 s for a read fault of a hole; reader saw %#lx",
			  rd.seen);
		return ZP_FAIL;
	}
	ZP_SYS(read(uffd, &msg, sizeof(msg)) == sizeof(msg), "read uffd");
	ZP_CHECK_EQ(msg.event, UFFD_EVENT_PAGEFAULT, "a pagefault event");
	ZP_CHECK(!(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE), "a read fault");
	src = aligned_alloc(ps, ps);
	ZP_SYS(src, "aligned_alloc");
	memset(src, 0, ps);
	src[0] = 0xabcdUL;
	ZP_SYS(!uffd_copy(uffd, (char *)(uintptr_t)(msg.arg.pagefault.address & ~(ps - 1)), src),
	       "UFFDIO_COPY");
	pthread_join(t, NULL);
	ZP_CHECK_EQ(rd.seen, 0xabcdUL, "the reader sees the UFFDIO_COPY data");
	if (m->shared) {
		unsigned long v = 0;

		zp_region_read(&r, 5 * ps, &v, sizeof(v));
		ZP_CHECK_EQ(v, 0xabcdUL, "the file holds the UFFDIO_COPY data");
	}
	return ZP_PASS;
}

/*
 * Failure: a mapping that read-faulted a hole does not see data placed into
 * the file by UFFDIO_COPY through another (registered, shared) mapping.
 */
static int read_then_uffd_copy(const struct zp_mode *m)
{
	size_t ps = zp_page_size();
	struct zp_region r;
	unsigned long *src;
	char *p, *q;
	int uffd;

	uffd = uffd_open();
	if (uffd < 0)
		return zp_skip("userfaultfd: %s", strerror(-uffd));
	ZP_SYS(!setup(&r, m, &p, PROT_READ), "setup");
	q = zp_map(&r, PROT_READ | PROT_WRITE, true);
	ZP_SYS(q, "second mapping");
	if (uffd_register_missing(uffd, q, r.size))
		return zp_skip("UFFDIO_REGISTER MISSING: %s", strerror(errno));
	src = aligned_alloc(ps, ps);
	ZP_SYS(src, "aligned_alloc");
	memset(src, 0, ps);
	src[0] = 0x5eedUL;
	if (uffd_copy(uffd, q + 7 * ps, src) && errno == EEXIST)
		return zp_skip("the read fault allocated the page: no hole left for UFFDIO_COPY to fill");
	ZP_CHECK(peek(q, 7 * ps) == 0x5eedUL, "UFFDIO_COPY worked (errno %d)", errno);
	ZP_CHECK(peek(p, 7 * ps) == 0x5eedUL,
		 "read-faulted mapping reads %#lx after UFFDIO_COPY elsewhere, expected 0x5eed",
		 peek(p, 7 * ps));
	return ZP_PASS;
}

/*
 * Failure: a zero page placed by UFFDIO_ZEROPAGE in a MAP_PRIVATE mapping
 * (the mapping's own private content) was dropped when the file got data
 * there: zapping zero-page PTEs must spare private ones (kernel-notes).
 */
static int uffd_zeropage_private_kept(const struct zp_mode *m)
{
	size_t ps = zp_page_size();
	struct uffdio_zeropage zp;
	struct zp_region r;
	unsigned long v = 0xda7aUL;
	int uffd;
	char *p, *q;

	uffd = uffd_open();
	if (uffd < 0)
		return zp_skip("userfaultfd: %s", strerror(-uffd));
	ZP_SYS(!zp_region_create(&r, m, region_size()), "region create");
	/* Another mapping reads the hole: the zero page is mapped there too. */
	q = zp_map(&r, PROT_READ, true);
	ZP_SYS(q, "shared reader mapping");
	ZP_CHECK(peek(q, 11 * ps) == 0, "hole reads zero");
	p = zp_map_mode(&r, PROT_READ | PROT_WRITE);
	ZP_SYS(p, "mapping");
	if (uffd_register_missing(uffd, p, r.size))
		return zp_skip("UFFDIO_REGISTER MISSING on %s: %s", r.path, strerror(errno));
	zp.range.start = (uintptr_t)(p + 11 * ps);
	zp.range.len = ps;
	zp.mode = 0;
	if (ioctl(uffd, UFFDIO_ZEROPAGE, &zp))
		return zp_skip("UFFDIO_ZEROPAGE in a private mapping: %s", strerror(errno));
	ZP_CHECK(peek(p, 11 * ps) == 0, "UFFDIO_ZEROPAGE page reads zero");
	ZP_SYS(pwrite(r.fd, &v, sizeof(v), (off_t)(11 * ps)) == sizeof(v), "pwrite");
	ZP_CHECK_EQ(peek(p, 11 * ps), 0,
		    "the private UFFDIO_ZEROPAGE page keeps reading zero after the file got data");
	ZP_CHECK_EQ(peek(q, 11 * ps), v, "the shared reader sees the file's data");
	return ZP_PASS;
}

/* ------------------------------------- populated holes (v2 review N1/N3/N5) */

#define UFFD_WAIT_S 3	/* an access that takes longer retries forever */

enum uffd_access { UFFD_STORE, UFFD_POPULATE_WRITE, UFFD_MLOCK };

struct accessor {
	char *addr;
	enum uffd_access how;
	int err;
};

static void *accessor_fn(void *arg)
{
	struct accessor *a = arg;

	switch (a->how) {
	case UFFD_STORE:
		*(volatile unsigned long *)a->addr = 0x57043UL;
		break;
	case UFFD_POPULATE_WRITE:
		if (madvise(a->addr, zp_page_size(), MADV_POPULATE_WRITE))
			a->err = errno;
		break;
	case UFFD_MLOCK:
		if (mlock(a->addr, zp_page_size()))
			a->err = errno;
		break;
	}
	return NULL;
}

/*
 * A hole that was read before the range was registered for userfaultfd
 * MISSING counts as populated, as the zero page in anonymous memory does (and
 * as the page that base allocated on the read is): a store, MADV_POPULATE_WRITE
 * or mlock() there completes without a missing event.
 * Failure: the access did not complete within 3 s - the fault was retried
 * forever, with no event for the manager to answer (v2 review N1) - or the
 * manager got a missing event for an offset that had been read.
 */
static int uffd_read_then_register(const struct zp_mode *m, enum uffd_access how,
				   const char *what)
{
	size_t ps = zp_page_size();
	struct accessor a = { .how = how };
	struct timespec until;
	struct zp_region r;
	struct pollfd pfd;
	pthread_t t;
	int uffd, err;
	char *p;

	uffd = uffd_open();
	if (uffd < 0)
		return zp_skip("userfaultfd: %s", strerror(-uffd));
	ZP_SYS(!setup(&r, m, &p, PROT_READ | PROT_WRITE), "setup");
	if (uffd_register_missing(uffd, p, r.size))
		return zp_skip("UFFDIO_REGISTER MISSING on %s: %s", r.path, strerror(errno));
	a.addr = p + 9 * ps;
	ZP_SYS(!pthread_create(&t, NULL, accessor_fn, &a), "pthread_create");
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += UFFD_WAIT_S;
	err = pthread_timedjoin_np(t, NULL, &until);
	if (err == ETIMEDOUT) {
		/* Exiting the subtest's process kills the looping thread. */
		ktap_diag("%s after a read of the hole and UFFDIO_REGISTER(MISSING) did not complete in %d s (retried forever?)",
			  what, UFFD_WAIT_S);
		return ZP_FAIL;
	}
	ZP_SYS(!err, "pthread_timedjoin_np");
	if (how == UFFD_MLOCK && a.err)
		return zp_skip("mlock: %s", strerror(a.err));
	ZP_CHECK(!a.err, "%s: %s", what, strerror(a.err));
	pfd.fd = uffd;
	pfd.events = POLLIN;
	ZP_CHECK(poll(&pfd, 1, 0) == 0, "no missing event for an offset that was read");
	if (how == UFFD_STORE && m->shared) {
		unsigned long v = 0;

		zp_region_read(&r, 9 * ps, &v, sizeof(v));
		ZP_CHECK_EQ(v, 0x57043UL, "the store reached the file");
	}
	return ZP_PASS;
}

static int uffd_read_then_register_store(const struct zp_mode *m)
{
	return uffd_read_then_register(m, UFFD_STORE, "a store");
}

static int uffd_read_then_register_populate_write(const struct zp_mode *m)
{
	return uffd_read_then_register(m, UFFD_POPULATE_WRITE, "MADV_POPULATE_WRITE");
}

static int uffd_read_then_register_mlock(const struct zp_mode *m)
{
	return uffd_read_then_register(m, UFFD_MLOCK, "mlock()");
}

/* userfaultfd RWP (read-write protection, Linux 7.3); the UAPI may be newer than libc's. */
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

#define RWP_PAGES 16	/* PTE-mapped: not a whole page table to move */

/*
 * Read the hole (the zero page on the series), then RWP-protect it: returns
 * the userfaultfd, or a negative errno when RWP is not there.
 */
static int rwp_protect_read_hole(char *p, size_t len, __u64 features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)p, .len = len },
		.mode = UFFDIO_REGISTER_MODE_RWP,
	};
	struct uffdio_rwprotect rwp = {
		.range = { .start = (uintptr_t)p, .len = len },
		.mode = UFFDIO_RWPROTECT_MODE_RWP,
	};
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (uffd < 0)
		return -errno;
	if (ioctl(uffd, UFFDIO_API, &api) || ioctl(uffd, UFFDIO_REGISTER, &reg) ||
	    ioctl(uffd, UFFDIO_RWPROTECT, &rwp))
		return -errno;
	return uffd;
}

/*
 * A store of 0 through @p + @off, which maps file offset @foff (0 so that a
 * writable zero page, if the bug is there, is not corrupted), must leave a
 * page in the file (base allocated them all on the read; the series
 * allocates on the store); then a pwrite() there must be seen through @p.
 */
static int store_zero_then_pwrite(struct zp_region *r, char *p, size_t off,
				  size_t foff, const char *what)
{
	unsigned long v = 0x7e57UL;
	long long kb;

	*(volatile unsigned long *)(p + off) = 0;
	kb = zp_region_alloc_kb(r);
	ZP_CHECK(kb > 0,
		 "%s: the file has %lld kB after a store to a read hole: the store went to a writable zero page",
		 what, kb);
	ZP_SYS(pwrite(r->fd, &v, sizeof(v), (off_t)foff) == sizeof(v), "pwrite");
	ZP_CHECK(peek(p, off) == v, "%s: the mapping reads %#lx after pwrite(%#lx): stale zero page",
		 what, peek(p, off), v);
	return ZP_PASS;
}

/*
 * Failure (v2 review N3): async RWP resolved an access to a zero page that a
 * read had mapped before registration with a writable PTE built from the
 * shared mapping's vm_page_prot: the store then went to the zero page.
 */
static int rwp_async_read_hole_store(const struct zp_mode *m)
{
	size_t ps = zp_page_size(), len = RWP_PAGES * ps;
	struct zp_region r;
	int uffd;
	char *p;

	ZP_SYS(!setup(&r, m, &p, PROT_READ | PROT_WRITE), "setup");
	uffd = rwp_protect_read_hole(p, len, UFFD_FEATURE_RWP | UFFD_FEATURE_RWP_ASYNC);
	if (uffd < 0)
		return zp_skip("userfaultfd RWP (async) on %s: %s", r.path, strerror(-uffd));
	ZP_CHECK(peek(p, 3 * ps) == 0, "the RWP-protected hole reads zero");
	return store_zero_then_pwrite(&r, p, 3 * ps, 3 * ps, "async RWP");
}

/*
 * Failure (v2 review N3): mremap() of a RWP-protected range, without
 * UFFD_FEATURE_EVENT_REMAP, rebuilt the zero page PTE that a read had mapped
 * before registration from the shared mapping's writable vm_page_prot.
 */
static int rwp_mremap_read_hole_store(const struct zp_mode *m)
{
	size_t ps = zp_page_size(), len = RWP_PAGES * ps;
	struct zp_region r;
	char *p, *q, *dst;
	int uffd;

	ZP_SYS(!setup(&r, m, &p, PROT_READ | PROT_WRITE), "setup");
	uffd = rwp_protect_read_hole(p + ps, len, UFFD_FEATURE_RWP);
	if (uffd < 0)
		return zp_skip("userfaultfd RWP on %s: %s", r.path, strerror(-uffd));
	dst = mmap(NULL, len + 2 * ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ZP_SYS(dst != MAP_FAILED, "reserve");
	q = mremap(p + ps, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst + ps);
	ZP_SYS(q != MAP_FAILED, "mremap");
	/* q maps the file from offset ps on. */
	return store_zero_then_pwrite(&r, q, 3 * ps, 4 * ps, "mremap of RWP");
}

/*
 * Failure (v2 review N5): MAP_POPULATE of a shared mapping of a hole did not
 * allocate the pages (the series mapped the zero page instead): later stores
 * fault, and on a full tmpfs get SIGBUS, where mmap() used to preallocate.
 */
static int map_populate_allocates(const struct zp_mode *m)
{
	struct zp_region r;
	long long kb;
	char *p;

	ZP_SYS(!zp_region_create(&r, m, region_size()), "region create");
	p = map_populated(&r, PROT_READ | PROT_WRITE);
	ZP_SYS(p, "MAP_POPULATE mapping");
	kb = zp_region_alloc_kb(&r);
	ktap_metric("populated_kb", kb);
	ZP_CHECK(kb >= (long long)(r.size / 1024),
		 "MAP_POPULATE of a shared mapping allocated %lld kB of %zu kB", kb,
		 r.size / 1024);
	return ZP_PASS;
}

#define KSM "/sys/kernel/mm/ksm/"
#define KSM_PAGES 16

/*
 * Failure: pages of zeroes in a MAP_PRIVATE mapping that KSM merged into the
 * zero page (use_zero_pages) - the mapping's own private data - were dropped
 * when the file got data there, while another mapping had read the hole.
 */
static int ksm_zero_private_kept(const struct zp_mode *m)
{
	char old_run[32], old_zero[32], old_scan[32];
	size_t ps = zp_page_size(), len = KSM_PAGES * ps, off;
	unsigned long v = 0xda7aUL;
	struct zp_region r;
	size_t merged = 0;
	char *p, *q;
	int i;

	if (zp_pagemap_unusable())
		return zp_skip("%s", zp_pagemap_unusable());
	if (zp_read_file(KSM "use_zero_pages", old_zero, sizeof(old_zero)) ||
	    zp_read_file(KSM "run", old_run, sizeof(old_run)) ||
	    zp_read_file(KSM "pages_to_scan", old_scan, sizeof(old_scan)))
		return zp_skip("no KSM");
	ZP_SYS(!zp_region_create(&r, m, region_size()), "region create");
	q = zp_map(&r, PROT_READ, true);
	ZP_SYS(q, "shared reader mapping");
	ZP_CHECK(zp_read_pages(q, len) == 0, "holes read zero");
	p = zp_map_mode(&r, PROT_READ | PROT_WRITE);
	ZP_SYS(p, "private mapping");
	if (madvise(p, len, MADV_MERGEABLE))
		return zp_skip("MADV_MERGEABLE: %s", strerror(errno));
	/* Read first, so that the writes COW the zero page, not a file page. */
	ZP_CHECK(zp_read_pages(p, len) == 0, "private holes read zero");
	memset(p, 0, len);	/* private anonymous pages of zeroes */
	if (zp_write_file(KSM "use_zero_pages", "1"))
		return zp_skip("use_zero_pages: %s", strerror(errno));
	zp_write_file(KSM "pages_to_scan", "1000");
	zp_write_file(KSM "run", "1");
	for (i = 0; i < 200 && merged < KSM_PAGES; i++) {
		usleep(50000);
		merged = zp_count_zero_pfn(p, len);
	}
	zp_write_file(KSM "run", old_run);
	zp_write_file(KSM "pages_to_scan", old_scan);
	zp_write_file(KSM "use_zero_pages", old_zero);
	if (merged < KSM_PAGES)
		return zp_skip("KSM merged %zu of %d pages in 10 s", merged, KSM_PAGES);
	for (off = 0; off < len; off += ps)
		ZP_SYS(pwrite(r.fd, &v, sizeof(v), (off_t)off) == sizeof(v), "pwrite");
	for (off = 0; off < len; off += ps)
		ZP_CHECK(peek(p, off) == 0,
			 "the private KSM zero page at %#zx reads %#lx after the file got data",
			 off, peek(p, off));
	ZP_CHECK_EQ(peek(q, 0), v, "the shared reader sees the file's data");
	return ZP_PASS;
}

/*
 * Failure: after reading a hole and mlock()ing it, the range is not backed by
 * real pages (the zero page survived mlock: the memory is not really locked,
 * and on a full tmpfs a write would SIGBUS after a successful mlock).  Checked
 * before writing, by the allocated size and the PFNs, not by counting faults:
 * without hardware dirty-bit management (arm64 under QEMU, ARMv8.0 cores) the
 * first write to every clean PTE faults, real page or not.
 */
static int mlock_after_read_backs_pages(const struct zp_mode *m)
{
	size_t len = 256 * zp_page_size();
	struct rusage before, after;
	struct zp_region r;
	long long kb;
	char *p;

	ZP_SYS(!zp_region_create(&r, m, len), "region create");
	p = zp_map_mode(&r, PROT_READ | PROT_WRITE);
	ZP_SYS(p, "mapping");
	ZP_CHECK(zp_read_pages(p, len) == 0, "holes read zero");
	if (mlock(p, len))
		return zp_skip("mlock: %s", strerror(errno));
	kb = zp_region_alloc_kb(&r);
	ktap_diag("metric: alloc_kb_after_mlock=%lld", kb);
	ZP_CHECK_CMP(kb, >=, len / 1024, "kB allocated after mlock() of the read range");
	if (!zp_pagemap_unusable())
		ZP_CHECK_EQ(zp_count_zero_pfn(p, len), 0, "pages mapping the zero page after mlock()");
	ZP_SYS(!getrusage(RUSAGE_SELF, &before), "getrusage");
	zp_write_pages(p, len, 13);
	ZP_SYS(!getrusage(RUSAGE_SELF, &after), "getrusage");
	ktap_diag("metric: faults_after_mlock=%ld", after.ru_minflt - before.ru_minflt);
	ZP_CHECK(zp_check_pages(p, len, 13) < 0, "stores read back");
	return ZP_PASS;
}

#ifndef UFFD_FEATURE_WP_HUGETLBFS_SHMEM
#define UFFD_FEATURE_WP_HUGETLBFS_SHMEM (1 << 12)
#endif
#define ZP_PM_UFFD_WP (1ULL << 57)

/*
 * Failure: a uffd-wp protected zero page lost its write protection when a
 * forked child (not registered) filled the hole, or the parent reads stale
 * zeroes afterwards.
 */
static int fork_uffd_wp_fill(const struct zp_mode *m)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_WP_HUGETLBFS_SHMEM };
	struct uffdio_register reg = { 0 };
	struct uffdio_writeprotect wp = { 0 };
	size_t ps = zp_page_size();
	unsigned long v = 0xda7aUL;
	struct zp_region r;
	int uffd, status;
	pid_t pid;
	char *p;

	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0)
		return zp_skip("userfaultfd: %s", strerror(errno));
	if (ioctl(uffd, UFFDIO_API, &api))
		return zp_skip("no uffd-wp on shmem: %s", strerror(errno));
	ZP_SYS(!zp_region_create(&r, m, region_size()), "region create");
	p = zp_map_mode(&r, PROT_READ | PROT_WRITE);
	ZP_SYS(p, "mapping");
	ZP_CHECK(peek(p, 3 * ps) == 0, "hole reads zero");
	reg.range.start = (uintptr_t)p;
	reg.range.len = r.size;
	reg.mode = UFFDIO_REGISTER_MODE_WP;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return zp_skip("UFFDIO_REGISTER WP: %s", strerror(errno));
	wp.range = reg.range;
	wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
	ZP_SYS(!ioctl(uffd, UFFDIO_WRITEPROTECT, &wp), "UFFDIO_WRITEPROTECT");
	ZP_CHECK(zp_pagemap_entry(p + 3 * ps) & ZP_PM_UFFD_WP,
		 "write-protected after UFFDIO_WRITEPROTECT");
	pid = fork();
	ZP_SYS(pid >= 0, "fork");
	if (pid == 0) {
		(void)peek(p, 3 * ps);
		_exit(pwrite(r.fd, &v, sizeof(v), (off_t)(3 * ps)) == sizeof(v) ? 0 : 1);
	}
	ZP_SYS(waitpid(pid, &status, 0) == pid, "waitpid");
	ZP_CHECK(WIFEXITED(status) && !WEXITSTATUS(status), "child's pwrite failed");
	ZP_CHECK(zp_pagemap_entry(p + 3 * ps) & ZP_PM_UFFD_WP,
		 "write protection kept where the child's fill unmapped the zero page");
	ZP_CHECK_EQ(peek(p, 3 * ps), v, "the parent sees the child's fill");
	ZP_CHECK(zp_pagemap_entry(p + 3 * ps) & ZP_PM_UFFD_WP, "write-protected after the read");
	return ZP_PASS;
}

static const struct zp_test tests[] = {
	ZP_TEST(read_then_remote_write_process, ZP_ALL),
	ZP_TEST(read_then_remote_write_thread, ZP_ALL),
	ZP_TEST(read_then_same_mapping_write_thread, ZP_ALL),
	ZP_TEST(read_then_write, ZP_FD_ALL),
	ZP_TEST(read_then_pwrite, ZP_FD_ALL),
	ZP_TEST(read_then_fallocate, ZP_FD_ALL),
	ZP_TEST(read_then_punch, ZP_FD_ALL),
	ZP_TEST(truncate_sigbus, ZP_FD_ALL),
	ZP_TEST(read_one_then_neighbour_stores, ZP_ALL),
	ZP_TEST(read_below_eof_then_beyond_sigbus, ZP_FD_ALL),
	ZP_TEST(fork_child_write, ZP_ALL),
	ZP_TEST(fork_then_remote_write, ZP_ALL),
	ZP_TEST(mremap_then_remote_write, ZP_ALL),
	ZP_TEST(populate_then_write, ZP_ALL),
	ZP_TEST(mlock_then_write, ZP_ALL),
	ZP_TEST(uffd_missing_read, ZP_FD_ALL),
	ZP_TEST(read_then_uffd_copy, ZP_FD_ALL),
	ZP_TEST(uffd_zeropage_private_kept, ZP_FD_PRIVATE),
	ZP_TEST(ksm_zero_private_kept, ZP_FD_PRIVATE),
	ZP_TEST(mlock_after_read_backs_pages, ZP_ALL_SHARED),
	ZP_TEST(fork_uffd_wp_fill, ZP_FD_SHARED),
	ZP_TEST(uffd_read_then_register_store, ZP_FD_ALL),
	ZP_TEST(uffd_read_then_register_populate_write, ZP_FD_ALL),
	ZP_TEST(uffd_read_then_register_mlock, ZP_FD_ALL),
	ZP_TEST(rwp_async_read_hole_store, ZP_FD_SHARED),
	ZP_TEST(rwp_mremap_read_hole_store, ZP_FD_SHARED),
	ZP_TEST(map_populate_allocates, ZP_FD_SHARED),
};

int main(void)
{
	return zp_run_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
