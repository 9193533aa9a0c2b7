/* The calling thread's stack size: pthread_getattr_np is a GNU extension the Glibc module map does not show to Swift.
 * The core runs event routes on a producer's thread (rt_event_raise_here) only when its stack is a worker's size. */
#ifndef SWITCHYARD_CTHREADSTACK_H
#define SWITCHYARD_CTHREADSTACK_H
#include <stddef.h>

/* The calling thread's stack size in bytes, 0 if unknown. */
size_t cthread_stack_size(void);
#endif
