/* Integration: planted links and pre-existing jails are refused without touching targets. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "jailer_util.h"

static struct jt t;
static struct jt_result r;
static char victim[PATH_MAX + 16];

static void setup(void)
{
	jt_init(&t);
	snprintf(victim, sizeof(victim), "%s/victim", t.base);
	int fd = open(victim, O_CREAT | O_WRONLY, 0644);
	cr_assert(fd >= 0 && write(fd, "precious", 8) == 8);
	close(fd);
}
static void teardown(void) { jt_fini(&t); }

TestSuite(jailer_attack, .init = setup, .fini = teardown, .timeout = 60);

static void run_jail(void)
{
	const char *args[] = { "--id", t.id, "--exec-file", t.probe, "--uid", "1000", "--gid",
			       "1000", "--chroot-base-dir", t.base, NULL };
	jt_run(&r, args);
}

static void assert_victim_untouched(void)
{
	char buf[64];
	struct stat st;
	cr_assert_eq(jt_read(victim, buf, sizeof(buf)), 8);
	cr_assert_eq(memcmp(buf, "precious", 8), 0);
	cr_assert_eq(stat(victim, &st), 0);
	cr_assert_eq(st.st_uid, 0u);
	cr_assert_eq(st.st_mode & 07777, 0644);
}

static void plant(bool hard)
{
	char dir[PATH_MAX + 64], dest[2 * PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/jail_probe", t.base);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/jail_probe/%s", t.base, t.id);
	mkdir(dir, 0755);
	mkdir(t.root, 0755);
	snprintf(dest, sizeof(dest), "%s/jail_probe", t.root);
	cr_assert_eq(hard ? link(victim, dest) : symlink(victim, dest), 0);
}

Test(jailer_attack, symlink_planted_at_destination)
{
	plant(false);
	run_jail();
	cr_assert_eq(r.status, 184, "%s", r.err);
	cr_assert_not_null(strstr(r.err, "already exists"));
	assert_victim_untouched();
}

Test(jailer_attack, hard_link_planted_at_destination)
{
	plant(true);
	run_jail();
	cr_assert_eq(r.status, 184, "%s", r.err);
	assert_victim_untouched();
}

Test(jailer_attack, exec_dir_is_a_symlink)
{
	char target[PATH_MAX + 16], link_path[PATH_MAX + 32];
	snprintf(target, sizeof(target), "%s/elsewhere", t.base);
	cr_assert_eq(mkdir(target, 0755), 0);
	snprintf(link_path, sizeof(link_path), "%s/jail_probe", t.base);
	cr_assert_eq(symlink(target, link_path), 0);
	run_jail();
	cr_assert_eq(r.status, 190, "%s", r.err);
	cr_assert(jt_dir_empty(target), "the jailer followed the symlink");
}

Test(jailer_attack, exec_file_replaced_after_validation_is_not_what_runs)
{
	/* The jailer copies from the fd it validated: swapping the path mid-way cannot
	 * substitute another binary. Copy the probe, start, and swap it repeatedly. */
	char copy[PATH_MAX + 16], other[PATH_MAX + 16];
	char cmd[8 * PATH_MAX];
	snprintf(copy, sizeof(copy), "%s/jail_probe", t.base);
	snprintf(other, sizeof(other), "%s/other", t.base);
	snprintf(cmd, sizeof(cmd), "cp %s %s && printf '#!/bin/sh\\necho evil\\n' > %s && chmod 755 %s",
		 t.probe, copy, other, other);
	cr_assert_eq(system(cmd), 0);
	char base2[PATH_MAX + 16];
	snprintf(base2, sizeof(base2), "%s/b", t.base);
	cr_assert_eq(mkdir(base2, 0755), 0);
	pid_t swapper = fork();
	if (swapper == 0) {
		char tmp[PATH_MAX + 16];
		snprintf(tmp, sizeof(tmp), "%s/tmp", t.base);
		for (int i = 0; i < 2000; i++) {
			if (link(i % 2 ? other : t.probe, tmp) < 0)
				continue;
			rename(tmp, copy);
		}
		_exit(0);
	}
	for (int i = 0; i < 10; i++) {
		char id[32];
		snprintf(id, sizeof(id), "swap-%d", i);
		const char *args[] = { "--id", id, "--exec-file", copy, "--uid", "1000", "--gid",
				       "1000", "--chroot-base-dir", base2, NULL };
		jt_run(&r, args);
		/* Either the real probe ran (the script cannot run: no /bin/sh in the jail),
		 * or the jailer refused cleanly. Never a mixed file. */
		if (r.status == 0)
			cr_assert_not_null(strstr(r.out, "\nready\n"));
		else
			cr_assert(r.status == 199 || r.status == 173 || r.status == 190,
				  "status %d: %s", r.status, r.err);
	}
	jt_wait(swapper, 20000);
	cr_assert(jt_dir_empty(base2));
}
