// SPDX-License-Identifier: GPL-2.0
/*
 * pins: page references taken by the kernel on a read-faulted shmem mapping
 * (io_uring fixed buffers = FOLL_WRITE|FOLL_LONGTERM pins, vmsplice page
 * references, gup_test R/O FOLL_LONGTERM pins) must refer to the file's real
 * page, so they see later writes to the file, and writes through them land
 * in the file (never in the zero page).  A failure means a pin captured the
 * shared zero page (stale data, or the zero page written by DMA-like
 * access).  A hang (GUP retry loop) is reported by the runner's timeout.
 */
#include "zp_mm.h"	/* first: it defines _GNU_SOURCE */
#include <linux/io_uring.h>
#include <sys/ioctl.h>
#include <sys/uio.h>

#define REGION_PAGES 16
#define MAGIC 0x9a55a9e5UL

static size_t region_size(void)
{
	return REGION_PAGES * zp_page_size();
}

/* Fill a buffer with a recognisable pattern of words for @seed. */
static void fill_pattern(unsigned long *buf, size_t len, unsigned long seed)
{
	size_t i;

	for (i = 0; i < len / sizeof(*buf); i++)
		buf[i] = MAGIC ^ (seed << 32) ^ i;
}

/* buf holds the pattern words [first, first + len/8) for @seed. */
static bool equal_pattern_at(const unsigned long *buf, size_t len, unsigned long seed,
			     size_t first, const char *what)
{
	size_t i;

	for (i = 0; i < len / sizeof(*buf); i++) {
		unsigned long want = MAGIC ^ (seed << 32) ^ (first + i);

		if (buf[i] != want) {
			ktap_diag("%s: word %zu is %#lx, expected %#lx", what, i, buf[i], want);
			return false;
		}
	}
	return true;
}

static bool equal_pattern(const unsigned long *buf, size_t len, unsigned long seed,
			  const char *what)
{
	return equal_pattern_at(buf, len, seed, 0, what);
}

/* Map the region shared RW (or in the mode) and read-fault every page. */
static char *setup(struct zp_region *r, const struct zp_mode *m)
{
	char *p;

	if (zp_region_create(r, m, region_size()))
		return NULL;
	p = zp_map_mode(r, PROT_READ | PROT_WRITE);
	if (p)
		(void)zp_read_pages(p, r->size);
	return p;
}

/* Write the pattern for @seed into the whole file from outside the mapping. */
static int write_file(struct zp_region *r, unsigned long seed)
{
	unsigned long *buf = malloc(r->size);
	int ret;

	if (!buf)
		return -1;
	fill_pattern(buf, r->size, seed);
	ret = zp_region_write(r, 0, buf, r->size);
	free(buf);
	return ret;
}

/* ------------------------------------------------------ minimal io_uring */

struct ring {
	int fd;
	unsigned int *sq_tail, *sq_mask, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int ring_setup(struct ring *ring)
{
	struct io_uring_params pr;
	size_t sq_len, cq_len;
	char *sq, *cq;

	memset(&pr, 0, sizeof(pr));
	ring->fd = (int)syscall(__NR_io_uring_setup, 4, &pr);
	if (ring->fd < 0)
		return -errno;
	sq_len = pr.sq_off.array + pr.sq_entries * sizeof(unsigned int);
	cq_len = pr.cq_off.cqes + pr.cq_entries * sizeof(struct io_uring_cqe);
	if (pr.features & IORING_FEAT_SINGLE_MMAP)
		sq_len = cq_len = sq_len > cq_len ? sq_len : cq_len;
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		  ring->fd, IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		return -errno;
	cq = sq;
	if (!(pr.features & IORING_FEAT_SINGLE_MMAP)) {
		cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			  ring->fd, IORING_OFF_CQ_RING);
		if (cq == MAP_FAILED)
			return -errno;
	}
	ring->sqes = mmap(NULL, pr.sq_entries * sizeof(struct io_uring_sqe),
			  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			  ring->fd, IORING_OFF_SQES);
	if (ring->sqes == MAP_FAILED)
		return -errno;
	ring->sq_tail = (unsigned int *)(sq + pr.sq_off.tail);
	ring->sq_mask = (unsigned int *)(sq + pr.sq_off.ring_mask);
	ring->sq_array = (unsigned int *)(sq + pr.sq_off.array);
	ring->cq_head = (unsigned int *)(cq + pr.cq_off.head);
	ring->cq_tail = (unsigned int *)(cq + pr.cq_off.tail);
	ring->cq_mask = (unsigned int *)(cq + pr.cq_off.ring_mask);
	ring->cqes = (struct io_uring_cqe *)(cq + pr.cq_off.cqes);
	return 0;
}

/* Submit one fixed-buffer read/write of buffer 0 and wait; returns cqe res. */
static int ring_rw_fixed(struct ring *ring, int opcode, int fd, void *addr,
			 unsigned int len, off_t off)
{
	unsigned int tail = *ring->sq_tail, idx = tail & *ring->sq_mask, head;
	struct io_uring_sqe *sqe = &ring->sqes[idx];
	int res;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = (unsigned char)opcode;
	sqe->fd = fd;
	sqe->addr = (uintptr_t)addr;
	sqe->len = len;
	sqe->off = (unsigned long long)off;
	sqe->buf_index = 0;
	ring->sq_array[idx] = idx;
	__atomic_store_n(ring->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, ring->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	head = *ring->cq_head;
	if (head == __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE))
		return -EAGAIN;
	res = ring->cqes[head & *ring->cq_mask].res;
	__atomic_store_n(ring->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

static int ring_register(struct ring *ring, char *p, size_t len)
{
	struct iovec iov = { .iov_base = p, .iov_len = len };

	if (syscall(__NR_io_uring_register, ring->fd, IORING_REGISTER_BUFFERS, &iov, 1))
		return -errno;
	return 0;
}

/* Set up a ring with the read-faulted region registered as fixed buffer 0. */
static int ring_with_buffer(struct ring *ring, char *p, size_t len)
{
	int ret = ring_setup(ring);

	if (ret)
		return ret;
	return ring_register(ring, p, len);
}

/*
 * A read-faulted region of mode m registered as an io_uring fixed buffer, and
 * a scratch memfd to move data through it. ZP_PASS, or the result to return.
 */
static int fixed_buffer_over_region(const struct zp_mode *m, struct zp_region *r,
				    struct ring *ring, char **p, int *scratch)
{
	int ret;

	*p = setup(r, m);
	ZP_SYS(*p, "setup");
	ret = ring_with_buffer(ring, *p, r->size);
	if (ret)
		return zp_skip("io_uring setup/register: %s", strerror(-ret));
	*scratch = (int)syscall(SYS_memfd_create, "zpfarm-scratch", MFD_CLOEXEC);
	ZP_SYS(*scratch >= 0, "memfd_create");
	return ZP_PASS;
}

/*
 * Failure: an io_uring fixed buffer registered over read-faulted holes does
 * not see data written to the file afterwards (the pin holds the zero page).
 */
static int io_uring_fixed_sees_writes(const struct zp_mode *m)
{
	struct zp_region r;
	struct ring ring;
	unsigned long *out;
	int scratch, ret;
	char *p;

	ret = fixed_buffer_over_region(m, &r, &ring, &p, &scratch);
	if (ret != ZP_PASS)
		return ret;
	ZP_SYS(!write_file(&r, 1), "write file");
	ret = ring_rw_fixed(&ring, IORING_OP_WRITE_FIXED, scratch, p, (unsigned int)r.size, 0);
	ZP_CHECK(ret == (int)r.size, "WRITE_FIXED returned %d (%s)", ret,
		 ret < 0 ? strerror(-ret) : "short");
	out = malloc(r.size);
	ZP_SYS(out, "malloc");
	ZP_SYS(pread(scratch, out, r.size, 0) == (ssize_t)r.size, "pread scratch");
	ZP_CHECK(equal_pattern(out, r.size, 1, "data sent from the fixed buffer"),
		 "the fixed buffer sees the file's new data");
	return ZP_PASS;
}

/*
 * Failure: a write into an io_uring fixed buffer registered over read-faulted
 * holes (READ_FIXED) does not reach the file/mapping, or hit the zero page.
 */
static int io_uring_fixed_write_lands(const struct zp_mode *m)
{
	struct zp_region r;
	struct ring ring;
	unsigned long *in;
	int scratch, ret;
	char *p;

	ret = fixed_buffer_over_region(m, &r, &ring, &p, &scratch);
	if (ret != ZP_PASS)
		return ret;
	in = malloc(r.size);
	ZP_SYS(in, "malloc");
	fill_pattern(in, r.size, 2);
	ZP_SYS(pwrite(scratch, in, r.size, 0) == (ssize_t)r.size, "pwrite scratch");
	ret = ring_rw_fixed(&ring, IORING_OP_READ_FIXED, scratch, p, (unsigned int)r.size, 0);
	ZP_CHECK(ret == (int)r.size, "READ_FIXED returned %d (%s)", ret,
		 ret < 0 ? strerror(-ret) : "short");
	ZP_CHECK(equal_pattern((unsigned long *)p, r.size, 2, "mapping"),
		 "the mapping sees data written through the pin");
	memset(in, 0, r.size);
	ZP_SYS(!zp_region_read(&r, 0, in, r.size), "read file");
	ZP_CHECK(equal_pattern(in, r.size, 2, "file"), "the file holds data written through the pin");
	ZP_CHECK(zp_zero_page_intact(), "the zero page still reads zero");
	return ZP_PASS;
}

/*
 * Failure: pages vmspliced from a read-faulted shared mapping do not carry
 * the file's later writes (the pipe holds the zero page, not the file page).
 * Expected with the series (expectations.toml): vmsplice() takes a plain
 * page reference, which over a hole is now the zero page, as for anonymous
 * memory; only long-term pins are promised later writes.
 */
static int vmsplice_sees_writes(const struct zp_mode *m)
{
	size_t ps = zp_page_size();
	struct zp_region r;
	unsigned long *out;
	struct iovec iov;
	int pfd[2];
	char *p;

	p = setup(&r, m);
	ZP_SYS(p, "setup");
	ZP_SYS(!pipe(pfd), "pipe");
	iov.iov_base = p + 3 * ps;
	iov.iov_len = ps;
	ZP_SYS(vmsplice(pfd[1], &iov, 1, 0) == (ssize_t)ps, "vmsplice");
	ZP_SYS(!write_file(&r, 3), "write file");
	out = malloc(ps);
	ZP_SYS(out, "malloc");
	ZP_SYS(read(pfd[0], out, ps) == (ssize_t)ps, "read pipe");
	ZP_CHECK(equal_pattern_at(out, ps, 3, 3 * ps / sizeof(*out), "vmspliced page"),
		 "the vmspliced page carries the later write (base: it references the page cache page)");
	return ZP_PASS;
}

/* ------------------------------------------------------------- gup_test */

static int gup_test_open(void)
{
	int fd = open("/sys/kernel/debug/gup_test", O_RDWR | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT) {
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
		fd = open("/sys/kernel/debug/gup_test", O_RDWR | O_CLOEXEC);
	}
	return fd;
}

/*
 * R/O FOLL_LONGTERM pin (gup_test) of read-faulted holes, then the file is
 * written: the pinned pages must show what the mapping shows (shared: the
 * new file data).
 */
static int ro_longterm_pin(const struct zp_mode *m, bool fast)
{
	struct pin_longterm_test args;
	struct zp_region r;
	unsigned long *out;
	uint64_t dst;
	int fd;
	char *p;

	fd = gup_test_open();
	if (fd < 0)
		return zp_skip("/sys/kernel/debug/gup_test: %s (needs CONFIG_GUP_TEST, debugfs and root)", strerror(errno));
	p = setup(&r, m);
	ZP_SYS(p, "setup");
	args.addr = (uintptr_t)p;
	args.size = r.size;
	args.flags = fast ? PIN_LONGTERM_TEST_FLAG_USE_FAST : 0;
	if (ioctl(fd, PIN_LONGTERM_TEST_START, &args)) {
		if (errno == EINVAL)
			return zp_skip("PIN_LONGTERM_TEST_START: EINVAL");
		ZP_SYS(0, "PIN_LONGTERM_TEST_START");
	}
	ZP_SYS(!write_file(&r, 4), "write file");
	out = malloc(r.size);
	ZP_SYS(out, "malloc");
	dst = (uintptr_t)out;
	ZP_SYS(!ioctl(fd, PIN_LONGTERM_TEST_READ, &dst), "PIN_LONGTERM_TEST_READ");
	ioctl(fd, PIN_LONGTERM_TEST_STOP);
	ZP_CHECK(!memcmp(out, p, r.size), "pinned pages show what the mapping shows (R/O pin reliable)");
	if (m->shared)
		ZP_CHECK(equal_pattern(out, r.size, 4, "pinned pages"),
			 "the pinned pages see the file's new data");
	return ZP_PASS;
}

/* Failure: a R/O longterm pin (pin_user_pages) of read-faulted holes is stale (holds the zero page). */
static int gup_ro_longterm_pin(const struct zp_mode *m)
{
	return ro_longterm_pin(m, false);
}

/* Failure: a R/O longterm pin (pin_user_pages_fast) of read-faulted holes is stale. */
static int gup_fast_ro_longterm_pin(const struct zp_mode *m)
{
	return ro_longterm_pin(m, true);
}

static const struct zp_test tests[] = {
	ZP_TEST(io_uring_fixed_sees_writes, ZP_ALL_SHARED),
	ZP_TEST(io_uring_fixed_write_lands, ZP_ALL_SHARED),
	ZP_TEST(vmsplice_sees_writes, ZP_ALL_SHARED),
	ZP_TEST(gup_ro_longterm_pin, ZP_ALL),
	ZP_TEST(gup_fast_ro_longterm_pin, ZP_ALL),
};

int main(void)
{
	return zp_run_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
