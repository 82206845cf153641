/* --net: a namespace with the guest's TAP, joined to the host by a veth pair (through ip). */
#include "host/kilnrun/net.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host/kilnrun/command.h"

int net_plan(unsigned slot, uint8_t base_a, uint8_t base_b, const char *dns, struct run_net *n)
{
	unsigned b = slot * 8;
	if (b > 65535 - 7)
		return -ERANGE;
	unsigned x = b / 256, y = b % 256;
	memset(n, 0, sizeof(*n));
	snprintf(n->netns, sizeof(n->netns), "kiln-run-%u", slot);
	snprintf(n->host_link, sizeof(n->host_link), "krh%u", slot);
	snprintf(n->tap, sizeof(n->tap), "tap0");
	snprintf(n->subnet, sizeof(n->subnet), "%u.%u.%u.%u/30", base_a, base_b, x, y);
	snprintf(n->gateway, sizeof(n->gateway), "%u.%u.%u.%u", base_a, base_b, x, y + 1);
	snprintf(n->guest, sizeof(n->guest), "%u.%u.%u.%u/30", base_a, base_b, x, y + 2);
	snprintf(n->host, sizeof(n->host), "%u.%u.%u.%u", base_a, base_b, x, y + 5);
	snprintf(n->inside, sizeof(n->inside), "%u.%u.%u.%u", base_a, base_b, x, y + 6);
	/* Locally administered, unicast; the guest's address in its last four bytes. */
	snprintf(n->mac, sizeof(n->mac), "06:00:%02x:%02x:%02x:%02x", base_a, base_b, x, y + 2);
	snprintf(n->cmdline, sizeof(n->cmdline), "kiln.ip=%s,%s%s%s", n->guest, n->gateway,
		 dns ? " kiln.dns=" : "", dns ? dns : "");
	return 0;
}

/* Runs ip with the arguments given; err says which step failed and what ip said. */
static int ip(struct error *err, const char *const argv[])
{
	char out[512];
	int st = command_run(argv, out, sizeof(out));
	if (st == 0)
		return 0;
	char cmd[256] = "";
	for (size_t i = 0; argv[i]; i++)
		snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), "%s%s", i ? " " : "", argv[i]);
	if (st < 0)
		return error_set(err, st, "%s: %s", cmd, strerror(-st));
	return error_set(err, -EIO, "%s: %s", cmd, out[0] ? out : "failed");
}

int net_setup(const struct run_net *n, uint32_t uid, uint32_t gid, struct error *err)
{
	char u[16], g[16], inside30[24], host30[24];
	snprintf(u, sizeof(u), "%u", uid);
	snprintf(g, sizeof(g), "%u", gid);
	snprintf(inside30, sizeof(inside30), "%s/30", n->inside);
	snprintf(host30, sizeof(host30), "%s/30", n->host);
	char gw30[24];
	snprintf(gw30, sizeof(gw30), "%s/30", n->gateway);
	const char *ns = n->netns;
	int rc;
	if ((rc = ip(err, (const char *[]){ "ip", "netns", "add", ns, NULL })) < 0 ||
	    (rc = ip(err, (const char *[]){ "ip", "link", "add", n->host_link, "type", "veth", "peer",
					    "name", "veth0", "netns", ns, NULL })) < 0 ||
	    (rc = ip(err, (const char *[]){ "ip", "addr", "add", host30, "dev", n->host_link,
					    NULL })) < 0 ||
	    (rc = ip(err, (const char *[]){ "ip", "link", "set", n->host_link, "up", NULL })) < 0 ||
	    (rc = ip(err, (const char *[]){ "ip", "-n", ns, "link", "set", "lo", "up", NULL })) < 0 ||
	    (rc = ip(err, (const char *[]){ "ip", "-n", ns, "addr", "add", inside30, "dev", "veth0",
					    NULL })) < 0 ||
	    (rc = ip(err, (const char *[]){ "ip", "-n", ns, "link", "set", "veth0", "up", NULL })) < 0 ||
	    (rc = ip(err, (const char *[]){ "ip", "-n", ns, "tuntap", "add", n->tap, "mode", "tap",
					    "user", u, "group", g, NULL })) < 0 ||
	    (rc = ip(err, (const char *[]){ "ip", "-n", ns, "addr", "add", gw30, "dev", n->tap,
					    NULL })) < 0 ||
	    (rc = ip(err, (const char *[]){ "ip", "-n", ns, "link", "set", n->tap, "up", NULL })) < 0 ||
	    (rc = ip(err, (const char *[]){ "ip", "-n", ns, "route", "add", "default", "via", n->host,
					    NULL })) < 0 ||
	    (rc = ip(err, (const char *[]){ "ip", "netns", "exec", ns, "sysctl", "-qw",
					    "net.ipv4.ip_forward=1", NULL })) < 0 ||
	    (rc = ip(err, (const char *[]){ "ip", "route", "add", n->subnet, "via", n->inside, "dev",
					    n->host_link, NULL })) < 0)
		return rc;
	return 0;
}
