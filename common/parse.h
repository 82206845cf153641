/* Strict string-to-number parsing for command-line values. */
#ifndef KILN_PARSE_H
#define KILN_PARSE_H

#include <stdint.h>
#include "util.h"

/*
 * Parse a whole string as an unsigned decimal integer no larger than max.
 * Rejects empty strings, signs, spaces and trailing characters: returns 0,
 * -EINVAL (not a number) or -ERANGE (too large).
 */
int parse_u64(const char *s, uint64_t max, uint64_t *out) MUST_CHECK;

#endif
