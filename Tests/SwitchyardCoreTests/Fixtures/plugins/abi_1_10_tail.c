/* abi_1_10_tail.c — module `abi110tail`: a table that says ABI 1.10 while its function items are 1.11-sized, the
 * bytes where 1.11 put `fixup` holding a refusing check. A 1.10 module has no fixup, whatever its item size: the
 * core must not call it (the call site of abi110tail_f() is accepted and the handler logs "tail ran").
 * The state is the function's user pointer, with no global. */
#include <stdlib.h>
#include <string.h>
#include "switchyard.h"

typedef struct state {
    const sy_host_api *h;
} state;

static int never_fixup(const sy_fixup_arg *args, uint32_t nargs, uint32_t *arg_index, char *err, size_t errlen,
                       void *user) {
    SY_UNUSED(args);
    SY_UNUSED(nargs);
    SY_UNUSED(arg_index);
    SY_UNUSED(user);
    strncpy(err, "a 1.10 item's tail was called as a fixup", errlen - 1);
    return -1;
}

static int tail_run(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user) {
    state *s = user;
    SY_UNUSED(ctx);
    SY_UNUSED(args);
    SY_UNUSED(nargs);
    s->h->log(2, "abi110tail", "tail ran", 8);
    return 1;
}

static sy_func_export funcs[] = {
    { .name = "abi110tail_f", .handler = tail_run, .nparams = 0, .fixup = never_fixup },
};

static sy_module_exports exports = {
    .header = SY_HEADER(sy_module_exports), .name = "abi110tail", .version = "1.10.0", .funcs = SY_LIST(funcs),
};

SY_PLUGIN_ENTRY(host) {
    state *s = calloc(1, sizeof *s); /* one per load; never freed */
    if (!s) return NULL;
    s->h = host;
    funcs[0].user = s;
    exports.header.abi_minor = 10;
    return &exports;
}
