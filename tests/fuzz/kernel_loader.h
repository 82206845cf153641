/*
 * The x86-64 kernel loaders on an arbitrary file: into a 64 MiB guest, and against the
 * same guest's layout with no memory (what kiln checks before mapping guest memory). Both
 * must give the same verdict and the same placement.
 */
#ifndef KILN_TESTS_FUZZ_KERNEL_LOADER_H
#define KILN_TESTS_FUZZ_KERNEL_LOADER_H

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "kernel.h"

#define FUZZ_GUEST_SIZE (64ULL << 20)

typedef int (*x86_loader)(int fd, uint64_t file_size, struct guest_mem *gm,
			  struct x86_kernel *k, struct error *err);

static int fuzz_kernel_loader(x86_loader load, const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	static int fd = -1;
	struct guest_mem gm, layout;
	struct x86_kernel k, checked;
	struct error err = { 0 }, err2 = { 0 };

	if (!ram) {
		ram = mmap(NULL, FUZZ_GUEST_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		fd = memfd_create("kernel", MFD_CLOEXEC);
		FUZZ_CHECK(ram != MAP_FAILED && fd >= 0, "setup");
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	gm_init_buffer(&gm, 0, ram, FUZZ_GUEST_SIZE);
	gm_init_layout(&layout, gm.regions, gm.nr);

	int checked_ret = load(fd, size, &layout, &checked, &err2);
	int ret = load(fd, size, &gm, &k, &err);
	FUZZ_CHECK(ret == checked_ret, "load %d (%s), layout check %d (%s)", ret, err.msg,
		   checked_ret, err2.msg);
	if (ret == 0) {
		FUZZ_CHECK(k.entry == checked.entry && k.start == checked.start &&
			   k.end == checked.end && k.protocol == checked.protocol,
			   "the layout check placed the kernel elsewhere");
		FUZZ_CHECK(k.start < k.end && k.end <= FUZZ_GUEST_SIZE, "kernel at 0x%llx-0x%llx",
			   (unsigned long long)k.start, (unsigned long long)k.end);
	} else {
		FUZZ_CHECK(strcmp(err.msg, err2.msg) == 0, "\"%s\" vs \"%s\"", err.msg, err2.msg);
	}
	return 0;
}

#endif
