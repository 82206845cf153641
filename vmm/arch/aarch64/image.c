/* The arm64 Linux kernel Image header (Documentation/arm64/booting.rst) and where it loads. */
#include "image.h"

#include <errno.h>

/* Header fields, little-endian, at these offsets. */
#define HDR_TEXT_OFFSET		8
#define HDR_IMAGE_SIZE		16
#define HDR_FLAGS		24
#define HDR_MAGIC		56

#define FLAG_BE			(1u << 0)
#define FLAG_PAGE_SHIFT		1
#define FLAG_PAGE_MASK		3u
#define FLAG_ANYWHERE		(1u << 3)

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int a64_image_parse(const uint8_t *hdr, size_t hdr_len, uint64_t file_size,
		    struct a64_image *img, struct error *err)
{
	static const unsigned int page_sizes[] = { 0, 4096, 16384, 65536 };

	if (hdr_len >= 2 && hdr[0] == 0x1f && hdr[1] == 0x8b)
		return error_set(err, -EINVAL, "a gzip-compressed kernel: kiln loads the "
				 "uncompressed Image (gunzip it first, e.g. Debian's vmlinuz)");
	if (hdr_len < A64_IMAGE_HDR_SIZE || file_size < A64_IMAGE_HDR_SIZE)
		return error_set(err, -EINVAL, "too short for an arm64 Image header");
	if ((uint32_t)le64(hdr + HDR_MAGIC) != A64_IMAGE_MAGIC)
		return error_set(err, -EINVAL, "not an arm64 Linux Image (no \"ARM\\x64\" magic "
				 "at offset 56)");
	uint64_t flags = le64(hdr + HDR_FLAGS);
	img->image_size = le64(hdr + HDR_IMAGE_SIZE);
	img->text_offset = le64(hdr + HDR_TEXT_OFFSET);
	if (img->image_size == 0) {
		/* Before Linux 3.17: fixed offset, size unknown beyond the file. */
		img->text_offset = 0x80000;
		img->image_size = file_size;
		flags = 0;
	}
	if (flags & FLAG_BE)
		return error_set(err, -EINVAL, "a big-endian kernel; kiln runs little-endian guests");
	if (img->image_size < file_size)
		return error_set(err, -EINVAL, "the header's image_size (%llu) is smaller than "
				 "the file (%llu bytes)", (unsigned long long)img->image_size,
				 (unsigned long long)file_size);
	if (img->text_offset >= A64_IMAGE_ALIGN || img->text_offset % 4096)
		return error_set(err, -EINVAL, "text_offset 0x%llx is not a page offset inside "
				 "2 MiB", (unsigned long long)img->text_offset);
	img->page_size = page_sizes[(flags >> FLAG_PAGE_SHIFT) & FLAG_PAGE_MASK];
	img->anywhere = !!(flags & FLAG_ANYWHERE);
	return 0;
}
