/* Test probe the jailer execs as --exec-file: reports, as key=value lines, what it may do. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/*
 * Usage: jail_probe [JAILER ARGS...] [--out FILE] [--wait] [--exit N]
 * Writes to stdout (and FILE, for --daemonize where stdout is /dev/null):
 *   arg.N=..., pid, uid/gid (real,effective,saved), groups, caps.{inh,prm,eff,bnd,amb},
 *   nnp, rlimit.nofile, rlimit.fsize, env.count, fd.N (open fds), entry=PATH MODE UID GID
 *   MAJ:MIN for every file under "/", hostname; then "ready". --wait then sleeps until
 *   killed; --exit N exits with N.
 */
extern char **environ;
static FILE *out_file;

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (out_file) {
		va_start(ap, fmt);
		vfprintf(out_file, fmt, ap);
		va_end(ap);
	}
}

static void walk(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d || depth > 4) {
		if (d)
			closedir(d);
		return;
	}
	while ((de = readdir(d))) {
		char path[512];
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s%s%s", dir, strcmp(dir, "/") ? "/" : "",
			 de->d_name);
		if (lstat(path, &st) < 0)
			continue;
		emit("entry=%s %o %u %u %u:%u\n", path, (unsigned)st.st_mode, (unsigned)st.st_uid,
		     (unsigned)st.st_gid, major(st.st_rdev), minor(st.st_rdev));
		if (S_ISDIR(st.st_mode))
			walk(path, depth + 1);
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	int wait = 0, exit_code = 0;
	uid_t r, e, s;
	gid_t gr, ge, gs;
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct c[2];
	unsigned long long bnd = 0, amb = 0;
	struct rlimit rl;
	char host[256] = "";

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			out_file = fopen(argv[++i], "w");
		else if (strcmp(argv[i], "--wait") == 0)
			wait = 1;
		else if (strcmp(argv[i], "--exit") == 0 && i + 1 < argc)
			exit_code = atoi(argv[++i]);
	}
	for (int i = 0; i < argc; i++)
		emit("arg.%d=%s\n", i, argv[i]);
	emit("pid=%d\n", (int)getpid());
	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	emit("uid=%u,%u,%u\ngid=%u,%u,%u\n", r, e, s, gr, ge, gs);
	emit("groups=%d\n", getgroups(0, NULL));
	if (syscall(SYS_capget, &h, c) == 0)
		emit("caps.inh=%x%08x\ncaps.prm=%x%08x\ncaps.eff=%x%08x\n", c[1].inheritable,
		     c[0].inheritable, c[1].permitted, c[0].permitted, c[1].effective,
		     c[0].effective);
	for (int cap = 0; cap < 64; cap++) {
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
			bnd |= 1ULL << cap;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1)
			amb |= 1ULL << cap;
	}
	emit("caps.bnd=%llx\ncaps.amb=%llx\n", bnd, amb);
	emit("nnp=%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
	getrlimit(RLIMIT_NOFILE, &rl);
	emit("rlimit.nofile=%llu,%llu\n", (unsigned long long)rl.rlim_cur,
	     (unsigned long long)rl.rlim_max);
	getrlimit(RLIMIT_FSIZE, &rl);
	emit("rlimit.fsize=%lld,%lld\n", (long long)rl.rlim_cur, (long long)rl.rlim_max);
	int n = 0;
	for (char **ep = environ; ep && *ep; ep++)
		n++;
	emit("env.count=%d\n", n);
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0 && (!out_file || fd != fileno(out_file)))
			emit("fd.%d=open\n", fd);
	gethostname(host, sizeof(host) - 1);
	emit("hostname=%s\n", host);
	walk("/", 0);
	emit("ready\n");
	fflush(stdout);
	if (out_file)
		fclose(out_file);
	if (wait)
		for (;;)
			pause();
	return exit_code;
}
