/*
 * switchyard_httpd.h — the HTTP server API of the `httpd` module.
 *
 * The `httpd` module owns the server's one HTTP listening socket (libmicrohttpd, with its own threads)
 * and publishes one table of this type with host->api_publish under the name "httpd". Modules that
 * serve something over HTTP (mi_http, prometheus) declare a hard dependency on `httpd` and, from
 * their init(), bind it with
 *     host->api_bind("httpd", SY_HTTPD_MAJOR, <size they need>, err, errlen)
 * and register the URL root they answer on. It is OpenSIPS's `httpd_api_t` (register_httpdcb) in
 * C-ABI form: the request arrives whole (head and body), the handler answers once.
 *
 * The table follows the ABI rules of switchyard.h: it starts with a sy_table_header (major
 * SY_HTTPD_MAJOR, minor SY_HTTPD_MINOR, struct_size) and only grows at the end.
 *
 * Threads: handlers run on httpd's threads, several at once (one request per thread at a time);
 * a handler must not block for long, since the thread also serves other connections.
 *
 * Version history:
 *   1.0  initial table.
 *   1.1  appended suspend (a handler answers later, from another thread: mi_http and MI commands
 *        that answer later, such as tm's t_uac_dlg).
 */
#ifndef SWITCHYARD_HTTPD_H
#define SWITCHYARD_HTTPD_H

#include "switchyard.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SY_HTTPD_MAJOR 1
#define SY_HTTPD_MINOR 1

/** Name the table is published under. */
#define SY_HTTPD_API_NAME "httpd"

/** Opaque: the HTTP server that published the table. Owned by httpd; valid until the server stops. */
typedef struct sy_httpd sy_httpd;

/** Opaque: one HTTP request being answered. Owned by httpd; valid during the handler call only (or,
 *  after suspend, until reply). */
typedef struct sy_httpd_request sy_httpd_request;

/** Called once per request whose path falls under the registered root, after the whole body has
 *  arrived, on an httpd thread. Answer with reply(); a handler that returns without answering gets
 *  500 sent for it. `user` is the pointer given to register_root. */
typedef void (*sy_httpd_handler)(void *user, sy_httpd_request *req);

typedef struct sy_httpd_api {
    sy_table_header header; /**< SY_HTTPD_HEADER: this API's own version, not the plugin ABI's. */
    /** The server this table belongs to: the first argument of register_root. Set by httpd. */
    sy_httpd *server;

    /** Registers `handler` for the path "/<root>" and every path under "/<root>/" (root given
     *  without slashes; "" = every path no other root claims). Bodies larger than max_body bytes
     *  (0 = 1 MiB) are answered 413 by httpd without calling the handler. `module` names the owner
     *  in logs and in MI httpd_list_root_path. Strings are copied. From init(); a request that
     *  arrives before its root is registered gets 404. Returns 0, -1 root already registered,
     *  -2 bad arguments. */
    int (*register_root)(sy_httpd *server, const char *module, const char *root, uint64_t max_body,
                         sy_httpd_handler handler, void *user);

    /** The request method ("GET", "POST", ...). Valid during the handler call. */
    sy_str (*method)(sy_httpd_request *req);
    /** The URL path, without the query string ("/mi", "/metrics"). Valid during the handler call. */
    sy_str (*path)(sy_httpd_request *req);
    /** The request body (len 0 when there is none). Valid during the handler call. */
    sy_str (*body)(sy_httpd_request *req);
    /** The value of request header `name` (case-insensitive) in *out. Returns 0, -1 absent. */
    int (*request_header)(sy_httpd_request *req, const char *name, sy_str *out);
    /** The value of query argument `name` ("?name=value") in *out. Returns 0, -1 absent. */
    int (*query_arg)(sy_httpd_request *req, const char *name, sy_str *out);

    /** Adds a response header line "name: value" (both copied) to the answer; call before reply.
     *  Returns 0, -1 already answered, -2 bad arguments (NULL, or a line break in either). */
    int (*reply_header)(sy_httpd_request *req, const char *name, const char *value);
    /** Answers the request: status (100..599), Content-Type (NULL = none), body (body_len bytes,
     *  copied; NULL with 0 for none). Returns 0, -1 already answered, -2 bad status, -3 body larger
     *  than httpd's `buf_size` (a 500 is sent instead). */
    int (*reply)(sy_httpd_request *req, int status, const char *content_type, const char *body, size_t body_len);

    /* --- 1.1 --- (check header.struct_size before use) */
    /** During the handler: the answer comes later. The handler returns without answering and the
     *  connection waits, holding no httpd thread, until reply() (with reply_header before it) is
     *  called on req from any thread, exactly once; req stays valid until then (method, path, body
     *  and the lookups only during the handler call). An answer given before or while suspend is
     *  called is simply sent. When the server stops first, the waiting request is answered 503 and
     *  a later reply() returns -1. Returns 0, -1 already answered or suspended. */
    int (*suspend)(sy_httpd_request *req);
} sy_httpd_api;

/** Initialiser for the table's header. */
#define SY_HTTPD_HEADER { SY_HTTPD_MAJOR, SY_HTTPD_MINOR, (uint32_t)sizeof(sy_httpd_api), 0 }

/* Example (a module serving GET /hello):
 *     static const sy_httpd_api *http;
 *     static void hello(void *user, sy_httpd_request *req) {
 *         http->reply(req, 200, "text/plain", "hello\n", 6);
 *     }
 *     static int mod_init(void) {    // with a hard dependency on "httpd"
 *         char err[128];
 *         http = host->api_bind(SY_HTTPD_API_NAME, SY_HTTPD_MAJOR, sizeof *http, err, sizeof err);
 *         return http && http->register_root(http->server, "hello", "hello", 0, hello, NULL) == 0 ? 0 : -1;
 *     }
 */

#ifdef __cplusplus
}
#endif

#endif /* SWITCHYARD_HTTPD_H */
