// SPDX-License-Identifier: GPL-2.0
/*
 * stress: bounded-time races between read faults of holes and the paths that
 * fill or empty them.  Runs ZPFARM_STRESS_SECONDS (default 2) per subtest.
 *
 * readers_vs_filler: readers (a thread and a child process, each with its
 * own mapping, re-faulting with MADV_DONTNEED) read random pages while a
 * filler pwrite()s page after page, publishing how far it got, and punches
 * the whole file after each pass.  A page published as filled must read its
 * value through every reader mapping: a zero read there means a zero-page
 * PTE survived the fill (the series' race protocol is broken).
 *
 * mixed_faults_same_vma: threads read-fault and write their own word of the
 * same pages of one mapping concurrently; every write must survive (a lost
 * write means a store went into the zero page or to a page that was then
 * replaced).
 */
#include "zp_mm.h"	/* first: it defines _GNU_SOURCE */
#include <pthread.h>

#define FILL_PAGES 256
#define MIXED_PAGES 256
#define MIXED_THREADS 3

static double stress_seconds(void)
{
	return (double)zp_env_long("ZPFARM_STRESS_SECONDS", 2);
}

/* Shared between the filler, reader threads and reader processes. */
struct fill_state {
	unsigned long seq;	/* odd while the filler punches/starts a pass */
	unsigned long gen;	/* pass number */
	unsigned long filled;	/* pages [0, filled) hold tag(gen, i) */
	unsigned long stop;
	unsigned long errors;
	unsigned long checks;
	unsigned long err_page, err_seen, err_want;
};

static unsigned long tag(unsigned long gen, unsigned long i)
{
	return (gen << 20) | (i + 1);
}

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

struct reader_arg {
	struct zp_region *r;
	struct fill_state *st;
	unsigned int seed;
};

static void reader_loop(struct zp_region *r, struct fill_state *st, unsigned int seed)
{
	size_t ps = zp_page_size();
	unsigned long n = 0;
	char *p = zp_map_mode(r, PROT_READ);

	if (!p) {
		__atomic_add_fetch(&st->errors, 1, __ATOMIC_RELAXED);
		return;
	}
	while (!LOAD(st->stop)) {
		unsigned long s1, s2, f, g, v, i = (unsigned long)rand_r(&seed) % FILL_PAGES;

		s1 = LOAD(st->seq);
		g = LOAD(st->gen);
		f = LOAD(st->filled);
		v = *(volatile unsigned long *)(p + i * ps);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = LOAD(st->seq);
		if (s1 == s2 && !(s1 & 1) && i < f) {
			__atomic_add_fetch(&st->checks, 1, __ATOMIC_RELAXED);
			if (v != tag(g, i) &&
			    __atomic_add_fetch(&st->errors, 1, __ATOMIC_RELAXED) == 1) {
				st->err_page = i;
				st->err_seen = v;
				st->err_want = tag(g, i);
			}
		}
		/* Drop our PTEs now and then so holes get read-faulted again. */
		if (!(++n % 4096))
			madvise(p, r->size, MADV_DONTNEED);
	}
}

static void *reader_thread(void *arg)
{
	struct reader_arg *ra = arg;

	reader_loop(ra->r, ra->st, ra->seed);
	return NULL;
}

/* Punch the whole object: fallocate for fd backings, MADV_REMOVE for SysV. */
static int punch_all(struct zp_region *r, char *filler_map)
{
	if (zp_is_sysv(r))
		return madvise(filler_map, r->size, MADV_REMOVE);
	return fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)r->size);
}

/* Failure: a reader saw zero (stale zero-page PTE) in a page already filled. */
static int readers_vs_filler(const struct zp_mode *m)
{
	size_t ps = zp_page_size();
	struct reader_arg ra;
	struct fill_state *st;
	struct zp_region r;
	double end;
	pthread_t t;
	char *fm;
	pid_t pid;
	int status;

	st = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ZP_SYS(st != MAP_FAILED, "mmap state");
	ZP_SYS(!zp_region_create(&r, m, FILL_PAGES * ps), "region create");
	fm = zp_map(&r, PROT_READ | PROT_WRITE, true);	/* SysV filler stores */
	ZP_SYS(fm, "filler mapping");
	pid = fork();
	ZP_SYS(pid >= 0, "fork");
	if (pid == 0) {
		reader_loop(&r, st, 77);
		_exit(0);
	}
	ra.r = &r;
	ra.st = st;
	ra.seed = 1;
	ZP_SYS(!pthread_create(&t, NULL, reader_thread, &ra), "pthread_create");

	end = zp_now() + stress_seconds();
	while (zp_now() < end && !LOAD(st->errors)) {
		unsigned long g = st->gen, i;

		for (i = 0; i < FILL_PAGES; i++) {
			unsigned long v = tag(g, i);

			if (zp_is_sysv(&r))
				*(volatile unsigned long *)(fm + i * ps) = v;
			else if (pwrite(r.fd, &v, sizeof(v), (off_t)(i * ps)) != sizeof(v))
				break;
			STORE(st->filled, i + 1);
		}
		STORE(st->seq, st->seq + 1);	/* odd: begin transition */
		STORE(st->filled, 0);
		if (punch_all(&r, fm))
			ktap_diag("punch: %s", strerror(errno));
		STORE(st->gen, g + 1);
		STORE(st->seq, st->seq + 1);	/* even: new pass */
	}
	STORE(st->stop, 1);
	pthread_join(t, NULL);
	waitpid(pid, &status, 0);
	ktap_metric("passes", (long long)st->gen);
	ktap_metric("checks", (long long)st->checks);
	ktap_metric("errors", (long long)st->errors);
	ZP_CHECK(st->errors == 0, "page %lu read %#lx after it was filled with %#lx",
		 st->err_page, st->err_seen, st->err_want);
	ZP_CHECK(st->checks > 0, "the readers made checks");
	return ZP_PASS;
}

struct mixed_arg {
	char *p;
	unsigned int id;
	double end;
	unsigned long last[MIXED_PAGES];
	unsigned long bad;
};

/* Each thread owns word @id of every page; reads elsewhere fault holes in. */
static void *mixed_thread(void *arg)
{
	struct mixed_arg *a = arg;
	size_t ps = zp_page_size();
	unsigned int seed = a->id + 1;
	unsigned long iter = 0;

	while (zp_now() < a->end) {
		unsigned int k;

		for (k = 0; k < 512; k++) {
			unsigned long i = (unsigned long)rand_r(&seed) % MIXED_PAGES;
			volatile unsigned long *w = (unsigned long *)(a->p + i * ps) + a->id;

			if (rand_r(&seed) & 1) {
				if (*w != a->last[i])
					a->bad++;
			} else {
				a->last[i] = ++iter;
				*w = a->last[i];
			}
			/* Read a neighbour's word too: read faults on holes. */
			(void)*((volatile unsigned long *)(a->p + ((i + 7) % MIXED_PAGES) * ps) + 8);
		}
	}
	return NULL;
}

/* Failure: a store was lost while other threads read-faulted and wrote the same pages. */
static int mixed_faults_same_vma(const struct zp_mode *m)
{
	size_t ps = zp_page_size(), i;
	struct mixed_arg *a;
	struct zp_region r;
	pthread_t t[MIXED_THREADS];
	unsigned int k;
	char *p;

	ZP_SYS(!zp_region_create(&r, m, MIXED_PAGES * ps), "region create");
	p = zp_map_mode(&r, PROT_READ | PROT_WRITE);
	ZP_SYS(p, "mapping");
	a = calloc(MIXED_THREADS, sizeof(*a));
	ZP_SYS(a, "calloc");
	for (k = 0; k < MIXED_THREADS; k++) {
		a[k].p = p;
		a[k].id = k;
		a[k].end = zp_now() + stress_seconds();
		ZP_SYS(!pthread_create(&t[k], NULL, mixed_thread, &a[k]), "pthread_create");
	}
	for (k = 0; k < MIXED_THREADS; k++)
		pthread_join(t[k], NULL);
	for (k = 0; k < MIXED_THREADS; k++) {
		ZP_CHECK(a[k].bad == 0, "thread %u read back %lu stale values of its own word",
			 k, a[k].bad);
		for (i = 0; i < MIXED_PAGES; i++) {
			unsigned long got = *((volatile unsigned long *)(p + i * ps) + k), file = 0;

			ZP_CHECK(got == a[k].last[i], "page %zu word %u reads %#lx, last stored %#lx",
				 i, k, got, a[k].last[i]);
			if (m->shared) {
				zp_region_read(&r, i * ps + k * sizeof(long), &file, sizeof(file));
				ZP_CHECK(file == a[k].last[i], "file page %zu word %u holds %#lx, stored %#lx",
					 i, k, file, a[k].last[i]);
			}
		}
	}
	ZP_CHECK(zp_zero_page_intact(), "the zero page still reads zero");
	return ZP_PASS;
}

static const struct zp_test tests[] = {
	ZP_TEST(readers_vs_filler, ZP_ALL),
	ZP_TEST(mixed_faults_same_vma, ZP_ALL),
};

int main(void)
{
	return zp_run_tests(tests, sizeof(tests) / sizeof(tests[0]));
}
