/* noentry.c — a valid shared object with no switchyard_plugin_entry symbol (loader fixture).
 * The loader must refuse it: "no entry symbol". */
__attribute__((visibility("default"))) int not_a_plugin(void) { return 42; }
