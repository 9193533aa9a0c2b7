/* api_consumer.c — module `api_consumer` (loader fixture): depends on api_provider, binds its
 * "greeter" API in init, and exercises the host table: var_parse/var_get/var_set, a timer that
 * raises an event from the timer thread, a statistic, and an MI command registered at run time.
 *   greet($var(out))  out = greeter->greet(<value of $var(who)>); returns 1, -1 if unbound
 *   modparam("api_consumer", "bind_major", 1)  major asked of api_bind (2 makes init fail) */
#include <stdio.h>
#include <string.h>
#include "switchyard.h"

typedef struct greeter_api {
    sy_table_header header;
    int (*greet)(const char *who, char *out, size_t outlen);
} greeter_api;

static const sy_host_api *host;   /* global: stored by the entry function, read-only after */
static const greeter_api *greeter; /* global: bound in init, read-only after */
static sy_var *who_var;            /* global: resolved in init, read-only after */
static sy_stat *ticks;             /* global: registered in init */
static long long bind_major = 1;   /* global: modparam storage, startup only */
static const sy_route *hook;       /* global: route[consumer_hook] found in init, read-only after */

static void say(int level, const char *text) { host->log(level, "api_consumer", text, strlen(text)); }

static int set_major(const sy_value *v, void *user, char *err, size_t errlen) {
    (void)user; (void)err; (void)errlen;
    bind_major = v->i;
    return 0;
}

static int greet_fn(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user) {
    (void)user; (void)nargs;
    if (!greeter) return -1;
    sy_value who;
    if (host->var_get(ctx, who_var, &who) != 0 || who.type != SY_VAL_STR) return -1;
    char name[128], out[256];
    snprintf(name, sizeof name, "%.*s", (int)who.s.len, who.s.s);
    if (greeter->greet(name, out, sizeof out) != 0) return -1;
    sy_value v = { SY_VAL_STR, 0, 0, { out, strlen(out) } };
    return host->var_set(ctx, args[0].var, &v) == 0 ? 1 : -1;
}

/* consumer_hook(): runs the script's route[consumer_hook] (found once in init) and returns its code. */
static int hook_fn(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user) {
    (void)args; (void)nargs; (void)user;
    return hook ? host->route_run(ctx, hook) : -1;
}

static void on_tick(void *user) {
    (void)user;
    host->stat_update(ticks, 1);
    sy_event_param p = { { "ticks", 5 }, { SY_VAL_INT, 0, host->stat_get(ticks), { NULL, 0 } } };
    host->event_raise("E_CONSUMER_TICK", &p, 1);
}

static int mi_ticks(sy_mi_call *call, void *user) {
    (void)user;
    char buf[64];
    snprintf(buf, sizeof buf, "{\"ticks\": %lld}", (long long)host->stat_get(ticks));
    host->mi_reply_json(call, buf, strlen(buf));
    return 0;
}

static const sy_mi_recipe no_params[] = { { { NULL } } };
static const sy_mi_export ticks_cmd = { "consumer_ticks", "timer ticks so far", 0, 1, no_params, mi_ticks, NULL };

static int consumer_init(void *user) {
    (void)user;
    char err[256] = "";
    greeter = host->api_bind("greeter", (uint32_t)bind_major, sizeof(greeter_api), err, sizeof err);
    if (!greeter) {
        char line[320];
        snprintf(line, sizeof line, "cannot bind greeter: %s", err);
        say(SY_L_ERR, line);
        return -1;
    }
    who_var = host->var_parse("$var(who)", 9, err, sizeof err);
    if (!who_var) return -1;
    ticks = host->stat_register("api_consumer", "ticks", 0);
    if (!ticks) return -1;
    if (host->mi_register("api_consumer", &ticks_cmd, sizeof ticks_cmd) != 0) return -1;
    if (!host->timer_add("consumer-tick", 50, on_tick, NULL)) return -1;
    hook = host->route_find("consumer_hook");
    say(SY_L_NOTICE, "bound greeter v1");
    return 0;
}

static const sy_dep_export deps[] = { { "api_provider", SY_DEP_MODULE | SY_DEP_HARD } };
static const sy_param_export params[] = { { "bind_major", SY_MP_INT, 0, set_major, NULL } };
static const sy_func_export funcs[] = {
    { .name = "greet", .handler = greet_fn, .nparams = 1, .route_mask = SY_ROUTE_ALL, .params = { SY_P_VAR } },
    { .name = "consumer_hook", .handler = hook_fn, .nparams = 0, .route_mask = SY_ROUTE_ALL },
};
static const sy_event_export events[] = { { "E_CONSUMER_TICK" } };

static const sy_module_exports exports = {
    .header = SY_HEADER(sy_module_exports),
    .name = "api_consumer", .version = "1.0.0", .description = "binds the greeter API",
    .deps = SY_LIST(deps), .params = SY_LIST(params), .funcs = SY_LIST(funcs), .events = SY_LIST(events),
    .init = consumer_init,
};

SY_PLUGIN_ENTRY(h) {
    host = h;
    return &exports;
}
