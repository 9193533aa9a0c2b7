/* tm_api_1_1.c — module `tm` publishing the tm API as a 1.1 tm did: minor 1, the table ending after
 * module_t_request (no module_t_reply). It keeps no transactions: module_t_state answers -1, except once after
 * the script called fake_tran(), when it answers 0 (a transaction exists) for the next request that asks.
 * Logs through host->log at NOTICE: "published API 1.1, rc <rc>", "state <rc>" per module_t_state. */
#include <stddef.h>
#include <stdio.h>
#include "switchyard_tm.h"

/* The tm table as API 1.1 had it: the current table's fields up to module_t_request. */
typedef struct tm_api_1_1 {
    sy_table_header header;
    int (*t_uac)(sy_str, sy_str, sy_str, sy_str, sy_str, uint32_t, void (*)(void *, int), void *);
    int (*register_callback)(sy_ctx *, uint32_t, sy_tm_cb, void *);
    int (*t_state)(sy_ctx *, sy_tm_state *);
    sy_tm_module *module;
    int (*module_t_uac)(sy_tm_module *, sy_str, sy_str, sy_str, sy_str, sy_str, uint32_t, void (*)(void *, int), void *);
    int (*module_register_callback)(sy_tm_module *, sy_ctx *, uint32_t, sy_tm_cb, void *);
    int (*module_t_state)(sy_tm_module *, sy_ctx *, sy_tm_state *);
    int (*t_request)(sy_str, sy_str, sy_str, sy_str, sy_str, sy_str, uint32_t, uint32_t, sy_tm_cb, void *);
    int (*module_t_request)(sy_tm_module *, sy_str, sy_str, sy_str, sy_str, sy_str, sy_str, uint32_t, uint32_t,
                            sy_tm_cb, void *);
} tm_api_1_1;
_Static_assert(sizeof(tm_api_1_1) == offsetof(sy_tm_api, module_t_reply), "the 1.1 prefix of sy_tm_api");

static const sy_host_api *host; /* global: stored by the entry function, read-only after */
static int pending;             /* global: one SIP worker in the tests; set by fake_tran, read by the next state */
static char instance;           /* global: its address is the module handle */

static void say(const char *what, int rc) {
    char line[80];
    int n = snprintf(line, sizeof line, "%s %d", what, rc);
    host->log(SY_L_NOTICE, "tm", line, (size_t)n);
}

static int state(sy_ctx *ctx, sy_tm_state *out) {
    (void)ctx;
    int rc = pending ? 0 : -1;
    pending = 0;
    if (rc == 0 && out) *out = (sy_tm_state){ 0 };
    say("state", rc);
    return rc;
}

static int module_state(sy_tm_module *m, sy_ctx *ctx, sy_tm_state *out) { (void)m; return state(ctx, out); }

static const tm_api_1_1 api = {
    .header = { SY_TM_MAJOR, 1, (uint32_t)sizeof(tm_api_1_1), 0 },
    .t_state = state,
    .module = (sy_tm_module *)&instance,
    .module_t_state = module_state,
};

static int fake_tran(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user) {
    (void)ctx; (void)args; (void)nargs; (void)user;
    pending = 1;
    return 1;
}

static int tm_init(void *user) {
    (void)user;
    int rc = host->api_publish(SY_TM_API_NAME, &api);
    say("published API 1.1, rc", rc);
    return rc == 0 ? 0 : -1;
}

static const sy_func_export funcs[] = {
    { .name = "fake_tran", .handler = fake_tran, .nparams = 0, .route_mask = SY_ROUTE_ALL },
};

static const sy_module_exports exports = {
    .header = SY_HEADER(sy_module_exports), .name = "tm", .version = "1.1.0",
    .description = "a tm publishing API 1.1 (signaling tests)", .funcs = SY_LIST(funcs), .init = tm_init,
};

SY_PLUGIN_ENTRY(h) { host = h; return &exports; }
