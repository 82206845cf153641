/* open_outside_file: the one way to open a path from outside, refusing the wrong kind at once. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

static char dir[64];
static char path[128];
static struct error err;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/kiln-test-io-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	memset(&err, 0, sizeof(err));
}

static void teardown(void)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(open_outside, .init = setup, .fini = teardown, .timeout = 10);

static const char *in_dir(const char *name)
{
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void make_file(const char *name, const char *text)
{
	FILE *f = fopen(in_dir(name), "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void expect_msg(const char *want)
{
	cr_assert_str_eq(err.msg, want, "\n got  \"%s\"\n want \"%s\"", err.msg, want);
}

Test(open_outside, regular_file_is_opened_blocking_with_its_size)
{
	uint64_t size = 0;
	make_file("k", "12345");
	int fd = open_regular_file("key", in_dir("k"), &size, &err);
	cr_assert_geq(fd, 0, "%s", err.msg);
	cr_assert_eq(size, 5);
	int fl = fcntl(fd, F_GETFL);
	cr_assert_eq(fl & O_NONBLOCK, 0, "O_NONBLOCK must be cleared once the kind is checked");
	cr_assert_neq(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	char buf[8] = { 0 };
	cr_assert_eq(read(fd, buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "12345");
	close(fd);
}

Test(open_outside, fifo_without_writer_is_refused_at_once)
{
	cr_assert_eq(mkfifo(in_dir("f"), 0600), 0);
	double t0 = now_s();
	int fd = open_regular_file("boot-source.kernel_image_path", path, NULL, &err);
	cr_assert_lt(now_s() - t0, 1.0, "opening a FIFO waited");
	cr_assert_eq(fd, -EINVAL);
	cr_assert_eq(err.code, -EINVAL);
	char want[256];
	snprintf(want, sizeof(want), "boot-source.kernel_image_path: %s: a FIFO, not a regular "
		 "file", path);
	expect_msg(want);
}

Test(open_outside, directory_is_refused_as_such)
{
	int fd = open_regular_file("--config-file", dir, NULL, &err);
	cr_assert_eq(fd, -EISDIR);
	char want[256];
	snprintf(want, sizeof(want), "--config-file: %s: a directory, not a regular file", dir);
	expect_msg(want);
	/* A directory is fine where one is asked for. */
	fd = open_outside_file("--bind source", dir, O_PATH, 0, FILE_KIND_REG | FILE_KIND_DIR,
			       NULL, &err);
	cr_assert_geq(fd, 0, "%s", err.msg);
	close(fd);
}

Test(open_outside, character_device_names_what_was_wanted)
{
	int fd = open_outside_file("--bind source", "/dev/null", O_PATH, 0,
				   FILE_KIND_REG | FILE_KIND_DIR, NULL, &err);
	cr_assert_eq(fd, -EINVAL);
	expect_msg("--bind source: /dev/null: a character device, not a regular file or a "
		   "directory");
	fd = open_outside_file("x", "/dev/null", O_RDONLY, 0,
			       FILE_KIND_REG | FILE_KIND_FIFO | FILE_KIND_DIR, NULL, &err);
	cr_assert_eq(fd, -EINVAL);
	expect_msg("x: /dev/null: a character device, not a regular file, a directory or a FIFO");
}

Test(open_outside, symlink_followed_unless_refused)
{
	make_file("target", "x");
	char target[128], link[128];
	snprintf(target, sizeof(target), "%s", path);
	snprintf(link, sizeof(link), "%s", in_dir("link"));
	cr_assert_eq(symlink(target, link), 0);
	int fd = open_regular_file("key", link, NULL, &err);
	cr_assert_geq(fd, 0, "a link is followed by default: %s", err.msg);
	close(fd);

	fd = open_outside_file("--exec-file", link, O_RDONLY | O_NOFOLLOW, 0, FILE_KIND_REG,
			       NULL, &err);
	cr_assert_eq(fd, -ELOOP);
	char want[256];
	snprintf(want, sizeof(want), "--exec-file: %s: a symlink, which is refused here", link);
	expect_msg(want);

	/* A link to a FIFO is followed to the FIFO, and that is refused at once. */
	cr_assert_eq(mkfifo(in_dir("f"), 0600), 0);
	snprintf(target, sizeof(target), "%s", path);
	cr_assert_eq(symlink(target, in_dir("flink")), 0);
	double t0 = now_s();
	fd = open_regular_file("key", path, NULL, &err);
	cr_assert_lt(now_s() - t0, 1.0);
	cr_assert_eq(fd, -EINVAL, "%s", err.msg);
	cr_assert(strstr(err.msg, "a FIFO, not a regular file"), "%s", err.msg);
}

Test(open_outside, missing_file_gives_errno_and_names_the_key)
{
	int fd = open_regular_file("boot-source.initrd_path", "/nonexistent/initrd", NULL, &err);
	cr_assert_eq(fd, -ENOENT);
	expect_msg("boot-source.initrd_path: /nonexistent/initrd: No such file or directory");
}

static const unsigned int output_kinds = FILE_KIND_REG | FILE_KIND_FIFO | FILE_KIND_CHR;

Test(open_outside, output_fifo_without_reader_fails_at_once)
{
	cr_assert_eq(mkfifo(in_dir("log"), 0600), 0);
	double t0 = now_s();
	int fd = open_outside_file("logger.log_path", path, O_WRONLY | O_CREAT | O_APPEND, 0600,
				   output_kinds, NULL, &err);
	cr_assert_lt(now_s() - t0, 1.0, "opening a FIFO with no reader waited");
	cr_assert_eq(fd, -ENXIO);
	char want[256];
	snprintf(want, sizeof(want), "logger.log_path: %s: a FIFO with no reader; start its "
		 "reader first", path);
	expect_msg(want);
}

Test(open_outside, output_fifo_with_reader_is_opened_blocking)
{
	cr_assert_eq(mkfifo(in_dir("log"), 0600), 0);
	int rd = open(path, O_RDONLY | O_NONBLOCK);
	cr_assert_geq(rd, 0);
	struct stat st;
	int fd = open_outside_file("logger.log_path", path, O_WRONLY | O_CREAT | O_APPEND, 0600,
				   output_kinds, &st, &err);
	cr_assert_geq(fd, 0, "%s", err.msg);
	cr_assert(S_ISFIFO(st.st_mode));
	cr_assert_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	cr_assert_eq(write(fd, "line\n", 5), 5);
	char buf[8] = { 0 };
	cr_assert_eq(read(rd, buf, sizeof(buf)), 5);
	cr_assert_str_eq(buf, "line\n");
	close(fd);
	close(rd);
}

Test(open_outside, output_is_created_and_devnull_accepted)
{
	int fd = open_outside_file("metrics.metrics_path", in_dir("m"),
				   O_WRONLY | O_CREAT | O_APPEND, 0600, output_kinds, NULL, &err);
	cr_assert_geq(fd, 0, "%s", err.msg);
	close(fd);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_mode & 0777, 0600);
	fd = open_outside_file("--log-path", "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0600,
			       output_kinds, NULL, &err);
	cr_assert_geq(fd, 0, "%s", err.msg);
	close(fd);
	fd = open_outside_file("--log-path", dir, O_WRONLY | O_CREAT | O_APPEND, 0600,
			       output_kinds, NULL, &err);
	cr_assert_eq(fd, -EISDIR);
	char want[256];
	snprintf(want, sizeof(want), "--log-path: %s: a directory, not a regular file, a FIFO or "
		 "a character device", dir);
	expect_msg(want);
	/* Read-write, as a writable drive is opened: the same words. */
	fd = open_outside_file("drives[0].path_on_host", dir, O_RDWR, 0, FILE_KIND_REG, NULL, &err);
	cr_assert_eq(fd, -EISDIR);
	snprintf(want, sizeof(want), "drives[0].path_on_host: %s: a directory, not a regular file",
		 dir);
	expect_msg(want);
}

Test(open_outside, null_error_is_allowed)
{
	cr_assert_eq(open_regular_file("k", "/nonexistent", NULL, NULL), -ENOENT);
	cr_assert_eq(open_regular_file("k", "/tmp", NULL, NULL), -EISDIR);
}

Test(open_outside, kind_names)
{
	cr_assert_str_eq(file_kind_name(S_IFREG | 0644), "a regular file");
	cr_assert_str_eq(file_kind_name(S_IFIFO), "a FIFO");
	cr_assert_str_eq(file_kind_name(S_IFSOCK), "a socket");
	cr_assert_str_eq(file_kind_name(S_IFBLK), "a block device");
}
