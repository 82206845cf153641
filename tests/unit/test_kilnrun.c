/* Unit: kiln-run's command line, run slots and their state files, and the VM's config. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/kilnrun/command.h"
#include "host/kilnrun/options.h"
#include "host/kilnrun/slot.h"
#include "host/kilnrun/vm.h"

static struct run_options o;
static struct error err;

/* argv strings must be writable: --put and --get split theirs in place. */
static int parse(int argc, const char *const *args)
{
	static char store[32][256];
	static char *argv[33];
	for (int i = 0; i < argc; i++) {
		snprintf(store[i], sizeof(store[i]), "%s", args[i]);
		argv[i] = store[i];
	}
	argv[argc] = NULL;
	memset(&err, 0, sizeof(err));
	return run_options_parse(&o, argc, argv, NULL, &err);
}
#define PARSE(...) ({ const char *a_[] = { "kiln-run", __VA_ARGS__ }; \
	parse((int)(sizeof(a_) / sizeof(a_[0])), a_); })

Test(kilnrun_options, a_command_and_the_defaults)
{
	cr_assert_eq(PARSE("--", "sh", "-c", "echo hi"), 0, "%s", err.msg);
	cr_assert_str_eq(o.argv[0], "sh");
	cr_assert_str_eq(o.argv[2], "echo hi");
	cr_assert_null(o.argv[3]);
	cr_assert_null(o.script);
	cr_assert_eq(o.vcpus, 1u);
	cr_assert_eq(o.mem_mib, 256u);
	cr_assert_eq(o.timeout_s, 0u);
	cr_assert_str_eq(o.image, "/var/lib/kiln/run-image");
	cr_assert_str_eq(o.state_dir, "/run/kiln-run");
	cr_assert_str_eq(o.chroot_base, "/srv/kiln-run");
	cr_assert_str_eq(o.workdir, "/tmp");
	cr_assert_eq(o.uid_base, 900000u);
	cr_assert_eq(o.slots, 64u);
	cr_assert_not(o.net || o.keep || o.no_stdin || o.gc);
}

Test(kilnrun_options, a_script_runs_by_its_kind_with_its_arguments)
{
	cr_assert_eq(PARSE("-n", "dir/job.py", "a", "b c"), 0, "%s", err.msg);
	cr_assert_str_eq(o.script, "dir/job.py");
	cr_assert_str_eq(o.script_guest, "/tmp/job.py");
	cr_assert_str_eq(o.argv[0], "python3");
	cr_assert_str_eq(o.argv[1], "/tmp/job.py");
	cr_assert_str_eq(o.argv[3], "b c");
	cr_assert_null(o.argv[4]);
	cr_assert_eq(PARSE("run.sh"), 0);
	cr_assert_str_eq(o.argv[0], "sh");
	/* Anything else is run as it is (its mode comes along). */
	cr_assert_eq(PARSE("./tool"), 0);
	cr_assert_str_eq(o.argv[0], "/tmp/tool");
}

Test(kilnrun_options, every_option)
{
	cr_assert_eq(PARSE("--image", "/img", "--vcpus", "4", "--mem", "1024", "--timeout", "30",
			   "--put", "a:b:/guest/x", "--get", "/out/y:local:z", "-e", "A=1",
			   "--env", "B=", "-C", "/work", "--keep", "--json", "-", "-v",
			   "--slots", "8", "--uid-base", "5000", "--parent-cgroup", "a/b",
			   "--", "true"), 0, "%s", err.msg);
	cr_assert_eq(o.vcpus, 4u);
	cr_assert_eq(o.mem_mib, 1024u);
	cr_assert_eq(o.timeout_s, 30u);
	/* LOCAL may hold ':'; the guest path starts at the last ":/". */
	cr_assert_str_eq(o.puts[0].local, "a:b");
	cr_assert_str_eq(o.puts[0].guest, "/guest/x");
	cr_assert_str_eq(o.gets[0].guest, "/out/y");
	cr_assert_str_eq(o.gets[0].local, "local:z");
	cr_assert_eq(o.n_env, 2u);
	cr_assert_str_eq(o.env[1], "B=");
	cr_assert_null(o.env[2]);
	cr_assert_str_eq(o.workdir, "/work");
	cr_assert(o.keep);
	cr_assert_str_eq(o.json, "-");
	cr_assert_eq(o.slots, 8u);
	cr_assert_eq(o.uid_base, 5000u);
	cr_assert_str_eq(o.parent_cgroup, "a/b");
}

/* Each bad command line is refused with the option named. */
Test(kilnrun_options, bad_input_names_the_option)
{
	static const struct { const char *a, *b; const char *says; } bad[] = {
		{ "--vcpus", "0", "--vcpus" }, { "--vcpus", "33", "--vcpus" },
		{ "--mem", "63", "--mem" }, { "--mem", "1x", "--mem" },
		{ "--timeout", "0", "--timeout" }, { "--slots", "4097", "--slots" },
		{ "--put", "nocolon", "--put" }, { "--put", "local:relative", "--put" },
		{ "--get", "relative:x", "--get" }, { "--get", "/x:", "--get" },
		{ "-e", "NOEQUALS", "--env" }, { "-e", "=v", "--env" },
		{ "-C", "rel", "--workdir" }, { "--parent-cgroup", "/abs", "--parent-cgroup" },
		{ "--parent-cgroup", "a/../b", "--parent-cgroup" },
		{ "--bogus", "x", "--bogus" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(PARSE(bad[i].a, bad[i].b, "--", "true"), -EINVAL, "%s %s accepted",
			     bad[i].a, bad[i].b);
		cr_assert(strstr(err.msg, bad[i].says), "%s %s: '%s'", bad[i].a, bad[i].b, err.msg);
	}
	cr_assert_eq(PARSE("--image", "/x"), -EINVAL);
	cr_assert(strstr(err.msg, "no command"), "%s", err.msg);
	cr_assert_eq(PARSE("--gc", "extra"), -EINVAL);
	cr_assert_eq(PARSE("--gc"), 0);
	cr_assert(o.gc);
	cr_assert_eq(PARSE("--help"), 0);
	cr_assert(o.help);
}

static char dir[] = "/tmp/kilnrun-unit-XXXXXX";

static void make_dir(void)
{
	cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

Test(kilnrun_slot, a_slot_is_held_by_one_run_at_a_time, .init = make_dir, .fini = remove_dir)
{
	struct run_slot a, b;
	char state_dir[128];
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	cr_assert_eq(slot_try_lock(state_dir, 3, &a, &err), 1, "%s", err.msg);
	/* Another open file description: another run. */
	cr_assert_eq(slot_try_lock(state_dir, 3, &b, &err), 0);
	cr_assert_eq(slot_try_lock(state_dir, 4, &b, &err), 1);
	slot_unlock(&b);
	slot_unlock(&a);
	cr_assert_eq(slot_try_lock(state_dir, 3, &b, &err), 1);
	slot_unlock(&b);
	struct stat st;
	cr_assert_eq(stat(state_dir, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	/* A state directory others may write, or a symlink to one, is refused. */
	cr_assert_eq(chmod(state_dir, 0777), 0);
	cr_assert_eq(slot_try_lock(state_dir, 0, &b, &err), -EPERM);
	cr_assert(strstr(err.msg, "writable by no one else"), "%s", err.msg);
	cr_assert_eq(chmod(state_dir, 0700), 0);
	char link[160];
	snprintf(link, sizeof(link), "%s/link", dir);
	cr_assert_eq(symlink(state_dir, link), 0);
	cr_assert_eq(slot_try_lock(link, 0, &b, &err), -EPERM);
}

Test(kilnrun_slot, the_state_round_trips_and_a_corrupt_one_is_refused, .init = make_dir,
     .fini = remove_dir)
{
	struct run_slot s;
	cr_assert_eq(slot_try_lock(dir, 0, &s, &err), 1);
	struct run_state st = { .kept = true, .owner = 42 }, back;
	strcpy(st.id, "kiln-run-0");
	strcpy(st.chroot_base, "/srv/kiln-run");
	strcpy(st.jailer, "/usr/bin/jailer");
	strcpy(st.cgroup, "/sys/fs/cgroup/kiln-run/kiln-run-0");
	strcpy(st.netns, "kiln-run-0");
	cr_assert_eq(slot_state_read(&s, &back, &err), 0, "no state yet");
	cr_assert_eq(slot_state_write(&s, &st, &err), 0, "%s", err.msg);
	cr_assert_eq(slot_state_read(&s, &back, &err), 1, "%s", err.msg);
	cr_assert_str_eq(back.id, st.id);
	cr_assert_str_eq(back.cgroup, st.cgroup);
	cr_assert_str_eq(back.netns, "kiln-run-0");
	cr_assert_str_eq(back.tap_host, "");
	cr_assert(back.kept);
	cr_assert_eq(back.owner, 42);

	char path[256];
	static const char *const corrupt[] = {
		"id=x\n",					/* fields missing */
		"id=x\nchroot_base=rel\njailer=/j\ncgroup=/c\n",	/* a relative path */
		"garbage without an equals sign\n",
		"",
	};
	for (size_t i = 0; i < sizeof(corrupt) / sizeof(corrupt[0]); i++) {
		cr_assert_eq(slot_path(&s, "state", path, sizeof(path)), 0);
		FILE *f = fopen(path, "w");
		fputs(corrupt[i], f);
		fclose(f);
		cr_assert_eq(slot_state_read(&s, &back, &err), -EBADMSG, "case %zu", i);
		cr_assert(strstr(err.msg, "not a run's state"), "%s", err.msg);
	}
	slot_state_remove(&s);
	cr_assert_eq(slot_state_read(&s, &back, &err), 0);
	slot_unlock(&s);
}

Test(kilnrun_vm, the_config_is_what_kiln_reads)
{
	struct run_image img = { .cmdline = "console=ttyS0 quiet" };
	struct vm_spec spec = { .image = &img, .vcpus = 2, .mem_mib = 512, .cid = 7,
				.extra_cmdline = "kiln.x=1" };
	char buf[4096];
	int n = vm_config(&spec, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	json_error_t je;
	json_t *j = json_loads(buf, 0, &je);
	cr_assert_not_null(j, "%s", je.text);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "boot-source"),
							   "boot_args")), "console=ttyS0 quiet kiln.x=1");
	json_t *mc = json_object_get(j, "machine-config");
	cr_assert_eq(json_integer_value(json_object_get(mc, "vcpu_count")), 2);
	cr_assert_eq(json_integer_value(json_object_get(mc, "mem_size_mib")), 512);
	json_t *d = json_array_get(json_object_get(j, "drives"), 0);
	cr_assert(json_is_true(json_object_get(d, "is_read_only")));
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "vsock"), "guest_cid")), 7);
	cr_assert_null(json_object_get(j, "network-interfaces"));
	json_decref(j);
	cr_assert_eq(vm_config(&spec, buf, 16), -ENOSPC);
	/* The limit leaves kiln room above the guest. */
	cr_assert_eq(vm_memory_limit(256), (uint64_t)(256 + 64 + 8) << 20);
}

Test(kilnrun_vm, an_image_with_a_file_missing_is_refused_by_name, .init = make_dir,
     .fini = remove_dir)
{
	struct run_image img;
	char path[256];
	static const char *const files[] = { "vmlinux", "initramfs.cpio.gz", "rootfs.ext4" };
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		close(open(path, O_CREAT | O_WRONLY, 0644));
	}
	cr_assert_eq(vm_image_load(dir, &img, &err), -ENOENT);
	cr_assert(strstr(err.msg, "cmdline: No such file"), "%s", err.msg);
	snprintf(path, sizeof(path), "%s/cmdline", dir);
	FILE *f = fopen(path, "w");
	fputs("console=ttyS0\n", f);
	fclose(f);
	cr_assert_eq(vm_image_load(dir, &img, &err), 0, "%s", err.msg);
	cr_assert_str_eq(img.cmdline, "console=ttyS0 ");
	snprintf(path, sizeof(path), "%s/rootfs.ext4", dir);
	unlink(path);
	cr_assert_eq(vm_image_load(dir, &img, &err), -ENOENT);
	cr_assert(strstr(err.msg, "rootfs.ext4"), "%s", err.msg);
}

Test(kilnrun_command, output_and_status_are_collected)
{
	char out[64];
	const char *ok[] = { "sh", "-c", "echo one; echo two >&2; exit 3", NULL };
	cr_assert_eq(command_run(ok, out, sizeof(out)), 3);
	cr_assert_str_eq(out, "one\ntwo");
	const char *sig[] = { "sh", "-c", "kill -9 $$", NULL };
	cr_assert_eq(command_run(sig, out, sizeof(out)), 137);
	const char *missing[] = { "/no/such/program", NULL };
	cr_assert_eq(command_run(missing, out, sizeof(out)), 127);
	cr_assert(strstr(out, "No such file"), "%s", out);
	/* Long output is cut, never overflows. */
	const char *lots[] = { "sh", "-c", "yes | head -c 100000", NULL };
	cr_assert_eq(command_run(lots, out, 8), 0);
	cr_assert_eq(strlen(out), 7u);
}
