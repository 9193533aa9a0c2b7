/* abi_1_5.c — module `abi15` built against the frozen ABI 1.5 header, unchanged since (loader
 * fixture): it must keep compiling, need no core symbol, load and behave on every later core.
 *   modparam greeting STR           (default "hello")
 *   abi15_greet(str who, var out)   out = "<greeting>, <who>"; returns 1; counts abi15:calls
 *   MI abi15_status                 {"greeting": "<greeting>", "calls": N} (hand-written JSON, 1.5 style)
 *   init logs "init on a core of ABI <major>.<minor>" */
#include <stdio.h>
#include <string.h>
#include "switchyard_abi_1_5.h"

static const sy_host_api *host; /* global: stored by the entry function, read-only after */
static char greeting[64] = "hello"; /* global: modparam storage, written at startup only */
static sy_stat *calls;          /* global: registered in init, read-only after */

static int set_greeting(const sy_value *v, void *user, char *err, size_t errlen) {
    (void)user;
    if (v->type != SY_VAL_STR || v->s.len >= sizeof greeting) { snprintf(err, errlen, "bad greeting"); return -1; }
    memcpy(greeting, v->s.s, v->s.len);
    greeting[v->s.len] = '\0';
    return 0;
}

static int abi15_greet(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user) {
    (void)user;
    (void)nargs;
    char buf[160];
    int n = snprintf(buf, sizeof buf, "%s, %.*s", greeting, (int)args[0].value.s.len, args[0].value.s.s);
    if (n < 0 || (size_t)n >= sizeof buf) return -1;
    host->stat_update(calls, 1);
    sy_value v = { SY_VAL_STR, 0, 0, { buf, (size_t)n } };
    return host->var_set(ctx, args[1].var, &v) == 0 ? 1 : -1;
}

static int abi15_status(sy_mi_call *call, void *user) {
    (void)user;
    char json[160];
    int n = snprintf(json, sizeof json, "{\"greeting\": \"%s\", \"calls\": %lld}", greeting,
                     (long long)host->stat_get(calls));
    host->mi_reply_json(call, json, (size_t)n);
    return 0;
}

static int mod_init(void *user) {
    (void)user;
    calls = host->stat_register("abi15", "calls", 0);
    char buf[64];
    int n = snprintf(buf, sizeof buf, "init on a core of ABI %u.%u", host->header.abi_major, host->header.abi_minor);
    host->log(SY_L_NOTICE, "abi15", buf, (size_t)n);
    return calls != NULL ? 0 : -1;
}

static const sy_param_export params[] = {
    { .name = "greeting", .type = SY_MP_STR, .set = set_greeting },
};
static const sy_func_export funcs[] = {
    { .name = "abi15_greet", .handler = abi15_greet, .nparams = 2, .route_mask = SY_ROUTE_ALL,
      .params = { SY_P_STR, SY_P_VAR } },
};
static const sy_mi_recipe status_recipes[] = { { .params = { NULL } } };
static const sy_mi_export mi[] = {
    { .name = "abi15_status", .help = "greeting and calls", .nrecipes = 1, .recipes = status_recipes,
      .handler = abi15_status },
};
static const sy_module_exports exports = {
    .header = SY_HEADER(sy_module_exports), .name = "abi15", .version = "1.5.0",
    .description = "loader test fixture: built for ABI 1.5",
    .deps = SY_LIST_EMPTY, .params = SY_LIST(params), .funcs = SY_LIST(funcs), .pvars = SY_LIST_EMPTY,
    .mi_cmds = SY_LIST(mi), .events = SY_LIST_EMPTY, .init = mod_init, .protos = SY_LIST_EMPTY,
};

SY_PLUGIN_ENTRY(h) {
    if (h == NULL || h->header.abi_major != SY_ABI_MAJOR) return NULL; /* the 1.5 docs' boilerplate */
    host = h;
    return &exports;
}
