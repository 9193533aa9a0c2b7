/* newer_minor.c — module `newer_minor` whose exports declare abi_minor = SY_ABI_MINOR + 1
 * (loader fixture). The loader must refuse it: built for a newer core. */
#include "switchyard.h"

static const sy_module_exports exports = {
    { SY_ABI_MAJOR, SY_ABI_MINOR + 1, (uint32_t)sizeof(sy_module_exports), 0 },
    "newer_minor", "1.0.0", "loader test fixture: ABI minor from the future",
    SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY,
    NULL, NULL, NULL, NULL, NULL, SY_LIST_EMPTY /* protos (1.4) */, SY_LIST_EMPTY /* pv_contexts (1.10) */
};

SY_PLUGIN_ENTRY(h) { (void)h; return &exports; }
