/* Linux epoll for Swift plugins: the Glibc module map does not include <sys/epoll.h>. Header only. */
#ifndef SWITCHYARD_CEPOLL_H
#define SWITCHYARD_CEPOLL_H
#include <sys/epoll.h>
#endif
