/* File trees as the agent protocol carries them: written without escaping, read back the same. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentproto/tree.h"

static char dir[64];
static char path[256];
static struct ap_tree_writer w;
static struct ap_entry e;

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/kiln-test-tree-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	memset(&e, 0, sizeof(e));
}

static void teardown(void)
{
	char cmd[96];
	ap_tree_writer_close(&w);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(tree, .init = setup, .fini = teardown, .timeout = 10);

static const char *in_dir(const char *name)
{
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static int add(uint8_t kind, const char *rel, uint32_t mode, uint64_t size, const char *target,
	       const char **why)
{
	e.kind = kind;
	strcpy(e.path, rel);
	e.mode = mode;
	e.size = size;
	strcpy(e.target, target ? target : "");
	return ap_tree_writer_entry(&w, &e, why);
}

Test(tree, a_symlink_entry_cannot_lead_a_later_entry_outside)
{
	const char *why = NULL;
	cr_assert_eq(ap_tree_writer_open(&w, in_dir("dst")), 0);
	cr_assert_eq(add(AP_ENTRY_DIR, "", 0755, 0, NULL, &why), 0);
	cr_assert_eq(mkdir(in_dir("outside"), 0755), 0);
	cr_assert_eq(add(AP_ENTRY_SYMLINK, "link", 0777, 0, in_dir("outside"), &why), 0);
	cr_assert_eq(add(AP_ENTRY_FILE, "link/pwned", 0644, 0, NULL, &why), -EBADMSG);
	cr_assert_str_eq(why, "an ENTRY whose parent directory did not come before it");
	cr_assert_neq(access(in_dir("outside/pwned"), F_OK), 0);
	/* Nor can a file entry write through the symlink itself. */
	cr_assert_eq(add(AP_ENTRY_FILE, "link", 0644, 0, NULL, &why), -EEXIST);
}

Test(tree, entries_in_order_and_sizes_exact)
{
	const char *why = NULL;
	cr_assert_eq(ap_tree_writer_open(&w, in_dir("dst")), 0);
	cr_assert_eq(ap_tree_writer_end(&w, &why), -EBADMSG, "END before any ENTRY");
	cr_assert_eq(add(AP_ENTRY_FILE, "x", 0644, 0, NULL, &why), -EBADMSG);
	cr_assert_str_eq(why, "the first ENTRY is not the tree's root");
	cr_assert_eq(add(AP_ENTRY_DIR, "", 0750, 0, NULL, &why), 0);
	cr_assert_eq(add(AP_ENTRY_DIR, "", 0750, 0, NULL, &why), -EBADMSG);
	cr_assert_eq(add(AP_ENTRY_FILE, "a/b", 0644, 0, NULL, &why), -EBADMSG, "no parent yet");
	cr_assert_eq(add(AP_ENTRY_FILE, "f", 0640, 5, NULL, &why), 0);
	cr_assert_eq(ap_tree_writer_data(&w, "abc", 3, &why), 0);
	cr_assert_eq(add(AP_ENTRY_FILE, "g", 0644, 0, NULL, &why), -EBADMSG, "f is incomplete");
	cr_assert_eq(ap_tree_writer_end(&w, &why), -EBADMSG);
	cr_assert_eq(ap_tree_writer_data(&w, "defg", 4, &why), -EBADMSG, "beyond its size");
	cr_assert_eq(ap_tree_writer_data(&w, "de", 2, &why), 0);
	cr_assert_eq(ap_tree_writer_data(&w, "x", 1, &why), -EBADMSG, "no file open");
	cr_assert_eq(ap_tree_writer_end(&w, &why), 0);
	struct stat st;
	cr_assert_eq(stat(in_dir("dst/f"), &st), 0);
	cr_assert_eq(st.st_size, 5);
	cr_assert_eq(st.st_mode & 07777, 0640);
	cr_assert_eq(stat(in_dir("dst"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0750);
}

Test(tree, read_then_write_gives_the_same_tree)
{
	const char *why = NULL;
	static struct ap_tree_reader r;
	static uint8_t data[8192];
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "cd %s && mkdir -p src/a/b && head -c 20000 /dev/urandom > "
		 "src/a/b/r && chmod 0604 src/a/b/r && echo x > src/top && chmod 0711 src/a && "
		 "ln -s a/b/r src/l && mkfifo src/fifo", dir);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(ap_tree_reader_open(&r, in_dir("src")), 0);
	cr_assert_eq(ap_tree_writer_open(&w, in_dir("dst")), 0);
	int rc, entries = 0;
	while ((rc = ap_tree_reader_next(&r, &e)) > 0) {
		entries++;
		cr_assert_eq(ap_tree_writer_entry(&w, &e, &why), 0, "%s: %s", e.path, why);
		long n;
		while ((n = ap_tree_reader_data(&r, data, sizeof(data))) > 0)
			cr_assert_eq(ap_tree_writer_data(&w, data, (size_t)n, &why), 0);
		cr_assert_geq(n, 0);
	}
	cr_assert_eq(rc, 0);
	cr_assert_eq(entries, 6, "root, a, a/b, a/b/r, top, l: the FIFO is skipped");
	cr_assert_eq(ap_tree_writer_end(&w, &why), 0);
	ap_tree_reader_close(&r);
	snprintf(cmd, sizeof(cmd), "cd %s && rm src/fifo && diff -r src dst && "
		 "[ \"$(cd src && find . -printf '%%m %%y %%p\\n' | sort)\" = "
		 "\"$(cd dst && find . -printf '%%m %%y %%p\\n' | sort)\" ]", dir);
	cr_assert_eq(system(cmd), 0, "contents, kinds and permissions match");
}

/* What the host's client writes for a guest: no set-ID or sticky bit, and an existing
 * destination (a user's directory) keeps its mode. The agent applies modes exactly. */
Test(tree, an_untrusted_tree_sets_no_special_bits_and_keeps_existing_modes)
{
	const char *why = NULL;
	struct stat st;
	cr_assert_eq(mkdir(in_dir("dst"), 0700), 0);
	cr_assert_eq(ap_tree_writer_open(&w, in_dir("dst")), 0);
	ap_tree_writer_untrusted(&w);
	cr_assert_eq(add(AP_ENTRY_DIR, "", 0777, 0, NULL, &why), 0);
	cr_assert_eq(add(AP_ENTRY_FILE, "suid", 04755, 0, NULL, &why), 0);
	cr_assert_eq(add(AP_ENTRY_DIR, "sticky", 01777, 0, NULL, &why), 0);
	cr_assert_eq(add(AP_ENTRY_FILE, "sticky/sgid", 02750, 0, NULL, &why), 0);
	cr_assert_eq(ap_tree_writer_end(&w, &why), 0);
	cr_assert_eq(stat(in_dir("dst"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700, "the existing destination was changed to %o",
		     st.st_mode & 07777);
	cr_assert_eq(stat(in_dir("dst/suid"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0755);
	cr_assert_eq(stat(in_dir("dst/sticky"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0777);
	cr_assert_eq(stat(in_dir("dst/sticky/sgid"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0750);

	/* The same tree written trusted (the agent's side) keeps every bit. */
	ap_tree_writer_close(&w);
	cr_assert_eq(ap_tree_writer_open(&w, in_dir("exact")), 0);
	cr_assert_eq(add(AP_ENTRY_DIR, "", 0755, 0, NULL, &why), 0);
	cr_assert_eq(add(AP_ENTRY_FILE, "suid", 04755, 0, NULL, &why), 0);
	cr_assert_eq(stat(in_dir("exact/suid"), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 04755);
}
