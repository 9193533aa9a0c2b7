/* good.c — a well-formed module `good` (loader fixture).
 *   modparam level INT            (stored; printed by init)
 *   modparam name  STR|REPEATABLE (each value logged: "name=<value>")
 *   good_echo(str s, var out)     out = s; returns 1 (-1 if the variable refuses the write)
 *   good_ret(int n)               returns n (so 0 stops the script, <0 is false)
 *   init -> 0, logs "init level=<level>"; child_init -> 0, logs "child_init rank=<rank>" (DBG);
 *   destroy logs "destroy". All logs go through host->log with module "good", level NOTICE. */
#include <stdio.h>
#include "switchyard.h"

static const sy_host_api *host;  /* global: stored by the entry function, read-only after */
static long long level;          /* global: modparam storage, written at startup only */

static void say(int lvl, const char *text) {
    size_t n = 0;
    while (text[n]) n++;
    host->log(lvl, "good", text, n);
}

static int set_level(const sy_value *v, void *user, char *err, size_t errlen) {
    (void)user;
    if (v->type != SY_VAL_INT) { snprintf(err, errlen, "level must be an integer"); return -1; }
    level = (long long)v->i;
    return 0;
}

static int set_name(const sy_value *v, void *user, char *err, size_t errlen) {
    (void)user;
    if (v->type != SY_VAL_STR) { snprintf(err, errlen, "name must be a string"); return -1; }
    char buf[256];
    snprintf(buf, sizeof buf, "name=%.*s", (int)(v->s.len > 200 ? 200 : v->s.len), v->s.s ? v->s.s : "");
    say(SY_L_NOTICE, buf);
    return 0;
}

static int good_echo(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user) {
    (void)user;
    if (nargs != 2) return -1;
    sy_value v = { SY_VAL_STR, 0, 0, args[0].value.s };
    return host->var_set(ctx, args[1].var, &v) == 0 ? 1 : -1;
}

static int good_ret(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user) {
    (void)ctx; (void)user;
    if (nargs != 1) return -1;
    int64_t n = args[0].value.i;
    return n > 2147483647 ? 2147483647 : n < -2147483647 ? -2147483647 : (int)n;
}

static int good_init(void *user) {
    (void)user;
    char buf[64];
    snprintf(buf, sizeof buf, "init level=%lld", level);
    say(SY_L_NOTICE, buf);
    return 0;
}

static int good_child_init(int rank, void *user) {
    (void)user;
    char buf[64];
    snprintf(buf, sizeof buf, "child_init rank=%d", rank);
    say(SY_L_DBG, buf);
    return 0;
}

static void good_destroy(void *user) {
    (void)user;
    say(SY_L_NOTICE, "destroy");
}

static const sy_param_export params[] = {
    { "level", SY_MP_INT, 0, set_level, NULL },
    { "name", SY_MP_STR | SY_MP_REPEATABLE, 0, set_name, NULL },
};

static const sy_func_export funcs[] = {
    { .name = "good_echo", .handler = good_echo, .nparams = 2, .route_mask = SY_ROUTE_ALL, .params = { SY_P_STR, SY_P_VAR } },
    { .name = "good_ret", .handler = good_ret, .nparams = 1, .route_mask = SY_ROUTE_ALL, .params = { SY_P_INT } },
};

static const sy_module_exports exports = {
    SY_HEADER(sy_module_exports), "good", "1.0.0", "loader test fixture: a well-formed module",
    SY_LIST_EMPTY, SY_LIST(params), SY_LIST(funcs), SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY,
    good_init, good_child_init, good_destroy, NULL, NULL, SY_LIST_EMPTY /* protos (1.4) */, SY_LIST_EMPTY /* pv_contexts (1.10) */
};

SY_PLUGIN_ENTRY(h) {
    if (h->header.abi_major != SY_ABI_MAJOR) return NULL;
    host = h;
    return &exports;
}
