/* older_minor.c — module `older_minor` built against the ABI 1.0 header (loader fixture).
 * Its exports table is the 1.0 size (no `aliases` field): the loader must accept it and treat
 * every 1.1 field as zero/NULL.
 *   modparam x INT                 (stored; printed by init: "init x=<x>")
 *   older_minor_hello(var out)     out = "hello from 1.0"; returns 1 */
#include <stdio.h>
#include "switchyard_abi_1_0.h"

static const sy_host_api *host; /* global: stored by the entry function, read-only after */
static long long x;             /* global: modparam storage, written at startup only */

static int set_x(const sy_value *v, void *user, char *err, size_t errlen) {
    (void)user;
    if (v->type != SY_VAL_INT) { snprintf(err, errlen, "x must be an integer"); return -1; }
    x = (long long)v->i;
    return 0;
}

static int older_minor_hello(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user) {
    (void)user;
    if (nargs != 1) return -1;
    static const char text[] = "hello from 1.0";
    sy_value v = { SY_VAL_STR, 0, 0, { text, sizeof text - 1 } };
    return host->var_set(ctx, args[0].var, &v) == 0 ? 1 : -1;
}

static int mod_init(void *user) {
    (void)user;
    char buf[64];
    int n = snprintf(buf, sizeof buf, "init x=%lld", x);
    host->log(SY_L_NOTICE, "older_minor", buf, (size_t)n);
    return 0;
}

static const sy_param_export params[] = {
    { "x", SY_MP_INT, 0, set_x, NULL },
};

static const sy_func_export funcs[] = {
    { "older_minor_hello", older_minor_hello, 1, SY_ROUTE_ALL, { SY_P_VAR, 0, 0, 0, 0, 0, 0, 0 }, NULL },
};

static const sy_module_exports exports = {
    SY_HEADER(sy_module_exports), "older_minor", "1.0.0", "loader test fixture: built for ABI 1.0",
    SY_LIST_EMPTY, SY_LIST(params), SY_LIST(funcs), SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY,
    mod_init, NULL, NULL, NULL
};

SY_PLUGIN_ENTRY(h) {
    if (h->header.abi_major != SY_ABI_MAJOR) return NULL;
    host = h; /* only the 1.0 part of the host table is used */
    return &exports;
}
