/* dep_order_b.c — module `dep_order_b`, no dependencies; dep_order_a depends on it (loader fixture).
 * init() logs "init dep_order_b" and destroy() logs "destroy dep_order_b" (module "dep_order_b", level NOTICE),
 * so a test can see that dep_order_b is initialised before dep_order_a whatever the loadmodule order,
 * and destroyed after it. */
#include "switchyard.h"

static const sy_host_api *host; /* global: stored by the entry function, read-only after */

static int mod_init(void *user) {
    (void)user;
    host->log(SY_L_NOTICE, "dep_order_b", "init dep_order_b", sizeof "init dep_order_b" - 1);
    return 0;
}

static void mod_destroy(void *user) {
    (void)user;
    host->log(SY_L_NOTICE, "dep_order_b", "destroy dep_order_b", sizeof "destroy dep_order_b" - 1);
}

static const sy_module_exports exports = {
    SY_HEADER(sy_module_exports), "dep_order_b", "1.0.0", "loader test fixture: dependency of dep_order_a",
    SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY,
    mod_init, NULL, mod_destroy, NULL, NULL, SY_LIST_EMPTY /* protos (1.4) */, SY_LIST_EMPTY /* pv_contexts (1.10) */
};

SY_PLUGIN_ENTRY(h) { host = h; return &exports; }
