#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "cudpbatch.h"

struct cudp_rx {
    int n;
    struct mmsghdr msgs[CUDP_BATCH_MAX];
    struct iovec iov[CUDP_BATCH_MAX];
};

struct cudp_rx *cudp_rx_new(unsigned char *buf, size_t slot, int n, struct sockaddr_storage *addrs) {
    if (n > CUDP_BATCH_MAX) n = CUDP_BATCH_MAX;
    if (n < 1) return NULL;
    struct cudp_rx *rx = calloc(1, sizeof *rx);
    if (!rx) return NULL;
    rx->n = n;
    for (int i = 0; i < n; i++) {
        rx->iov[i].iov_base = buf + (size_t)i * slot;
        rx->iov[i].iov_len = slot;
        rx->msgs[i].msg_hdr.msg_iov = &rx->iov[i];
        rx->msgs[i].msg_hdr.msg_iovlen = 1;
        rx->msgs[i].msg_hdr.msg_name = &addrs[i];
        rx->msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    }
    return rx;
}

void cudp_rx_free(struct cudp_rx *rx) { free(rx); }

int cudp_rx_recv(struct cudp_rx *rx, int fd, int wait, socklen_t *addrlens, int *lens) {
    int got = recvmmsg(fd, rx->msgs, (unsigned int)rx->n, wait ? MSG_WAITFORONE : MSG_DONTWAIT, NULL);
    if (got < 0) return -1;
    for (int i = 0; i < got; i++) {
        struct msghdr *h = &rx->msgs[i].msg_hdr;
        addrlens[i] = h->msg_namelen;
        lens[i] = (h->msg_flags & MSG_TRUNC) ? -1 : (int)rx->msgs[i].msg_len;
        /* The kernel wrote the source's length over it: the next call offers the whole slot again. */
        h->msg_namelen = sizeof(struct sockaddr_storage);
    }
    return got;
}

int cudp_send_batch(int fd, const unsigned char *const *bufs, const size_t *lens,
                    const struct sockaddr_storage *addrs, const socklen_t *addrlens, int n, int *errors) {
    struct mmsghdr msgs[CUDP_BATCH_MAX];
    struct iovec iov[CUDP_BATCH_MAX];
    if (n > CUDP_BATCH_MAX) n = CUDP_BATCH_MAX;
    if (n < 1) return 0;
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)n);
    for (int i = 0; i < n; i++) {
        iov[i].iov_base = (void *)bufs[i];
        iov[i].iov_len = lens[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = (void *)&addrs[i];
        msgs[i].msg_hdr.msg_namelen = addrlens[i];
        errors[i] = 0;
    }
    int sent = 0, at = 0;
    while (at < n) {
        int r = sendmmsg(fd, msgs + at, (unsigned int)(n - at), 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            /* The first datagram left failed: note it and go on with the rest. */
            errors[at] = errno ? errno : EIO;
            at++;
            continue;
        }
        if (r == 0) { errors[at] = EIO; at++; continue; }
        sent += r;
        at += r;
    }
    return sent;
}

int cudp_thread_batch_policy(void) {
#ifdef SCHED_BATCH
    struct sched_param p = { .sched_priority = 0 };
    /* pid 0: the calling thread (a Linux thread is its own task). */
    return sched_setscheduler(0, SCHED_BATCH, &p) == 0 ? 0 : errno;
#else
    return ENOSYS;
#endif
}
