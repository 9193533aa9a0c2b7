#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "cudpbatch.h"

int cudp_recv_batch(int fd, unsigned char *buf, size_t slot, int n, int wait,
                    struct sockaddr_storage *addrs, socklen_t *addrlens, int *lens) {
    struct mmsghdr msgs[CUDP_BATCH_MAX];
    struct iovec iov[CUDP_BATCH_MAX];
    if (n > CUDP_BATCH_MAX) n = CUDP_BATCH_MAX;
    if (n < 1) return 0;
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)n);
    for (int i = 0; i < n; i++) {
        iov[i].iov_base = buf + (size_t)i * slot;
        iov[i].iov_len = slot;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &addrs[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    }
    int got = recvmmsg(fd, msgs, (unsigned int)n, wait ? MSG_WAITFORONE : MSG_DONTWAIT, NULL);
    if (got < 0) return -1;
    for (int i = 0; i < got; i++) {
        addrlens[i] = msgs[i].msg_hdr.msg_namelen;
        lens[i] = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? -1 : (int)msgs[i].msg_len;
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
