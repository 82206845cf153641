/*
 * kiln's virtio-net end to end: the virtio_net test guest against a TAP that each test
 * makes in a network namespace of its own (nothing is configured in the machine's own),
 * the host side played through that TAP with an AF_PACKET socket (frames byte for byte
 * both ways) and UDP sockets on 10.0.0.1 (the guest is 10.0.0.2, a static neighbour);
 * then the network-interfaces configuration's refusals.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api_client.h"
#include "kiln_util.h"

static struct kt t;
static struct proc_result r;

static const uint8_t host_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t guest_mac[6] = { 0x06, 0x00, 0xac, 0x10, 0x00, 0x02 };
#define GUEST_MAC "06:00:ac:10:00:02"
#define ETH_TEST 0x88b5

static void setup(void)
{
	kt_init(&t);
	kt_netns();
}

/* A kiln still running when a test fails is killed here. */
static pid_t running = -1;

static void teardown(void)
{
	if (running > 0) {
		kill(running, SIGKILL);
		proc_wait(running, 10000);
	}
	kt_fini(&t);
}

TestSuite(kiln_net, .init = setup, .fini = teardown, .timeout = 180);

/* ---- the host side: a TAP, its frames, its metrics ---- */

static void ifreq_named(struct ifreq *ifr, const char *name)
{
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
}

static struct sockaddr inet_addr_of(const char *ip)
{
	struct sockaddr sa;
	struct sockaddr_in *sin = (struct sockaddr_in *)&sa;
	memset(&sa, 0, sizeof(sa));
	sin->sin_family = AF_INET;
	cr_assert_eq(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	return sa;
}

/* 10.0.0.1/24 on the TAP, and 10.0.0.2 a static neighbour at the guest's MAC. */
static void tap_ip(const char *name)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert(s >= 0);
	ifreq_named(&ifr, name);
	ifr.ifr_addr = inet_addr_of("10.0.0.1");
	cr_assert_eq(ioctl(s, SIOCSIFADDR, &ifr), 0, "SIOCSIFADDR: %s", strerror(errno));
	ifreq_named(&ifr, name);
	ifr.ifr_netmask = inet_addr_of("255.255.255.0");
	cr_assert_eq(ioctl(s, SIOCSIFNETMASK, &ifr), 0, "SIOCSIFNETMASK: %s", strerror(errno));
	struct arpreq req;
	memset(&req, 0, sizeof(req));
	req.arp_pa = inet_addr_of("10.0.0.2");
	req.arp_ha.sa_family = ARPHRD_ETHER;
	memcpy(req.arp_ha.sa_data, guest_mac, 6);
	req.arp_flags = ATF_PERM | ATF_COM;
	snprintf(req.arp_dev, sizeof(req.arp_dev), "%s", name);
	cr_assert_eq(ioctl(s, SIOCSARP, &req), 0, "SIOCSARP: %s", strerror(errno));
	close(s);
}

/* An AF_PACKET socket on the TAP: it sees every frame, both ways. */
static int packet_open(const char *name)
{
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	cr_assert(s >= 0, "AF_PACKET: %s", strerror(errno));
	struct sockaddr_ll a = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				 .sll_ifindex = (int)if_nametoindex(name) };
	cr_assert_gt(a.sll_ifindex, 0);
	cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0, "bind: %s", strerror(errno));
	return s;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* The next frame the guest sent (not one the host sent), within timeout_ms; or -1. */
static ssize_t packet_recv(int s, uint8_t *buf, size_t size, int timeout_ms)
{
	long end = now_ms() + timeout_ms;
	for (;;) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		long left = end - now_ms();
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		struct sockaddr_ll from;
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(s, buf, size, MSG_TRUNC, (struct sockaddr *)&from, &len);
		if (n < 0 && errno == ENETDOWN)
			continue;	/* reported once after the TAP went down */
		if (n < 0)
			return -1;
		if (from.sll_pkttype != PACKET_OUTGOING)
			return n;
	}
}

static void packet_send(int s, const uint8_t *frame, size_t n)
{
	cr_assert_eq(send(s, frame, n, 0), (ssize_t)n, "send to the TAP: %s", strerror(errno));
}

/* A UDP socket bound to 10.0.0.1:5000. */
static int udp_open(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr sa = inet_addr_of("10.0.0.1");
	((struct sockaddr_in *)&sa)->sin_port = htons(5000);
	cr_assert(s >= 0);
	cr_assert_eq(bind(s, &sa, sizeof(struct sockaddr_in)), 0, "bind: %s", strerror(errno));
	return s;
}

static void udp_send(int s, const char *msg)
{
	struct sockaddr sa = inet_addr_of("10.0.0.2");
	((struct sockaddr_in *)&sa)->sin_port = htons(6000);
	cr_assert_eq(sendto(s, msg, strlen(msg), 0, &sa, sizeof(struct sockaddr_in)),
		     (ssize_t)strlen(msg), "sendto: %s", strerror(errno));
}

/* The next datagram on s within timeout_ms, NUL-terminated, and where it came from. */
static ssize_t udp_recv(int s, char *buf, size_t size, char *from, int timeout_ms)
{
	struct pollfd p = { .fd = s, .events = POLLIN };
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	ssize_t n = recvfrom(s, buf, size - 1, 0, (struct sockaddr *)&sin, &len);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof(ip));
	sprintf(from, "%s:%u", ip, ntohs(sin.sin_port));
	return n;
}

/* The guest's test frames: Ethernet header, tag, NUL, then byte i is i * 7 + 3. */
static size_t test_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, const char *tag,
			 size_t n)
{
	size_t i = 14;
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = ETH_TEST >> 8;
	f[13] = ETH_TEST & 0xff;
	memcpy(f + i, tag, strlen(tag) + 1);
	for (i += strlen(tag) + 1; i < n; i++)
		f[i] = (uint8_t)(i * 7 + 3);
	return n;
}

static uint32_t hash(const uint8_t *p, size_t n)
{
	uint32_t h = 0;
	while (n--)
		h = h * 31 + *p++;
	return h;
}

static uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 2)
		s += (uint32_t)p[i] << 8 | (i + 1 < n ? p[i + 1] : 0);
	return s;
}

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* The guest's datagram 10.0.0.2:6000 > 10.0.0.1:5000, as virtio_net.c builds it. */
static size_t udp_frame(uint8_t *f, const char *msg)
{
	static const uint8_t iph[20] = { 0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 17, 0, 0,
					 10, 0, 0, 2, 10, 0, 0, 1 };
	size_t n = strlen(msg);
	uint8_t *ip = f + 14, *udp = ip + 20;
	memcpy(f, host_mac, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memcpy(ip, iph, 20);
	ip[2] = (uint8_t)((28 + n) >> 8);
	ip[3] = (uint8_t)(28 + n);
	uint16_t c = (uint16_t)~csum_fold(csum_add(0, ip, 20));
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	memcpy(udp, "\x17\x70\x13\x88", 4);	/* 6000, 5000 */
	udp[4] = (uint8_t)((8 + n) >> 8);
	udp[5] = (uint8_t)(8 + n);
	udp[6] = udp[7] = 0;
	memcpy(udp + 8, msg, n);
	c = (uint16_t)~csum_fold(csum_add(csum_add(0, ip + 12, 8) + 17 + 8 + n, udp, 8 + n));
	c = c ? c : 0xffff;
	udp[6] = (uint8_t)(c >> 8);
	udp[7] = (uint8_t)c;
	return 42 + n;
}

/* The next frame from the guest must be exactly `want`. */
static void expect_frame(int pk, const uint8_t *want, size_t n, const char *what)
{
	static uint8_t got[70000];
	ssize_t len = packet_recv(pk, got, sizeof(got), 30000);
	cr_assert_geq(len, 0, "no frame from the guest: %s", what);
	cr_assert_eq((size_t)len, n, "%s: %zd bytes, want %zu", what, len, n);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(got[i], want[i], "%s: byte %zu is %#x, want %#x", what, i, got[i],
			     want[i]);
}

/*
 * The sum over every metrics line of section.key (counters are deltas since the last
 * line); -1 when no line has it.
 */
static long metric(const char *section, const char *key)
{
	char buf[16384], sect[64], k[96];
	long total = -1;
	FILE *f = fopen(kt_path(&t, "metrics.json"), "r");
	cr_assert_not_null(f, "no metrics file");
	snprintf(sect, sizeof(sect), "\"%s\":{", section);
	snprintf(k, sizeof(k), "\"%s\":", key);
	while (fgets(buf, sizeof(buf), f)) {
		char *s = strstr(buf, sect), *end;
		if (!s || !(end = strchr(s, '}')))
			continue;
		*end = '\0';
		char *v = strstr(s, k);
		if (v)
			total = (total < 0 ? 0 : total) + strtol(v + strlen(k), NULL, 10);
	}
	fclose(f);
	return total;
}

/* ---- kiln with the console as the control channel ---- */

struct vm {
	pid_t pid;
	int in, out, err;
	char text[65536];	/* the guest's console so far */
};

static void vm_start(struct vm *v)
{
	const char *argv[] = { t.kiln, "--no-api", "--config-file", t.config, NULL };
	memset(v, 0, sizeof(*v));
	signal(SIGPIPE, SIG_IGN);
	v->pid = proc_spawn(argv, &v->in, &v->out, &v->err);
	cr_assert_gt(v->pid, 0);
	running = v->pid;
}

/* Everything kiln has written to stderr so far (it must have ended or be ending). */
static const char *vm_stderr(struct vm *v)
{
	static char err[32768];
	size_t len = strlen(err);
	int fl = fcntl(v->err, F_GETFL);
	fcntl(v->err, F_SETFL, fl | O_NONBLOCK);
	ssize_t n;
	while (len < sizeof(err) - 1 && (n = read(v->err, err + len, sizeof(err) - 1 - len)) > 0)
		len += (size_t)n;
	err[len] = '\0';
	return err;
}

/* Waits (bounded) for the guest to say "net: wait <step>". */
static void vm_wait(struct vm *v, const char *step)
{
	char line[128];
	snprintf(line, sizeof(line), "net: wait %s\n", step);
	cr_assert(proc_read_until(v->out, v->text, sizeof(v->text), line, 60000),
		  "the guest never waited for %s; console:\n%s\nstderr:\n%s", step, v->text,
		  vm_stderr(v));
}

/* The host has done its part: the guest goes on. */
static void vm_go(struct vm *v)
{
	cr_assert_eq(write(v->in, "g", 1), 1);
}

/* Waits (bounded) for kiln to end; its exit code, console and stderr into r. */
static void vm_finish(struct vm *v)
{
	proc_read_until(v->out, v->text, sizeof(v->text), "net: done\n", 60000);
	r.status = proc_wait(v->pid, 30000);
	if (r.status < 0) {
		kill(v->pid, SIGKILL);
		proc_wait(v->pid, 5000);
	}
	running = -1;
	proc_read_until(v->out, v->text, sizeof(v->text), "\x01", 1000);	/* to EOF */
	snprintf(r.out, sizeof(r.out), "%s", v->text);
	snprintf(r.err, sizeof(r.err), "%s", vm_stderr(v));
	close(v->in);
	close(v->out);
	close(v->err);
}

/* A config: the virtio_net guest with `args`, one interface (`iface` its extra keys). */
static void net_config(const char *args, const char *iface, int entropy)
{
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\", \"boot_args\": "
		  "\"console=ttyS0 %s\"}, \"machine-config\": {\"vcpu_count\": 1, "
		  "\"mem_size_mib\": 64}, \"network-interfaces\": [{\"iface_id\": \"eth0\", "
		  "\"host_dev_name\": \"tap0\"%s}],%s \"metrics\": {\"metrics_path\": \"%s\"}}",
		  kt_guest("virtio_net"), args, iface, entropy ? " \"entropy\": {}," : "",
		  kt_path(&t, "metrics.json"));
}

static const char offered_all[] = "net: offered 000001013000ddab MAC MTU MRG_RXBUF\n";

/* ---- frames both ways ---- */

/*
 * Three frames out, exact on the TAP (one of them a UDP datagram a host socket receives);
 * a frame too large for the only rx chain dropped and counted, the chain kept for the next;
 * eight frames sent while the guest had no rx buffer waited in the TAP and all arrive, in
 * order and exact; the guest sees its MAC and MTU; the metrics count it all.
 */
Test(kiln_net, frames_both_ways_exact_and_backlog)
{
	static uint8_t f[2048];
	char want[8192], buf[256], from[64];
	struct vm v;
	kt_tap("tap0", 1500);
	tap_ip("tap0");
	int pk = packet_open("tap0"), us = udp_open();
	net_config("net=basic", ", \"guest_mac\": \"" GUEST_MAC "\", \"mtu\": 1500", 1);
	vm_start(&v);

	/* Out: as the guest built them, byte for byte. */
	expect_frame(pk, f, test_frame(f, host_mac, guest_mac, "tx-one", 1000), "tx-one");
	expect_frame(pk, f, udp_frame(f, "kiln virtio-net says hello"), "udp");
	cr_assert_eq(udp_recv(us, buf, sizeof(buf), from, 10000), 26, "no datagram");
	cr_assert_str_eq(buf, "kiln virtio-net says hello");
	cr_assert_str_eq(from, "10.0.0.2:6000");
	expect_frame(pk, f, test_frame(f, host_mac, guest_mac, "tx-indirect", 1514), "indirect");

	/* In: one chain of 112 bytes; 1000 bytes do not fit, 60 do. */
	vm_wait(&v, "small-chain");
	packet_send(pk, f, test_frame(f, guest_mac, host_mac, "too-big", 1000));
	packet_send(pk, f, test_frame(f, guest_mac, host_mac, "small", 60));
	vm_go(&v);
	uint32_t h_small = hash(f, 60);

	/* Eight frames while the guest has no buffer posted. */
	static const struct { const char *tag; size_t len; } q[] = {
		{ "q-1", 60 }, { NULL, 53 }, { "q-full", 1514 }, { "q-4", 61 },
		{ "q-5", 500 }, { "q-6", 1000 }, { "q-7", 1513 }, { "q-8", 64 },
	};
	uint32_t h[8];
	vm_wait(&v, "backlog");
	for (size_t i = 0; i < 8; i++) {
		if (q[i].tag) {
			packet_send(pk, f, test_frame(f, guest_mac, host_mac, q[i].tag, q[i].len));
			h[i] = hash(f, q[i].len);
		} else {
			udp_send(us, "hello guest");
		}
	}
	usleep(200000);		/* kiln may take them from the TAP only when buffers come */
	vm_go(&v);
	vm_finish(&v);
	cr_assert_eq(r.status, 0, "exit %d\nconsole:\n%s\nstderr:\n%s", r.status, r.out, r.err);

	int n = snprintf(want, sizeof(want), "%s"
		"net: mac " GUEST_MAC " mtu 1500 status 1 pairs 1\n"
		"net: tx 1000 bytes in one descriptor, used 0\n"
		"net: tx udp in three descriptors, used 0\n"
		"net: tx 1514 bytes through an indirect table, used 0\n"
		"net: wait small-chain\n"
		"net: rx 60 bytes, flags 0 gso 0 num_buffers 1, to us, test frame small hash %08x\n"
		"net: wait backlog\n", offered_all, h_small);
	for (size_t i = 0; i < 8; i++) {
		if (q[i].tag)
			n += snprintf(want + n, sizeof(want) - (size_t)n, "net: rx %zu bytes, flags "
				      "0 gso 0 num_buffers 1, to us, test frame %s hash %08x\n",
				      q[i].len, q[i].tag, h[i]);
		else
			n += snprintf(want + n, sizeof(want) - (size_t)n, "net: rx 53 bytes, flags "
				      "0 gso 0 num_buffers 1, to us, udp 10.0.0.1:5000 > "
				      "10.0.0.2:6000 \"hello guest\", ip checksum ok, udp checksum "
				      "ok\n");
	}
	snprintf(want + n, sizeof(want) - (size_t)n, "net: rng still works\nnet: done\n");
	cr_assert_str_eq(r.out, want, "stderr:\n%s", r.err);

	/* Nothing else went out. */
	cr_assert_lt(packet_recv(pk, f, sizeof(f), 200), 0, "a frame the guest did not send");
	/* Bytes are the frames', without the virtio-net header. */
	cr_assert_eq(metric("net", "tx_packets_count"), 3);
	cr_assert_eq(metric("net", "tx_bytes_count"), 1000 + 68 + 1514);
	cr_assert_eq(metric("net", "rx_packets_count"), 9);
	cr_assert_eq(metric("net", "rx_bytes_count"), 60 + 60 + 53 + 1514 + 61 + 500 + 1000 + 1513 + 64);
	cr_assert_eq(metric("net", "rx_fails"), 1);
	cr_assert_eq(metric("net", "tx_malformed_frames"), 0);
	cr_assert_eq(metric("net", "tx_fails"), 0);
	cr_assert_eq(metric("net", "tap_read_fails"), 0);
	cr_assert_eq(metric("net", "tap_write_fails"), 0);
	close(pk);
	close(us);
}

/*
 * MRG_RXBUF with a 9000-byte MTU: jumbo frames both ways, each frame in as many 2 KiB
 * buffers as it needs with num_buffers saying so; a datagram the guest left for the
 * device to checksum (CSUM) reaches a host socket. `limiters`: more keys for the interface.
 */
static void mrg_run(const char *limiters)
{
	static uint8_t f[10000];
	char want[4096], buf[256], from[64], iface[512];
	struct vm v;
	kt_tap("tap0", 9000);
	tap_ip("tap0");
	int pk = packet_open("tap0"), us = udp_open();
	snprintf(iface, sizeof(iface), ", \"guest_mac\": \"" GUEST_MAC "\", \"mtu\": 9000%s",
		 limiters);
	net_config("net=mrg", iface, 0);
	vm_start(&v);

	cr_assert_eq(udp_recv(us, buf, sizeof(buf), from, 30000), 31, "no datagram");
	cr_assert_str_eq(buf, "partial checksum from the guest");
	cr_assert_str_eq(from, "10.0.0.2:6000");
	cr_assert_eq(packet_recv(pk, f, sizeof(f), 10000), 73, "the datagram's frame");
	expect_frame(pk, f, test_frame(f, host_mac, guest_mac, "tx-jumbo", 9014), "tx-jumbo");

	static const struct { const char *tag; size_t len; unsigned int bufs; } q[] = {
		{ "j-1", 60, 1 }, { "j-2", 4000, 2 }, { "j-3", 9014, 5 },
	};
	uint32_t h[3];
	vm_wait(&v, "jumbo");
	for (size_t i = 0; i < 3; i++) {
		packet_send(pk, f, test_frame(f, guest_mac, host_mac, q[i].tag, q[i].len));
		h[i] = hash(f, q[i].len);
	}
	udp_send(us, "hello again");
	vm_go(&v);
	vm_finish(&v);
	cr_assert_eq(r.status, 0, "exit %d\nconsole:\n%s\nstderr:\n%s", r.status, r.out, r.err);

	int n = snprintf(want, sizeof(want), "%s"
		"net: mac " GUEST_MAC " mtu 9000 status 1 pairs 1\n"
		"net: tx udp with a partial checksum, used 0\n"
		"net: tx 9014 bytes, used 0\n"
		"net: wait jumbo\n", offered_all);
	for (size_t i = 0; i < 3; i++)
		n += snprintf(want + n, sizeof(want) - (size_t)n, "net: rx %zu bytes in %u buffers, "
			      "flags 0 gso 0 num_buffers %u, to us, test frame %s hash %08x\n",
			      q[i].len, q[i].bufs, q[i].bufs, q[i].tag, h[i]);
	/* GUEST_CSUM: the TAP may leave the host's checksum to the guest, and does. */
	snprintf(want + n, sizeof(want) - (size_t)n, "net: rx 53 bytes in 1 buffers, flags 1 gso 0 "
		 "num_buffers 1, to us, udp 10.0.0.1:5000 > 10.0.0.2:6000 \"hello again\", ip "
		 "checksum ok, udp checksum ok (completed by the guest)\n"
		 "net: done\n");
	cr_assert_str_eq(r.out, want, "stderr:\n%s", r.err);
	cr_assert_eq(metric("net", "tx_packets_count"), 2);
	cr_assert_eq(metric("net", "tx_bytes_count"), 73 + 9014);
	cr_assert_eq(metric("net", "rx_packets_count"), 4);
	cr_assert_eq(metric("net", "rx_bytes_count"), 60 + 4000 + 9014 + 53);
	cr_assert_eq(metric("net", "rx_fails"), 0);
	close(pk);
	close(us);
}

Test(kiln_net, mergeable_rx_buffers_and_jumbo_frames)
{
	mrg_run("");
	cr_assert_eq(metric("net", "tx_rate_limiter_throttled"), 0);
	cr_assert_eq(metric("net", "rx_rate_limiter_throttled"), 0);
}

/*
 * The same with one frame a second in and one per three seconds out: frames over the
 * limit wait (the guest's second frame out, the host's frames in) and none is lost or
 * changed.
 */
Test(kiln_net, rate_limited_frames_wait_and_are_not_lost)
{
	long t0 = now_ms();
	mrg_run(", \"rx_rate_limiter\": {\"ops\": {\"size\": 1, \"refill_time\": 1000}}, "
		"\"tx_rate_limiter\": {\"ops\": {\"size\": 1, \"refill_time\": 3000}}");
	cr_assert_geq(metric("net", "tx_rate_limiter_throttled"), 1);
	cr_assert_geq(metric("net", "rx_rate_limiter_throttled"), 1);
	/* Four frames in at one a second, the first free: three seconds at least. */
	cr_assert_geq(now_ms() - t0, 3000);
}

/*
 * A hostile guest: a frame of the largest size (65535 + 18 bytes) goes out whole; tx
 * chains shorter than the header, over that limit or with a device-writable buffer are
 * dropped and counted and the device goes on, and so do frames the TAP refuses (an
 * unknown offload type, the TAP down); a descriptor outside RAM, a descriptor
 * loop and a device-readable rx buffer each put the device in DEVICE_NEEDS_RESET with a
 * configuration interrupt, and after the guest's reset it works again, both ways.
 * Nothing bad reaches the TAP; virtio-rng never notices.
 */
Test(kiln_net, hostile_guest_dropped_or_reset)
{
	static uint8_t f[65553];
	char want[4096];
	struct vm v;
	kt_tap("tap0", 1500);
	int pk = packet_open("tap0");
	net_config("net=hostile", ", \"guest_mac\": \"" GUEST_MAC "\"", 1);
	vm_start(&v);

	/* The largest frame and the markers, in order: none of the bad chains went out. */
	static const char *const ok[] = { "ok-1", "limit", "ok-2", "ok-3", "ok-4", "tap-down",
					  "ok-5", "ok-6", "ok-7" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (strcmp(ok[i], "tap-down") == 0) {
			vm_wait(&v, "tap-down");
			kt_tap_up("tap0", false);
			vm_go(&v);
			vm_wait(&v, "tap-up");
			kt_tap_up("tap0", true);
			vm_go(&v);
			continue;
		}
		size_t n = strcmp(ok[i], "limit") == 0 ? 65553 : 64;
		expect_frame(pk, f, test_frame(f, host_mac, guest_mac, ok[i], n), ok[i]);
	}

	vm_wait(&v, "readable-rx");
	packet_send(pk, f, test_frame(f, guest_mac, host_mac, "to-readable", 64));
	usleep(200000);
	vm_go(&v);
	vm_wait(&v, "after-reset");
	packet_send(pk, f, test_frame(f, guest_mac, host_mac, "after-reset", 64));
	uint32_t h = hash(f, 64);
	vm_go(&v);
	expect_frame(pk, f, test_frame(f, host_mac, guest_mac, "ok-8", 64), "ok-8");
	vm_finish(&v);
	cr_assert_eq(r.status, 0, "exit %d\nconsole:\n%s\nstderr:\n%s", r.status, r.out, r.err);
	cr_assert_lt(packet_recv(pk, f, sizeof(f), 200), 0, "a frame the guest did not send");

	snprintf(want, sizeof(want), "net: offered 000001013000dda3 MAC no-MTU MRG_RXBUF\n"
		 "net: mac " GUEST_MAC " mtu not offered status 1 pairs 1\n"
		 "net: tx chain shorter than the header, used 0\n"
		 "net: tx ok-1, used 0\n"
		 "net: tx frame at the limit, used 0\n"
		 "net: tx frame over the limit, used 0\n"
		 "net: tx ok-2, used 0\n"
		 "net: tx frame in a device-writable buffer, used 0\n"
		 "net: tx ok-3, used 0\n"
		 "net: tx frame with an unknown offload type, used 0\n"
		 "net: tx ok-4, used 0\n"
		 "net: wait tap-down\n"
		 "net: tx frame while the TAP is down, used 0\n"
		 "net: wait tap-up\n"
		 "net: tx ok-5, used 0\n"
		 "net: descriptor outside guest memory: needs reset, config interrupt\n"
		 "net: tx ok-6, used 0\n"
		 "net: descriptor loop: needs reset, config interrupt\n"
		 "net: tx ok-7, used 0\n"
		 "net: wait readable-rx\n"
		 "net: device-readable rx buffer: needs reset, config interrupt\n"
		 "net: wait after-reset\n"
		 "net: rx 64 bytes, flags 0 gso 0 num_buffers 1, to us, test frame after-reset "
		 "hash %08x\n"
		 "net: tx ok-8, used 0\n"
		 "net: rng still works\n"
		 "net: done\n", h);
	cr_assert_str_eq(r.out, want, "stderr:\n%s", r.err);
	cr_assert_eq(metric("net", "tx_malformed_frames"), 3);
	cr_assert_eq(metric("net", "tx_fails"), 2);
	cr_assert_eq(metric("net", "tap_write_fails"), 2);
	cr_assert_eq(metric("net", "tx_packets_count"), 9);
	cr_assert_eq(metric("net", "tx_bytes_count"), 65553 + 8 * 64);
	cr_assert_eq(metric("net", "rx_packets_count"), 1);
	cr_assert_eq(metric("net", "rx_bytes_count"), 64);
	cr_assert_eq(metric("virtio", "device_needs_reset_count"), 3);
	close(pk);
}

/* Without guest_mac and mtu, MAC and MTU are not offered; the rest is. */
Test(kiln_net, no_mac_or_mtu_not_offered)
{
	kt_tap("tap0", 1500);
	net_config("net=features", "", 0);
	kt_run(&t, &r, NULL, 60000, NULL);
	cr_assert_eq(r.status, 0, "exit %d\nstderr:\n%s", r.status, r.err);
	cr_assert_str_eq(r.out, "net: device at d0000000\n"
			 "net: offered 000001013000dd83 no-MAC no-MTU MRG_RXBUF\n"
			 "net: mac not offered mtu not offered status 1 pairs 1\n", "%s", r.err);
}

/*
 * Interfaces are devices in config order, after the drives and before virtio-rng: the
 * first is the guest's eth0, each with its own MAC and MTU.
 */
Test(kiln_net, interfaces_in_config_order_after_drives)
{
	const char *img = kt_path(&t, "disk.img");
	FILE *f = fopen(img, "w");
	cr_assert_not_null(f);
	cr_assert_eq(ftruncate(fileno(f), 4096), 0);
	fclose(f);
	kt_tap("tap0", 1500);
	kt_tap("tap1", 1500);
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\", \"boot_args\": "
		  "\"console=ttyS0 net=features\"}, \"machine-config\": {\"vcpu_count\": 1, "
		  "\"mem_size_mib\": 64}, \"entropy\": {}, \"network-interfaces\": ["
		  "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap1\", \"guest_mac\": "
		  "\"06:00:00:00:00:0a\", \"mtu\": 1400}, {\"iface_id\": \"eth1\", "
		  "\"host_dev_name\": \"tap0\", \"guest_mac\": \"06:00:00:00:00:0b\"}], "
		  "\"drives\": [{\"drive_id\": \"data\", \"path_on_host\": \"%s\", "
		  "\"is_root_device\": false}]}", kt_guest("virtio_net"), img);
	kt_run(&t, &r, NULL, 60000, NULL);
	cr_assert_eq(r.status, 0, "exit %d\nstderr:\n%s", r.status, r.err);
	cr_assert_str_eq(r.out, "net: device at d0001000\n"
			 "net: offered 000001013000ddab MAC MTU MRG_RXBUF\n"
			 "net: mac 06:00:00:00:00:0a mtu 1400 status 1 pairs 1\n"
			 "net: device at d0002000\n"
			 "net: offered 000001013000dda3 MAC no-MTU MRG_RXBUF\n"
			 "net: mac 06:00:00:00:00:0b mtu not offered status 1 pairs 1\n"
			 "net: rng at d0003000\n", "%s", r.err);
}

/*
 * Through the API: PUT /network-interfaces/{id} before the start (the id in the body must
 * be the path's), PATCH with rate limiters only after it, for an interface that exists;
 * GET /vm/config shows the interface.
 */
Test(kiln_net, api_put_before_start_patch_after)
{
	char sock[PATH_MAX + 64], body[PATH_MAX + 256], text[4096] = "";
	static char resp[65536];
	int out;
	kt_tap("tap0", 1500);
	snprintf(sock, sizeof(sock), "%s", kt_path(&t, "api.sock"));
	const char *argv[] = { t.kiln, "--api-sock", sock, NULL };
	pid_t pid = proc_spawn(argv, NULL, &out, NULL);
	cr_assert_gt(pid, 0);
	running = pid;
	cr_assert(api_wait_socket(sock, 30000), "the API socket never answered");
#define CALL(method, path, body, status) do {							\
	int st_ = api_call(sock, method, path, body, resp, sizeof(resp));			\
	cr_assert_eq(st_, status, "%s %s: %d %s", method, path, st_, resp);			\
} while (0)
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", \"boot_args\": "
		 "\"console=ttyS0 net=features hold\"}", kt_guest("virtio_net"));
	CALL("PUT", "/boot-source", body, 204);
	CALL("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64}", 204);
	CALL("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth1\", \"host_dev_name\": "
	     "\"tap0\"}", 400);
	CALL("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": "
	     "\"tap0\", \"guest_mac\": \"07:00:00:00:00:0c\"}", 400);
	CALL("PATCH", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", "
	     "\"tx_rate_limiter\": {\"ops\": {\"size\": 10, \"refill_time\": 100}}}", 400);
	CALL("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": "
	     "\"tap0\", \"guest_mac\": \"06:00:00:00:00:0c\", \"mtu\": 1280}", 204);
	CALL("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 204);
	cr_assert(proc_read_until(out, text, sizeof(text), "net: holding\n", 60000), "%s", text);
	cr_assert_str_eq(text, "net: device at d0000000\n"
			 "net: offered 000001013000ddab MAC MTU MRG_RXBUF\n"
			 "net: mac 06:00:00:00:00:0c mtu 1280 status 1 pairs 1\n"
			 "net: holding\n");
	CALL("PATCH", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", "
	     "\"tx_rate_limiter\": {\"ops\": {\"size\": 10, \"refill_time\": 100}}, "
	     "\"rx_rate_limiter\": {\"bandwidth\": {\"size\": 100000, \"refill_time\": 100}}}",
	     204);
	CALL("PATCH", "/network-interfaces/nope", "{\"iface_id\": \"nope\", "
	     "\"tx_rate_limiter\": {\"ops\": {\"size\": 10, \"refill_time\": 100}}}", 400);
	CALL("PUT", "/network-interfaces/eth1", "{\"iface_id\": \"eth1\", \"host_dev_name\": "
	     "\"tap1\"}", 400);
	CALL("GET", "/vm/config", NULL, 200);
	cr_assert(strstr(resp, "\"network-interfaces\":[{\"iface_id\":\"eth0\","), "%s", resp);
	cr_assert(strstr(resp, "\"host_dev_name\":\"tap0\""), "%s", resp);
	cr_assert(strstr(resp, "\"guest_mac\":\"06:00:00:00:00:0c\""), "%s", resp);
#undef CALL
	kill(pid, SIGTERM);
	cr_assert_geq(proc_wait(pid, 30000), 0, "kiln did not end on SIGTERM");
	running = -1;
	close(out);
}

/* ---- refusals: exit 152, one line naming the key, no guest ---- */

static void run_ifaces(const char *ifaces)
{
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		  "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}, "
		  "\"network-interfaces\": [%s]}", kt_guest("hello"), ifaces);
	kt_run(&t, &r, NULL, 20000, NULL);
}

static void expect_refused(const char *msg)
{
	cr_assert_eq(r.status, 152, "exit %d; stderr:\n%s", r.status, r.err);
	cr_assert_str_eq(r.out, "", "the guest ran");
	cr_assert(strstr(r.err, msg), "want \"%s\" in:\n%s", msg, r.err);
	int lines = 0;
	for (const char *p = r.err; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *eol = strchr(p, '\n'), *k = strstr(p, "network-interfaces");
		lines += k && (!eol || k < eol);
	}
	cr_assert_eq(lines, 1, "one line naming the key:\n%s", r.err);
}

/* A TAP that does not exist, when kiln may not create one (no CAP_NET_ADMIN). */
Test(kiln_net, missing_tap_refused)
{
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		  "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}, "
		  "\"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": "
		  "\"nosuchtap\"}]}", kt_guest("hello"));
	const char *argv[] = { "/usr/bin/setpriv", "--bounding-set=-net_admin", t.kiln,
			       "--no-api", "--config-file", t.config, NULL };
	if (access(argv[0], X_OK) != 0)
		cr_skip_test("no setpriv to run kiln without CAP_NET_ADMIN");
	proc_run(argv, NULL, 20000, &r);
	expect_refused("network-interfaces[0].host_dev_name: nosuchtap: ");
	cr_assert_eq(if_nametoindex("nosuchtap"), 0u, "kiln made the TAP");
}

/* A TAP another kiln is attached to. */
Test(kiln_net, tap_in_use_by_another_kiln_refused)
{
	char first[PATH_MAX + 64], out[4096] = "";
	kt_tap("tap0", 1500);
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, "
		  "\"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 64}, "
		  "\"network-interfaces\": [{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}]}",
		  kt_guest("idle"));
	snprintf(first, sizeof(first), "%s", t.config);
	snprintf(t.config, sizeof(t.config), "%s/second.json", t.dir);
	const char *argv[] = { t.kiln, "--no-api", "--config-file", first, NULL };
	int fd;
	pid_t pid = proc_spawn(argv, NULL, &fd, NULL);
	cr_assert_gt(pid, 0);
	running = pid;
	cr_assert(proc_read_until(fd, out, sizeof(out), "idle: ready", 60000),
		  "the first kiln did not start: %s", out);
	run_ifaces("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}");
	expect_refused("network-interfaces[0].host_dev_name: tap0: ");
	/* The first one still has it and goes on. */
	cr_assert_eq(proc_wait(pid, 0), -1, "the first kiln ended");
	close(fd);
}

Test(kiln_net, bad_guest_mac_refused)
{
	kt_tap("tap0", 1500);
	static const char *const macs[] = {
		"06:00:ac:10:00:0g",	/* not hex */
		"07:00:ac:10:00:02",	/* multicast */
		"06:00:ac:10:00",	/* five pairs */
		"06:00:ac:10:00:02:03",	/* seven */
		"",
	};
	for (size_t i = 0; i < sizeof(macs) / sizeof(macs[0]); i++) {
		char ifaces[256];
		snprintf(ifaces, sizeof(ifaces), "{\"iface_id\": \"eth0\", \"host_dev_name\": "
			 "\"tap0\", \"guest_mac\": \"%s\"}", macs[i]);
		run_ifaces(ifaces);
		expect_refused("network-interfaces[0].guest_mac: ");
	}
}

Test(kiln_net, mtu_out_of_range_refused)
{
	kt_tap("tap0", 1500);
	static const char *const mtus[] = { "67", "65536", "0", "-1", "\"1500\"" };
	for (size_t i = 0; i < sizeof(mtus) / sizeof(mtus[0]); i++) {
		char ifaces[256];
		snprintf(ifaces, sizeof(ifaces), "{\"iface_id\": \"eth0\", \"host_dev_name\": "
			 "\"tap0\", \"mtu\": %s}", mtus[i]);
		run_ifaces(ifaces);
		expect_refused("network-interfaces[0].mtu: ");
	}
	/* The bounds themselves are accepted. */
	run_ifaces("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"mtu\": 68}");
	cr_assert_eq(r.status, 0, "mtu 68: exit %d: %s", r.status, r.err);
	run_ifaces("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"mtu\": 65535}");
	cr_assert_eq(r.status, 0, "mtu 65535: exit %d: %s", r.status, r.err);
}

Test(kiln_net, duplicate_iface_id_or_tap_refused)
{
	kt_tap("tap0", 1500);
	kt_tap("tap1", 1500);
	run_ifaces("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}, "
		   "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap1\"}");
	expect_refused("network-interfaces[1].iface_id: ");
	run_ifaces("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\"}, "
		   "{\"iface_id\": \"eth1\", \"host_dev_name\": \"tap0\"}");
	expect_refused("network-interfaces[1].host_dev_name: ");
	run_ifaces("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": "
		   "\"06:00:00:00:00:01\"}, {\"iface_id\": \"eth1\", \"host_dev_name\": \"tap1\", "
		   "\"guest_mac\": \"06:00:00:00:00:01\"}");
	expect_refused("network-interfaces[1].guest_mac: ");
}

Test(kiln_net, bad_names_refused)
{
	static const char *const taps[] = { "", "tap-name-too-long", "a/b", "a b" };
	static const char *const ids[] = { "", "eth 0", "eth0/1", "eth\\u00e9" };
	char ifaces[256];
	kt_tap("tap0", 1500);
	for (size_t i = 0; i < sizeof(taps) / sizeof(taps[0]); i++) {
		snprintf(ifaces, sizeof(ifaces), "{\"iface_id\": \"eth0\", \"host_dev_name\": "
			 "\"%s\"}", taps[i]);
		run_ifaces(ifaces);
		expect_refused("network-interfaces[0].host_dev_name: ");
	}
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		snprintf(ifaces, sizeof(ifaces), "{\"iface_id\": \"%s\", \"host_dev_name\": "
			 "\"tap0\"}", ids[i]);
		run_ifaces(ifaces);
		expect_refused("network-interfaces[0].iface_id: ");
	}
	run_ifaces("{\"host_dev_name\": \"tap0\"}");
	expect_refused("network-interfaces[0].iface_id: ");
	run_ifaces("{\"iface_id\": \"eth0\"}");
	expect_refused("network-interfaces[0].host_dev_name: ");
	run_ifaces("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"speed\": 10}");
	expect_refused("network-interfaces[0].speed: ");
}

Test(kiln_net, more_than_eight_interfaces_refused)
{
	char ifaces[2048] = "", eight[2048] = "";
	size_t n = 0;
	for (int i = 0; i < 9; i++) {
		char name[16];
		snprintf(name, sizeof(name), "tap%d", i);
		kt_tap(name, 1500);
		if (i == 8)
			memcpy(eight, ifaces, n + 1);
		n += (size_t)snprintf(ifaces + n, sizeof(ifaces) - n, "%s{\"iface_id\": \"eth%d\", "
				      "\"host_dev_name\": \"tap%d\"}", i ? ", " : "", i, i);
	}
	run_ifaces(ifaces);
	expect_refused("network-interfaces");
	/* Eight are fine. */
	run_ifaces(eight);
	cr_assert_eq(r.status, 0, "eight interfaces: exit %d: %s", r.status, r.err);
}
