/* SPDX-License-Identifier: GPL-2.0 */
/*
 * zp_harness.h - the harness of the zpfarm guest fault tests (header-only).
 *
 * KTAP output, checks that print what they saw, the backing/mapping modes
 * (memfd, tmpfs, tmpfs-huge, sysv x private, shared) and a small test runner:
 * every subtest runs in a forked child with a timeout, so a SIGBUS/SIGSEGV/hang
 * in one subtest is reported as "not ok" and the remaining subtests still run.
 * The mm helpers the tests use (regions, probes of /proc, pagemap, memcg) are
 * in zp_mm.h, which includes this file.
 *
 * Conventions: a test function returns ZP_PASS, ZP_FAIL or zp_skip(...).
 * Diagnostics ("# ...") and metrics ("# metric: key=value") are printed by
 * the test before it returns; the runner prints the result line after them.
 */
#ifndef ZP_HARNESS_H
#define ZP_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <setjmp.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MREMAP_FIXED
#define MREMAP_FIXED 2
#endif

/* Paths and messages are truncated silently if ever too long. */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#define zp_fmt snprintf

#define ZP_PASS 0
#define ZP_FAIL 1
#define ZP_SKIP 4

#define ZP_UNUSED __attribute__((unused))
#define ZP_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ------------------------------------------------------------------ KTAP */

static ZP_UNUSED void ktap_print_header(unsigned int nr)
{
	printf("KTAP version 1\n1..%u\n", nr);
	fflush(stdout);
}

static ZP_UNUSED ZP_PRINTF(1, 2) void ktap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* "# metric: key=value": key is [a-z0-9_]+ with the unit in its name. */
static ZP_UNUSED void ktap_metric(const char *key, long long value)
{
	printf("# metric: %s=%lld\n", key, value);
	fflush(stdout);
}

static ZP_UNUSED void ktap_metric_float(const char *key, double value)
{
	printf("# metric: %s=%.3f\n", key, value);
	fflush(stdout);
}

static ZP_UNUSED void ktap_ok(unsigned int nr, const char *name)
{
	printf("ok %u %s\n", nr, name);
	fflush(stdout);
}

static ZP_UNUSED void ktap_fail(unsigned int nr, const char *name)
{
	printf("not ok %u %s\n", nr, name);
	fflush(stdout);
}

static ZP_UNUSED void ktap_skip(unsigned int nr, const char *name,
				const char *reason)
{
	printf("ok %u %s # SKIP %s\n", nr, name, reason);
	fflush(stdout);
}

/*
 * Check a condition inside a test function: on failure print where, what was
 * expected and what was seen, and fail the subtest (the child exits, so no
 * cleanup is needed; temporary files are unlinked and SysV segments marked
 * IPC_RMID as soon as they are created).
 */
#define ZP_CHECK(cond, fmt, ...)						\
	do {									\
		if (!(cond)) {							\
			ktap_diag("%s:%d: expected %s; " fmt, __func__,		\
				  __LINE__, #cond, ##__VA_ARGS__);		\
			return ZP_FAIL;						\
		}								\
	} while (0)

/*
 * Compare two integer values, each evaluated once; on failure print the
 * expression and both values (decimal and hex), and fail the subtest.
 */
#define ZP_CHECK_CMP(a, op, b, what)						\
	do {									\
		long long zp_a_ = (long long)(a), zp_b_ = (long long)(b);	\
		if (!(zp_a_ op zp_b_)) {					\
			ktap_diag("%s:%d: expected %s %s %s: %s: %lld (%#llx) vs %lld (%#llx)", \
				  __func__, __LINE__, #a, #op, #b, what,	\
				  zp_a_, (unsigned long long)zp_a_, zp_b_,	\
				  (unsigned long long)zp_b_);			\
			return ZP_FAIL;						\
		}								\
	} while (0)
#define ZP_CHECK_EQ(a, b, what) ZP_CHECK_CMP(a, ==, b, what)
#define ZP_CHECK_NE(a, b, what) ZP_CHECK_CMP(a, !=, b, what)
#define ZP_CHECK_LT(a, b, what) ZP_CHECK_CMP(a, <, b, what)
#define ZP_CHECK_LE(a, b, what) ZP_CHECK_CMP(a, <=, b, what)

/* A setup step that must work (errno reported); failing it fails the test. */
#define ZP_SYS(cond, what)							\
	do {									\
		if (!(cond)) {							\
			ktap_diag("%s:%d: %s failed: %s", __func__, __LINE__,	\
				  what, strerror(errno));			\
			return ZP_FAIL;						\
		}								\
	} while (0)

/* ----------------------------------------------------------------- sysfs */

/* Read a small sysfs/proc text file into buf; returns 0 on success. */
static ZP_UNUSED int zp_read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

/* The [selected] word of a sysfs THP knob, or "" if absent. */
static ZP_UNUSED const char *zp_thp_setting(const char *knob)
{
	static char sel[64];
	char buf[256], path[256], *a, *b;

	sel[0] = '\0';
	zp_fmt(path, sizeof(path), "/sys/kernel/mm/transparent_hugepage/%s", knob);
	if (zp_read_file(path, buf, sizeof(buf)))
		return sel;
	a = strchr(buf, '[');
	b = a ? strchr(a, ']') : NULL;
	if (a && b) {
		*b = '\0';
		zp_fmt(sel, sizeof(sel), "%s", a + 1);
	}
	return sel;
}

/* ----------------------------------------------------------------- modes */

enum zp_backing { ZP_MEMFD, ZP_TMPFS, ZP_TMPFS_HUGE, ZP_SYSV, ZP_NR_BACKING };

struct zp_mode {
	enum zp_backing backing;
	bool shared;
};

static const char *const zp_backing_name[ZP_NR_BACKING] = {
	"memfd", "tmpfs", "tmpfs-huge", "sysv",
};

#define ZP_MODE_BIT(b, s) (1u << ((b) * 2 + (s)))
#define ZP_MEMFD_PRIVATE	ZP_MODE_BIT(ZP_MEMFD, 0)
#define ZP_MEMFD_SHARED		ZP_MODE_BIT(ZP_MEMFD, 1)
#define ZP_TMPFS_PRIVATE	ZP_MODE_BIT(ZP_TMPFS, 0)
#define ZP_TMPFS_SHARED		ZP_MODE_BIT(ZP_TMPFS, 1)
#define ZP_HUGE_PRIVATE		ZP_MODE_BIT(ZP_TMPFS_HUGE, 0)
#define ZP_HUGE_SHARED		ZP_MODE_BIT(ZP_TMPFS_HUGE, 1)
#define ZP_SYSV_SHARED		ZP_MODE_BIT(ZP_SYSV, 1)

/* Modes with a file descriptor (memfd, tmpfs, tmpfs-huge). */
#define ZP_FD_SHARED	(ZP_MEMFD_SHARED | ZP_TMPFS_SHARED | ZP_HUGE_SHARED)
#define ZP_FD_PRIVATE	(ZP_MEMFD_PRIVATE | ZP_TMPFS_PRIVATE | ZP_HUGE_PRIVATE)
#define ZP_FD_ALL	(ZP_FD_SHARED | ZP_FD_PRIVATE)
/* Every backing; SysV shm only exists shared. */
#define ZP_ALL_SHARED	(ZP_FD_SHARED | ZP_SYSV_SHARED)
#define ZP_ALL		(ZP_FD_ALL | ZP_SYSV_SHARED)
/* "Small page" modes, i.e. not the huge=always mount. */
#define ZP_SMALL	(ZP_ALL & ~(ZP_HUGE_PRIVATE | ZP_HUGE_SHARED))


/*
 * Do faults and writes on this mode's object allocate huge pages? The
 * huge=always tmpfs does; memfd and SysV shm (the internal shm mount) do
 * when shmem_enabled is always, within_size or force. Such modes are named
 * "<backing>-huge" (memfd-huge,shared), so that expectations.toml can tell
 * them from the small-page ones: the series (v1) leaves them as they were.
 */
static ZP_UNUSED bool zp_mode_huge(const struct zp_mode *m)
{
	const char *policy;

	if (m->backing == ZP_TMPFS_HUGE)
		return true;
	if (m->backing != ZP_MEMFD && m->backing != ZP_SYSV)
		return false;
	policy = zp_thp_setting("shmem_enabled");
	return !strcmp(policy, "always") || !strcmp(policy, "within_size") ||
	       !strcmp(policy, "force");
}

static ZP_UNUSED const char *zp_mode_name(const struct zp_mode *m, char *buf,
					  size_t len)
{
	bool huge = m->backing != ZP_TMPFS_HUGE && zp_mode_huge(m);

	zp_fmt(buf, len, "%s%s,%s", zp_backing_name[m->backing],
	       huge ? "-huge" : "", m->shared ? "shared" : "private");
	return buf;
}

/* ---------------------------------------------------------------- runner */

struct zp_test {
	const char *name;
	/* m is NULL for a test without modes (modes == 0). */
	int (*fn)(const struct zp_mode *m);
	unsigned int modes;
	unsigned int timeout_s;	/* 0: ZP_DEFAULT_TIMEOUT */
};

/* Table entries: the function name is the subtest name. */
#define ZP_TEST(f, m) { .name = #f, .fn = f, .modes = (m) }
#define ZP_TEST_T(f, m, t) { .name = #f, .fn = f, .modes = (m), .timeout_s = (t) }

#define ZP_DEFAULT_TIMEOUT 60
#define ZP_REASON_LEN 512

static char *zp_skip_reason;	/* shared page: child -> runner */

static ZP_UNUSED ZP_PRINTF(1, 2) int zp_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (zp_skip_reason)
		vsnprintf(zp_skip_reason, ZP_REASON_LEN, fmt, ap);
	va_end(ap);
	return ZP_SKIP;
}

static ZP_UNUSED size_t zp_page_size(void)
{
	static size_t ps;

	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

static ZP_UNUSED const char *zp_env(const char *name, const char *def)
{
	const char *v = getenv(name);

	return (v && *v) ? v : def;
}

static ZP_UNUSED long zp_env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return (v && *v) ? strtol(v, NULL, 0) : def;
}

/* Why a mode cannot run here, or NULL. */
static ZP_UNUSED const char *zp_mode_unavailable(const struct zp_mode *m)
{
	static char why[256];

	if (m->backing == ZP_TMPFS_HUGE && !getenv("ZPFARM_TMPFS_HUGE"))
		return "ZPFARM_TMPFS_HUGE not set (no THP in this kernel or no huge=always tmpfs)";
	if (m->backing == ZP_SYSV) {
		int id = shmget(IPC_PRIVATE, zp_page_size(), IPC_CREAT | 0600);

		if (id < 0) {
			zp_fmt(why, sizeof(why), "SysV shm unavailable: %s",
				 strerror(errno));
			return why;
		}
		shmctl(id, IPC_RMID, NULL);
	}
	return NULL;
}

static ZP_UNUSED unsigned int zp_count_subtests(const struct zp_test *t,
						unsigned int n)
{
	unsigned int i, nr = 0;

	for (i = 0; i < n; i++)
		nr += t[i].modes ? (unsigned int)__builtin_popcount(t[i].modes) : 1;
	return nr;
}

static ZP_UNUSED int zp_run_one(unsigned int nr, const char *name,
				const struct zp_test *t,
				const struct zp_mode *m)
{
	unsigned int timeout = t->timeout_s ? t->timeout_s : ZP_DEFAULT_TIMEOUT;
	int status;
	pid_t pid;

	zp_skip_reason[0] = '\0';
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		ktap_diag("fork failed: %s", strerror(errno));
		ktap_fail(nr, name);
		return ZP_FAIL;
	}
	if (pid == 0) {
		int ret;

		/* Die with the runner (e.g. killed by the farm's timeout). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(timeout);
		ret = t->fn(m);
		fflush(stdout);
		_exit(ret);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == ZP_PASS) {
		ktap_ok(nr, name);
		return ZP_PASS;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == ZP_SKIP) {
		ktap_skip(nr, name, zp_skip_reason[0] ? zp_skip_reason : "skipped");
		return ZP_SKIP;
	}
	if (WIFSIGNALED(status)) {
		if (WTERMSIG(status) == SIGALRM)
			ktap_diag("timed out after %u s (hang?)", timeout);
		else
			ktap_diag("killed by signal %d (%s)", WTERMSIG(status),
				  strsignal(WTERMSIG(status)));
	}
	ktap_fail(nr, name);
	return ZP_FAIL;
}

/* Run every test in every mode of its mask; returns the exit status. */
static ZP_UNUSED int zp_run_tests(const struct zp_test *tests, unsigned int n)
{
	unsigned int i, nr = 0, failed = 0;
	char name[256], mname[64];

	setvbuf(stdout, NULL, _IOLBF, 0);
	zp_skip_reason = mmap(NULL, zp_page_size(), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (zp_skip_reason == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	ktap_print_header(zp_count_subtests(tests, n));
	for (i = 0; i < n; i++) {
		const struct zp_test *t = &tests[i];
		unsigned int b;

		if (!t->modes) {
			if (zp_run_one(++nr, t->name, t, NULL) == ZP_FAIL)
				failed++;
			continue;
		}
		for (b = 0; b < ZP_NR_BACKING * 2; b++) {
			struct zp_mode m = { .backing = b / 2, .shared = b % 2 };
			const char *why;

			if (!(t->modes & (1u << b)))
				continue;
			zp_fmt(name, sizeof(name), "%s[%s]", t->name,
				 zp_mode_name(&m, mname, sizeof(mname)));
			why = zp_mode_unavailable(&m);
			if (why) {
				ktap_skip(++nr, name, why);
				continue;
			}
			if (zp_run_one(++nr, name, t, &m) == ZP_FAIL)
				failed++;
		}
	}
	ktap_diag("totals: %u subtests, %u failed", nr, failed);
	return failed ? 1 : 0;
}

#endif /* ZP_HARNESS_H */
