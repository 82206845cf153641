/*
 * seccompc: compile a kiln seccomp profile (JSON, Firecracker's shape) into BPF with
 * libseccomp, at build time. Writes a C file that embeds every thread kind's filter
 * in kiln, and/or a compiled-filter file for `kiln --seccomp-filter`.
 *
 *   seccompc --arch x86_64|aarch64 PROFILE.json [--c OUT.c] [--bpf OUT.bpf] [--allow-all]
 *
 * --allow-all compiles, for every thread kind of the profile, a filter that allows
 * everything: kiln still installs it where the real one would go, which is how the
 * tests see which system calls each thread makes once filtered.
 */
#include <errno.h>
#include <stdbool.h>
#include <jansson.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_KINDS 4
#define NAME_MAX_LEN 16
#define MAX_INSNS 4096

struct compiled {
	char name[NAME_MAX_LEN];
	struct sock_filter *insns;
	uint32_t len;
};

static const char *profile_path;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "seccompc: %s: ", profile_path ? profile_path : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void check_keys(json_t *obj, const char *where, const char *const *keys, size_t n)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		size_t i;
		for (i = 0; i < n && strcmp(key, keys[i]) != 0; i++)
			;
		if (i == n)
			die("%s.%s: unknown key", where, key);
	}
}

static uint32_t action(json_t *v, const char *where)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (!strcmp(s, "allow")) return SCMP_ACT_ALLOW;
		if (!strcmp(s, "trap")) return SCMP_ACT_TRAP;
		if (!strcmp(s, "kill_process") || !strcmp(s, "kill")) return SCMP_ACT_KILL_PROCESS;
		if (!strcmp(s, "kill_thread")) return SCMP_ACT_KILL_THREAD;
		if (!strcmp(s, "log")) return SCMP_ACT_LOG;
		die("%s: unknown action \"%s\"", where, s);
	}
	json_t *e = json_object_get(v, "errno");
	if (json_is_object(v) && json_object_size(v) == 1 && json_is_integer(e))
		return SCMP_ACT_ERRNO((uint16_t)json_integer_value(e));
	die("%s: expected an action (allow, trap, kill_process, kill_thread, log, "
	    "{\"errno\": N})", where);
}

static struct scmp_arg_cmp arg_cmp(json_t *a, const char *where)
{
	static const char *const keys[] = { "index", "type", "op", "val", "comment" };
	json_t *index = json_object_get(a, "index"), *type = json_object_get(a, "type");
	json_t *op = json_object_get(a, "op"), *val = json_object_get(a, "val");
	struct scmp_arg_cmp c = { 0 };

	if (!json_is_object(a))
		die("%s: expected an object", where);
	check_keys(a, where, keys, sizeof(keys) / sizeof(keys[0]));
	if (!json_is_integer(index) || json_integer_value(index) < 0 ||
	    json_integer_value(index) > 5)
		die("%s.index: expected 0 to 5", where);
	if (!json_is_integer(val))
		die("%s.val: expected an integer", where);
	if (!json_is_string(json_object_get(a, "comment")))
		die("%s.comment: every argument condition says what it pins", where);
	bool dword = json_is_string(type) && !strcmp(json_string_value(type), "dword");
	if (!dword && !(json_is_string(type) && !strcmp(json_string_value(type), "qword")))
		die("%s.type: expected \"dword\" or \"qword\"", where);
	uint64_t datum = (uint64_t)json_integer_value(val), mask = 0;
	c.arg = (unsigned int)json_integer_value(index);
	if (json_is_object(op)) {
		json_t *m = json_object_get(op, "masked_eq");
		if (json_object_size(op) != 1 || !json_is_integer(m))
			die("%s.op: expected {\"masked_eq\": MASK}", where);
		mask = (uint64_t)json_integer_value(m);
		c.op = SCMP_CMP_MASKED_EQ;
	} else if (json_is_string(op)) {
		static const struct { const char *n; enum scmp_compare op; } ops[] = {
			{ "eq", SCMP_CMP_EQ }, { "ne", SCMP_CMP_NE }, { "lt", SCMP_CMP_LT },
			{ "le", SCMP_CMP_LE }, { "gt", SCMP_CMP_GT }, { "ge", SCMP_CMP_GE },
		};
		size_t i;
		for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
			if (!strcmp(json_string_value(op), ops[i].n))
				break;
		if (i == sizeof(ops) / sizeof(ops[0]))
			die("%s.op: unknown operator \"%s\"", where, json_string_value(op));
		c.op = ops[i].op;
	} else {
		die("%s.op: expected an operator", where);
	}
	/*
	 * A dword is an int in the kernel ABI: only its low 32 bits count, whatever the
	 * caller left in the upper half of the register. Equality becomes a masked compare.
	 */
	uint64_t width = dword ? 0xffffffffu : UINT64_MAX;
	if (c.op == SCMP_CMP_MASKED_EQ) {
		c.datum_a = mask & width;
		c.datum_b = datum & width;
	} else if (dword && c.op == SCMP_CMP_EQ) {
		c.op = SCMP_CMP_MASKED_EQ;
		c.datum_a = width;
		c.datum_b = datum & width;
	} else {
		c.datum_a = datum & width;
	}
	return c;
}

static bool allow_all;

static void compile_kind(const char *name, json_t *kind, uint32_t arch, struct compiled *out)
{
	static const char *const keys[] = { "default_action", "filter_action", "filter",
					    "comment" };
	char where[256];
	json_t *filter = json_object_get(kind, "filter");

	if (!json_is_object(kind))
		die("%s: expected an object", name);
	check_keys(kind, name, keys, sizeof(keys) / sizeof(keys[0]));
	snprintf(where, sizeof(where), "%s.default_action", name);
	uint32_t def = action(json_object_get(kind, "default_action"), where);
	snprintf(where, sizeof(where), "%s.filter_action", name);
	uint32_t act = action(json_object_get(kind, "filter_action"), where);
	if (!json_is_array(filter))
		die("%s.filter: expected an array of rules", name);

	scmp_filter_ctx ctx = seccomp_init(allow_all ? SCMP_ACT_ALLOW : def);
	if (!ctx)
		die("seccomp_init failed");
	if (arch != seccomp_arch_native()) {
		if (seccomp_arch_add(ctx, arch) < 0 || seccomp_arch_remove(ctx, SCMP_ARCH_NATIVE) < 0)
			die("cannot target architecture %u", arch);
	}
	size_t i;
	json_t *rule;
	json_array_foreach(filter, i, rule) {
		static const char *const rkeys[] = { "syscall", "args", "comment" };
		struct scmp_arg_cmp cmps[6];
		unsigned int n = 0;
		snprintf(where, sizeof(where), "%s.filter[%zu]", name, i);
		if (!json_is_object(rule))
			die("%s: expected an object", where);
		check_keys(rule, where, rkeys, sizeof(rkeys) / sizeof(rkeys[0]));
		json_t *sc = json_object_get(rule, "syscall"), *args = json_object_get(rule, "args");
		if (!json_is_string(sc))
			die("%s.syscall: expected a system call name", where);
		if (!json_is_string(json_object_get(rule, "comment")))
			die("%s.comment: every rule says which code needs it", where);
		int nr = seccomp_syscall_resolve_name_arch(arch, json_string_value(sc));
		if (nr < 0)	/* also libseccomp's pseudo-numbers for other architectures */
			die("%s.syscall: \"%s\" is not a system call on this architecture", where,
			    json_string_value(sc));
		if (args && !json_is_array(args))
			die("%s.args: expected an array", where);
		size_t j;
		json_t *a;
		json_array_foreach(args, j, a) {
			char w2[300];
			snprintf(w2, sizeof(w2), "%s.args[%zu]", where, j);
			if (n == 6)
				die("%s: more than 6 argument conditions", w2);
			cmps[n++] = arg_cmp(a, w2);
		}
		if (allow_all)
			continue;
		/*
		 * libseccomp reads a rule's number as the build host's and translates it to
		 * the filter's architecture by name: pass the host's number (or libseccomp's
		 * pseudo-number where the host has no such call), never the target's.
		 */
		int ret = seccomp_rule_add_array(ctx, act,
						 seccomp_syscall_resolve_name(json_string_value(sc)),
						 n, cmps);
		if (ret < 0)
			die("%s: libseccomp refused the rule: %s", where, strerror(-ret));
	}

	FILE *mem = tmpfile();
	if (!mem || seccomp_export_bpf(ctx, fileno(mem)) < 0)
		die("%s: exporting BPF failed", name);
	long size = ftell(mem);
	if (size <= 0)
		size = lseek(fileno(mem), 0, SEEK_END);
	if (size <= 0 || size % (long)sizeof(struct sock_filter))
		die("%s: libseccomp produced %ld bytes of BPF", name, size);
	out->len = (uint32_t)(size / (long)sizeof(struct sock_filter));
	if (out->len > MAX_INSNS)
		die("%s: %u BPF instructions, more than the kernel takes (%d)", name, out->len,
		    MAX_INSNS);
	out->insns = malloc((size_t)size);
	if (!out->insns || pread(fileno(mem), out->insns, (size_t)size, 0) != size)
		die("%s: reading BPF back failed", name);
	fclose(mem);
	seccomp_release(ctx);
	snprintf(out->name, sizeof(out->name), "%s", name);
}

static void write_c(const char *path, const struct compiled *c, unsigned int n)
{
	FILE *f = fopen(path, "w");
	if (!f)
		die("%s: %s", path, strerror(errno));
	fprintf(f, "/* Generated by tools/seccomp/seccompc from %s: do not edit. */\n"
		"#include \"seccomp_filters.h\"\n\n", profile_path);
	for (unsigned int k = 0; k < n; k++) {
		fprintf(f, "static const struct sock_filter filter_%s[%u] = {\n", c[k].name, c[k].len);
		for (uint32_t i = 0; i < c[k].len; i++)
			fprintf(f, "\t{ 0x%04x, %u, %u, 0x%08x },\n", c[k].insns[i].code,
				c[k].insns[i].jt, c[k].insns[i].jf, c[k].insns[i].k);
		fprintf(f, "};\n\n");
	}
	fprintf(f, "const struct seccomp_filter_set seccomp_builtin = {\n\t.nr = %u,\n"
		"\t.filters = {\n", n);
	for (unsigned int k = 0; k < n; k++)
		fprintf(f, "\t\t{ \"%s\", filter_%s, %u },\n", c[k].name, c[k].name, c[k].len);
	fprintf(f, "\t},\n};\n");
	if (fclose(f) != 0)
		die("%s: %s", path, strerror(errno));
}

static void write_bpf(const char *path, const struct compiled *c, unsigned int n)
{
	FILE *f = fopen(path, "wb");
	uint32_t count = n;
	if (!f)
		die("%s: %s", path, strerror(errno));
	fwrite("KILNBPF1", 1, 8, f);
	fwrite(&count, 4, 1, f);
	for (unsigned int k = 0; k < n; k++) {
		char name[NAME_MAX_LEN] = { 0 };
		memcpy(name, c[k].name, strlen(c[k].name));
		fwrite(name, 1, sizeof(name), f);
		fwrite(&c[k].len, 4, 1, f);
		fwrite(c[k].insns, sizeof(struct sock_filter), c[k].len, f);
	}
	if (fclose(f) != 0)
		die("%s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	const char *arch_name = NULL, *out_c = NULL, *out_bpf = NULL;
	struct compiled compiled[MAX_KINDS];
	unsigned int n = 0;
	json_error_t jerr;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--arch") && i + 1 < argc)
			arch_name = argv[++i];
		else if (!strcmp(argv[i], "--c") && i + 1 < argc)
			out_c = argv[++i];
		else if (!strcmp(argv[i], "--bpf") && i + 1 < argc)
			out_bpf = argv[++i];
		else if (!strcmp(argv[i], "--allow-all"))
			allow_all = true;
		else if (argv[i][0] != '-' && !profile_path)
			profile_path = argv[i];
		else {
			fprintf(stderr, "usage: seccompc --arch x86_64|aarch64 PROFILE.json "
				"[--c OUT.c] [--bpf OUT.bpf]\n");
			return 2;
		}
	}
	if (!profile_path || !arch_name) {
		fprintf(stderr, "usage: seccompc --arch x86_64|aarch64 PROFILE.json "
			"[--c OUT.c] [--bpf OUT.bpf]\n");
		return 2;
	}
	uint32_t arch = !strcmp(arch_name, "x86_64") ? SCMP_ARCH_X86_64 :
			!strcmp(arch_name, "aarch64") ? SCMP_ARCH_AARCH64 : 0;
	if (!arch)
		die("unknown architecture \"%s\"", arch_name);

	json_t *root = json_load_file(profile_path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		die("line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
	if (!json_is_object(root) || json_object_size(root) == 0 ||
	    json_object_size(root) > MAX_KINDS)
		die("expected an object with one member per thread kind");
	const char *name;
	json_t *kind;
	json_object_foreach(root, name, kind) {
		if (strlen(name) == 0 || strlen(name) >= NAME_MAX_LEN)
			die("\"%s\": a thread kind name has 1 to %d characters", name,
			    NAME_MAX_LEN - 1);
		compile_kind(name, kind, arch, &compiled[n++]);
	}
	if (out_c)
		write_c(out_c, compiled, n);
	if (out_bpf)
		write_bpf(out_bpf, compiled, n);
	json_decref(root);
	return 0;
}
