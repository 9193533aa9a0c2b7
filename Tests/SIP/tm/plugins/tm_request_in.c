/* tm_request_in.c — a module with a TMCB_REQUEST_IN callback (tests only). For every new transaction it logs
 * "tm_request_in: code=<$T_reply_code>" (what was sent upstream so far: 0, the 100 Trying comes after the callbacks)
 * and sets $avp(req_in) = "seen" on the request, which the transaction keeps (its failure route sees it). */
#include <stdio.h>
#include <string.h>
#include "switchyard_tm.h"

static const sy_host_api *host; /* global: stored by the entry function, read-only after */
static sy_var *code_var;        /* global: parsed in init, read-only after */
static sy_var *avp_var;         /* global: parsed in init, read-only after */

static void say(const char *text) { host->log(SY_L_NOTICE, "tm_request_in", text, strlen(text)); }

static void on_request_in(const sy_tm_cb_params *p, void *param) {
    (void)param;
    sy_value v;
    memset(&v, 0, sizeof v);
    char line[64];
    if (host->var_get(p->ctx, code_var, &v) == 0 && v.type == SY_VAL_INT) {
        snprintf(line, sizeof line, "tm_request_in: code=%lld", (long long)v.i);
        say(line);
    }
    sy_value seen;
    memset(&seen, 0, sizeof seen);
    seen.type = SY_VAL_STR;
    seen.s.s = "seen";
    seen.s.len = 4;
    host->var_set(p->ctx, avp_var, &seen);
}

static int request_in_init(void *user) {
    (void)user;
    char err[256] = "";
    const sy_tm_api *tm = host->api_bind(SY_TM_API_NAME, SY_TM_MAJOR, sizeof(sy_tm_api), err, sizeof err);
    code_var = host->var_parse("$T_reply_code", 13, err, sizeof err);
    avp_var = host->var_parse("$avp(req_in)", 12, err, sizeof err);
    if (!tm || !code_var || !avp_var || tm->header.abi_minor < 1
        || tm->module_register_callback(tm->module, NULL, SY_TMCB_REQUEST_IN, on_request_in, NULL) != 0) {
        say("tm_request_in: cannot register");
        return -1;
    }
    say("tm_request_in: registered");
    return 0;
}

static const sy_dep_export deps[] = { { "tm", SY_DEP_MODULE | SY_DEP_HARD } };
static const sy_module_exports exports = {
    .header = SY_HEADER(sy_module_exports),
    .name = "tm_request_in", .version = "1.0.0", .description = "a TMCB_REQUEST_IN callback (tests)",
    .deps = SY_LIST(deps), .init = request_in_init,
};

SY_PLUGIN_ENTRY(h) {
    host = h;
    return &exports;
}
