/* With a terminal as stdin, kiln puts it in raw mode while it runs and restores it on every way out. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "kiln_util.h"

static struct kt t;

static void setup(void) { kt_init(&t); }
static void teardown(void) { kt_fini(&t); }

TestSuite(kiln_tty, .init = setup, .fini = teardown, .timeout = 60);

/* Start kiln on the idle guest with a new terminal as stdin; returns its pid. */
static pid_t start_on_tty(int *master, int *slave, int *out)
{
	*master = posix_openpt(O_RDWR | O_NOCTTY);
	cr_assert_geq(*master, 0);
	cr_assert_eq(grantpt(*master), 0);
	cr_assert_eq(unlockpt(*master), 0);
	*slave = open(ptsname(*master), O_RDWR | O_NOCTTY);
	cr_assert_geq(*slave, 0);
	kt_guest_config(&t, "idle", 1, 64);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(*slave, 0);
		dup2(p[1], 1);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		execl(t.kiln, t.kiln, "--no-api", "--config-file", t.config, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	*out = p[0];
	char buf[256] = "";
	cr_assert(proc_read_until(*out, buf, sizeof(buf), "idle: ready\n", 20000), "%s", buf);
	return pid;
}

static void check_restored_after(int sig, int want_status)
{
	int master, slave, out;
	struct termios during, after;

	pid_t pid = start_on_tty(&master, &slave, &out);
	cr_assert_eq(tcgetattr(slave, &during), 0);
	cr_assert_eq(during.c_lflag & (ICANON | ECHO | ISIG), 0u, "not raw while running");
	kill(pid, sig);
	int status = proc_wait(pid, 10000);
	if (status < 0)
		kill(pid, SIGKILL);
	cr_assert_eq(status, want_status, "status %d", status);
	cr_assert_eq(tcgetattr(slave, &after), 0);
	cr_assert_neq(after.c_lflag & ICANON, 0u, "canonical mode not restored");
	cr_assert_neq(after.c_lflag & ECHO, 0u, "echo not restored");
	cr_assert_neq(after.c_lflag & ISIG, 0u, "signals not restored");
	close(master);
	close(slave);
	close(out);
}

Test(kiln_tty, raw_while_running_restored_after_sigterm)
{
	check_restored_after(SIGTERM, 128 + SIGTERM);
}

Test(kiln_tty, restored_after_a_fatal_signal)
{
	check_restored_after(SIGSEGV, 150);
}

Test(kiln_tty, restored_after_the_guest_reboots)
{
	int master, slave;
	struct termios after;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	cr_assert(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	kt_guest_config(&t, "hello", 1, 64);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(slave, 0);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execl(t.kiln, t.kiln, "--no-api", "--config-file", t.config, (char *)NULL);
		_exit(127);
	}
	cr_assert_eq(proc_wait(pid, 20000), 0);
	cr_assert_eq(tcgetattr(slave, &after), 0);
	cr_assert_neq(after.c_lflag & ICANON, 0u);
	cr_assert_neq(after.c_lflag & ECHO, 0u);
	close(master);
	close(slave);
}
