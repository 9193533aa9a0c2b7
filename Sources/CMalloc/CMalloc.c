#include <malloc.h>
#include "cmalloc.h"

int cmalloc_one_arena(void) { return mallopt(M_ARENA_MAX, 1); }
