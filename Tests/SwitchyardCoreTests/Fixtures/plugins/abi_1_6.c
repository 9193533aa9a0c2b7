/* abi_1_6.c — module `abi16`: the ABI 1.6 authoring features (loader/host-table fixture).
 *   modparam limit INT                        set from a quoted integer in the tests; init logs "limit=<n>"
 *   abi16_show(str|nullable s, var out)       out = "null" for a NULL variable, else "str:<s>|nul=<s[len]==0>"
 *   abi16_strict(str s, var out)              out = "called"; a NULL variable must skip it ($rc = -1)
 *   abi16_count()                             atomic_add on a static counter; returns the new value
 *   MI abi16_build mode=...                   "tree": a nested reply built with mi_add_*; "misuse": logs the
 *                                             return codes of misused builder calls; "error": builds, then
 *                                             mi_reply_error replaces it; "json": builds, then mi_reply_json
 *   MI abi16_count [reset]                    the counter (atomic_add(&c, 0)) as a bare integer; with reset,
 *                                             atomic_swap(&c, 0) and the value it had
 * The entry function is the one-line 1.6 form: no major check (the core does it). */
#include <stdio.h>
#include <string.h>
#include "switchyard.h"

static const sy_host_api *h;      /* global: stored by the entry function, read-only after */
static int64_t limit;             /* global: modparam storage, written at startup only */
static int64_t counter;           /* global: touched only through h->atomic_add */

static void say(const char *text) { h->log(SY_L_NOTICE, "abi16", text, strlen(text)); }

static int set_limit(const sy_value *v, void *user, char *err, size_t errlen) {
    SY_UNUSED(user);
    if (v->type != SY_VAL_INT) { snprintf(err, errlen, "limit arrived as a string"); return -1; }
    limit = v->i;
    return 0;
}

static int set_out(sy_ctx *ctx, const sy_var *var, const char *s, size_t n) {
    sy_value v = { SY_VAL_STR, 0, 0, { s, n } };
    return h->var_set(ctx, var, &v) == 0 ? 1 : -1;
}

static int w_show(sy_ctx *ctx, const sy_arg *a, uint32_t nargs, void *user) {
    char buf[200];
    int n;
    SY_UNUSED(nargs); SY_UNUSED(user);
    if (a[0].value.type == SY_VAL_NULL) return set_out(ctx, a[1].var, "null", 4);
    if (a[0].value.type != SY_VAL_STR || a[0].value.s.len > 100) return -1;
    n = snprintf(buf, sizeof buf, "str:%.*s|nul=%d", (int)a[0].value.s.len, a[0].value.s.s,
                 a[0].value.s.s[a[0].value.s.len] == '\0');
    return set_out(ctx, a[1].var, buf, (size_t)n);
}

static int w_strict(sy_ctx *ctx, const sy_arg *a, uint32_t nargs, void *user) {
    SY_UNUSED(nargs); SY_UNUSED(user);
    return set_out(ctx, a[1].var, "called", 6);
}

static int w_count(sy_ctx *ctx, const sy_arg *a, uint32_t nargs, void *user) {
    SY_UNUSED(ctx); SY_UNUSED(a); SY_UNUSED(nargs); SY_UNUSED(user);
    return (int)h->atomic_add(&counter, 1);
}

static int mi_build(sy_mi_call *call, void *user) {
    sy_str mode = { "", 0 };
    char line[200];
    SY_UNUSED(user);
    h->mi_param_str(call, "mode", &mode);
    if (mode.len == 6 && memcmp(mode.s, "misuse", 6) == 0) {
        int r1 = h->mi_end(call);                     /* nothing open */
        int r2 = h->mi_add_int(call, "k", 1);         /* a key at the top level */
        int r3 = h->mi_add_object(call, NULL);        /* fine: the reply is an object */
        int r4 = h->mi_add_int(call, NULL, 1);        /* no key inside an object */
        int r5 = h->mi_add_array(call, "a");          /* fine */
        int r6 = h->mi_add_str(call, "k", "x", 1);    /* a key inside an array */
        int r7 = h->mi_end(call) + h->mi_end(call);   /* closes the array, then the object: 0 */
        int r8 = h->mi_add_null(call, NULL);          /* a second top-level value */
        snprintf(line, sizeof line, "misuse %d %d %d %d %d %d %d %d", r1, r2, r3, r4, r5, r6, r7, r8);
        say(line);
        return 0;
    }
    h->mi_add_object(call, NULL);
    h->mi_add_str(call, "s", "q\"b\\s\n\0z", 8);     /* escaping, an embedded NUL */
    h->mi_add_str(call, "c", "C string", SY_CSTR);
    h->mi_add_int(call, "i", -5);
    h->mi_add_bool(call, "t", 7);
    h->mi_add_bool(call, "f", 0);
    h->mi_add_null(call, "n");
    h->mi_add_str(call, "z", NULL, 0);
    h->mi_add_array(call, "arr");
    h->mi_add_int(call, NULL, 1);
    h->mi_add_object(call, NULL);
    h->mi_add_str(call, "k", "v", 1);
    h->mi_add_int(call, "k", 2);                      /* a repeated key replaces */
    h->mi_end(call);
    h->mi_add_array(call, NULL);                      /* left open: closed when the handler returns */
    if (mode.len == 5 && memcmp(mode.s, "error", 5) == 0)
        h->mi_reply_error(call, 400, "Bad thing", "after building");
    if (mode.len == 4 && memcmp(mode.s, "json", 4) == 0)
        h->mi_reply_json(call, "\"ignored\"", 9);
    return 0;
}

static int mi_count(sy_mi_call *call, void *user) {
    sy_str reset;
    SY_UNUSED(user);
    if (h->mi_param_str(call, "reset", &reset) == 0)
        return h->mi_add_int(call, NULL, h->atomic_swap(&counter, 0));   /* the value before the reset */
    return h->mi_add_int(call, NULL, h->atomic_add(&counter, 0));
}

static int mod_init(void *user) {
    char line[64];
    SY_UNUSED(user);
    snprintf(line, sizeof line, "limit=%lld", (long long)limit);
    say(line);
    return 0;
}

static const sy_param_export params[] = { { .name = "limit", .type = SY_MP_INT, .set = set_limit } };
static const sy_func_export funcs[] = {
    { .name = "abi16_show", .handler = w_show, .nparams = 2, .params = { SY_P_STR | SY_P_NULLABLE, SY_P_VAR } },
    { .name = "abi16_strict", .handler = w_strict, .nparams = 2, .params = { SY_P_STR, SY_P_VAR } },
    { .name = "abi16_count", .handler = w_count },
};
static const sy_mi_recipe build_recipes[] = { { .params = { NULL } }, { .params = { "mode", NULL } } };
static const sy_mi_recipe count_recipes[] = { { .params = { NULL } }, { .params = { "reset", NULL } } };
static const sy_mi_export mi[] = {
    { .name = "abi16_build", .help = "builder", .nrecipes = 2, .recipes = build_recipes, .handler = mi_build },
    { .name = "abi16_count", .help = "counter", .nrecipes = 2, .recipes = count_recipes, .handler = mi_count },
};
static const sy_module_exports exports = {
    .header = SY_HEADER(sy_module_exports), .name = "abi16", .version = "1.6.0",
    .params = SY_LIST(params), .funcs = SY_LIST(funcs), .mi_cmds = SY_LIST(mi), .init = mod_init,
};

SY_PLUGIN_ENTRY(host) { h = host; return &exports; }
