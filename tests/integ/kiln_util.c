/* Integration-test helpers for kiln: temp configs, test guests, running the real binary. */
#include "kiln_util.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

void kt_init(struct kt *t)
{
	memset(t, 0, sizeof(*t));
	t->kiln = getenv("KILN");
	if (!t->kiln || !getenv("GUESTS"))
		cr_skip_test("KILN and GUESTS are not set");
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		cr_skip_test("/dev/kvm is not usable here");
	close(fd);
	snprintf(t->dir, sizeof(t->dir), "/tmp/kiln-test-XXXXXX");
	cr_assert_not_null(mkdtemp(t->dir));
	snprintf(t->config, sizeof(t->config), "%s/vm.json", t->dir);
}

void kt_fini(struct kt *t)
{
	char cmd[PATH_MAX + 16];
	if (!t->dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", t->dir);
}

const char *kt_guest(const char *name)
{
	static char path[PATH_MAX];
	char rel[PATH_MAX];
	snprintf(rel, sizeof(rel), "%s/%s.elf", getenv("GUESTS"), name);
	cr_assert_not_null(realpath(rel, path), "test guest %s not built", rel);
	return path;
}

const char *kt_path(struct kt *t, const char *name)
{
	static char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	return path;
}

void kt_config(struct kt *t, const char *fmt, ...)
{
	va_list ap;
	FILE *f = fopen(t->config, "w");
	cr_assert_not_null(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

void kt_guest_config(struct kt *t, const char *guest, unsigned int vcpus, unsigned int mem_mib)
{
	kt_config(t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		  "\"machine-config\": {\"vcpu_count\": %u, \"mem_size_mib\": %u}}",
		  kt_guest(guest), vcpus, mem_mib);
}

void kt_run(struct kt *t, struct proc_result *r, const char *in, int timeout_ms, ...)
{
	const char *argv[32] = { t->kiln, "--no-api", "--config-file", t->config };
	int n = 4;
	va_list ap;
	va_start(ap, timeout_ms);
	for (const char *a; n < 31 && (a = va_arg(ap, const char *)) != NULL;)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	proc_run(argv, in, timeout_ms, r);
}

static void write_proc(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;		/* no IPv6 in this kernel: nothing to turn off */
	cr_assert_eq(write(fd, value, strlen(value)), (ssize_t)strlen(value), "%s", path);
	close(fd);
}

void kt_netns(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		cr_skip_test("no network namespace of our own (%s): this test runs as root",
			     strerror(errno));
	write_proc("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_proc("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
}

static void ifreq_named(struct ifreq *ifr, const char *name)
{
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
}

void kt_tap(const char *name, int mtu)
{
	static const unsigned char mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	cr_assert(fd >= 0, "/dev/net/tun: %s", strerror(errno));
	ifreq_named(&ifr, name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	cr_assert_eq(ioctl(fd, TUNSETIFF, &ifr), 0, "TUNSETIFF %s: %s", name, strerror(errno));
	cr_assert_eq(ioctl(fd, TUNSETPERSIST, 1), 0, "TUNSETPERSIST: %s", strerror(errno));
	close(fd);

	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(s >= 0);
	ifreq_named(&ifr, name);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	cr_assert_eq(ioctl(s, SIOCSIFHWADDR, &ifr), 0, "SIOCSIFHWADDR: %s", strerror(errno));
	ifreq_named(&ifr, name);
	ifr.ifr_mtu = mtu;
	cr_assert_eq(ioctl(s, SIOCSIFMTU, &ifr), 0, "SIOCSIFMTU: %s", strerror(errno));
	close(s);
	kt_tap_up(name, true);
}

void kt_tap_up(const char *name, bool up)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(s >= 0);
	ifreq_named(&ifr, name);
	cr_assert_eq(ioctl(s, SIOCGIFFLAGS, &ifr), 0, "SIOCGIFFLAGS: %s", strerror(errno));
	ifr.ifr_flags = (short)(up ? ifr.ifr_flags | IFF_UP : ifr.ifr_flags & ~IFF_UP);
	cr_assert_eq(ioctl(s, SIOCSIFFLAGS, &ifr), 0, "SIOCSIFFLAGS: %s", strerror(errno));
	close(s);
}

static void read_all(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
}

void kt_vsock_start(const char *uds, unsigned int bytes, struct kt_vsock *v)
{
	static char peer[PATH_MAX + 32], path7000[PATH_MAX + 16], nbytes[16];
	char buf[256] = "";

	memset(v, 0, sizeof(*v));
	snprintf(peer, sizeof(peer), "%s/../helpers/vsock_peer", getenv("GUESTS"));
	cr_assert_eq(access(peer, X_OK), 0, "%s is not built", peer);
	snprintf(path7000, sizeof(path7000), "%s_7000", uds);
	snprintf(nbytes, sizeof(nbytes), "%u", bytes);
	const char *sargv[] = { peer, "serve-unix", path7000, "1", NULL };
	v->server = proc_spawn(sargv, NULL, &v->server_out, NULL);
	cr_assert_gt(v->server, 0);
	cr_assert(proc_read_until(v->server_out, buf, sizeof(buf), "listening", 10000),
		  "vsock_peer serve-unix: %s", buf);
	const char *cargv[] = { peer, "echo-unix", uds, "5000", nbytes, NULL };
	v->client = proc_spawn(cargv, NULL, &v->client_out, NULL);
	cr_assert_gt(v->client, 0);
}

void kt_vsock_finish(struct kt_vsock *v)
{
	v->client_status = proc_wait(v->client, 10000);
	v->server_status = proc_wait(v->server, 10000);
	if (v->client_status < 0)
		kill(v->client, SIGKILL);
	if (v->server_status < 0)
		kill(v->server, SIGKILL);
	proc_wait(v->client, 1000);
	proc_wait(v->server, 1000);
	read_all(v->client_out, v->client_text, sizeof(v->client_text));
	read_all(v->server_out, v->server_text, sizeof(v->server_text));
}
