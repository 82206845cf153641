/* The arm64 Linux kernel Image header (Documentation/arm64/booting.rst) and where it loads. */
#ifndef KILN_A64_IMAGE_H
#define KILN_A64_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#define A64_IMAGE_MAGIC		0x644d5241u	/* "ARM\x64" */
#define A64_IMAGE_HDR_SIZE	64
#define A64_IMAGE_ALIGN		0x200000u	/* the Image loads text_offset above a 2 MiB boundary */

struct a64_image {
	uint64_t text_offset;	/* load offset from a 2 MiB-aligned base */
	uint64_t image_size;	/* bytes the kernel uses from there, BSS included */
	unsigned int page_size;	/* 4096, 16384, 65536, or 0 when the header does not say */
	int anywhere;		/* flags bit 3: may load at any 2 MiB-aligned base */
};

/*
 * Check and decode the header of a kernel Image of `file_size` bytes whose first
 * A64_IMAGE_HDR_SIZE bytes are `hdr`. Refuses a missing magic (and says so for a
 * gzip-compressed Image), a big-endian kernel and an image_size smaller than the file.
 * A header with image_size 0 (kernels before 3.17) gets text_offset 0x80000 and the
 * file size.
 */
int a64_image_parse(const uint8_t *hdr, size_t hdr_len, uint64_t file_size,
		    struct a64_image *img, struct error *err) MUST_CHECK;

#endif
