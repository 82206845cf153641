/*
 * kiln's seccomp filters: every rule checked with a probe (the allowed form passes,
 * each argument perturbed is denied), a violation ends kiln with 148, every thread
 * is filtered, and the profile has no dead rules: every rule is used by a scenario
 * and no scenario makes a call outside the rules.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_client.h"
#include "kiln_util.h"

#define PROFILE "seccomp-profiles/x86_64.json"
#define MAX_RULES 128

enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_MASKED };

struct cond {
	unsigned int idx;
	bool dword;
	enum op op;
	uint64_t mask, val;
};

struct rule {
	char kind[16];
	char syscall[32];
	int nr;
	unsigned int ncond;
	struct cond c[6];
	bool covered;
};

static struct kt t;
static struct proc_result r;
static struct rule rules[MAX_RULES];
static unsigned int nrules;
static char build_dir[PATH_MAX];	/* where kiln's compiled filters are */
static char tools_dir[PATH_MAX];	/* the normal build: probe and seccompc */

static void load_profile(void)
{
	json_error_t jerr;
	json_t *root = json_load_file(PROFILE, 0, &jerr);
	const char *kind;
	json_t *k;

	cr_assert_not_null(root, "%s: %s", PROFILE, jerr.text);
	nrules = 0;
	json_object_foreach(root, kind, k) {
		size_t i;
		json_t *rule;
		json_array_foreach(json_object_get(k, "filter"), i, rule) {
			cr_assert_lt(nrules, MAX_RULES);
			struct rule *ru = &rules[nrules++];
			memset(ru, 0, sizeof(*ru));
			snprintf(ru->kind, sizeof(ru->kind), "%s", kind);
			snprintf(ru->syscall, sizeof(ru->syscall), "%s",
				 json_string_value(json_object_get(rule, "syscall")));
			ru->nr = seccomp_syscall_resolve_name(ru->syscall);
			cr_assert_geq(ru->nr, 0, "%s", ru->syscall);
			size_t j;
			json_t *a;
			json_array_foreach(json_object_get(rule, "args"), j, a) {
				struct cond *c = &ru->c[ru->ncond++];
				json_t *op = json_object_get(a, "op");
				c->idx = (unsigned int)json_integer_value(json_object_get(a, "index"));
				c->dword = !strcmp(json_string_value(json_object_get(a, "type")), "dword");
				c->val = (uint64_t)json_integer_value(json_object_get(a, "val"));
				if (json_is_object(op)) {
					c->op = OP_MASKED;
					c->mask = (uint64_t)json_integer_value(
						json_object_get(op, "masked_eq"));
				} else {
					static const char *const names[] = { "eq", "ne", "lt", "le",
									     "gt", "ge" };
					for (int n = 0; n < 6; n++)
						if (!strcmp(json_string_value(op), names[n]))
							c->op = (enum op)n;
				}
			}
		}
	}
	json_decref(root);
}

static bool cond_holds(const struct cond *c, const uint64_t *args)
{
	uint64_t v = c->dword ? args[c->idx] & 0xffffffffu : args[c->idx];
	switch (c->op) {
	case OP_EQ: return v == c->val;
	case OP_NE: return v != c->val;
	case OP_LT: return v < c->val;
	case OP_LE: return v <= c->val;
	case OP_GT: return v > c->val;
	case OP_GE: return v >= c->val;
	case OP_MASKED: return (v & c->mask) == c->val;
	}
	return false;
}

static bool rule_matches(const struct rule *ru, const char *kind, int nr, const uint64_t *args)
{
	if (strcmp(ru->kind, kind) != 0 || ru->nr != nr)
		return false;
	for (unsigned int i = 0; i < ru->ncond; i++)
		if (!cond_holds(&ru->c[i], args))
			return false;
	return true;
}

static struct rule *find_rule(const char *kind, int nr, const uint64_t *args)
{
	for (unsigned int i = 0; i < nrules; i++)
		if (rule_matches(&rules[i], kind, nr, args))
			return &rules[i];
	return NULL;
}

static void setup(void)
{
	kt_init(&t);
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", t.kiln);
	snprintf(build_dir, sizeof(build_dir), "%s", dirname(tmp));
	snprintf(tmp, sizeof(tmp), "%s", getenv("GUESTS"));
	snprintf(tools_dir, sizeof(tools_dir), "%s", dirname(dirname(tmp)));
	const char *argv[] = { t.kiln, "--version", NULL };
	proc_run(argv, NULL, 10000, &r);
	if (strstr(r.out, "sanitizer build"))
		cr_skip_test("sanitizer builds of kiln install no seccomp filters");
	load_profile();
}

static void teardown(void) { kt_fini(&t); }

TestSuite(kiln_seccomp, .init = setup, .fini = teardown, .timeout = 240);

static const char *filter_file(void)
{
	static char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/seccomp/x86_64.bpf", build_dir);
	return path;
}

/* True when the probe survived the call (the filter allowed it). */
static bool probe_allows(const char *kind, int nr, const uint64_t *args)
{
	char probe[PATH_MAX + 64], nrs[16], a[6][24];
	snprintf(probe, sizeof(probe), "%s/tests/helpers/seccomp_probe", tools_dir);
	snprintf(nrs, sizeof(nrs), "%d", nr);
	for (int i = 0; i < 6; i++)
		snprintf(a[i], sizeof(a[i]), "0x%llx", (unsigned long long)args[i]);
	const char *argv[] = { probe, filter_file(), kind, nrs, a[0], a[1], a[2], a[3], a[4],
			       a[5], NULL };
	proc_run(argv, NULL, 10000, &r);
	cr_assert(r.status != 2 && r.status != 127, "probe failed: %s", r.err);
	return r.status != 128 + SIGSYS;
}

/* A value for one condition's argument that satisfies it. */
static uint64_t satisfying(const struct cond *c)
{
	switch (c->op) {
	case OP_EQ: case OP_LE: case OP_GE: case OP_MASKED: return c->val;
	case OP_NE: case OP_GT: return c->val + 1;
	case OP_LT: return c->val - 1;
	}
	return c->val;
}

/* Values that break one condition, most specific first. */
static unsigned int breaking(const struct cond *c, uint64_t *out)
{
	unsigned int n = 0;
	switch (c->op) {
	case OP_EQ:
		out[n++] = c->val + 1;
		out[n++] = c->val ^ 0x10000;
		break;
	case OP_NE: case OP_LT: case OP_GT:
		out[n++] = c->val;
		break;
	case OP_LE:
		out[n++] = c->val + 1;
		break;
	case OP_GE:
		if (c->val)
			out[n++] = c->val - 1;
		break;
	case OP_MASKED:
		for (int b = 0; b < 64 && n < 16; b++)
			if (c->mask & (1ULL << b))
				out[n++] = c->val ^ (1ULL << b);
		break;
	}
	return n;
}

Test(kiln_seccomp, every_rule_allows_its_form_and_denies_each_argument_perturbed)
{
	unsigned int denials = 0;
	for (unsigned int i = 0; i < nrules; i++) {
		struct rule *ru = &rules[i];
		uint64_t args[6] = { ~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL, ~0ULL };
		for (unsigned int j = 0; j < ru->ncond; j++)
			args[ru->c[j].idx] = satisfying(&ru->c[j]);
		cr_assert(rule_matches(ru, ru->kind, ru->nr, args));
		cr_assert(probe_allows(ru->kind, ru->nr, args), "%s: %s denied in its allowed form",
			  ru->kind, ru->syscall);
		for (unsigned int j = 0; j < ru->ncond; j++) {
			uint64_t cand[16];
			unsigned int n = breaking(&ru->c[j], cand);
			for (unsigned int k = 0; k < n; k++) {
				uint64_t bad[6];
				memcpy(bad, args, sizeof(bad));
				bad[ru->c[j].idx] = cand[k];
				if (find_rule(ru->kind, ru->nr, bad))
					continue;	/* another rule allows this value */
				cr_assert_not(probe_allows(ru->kind, ru->nr, bad),
					      "%s: %s allowed with argument %u = 0x%llx", ru->kind,
					      ru->syscall, ru->c[j].idx, (unsigned long long)cand[k]);
				denials++;
				break;
			}
		}
	}
	cr_assert_gt(denials, 10, "only %u perturbed arguments were checked", denials);
	/* And a call no rule names is denied in every thread kind. */
	uint64_t none[6] = { 0 };
	cr_assert_not(probe_allows("vmm", SYS_getppid, none));
	cr_assert_not(probe_allows("vcpu", SYS_getppid, none));
}

static void check_violation(const char *kind, const char *thread)
{
	char testhooks[PATH_MAX + 32], want[160];
	snprintf(testhooks, sizeof(testhooks), "%s/kiln-testhooks", build_dir);
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"metrics\": "
		  "{\"metrics_path\": \"%s\"}}", kt_guest("idle"), kt_path(&t, "metrics"));
	setenv("KILN_TEST_BAD_SYSCALL", kind, 1);
	const char *argv[] = { testhooks, "--no-api", "--config-file", t.config, NULL };
	proc_run(argv, NULL, 20000, &r);
	unsetenv("KILN_TEST_BAD_SYSCALL");
	cr_assert_eq(r.status, 148, "status %d: %s", r.status, r.err);
	snprintf(want, sizeof(want), ":%s] Shutting down VM after intercepting signal SIGSYS "
		 "(bad syscall %d)", thread, SYS_getppid);
	cr_assert(strstr(r.err, want), "want \"%s\" in:\n%s", want, r.err);
	char buf[4096] = "";
	FILE *f = fopen(kt_path(&t, "metrics"), "r");
	cr_assert_not_null(f);
	buf[fread(buf, 1, sizeof(buf) - 1, f)] = '\0';
	fclose(f);
	cr_assert(strstr(buf, "{\"seccomp\":{\"num_faults\":1}}"), "%s", buf);
}

Test(kiln_seccomp, forbidden_call_on_the_main_thread_exits_148)
{
	check_violation("vmm", "main");
}

Test(kiln_seccomp, forbidden_call_on_a_vcpu_thread_exits_148)
{
	check_violation("vcpu", "kiln_vcpu 0");
}

/* Seccomp mode of every thread of pid, skipping KVM's own worker threads. */
static int threads_in_mode(pid_t pid, int mode, int *total)
{
	char path[320], line[256];
	int n = 0;
	*total = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *d = opendir(path);
	cr_assert_not_null(d);
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		/*
		 * Kernel workers that run no user code: PF_USER_WORKER (0x4000), e.g.
		 * kvm-nx-lpage-recovery, and PF_IO_WORKER (0x10), io_uring's.
		 */
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", pid, e->d_name);
		FILE *f = fopen(path, "r");
		unsigned long flags = 0;
		if (f && fgets(line, sizeof(line), f)) {
			const char *p = strrchr(line, ')');
			sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %lu", &flags);
		}
		if (f)
			fclose(f);
		if (flags & (0x4000 | 0x10))
			continue;
		(*total)++;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/status", pid, e->d_name);
		f = fopen(path, "r");
		int seccomp = -1, nnp = -1;
		while (f && fgets(line, sizeof(line), f)) {
			sscanf(line, "Seccomp: %d", &seccomp);
			sscanf(line, "NoNewPrivs: %d", &nnp);
		}
		if (f)
			fclose(f);
		if (seccomp == mode && (mode == 0 || nnp == 1))
			n++;
	}
	closedir(d);
	return n;
}

static void run_idle_and_count(const char *extra, int mode, int vcpus)
{
	kt_guest_config(&t, "idle", (unsigned int)vcpus, 64);
	const char *argv[] = { t.kiln, "--no-api", "--config-file", t.config, extra, NULL };
	int out, err_fd;
	pid_t pid = proc_spawn(argv, NULL, &out, &err_fd);
	char buf[256] = "";
	cr_assert(proc_read_until(out, buf, sizeof(buf), "idle: ready\n", 20000));
	int total, n = threads_in_mode(pid, mode, &total);
	kill(pid, SIGTERM);
	cr_assert_eq(proc_wait(pid, 10000), 128 + SIGTERM);
	cr_assert_eq(total, vcpus + 1, "%d threads", total);
	cr_assert_eq(n, total, "%d of %d threads in seccomp mode %d", n, total, mode);
	if (mode == 0) {
		char errbuf[4096] = "";
		cr_assert(proc_read_until(err_fd, errbuf, sizeof(errbuf), "SECCOMP IS OFF", 5000),
			  "%s", errbuf);
	}
	close(out);
	close(err_fd);
}

Test(kiln_seccomp, every_thread_is_filtered_with_no_new_privs)
{
	run_idle_and_count(NULL, 2, 3);
}

Test(kiln_seccomp, no_seccomp_warns_and_filters_nothing)
{
	run_idle_and_count("--no-seccomp", 0, 2);
}

Test(kiln_seccomp, custom_filter_files)
{
	kt_guest_config(&t, "hello", 1, 64);
	kt_run(&t, &r, NULL, 20000, "--seccomp-filter", filter_file(), NULL);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "Hello from a kiln test guest!\n");

	FILE *f = fopen(kt_path(&t, "junk.bpf"), "w");
	fputs("this is not BPF", f);
	fclose(f);
	kt_run(&t, &r, NULL, 20000, "--seccomp-filter", kt_path(&t, "junk.bpf"), NULL);
	cr_assert_eq(r.status, 153, "%s", r.err);
	cr_assert(strstr(r.err, "not a compiled kiln filter file (bad magic)"), "%s", r.err);
	cr_assert_str_eq(r.out, "");

	kt_run(&t, &r, NULL, 20000, "--seccomp-filter", filter_file(), "--no-seccomp", NULL);
	cr_assert_eq(r.status, 153, "%s", r.err);
}

/* Compile a profile written here with the build's seccompc. */
static const char *compile(const char *name, const char *json)
{
	static char out[PATH_MAX + 128];
	char src[PATH_MAX + 64], seccompc[PATH_MAX + 32];
	snprintf(src, sizeof(src), "%s", kt_path(&t, name));
	FILE *f = fopen(src, "w");
	fputs(json, f);
	fclose(f);
	snprintf(out, sizeof(out), "%s.bpf", src);
	snprintf(seccompc, sizeof(seccompc), "%s/tools/seccompc", tools_dir);
	const char *argv[] = { seccompc, "--arch", "x86_64", src, "--bpf", out, NULL };
	proc_run(argv, NULL, 10000, &r);
	cr_assert_eq(r.status, 0, "%s", r.err);
	return out;
}

Test(kiln_seccomp, a_filter_missing_a_thread_kind_is_refused)
{
	const char *bpf = compile("vmm-only.json", "{\"vmm\": {\"default_action\": \"trap\", "
		"\"filter_action\": \"allow\", \"filter\": [{\"syscall\": \"read\", \"comment\": "
		"\"x\"}]}}");
	kt_guest_config(&t, "hello", 1, 64);
	kt_run(&t, &r, NULL, 20000, "--seccomp-filter", bpf, NULL);
	cr_assert_eq(r.status, 153, "%s", r.err);
	cr_assert(strstr(r.err, "no filter for the \"vcpu\" threads"), "%s", r.err);
}

Test(kiln_seccomp, a_filter_denying_what_a_vcpu_needs_kills_kiln)
{
	/* The vCPU filter lacks ioctl: its first KVM_RUN is a violation. */
	const char *bpf = compile("no-write.json",
		"{\"vmm\": {\"default_action\": \"allow\", \"filter_action\": \"trap\", "
		"\"filter\": [{\"syscall\": \"getppid\", \"comment\": \"x\"}]}, "
		"\"vcpu\": {\"default_action\": \"allow\", \"filter_action\": \"trap\", "
		"\"filter\": [{\"syscall\": \"ioctl\", \"comment\": \"x\"}]}}");
	kt_guest_config(&t, "hello", 1, 64);
	kt_run(&t, &r, NULL, 20000, "--seccomp-filter", bpf, NULL);
	cr_assert_eq(r.status, 148, "status %d: %s", r.status, r.err);
	cr_assert_str_eq(r.out, "");
	cr_assert(strstr(r.err, "[anonymous-instance:kiln_vcpu 0] Shutting down VM after "
			 "intercepting signal SIGSYS (bad syscall 16)"), "%s", r.err);
}

/* ---- Coverage: which calls each thread makes once filtered, against the rules. ---- */

struct coverage {
	char violations[4096];
	size_t vlen;
};

/* With `api`, the first thread after the main one is the API thread (vCPUs come later). */
static void scan_trace(const char *path, struct coverage *cov, bool api)
{
	char line[4096];
	pid_t main_pid = 0, api_pid = 0;
	pid_t filtered[64];
	unsigned int nfiltered = 0;
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);

	while (fgets(line, sizeof(line), f)) {
		int pid;
		char name[64];
		int off = 0;
		if (sscanf(line, "%d %63[a-z0-9_](%n", &pid, name, &off) != 2 || off == 0)
			continue;
		if (!main_pid)
			main_pid = pid;
		else if (api && !api_pid && pid != main_pid)
			api_pid = pid;
		bool is_filtered = false;
		for (unsigned int i = 0; i < nfiltered; i++)
			is_filtered |= filtered[i] == pid;
		if (!strcmp(name, "seccomp")) {
			if (!is_filtered && nfiltered < 64)
				filtered[nfiltered++] = pid;
			continue;
		}
		if (!is_filtered)
			continue;
		uint64_t args[6] = { 0 };
		char *p = line + off;
		for (int i = 0; i < 6 && *p && *p != ')' && *p != ' '; i++) {
			args[i] = strtoull(p, &p, 0);
			if (*p == ',')
				p += 2;
		}
		const char *kind = pid == main_pid ? "vmm" : pid == api_pid ? "api" : "vcpu";
		int nr = seccomp_syscall_resolve_name(name);
		struct rule *ru = find_rule(kind, nr, args);
		if (ru) {
			ru->covered = true;
		} else if (cov->vlen < sizeof(cov->violations) - 200) {
			cov->vlen += (size_t)snprintf(cov->violations + cov->vlen,
				sizeof(cov->violations) - cov->vlen, "  %s: %s(0x%llx, 0x%llx, 0x%llx)\n",
				kind, name, (unsigned long long)args[0], (unsigned long long)args[1],
				(unsigned long long)args[2]);
		}
	}
	fclose(f);
}

/* argv for kiln under strace with the allow-all filters, tracing into `trace`. */
static void traced_argv(const char **argv, const char *allow_all, const char *trace)
{
	static const char *strace = "/usr/bin/strace";
	int n = 0;
	argv[n++] = strace;
	argv[n++] = "-f";
	argv[n++] = "-qq";
	argv[n++] = "-e";
	argv[n++] = "raw=all";
	argv[n++] = "-o";
	argv[n++] = trace;
	argv[n++] = t.kiln;
	argv[n++] = "--seccomp-filter";
	argv[n++] = allow_all;
	argv[n++] = "--no-api";
	argv[n++] = "--config-file";
	argv[n++] = t.config;
	argv[n] = NULL;
}

static void scenario(struct coverage *cov, const char *allow_all, const char *name,
		     const char *guest, unsigned int vcpus, const char *in)
{
	const char *argv[20];
	char trace[PATH_MAX + 64];
	snprintf(trace, sizeof(trace), "%s", kt_path(&t, name));
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"machine-config\": "
		  "{\"vcpu_count\": %u, \"mem_size_mib\": 64}, \"metrics\": {\"metrics_path\": "
		  "\"%s\"}}", kt_guest(guest), vcpus, kt_path(&t, "metrics"));
	traced_argv(argv, allow_all, trace);
	proc_run(argv, in, 60000, &r);
	cr_assert(!r.timed_out, "%s timed out", name);
	scan_trace(trace, cov, false);
}

/* The virtio guests against real images: every engine and the entropy device. */
static void scenario_virtio(struct coverage *cov, const char *allow_all, const char *name,
			    const char *guest, const char *engine)
{
	const char *argv[20];
	char trace[PATH_MAX + 64], data[PATH_MAX + 64], ro[PATH_MAX + 64];
	snprintf(trace, sizeof(trace), "%s", kt_path(&t, name));
	snprintf(data, sizeof(data), "%s", kt_path(&t, "data.img"));
	snprintf(ro, sizeof(ro), "%s", kt_path(&t, "ro.img"));
	FILE *f = fopen(data, "w");
	fclose(f);
	cr_assert_eq(truncate(data, 1 << 20), 0);
	f = fopen(ro, "w");
	fclose(f);
	cr_assert_eq(truncate(ro, 64 << 10), 0);
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"machine-config\": "
		  "{\"vcpu_count\": 1, \"mem_size_mib\": 64}, \"entropy\": {}, \"drives\": ["
		  "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", \"is_root_device\": true, "
		  "\"cache_type\": \"Writeback\", \"io_engine\": \"%s\"}, {\"drive_id\": \"ro\", "
		  "\"path_on_host\": \"%s\", \"is_root_device\": false, \"is_read_only\": true, "
		  "\"io_engine\": \"%s\"}]}", kt_guest(guest), data, engine, ro, engine);
	traced_argv(argv, allow_all, trace);
	proc_run(argv, NULL, 60000, &r);
	cr_assert(!r.timed_out, "%s timed out", name);
	scan_trace(trace, cov, false);
}

/* virtio-vsock both ways: host clients through uds_path, guest connections to <uds>_7000. */
static void scenario_vsock(struct coverage *cov, const char *allow_all, const char *name)
{
	const char *argv[20];
	char trace[PATH_MAX + 64], uds[PATH_MAX + 64];
	struct kt_vsock v;
	snprintf(trace, sizeof(trace), "%s", kt_path(&t, name));
	snprintf(uds, sizeof(uds), "%s", kt_path(&t, "v.sock"));
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"machine-config\": "
		  "{\"vcpu_count\": 1, \"mem_size_mib\": 64}, \"vsock\": {\"guest_cid\": 3, "
		  "\"uds_path\": \"%s\"}}", kt_guest("virtio_vsock"), uds);
	kt_vsock_start(uds, 1000, &v);
	traced_argv(argv, allow_all, trace);
	proc_run(argv, NULL, 60000, &r);
	kt_vsock_finish(&v);
	cr_assert(!r.timed_out, "%s timed out", name);
	cr_assert(strstr(r.out, "vsock: done\n"), "%s: %s", name, r.out);
	scan_trace(trace, cov, false);
}

/*
 * virtio-net on a TAP in a namespace of the test's own: activation sets the TAP's
 * offloads, a frame goes out with writev.
 */
static void scenario_net(struct coverage *cov, const char *allow_all, const char *name)
{
	const char *argv[20];
	char trace[PATH_MAX + 64];
	snprintf(trace, sizeof(trace), "%s", kt_path(&t, name));
	kt_tap("tap0", 1500);
	kt_config(&t, "{\"boot-source\": {\"kernel_image_path\": \"%s\", \"boot_args\": "
		  "\"console=ttyS0 net=send\"}, \"machine-config\": {\"vcpu_count\": 1, "
		  "\"mem_size_mib\": 64}, \"network-interfaces\": [{\"iface_id\": \"eth0\", "
		  "\"host_dev_name\": \"tap0\"}]}", kt_guest("virtio_net"));
	traced_argv(argv, allow_all, trace);
	proc_run(argv, NULL, 60000, &r);
	cr_assert(!r.timed_out, "%s timed out", name);
	cr_assert(strstr(r.out, "net: tx 64 bytes, used 0\nnet: done\n"), "%s: %s", name, r.out);
	scan_trace(trace, cov, false);
}

/* A live run: stdin a pipe or a terminal, input typed once `ready` is printed, then
 * optionally a signal to the process or to vCPU 1. */
struct live {
	const char *guest;
	unsigned int vcpus;
	bool tty;
	const char *ready;
	const char *input;
	int sig;
	bool to_vcpu;
};

static pid_t find_thread(pid_t pid, const char *name)
{
	char tdir[64];
	pid_t found = 0;
	snprintf(tdir, sizeof(tdir), "/proc/%d/task", pid);
	DIR *d = opendir(tdir);
	for (struct dirent *e; d && (e = readdir(d));) {
		char comm[64] = "", cpath[400];
		snprintf(cpath, sizeof(cpath), "%s/%s/comm", tdir, e->d_name);
		FILE *c = fopen(cpath, "r");
		if (c && fgets(comm, sizeof(comm), c) && !strncmp(comm, name, strlen(name)))
			found = atoi(e->d_name);
		if (c)
			fclose(c);
	}
	if (d)
		closedir(d);
	return found;
}

static void scenario_live(struct coverage *cov, const char *allow_all, const char *name,
			  const struct live *l)
{
	const char *argv[20];
	char trace[PATH_MAX + 64];
	int in_w = -1, in_r = -1, master = -1, p[2];

	snprintf(trace, sizeof(trace), "%s", kt_path(&t, name));
	kt_guest_config(&t, l->guest, l->vcpus, 64);
	traced_argv(argv, allow_all, trace);
	if (l->tty) {
		master = posix_openpt(O_RDWR | O_NOCTTY);
		cr_assert(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0);
		in_r = open(ptsname(master), O_RDWR | O_NOCTTY);
		in_w = master;
	} else {
		int q[2];
		cr_assert_eq(pipe(q), 0);
		in_r = q[0];
		in_w = q[1];
	}
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in_r, 0);
		dup2(p[1], 1);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		close(in_w);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	char buf[512] = "";
	cr_assert(proc_read_until(p[0], buf, sizeof(buf), l->ready, 30000), "%s: %s", name, buf);
	if (l->input)
		cr_assert_eq(write(in_w, l->input, strlen(l->input)), (ssize_t)strlen(l->input));
	if (l->sig) {
		/* strace's child is kiln. */
		char path[64], kids[64] = "";
		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
		FILE *f = fopen(path, "r");
		cr_assert(f && fgets(kids, sizeof(kids), f));
		fclose(f);
		pid_t kiln = atoi(kids);
		if (l->to_vcpu) {
			pid_t vcpu = find_thread(kiln, "kiln_vcpu 1");
			cr_assert_gt(vcpu, 0);
			syscall(SYS_tgkill, kiln, vcpu, l->sig);
		} else {
			kill(kiln, l->sig);
		}
	}
	cr_assert_geq(proc_wait(pid, 30000), 0, "%s did not end", name);
	close(p[0]);
	close(in_w);
	close(in_r);
	scan_trace(trace, cov, false);
}

/*
 * The API: a VM configured and started over the socket, asked about after the start,
 * paused and resumed, then a fault on the API thread, whose handler exits there.
 */
static void scenario_api(struct coverage *cov, const char *allow_all)
{
	char trace[PATH_MAX + 64], sock[PATH_MAX + 64], body[PATH_MAX + 256], resp[8192];
	char buf[512] = "";
	int out = -1;

	snprintf(trace, sizeof(trace), "%s", kt_path(&t, "api.trace"));
	snprintf(sock, sizeof(sock), "%s", kt_path(&t, "api.sock"));
	const char *argv[] = { "/usr/bin/strace", "-f", "-qq", "-e", "raw=all", "-o", trace,
			       t.kiln, "--seccomp-filter", allow_all, "--api-sock", sock, NULL };
	pid_t pid = proc_spawn(argv, NULL, &out, NULL);
	cr_assert(api_wait_socket(sock, 30000), "the API socket never answered");
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}", kt_guest("idle"));
	cr_assert_eq(api_call(sock, "PUT", "/boot-source", body, resp, sizeof(resp)), 204, "%s",
		     resp);
	cr_assert_eq(api_call(sock, "PUT", "/machine-config", "{\"vcpu_count\": 2, "
			      "\"mem_size_mib\": 64}", resp, sizeof(resp)), 204, "%s", resp);
	/* Two drives, a writable and a read-only one, whose images PATCH replaces later. */
	static const char *const images[] = { "rw.img", "ro.img", "rw2.img", "ro2.img" };
	for (unsigned int i = 0; i < sizeof(images) / sizeof(images[0]); i++) {
		FILE *img = fopen(kt_path(&t, images[i]), "w");
		cr_assert_not_null(img);
		fclose(img);
		cr_assert_eq(truncate(kt_path(&t, images[i]), 64 << 10), 0);
	}
	cr_assert_eq(mkfifo(kt_path(&t, "fifo"), 0600), 0);
	char url[64];
	snprintf(body, sizeof(body), "{\"drive_id\": \"rw\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": false}", kt_path(&t, "rw.img"));
	cr_assert_eq(api_call(sock, "PUT", "/drives/rw", body, resp, sizeof(resp)), 204, "%s",
		     resp);
	snprintf(body, sizeof(body), "{\"drive_id\": \"ro\", \"path_on_host\": \"%s\", "
		 "\"is_root_device\": false, \"is_read_only\": true}", kt_path(&t, "ro.img"));
	cr_assert_eq(api_call(sock, "PUT", "/drives/ro", body, resp, sizeof(resp)), 204, "%s",
		     resp);
	cr_assert_eq(api_call(sock, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}",
			      resp, sizeof(resp)), 204, "%s", resp);
	cr_assert(proc_read_until(out, buf, sizeof(buf), "idle: ready\n", 30000), "%s", buf);
	/* PATCH /drives: new images (opened on the main thread), refused paths, a new limiter. */
	static const struct { const char *id, *file; int status; } patches[] = {
		{ "rw", "rw2.img", 204 }, { "ro", "ro2.img", 204 }, { "rw", "missing", 400 },
		{ "rw", "fifo", 400 }, { "rw", "api.sock", 400 },
	};
	for (unsigned int i = 0; i < sizeof(patches) / sizeof(patches[0]); i++) {
		snprintf(url, sizeof(url), "/drives/%s", patches[i].id);
		snprintf(body, sizeof(body), "{\"drive_id\": \"%s\", \"path_on_host\": \"%s\"}",
			 patches[i].id, kt_path(&t, patches[i].file));
		cr_assert_eq(api_call(sock, "PATCH", url, body, resp, sizeof(resp)),
			     patches[i].status, "%s: %s", patches[i].file, resp);
	}
	cr_assert_eq(api_call(sock, "PATCH", "/drives/rw", "{\"drive_id\": \"rw\", "
			      "\"rate_limiter\": {\"ops\": {\"size\": 100, \"refill_time\": 1000}}}",
			      resp, sizeof(resp)), 204, "%s", resp);
	cr_assert_eq(api_call(sock, "GET", "/", NULL, resp, sizeof(resp)), 200, "%s", resp);
	cr_assert_eq(api_call(sock, "GET", "/vm/config", NULL, resp, sizeof(resp)), 200);
	cr_assert_eq(api_call(sock, "PUT", "/vsock", "{}", resp, sizeof(resp)), 400);
	cr_assert_eq(api_call(sock, "PATCH", "/vm", "{\"state\": \"Paused\"}", resp,
			      sizeof(resp)), 204, "%s", resp);
	cr_assert_eq(api_call(sock, "PATCH", "/vm", "{\"state\": \"Resumed\"}", resp,
			      sizeof(resp)), 204, "%s", resp);
	/* strace's child is kiln. */
	char path[64], kids[64] = "";
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	FILE *f = fopen(path, "r");
	cr_assert(f && fgets(kids, sizeof(kids), f));
	fclose(f);
	pid_t kiln = atoi(kids), api = find_thread(kiln, "kiln_api");
	cr_assert_gt(api, 0);
	syscall(SYS_tgkill, kiln, api, SIGSEGV);
	cr_assert_geq(proc_wait(pid, 30000), 0, "kiln did not end");
	close(out);
	scan_trace(trace, cov, true);
}

Test(kiln_seccomp, profile_has_no_dead_rules_and_scenarios_make_no_other_calls)
{
	if (access("/usr/bin/strace", X_OK) != 0)
		cr_skip_test("strace is not installed");
	kt_netns();	/* for virtio-net's TAP */
	/* The real profile, compiled to allow everything but installed at the same places. */
	static char aa[PATH_MAX + 64], seccompc[PATH_MAX + 32];
	snprintf(aa, sizeof(aa), "%s", kt_path(&t, "allow-all.bpf"));
	snprintf(seccompc, sizeof(seccompc), "%s/tools/seccompc", tools_dir);
	const char *cargv[] = { seccompc, "--arch", "x86_64", PROFILE, "--allow-all", "--bpf", aa,
				NULL };
	proc_run(cargv, NULL, 10000, &r);
	cr_assert_eq(r.status, 0, "%s", r.err);

	struct coverage cov = { .vlen = 0 };
	char input[1100];
	for (int i = 0; i < 1000; i++)
		input[i] = (char)('a' + i % 16);
	memcpy(input + 1000, "q", 2);
	scenario(&cov, aa, "hello.trace", "hello", 1, NULL);
	scenario_virtio(&cov, aa, "blk-sync.trace", "virtio_blk", "Sync");
	scenario_virtio(&cov, aa, "blk-async.trace", "virtio_blk", "Async");
	scenario_virtio(&cov, aa, "rng.trace", "virtio_rng", "Sync");
	scenario_vsock(&cov, aa, "vsock.trace");
	scenario_net(&cov, aa, "net.trace");
	scenario(&cov, aa, "smp.trace", "smp", 4, NULL);
	scenario(&cov, aa, "echo.trace", "echo", 1, input);
	scenario(&cov, aa, "triplefault.trace", "triplefault", 1, NULL);
	/* Typed once the guest waits: the main thread's input raises the UART interrupt. */
	scenario_live(&cov, aa, "typed.trace", &(struct live){ .guest = "echo", .vcpus = 1,
		      .ready = "echo: ready\n", .input = "hi q" });
	/* On a terminal, stopped by SIGTERM: the main thread restores the terminal. */
	scenario_live(&cov, aa, "term.trace", &(struct live){ .guest = "idle", .vcpus = 2,
		      .tty = true, .ready = "idle: ready\n", .sig = SIGTERM });
	/* A fatal signal on a vCPU thread: the handler restores the terminal and exits there. */
	scenario_live(&cov, aa, "vcpu-segv.trace", &(struct live){ .guest = "idle", .vcpus = 2,
		      .tty = true, .ready = "idle: ready\n", .sig = SIGSEGV, .to_vcpu = true });
	scenario_api(&cov, aa);

	char dead[4096] = "";
	size_t dlen = 0;
	/*
	 * futex is called only when a lock or a condition is contended at that moment (the
	 * API thread's wait for the main thread's answer returns without it when the answer
	 * came first), which no scenario can force: a futex rule left unexercised is not
	 * reported dead.
	 */
	for (unsigned int i = 0; i < nrules && dlen < sizeof(dead) - 200; i++)
		if (!rules[i].covered && strcmp(rules[i].syscall, "futex") != 0)
			dlen += (size_t)snprintf(dead + dlen, sizeof(dead) - dlen, "  %s: %s (rule %u)\n",
						 rules[i].kind, rules[i].syscall, i);
	cr_assert_eq(cov.vlen, 0u, "calls no rule allows:\n%s", cov.violations);
	cr_assert_eq(dlen, 0u, "rules no scenario exercises:\n%s", dead);
}

Test(kiln_seccomp, the_aarch64_profile_compiles_for_aarch64)
{
	char seccompc[PATH_MAX + 32], out[PATH_MAX + 64], buf[64] = "";
	snprintf(seccompc, sizeof(seccompc), "%s/tools/seccompc", tools_dir);
	snprintf(out, sizeof(out), "%s", kt_path(&t, "aarch64.bpf"));
	const char *argv[] = { seccompc, "--arch", "aarch64", "seccomp-profiles/aarch64.json",
			       "--bpf", out, NULL };
	proc_run(argv, NULL, 10000, &r);
	cr_assert_eq(r.status, 0, "%s", r.err);
	FILE *f = fopen(out, "rb");
	cr_assert_not_null(f);
	cr_assert_eq(fread(buf, 1, 12, f), 12u);
	fclose(f);
	cr_assert(memcmp(buf, "KILNBPF1\3\0\0\0", 12) == 0, "not three filters in kiln's format");
	/* A system call that exists only on x86-64 is refused for arm64 by name. */
	const char *bad[] = { seccompc, "--arch", "aarch64", "seccomp-profiles/x86_64.json",
			      "--bpf", out, NULL };
	proc_run(bad, NULL, 10000, &r);
	cr_assert_eq(r.status, 1);
	cr_assert(strstr(r.err, "\"epoll_wait\" is not a system call on this architecture"), "%s",
		  r.err);
}
