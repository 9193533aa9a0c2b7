/* dep_order_a.c — module `dep_order_a`, HARD dependency on `dep_order_b` (loader fixture).
 * init() logs "init dep_order_a" and destroy() logs "destroy dep_order_a" (module "dep_order_a", level NOTICE),
 * so a test can see that dep_order_b is initialised before dep_order_a whatever the loadmodule order,
 * and destroyed after it. */
#include "switchyard.h"

static const sy_host_api *host; /* global: stored by the entry function, read-only after */

static const sy_dep_export deps[] = {
    { "dep_order_b", SY_DEP_MODULE | SY_DEP_HARD },
};

static int mod_init(void *user) {
    (void)user;
    host->log(SY_L_NOTICE, "dep_order_a", "init dep_order_a", sizeof "init dep_order_a" - 1);
    return 0;
}

static void mod_destroy(void *user) {
    (void)user;
    host->log(SY_L_NOTICE, "dep_order_a", "destroy dep_order_a", sizeof "destroy dep_order_a" - 1);
}

static const sy_module_exports exports = {
    SY_HEADER(sy_module_exports), "dep_order_a", "1.0.0", "loader test fixture: depends on dep_order_b",
    SY_LIST(deps), SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY,
    mod_init, NULL, mod_destroy, NULL, NULL, SY_LIST_EMPTY /* protos (1.4) */, SY_LIST_EMPTY /* pv_contexts (1.10) */
};

SY_PLUGIN_ENTRY(h) { host = h; return &exports; }
