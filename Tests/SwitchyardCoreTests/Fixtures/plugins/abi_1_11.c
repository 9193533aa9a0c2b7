/* abi_1_11.c — module `abi111`: the entries of ABI 1.11, from C.
 *   abi111_level(int, str): a fixup (sy_func_fixup) checks each call site at startup. A literal level must be 1..9
 *     (refused at argument 0: "level <n> is not 1..9"), a literal name must not be "bad" (argument 1: "name 'bad'
 *     is refused"), and a site where both are variables is refused without naming an argument ("nothing literal").
 *     Every site it sees is logged: "fixup level=<C n|D|O> name=<C text|D|O>" (C literal, D dynamic, O omitted).
 *     At run time the handler logs "level=<n> name=<text>" and returns 1.
 *   abi111_insert(str line, str anchor): host->sip_header_insert (after the anchor) and host->sip_reply_header_add
 *     of the same line; logs "insert rc=<rc> reply rc=<rc>" and returns 1 when both are 0, else -1 (the host
 *     returns -2 where there is no SIP message).
 * The fixup's user pointer is the function's: the module state, with no global. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "switchyard.h"

typedef struct state {
    const sy_host_api *h;
} state;

static void say(state *s, const char *line) { s->h->log(2, "abi111", line, strlen(line)); }

static void describe(const sy_fixup_arg *a, char *out, size_t n) {
    if (a->kind == SY_FIXUP_CONST && a->value.type == SY_VAL_INT) snprintf(out, n, "C %lld", (long long)a->value.i);
    else if (a->kind == SY_FIXUP_CONST && a->value.type == SY_VAL_STR) snprintf(out, n, "C %.*s", (int)a->value.s.len, a->value.s.s);
    else if (a->kind == SY_FIXUP_DYNAMIC) snprintf(out, n, "D");
    else snprintf(out, n, "O");
}

static int level_fixup(const sy_fixup_arg *args, uint32_t nargs, uint32_t *arg_index, char *err, size_t errlen,
                       void *user) {
    state *s = user;
    char a[80], b[80], line[200];
    if (nargs != 2) return -1;
    describe(&args[0], a, sizeof a);
    describe(&args[1], b, sizeof b);
    snprintf(line, sizeof line, "fixup level=%s name=%s", a, b);
    say(s, line);
    if (args[0].kind == SY_FIXUP_CONST && args[0].value.type == SY_VAL_INT && (args[0].value.i < 1 || args[0].value.i > 9)) {
        *arg_index = 0;
        snprintf(err, errlen, "level %lld is not 1..9", (long long)args[0].value.i);
        return -1;
    }
    if (args[1].kind == SY_FIXUP_CONST && args[1].value.s.len == 3 && memcmp(args[1].value.s.s, "bad", 3) == 0) {
        *arg_index = 1;
        snprintf(err, errlen, "name 'bad' is refused");
        return -1;
    }
    if (args[0].kind == SY_FIXUP_DYNAMIC && args[1].kind == SY_FIXUP_DYNAMIC) {
        snprintf(err, errlen, "nothing literal");
        return -1;
    }
    return 0;
}

static int level_run(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user) {
    char line[200];
    SY_UNUSED(ctx);
    SY_UNUSED(nargs);
    snprintf(line, sizeof line, "level=%lld name=%.*s", (long long)args[0].value.i, (int)args[1].value.s.len,
             args[1].value.s.s);
    say(user, line);
    return 1;
}

static int insert_run(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user) {
    state *s = user;
    char line[64];
    int rc, rrc;
    SY_UNUSED(nargs);
    rc = s->h->sip_header_insert(ctx, args[0].value.s, args[1].value.s, 1);
    rrc = s->h->sip_reply_header_add(ctx, args[0].value.s);
    snprintf(line, sizeof line, "insert rc=%d reply rc=%d", rc, rrc);
    say(s, line);
    return rc == 0 && rrc == 0 ? 1 : -1;
}

static sy_func_export funcs[] = {
    { .name = "abi111_level", .handler = level_run, .nparams = 2, .params = { SY_P_INT, SY_P_STR }, .fixup = level_fixup },
    { .name = "abi111_insert", .handler = insert_run, .nparams = 2, .params = { SY_P_STR, SY_P_STR } },
};

static sy_module_exports exports = {
    .header = SY_HEADER(sy_module_exports), .name = "abi111", .version = "1.11.0", .funcs = SY_LIST(funcs),
};

SY_PLUGIN_ENTRY(host) {
    state *s = calloc(1, sizeof *s); /* one per load; never freed */
    if (!s) return NULL;
    s->h = host;
    funcs[0].user = s;
    funcs[1].user = s;
    return &exports;
}
