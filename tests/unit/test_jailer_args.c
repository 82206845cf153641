/* Unit: jailer command-line parsing and every bad input's exit code. */
#include <criterion/criterion.h>
#include <sched.h>
#include <string.h>
#include "jailer/config.h"

static struct jail_config cfg;
static struct jail_err err;

#define PARSE(...) ({ char *argv_[] = { "jailer", __VA_ARGS__, NULL }; \
	jail_parse_args((int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, &cfg, &err); })
#define BASE "--id", "vm-1", "--exec-file", "/usr/bin/kiln", "--uid", "100", "--gid", "200"

Test(jailer_args, minimal_and_defaults)
{
	cr_assert_eq(PARSE(BASE), 0, "%s", err.msg);
	cr_assert_str_eq(cfg.id, "vm-1");
	cr_assert_str_eq(cfg.exec_name, "kiln");
	cr_assert_eq(cfg.uid, 100u);
	cr_assert_eq(cfg.gid, 200u);
	cr_assert_str_eq(cfg.chroot_base, "/srv/jailer");
	cr_assert_eq(cfg.cgroup_version, 2);
	cr_assert_eq(cfg.nofile, 2048u);
	cr_assert_not(cfg.have_fsize);
	cr_assert_eq(cfg.vmm_argc, 0);
}

Test(jailer_args, everything)
{
	/* vmm_argv points into argv: it must outlive the checks. */
	char *argv[] = { "jailer", BASE, "--chroot-base-dir=/j", "--netns", "/run/netns/a",
			 "--daemonize", "--new-pid-ns", "--cgroup", "memory.max=1G", "--cgroup",
			 "pids.max=9", "--parent-cgroup", "a/b", "--resource-limit", "fsize=10",
			 "--resource-limit", "no-file=99", "--new-ns", "uts,cgroup", "--",
			 "--config-file", "x.json", NULL };
	cr_assert_eq(jail_parse_args((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv, &cfg, &err), 0,
		     "%s", err.msg);
	cr_assert_str_eq(cfg.chroot_base, "/j");
	cr_assert(cfg.daemonize && cfg.new_pid_ns);
	cr_assert_eq(cfg.n_cgroups, 2u);
	cr_assert_str_eq(cfg.cgroups[0].controller, "memory");
	cr_assert_str_eq(cfg.cgroups[0].file, "memory.max");
	cr_assert_str_eq(cfg.cgroups[0].value, "1G");
	cr_assert_str_eq(cfg.parent_cgroup, "a/b");
	cr_assert(cfg.have_fsize && cfg.fsize == 10 && cfg.nofile == 99);
	cr_assert_eq(cfg.new_ns, CLONE_NEWUTS | CLONE_NEWCGROUP);
	cr_assert_eq(cfg.vmm_argc, 2);
	cr_assert_str_eq(cfg.vmm_argv[1], "x.json");
}

Test(jailer_args, cgroup_version_applies_to_earlier_cgroup_flags)
{
	cr_assert_eq(PARSE(BASE, "--cgroup", "memory.limit_in_bytes=1", "--cgroup-version", "1"), 0,
		     "%s", err.msg);
	cr_assert_eq(PARSE(BASE, "--cgroup", "memory.limit_in_bytes=1"), -1);
	cr_assert_eq(err.code, JAIL_EXIT_BAD_CGROUP_FILE);
	cr_assert_eq(PARSE(BASE, "--cgroup-version", "1", "--cgroup", "hugetlb.2MB.limit_in_bytes=0"), 0);
	cr_assert_eq(PARSE(BASE, "--cgroup", "hugetlb.1GB.max=0"), 0);
}

struct bad { const char *opt, *val; int code; const char *msg; };

Test(jailer_args, every_bad_input)
{
	static const struct bad bad[] = {
		{ "--id", "", JAIL_EXIT_BAD_ID, "empty" },
		{ "--id", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  JAIL_EXIT_BAD_ID, "65 characters" },
		{ "--id", "a/b", JAIL_EXIT_BAD_ID, "character 2" },
		{ "--id", "..", JAIL_EXIT_BAD_ID, "character 1" },
		{ "--id", "vm\xc3\xa9", JAIL_EXIT_BAD_ID, "character 3" },
		{ "--exec-file", "", JAIL_EXIT_BAD_EXEC_FILE, "empty" },
		{ "--exec-file", "/usr/bin/", JAIL_EXIT_BAD_EXEC_FILE, "does not name a file" },
		{ "--exec-file", "/usr/..", JAIL_EXIT_BAD_EXEC_FILE, "does not name a file" },
		{ "--uid", "abc", JAIL_EXIT_BAD_UID, "not a number" },
		{ "--uid", "+1", JAIL_EXIT_BAD_UID, "not a number" },
		{ "--uid", "4294967295", JAIL_EXIT_BAD_UID, "out of range" },
		{ "--gid", "1.5", JAIL_EXIT_BAD_GID, "not a number" },
		{ "--chroot-base-dir", "", JAIL_EXIT_BAD_CHROOT_BASE, "empty" },
		{ "--netns", "", JAIL_EXIT_BAD_NETNS, "empty" },
		{ "--cgroup", "cpu", JAIL_EXIT_BAD_CGROUP_FILE, "FILE=VALUE" },
		{ "--cgroup", "=1", JAIL_EXIT_BAD_CGROUP_FILE, "FILE=VALUE" },
		{ "--cgroup", "memory.max=", JAIL_EXIT_BAD_CGROUP_FILE, "empty" },
		{ "--cgroup", "bogus.max=1", JAIL_EXIT_BAD_CGROUP_CONTROLLER, "'bogus'" },
		{ "--cgroup", "memory.bogus=1", JAIL_EXIT_BAD_CGROUP_FILE, "unknown cgroup v2 file" },
		{ "--cgroup", "memory/../memory.max=1", JAIL_EXIT_BAD_CGROUP_FILE, "not a path" },
		{ "--cgroup", "..=1", JAIL_EXIT_BAD_CGROUP_FILE, "not a path" },
		{ "--cgroup", "memory=1", JAIL_EXIT_BAD_CGROUP_FILE, "CONTROLLER.PROPERTY" },
		{ "--cgroup-version", "0", JAIL_EXIT_BAD_CGROUP_VERSION, "expected 1 or 2" },
		{ "--cgroup-version", "v2", JAIL_EXIT_BAD_CGROUP_VERSION, "expected 1 or 2" },
		{ "--parent-cgroup", "", JAIL_EXIT_BAD_PARENT_CGROUP, "empty" },
		{ "--parent-cgroup", "/a", JAIL_EXIT_BAD_PARENT_CGROUP, "relative" },
		{ "--parent-cgroup", "a//b", JAIL_EXIT_BAD_PARENT_CGROUP, "component" },
		{ "--parent-cgroup", "a/./b", JAIL_EXIT_BAD_PARENT_CGROUP, "component" },
		{ "--parent-cgroup", "a/..", JAIL_EXIT_BAD_PARENT_CGROUP, "component" },
		{ "--parent-cgroup", "a/", JAIL_EXIT_BAD_PARENT_CGROUP, "trailing" },
		{ "--resource-limit", "nproc=1", JAIL_EXIT_BAD_RLIMIT, "unknown resource limit" },
		{ "--resource-limit", "fsize", JAIL_EXIT_BAD_RLIMIT, "NAME=VALUE" },
		{ "--resource-limit", "fsize=-1", JAIL_EXIT_BAD_RLIMIT, "not a number" },
		{ "--resource-limit", "no-file=0", JAIL_EXIT_BAD_RLIMIT, "out of range" },
		{ "--new-ns", "net", JAIL_EXIT_BAD_NEW_NS, "unknown namespace 'net'" },
		{ "--new-ns", "ipc,", JAIL_EXIT_BAD_NEW_NS, "trailing" },
		{ "--new-ns", "", JAIL_EXIT_BAD_NEW_NS, "empty" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = PARSE(BASE, (char *)bad[i].opt, (char *)bad[i].val);
		/* A repeated non-repeatable option is a usage error; test those alone. */
		if (r < 0 && err.code == JAIL_EXIT_USAGE) {
			char *argv[] = { "jailer", (char *)bad[i].opt, (char *)bad[i].val, "--id", "x",
					 "--exec-file", "/k", "--uid", "1", "--gid", "1", NULL };
			if (strcmp(bad[i].opt, "--id") == 0 || strcmp(bad[i].opt, "--exec-file") == 0 ||
			    strcmp(bad[i].opt, "--uid") == 0 || strcmp(bad[i].opt, "--gid") == 0)
				argv[3] = "--chroot-base-dir";
			r = jail_parse_args(3, argv, &cfg, &err);
		}
		cr_expect_eq(r, -1, "%s %s accepted", bad[i].opt, bad[i].val);
		cr_expect_eq(err.code, bad[i].code, "%s '%s': code %d (%s)", bad[i].opt, bad[i].val,
			     err.code, err.msg);
		cr_expect_not_null(strstr(err.msg, bad[i].msg), "%s '%s': message '%s'", bad[i].opt,
				   bad[i].val, err.msg);
	}
}

Test(jailer_args, usage_errors)
{
	cr_assert_eq(PARSE("--id", "x"), -1);
	cr_assert_str_eq(err.msg, "missing required option --exec-file");
	cr_assert_eq(PARSE(BASE, "--id", "y"), -1);
	cr_assert_eq(err.code, JAIL_EXIT_USAGE);
	cr_assert_eq(PARSE(BASE, "stray"), -1);
	cr_assert_eq(err.code, JAIL_EXIT_USAGE);
	cr_assert_eq(PARSE(BASE, "--daemonize=yes"), -1);
	cr_assert_eq(PARSE(BASE, "--uid"), -1);
	cr_assert_eq(err.code, JAIL_EXIT_USAGE);
	cr_assert_eq(PARSE("--cleanup", "--id", "x", "--uid", "1"), -1);
	cr_assert_not_null(strstr(err.msg, "--uid cannot be used with --cleanup"));
	cr_assert_eq(PARSE("--cleanup", "--id", "x", "--chroot-base-dir", "/b"), 0);
	cr_assert_not(cfg.missing_ok);
	cr_assert_eq(PARSE("--cleanup", "--id", "x", "--missing-ok"), 0);
	cr_assert(cfg.missing_ok);
	cr_assert_eq(PARSE(BASE, "--missing-ok"), -1);
	cr_assert_str_eq(err.msg, "--missing-ok is an option of --cleanup");
	cr_assert_eq(err.code, JAIL_EXIT_USAGE);
	cr_assert_eq(PARSE("--help"), 0);
	cr_assert(cfg.help);
}

Test(jailer_args, bind_syntax)
{
	struct jail_bind b;
	cr_assert_eq(jail_parse_bind("/srv/vm/vmlinux:/vmlinux", &b, &err), 0, "%s", err.msg);
	cr_assert_str_eq(b.source, "/srv/vm/vmlinux");
	cr_assert_str_eq(b.target, "/vmlinux");
	cr_assert_not(b.rw);
	cr_assert_eq(jail_parse_bind("/a:b/disk.img:/images/disk.img:rw", &b, &err), 0, "%s", err.msg);
	cr_assert_str_eq(b.source, "/a:b/disk.img");
	cr_assert_str_eq(b.target, "/images/disk.img");
	cr_assert(b.rw);
	cr_assert_eq(jail_parse_bind("rel/dir:/d:ro", &b, &err), 0);
	cr_assert_not(b.rw);
	cr_assert_str_eq(b.source, "rel/dir");

	const struct { const char *arg; int code; } bad[] = {
		{ ":/x", JAIL_EXIT_BIND_SOURCE }, { "/x", JAIL_EXIT_BIND_TARGET },
		{ "/x:y", JAIL_EXIT_BIND_TARGET }, { "/x:/", JAIL_EXIT_BIND_TARGET },
		{ "/x:/a/../b", JAIL_EXIT_BIND_TARGET }, { "/x:/a/./b", JAIL_EXIT_BIND_TARGET },
		{ "/x:/a//b", JAIL_EXIT_BIND_TARGET }, { "/x:/a/", JAIL_EXIT_BIND_TARGET },
		{ "/x:/a b", JAIL_EXIT_BIND_TARGET }, { "/x:/a\nb", JAIL_EXIT_BIND_TARGET },
		{ "/x:", JAIL_EXIT_BIND_TARGET }, { "/x:/a:rx", JAIL_EXIT_BIND_TARGET },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(jail_parse_bind(bad[i].arg, &b, &err), -1, "%s accepted", bad[i].arg);
		cr_assert_eq(err.code, bad[i].code, "%s: %d %s", bad[i].arg, err.code, err.msg);
	}
}

Test(jailer_args, binds_against_each_other_and_the_jailer)
{
	cr_assert_eq(PARSE(BASE, "--bind", "/k:/vmlinux", "--bind", "/d:/images/a:rw",
			   "--bind", "/e:/images/ab"), 0, "%s", err.msg);
	cr_assert_eq(cfg.n_binds, 3u);
	cr_assert(cfg.binds[1].rw);
	cr_assert_eq(PARSE(BASE, "--bind", "/k:/x", "--bind", "/d:/x"), -1);
	cr_assert_eq(err.code, JAIL_EXIT_BIND_DUPLICATE);
	cr_assert_eq(PARSE(BASE, "--bind", "/k:/x/y", "--bind", "/d:/x"), -1);
	cr_assert_eq(err.code, JAIL_EXIT_BIND_DUPLICATE);
	const char *reserved[] = { "/k:/dev", "/k:/dev/kvm", "/k:/run/x", "/k:/kiln",
				   "/k:/kiln.pid", "/k:/old_root/x" };
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		cr_assert_eq(PARSE(BASE, "--bind", (char *)reserved[i]), -1, "%s", reserved[i]);
		cr_assert_eq(err.code, JAIL_EXIT_BIND_RESERVED, "%s: %s", reserved[i], err.msg);
	}
	cr_assert_eq(PARSE(BASE, "--bind", "/k:/devices"), 0, "%s", err.msg);
	cr_assert_eq(PARSE(BASE, "--bind", "/k:/kiln2"), 0, "%s", err.msg);
	cr_assert_eq(PARSE("--cleanup", "--id", "x", "--bind", "/k:/x"), -1);
	cr_assert_eq(err.code, JAIL_EXIT_USAGE);
}

Test(jailer_args, uid_and_gid_zero_need_allow_root)
{
	cr_assert_eq(PARSE("--id", "a", "--exec-file", "/k", "--uid", "0", "--gid", "1"), -1);
	cr_assert_eq(err.code, JAIL_EXIT_BAD_UID);
	cr_assert_eq(PARSE("--id", "a", "--exec-file", "/k", "--uid", "1", "--gid", "0"), -1);
	cr_assert_eq(err.code, JAIL_EXIT_BAD_GID);
	cr_assert_eq(PARSE("--id", "a", "--exec-file", "/k", "--uid", "0", "--gid", "0",
			   "--allow-root"), 0, "%s", err.msg);
	cr_assert(cfg.allow_root);
}

/* The bind and cgroup tables are not cleared between parses (they are large, and a jailer
 * touches only the entries it uses): a second parse must not see the first one's. */
Test(jailer_args, a_second_parse_sees_nothing_of_the_first)
{
	cr_assert_eq(PARSE(BASE, "--bind", "/a/one:/x:rw", "--bind", "/a/two:/y", "--cgroup",
			   "memory.max=1G", "--cgroup", "pids.max=9", "--netns", "/run/netns/a"),
		     0, "%s", err.msg);
	cr_assert_eq(cfg.n_binds, 2u);
	cr_assert(cfg.binds[0].rw);
	cr_assert_eq(PARSE(BASE, "--bind", "/b:/z", "--cgroup", "cpu.max=max"), 0, "%s", err.msg);
	cr_assert_eq(cfg.n_binds, 1u);
	cr_assert_str_eq(cfg.binds[0].source, "/b");
	cr_assert_str_eq(cfg.binds[0].target, "/z");
	cr_assert_not(cfg.binds[0].rw);
	cr_assert_eq(cfg.n_cgroups, 1u);
	cr_assert_str_eq(cfg.cgroups[0].file, "cpu.max");
	cr_assert_str_eq(cfg.cgroups[0].value, "max");
	cr_assert_null(cfg.netns);
	cr_assert_eq(PARSE(BASE), 0, "%s", err.msg);
	cr_assert_eq(cfg.n_binds, 0u);
	cr_assert_eq(cfg.n_cgroups, 0u);
}
