/* abi_1_10.c — module `abi110`: the pseudo-variable contexts of ABI 1.10, served from C.
 *   <fixed>: every read gets the bytes of one stored reply (503 Service Unavailable, X-C: from C), kept in the
 *            module's state for its whole life (the header asks them to outlive the route run).
 *   <empty>: answers 0, no message (the variable reads NULL).
 *   <broken>: answers -1, an error (NULL too).
 *   <garbled>: hands over bytes that are no SIP message (NULL; the core logs it once per run).
 * init logs "contexts=<count of fixed-context reads so far>" (0: nothing runs a context at startup).
 * No global: the state is allocated by the entry function and reaches the callbacks through `user`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "switchyard.h"

typedef struct state {
    const sy_host_api *h;
    const char *reply;
    long reads;
} state;

static int ctx_fixed(sy_ctx *ctx, void *user, const struct sy_sip_snapshot **request, sy_str *message) {
    state *s = user;
    SY_UNUSED(ctx);
    SY_UNUSED(request);
    s->reads++;
    message->s = s->reply;
    message->len = strlen(s->reply);
    return 1;
}

static int ctx_empty(sy_ctx *ctx, void *user, const struct sy_sip_snapshot **request, sy_str *message) {
    SY_UNUSED(ctx);
    SY_UNUSED(user);
    SY_UNUSED(request);
    SY_UNUSED(message);
    return 0;
}

static int ctx_broken(sy_ctx *ctx, void *user, const struct sy_sip_snapshot **request, sy_str *message) {
    SY_UNUSED(ctx);
    SY_UNUSED(user);
    SY_UNUSED(request);
    SY_UNUSED(message);
    return -1;
}

static int ctx_garbled(sy_ctx *ctx, void *user, const struct sy_sip_snapshot **request, sy_str *message) {
    static const char junk[] = "not a SIP message";
    SY_UNUSED(ctx);
    SY_UNUSED(user);
    SY_UNUSED(request);
    message->s = junk;
    message->len = sizeof junk - 1;
    return 1;
}

static int mod_init(void *user) {
    state *s = user;
    char line[64];
    snprintf(line, sizeof line, "contexts=%ld", s->reads);
    s->h->log(2, "abi110", line, strlen(line));
    return 0;
}

static sy_pv_context_export contexts[] = {
    { .name = "fixed", .get = ctx_fixed },
    { .name = "empty", .get = ctx_empty },
    { .name = "broken", .get = ctx_broken },
    { .name = "garbled", .get = ctx_garbled },
};

static sy_module_exports exports = {
    .header = SY_HEADER(sy_module_exports), .name = "abi110", .version = "1.10.0",
    .pv_contexts = SY_LIST(contexts), .init = mod_init,
};

SY_PLUGIN_ENTRY(host) {
    state *s = calloc(1, sizeof *s); /* one per load; never freed */
    if (!s) return NULL;
    s->h = host;
    s->reply = "SIP/2.0 503 Service Unavailable\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-c\r\n"
               "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c@test\r\nCSeq: 1 INVITE\r\n"
               "X-C: from C\r\nContent-Length: 0\r\n\r\n";
    contexts[0].user = s;
    contexts[1].user = s;
    contexts[2].user = s;
    contexts[3].user = s;
    exports.user = s;
    return &exports;
}
