/* glibc malloc settings the Glibc module map does not show to Swift (mallopt, <malloc.h>). */
#ifndef SWITCHYARD_CMALLOC_H
#define SWITCHYARD_CMALLOC_H

/* One arena for every thread (M_ARENA_MAX 1) unless the environment sets the arena count (MALLOC_ARENA_MAX, or
   malloc.arena_max in GLIBC_TUNABLES); call before any other thread starts. 1 when set, 0 when left or refused. */
int cmalloc_one_arena(void);
#endif
