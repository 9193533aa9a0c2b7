/* glibc malloc settings the Glibc module map does not show to Swift (mallopt, <malloc.h>). */
#ifndef SWITCHYARD_CMALLOC_H
#define SWITCHYARD_CMALLOC_H

/* One arena for every thread (M_ARENA_MAX 1); call before any other thread starts. 1 on success, 0 if refused. */
int cmalloc_one_arena(void);
#endif
