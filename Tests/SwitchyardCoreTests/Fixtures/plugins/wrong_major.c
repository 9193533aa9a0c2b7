/* wrong_major.c — module `wrong_major` whose exports declare abi_major = SY_ABI_MAJOR + 1
 * (loader fixture). The entry function does not check the host's major on purpose.
 * The loader must refuse it, naming the file and both majors. */
#include "switchyard.h"

static const sy_module_exports exports = {
    { SY_ABI_MAJOR + 1, SY_ABI_MINOR, (uint32_t)sizeof(sy_module_exports), 0 },
    "wrong_major", "1.0.0", "loader test fixture: ABI major from the future",
    SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY, SY_LIST_EMPTY,
    NULL, NULL, NULL, NULL, NULL, SY_LIST_EMPTY /* protos (1.4) */, SY_LIST_EMPTY /* pv_contexts (1.10) */
};

SY_PLUGIN_ENTRY(h) { (void)h; return &exports; }
