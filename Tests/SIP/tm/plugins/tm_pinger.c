/* tm_pinger.c — a module that uses tm's API as the dispatcher's pinger does (tests only): binds "tm"
 * in init and sends requests as local client transactions.
 *   tm_ping(uri)       t_request OPTIONS with SY_TMCB_LOCAL_COMPLETED | SY_TMCB_RESPONSE_IN; logs
 *                      "tm_pinger: completed <code> local=<is_local> reply=<first line>" once per request
 *                      and "tm_pinger: response <code>" per reply.
 *   tm_ping_done(uri)  t_uac (1.0 entry) with a done callback; logs "tm_pinger: done <code>".
 *   tm_ping_chain(uri) two t_request OPTIONS with Call-ID chain@test, CSeq 1 (one bucket): the first one's
 *                      LOCAL_COMPLETED with code 0 (the server stops) sends a third into that bucket, after the
 *                      second, and logs "tm_pinger: chain sent <rc>"; the second one's logs as tm_ping's, the
 *                      third one's "tm_pinger: chained completed <code>". (The API asks callbacks not to call
 *                      it: this checks what tm does with one that does.) */
#include <stdio.h>
#include <string.h>
#include "switchyard_tm.h"

static const sy_host_api *host; /* global: stored by the entry function, read-only after */
static const sy_tm_api *tm;      /* global: bound in init, read-only after */

static void say(const char *text) { host->log(SY_L_NOTICE, "tm_pinger", text, strlen(text)); }

static void on_tm(const sy_tm_cb_params *p, void *param) {
    (void)param;
    char line[256];
    if (p->type == SY_TMCB_RESPONSE_IN) {
        snprintf(line, sizeof line, "tm_pinger: response %d", p->code);
    } else {
        size_t n = 0;
        while (n < p->reply.len && p->reply.s[n] != '\r') n++;
        snprintf(line, sizeof line, "tm_pinger: completed %d local=%d reply=%.*s", p->code, p->is_local,
                 (int)n, n ? p->reply.s : "");
    }
    say(line);
}

static void on_done(void *arg, int code) {
    (void)arg;
    char line[64];
    snprintf(line, sizeof line, "tm_pinger: done %d", code);
    say(line);
}

static sy_str arg_str(const sy_arg *a) { return a->value.s; }

static char chain_uri[256]; /* global: written by tm_ping_chain before its request, read by its callback */

static void on_chained(const sy_tm_cb_params *p, void *param) {
    (void)param;
    char line[64];
    snprintf(line, sizeof line, "tm_pinger: chained completed %d", p->code);
    say(line);
}

static int chain_request(sy_tm_cb fn) {
    sy_str none = { NULL, 0 };
    sy_str method = { "OPTIONS", 7 };
    sy_str uri = { chain_uri, strlen(chain_uri) };
    static const char h[] = "From: <sip:pinger@127.0.0.1>\r\nCall-ID: chain@test\r\nCSeq: 1 OPTIONS\r\n";
    sy_str hdrs = { h, sizeof h - 1 };
    return tm->t_request(method, uri, none, hdrs, none, none, 0, SY_TMCB_LOCAL_COMPLETED, fn, NULL);
}

static void on_chain_first(const sy_tm_cb_params *p, void *param) {
    (void)param;
    if (p->code != 0) return;
    char line[64];
    snprintf(line, sizeof line, "tm_pinger: chain sent %d", chain_request(on_chained));
    say(line);
}

static int ping_chain_fn(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user) {
    (void)ctx; (void)nargs; (void)user;
    sy_str u = arg_str(&args[0]);
    if (u.len >= sizeof chain_uri) return -1;
    memcpy(chain_uri, u.s, u.len);
    chain_uri[u.len] = 0;
    return chain_request(on_chain_first) == 0 && chain_request(on_tm) == 0 ? 1 : -1;
}

static int ping_fn(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user) {
    (void)ctx; (void)nargs; (void)user;
    sy_str none = { NULL, 0 };
    sy_str method = { "OPTIONS", 7 };
    sy_str hdrs = { "From: <sip:pinger@127.0.0.1>\r\n", 30 };
    int rc = tm->t_request(method, arg_str(&args[0]), none, hdrs, none, none, 0,
                           SY_TMCB_LOCAL_COMPLETED | SY_TMCB_RESPONSE_IN, on_tm, NULL);
    return rc == 0 ? 1 : -1;
}

static int ping_done_fn(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user) {
    (void)ctx; (void)nargs; (void)user;
    sy_str none = { NULL, 0 };
    sy_str method = { "OPTIONS", 7 };
    return tm->t_uac(method, arg_str(&args[0]), none, none, none, 0, on_done, NULL) == 0 ? 1 : -1;
}

static int pinger_init(void *user) {
    (void)user;
    char err[256] = "";
    tm = host->api_bind(SY_TM_API_NAME, SY_TM_MAJOR, sizeof(sy_tm_api), err, sizeof err);
    if (!tm || tm->header.abi_minor < 1) {
        say("cannot bind tm 1.1");
        return -1;
    }
    say("tm_pinger: bound tm");
    return 0;
}

static const sy_dep_export deps[] = { { "tm", SY_DEP_MODULE | SY_DEP_HARD } };
static const sy_func_export funcs[] = {
    { .name = "tm_ping", .handler = ping_fn, .nparams = 1, .route_mask = SY_ROUTE_ALL, .params = { SY_P_STR } },
    { .name = "tm_ping_done", .handler = ping_done_fn, .nparams = 1, .route_mask = SY_ROUTE_ALL, .params = { SY_P_STR } },
    { .name = "tm_ping_chain", .handler = ping_chain_fn, .nparams = 1, .route_mask = SY_ROUTE_ALL, .params = { SY_P_STR } },
};

static const sy_module_exports exports = {
    .header = SY_HEADER(sy_module_exports),
    .name = "tm_pinger", .version = "1.0.0", .description = "uses tm's t_request (tests)",
    .deps = SY_LIST(deps), .funcs = SY_LIST(funcs), .init = pinger_init,
};

SY_PLUGIN_ENTRY(h) {
    host = h;
    return &exports;
}
