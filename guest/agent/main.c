/* kiln-agent: serves the host inside a guest (exec, files, shutdown) over vsock or a Unix socket. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "agentproto/frame.h"
#include "common/error.h"
#include "guest/agent/init.h"
#include "guest/agent/listen.h"
#include "guest/agent/server.h"

#define MAX_LISTEN 4

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kiln-agent [--listen SPEC]... [--verbose]\n"
		"  --listen vsock[:PORT]  AF_VSOCK, any CID (default: vsock:%u)\n"
		"  --listen unix:PATH     a Unix socket, for tests and development\n"
		"                         (unix:@NAME: Linux's abstract namespace)\n"
		"  --verbose              log each connection and process on stderr\n"
		"As PID 1 it mounts /proc, /sys, /dev, /tmp and /run, reaps orphans, and\n"
		"powers the guest off when asked to shut down. See agentproto/PROTOCOL.md.\n",
		AP_DEFAULT_PORT);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *specs[MAX_LISTEN];
	int fds[MAX_LISTEN];
	size_t n = 0;
	struct agent_options opt = { .pid1 = getpid() == 1 };
	struct error err = { 0 };
	int c;

	while ((c = getopt_long(argc, argv, "l:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (n == MAX_LISTEN) {
				fprintf(stderr, "kiln-agent: at most %d --listen\n", MAX_LISTEN);
				return 2;
			}
			specs[n++] = optarg;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("kiln-agent %s, protocol %d\n", KILN_VERSION, AP_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kiln-agent: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (n == 0)
		specs[n++] = "vsock";
	if (opt.pid1) {
		if (init_mounts(&err) < 0)
			fprintf(stderr, "kiln-agent: %s (serving anyway)\n", err.msg);
	} else {
		init_std_fds();
		/*
		 * Orphans of the processes it runs come back to the agent, not to init. Each
		 * process's supervisor relies on the same call: where it fails (qemu-user
		 * refuses it), descendants that leave their process group escape the sweep.
		 */
		if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
			fprintf(stderr, "kiln-agent: PR_SET_CHILD_SUBREAPER: %s; processes that "
				"leave their process group will not be killed\n", strerror(errno));
	}
	for (size_t i = 0; i < n; i++) {
		fds[i] = agent_listen(specs[i], &err);
		if (fds[i] < 0) {
			fprintf(stderr, "kiln-agent: %s\n", err.msg);
			if (opt.pid1)
				init_halt(AP_SHUTDOWN_POWEROFF);
			return 1;
		}
		if (opt.verbose)
			fprintf(stderr, "kiln-agent: listening on %s\n", specs[i]);
	}
	opt.listen_fds = fds;
	opt.n_listen = n;
	int rc = agent_serve(&opt);
	if (rc < 0)
		fprintf(stderr, "kiln-agent: event loop: %s\n", strerror(-rc));
	if (opt.pid1)
		init_halt(rc == AP_SHUTDOWN_REBOOT ? AP_SHUTDOWN_REBOOT : AP_SHUTDOWN_POWEROFF);
	for (size_t i = 0; i < n; i++)
		if (!strncmp(specs[i], "unix:", 5) && specs[i][5] != '@')
			unlink(specs[i] + 5);
	return rc < 0 ? 1 : 0;
}
