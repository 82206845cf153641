/* Unit: copying the exec file refuses symlinked and hard-linked destinations. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "jailer/chroot.h"

static char dir[64];
static int src, root;
static struct jail_err err;

static void setup(void)
{
	char path[128];
	snprintf(dir, sizeof(dir), "/tmp/kiln-copytest-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/src", dir);
	src = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 04755);
	cr_assert(src >= 0 && write(src, "#!binary", 8) == 8);
	fchmod(src, 04755);
	snprintf(path, sizeof(path), "%s/root", dir);
	mkdir(path, 0700);
	root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(root, 0);
}

static void teardown(void)
{
	char cmd[128];
	close(src);
	close(root);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(jailer_copy, .init = setup, .fini = teardown);

Test(jailer_copy, copies_contents_mode_without_setuid_and_owner)
{
	struct stat st;
	char buf[16] = "";
	cr_assert_eq(jail_copy_exec(src, root, "kiln", getuid(), getgid(), &err), 0, "%s", err.msg);
	int fd = openat(root, "kiln", O_RDONLY);
	cr_assert_eq(read(fd, buf, sizeof(buf)), 8);
	cr_assert_eq(memcmp(buf, "#!binary", 8), 0);
	fstat(fd, &st);
	close(fd);
	cr_assert_eq(st.st_mode & 07777, 0755);
	cr_assert_eq(st.st_uid, getuid());
	cr_assert_eq(st.st_nlink, 1u);
}

Test(jailer_copy, refuses_symlink)
{
	char victim[128], buf[16] = "";
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	int v = open(victim, O_CREAT | O_WRONLY, 0644);
	cr_assert(write(v, "keep", 4) == 4);
	close(v);
	cr_assert_eq(symlinkat(victim, root, "kiln"), 0);
	cr_assert_eq(jail_copy_exec(src, root, "kiln", getuid(), getgid(), &err), -1);
	cr_assert_eq(err.code, JAIL_EXIT_JAIL_DIR);
	cr_assert_not_null(strstr(err.msg, "is a symlink"), "%s", err.msg);
	v = open(victim, O_RDONLY);
	cr_assert_eq(read(v, buf, sizeof(buf)), 4);
	close(v);
}

Test(jailer_copy, refuses_hard_link)
{
	char victim[128];
	struct stat st;
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	close(open(victim, O_CREAT | O_WRONLY, 0644));
	cr_assert_eq(linkat(AT_FDCWD, victim, root, "kiln", 0), 0);
	cr_assert_eq(jail_copy_exec(src, root, "kiln", getuid(), getgid(), &err), -1);
	cr_assert_not_null(strstr(err.msg, "is a hard link (2 links)"), "%s", err.msg);
	stat(victim, &st);
	cr_assert_eq(st.st_size, 0);
	cr_assert_eq(st.st_mode & 07777, 0644);
}

Test(jailer_copy, copies_the_validated_file_even_if_its_path_is_swapped)
{
	/* The jailer validated and opened src; replacing the path afterwards must not
	 * change what is copied. */
	char path[128], other[128], buf[16] = "";
	snprintf(path, sizeof(path), "%s/src", dir);
	snprintf(other, sizeof(other), "%s/other", dir);
	int o = open(other, O_CREAT | O_WRONLY, 0755);
	cr_assert(write(o, "evil", 4) == 4);
	close(o);
	cr_assert_eq(rename(other, path), 0);
	cr_assert_eq(jail_copy_exec(src, root, "kiln", getuid(), getgid(), &err), 0, "%s", err.msg);
	int fd = openat(root, "kiln", O_RDONLY);
	cr_assert_eq(read(fd, buf, sizeof(buf)), 8);
	close(fd);
	cr_assert_eq(memcmp(buf, "#!binary", 8), 0);
}
