// SPDX-License-Identifier: GPL-2.0
/*
 * faultbench - fault costs the shmem zero-page series changes, measured in
 * the guest and printed as KTAP metrics ("# metric: key=value") for
 * bench/read_faults.py, which runs it on base and series and prints ratios.
 *
 *   read_ns_per_page[memfd]       first-touch read faults of a memfd hole (MAP_SHARED,
 *                                 PROT_READ|PROT_WRITE; with the series fault-around maps
 *                                 the zero page over 16 holes per fault)
 *   read_ns_per_page[memfd-ro]    the same through a PROT_READ mapping
 *   read_ns_per_page[anon]        the same on anonymous memory (zero page on every kernel)
 *   read_write_ns_per_page[memfd] read every page of a hole, then write every page
 *   read_write_ns_per_page[anon]  the same on anonymous memory (zero page, then COW)
 *   read_ns_per_fault[memfd]      read one page in every 64 KiB of a memfd hole: one fault
 *                                 per read, as fault-around (64 KiB) maps the rest unread
 *   read_ns_per_fault[anon]       the same on anonymous memory
 *   sparse_read_write_ns_per_page[memfd]  read one page per 64 KiB, then write every page:
 *                                 the writes next to a read find the zero page that
 *                                 fault-around mapped there (per page written)
 *   sparse_read_write_ns_per_page[anon]   the same on anonymous memory
 *   fill_ns_per_page[pN]          write(2) into a hole that N processes read-faulted
 *                                 (with the series: zero-page PTEs unmapped in N mappings)
 *   read_fill_ns_per_page[pN]     end to end: the N processes' reads of that hole (all N
 *                                 read faults; on base the first allocates the pages) plus
 *                                 the write(2) that fills it, per page filled
 *   unread_fill_ns_per_page[pN]   write(2) into holes nobody read, of a file that N other
 *                                 processes map, after one read of an unrelated hole a
 *                                 fault-around window (16 pages) past them, so that no zero
 *                                 page lies over them (per-offset tracking: should cost
 *                                 what base costs)
 *   untouched_fill_ns_per_page[pN] the same with no read of the file at all: the same
 *                                 boot's control for unread_fill (the series notes nothing
 *                                 then; base does the same work in both)
 *
 * Each number is the best of REPS runs. Under TCG the absolute values are
 * emulation times; the ratios between kernels are what the bench reports.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define PAGES 8192UL /* 32 MiB */
#define FILL_PAGES 256UL
#define SPARSE 16UL /* pages: one read per fault_around_bytes (64 KiB) */
#define REPS 5

static int tests, failed;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void result(int ok, const char *name, double value)
{
	printf("# metric: %s=%.1f\n", "ns_per_page", value);
	printf("%s %d %s\n", ok ? "ok" : "not ok", ++tests, name);
	failed += !ok;
}

static char *map(int fd, size_t len, int prot)
{
	int flags = fd < 0 ? MAP_PRIVATE | MAP_ANONYMOUS : MAP_SHARED;
	char *p = mmap(NULL, len, prot, flags, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int hole(size_t len)
{
	int fd = memfd_create("faultbench", 0);

	if (fd >= 0 && ftruncate(fd, len)) {
		close(fd);
		return -1;
	}
	return fd;
}

static unsigned long read_pages(const volatile char *p, size_t pages, size_t stride)
{
	unsigned long sum = 0;

	for (size_t i = 0; i < pages; i += stride)
		sum += p[i * PAGE];
	return sum;
}

/*
 * Read-fault every stride-th page of a fresh region and, with write, then
 * write every page: ns per page read, or with write per page written; -1 on
 * error.
 */
static double touch(int use_memfd, int write, size_t stride, int prot)
{
	double best = -1;

	for (int r = 0; r < REPS; r++) {
		int fd = use_memfd ? hole(PAGES * PAGE) : -1;
		char *p = (!use_memfd || fd >= 0) ? map(fd, PAGES * PAGE, prot) : NULL;
		double t0, ns;

		if (!p)
			return -1;
		t0 = now_ns();
		if (read_pages(p, PAGES, stride))
			return -1; /* a hole must read as zeros */
		for (size_t i = 0; write && i < PAGES; i++)
			p[i * PAGE] = 1;
		ns = (now_ns() - t0) / (write ? PAGES : PAGES / stride);
		best = (best < 0 || ns < best) ? ns : best;
		munmap(p, PAGES * PAGE);
		if (fd >= 0)
			close(fd);
	}
	return best;
}

#define FILL_FILE ((FILL_PAGES + 2 * SPARSE) * PAGE)

/* Who read the file before a fill. */
enum fill_reads {
	FILL_READ_BY_ALL,	/* the nproc mappers read-faulted the filled range */
	FILL_UNRELATED_READ,	/* one read of a hole SPARSE pages past the range */
	FILL_NO_READ,		/* nothing of the file was read */
};

/*
 * Wait until @pid sleeps (in pause()): a child that has said it is ready may
 * still be on its way there, and on a guest with one vCPU its run would land
 * inside the parent's timed write.
 */
static int wait_asleep(pid_t pid)
{
	char path[32], line[256], *state;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	for (;;) {
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(line, 1, sizeof(line) - 1, f) : 0;

		if (f)
			fclose(f);
		line[n] = '\0';
		/* "pid (comm) S ...": comm may hold spaces and parens */
		state = strrchr(line, ')');
		if (!state || state[1] != ' ')
			return -1;
		if (state[2] == 'S')
			return 0;
		usleep(100);
	}
}

/* The best of REPS fills: the fill alone, and with FILL_READ_BY_ALL the reads plus the fill. */
struct fill_ns {
	double fill;		/* ns per page of the write(2) */
	double read_fill;	/* ns per page of the N readers' reads plus the write(2) */
};

/* A mapper's answer: who it is, and the ns its read took (0 if it read nothing, -1 if it failed). */
struct read_ns {
	pid_t pid;
	double ns;
};

/*
 * A mapper of the file: map it, wait for its turn, read the filled range with
 * @reads == FILL_READ_BY_ALL, answer through @ready (also when something
 * failed: the parent waits for an answer from each), sleep.
 *
 * The end-to-end cost (read_fill) sums these reads and the fill, each timed
 * around its own work.  Timing from before the forks until the fill returns
 * instead would count 64 fork()s, the mmap()s and wait_asleep()'s usleep()s
 * (idle time, which --accel icount jumps over), none of which is the cost of
 * a read fault or a fill, and all of it the same on both kernels: it would
 * pull every ratio towards 1.  The mappers read one at a time, each when the
 * parent hands it the one byte of @turn, after the previous reader is asleep,
 * so that on the guest's one vCPU no other mapper runs inside a read's timing
 * (the parent may, for the few instructions from its write(2) of the turn to
 * blocking in its read(2) of the answer).
 */
static void mapper(int fd, enum fill_reads reads, int turn, int ready)
{
	char *p = map(fd, FILL_FILE, PROT_READ);
	struct read_ns answer = { getpid(), p ? 0 : -1 };
	double t0;
	char c;

	if (read(turn, &c, 1) != 1)
		_exit(1);
	if (p && reads == FILL_READ_BY_ALL) {
		t0 = now_ns();
		/* a hole must read as zeros */
		answer.ns = read_pages(p, FILL_PAGES, 1) ? -1 : now_ns() - t0;
	}
	if (write(ready, &answer, sizeof(answer)) != sizeof(answer))
		_exit(1);
	pause();
	_exit(0);
}

/*
 * ns per page for write(2) to fill a hole that nproc processes map, after the
 * reads of @reads, with the mappers asleep.  The unrelated read is by the
 * parent, through its own mapping, SPARSE pages past the filled range:
 * fault-around's window is aligned by virtual address, so a read right next to
 * the range would map the zero page over up to 15 of its holes.
 */
static struct fill_ns fill(int nproc, enum fill_reads reads)
{
	static char buf[FILL_PAGES * PAGE];
	const struct fill_ns failure = { -1, -1 };
	struct fill_ns best = failure;

	memset(buf, 0x5a, sizeof(buf));
	for (int r = 0; r < REPS; r++) {
		int fd = hole(FILL_FILE), ready[2], turn[2];
		char *own = NULL;
		pid_t pids[64];
		struct read_ns answer;
		double t0, ns, read_ns = 0;

		if (fd < 0 || pipe(ready) || pipe(turn))
			return failure;
		for (int i = 0; i < nproc; i++) {
			pids[i] = fork();
			if (pids[i] == 0)
				mapper(fd, reads, turn[0], ready[1]);
		}
		for (int i = 0; i < nproc; i++) {
			if (write(turn[1], "x", 1) != 1 ||
			    read(ready[0], &answer, sizeof(answer)) != sizeof(answer) ||
			    answer.ns < 0 || wait_asleep(answer.pid))
				return failure;
			read_ns += answer.ns;
		}
		for (int i = 0; i < nproc; i++)
			if (wait_asleep(pids[i]))
				return failure;
		if (reads == FILL_UNRELATED_READ) {
			own = map(fd, FILL_FILE, PROT_READ);
			if (!own || read_pages(own + (FILL_PAGES + SPARSE) * PAGE, 1, 1))
				return failure;
		}
		t0 = now_ns();
		if (pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			return failure;
		ns = now_ns() - t0;
		if (best.fill < 0 || ns / FILL_PAGES < best.fill)
			best.fill = ns / FILL_PAGES;
		ns = (read_ns + ns) / FILL_PAGES;
		if (best.read_fill < 0 || ns < best.read_fill)
			best.read_fill = ns;
		for (int i = 0; i < nproc; i++) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
		if (own)
			munmap(own, FILL_FILE);
		close(ready[0]);
		close(ready[1]);
		close(turn[0]);
		close(turn[1]);
		close(fd);
	}
	return best;
}

int main(void)
{
	static const int procs[] = { 1, 4, 16, 64 };
	static const int others[] = { 0, 16, 64 };
	const int rw = PROT_READ | PROT_WRITE;
	struct fill_ns f;
	char name[64];
	double v;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("KTAP version 1\n1..%zu\n", 9 + 2 * sizeof(procs) / sizeof(procs[0]) +
	       2 * sizeof(others) / sizeof(others[0]));
	v = touch(1, 0, 1, rw);
	result(v > 0, "read_ns_per_page[memfd]", v);
	v = touch(1, 0, 1, PROT_READ);
	result(v > 0, "read_ns_per_page[memfd-ro]", v);
	v = touch(0, 0, 1, rw);
	result(v > 0, "read_ns_per_page[anon]", v);
	v = touch(1, 1, 1, rw);
	result(v > 0, "read_write_ns_per_page[memfd]", v);
	v = touch(0, 1, 1, rw);
	result(v > 0, "read_write_ns_per_page[anon]", v);
	v = touch(1, 0, SPARSE, rw);
	result(v > 0, "read_ns_per_fault[memfd]", v);
	v = touch(0, 0, SPARSE, rw);
	result(v > 0, "read_ns_per_fault[anon]", v);
	v = touch(1, 1, SPARSE, rw);
	result(v > 0, "sparse_read_write_ns_per_page[memfd]", v);
	v = touch(0, 1, SPARSE, rw);
	result(v > 0, "sparse_read_write_ns_per_page[anon]", v);
	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
		f = fill(procs[i], FILL_READ_BY_ALL);
		snprintf(name, sizeof(name), "fill_ns_per_page[p%d]", procs[i]);
		result(f.fill > 0, name, f.fill);
		snprintf(name, sizeof(name), "read_fill_ns_per_page[p%d]", procs[i]);
		result(f.read_fill > 0, name, f.read_fill);
	}
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		snprintf(name, sizeof(name), "unread_fill_ns_per_page[p%d]", others[i]);
		f = fill(others[i], FILL_UNRELATED_READ);
		result(f.fill > 0, name, f.fill);
		snprintf(name, sizeof(name), "untouched_fill_ns_per_page[p%d]", others[i]);
		f = fill(others[i], FILL_NO_READ);
		result(f.fill > 0, name, f.fill);
	}
	return failed ? 1 : 0;
}
