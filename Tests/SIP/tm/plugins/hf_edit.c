/* hf_edit.c — OpenSIPS sipmsgops' append_hf("Name: value\r\n") and remove_hf("Name") for the tm tests (no sipmsgops
 * module ships yet): header edits through the core's sip_header_add / sip_header_set, allowed in every route kind. */
#include <string.h>
#include "switchyard.h"

static const sy_host_api *host; /* global: stored by the entry function, read-only after */

static int append_hf(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user) {
    SY_UNUSED(nargs);
    SY_UNUSED(user);
    sy_str line = args[0].value.s;
    /* The core takes the line without its CRLF. */
    while (line.len > 0 && (line.s[line.len - 1] == '\n' || line.s[line.len - 1] == '\r')) line.len--;
    return host->sip_header_add(ctx, line, 0) == 0 ? 1 : -1;
}

static int remove_hf(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user) {
    SY_UNUSED(nargs);
    SY_UNUSED(user);
    sy_str none = { NULL, 0 };
    int removed = 0;
    while (host->sip_header_set(ctx, args[0].value.s, none) == 0) removed++;
    return removed > 0 ? 1 : -1;
}

static const sy_func_export funcs[] = {
    { .name = "append_hf", .handler = append_hf, .nparams = 1, .params = { SY_P_STR } },
    { .name = "remove_hf", .handler = remove_hf, .nparams = 1, .params = { SY_P_STR } },
};
static const sy_module_exports exports = {
    .header = SY_HEADER(sy_module_exports),
    .name = "hf_edit", .version = "1.0.0", .description = "append_hf and remove_hf (tests)",
    .funcs = SY_LIST(funcs),
};

SY_PLUGIN_ENTRY(h) {
    host = h;
    return &exports;
}
