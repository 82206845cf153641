/* Integration-test helpers for kiln: temp configs, test guests, running the real binary. */
#ifndef KILN_TESTS_KILN_UTIL_H
#define KILN_TESTS_KILN_UTIL_H

#include <limits.h>
#include "proc.h"

struct kt {
	char dir[PATH_MAX];	/* a fresh temp directory, removed by kt_fini */
	char config[PATH_MAX + 32];
	const char *kiln;
};

/* Skips the test unless $KILN and $GUESTS are set and /dev/kvm is usable. */
void kt_init(struct kt *t);
void kt_fini(struct kt *t);
/* Absolute path of a test guest ELF (from $GUESTS). */
const char *kt_guest(const char *name);
/* Write `json` as the config file, formatted like printf. */
void kt_config(struct kt *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A minimal config booting a test guest. */
void kt_guest_config(struct kt *t, const char *guest, unsigned int vcpus, unsigned int mem_mib);
/* Run kiln --no-api --config-file <config> [extra args...] (NULL-terminated) with stdin `in`. */
void kt_run(struct kt *t, struct proc_result *r, const char *in, int timeout_ms, ...);
/* Path inside the temp dir. */
const char *kt_path(struct kt *t, const char *name);

/*
 * A network namespace of the test's own (Criterion runs each test in a process of its own,
 * and the namespace ends with it), without IPv6 (the kernel's own solicitations would
 * reach a guest); the test is skipped where it may not make one (not root).
 */
void kt_netns(void);
/* A persistent TAP `name` in it, up, with MAC 02:00:00:00:00:01 and `mtu`. */
void kt_tap(const char *name, int mtu);
void kt_tap_up(const char *name, bool up);

/*
 * The host side of the virtio_vsock guest, played by tests/helpers/vsock_peer (found next
 * to $GUESTS): an echo server on <uds>_7000, listening when this returns, and an echo
 * client of `bytes` bytes for guest port 5000 through uds (it waits for kiln to bind it).
 */
struct kt_vsock {
	pid_t server, client;
	int server_out, client_out;
	int server_status, client_status;
	char server_text[1024], client_text[1024];
};
void kt_vsock_start(const char *uds, unsigned int bytes, struct kt_vsock *v);
/* After kiln ended: wait for both (10 s at most) and collect their status and output. */
void kt_vsock_finish(struct kt_vsock *v);

#endif
