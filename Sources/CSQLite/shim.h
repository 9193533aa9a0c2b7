#include <sqlite3.h>

/* sqlite3_db_config is variadic, which Swift does not import: a fixed-argument wrapper for the int options. */
static inline int sy_sqlite3_db_config_int(sqlite3 *db, int op, int value) {
    return sqlite3_db_config(db, op, value, (int *)0);
}
