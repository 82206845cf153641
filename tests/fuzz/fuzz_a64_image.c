/* The arm64 Image header parser on arbitrary headers and file sizes. */
/* coverage: vmm/arch/aarch64/image.c */
#include <string.h>

#include "arch/aarch64/image.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[A64_IMAGE_HDR_SIZE];
	struct a64_image img;
	struct error err = { 0 };
	uint64_t file_size;

	/* The first 8 bytes choose the file's size, the rest is the header (possibly short). */
	if (size < 8)
		return 0;
	memcpy(&file_size, data, 8);
	data += 8;
	size -= 8;
	size_t hdr_len = size < sizeof(hdr) ? size : sizeof(hdr);
	memcpy(hdr, data, hdr_len);
	if (a64_image_parse(hdr, hdr_len, file_size, &img, &err) < 0) {
		FUZZ_CHECK(err.msg[0] != '\0', "an error without a message");
		return 0;
	}
	FUZZ_CHECK(img.image_size >= file_size, "image_size %llu < file size %llu",
		   (unsigned long long)img.image_size, (unsigned long long)file_size);
	FUZZ_CHECK(img.text_offset < (2u << 20) && img.text_offset % 4096 == 0,
		   "text_offset 0x%llx", (unsigned long long)img.text_offset);
	FUZZ_CHECK(img.page_size == 0 || img.page_size == 4096 || img.page_size == 16384 ||
		   img.page_size == 65536, "page size %u", img.page_size);
	return 0;
}
