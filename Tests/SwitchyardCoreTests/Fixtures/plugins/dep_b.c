/* dep_b.c — module `dep_b` with a HARD dependency on `dep_a`, which depends HARD on `dep_b`
 * (loader fixture): loading both must fail startup with a dependency-cycle error naming them. */
#include "switchyard.h"

static const sy_dep_export deps[] = {
    { "dep_a", SY_DEP_MODULE | SY_DEP_HARD },
};

static int mod_init(void *user) { (void)user; return 0; }

static const sy_module_exports exports = {
    SY_HEADER(sy_module_exports), "dep_b", "1.0.0", "loader test fixture: depends on dep_a",
    SY_LIST(deps), SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY,
    mod_init, NULL, NULL, NULL, NULL, SY_LIST_EMPTY /* protos (1.4) */, SY_LIST_EMPTY /* pv_contexts (1.10) */
};

SY_PLUGIN_ENTRY(h) { (void)h; return &exports; }
