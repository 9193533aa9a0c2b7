#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include "cmalloc.h"

int cmalloc_one_arena(void) {
    /* The operator's own arena setting wins: MALLOC_ARENA_MAX, or arena_max among GLIBC_TUNABLES. */
    if (getenv("MALLOC_ARENA_MAX") != NULL) return 0;
    const char *tunables = getenv("GLIBC_TUNABLES");
    if (tunables != NULL && strstr(tunables, "malloc.arena_max") != NULL) return 0;
    return mallopt(M_ARENA_MAX, 1);
}
