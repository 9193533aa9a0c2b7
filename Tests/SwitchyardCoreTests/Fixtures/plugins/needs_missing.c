/* needs_missing.c — module `needs_missing` with a HARD dependency on `nonexistent_mod`, which
 * never exists (loader fixture): startup must fail naming both modules. */
#include "switchyard.h"

static const sy_dep_export deps[] = {
    { "nonexistent_mod", SY_DEP_MODULE | SY_DEP_HARD },
};

static int mod_init(void *user) { (void)user; return 0; }

static const sy_module_exports exports = {
    SY_HEADER(sy_module_exports), "needs_missing", "1.0.0", "loader test fixture: depends on nonexistent_mod",
    SY_LIST(deps), SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY,
    mod_init, NULL, NULL, NULL, NULL, SY_LIST_EMPTY /* protos (1.4) */, SY_LIST_EMPTY /* pv_contexts (1.10) */
};

SY_PLUGIN_ENTRY(h) { (void)h; return &exports; }
