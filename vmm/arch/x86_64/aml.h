/* A small ACPI Machine Language (AML) encoder: the few constructs kiln's DSDT needs. */
#ifndef KILN_X86_AML_H
#define KILN_X86_AML_H

#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 8

/*
 * Bytes are appended to a caller's buffer. Errors are sticky: once the buffer is full
 * or a name is malformed, every later call does nothing and aml_finish() reports it,
 * so callers emit a whole table and check once.
 */
struct aml {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;				/* 0, -ENOSPC or -EINVAL */
	size_t open[AML_MAX_DEPTH];		/* where each open PkgLength starts */
	unsigned int depth;
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
/* The encoded length, or -ENOSPC / -EINVAL (also when a scope is left open). */
long aml_finish(const struct aml *a);

/*
 * A NameString: 1-4 character segments of [A-Z0-9_] (the first not a digit) padded with
 * '_', separated by '.', optionally after a root prefix '\' ("\_SB_.VR00", "_HID").
 */
void aml_name_string(struct aml *a, const char *name);
/* The smallest encoding of an integer (ZeroOp, OneOp, Byte/Word/DWord/QWordPrefix). */
void aml_integer(struct aml *a, uint64_t v);
/* A String object (StringPrefix, the characters, NUL). */
void aml_string(struct aml *a, const char *s);

/* Scope (name) { ... }, Device (name) { ... }, Package (n) { ... }; each closed by aml_end. */
void aml_scope(struct aml *a, const char *name);
void aml_device(struct aml *a, const char *name);
void aml_package(struct aml *a, uint8_t nr_elements);
void aml_end(struct aml *a);

/* Name (name, ...: NameOp and the name; the caller writes the value (e.g. aml_package). */
void aml_name(struct aml *a, const char *name);
/* Name (name, value) for the usual kinds of value. */
void aml_name_integer(struct aml *a, const char *name, uint64_t v);
void aml_name_string_value(struct aml *a, const char *name, const char *s);
/* Name (name, EisaId ("PNP0501")): the compressed 32-bit EISA id. */
void aml_name_eisaid(struct aml *a, const char *name, const char *id);
/* Name (name, Buffer () { bytes }): a resource template built with aml_res_*. */
void aml_name_buffer(struct aml *a, const char *name, const uint8_t *bytes, size_t len);
/* The 32-bit value EisaId("AAA####") stands for; 0 when `id` is not 3 letters, 4 hex digits. */
uint32_t aml_eisaid(const char *id);

/* Resource descriptors for a ResourceTemplate, appended to their own `struct aml`. */
/* IO (Decode16, min, max, align, len) */
void aml_res_io(struct aml *r, uint16_t min, uint16_t max, uint8_t align, uint8_t len);
/* IRQNoFlags () { irq }: an ISA interrupt, edge-triggered, active high. */
void aml_res_irq_noflags(struct aml *r, unsigned int irq);
/* Memory32Fixed (ReadWrite or ReadOnly, base, len) */
void aml_res_memory32_fixed(struct aml *r, int read_write, uint32_t base, uint32_t len);
/* Interrupt (ResourceConsumer, Edge or Level, ActiveHigh or ActiveLow, Exclusive) { gsi } */
void aml_res_interrupt(struct aml *r, int edge, int active_low, uint32_t gsi);
/* EndTag, with a zero checksum (meaning "none", as every firmware writes it). */
void aml_res_end(struct aml *r);

#endif
