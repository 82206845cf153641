/* kiln-agent-client: talk to a guest's kiln-agent from the host (ping, exec, put, get, shutdown). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/parse.h"
#include "host/agentclient/client.h"

/* Exit statuses of the client itself (a remote process's own status passes through). */
enum {
	EXIT_USAGE = 2,		/* a bad command line */
	EXIT_TIMEOUT = 124,	/* the process was killed at its time limit */
	EXIT_START = 125,	/* the agent could not start the process (not ENOENT/EACCES) */
	EXIT_NOEXEC = 126,	/* the program is not executable */
	EXIT_NOTFOUND = 127,	/* the program was not found */
	EXIT_CLIENT = 255,	/* connecting, the protocol or a transfer failed */
};

#define MAX_ENV 1024

static volatile sig_atomic_t pending_signal;

static void forward(int sig)
{
	pending_signal = sig;
}

/*
 * An error on stderr. Its text may quote what the agent sent, and a guest's program can
 * stand in for the agent: control characters and invalid UTF-8 are escaped (log_escape).
 */
static void report(const struct error *err)
{
	char text[4 * sizeof(err->msg)];
	log_escape(text, sizeof(text), err->msg, strlen(err->msg), NULL);
	fprintf(stderr, "kiln-agent-client: %s\n", text);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: kiln-agent-client (--unix PATH | --uds PATH [--port N]) [--connect-timeout MS] COMMAND\n"
"  --unix PATH       the agent's own Unix socket (kiln-agent --listen unix:PATH)\n"
"  --uds PATH        a VMM's vsock socket: CONNECT to the agent's port through it\n"
"  --port N          the agent's vsock port (default 1024)\n"
"commands:\n"
"  ping [-c COUNT]                      round trips, in microseconds\n"
"  exec [-e NAME=VALUE]... [-C DIR] [-u UID[:GID]] [-t SECONDS] [-n] -- CMD [ARG]...\n"
"                                       run CMD, streaming stdin, stdout and stderr;\n"
"                                       -n: no stdin. Exits with CMD's status, 128+N\n"
"                                       for signal N, 124 at the time limit, 126/127\n"
"                                       when CMD cannot run / is not found, 255 when\n"
"                                       the client fails\n"
"  put LOCAL GUEST_PATH                 copy a file or directory tree in\n"
"  get GUEST_PATH LOCAL                 copy a file or directory tree out\n"
"  shutdown [agent|poweroff|reboot]     end the agent, or the guest\n"
"SIGINT, SIGTERM, SIGHUP and SIGQUIT during exec go to the remote process group.\n");
}

static int parse_user(const char *s, struct ap_exec_params *p)
{
	char buf[64];
	uint64_t v;
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	char *colon = strchr(buf, ':');
	if (colon)
		*colon = '\0';
	if (parse_u64(buf, UINT32_MAX - 1, &v) < 0)
		return -EINVAL;
	p->has_uid = true;
	p->uid = (uint32_t)v;
	if (colon) {
		if (parse_u64(colon + 1, UINT32_MAX - 1, &v) < 0)
			return -EINVAL;
		p->has_gid = true;
		p->gid = (uint32_t)v;
	}
	return 0;
}

static int cmd_exec(struct agent_client *c, int argc, char **argv)
{
	static const char *env[MAX_ENV + 1];
	struct ap_exec_params p = { .env = env };
	struct agent_exec_io io = { .in_fd = 0, .out_fd = 1, .err_fd = 2,
				    .pending_signal = &pending_signal };
	struct ap_exit res;
	struct error err = { 0 };
	size_t nenv = 0;
	uint64_t secs;
	int o;

	optind = 1;
	while ((o = getopt(argc, argv, "+e:C:u:t:n")) != -1) {
		switch (o) {
		case 'e':
			if (nenv == MAX_ENV || !strchr(optarg, '=') || optarg[0] == '=') {
				fprintf(stderr, "kiln-agent-client: exec -e %s: not NAME=VALUE, or "
					"more than %d\n", optarg, MAX_ENV);
				return EXIT_USAGE;
			}
			env[nenv++] = optarg;
			break;
		case 'C':
			p.cwd = optarg;
			break;
		case 'u':
			if (parse_user(optarg, &p) < 0) {
				fprintf(stderr, "kiln-agent-client: exec -u %s: not UID or UID:GID\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 't':
			if (parse_u64(optarg, UINT64_MAX / 1000, &secs) < 0 || secs == 0) {
				fprintf(stderr, "kiln-agent-client: exec -t %s: not a number of "
					"seconds\n", optarg);
				return EXIT_USAGE;
			}
			p.timeout_ms = secs * 1000;
			break;
		case 'n':
			io.in_fd = -1;
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "kiln-agent-client: exec: no command\n");
		return EXIT_USAGE;
	}
	env[nenv] = NULL;
	p.argv = (const char *const *)argv + optind;
	struct sigaction sa = { .sa_handler = forward };	/* no SA_RESTART: poll returns */
	sigemptyset(&sa.sa_mask);
	int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	int rc = agent_client_exec(c, &p, &io, &res, &err);
	if (rc != 0) {
		report(&err);
		if (rc < 0)
			return EXIT_CLIENT;
		return err.code == -ENOENT ? EXIT_NOTFOUND : err.code == -EACCES ||
		       err.code == -ENOEXEC ? EXIT_NOEXEC : EXIT_START;
	}
	if (res.flags & AP_EXIT_TIMED_OUT) {
		fprintf(stderr, "kiln-agent-client: %s: killed at its time limit of %llu s\n",
			p.argv[0], (unsigned long long)(p.timeout_ms / 1000));
		return EXIT_TIMEOUT;
	}
	return res.how == AP_EXITED ? (int)res.value : 128 + (int)res.value;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "unix", required_argument, NULL, 'x' },
		{ "uds", required_argument, NULL, 'U' },
		{ "port", required_argument, NULL, 'p' },
		{ "connect-timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct agent_client c;
	const char *unix_path = NULL, *uds = NULL;
	uint64_t port = AP_DEFAULT_PORT, timeout_ms = 5000;
	struct error err = { 0 };
	int o, rc;

	while ((o = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (o) {
		case 'x':
			unix_path = optarg;
			break;
		case 'U':
			uds = optarg;
			break;
		case 'p':
			if (parse_u64(optarg, UINT32_MAX - 1, &port) < 0 || port == 0) {
				fprintf(stderr, "kiln-agent-client: --port %s: not a port\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'T':
			if (parse_u64(optarg, 3600000, &timeout_ms) < 0) {
				fprintf(stderr, "kiln-agent-client: --connect-timeout %s: not a number "
					"of milliseconds up to 3600000\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!!unix_path == !!uds || optind >= argc) {
		fprintf(stderr, "kiln-agent-client: give one of --unix and --uds, then a command\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[optind];
	int cargc = argc - optind;
	char **cargv = argv + optind;
	if (strcmp(cmd, "ping") && strcmp(cmd, "exec") && strcmp(cmd, "put") &&
	    strcmp(cmd, "get") && strcmp(cmd, "shutdown")) {
		fprintf(stderr, "kiln-agent-client: unknown command: %s\n", cmd);
		return EXIT_USAGE;
	}
	if ((!strcmp(cmd, "put") || !strcmp(cmd, "get")) && cargc != 3) {
		fprintf(stderr, "kiln-agent-client: %s needs two paths\n", cmd);
		return EXIT_USAGE;
	}
	rc = unix_path ? agent_client_connect_unix(&c, unix_path, (int)timeout_ms, &err) :
	     agent_client_connect_vsock(&c, uds, (uint32_t)port, (int)timeout_ms, &err);
	if (rc < 0) {
		report(&err);
		return EXIT_CLIENT;
	}
	if (!strcmp(cmd, "exec")) {
		rc = cmd_exec(&c, cargc, cargv);
	} else if (!strcmp(cmd, "ping")) {
		uint64_t count = 1, rtt;
		if (cargc == 3 && !strcmp(cargv[1], "-c") && parse_u64(cargv[2], 1000000, &count) == 0)
			;
		else if (cargc != 1) {
			fprintf(stderr, "kiln-agent-client: ping [-c COUNT]\n");
			return EXIT_USAGE;
		}
		uint64_t total = 0, best = UINT64_MAX;
		for (uint64_t i = 0; i < count; i++) {
			if (agent_client_ping(&c, &rtt, &err) < 0) {
				report(&err);
				return EXIT_CLIENT;
			}
			total += rtt;
			best = MIN(best, rtt);
		}
		printf("%s: %llu round trips, mean %.1f us, best %.1f us\n", c.peer_name,
		       (unsigned long long)count, (double)total / (double)count / 1e3,
		       (double)best / 1e3);
		rc = 0;
	} else if (!strcmp(cmd, "shutdown")) {
		enum ap_shutdown_action a = AP_SHUTDOWN_AGENT;
		if (cargc == 2 && !strcmp(cargv[1], "poweroff"))
			a = AP_SHUTDOWN_POWEROFF;
		else if (cargc == 2 && !strcmp(cargv[1], "reboot"))
			a = AP_SHUTDOWN_REBOOT;
		else if (cargc > 2 || (cargc == 2 && strcmp(cargv[1], "agent"))) {
			fprintf(stderr, "kiln-agent-client: shutdown [agent|poweroff|reboot]\n");
			return EXIT_USAGE;
		}
		rc = agent_client_shutdown(&c, a, &err) < 0 ? EXIT_CLIENT : 0;
		if (rc)
			report(&err);
	} else {
		uint64_t bytes;
		int r = !strcmp(cmd, "put") ? agent_client_put(&c, cargv[1], cargv[2], &bytes, &err) :
			agent_client_get(&c, cargv[1], cargv[2], &bytes, &err);
		if (r < 0)
			report(&err);
		rc = r < 0 ? EXIT_CLIENT : 0;
	}
	agent_client_close(&c);
	return rc;
}
