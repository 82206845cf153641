/* jansson's memory once the VM runs: a fixed arena, so the main thread's heap never grows. */
#include "json_arena.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

static _Alignas(16) unsigned char arena[JSON_ARENA_SIZE];
static size_t used;

static void *arena_alloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (n == 0 || n > sizeof(arena) - used)
		return NULL;
	void *p = arena + used;
	used += n;
	return p;
}

static void arena_free(void *p)
{
	(void)p;	/* everything goes at once, in json_arena_reset */
}

void json_arena_enable(void)
{
	used = 0;
	json_set_alloc_funcs(arena_alloc, arena_free);
}

void json_arena_reset(void)
{
	used = 0;
}
