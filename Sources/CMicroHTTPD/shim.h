#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* MHD_start_daemon and MHD's logger are variadic, which Swift does not import: fixed-argument wrappers. */

/** Receives one formatted libmicrohttpd error line. */
typedef void (*sy_mhd_log_fn)(void *cls, const char *line);

typedef struct sy_mhd_logger {
    sy_mhd_log_fn fn;
    void *cls;
} sy_mhd_logger;

static inline void sy_mhd_log_trampoline(void *cls, const char *fmt, va_list ap) {
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    const sy_mhd_logger *l = (const sy_mhd_logger *)cls;
    if (l && l->fn) l->fn(l->cls, line);
}

/** Starts a daemon on `addr` with MHD's own threads: `flags` (e.g. internal polling thread + epoll), a pool of
 *  `threads` polling threads (0 or 1 = one), idle connections closed after `timeout_s` seconds, at most
 *  `conn_limit` connections, `mem_limit` bytes of per-connection memory (request head and read buffer).
 *  `logger` must outlive the daemon. */
static inline struct MHD_Daemon *sy_mhd_start(unsigned int flags, const struct sockaddr *addr,
                                              MHD_AccessHandlerCallback handler, void *handler_cls,
                                              MHD_RequestCompletedCallback completed, void *completed_cls,
                                              unsigned int threads, unsigned int timeout_s,
                                              unsigned int conn_limit, size_t mem_limit,
                                              sy_mhd_logger *logger) {
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_cls,
                            MHD_OPTION_EXTERNAL_LOGGER, sy_mhd_log_trampoline, (void *)logger, /* first, as MHD wants */
                            MHD_OPTION_SOCK_ADDR, addr,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, completed_cls,
                            MHD_OPTION_THREAD_POOL_SIZE, (threads > 1 ? threads : 0),
                            MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
                            MHD_OPTION_CONNECTION_LIMIT, conn_limit,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem_limit,
                            MHD_OPTION_END);
}

/* libmicrohttpd's closed enums import into Swift under renamed cases; these give them one plain spelling. */
static const enum MHD_Result SY_MHD_YES = MHD_YES;
static const enum MHD_Result SY_MHD_NO = MHD_NO;
static const enum MHD_ValueKind SY_MHD_HEADER_KIND = MHD_HEADER_KIND;
static const enum MHD_ValueKind SY_MHD_GET_ARGUMENT_KIND = MHD_GET_ARGUMENT_KIND;
static const enum MHD_ResponseMemoryMode SY_MHD_RESPMEM_MUST_COPY = MHD_RESPMEM_MUST_COPY;
