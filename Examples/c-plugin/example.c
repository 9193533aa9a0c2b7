/*
 * example.c — a small, complete Switchyard plugin in plain C.
 *
 * Built by `make` into example.so against the installed header only (switchyard.h), as C99; it
 * links nothing but libc and never calls a core symbol: everything it needs comes through the
 * host table handed to switchyard_plugin_entry().
 *
 * ABI: it is built for the minor of the header it is compiled against (SY_HEADER records it) —
 * 1.6 with this repository's header — and it uses 1.6 host functions (atomic_add, atomic_swap and
 * the MI reply builder), so it needs a core of ABI 1.6 or later. Compiled against an older header
 * it would not build: every host function it names must exist in the header.
 *
 * Exports (see README.md):
 *   modparam  greeting    STR  (default "hello")
 *   modparam  max_repeat  INT  (default 3, 1..100)
 *   function  example_repeat(str text, int count, var out)      all routes
 *   pvar      $example(greeting), $example(calls)                read-only
 *   MI        example_status            -> {"greeting": "...", "calls": N}
 *             example_status reset=...  -> "OK" (counter zeroed)
 *   statistic example:calls
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "switchyard.h"

#define MOD_NAME "example"
#define DEFAULT_GREETING "hello"
#define MAX_REPEAT_LIMIT 100

/* ---------------------------------------------------------------------------------------------
 * Global state — only what a plugin cannot avoid.
 * ------------------------------------------------------------------------------------------- */

/* Global because the host table is handed over exactly once, to the entry function, and every
 * later callback (handlers, MI, init) needs it. Written once on the main thread before the core
 * can call anything else; read-only afterwards, so no synchronisation is needed. */
static const sy_host_api *g_host;

/* Global because modparam setters have nowhere else to store their values (the C tables are
 * static). Written only at startup, on the main thread, before init(); read-only once script
 * workers run, so plain variables are safe. g_greeting == NULL means "the default". */
static char *g_greeting;
static size_t g_greeting_len;
static int64_t g_max_repeat = 3;

/* Global because every worker thread increments the same counter concurrently: touched only
 * through g_host->atomic_add / atomic_swap (C99 has no atomics; the host provides them). */
static int64_t g_calls;

/* Global because the statistic handle is registered once in init() and used by every call.
 * Written in init() (before workers start), read-only afterwards. */
static sy_stat *g_stat_calls;

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------- */

/* True when the host table (as the running core built it) is long enough to contain `field` and
 * sets it. Belt and braces: a core refuses a plugin built for a newer minor than its own, so any
 * core that accepts example.so (built for 1.6) has log_enabled (1.1); the check shows how to read
 * a host table defensively and costs one comparison. */
#define HOST_HAS(field) \
    (offsetof(sy_host_api, field) + sizeof(g_host->field) <= g_host->header.struct_size && \
     g_host->field != NULL)

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static void ex_log(int level, const char *fmt, ...)
{
    /* log_enabled arrived in ABI 1.1: skip the formatting when the level is filtered out. */
    if (HOST_HAS(log_enabled) && !g_host->log_enabled(level))
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
    g_host->log(level, MOD_NAME, buf, len);
}

static const char *greeting(size_t *len)
{
    if (g_greeting != NULL) {
        *len = g_greeting_len;
        return g_greeting;
    }
    *len = sizeof DEFAULT_GREETING - 1;
    return DEFAULT_GREETING;
}

static int str_eq(sy_str a, const char *lit)
{
    size_t n = strlen(lit);
    return a.len == n && (n == 0 || memcmp(a.s, lit, n) == 0);
}

/* ---------------------------------------------------------------------------------------------
 * Module parameters (called at startup, main thread, once per modparam line)
 * ------------------------------------------------------------------------------------------- */

static int set_greeting(const sy_value *value, void *user, char *err, size_t errlen)
{
    SY_UNUSED(user);
    if (value->type != SY_VAL_STR) {
        snprintf(err, errlen, "must be a string");
        return -1;
    }
    /* value->s belongs to the core and is valid during this call only: copy it. */
    char *copy = malloc(value->s.len + 1);
    if (copy == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (value->s.len > 0)
        memcpy(copy, value->s.s, value->s.len);
    copy[value->s.len] = '\0';
    free(g_greeting);
    g_greeting = copy;
    g_greeting_len = value->s.len;
    return 0;
}

static int set_max_repeat(const sy_value *value, void *user, char *err, size_t errlen)
{
    SY_UNUSED(user);
    if (value->type != SY_VAL_INT) {
        snprintf(err, errlen, "must be an integer");
        return -1;
    }
    if (value->i < 1 || value->i > MAX_REPEAT_LIMIT) {
        snprintf(err, errlen, "max_repeat must be between 1 and %d, got %lld",
                 MAX_REPEAT_LIMIT, (long long)value->i);
        return -1;
    }
    g_max_repeat = value->i;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Script function: example_repeat(str text, int count, var out)
 * Called concurrently from any worker thread: uses only its arguments, the stack/heap, the
 * read-only modparams and the atomic counter.
 * ------------------------------------------------------------------------------------------- */

static int w_example_repeat(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user)
{
    SY_UNUSED(nargs); /* always 3: the declared count (an omitted optional argument has present == 0) */
    SY_UNUSED(user);

    g_host->atomic_add(&g_calls, 1);
    g_host->stat_update(g_stat_calls, 1);

    sy_str text = args[0].value.s;  /* owned by the core, valid during this call */
    int64_t count = args[1].value.i;
    if (count < 1)
        return -1;                  /* false, nothing written */
    if (count > g_max_repeat)
        count = g_max_repeat;
    size_t n = (size_t)count;       /* 1..100 */

    /* n copies of text and n - 1 separating spaces. */
    if (text.len > (SIZE_MAX - n) / n)
        return -1;
    size_t total = text.len * n + (n - 1);

    char small[512];
    char *buf = total <= sizeof small ? small : malloc(total);
    if (buf == NULL) {
        ex_log(SY_L_ERR, "example_repeat: out of memory (%zu bytes)", total);
        return -1;
    }
    char *p = buf;
    for (size_t k = 0; k < n; k++) {
        if (k > 0)
            *p++ = ' ';
        if (text.len > 0) {
            memcpy(p, text.s, text.len);
            p += text.len;
        }
    }

    sy_value out = { .type = SY_VAL_STR, .s = { buf, total } };
    int rc = g_host->var_set(ctx, args[2].var, &out); /* the core copies the value */
    if (buf != small)
        free(buf);
    if (rc < 0) {
        ex_log(SY_L_ERR, "example_repeat: cannot write the output variable");
        return -1;
    }
    return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Pseudo-variable $example(greeting) / $example(calls)
 * ------------------------------------------------------------------------------------------- */

enum { EX_PV_GREETING = 1, EX_PV_CALLS = 2 };

/* Startup: parse the "(...)" once; an unknown name fails startup with file:line:col. */
static int pv_example_parse(sy_str inner, void **param_out, char *err, size_t errlen, void *user)
{
    SY_UNUSED(user);
    if (str_eq(inner, "greeting")) {
        *param_out = (void *)(uintptr_t)EX_PV_GREETING;
        return 0;
    }
    if (str_eq(inner, "calls")) {
        *param_out = (void *)(uintptr_t)EX_PV_CALLS;
        return 0;
    }
    snprintf(err, errlen, "unknown $example name '%.*s' (expected 'greeting' or 'calls')",
             (int)(inner.len > 64 ? 64 : inner.len), inner.s != NULL ? inner.s : "");
    return -1;
}

/* Any worker thread. The greeting string lives until destroy(), so it may be handed out. */
static int pv_example_get(sy_ctx *ctx, void *param, sy_value *out, void *user)
{
    SY_UNUSED(ctx);
    SY_UNUSED(user);
    switch ((uintptr_t)param) {
    case EX_PV_GREETING:
        out->type = SY_VAL_STR;
        out->s.s = greeting(&out->s.len);
        return 0;
    case EX_PV_CALLS:
        out->type = SY_VAL_INT;
        out->i = g_host->atomic_add(&g_calls, 0); /* adding 0 reads it */
        return 0;
    default:
        return -1;
    }
}

/* ---------------------------------------------------------------------------------------------
 * MI command example_status
 * ------------------------------------------------------------------------------------------- */

/* MI transport threads, concurrently. Answers exactly once: with the host's reply builder
 * (ABI 1.6), which escapes the greeting itself — no JSON text is written here. */
static int mi_example_status(sy_mi_call *call, void *user)
{
    SY_UNUSED(user);
    sy_str raw;
    if (g_host->mi_param_json(call, "reset", &raw) == 0) {
        g_host->atomic_swap(&g_calls, 0);
        return g_host->mi_add_str(call, NULL, "OK", SY_CSTR);
    }
    size_t glen;
    const char *g = greeting(&glen);
    g_host->mi_add_object(call, NULL);                 /* {"greeting": "...", "calls": N} */
    g_host->mi_add_str(call, "greeting", g, glen);
    g_host->mi_add_int(call, "calls", g_host->atomic_add(&g_calls, 0));
    return 0;                                          /* the object is closed on return */
}

/* ---------------------------------------------------------------------------------------------
 * Lifecycle
 * ------------------------------------------------------------------------------------------- */

static int example_init(void *user)
{
    SY_UNUSED(user);
    g_stat_calls = g_host->stat_register(MOD_NAME, "calls", 0);
    if (g_stat_calls == NULL) {
        ex_log(SY_L_ERR, "cannot register statistic %s:calls", MOD_NAME);
        return -1;
    }
    size_t glen;
    const char *g = greeting(&glen);
    ex_log(SY_L_NOTICE, "initialised: greeting \"%.*s\", max_repeat %lld",
           (int)(glen > 128 ? 128 : glen), g, (long long)g_max_repeat);
    return 0;
}

static void example_destroy(void *user)
{
    SY_UNUSED(user);
    free(g_greeting);
    g_greeting = NULL;
    g_greeting_len = 0;
}

/* ---------------------------------------------------------------------------------------------
 * The exported tables. Static storage: the core reads them until the module is unloaded.
 * Global because the ABI requires the plugin to hand out tables that outlive the entry call.
 * ------------------------------------------------------------------------------------------- */

static const sy_param_export example_params[] = {
    { .name = "greeting",   .type = SY_MP_STR, .set = set_greeting },
    { .name = "max_repeat", .type = SY_MP_INT, .set = set_max_repeat },
};

static const sy_func_export example_funcs[] = {
    {
        .name = "example_repeat",
        .handler = w_example_repeat,
        .nparams = 3,
        .route_mask = SY_ROUTE_ALL,
        .params = { SY_P_STR, SY_P_INT, SY_P_VAR },
    },
};

static const sy_pv_export example_pvars[] = {
    {
        .name = "example",
        .flags = SY_PV_NEEDS_NAME,
        .parse = pv_example_parse,
        .get = pv_example_get,
        .set = NULL, /* read-only */
    },
};

static const sy_mi_recipe example_status_recipes[] = {
    { .params = { NULL } },           /* example_status */
    { .params = { "reset", NULL } },  /* example_status reset=1 */
};

static const sy_mi_export example_mi[] = {
    {
        .name = "example_status",
        .help = "Show the greeting and the example_repeat call counter; with 'reset', zero the counter",
        .nrecipes = 2,
        .recipes = example_status_recipes,
        .handler = mi_example_status,
    },
};

static const sy_module_exports example_exports = {
    .header = SY_HEADER(sy_module_exports),
    .name = MOD_NAME,
    .version = "1.0.0",
    .description = "Example plugin: repeats strings, counts calls",
    .params = SY_LIST(example_params),
    .funcs = SY_LIST(example_funcs),
    .pvars = SY_LIST(example_pvars),
    .mi_cmds = SY_LIST(example_mi),
    .init = example_init,
    .destroy = example_destroy,
    /* Omitted fields are zero, which means absent: no deps, events, child_init, aliases, protos. */
};

/* The one exported symbol. Main thread, right after dlopen. Only stores the host table: the core
 * checks the ABI major of example_exports itself and refuses another major with a precise message. */
SY_PLUGIN_ENTRY(host)
{
    g_host = host;
    return &example_exports;
}
