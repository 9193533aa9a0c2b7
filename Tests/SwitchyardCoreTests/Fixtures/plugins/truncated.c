/* truncated.c — module `truncated` whose exports header claims struct_size = 32 bytes, less than
 * ABI 1.0 requires (loader fixture). The loader must refuse it without reading past 32 bytes. */
#include "switchyard.h"

static const sy_module_exports exports = {
    { SY_ABI_MAJOR, SY_ABI_MINOR, 32, 0 },
    "truncated", "1.0.0", "loader test fixture: struct_size too small",
    SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY,
    NULL, NULL, NULL, NULL, NULL, SY_LIST_EMPTY /* protos (1.4) */, SY_LIST_EMPTY /* pv_contexts (1.10) */
};

SY_PLUGIN_ENTRY(h) { (void)h; return &exports; }
