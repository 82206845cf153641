/* kiln-run's command line. */
#include "host/kilnrun/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/parse.h"

enum {
	OPT_IMAGE = 256, OPT_VCPUS, OPT_MEM, OPT_TIMEOUT, OPT_BOOT_TIMEOUT, OPT_PUT, OPT_GET,
	OPT_NET, OPT_KEEP, OPT_JSON, OPT_GC, OPT_JAILER, OPT_KILN, OPT_CHROOT_BASE,
	OPT_STATE_DIR, OPT_PARENT_CGROUP, OPT_UID_BASE, OPT_SLOTS, OPT_PIDS_MAX, OPT_VERSION,
	OPT_NET_BASE, OPT_DNS,
};

static const struct option longopts[] = {
	{ "image", required_argument, NULL, OPT_IMAGE },
	{ "vcpus", required_argument, NULL, OPT_VCPUS },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT },
	{ "put", required_argument, NULL, OPT_PUT },
	{ "get", required_argument, NULL, OPT_GET },
	{ "env", required_argument, NULL, 'e' },
	{ "workdir", required_argument, NULL, 'C' },
	{ "no-stdin", no_argument, NULL, 'n' },
	{ "net", no_argument, NULL, OPT_NET },
	{ "net-base", required_argument, NULL, OPT_NET_BASE },
	{ "dns", required_argument, NULL, OPT_DNS },
	{ "keep", no_argument, NULL, OPT_KEEP },
	{ "json", required_argument, NULL, OPT_JSON },
	{ "verbose", no_argument, NULL, 'v' },
	{ "gc", no_argument, NULL, OPT_GC },
	{ "jailer", required_argument, NULL, OPT_JAILER },
	{ "kiln", required_argument, NULL, OPT_KILN },
	{ "chroot-base-dir", required_argument, NULL, OPT_CHROOT_BASE },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "parent-cgroup", required_argument, NULL, OPT_PARENT_CGROUP },
	{ "uid-base", required_argument, NULL, OPT_UID_BASE },
	{ "slots", required_argument, NULL, OPT_SLOTS },
	{ "pids-max", required_argument, NULL, OPT_PIDS_MAX },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

void run_options_usage(FILE *f)
{
	fprintf(f,
"usage: kiln-run [OPTIONS] -- COMMAND [ARG]...\n"
"       kiln-run [OPTIONS] SCRIPT [ARG]...     (SCRIPT.py: python3, SCRIPT.sh: sh)\n"
"       kiln-run --gc [--state-dir DIR]\n"
"Runs COMMAND in a fresh microVM, jailed, and streams its output; then removes the VM,\n"
"its jail, cgroup and namespaces. Exits with the command's status (128+N: signal N).\n"
"\n"
"The run:\n"
"  --image DIR           the run image: vmlinux, initramfs.cpio.gz, rootfs.ext4 and\n"
"                        cmdline (default $KILN_RUN_IMAGE, else /var/lib/kiln/run-image)\n"
"  --vcpus N             vCPUs, 1 to 32 (default 1)\n"
"  --mem MIB             guest memory, 64 to 65536 MiB (default 256)\n"
"  --timeout SECONDS     wall-clock limit from start to the command's end (default none)\n"
"  --boot-timeout SECONDS  how long the guest may take to answer (default 60)\n"
"  --put LOCAL:GUEST     copy a file or directory in before the command (repeatable)\n"
"  --get GUEST:LOCAL     copy one out after it, whatever its status (repeatable)\n"
"  -e, --env NAME=VALUE  set a variable for the command (repeatable)\n"
"  -C, --workdir DIR     the command's working directory in the guest (default /tmp)\n"
"  -n, --no-stdin        the command reads /dev/null, not kiln-run's standard input\n"
"  --net                 give the guest a network: eth0 on a TAP in a namespace of its\n"
"                        own, routed to the host (see README); default: none at all\n"
"  --dns IP              with --net: the guest's name server (/etc/resolv.conf)\n"
"  --keep                leave the VM running and its jail in place after the command,\n"
"                        for debugging; kiln-run --gc removes it\n"
"  --json FILE           write the result as JSON to FILE (- for standard output)\n"
"  -v, --verbose         say what kiln-run does, with timings, on standard error\n"
"The machine (an operator's settings):\n"
"  --jailer PATH, --kiln PATH  the binaries (default: beside kiln-run's own)\n"
"  --chroot-base-dir DIR the jails' base (default /srv/kiln-run)\n"
"  --state-dir DIR       run slots, their locks, consoles and logs (default /run/kiln-run)\n"
"  --parent-cgroup PATH  under the cgroup v2 root (default kiln-run)\n"
"  --uid-base N          run slot S runs as uid and gid N+S (default 900000)\n"
"  --slots N             runs at once on this machine, 1 to 4096 (default 64)\n"
"  --pids-max N          tasks kiln may have (default 32 + 2 per vCPU)\n"
"  --net-base A.B        --net addresses come from A.B.0.0/16, 8 per slot (default 10.200)\n"
"  --gc                  remove what killed runs and --keep runs left, then exit\n"
"\n"
"Exit status: the command's; 128+N when a signal N killed it; 124 at --timeout;\n"
"125 when kiln-run, the jail, the VM or its agent failed; 126 the command is not\n"
"executable; 127 it was not found; 2 a bad command line (nothing was started).\n");
}

/* "OPT: 'VALUE' WHY", or "OPT: WHY" without a value. */
static int bad(struct error *err, const char *opt, const char *v, const char *why)
{
	if (v)
		return error_set(err, -EINVAL, "%s: '%s' %s", opt, v, why);
	return error_set(err, -EINVAL, "%s: %s", opt, why);
}

static int number(const char *opt, const char *v, uint64_t min, uint64_t max, uint32_t *out,
		  struct error *err)
{
	uint64_t n;
	if (parse_u64(v, max, &n) < 0 || n < min) {
		error_set(err, -EINVAL, "'%s' is not a number from %llu to %llu", v,
			  (unsigned long long)min, (unsigned long long)max);
		error_prefix(err, "%s", opt);
		return -EINVAL;
	}
	*out = (uint32_t)n;
	return 0;
}

/* --put LOCAL:GUEST: the guest path is absolute, so it starts at the last ":/". */
static int split_put(const char *v, struct run_file *f)
{
	const char *sep = NULL;
	for (const char *p = strstr(v, ":/"); p; p = strstr(p + 1, ":/"))
		sep = p;
	if (!sep || sep == v)
		return -EINVAL;
	/* LOCAL is a prefix of the option's own string: cut it there. */
	*(char *)sep = '\0';
	f->local = v;
	f->guest = sep + 1;
	return 0;
}

/* --get GUEST:LOCAL: the guest path ends at the first ':'. */
static int split_get(const char *v, struct run_file *f)
{
	const char *sep = strchr(v, ':');
	if (v[0] != '/' || !sep || sep[1] == '\0')
		return -EINVAL;
	*(char *)sep = '\0';
	f->guest = v;
	f->local = sep + 1;
	return 0;
}

static const char *basename_of(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

int run_options_parse(struct run_options *o, int argc, char **argv, const char *env_image,
		      struct error *err)
{
	static char script_guest[4096 + 16];
	static const char *script_argv[RUN_MAX_ARGS + 3];
	*o = (struct run_options){
		.image = env_image && *env_image ? env_image : "/var/lib/kiln/run-image",
		.vcpus = 1,
		.mem_mib = 256,
		.boot_timeout_s = 60,
		.workdir = "/tmp",
		.chroot_base = "/srv/kiln-run",
		.state_dir = "/run/kiln-run",
		.parent_cgroup = "kiln-run",
		.uid_base = 900000,
		.slots = 64,
		.net_base = { 10, 200 },
	};
	opterr = 0;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+e:C:nvh", longopts, NULL)) != -1) {
		int rc = 0;
		switch (c) {
		case OPT_IMAGE: o->image = optarg; break;
		case OPT_VCPUS: rc = number("--vcpus", optarg, 1, 32, &o->vcpus, err); break;
		case OPT_MEM: rc = number("--mem", optarg, 64, 65536, &o->mem_mib, err); break;
		case OPT_TIMEOUT:
			rc = number("--timeout", optarg, 1, 7 * 24 * 3600, &o->timeout_s, err);
			break;
		case OPT_BOOT_TIMEOUT:
			rc = number("--boot-timeout", optarg, 1, 3600, &o->boot_timeout_s, err);
			break;
		case OPT_PUT:
			if (o->n_puts == RUN_MAX_FILES)
				return bad(err, "--put", NULL, "given more than 32 times");
			if (split_put(optarg, &o->puts[o->n_puts]) < 0)
				return bad(err, "--put", optarg, "is not LOCAL:/GUEST_PATH");
			o->n_puts++;
			break;
		case OPT_GET:
			if (o->n_gets == RUN_MAX_FILES)
				return bad(err, "--get", NULL, "given more than 32 times");
			if (split_get(optarg, &o->gets[o->n_gets]) < 0)
				return bad(err, "--get", optarg, "is not /GUEST_PATH:LOCAL");
			o->n_gets++;
			break;
		case 'e':
			if (o->n_env == RUN_MAX_ENV)
				return bad(err, "--env", NULL, "given more than 256 times");
			if (optarg[0] == '=' || !strchr(optarg, '='))
				return bad(err, "--env", optarg, "is not NAME=VALUE");
			o->env[o->n_env++] = optarg;
			break;
		case 'C':
			if (optarg[0] != '/')
				return bad(err, "--workdir", optarg, "is not an absolute path");
			o->workdir = optarg;
			break;
		case 'n': o->no_stdin = true; break;
		case OPT_NET: o->net = true; break;
		case OPT_KEEP: o->keep = true; break;
		case OPT_NET_BASE: {
			unsigned a, b;
			char end;
			if (sscanf(optarg, "%3u.%3u%c", &a, &b, &end) != 2 || a > 255 || b > 255)
				return bad(err, "--net-base", optarg, "is not A.B (two octets)");
			o->net_base[0] = (uint8_t)a;
			o->net_base[1] = (uint8_t)b;
			break;
		}
		case OPT_DNS: {
			unsigned q[4];
			char end;
			if (sscanf(optarg, "%3u.%3u.%3u.%3u%c", &q[0], &q[1], &q[2], &q[3], &end) != 4 ||
			    q[0] > 255 || q[1] > 255 || q[2] > 255 || q[3] > 255)
				return bad(err, "--dns", optarg, "is not an IPv4 address");
			o->dns = optarg;
			break;
		}
		case OPT_JSON: o->json = optarg; break;
		case 'v': o->verbose++; break;
		case OPT_GC: o->gc = true; break;
		case OPT_JAILER: o->jailer = optarg; break;
		case OPT_KILN: o->kiln = optarg; break;
		case OPT_CHROOT_BASE: o->chroot_base = optarg; break;
		case OPT_STATE_DIR: o->state_dir = optarg; break;
		case OPT_PARENT_CGROUP:
			if (optarg[0] == '/' || strstr(optarg, "..") || optarg[0] == '\0')
				return bad(err, "--parent-cgroup", optarg,
					   "is not a relative path without '..'");
			o->parent_cgroup = optarg;
			break;
		case OPT_UID_BASE:
			rc = number("--uid-base", optarg, 1, UINT32_MAX - 8192, &o->uid_base, err);
			break;
		case OPT_SLOTS: rc = number("--slots", optarg, 1, 4096, &o->slots, err); break;
		case OPT_PIDS_MAX: rc = number("--pids-max", optarg, 8, 1u << 22, &o->pids_max, err);
			break;
		case 'h': o->help = true; return 0;
		case OPT_VERSION: o->version = true; return 0;
		default: {
			const char *what = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
			if (optopt && optopt < 256)
				error_set(err, -EINVAL, "-%c: unknown option, or its value is missing",
					  optopt);
			else
				error_set(err, -EINVAL, "%s: unknown option, or its value is missing",
					  what);
			return -EINVAL;
		}
		}
		if (rc < 0)
			return rc;
	}
	if (o->dns && !o->net)
		return bad(err, "--dns", NULL, "needs --net");
	if (o->gc) {
		if (optind < argc)
			return bad(err, "--gc", argv[optind], "given, but --gc takes no command");
		return 0;
	}
	if (optind >= argc)
		return error_set(err, -EINVAL, "no command: kiln-run [OPTIONS] -- COMMAND [ARG]..., "
				 "or kiln-run SCRIPT (see --help)");
	if (argc - optind > RUN_MAX_ARGS)
		return error_set(err, -EINVAL, "more than %d arguments", RUN_MAX_ARGS);
	/* getopt_long stops at "--" (and eats it) or at the first operand. */
	bool dashdash = strcmp(argv[optind - 1], "--") == 0;
	if (dashdash) {
		o->argv = (const char *const *)&argv[optind];
		return 0;
	}
	/* kiln-run SCRIPT [ARG]...: the script is copied to /tmp and run by its kind. */
	const char *s = argv[optind], *name = basename_of(s);
	if (name[0] == '\0' || strlen(name) > 4096)
		return bad(err, "SCRIPT", s, "is not a file name");
	snprintf(script_guest, sizeof(script_guest), "/tmp/%s", name);
	size_t n = strlen(name), k = 0;
	if (n > 3 && strcmp(name + n - 3, ".py") == 0)
		script_argv[k++] = "python3";
	else if (n > 3 && strcmp(name + n - 3, ".sh") == 0)
		script_argv[k++] = "sh";
	script_argv[k++] = script_guest;
	for (int i = optind + 1; i < argc; i++)
		script_argv[k++] = argv[i];
	script_argv[k] = NULL;
	o->script = s;
	o->script_guest = script_guest;
	o->argv = script_argv;
	return 0;
}
