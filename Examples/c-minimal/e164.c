/* e164.c: normalise phone numbers to E.164 ("020 7946-0000" -> "+442079460000"). Plain C99.
 * Script: e164_normalize(number, $var(out)) -> 1, or -1. MI: e164_normalize number=... -> object. */
#include <stdio.h>
#include <string.h>
#include "switchyard.h"
static const sy_host_api *h;
static int64_t default_cc = 1;          /* modparam: written at startup only, then read-only */
static sy_stat *st_bad;                 /* statistic e164:invalid: numbers that were refused */
/* "+CC.." and "00CC.." keep their country code, "0.." and the rest get default_cc; drops " -.()/". */
static int norm(sy_str in, char out[17]) {   /* returns the length written to out, 0 if invalid */
    char d[32];
    size_t n = 0, i = in.len > 0 && in.s[0] == '+', skip = 0;
    int intl = (int)i, len;
    for (; i < in.len; i++) {
        if (in.s[i] >= '0' && in.s[i] <= '9' && n < sizeof d) d[n++] = in.s[i];
        else if (in.s[i] == 0 || !strchr(" -.()/", in.s[i])) return 0;
    }
    if (!intl && n > 1 && d[0] == '0' && d[1] == '0') intl = 1, skip = 2;
    else if (!intl && n > 0 && d[0] == '0') skip = 1;
    len = intl ? snprintf(out, 17, "+%.*s", (int)(n - skip), d + skip)
               : snprintf(out, 17, "+%lld%.*s", (long long)default_cc, (int)(n - skip), d + skip);
    return len >= 4 && len <= 16 ? len : 0;   /* 3 to 15 digits */
}
static int set_cc(const sy_value *v, void *user, char *err, size_t errlen) {
    SY_UNUSED(user);
    if (v->i < 1 || v->i > 999) return snprintf(err, errlen, "must be 1..999, got %lld", (long long)v->i), -1;
    return default_cc = v->i, 0;
}
static int w_normalize(sy_ctx *ctx, const sy_arg *a, uint32_t nargs, void *user) {
    char buf[17];
    sy_value v = { SY_VAL_STR, 0, 0, { buf, (size_t)norm(a[0].value.s, buf) } };
    SY_UNUSED(nargs); SY_UNUSED(user);
    if (!v.s.len) h->stat_update(st_bad, 1);
    return v.s.len && h->var_set(ctx, a[1].var, &v) == 0 ? 1 : -1;
}
static int mi_normalize(sy_mi_call *call, void *user) {
    char buf[17];
    sy_str in = { "", 0 };
    int n = (h->mi_param_str(call, "number", &in), norm(in, buf));
    SY_UNUSED(user);
    h->mi_add_object(call, NULL);
    h->mi_add_str(call, "number", n ? buf : NULL, (size_t)n);
    h->mi_add_bool(call, "valid", n > 0);
    return h->mi_add_int(call, "default_cc", default_cc);
}
static int init(void *user) {
    SY_UNUSED(user);
    st_bad = h->stat_register("e164", "invalid", 0);
    return st_bad ? 0 : -1;
}
static const sy_param_export params[] = { { .name = "default_cc", .type = SY_MP_INT, .set = set_cc } };
static const sy_func_export funcs[] = { { .name = "e164_normalize", .handler = w_normalize, .nparams = 2,
                                          .route_mask = SY_ROUTE_ALL, .params = { SY_P_STR, SY_P_VAR } } };
static const sy_mi_recipe recipes[] = { { .params = { "number", NULL } } };
static const sy_mi_export mi[] = { { .name = "e164_normalize", .help = "Normalise a number to E.164",
                                     .nrecipes = 1, .recipes = recipes, .handler = mi_normalize } };
static const sy_module_exports exports = { .header = SY_HEADER(sy_module_exports), .name = "e164",
    .version = "1.0.0", .description = "E.164 number normaliser", .params = SY_LIST(params),
    .funcs = SY_LIST(funcs), .mi_cmds = SY_LIST(mi), .init = init };
SY_PLUGIN_ENTRY(host) { h = host; return &exports; }
