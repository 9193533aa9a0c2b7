/* dup_name.c — a second module also named `good` (loader fixture, version "2.0.0-dup").
 * Loading it next to good.so must fail: duplicate module name. */
#include "switchyard.h"

static const sy_module_exports exports = {
    SY_HEADER(sy_module_exports), "good", "2.0.0-dup", "loader test fixture: duplicate module name",
    SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY,
    NULL, NULL, NULL, NULL, NULL, SY_LIST_EMPTY /* protos (1.4) */, SY_LIST_EMPTY /* pv_contexts (1.10) */
};

SY_PLUGIN_ENTRY(h) { (void)h; return &exports; }
