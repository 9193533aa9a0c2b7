/* abi_1_9.c — module `abi19`: the 1.9 runtime-handle entries and the module handles of the cachedb 1.2 and
 * DB 1.1 tables, used with no global: the state is allocated by the entry function and reaches every callback
 * through the `user` of the exports, of the modparam, of the functions and of the timer.
 * HARD dependency on cache_local; any DB driver.
 *   modparam("abi19", "db_url", "sqlite:///...")
 *   init, each logged: "cachedb fetch=<value>" (module_open(api->module, NULL) on "cachedb:local", then store
 *         and fetch "k"); "db rows=<n>" (module_connect(api->module, db_url) on its driver, a table created,
 *         one row inserted, counted); "stat=<set|NULL>" (rt_stat_register abi19:handled); "failure route=<found|
 *         none>" (rt_route_find_kind SY_ROUTE_FAILURE "abi19_fail"); route[abi19_req] is found the same way and
 *         kept; rt_timer_add "abi19-tick" (20 ms), whose first run logs "mi reply <json>" of rt_mi_dispatch
 *         get_statistics abi19:
 *   abi19_run()  adds 1 to abi19:handled, runs route[abi19_req]; returns its code (-1 if not found)
 *   abi19_stop() timer_remove of the tick timer (once), logs "timer removed"; returns 1 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "switchyard.h"
#include "switchyard_cachedb.h"
#include "switchyard_db.h"

typedef struct state {
    const sy_host_api *h;
    sy_runtime *rt;
    char db_url[256];
    sy_stat *handled;
    const sy_route *req;
    sy_timer *timer;
    int ticks;
} state;

static void say(state *s, const char *line) { s->h->rt_log(s->rt, 2, "abi19", line, strlen(line)); }

static int set_db_url(const sy_value *v, void *user, char *err, size_t errlen) {
    state *s = user;
    SY_UNUSED(err); SY_UNUSED(errlen);
    snprintf(s->db_url, sizeof s->db_url, "%.*s", (int)v->s.len, v->s.s);
    return 0;
}

static void keep_value(void *arg, const char *value, size_t len) {
    snprintf(arg, 64, "%.*s", (int)len, value);
}

static void check_cachedb(state *s) {
    char err[128] = "", got[64] = "", line[256];
    const sy_cachedb_api *api = s->h->api_bind("cachedb:local", SY_CACHEDB_MAJOR, (uint32_t)sizeof *api, err, sizeof err);
    sy_cachedb_conn *c = api ? api->module_open(api->module, NULL, err, sizeof err) : NULL;
    sy_str key = { "k", 1 }, value = { "from-module-open", 16 };
    if (c && api->store(c, key, value, 0) == SY_CACHEDB_OK) api->fetch(c, key, keep_value, got);
    snprintf(line, sizeof line, "cachedb fetch=%.63s%.127s", got, err);
    say(s, line);
}

static int count_row(void *arg, const sy_db_value *row, uint32_t ncols) {
    SY_UNUSED(ncols);
    *(long long *)arg = row[0].i;
    return 0;
}

static void check_db(state *s) {
    char err[256] = "", line[320];
    sy_db_error e;
    long long rows = -1;
    const sy_db_api *api = s->h->db_bind(s->db_url, SY_DB_MAJOR, (uint32_t)sizeof *api, err, sizeof err);
    sy_db_conn *c = api ? api->module_connect(api->module, s->db_url, &e) : NULL;
    if (c) {
        sy_str create = { "CREATE TABLE IF NOT EXISTS t19 (x INTEGER)", 42 };
        sy_str insert = { "INSERT INTO t19 (x) VALUES (19)", 31 };
        sy_str count = { "SELECT COUNT(*) FROM t19", 24 };
        api->raw_query(c, create, NULL, 0, NULL, NULL, &e);
        api->raw_query(c, insert, NULL, 0, NULL, NULL, &e);
        api->raw_query(c, count, NULL, 0, count_row, &rows, &e);
        api->close(c);
    } else if (api) {
        snprintf(err, sizeof err, "%.255s", e.message);
    }
    snprintf(line, sizeof line, "db rows=%lld%.255s", rows, err);
    say(s, line);
}

static void reply_to_log(void *arg, const char *json, size_t len) {
    state *s = arg;
    char line[512];
    snprintf(line, sizeof line, "mi reply %.*s", (int)len, json);
    say(s, line);
}

static void tick(void *user) {
    state *s = user;
    static const char request[] = "{\"jsonrpc\":\"2.0\",\"method\":\"get_statistics\",\"params\":[[\"abi19:\"]],\"id\":1}";
    if (s->ticks++ == 0) s->h->rt_mi_dispatch(s->rt, request, sizeof request - 1, reply_to_log, s);
}

static int mod_init(void *user) {
    state *s = user;
    check_cachedb(s);
    check_db(s);
    s->handled = s->h->rt_stat_register(s->rt, "abi19", "handled", 0);
    say(s, s->handled ? "stat=set" : "stat=NULL");
    say(s, s->h->rt_route_find_kind(s->rt, SY_ROUTE_FAILURE, "abi19_fail") ? "failure route=found" : "failure route=none");
    s->req = s->h->rt_route_find_kind(s->rt, SY_ROUTE_REQUEST, "abi19_req");
    s->timer = s->h->rt_timer_add(s->rt, "abi19-tick", 20, tick, s);
    return s->timer ? 0 : -1;
}

static int w_run(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user) {
    state *s = user;
    SY_UNUSED(args); SY_UNUSED(nargs);
    s->h->stat_update(s->handled, 1);
    return s->req ? s->h->route_run(ctx, s->req) : -1;
}

static int w_stop(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user) {
    state *s = user;
    SY_UNUSED(ctx); SY_UNUSED(args); SY_UNUSED(nargs);
    if (s->timer) {
        s->h->timer_remove(s->timer);
        s->timer = NULL;
        say(s, "timer removed");
    }
    return 1;
}

static const sy_dep_export deps[] = {
    { "cache_local", SY_DEP_MODULE | SY_DEP_HARD },
    { NULL, SY_DEP_ANY_DB | SY_DEP_HARD },
};
static sy_param_export params[] = { { "db_url", SY_MP_STR, 0, set_db_url, NULL } };
static sy_func_export funcs[] = {
    { .name = "abi19_run", .handler = w_run, .nparams = 0, .route_mask = SY_ROUTE_ALL },
    { .name = "abi19_stop", .handler = w_stop, .nparams = 0, .route_mask = SY_ROUTE_ALL },
};
static sy_module_exports exports = {
    .header = SY_HEADER(sy_module_exports), .name = "abi19", .version = "1.9.0",
    .deps = SY_LIST(deps), .params = SY_LIST(params), .funcs = SY_LIST(funcs), .init = mod_init,
};

SY_PLUGIN_ENTRY(host) {
    state *s = calloc(1, sizeof *s); /* one per load; never freed (the core may call a function late) */
    if (!s) return NULL;
    s->h = host;
    s->rt = host->runtime;
    exports.user = s;
    params[0].user = s;
    funcs[0].user = s;
    funcs[1].user = s;
    return &exports;
}
