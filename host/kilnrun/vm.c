/* A run's microVM: the image, kiln's configuration and the jailer's command line. */
#include "host/kilnrun/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/io.h"

static int image_file(const char *dir, const char *name, char *out, size_t size,
		      struct error *err)
{
	if (snprintf(out, size, "%s/%s", dir, name) >= (int)size)
		return error_set(err, -ENAMETOOLONG, "%s/%s: too long", dir, name);
	struct stat st;
	if (stat(out, &st) < 0)
		return error_set(err, -errno, "--image %s: %s: %s", dir, name, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return error_set(err, -EINVAL, "--image %s: %s is not a regular file", dir, name);
	return 0;
}

int vm_image_load(const char *dir, struct run_image *img, struct error *err)
{
	int rc;
	if ((rc = image_file(dir, "vmlinux", img->kernel, sizeof(img->kernel), err)) < 0 ||
	    (rc = image_file(dir, "initramfs.cpio.gz", img->initrd, sizeof(img->initrd), err)) < 0 ||
	    (rc = image_file(dir, "rootfs.ext4", img->rootfs, sizeof(img->rootfs), err)) < 0)
		return rc;
	char path[PATH_MAX];
	if ((rc = image_file(dir, "cmdline", path, sizeof(path), err)) < 0)
		return rc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, -errno, "%s: %s", path, strerror(errno));
	ssize_t n = read(fd, img->cmdline, sizeof(img->cmdline) - 1);
	int e = errno;
	close(fd);
	if (n < 0)
		return error_set(err, -e, "%s: %s", path, strerror(e));
	if ((size_t)n == sizeof(img->cmdline) - 1)
		return error_set(err, -E2BIG, "%s: longer than %zu bytes", path,
				 sizeof(img->cmdline) - 2);
	img->cmdline[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if (img->cmdline[i] == '\n' || img->cmdline[i] == '\r')
			img->cmdline[i] = ' ';
	return 0;
}

uint64_t vm_memory_limit(uint32_t mem_mib)
{
	/* kiln, its threads and its buffers take well under 64 MiB; page tables and the
	 * kernel's own accounting of the guest grow with it (1/32). */
	return ((uint64_t)mem_mib + 64 + mem_mib / 32) << 20;
}

int vm_config(const struct vm_spec *spec, char *buf, size_t size)
{
	char cmdline[4096];
	snprintf(cmdline, sizeof(cmdline), "%s%s%s", spec->image->cmdline,
		 spec->extra_cmdline ? " " : "", spec->extra_cmdline ? spec->extra_cmdline : "");
	json_t *cfg = json_pack(
		"{s:{s:s, s:s, s:s}, s:{s:i, s:i}, s:[{s:s, s:s, s:b, s:b}], s:{s:i, s:s}}",
		"boot-source", "kernel_image_path", "/vmlinux", "initrd_path", "/initrd.img",
		"boot_args", cmdline,
		"machine-config", "vcpu_count", (int)spec->vcpus, "mem_size_mib", (int)spec->mem_mib,
		"drives", "drive_id", "base", "path_on_host", "/rootfs.ext4", "is_root_device", 0,
		"is_read_only", 1,
		"vsock", "guest_cid", (int)spec->cid, "uds_path", "/v.sock");
	if (!cfg)
		return -ENOMEM;
	if (spec->tap) {
		json_t *nets = json_pack("[{s:s, s:s, s:s}]", "iface_id", "eth0", "host_dev_name",
					 spec->tap, "guest_mac", spec->guest_mac);
		if (!nets || json_object_set_new(cfg, "network-interfaces", nets) < 0) {
			json_decref(cfg);
			return -ENOMEM;
		}
	}
	size_t n = json_dumpb(cfg, buf, size, JSON_COMPACT);
	json_decref(cfg);
	if (n == 0 || n >= size)
		return -ENOSPC;
	buf[n] = '\0';
	return (int)n;
}

/* The jailer's command line, in argv (at most 48 entries) with its strings in store. */
static void jailer_argv(const struct vm_spec *s, const char **argv, char store[][PATH_MAX + 32])
{
	size_t a = 0, k = 0;
#define ARG(x) (argv[a++] = (x))
#define FMT(...) (snprintf(store[k], sizeof(store[k]), __VA_ARGS__), ARG(store[k++]))
	ARG(s->jailer);
	ARG("--id"), ARG(s->id);
	ARG("--exec-file"), ARG(s->kiln);
	ARG("--uid"), FMT("%u", s->uid);
	ARG("--gid"), FMT("%u", s->gid);
	ARG("--chroot-base-dir"), ARG(s->chroot_base);
	ARG("--parent-cgroup"), ARG(s->parent_cgroup);
	ARG("--cgroup"), FMT("memory.max=%llu", (unsigned long long)vm_memory_limit(s->mem_mib));
	ARG("--cgroup"), FMT("pids.max=%u", s->pids_max);
	ARG("--cgroup"), FMT("cpu.max=%u 100000", s->vcpus * 100000u);
	ARG("--new-ns"), ARG("ipc,uts");
	/* The console and kiln's log are files of the host's: a guest that writes to its
	 * console without end ends its VM at 16 MiB instead of filling the host. */
	ARG("--resource-limit"), ARG("fsize=16777216");
	ARG("--bind"), FMT("%s:/vmlinux", s->image->kernel);
	ARG("--bind"), FMT("%s:/initrd.img", s->image->initrd);
	ARG("--bind"), FMT("%s:/rootfs.ext4", s->image->rootfs);
	if (s->netns)
		ARG("--netns"), ARG(s->netns);
	ARG("--");
	ARG("--no-api"), ARG("--config-file"), ARG("-");
	argv[a] = NULL;
#undef ARG
#undef FMT
}

int vm_start(const struct vm_spec *spec, pid_t *pid, struct error *err)
{
	static char config[16384];
	int n = vm_config(spec, config, sizeof(config));
	if (n < 0)
		return error_set(err, n, "the VM's configuration: %s", strerror(-n));
	const char *argv[48];
	char store[12][PATH_MAX + 32];
	jailer_argv(spec, argv, store);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return error_set(err, -errno, "pipe: %s", strerror(errno));
	pid_t parent = getpid();
	pid_t child = fork();
	if (child < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return error_set(err, -e, "fork: %s", strerror(e));
	}
	if (child == 0) {
		/* The jailer (it stays root: the jail's builder is its child) dies with kiln-run;
		 * kiln, its grandchild, is then killed through its cgroup by whoever tears down. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(125);
		/* Out of the caller's process group: a terminal's ^C or hangup is kiln-run's to
		 * pass on to the command, not the jailer's to stop the VM with. */
		if (setpgid(0, 0) < 0)
			_exit(125);
		if (spec->sup_cgroup) {
			char procs[PATH_MAX + 16];
			snprintf(procs, sizeof(procs), "%s/cgroup.procs", spec->sup_cgroup);
			int fd = open(procs, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || write(fd, "0", 1) != 1) {
				dprintf(spec->log_fd, "kiln-run: %s: %s\n", procs, strerror(errno));
				_exit(125);
			}
			close(fd);
		}
		if (!spec->netns && unshare(CLONE_NEWNET) < 0) {
			dprintf(spec->log_fd, "kiln-run: unshare(CLONE_NEWNET): %s\n", strerror(errno));
			_exit(125);
		}
		if (dup2(p[0], 0) < 0 || dup2(spec->console_fd, 1) < 0 || dup2(spec->log_fd, 2) < 0)
			_exit(125);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_DFL);
		execv(spec->jailer, (char *const *)argv);
		dprintf(2, "kiln-run: %s: %s\n", spec->jailer, strerror(errno));
		_exit(125);
	}
	close(p[0]);
	int rc = write_all(p[1], config, (size_t)n);
	close(p[1]);
	*pid = child;
	if (rc < 0)
		return error_set(err, rc, "writing the VM's configuration to the jailer: %s",
				 strerror(-rc));
	return 0;
}
