/* jansson's memory once the VM runs: a fixed arena, so the main thread's heap never grows. */
#ifndef KILN_JSON_ARENA_H
#define KILN_JSON_ARENA_H

#define JSON_ARENA_SIZE (1024 * 1024)

/*
 * From now on jansson allocates from a static arena (freeing is a no-op) and fails
 * cleanly, as out of memory, when a request needs more than JSON_ARENA_SIZE bytes. Only
 * after every jansson object made before is freed (once the configuration is parsed).
 */
void json_arena_enable(void);
/* Start again from an empty arena: no jansson object may be alive. */
void json_arena_reset(void);

#endif
