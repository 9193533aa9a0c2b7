/* tm_consumer.c — module `tm_consumer`: binds the tm API 1.1 and uses the module handle the table carries.
 * HARD dependency on tm. init logs, each as "<what> rc=<rc>":
 *   "module set" (api->module != NULL), "handle request_in" (module_register_callback(module, NULL,
 *   REQUEST_IN) → 0), "handle bad types" (module_register_callback with ON_FAILURE and no ctx → -2),
 *   "handle state" (module_t_state without ctx → -1), "old request_in" (the 1.0 register_callback → 0),
 *   "handle uac" (module_t_uac with no done callback → -2). */
#include <stdio.h>
#include <string.h>
#include "switchyard_tm.h"

typedef struct state { const sy_host_api *h; sy_runtime *rt; } state;
static state st; /* this fixture keeps one state; the point here is the tm table's own handle */

static void say(const char *what, int rc) {
    char line[80];
    int n = snprintf(line, sizeof line, "%s rc=%d", what, rc);
    st.h->rt_log(st.rt, 2, "tm_consumer", line, (size_t)n);
}

static void on_request(const sy_tm_cb_params *p, void *param) { SY_UNUSED(p); SY_UNUSED(param); }

static int mod_init(void *user) {
    char err[128] = "";
    SY_UNUSED(user);
    const sy_tm_api *api = st.h->api_bind(SY_TM_API_NAME, SY_TM_MAJOR, (uint32_t)sizeof(sy_tm_api), err, sizeof err);
    if (!api) { say(err, -1); return -1; }
    sy_str none = { NULL, 0 };
    say("module set", api->module != NULL);
    say("handle request_in", api->module_register_callback(api->module, NULL, SY_TMCB_REQUEST_IN, on_request, NULL));
    say("handle bad types", api->module_register_callback(api->module, NULL, SY_TMCB_ON_FAILURE, on_request, NULL));
    say("handle state", api->module_t_state(api->module, NULL, NULL));
    say("old request_in", api->register_callback(NULL, SY_TMCB_REQUEST_IN, on_request, NULL));
    say("handle uac", api->module_t_uac(api->module, none, none, none, none, none, 0, NULL, NULL));
    return 0;
}

static const sy_dep_export deps[] = { { .name = "tm", .flags = SY_DEP_MODULE | SY_DEP_HARD } };
static const sy_module_exports exports = {
    .header = SY_HEADER(sy_module_exports), .name = "tm_consumer", .version = "1.0.0",
    .deps = SY_LIST(deps), .init = mod_init,
};

SY_PLUGIN_ENTRY(host) { st.h = host; st.rt = host->runtime; return &exports; }
