/* Per-thread seccomp filters: compiled BPF (built in or from a file), validated, installed without allocating. */
#ifndef KILN_SECCOMP_H
#define KILN_SECCOMP_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>
#include "error.h"

/*
 * The compiled-filter file ("kiln BPF"), as tools/seccomp/seccompc writes it:
 *   "KILNBPF1", u32 filter count, then per filter: char name[16] (NUL padded),
 *   u32 instruction count, that many struct sock_filter (8 bytes each).
 * Little-endian, no padding. A file is at most SECCOMP_FILE_MAX bytes.
 */
#define SECCOMP_MAGIC "KILNBPF1"
#define SECCOMP_FILE_MAX 100000
#define SECCOMP_MAX_FILTERS 4
#define SECCOMP_NAME_MAX 16
#define SECCOMP_MAX_INSNS 4096	/* the kernel's BPF_MAXINSNS */

struct seccomp_filter {
	char name[SECCOMP_NAME_MAX];
	const struct sock_filter *insns;
	uint32_t len;
};

struct seccomp_filter_set {
	unsigned int nr;
	struct seccomp_filter filters[SECCOMP_MAX_FILTERS];
	void *storage;		/* owned copy when loaded from a file */
};

/* The filters compiled from seccomp-profiles/<arch>.json at build time (kiln only). */
extern const struct seccomp_filter_set seccomp_builtin;

/*
 * The thread kinds kiln has: "vmm" and "vcpu" (the first SECCOMP_REQUIRED_KINDS) must each
 * have exactly one filter; "api" must too when the API server runs (main checks it).
 */
#define SECCOMP_REQUIRED_KINDS 2
extern const char *const seccomp_thread_kinds[];
extern const unsigned int seccomp_thread_kinds_nr;

/* Parse and validate a compiled-filter image (sizes, names, instruction counts, kinds). */
int seccomp_parse(const uint8_t *buf, size_t len, struct seccomp_filter_set *set,
		  struct error *err) MUST_CHECK;
/* Read, parse and validate a compiled-filter file. */
int seccomp_load_file(const char *path, struct seccomp_filter_set *set, struct error *err)
	MUST_CHECK;
/* Check that `set` has one filter for vmm and vcpu, at most one for api, nothing else. */
int seccomp_validate(const struct seccomp_filter_set *set, struct error *err) MUST_CHECK;
const struct seccomp_filter *seccomp_find(const struct seccomp_filter_set *set,
					  const char *kind);
void seccomp_set_free(struct seccomp_filter_set *set);

/*
 * Install a filter on the calling thread: PR_SET_NO_NEW_PRIVS, then seccomp(2).
 * No allocation and no library call, so it is safe right before a thread's loop.
 * Returns 0 or -errno.
 */
int seccomp_install(const struct seccomp_filter *f) MUST_CHECK;

#endif
