/*
 * --net: a run's network. The guest's eth0 is a TAP in a network namespace of the run's own;
 * a veth pair joins that namespace to the host, which routes the run's addresses and does
 * whatever forwarding or NAT its operator configured for them. Slot S owns the 8 addresses
 * A.B.(8S / 256).(8S % 256) + 0..7 of --net-base A.B: the guest link (.1 the TAP's side,
 * .2 the guest) and the host link (.5 the host's end, .6 the namespace's).
 */
#ifndef KILN_KILNRUN_NET_H
#define KILN_KILNRUN_NET_H

#include <stdint.h>

#include "common/error.h"

struct run_net {
	char netns[32];			/* under /run/netns */
	char host_link[16];		/* the host's end of the veth pair */
	char tap[16];			/* in the namespace */
	char guest[20], gateway[16];	/* the guest's address (with /30) and its router */
	char host[16], inside[16];	/* the host link's two ends */
	char subnet[20];		/* the guest link, for the host's route */
	char mac[24];
	char cmdline[128];		/* what the guest's init reads: kiln.ip= (and kiln.dns=) */
};

/* The names and addresses of slot's network; -ERANGE when base has no room for it. */
int net_plan(unsigned slot, uint8_t base_a, uint8_t base_b, const char *dns, struct run_net *n);

/* Makes it: the namespace, the veth pair, the TAP (owned by uid:gid), addresses, routes. */
int net_setup(const struct run_net *n, uint32_t uid, uint32_t gid, struct error *err);

#endif
