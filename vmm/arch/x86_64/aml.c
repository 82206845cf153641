/* A small ACPI Machine Language (AML) encoder: the few constructs kiln's DSDT needs. */
#include "aml.h"

#include <errno.h>
#include <string.h>

/* Opcodes and prefixes (ACPI 6.5, section 20.3). */
#define AML_ZERO	0x00
#define AML_ONE		0x01
#define AML_NAME	0x08
#define AML_BYTE	0x0a
#define AML_WORD	0x0b
#define AML_DWORD	0x0c
#define AML_STRING	0x0d
#define AML_QWORD	0x0e
#define AML_SCOPE	0x10
#define AML_BUFFER	0x11
#define AML_PACKAGE	0x12
#define AML_DUAL_NAME	0x2e
#define AML_MULTI_NAME	0x2f
#define AML_EXT		0x5b
#define AML_DEVICE	0x82	/* after AML_EXT */
#define AML_ROOT	0x5c

/* Resource descriptor tags (section 6.4). */
#define RES_IRQ_NOFLAGS	0x22	/* small item 0x4, 2 bytes */
#define RES_IO		0x47	/* small item 0x8, 7 bytes */
#define RES_END		0x79	/* small item 0xf, 1 byte */
#define RES_MEM32_FIXED	0x86	/* large item 0x06 */
#define RES_EXT_IRQ	0x89	/* large item 0x09 */

#define PKGLEN_MAX_BYTES 4

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->buf = buf;
	a->cap = cap;
}

long aml_finish(const struct aml *a)
{
	if (a->err)
		return a->err;
	if (a->depth)
		return -EINVAL;
	return (long)a->len;
}

static void put(struct aml *a, const void *p, size_t n)
{
	if (a->err)
		return;
	if (n > a->cap - a->len) {
		a->err = -ENOSPC;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void put8(struct aml *a, uint8_t v) { put(a, &v, 1); }

static void put16(struct aml *a, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	put(a, b, 2);
}

static void put32(struct aml *a, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	put(a, b, 4);
}

static int name_char_ok(char c, int first)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

void aml_name_string(struct aml *a, const char *name)
{
	char segs[16][4];
	unsigned int n = 0;
	const char *p = name;

	if (*p == '\\') {
		put8(a, AML_ROOT);
		p++;
	}
	while (*p && !a->err) {
		size_t k = strcspn(p, ".");
		if (k == 0 || k > 4 || n == sizeof(segs) / sizeof(segs[0])) {
			a->err = -EINVAL;
			return;
		}
		for (size_t i = 0; i < 4; i++) {
			char c = i < k ? p[i] : '_';
			if (!name_char_ok(c, i == 0)) {
				a->err = -EINVAL;
				return;
			}
			segs[n][i] = c;
		}
		n++;
		p += k;
		if (*p == '.' && *++p == '\0')
			a->err = -EINVAL;	/* a trailing dot */
	}
	if (n == 0) {
		put8(a, AML_ZERO);	/* NullName */
		return;
	}
	if (n == 2)
		put8(a, AML_DUAL_NAME);
	else if (n > 2) {
		put8(a, AML_MULTI_NAME);
		put8(a, (uint8_t)n);
	}
	for (unsigned int i = 0; i < n; i++)
		put(a, segs[i], 4);
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		put8(a, AML_ZERO);
	} else if (v == 1) {
		put8(a, AML_ONE);
	} else if (v <= 0xff) {
		put8(a, AML_BYTE);
		put8(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		put8(a, AML_WORD);
		put16(a, (uint16_t)v);
	} else if (v <= 0xffffffffu) {
		put8(a, AML_DWORD);
		put32(a, (uint32_t)v);
	} else {
		put8(a, AML_QWORD);
		put32(a, (uint32_t)v);
		put32(a, (uint32_t)(v >> 32));
	}
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x01 || (unsigned char)*p > 0x7f)
			a->err = a->err ? a->err : -EINVAL;
	put8(a, AML_STRING);
	put(a, s, strlen(s) + 1);
}

/* Reserve room for a PkgLength; aml_end() encodes it and closes the gap. */
static void open_pkg(struct aml *a)
{
	static const uint8_t room[PKGLEN_MAX_BYTES];
	if (a->err)
		return;
	if (a->depth == AML_MAX_DEPTH) {
		a->err = -EINVAL;
		return;
	}
	a->open[a->depth++] = a->len;
	put(a, room, sizeof(room));
}

void aml_end(struct aml *a)
{
	if (a->err)
		return;
	if (a->depth == 0) {
		a->err = -EINVAL;
		return;
	}
	size_t start = a->open[--a->depth];
	size_t body = a->len - start - PKGLEN_MAX_BYTES;
	/* PkgLength counts its own bytes: 1 byte up to 63, else 2-4 with 4 + 8k bits. */
	unsigned int n = body + 1 <= 0x3f ? 1 : body + 2 <= 0xfff ? 2 : body + 3 <= 0xfffff ? 3 : 4;
	size_t total = body + n;
	if (total > 0xfffffff) {
		a->err = -ENOSPC;
		return;
	}
	uint8_t enc[PKGLEN_MAX_BYTES];
	if (n == 1) {
		enc[0] = (uint8_t)total;
	} else {
		enc[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		for (unsigned int i = 1; i < n; i++)
			enc[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	memmove(a->buf + start + n, a->buf + start + PKGLEN_MAX_BYTES, body);
	memcpy(a->buf + start, enc, n);
	a->len = start + n + body;
}

void aml_scope(struct aml *a, const char *name)
{
	put8(a, AML_SCOPE);
	open_pkg(a);
	aml_name_string(a, name);
}

void aml_device(struct aml *a, const char *name)
{
	put8(a, AML_EXT);
	put8(a, AML_DEVICE);
	open_pkg(a);
	aml_name_string(a, name);
}

void aml_package(struct aml *a, uint8_t nr_elements)
{
	put8(a, AML_PACKAGE);
	open_pkg(a);
	put8(a, nr_elements);
}

void aml_name(struct aml *a, const char *name)
{
	put8(a, AML_NAME);
	aml_name_string(a, name);
}

void aml_name_integer(struct aml *a, const char *name, uint64_t v)
{
	aml_name(a, name);
	aml_integer(a, v);
}

void aml_name_string_value(struct aml *a, const char *name, const char *s)
{
	put8(a, AML_NAME);
	aml_name_string(a, name);
	aml_string(a, s);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

uint32_t aml_eisaid(const char *id)
{
	uint32_t v = 0;
	if (strlen(id) != 7)
		return 0;
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z')
			return 0;
		v |= (uint32_t)(id[i] - 0x40) << (26 - 5 * i);
	}
	for (int i = 3; i < 7; i++) {
		int d = hex_digit(id[i]);
		if (d < 0)
			return 0;
		v |= (uint32_t)d << (4 * (6 - i));
	}
	/* Stored most significant byte first: the integer is the byte-swapped value. */
	return __builtin_bswap32(v);
}

void aml_name_eisaid(struct aml *a, const char *name, const char *id)
{
	uint32_t v = aml_eisaid(id);
	if (v == 0 && !a->err)
		a->err = -EINVAL;
	put8(a, AML_NAME);
	aml_name_string(a, name);
	put8(a, AML_DWORD);	/* always a DWord, as compilers emit EisaId */
	put32(a, v);
}

void aml_name_buffer(struct aml *a, const char *name, const uint8_t *bytes, size_t len)
{
	put8(a, AML_NAME);
	aml_name_string(a, name);
	put8(a, AML_BUFFER);
	open_pkg(a);
	aml_integer(a, len);
	put(a, bytes, len);
	aml_end(a);
}

void aml_res_io(struct aml *r, uint16_t min, uint16_t max, uint8_t align, uint8_t len)
{
	put8(r, RES_IO);
	put8(r, 0x01);		/* decodes 16 address bits */
	put16(r, min);
	put16(r, max);
	put8(r, align);
	put8(r, len);
}

void aml_res_irq_noflags(struct aml *r, unsigned int irq)
{
	if (irq > 15 && !r->err)
		r->err = -EINVAL;
	put8(r, RES_IRQ_NOFLAGS);
	put16(r, (uint16_t)(1u << (irq & 15)));
}

void aml_res_memory32_fixed(struct aml *r, int read_write, uint32_t base, uint32_t len)
{
	put8(r, RES_MEM32_FIXED);
	put16(r, 9);
	put8(r, read_write ? 0x01 : 0x00);
	put32(r, base);
	put32(r, len);
}

void aml_res_interrupt(struct aml *r, int edge, int active_low, uint32_t gsi)
{
	/* Flags: bit 0 consumer, bit 1 edge, bit 2 active low, bit 3 shared (not set). */
	uint8_t flags = (uint8_t)(0x01 | (edge ? 0x02 : 0) | (active_low ? 0x04 : 0));
	put8(r, RES_EXT_IRQ);
	put16(r, 6);
	put8(r, flags);
	put8(r, 1);		/* one interrupt */
	put32(r, gsi);
}

void aml_res_end(struct aml *r)
{
	put8(r, RES_END);
	put8(r, 0);
}
