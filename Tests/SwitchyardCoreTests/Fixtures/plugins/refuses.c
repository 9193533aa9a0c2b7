/* refuses.c — an entry function that returns NULL (loader fixture).
 * The loader must report that the plugin refused to load. */
#include "switchyard.h"

SY_PLUGIN_ENTRY(h) { (void)h; return NULL; }
