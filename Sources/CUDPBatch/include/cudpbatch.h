/* Batched UDP receive and send for the proto_udp plugin: recvmmsg/sendmmsg are GNU extensions the Glibc module map
 * does not show to Swift, and their mmsghdr/iovec arrays are easier to lay out in C. */
#ifndef SWITCHYARD_CUDPBATCH_H
#define SWITCHYARD_CUDPBATCH_H
#include <stddef.h>
#include <sys/socket.h>

/* The most datagrams one call moves. */
#define CUDP_BATCH_MAX 64

/* A receiver: the mmsghdr/iovec arrays of one reading thread, laid out once (at the rates where a batch holds a few
 * datagrams, filling 32 headers on every call cost more than the datagrams' own handling). They point at buf (n <=
 * CUDP_BATCH_MAX slots of slot bytes) and addrs (n entries), which must outlive it. NULL when out of memory or n < 1. */
struct cudp_rx;
struct cudp_rx *cudp_rx_new(unsigned char *buf, size_t slot, int n, struct sockaddr_storage *addrs);
void cudp_rx_free(struct cudp_rx *rx);
/* Receives up to n datagrams with one recvmmsg: with wait set, blocking until the first one (or the socket's receive
 * timeout), without it not blocking at all (-1 with EAGAIN when none is queued); then taking only what is already
 * queued. Datagram i lands at buf + i * slot, its length in lens[i] (a datagram longer than slot is cut: lens[i] = -1),
 * its source in addrs[i] / addrlens[i]. Returns how many datagrams were received, or -1 with errno set. */
int cudp_rx_recv(struct cudp_rx *rx, int fd, int wait, socklen_t *addrlens, int *lens);

/* Sends n (<= CUDP_BATCH_MAX) datagrams with as few sendmmsg calls as possible: datagram i is bufs[i] (lens[i] bytes)
 * to addrs[i] (addrlens[i] bytes). A datagram the kernel refuses is skipped (errors[i] = its errno, 0 when sent).
 * Returns how many were sent. */
int cudp_send_batch(int fd, const unsigned char *const *bufs, const size_t *lens,
                    const struct sockaddr_storage *addrs, const socklen_t *addrlens, int n, int *errors);

/* Puts the calling thread under SCHED_BATCH (Linux): when a datagram wakes it while the CPU is busy with another task,
 * it does not preempt that task but runs when the task blocks or at the next scheduler tick. Under load the datagrams
 * that arrive meanwhile are read and sent with the same recvmmsg/sendmmsg instead of a sleep, wake-up and system call
 * pair each; on an idle CPU the thread runs at once as before. 0 on success, else an errno value. */
int cudp_thread_batch_policy(void);
#endif
