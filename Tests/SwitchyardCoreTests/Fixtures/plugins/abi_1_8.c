/* abi_1_8.c — module `abi18`: the runtime handle of ABI 1.8, used the way the header recommends. The plugin
 * keeps no global: its state (the host table and host->runtime) is allocated by the entry function and
 * reaches every hook through the exports' `user` and the timer's `user`.
 *   init: logs "runtime=<set|NULL>" with rt_log; raises E_EARLY (via=init) with the 1.0 event_raise and
 *         logs its code as "init raise rc=<rc>"; starts a thread that raises E_EARLY (via=thread) with
 *         rt_event_raise; logs "rt_sip_request rc=<rc>" (no SIP transport: -1); adds a 50 ms timer with
 *         rt_timer_add whose callback raises E_TICK18 with rt_event_raise
 *   destroy: joins the thread */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "switchyard.h"

typedef struct state {
    const sy_host_api *h;
    sy_runtime *rt;
    pthread_t thread;
    int started;
} state;

static void say(state *s, const char *line) { s->h->rt_log(s->rt, 2, "abi18", line, strlen(line)); }

static int raise_early(state *s, const char *via, int rt) {
    sy_event_param p = { { "via", 3 }, { SY_VAL_STR, 0, 0, { via, strlen(via) } } };
    return rt ? s->h->rt_event_raise(s->rt, "E_EARLY", &p, 1) : s->h->event_raise("E_EARLY", &p, 1);
}

static void *thread_main(void *arg) {
    raise_early(arg, "thread", 1);
    return NULL;
}

static void tick(void *user) {
    state *s = user;
    s->h->rt_event_raise(s->rt, "E_TICK18", NULL, 0);
}

static void done(void *arg, int code) { SY_UNUSED(arg); SY_UNUSED(code); }

static int mod_init(void *user) {
    state *s = user;
    char line[64];
    say(s, s->rt ? "runtime=set" : "runtime=NULL");
    snprintf(line, sizeof line, "init raise rc=%d", raise_early(s, "init", 0));
    say(s, line);
    s->started = pthread_create(&s->thread, NULL, thread_main, s) == 0;
    sy_str opt = { "OPTIONS", 7 }, uri = { "sip:a@127.0.0.1", 15 }, none = { NULL, 0 };
    snprintf(line, sizeof line, "rt_sip_request rc=%d", s->h->rt_sip_request(s->rt, opt, uri, none, none, none, 100, done, NULL));
    say(s, line);
    return s->h->rt_timer_add(s->rt, "abi18-tick", 50, tick, s) ? 0 : -1;
}

static void mod_destroy(void *user) {
    state *s = user;
    if (s->started) pthread_join(s->thread, NULL);
}

static sy_module_exports exports = {
    .header = SY_HEADER(sy_module_exports), .name = "abi18", .version = "1.8.0",
    .init = mod_init, .destroy = mod_destroy,
};

SY_PLUGIN_ENTRY(host) {
    state *s = calloc(1, sizeof *s); /* one per load; never freed (the core may call destroy late) */
    if (!s) return NULL;
    s->h = host;
    s->rt = host->header.abi_minor >= 8 ? host->runtime : NULL;
    exports.user = s;
    return &exports;
}
