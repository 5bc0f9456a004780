// SPDX-License-Identifier: GPL-2.0
/*
 * zpfarm's guest runner: runs inside the VM (or on a real host for
 * `zpfarm host-test`), a static binary built per arch by farm/guest/runner.py.
 *
 * It reads its plan (plan.txt, written by the host) from its own directory
 * (the host's shared read-write directory), applies the runtime variant's
 * sysfs settings, mounts the tmpfs instances the tests use, then runs each
 * test program with a timeout and appends its KTAP output, nested, to
 * results.ktap as it goes: a crash or a hung kernel leaves every earlier
 * result on the host. Each program starts on fresh tmpfs instances, its
 * output ends when it exits (a child it left holding stdout is not waited
 * for), and its whole process group is killed before the next one starts.
 * Around each program it writes "zpfarm: begin/end
 * <name>" to /dev/kmsg so the host can tell which test was running when the
 * kernel complained.
 *
 * Why C: a Python runner's cold start in a fresh TCG guest (interpreter and
 * stdlib paged in over 9p) cost 1.3 to 1.6 s of every boot, measured; this
 * one starts in milliseconds and needs nothing from the guest's root.
 *
 * plan.txt, one record per line, fields separated by tabs, and in every field
 * backslash, tab and newline written as \\, \t and \n:
 *	vm	0|1
 *	sysfs	<path under /sys>	<value>
 *	test	<name>	<timeout seconds>	<argv0>	<argv1>...
 *
 * No fsync: the share is 9p without a cache, so each write reaches the host
 * before it returns (an fsync per line cost 1.7 ms more in a TCG guest).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TMPFS "/run/zpfarm/tmpfs"
#define TMPFS_HUGE "/run/zpfarm/tmpfs-huge"
#define THP "/sys/kernel/mm/transparent_hugepage"
#define MAX_FIELDS 256
#define STDERR_TAIL_LINES 5
#define STDERR_TAIL_BYTES 8192

extern char **environ;

struct test {
	char *name;
	double timeout;
	char **argv;		/* NULL-terminated */
};

struct plan {
	int vm;
	int nsysfs;
	char **sysfs;		/* path, value, path, value... */
	int ntests;
	struct test *tests;
};

static FILE *ktap;
static int results;

static void die(const char *what)
{
	fprintf(stderr, "zpfarm runner: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	if (!p)
		die("out of memory");
	return p;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * One record in the kernel log. One write(2): dprintf() cannot be used, it
 * seeks first, which /dev/kmsg refuses, so it writes nothing. Opened per record:
 * /dev/kmsg rate-limits each open file (10 records in 5 s by default), and a
 * suite of quick programs writes more than that.
 */
static void kmsg(const char *what, const char *name)
{
	char line[512];
	int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	int len = snprintf(line, sizeof(line), "zpfarm: %s%s%s\n", what, name ? " " : "", name ? name : "");

	if (fd < 0)
		return;
	if (len >= (int)sizeof(line))
		len = sizeof(line) - 1;
	if (write(fd, line, len) < 0) {
		/* The kernel log helps the host read the console: not a result. */
	}
	close(fd);
}

/* One KTAP result at the top level, after its diagnostics. */
static void result(int ok, const char *name, const char *directive, char **diags, int ndiags)
{
	for (int i = 0; i < ndiags; i++)
		fprintf(ktap, "# %s\n", diags[i]);
	fprintf(ktap, "%s %d %s%s%s\n", ok ? "ok" : "not ok", ++results, name,
		directive[0] ? " # " : "", directive);
}

/* Undo the host's escaping of one field in place. */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			*out++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* Split a line at tabs into fields (unescaped, empty ones kept); their number. */
static int split(char *line, char **fields)
{
	int n = 0;

	if (!*line)
		return 0;
	for (char *f; n < MAX_FIELDS && (f = strsep(&line, "\t"));) {
		unescape(f);
		fields[n++] = f;
	}
	return n;
}

static void read_plan(const char *path, struct plan *plan)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *fields[MAX_FIELDS];
	size_t cap = 0;
	ssize_t len;

	if (!f)
		die(path);
	memset(plan, 0, sizeof(*plan));
	plan->vm = 1;
	while ((len = getline(&line, &cap, f)) >= 0) {
		int n;

		if (len && line[len - 1] == '\n')
			line[len - 1] = '\0';
		n = split(line, fields);
		if (n == 2 && !strcmp(fields[0], "vm")) {
			plan->vm = atoi(fields[1]);
		} else if (n == 3 && !strcmp(fields[0], "sysfs")) {
			plan->sysfs = xrealloc(plan->sysfs, sizeof(char *) * 2 * (plan->nsysfs + 1));
			plan->sysfs[2 * plan->nsysfs] = strdup(fields[1]);
			plan->sysfs[2 * plan->nsysfs + 1] = strdup(fields[2]);
			plan->nsysfs++;
		} else if (n >= 4 && !strcmp(fields[0], "test")) {
			struct test *t;

			plan->tests = xrealloc(plan->tests, sizeof(*t) * (plan->ntests + 1));
			t = &plan->tests[plan->ntests++];
			t->name = strdup(fields[1]);
			t->timeout = strtod(fields[2], NULL);
			t->argv = xrealloc(NULL, sizeof(char *) * (n - 2));
			for (int i = 3; i < n; i++)
				t->argv[i - 3] = strdup(fields[i]);
			t->argv[n - 3] = NULL;
		} else if (n) {
			errno = EINVAL;
			die("plan.txt: unknown record");
		}
	}
	free(line);
	fclose(f);
}

static int mount_tmpfs(const char *path, const char *options)
{
	mkdir("/run/zpfarm", 0755);
	mkdir(path, 0755);
	return mount("zpfarm", path, "tmpfs", 0, options);
}

static int have_tmpfs, have_tmpfs_huge;

/* Every program starts on empty tmpfs instances: what one left there cannot fail the next. */
static void fresh_tmpfs(void)
{
	if (have_tmpfs && umount2(TMPFS, MNT_DETACH) == 0)
		mount_tmpfs(TMPFS, "size=50%");
	if (have_tmpfs_huge && umount2(TMPFS_HUGE, MNT_DETACH) == 0)
		mount_tmpfs(TMPFS_HUGE, "huge=always,size=50%");
}

/* Apply the runtime variant; its failure is a test result, not a crash. */
static void setup(const struct plan *plan)
{
	char *diags[MAX_FIELDS + 2];
	int n = 0, problems;
	struct utsname u;
	struct stat st;

	for (int i = 0; i < plan->nsysfs && n < MAX_FIELDS; i++) {
		const char *rel = plan->sysfs[2 * i], *value = plan->sysfs[2 * i + 1];
		char path[PATH_MAX];
		int fd, err = 0;

		snprintf(path, sizeof(path), "/sys/%s", rel);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, value, strlen(value)) < 0)
			err = errno;
		if (fd >= 0)
			close(fd);
		if (err && asprintf(&diags[n], "cannot set %s = %s: %s", path, value, strerror(err)) >= 0)
			n++;
	}
	have_tmpfs = mount_tmpfs(TMPFS, "size=50%") == 0;
	if (have_tmpfs)
		setenv("ZPFARM_TMPFS", TMPFS, 1);
	else
		diags[n++] = "cannot mount tmpfs on " TMPFS;
	have_tmpfs_huge = stat(THP, &st) == 0 && mount_tmpfs(TMPFS_HUGE, "huge=always,size=50%") == 0;
	if (have_tmpfs_huge)
		setenv("ZPFARM_TMPFS_HUGE", TMPFS_HUGE, 1);
	problems = n;
	uname(&u);
	if (asprintf(&diags[n], "uname: %s", u.release) >= 0)
		n++;
	result(!problems, "runtime", "", diags, n);
}

/* Append what a program printed to results.ktap, indented one level. */
static void copy_chunk(const char *buf, ssize_t len, int *at_line_start)
{
	for (ssize_t i = 0; i < len; i++) {
		if (*at_line_start)
			fputs("    ", ktap);
		fputc(buf[i], ktap);
		*at_line_start = buf[i] == '\n';
	}
}

/*
 * Copy a program's stdout until it exits or the deadline, whichever comes
 * first; return its wait status, or -1 if it is still running. Its exit ends
 * the copy even when a child it left behind still holds the pipe open (what
 * is already in the pipe is kept): the runner never waits for orphans.
 */
static int copy_until_exit(int fd, pid_t pid, double deadline)
{
	char buf[65536];
	int at_line_start = 1, open_pipe = 1, status = -1;

	while (now() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t len;

		if (waitpid(pid, &status, WNOHANG) == pid) {
			while (open_pipe && poll(&p, 1, 0) > 0 && (len = read(fd, buf, sizeof(buf))) > 0 &&
			       now() < deadline)
				copy_chunk(buf, len, &at_line_start);
			break;
		}
		status = -1;
		if (!open_pipe) {
			usleep(10000);
			continue;
		}
		if (poll(&p, 1, 50) <= 0)
			continue;
		len = read(fd, buf, sizeof(buf));
		if (len <= 0)
			open_pipe = 0;
		else
			copy_chunk(buf, len, &at_line_start);
	}
	if (!at_line_start)
		fputc('\n', ktap);
	return status;
}

/* The last lines of a program's stderr, each as a "stderr: " diagnostic. */
static int stderr_tail(int fd, char **diags)
{
	static char buf[STDERR_TAIL_BYTES + 1];
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > STDERR_TAIL_BYTES ? size - STDERR_TAIL_BYTES : 0;
	ssize_t len = pread(fd, buf, STDERR_TAIL_BYTES, from);
	char *lines[STDERR_TAIL_LINES];
	int n = 0;

	if (len <= 0)
		return 0;
	while (len > 0 && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	for (char *p = buf + len; n < STDERR_TAIL_LINES && p >= buf; p--) {
		if (p == buf || p[-1] == '\n') {
			lines[n++] = p;
			if (p > buf)
				p[-1] = '\0';
		}
	}
	for (int i = 0; i < n; i++)
		if (asprintf(&diags[i], "stderr: %s", lines[n - 1 - i]) < 0)
			return i;
	return n;
}

/* The parent of pid, from /proc/PID/stat (its comm may hold spaces and parentheses); -1 if gone. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *close_paren;
	int fd, ppid = -1;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	close_paren = strrchr(buf, ')');
	if (!close_paren || sscanf(close_paren + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/*
 * Kill what a program left running outside its process group (a setsid daemon): the runner
 * is a child subreaper, so every orphan of a program comes to it, whatever session it made.
 * A killed child's own children come next, so go round until none is left.
 */
static void reap_leftovers(void)
{
	pid_t self = getpid();

	for (int round = 0; round < 100; round++) {
		DIR *proc = opendir("/proc");
		struct dirent *e;
		int found = 0;

		if (!proc)
			return;
		while ((e = readdir(proc))) {
			pid_t pid = (pid_t)atoi(e->d_name);

			if (pid > 0 && parent_of(pid) == self) {
				kill(pid, SIGKILL);
				found = 1;
			}
		}
		closedir(proc);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (!found)
			return;
		usleep(10000);
	}
}

/* Run one program, copying its KTAP into results.ktap as it is printed. */
static void run_one(const struct test *t)
{
	char path[PATH_MAX], directive[64] = "", *diags[STDERR_TAIL_LINES + 1];
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	double start = now();
	int pipefd[2], err_fd, err, status, code, n;
	pid_t pid;

	snprintf(path, sizeof(path), "logs/%s.stderr", t->name);
	err_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (err_fd < 0 || pipe2(pipefd, O_CLOEXEC) < 0)
		die(path);
	fresh_tmpfs();
	kmsg("begin", t->name);
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
	err = posix_spawnp(&pid, t->argv[0], &actions, &attr, t->argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (err) {
		kmsg("end", t->name);
		if (asprintf(&diags[0], "%s: %s", t->argv[0], strerror(err)) < 0)
			die("out of memory");
		result(0, t->name, "ERROR cannot start", diags, 1);
		close(pipefd[0]);
		close(err_fd);
		return;
	}
	fprintf(ktap, "    # Subtest: %s\n", t->name);
	status = copy_until_exit(pipefd[0], pid, start + t->timeout);
	close(pipefd[0]);
	/* Its whole process group goes before the next program starts: no orphan runs on. */
	kill(-pid, SIGKILL);
	if (status == -1) {
		waitpid(pid, &status, 0);
		code = -SIGKILL;
		snprintf(directive, sizeof(directive), "TIMEOUT after %.0f s", t->timeout);
	} else if (WIFSIGNALED(status)) {
		code = -WTERMSIG(status);
		snprintf(directive, sizeof(directive), "ERROR killed by signal %d", -code);
	} else {
		code = WEXITSTATUS(status);
	}
	reap_leftovers();
	kmsg("end", t->name);
	n = stderr_tail(err_fd, diags);
	close(err_fd);
	if (asprintf(&diags[n], "exit status %d after %.1f s", code, now() - start) >= 0)
		n++;
	result(code == 0, t->name, directive, diags, n);
}

/* Run a system tool to its end with stdout to a file; nonzero if it could not. */
static int run_tool(char *const argv[], const char *stdout_path)
{
	posix_spawn_file_actions_t actions;
	int status, err;
	pid_t pid;

	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 1, stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	err = posix_spawnp(&pid, argv[0], &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	return err || waitpid(pid, &status, 0) < 0 || status;
}

int main(int argc, char **argv)
{
	char here[PATH_MAX];
	struct plan plan;
	FILE *done;

	(void)argc;
	/* Test programs are named relative to the share directory. */
	if (!realpath(argv[0], here))
		die(argv[0]);
	*strrchr(here, '/') = '\0';
	if (chdir(here) < 0)
		die(here);
	/* Orphans of the programs, setsid daemons among them, are re-parented here, not to init. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	read_plan("plan.txt", &plan);
	mkdir("logs", 0755);
	ktap = fopen("results.ktap", "w");
	if (!ktap)
		die("results.ktap");
	setvbuf(ktap, NULL, _IOLBF, 0);
	fprintf(ktap, "KTAP version 1\n1..%d\n", plan.ntests + 1);
	kmsg("runner started", NULL);
	setup(&plan);
	for (int i = 0; i < plan.ntests; i++)
		run_one(&plan.tests[i]);
	if (!plan.vm) {
		/* On a host, which outlives the runner; a VM's console already has the kernel log. */
		umount(TMPFS_HUGE);
		umount(TMPFS);
		run_tool((char *const[]){ "dmesg", NULL }, "dmesg.txt");
	}
	kmsg("runner done", NULL);
	fclose(ktap);
	done = fopen("done", "w");
	if (!done)
		die("done");
	fputs("ok\n", done);
	fclose(done);
	return 0;
}
