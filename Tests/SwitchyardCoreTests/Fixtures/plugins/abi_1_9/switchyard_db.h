/*
 * switchyard_db.h — the SQL database API a driver module publishes.
 *
 * A driver module (db_sqlite; later db_postgres, db_mysql ...) publishes one table of this type
 * with host->api_publish under the name "db:<scheme>" (e.g. "db:sqlite" for sqlite:///path.db).
 * A module that needs a database binds it with host->db_bind(url, SY_DB_MAJOR, <size it needs>,
 * err, errlen) — the core picks the driver by the URL's scheme — and then calls
 * module_connect(module, url) (connect(url) on a 1.0 driver).
 * Modules that use a database name "any DB driver" in their dependencies (SY_DEP_ANY_DB).
 *
 * The table follows the ABI rules of switchyard.h: it starts with a sy_table_header (major
 * SY_DB_MAJOR, minor SY_DB_MINOR, struct_size), grows only at the end.
 *
 * Rules every driver keeps:
 *   - Every value is bound as a parameter; nothing a caller passes is pasted into SQL text except
 *     table and column names, which the driver quotes as identifiers.
 *   - A connection may be used from any thread at once (script workers, MI, timers): the driver
 *     serialises or pools internally, and handles "database busy" with a bounded wait.
 *   - Rows are streamed to a callback, called on the calling thread before the function returns:
 *     values (and their strings) are valid during the callback only. Returning non-zero from the
 *     callback stops the query early (not an error; that row counts as delivered).
 *   - Errors: functions return a negative enum sy_db_error_code and fill *err (may be NULL); on
 *     success they set err->code to SY_DB_OK.
 *
 * Version history:
 *   1.0  initial table.
 *   1.1  the table carries its module: appended `module` (the driver instance that published this
 *        table) and module_connect, the one entry without a handle argument, taking it (every other
 *        entry takes a connection, which knows its driver's settings). A consumer calls
 *        api->module_connect(api->module, url, &err), so the connection gets the modparams of the driver
 *        the core loaded; connect keeps working for consumers built against 1.0 (it reaches the driver
 *        instance of the most recent start-up).
 */
#ifndef SWITCHYARD_DB_H
#define SWITCHYARD_DB_H

#include "switchyard.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SY_DB_MAJOR 1
#define SY_DB_MINOR 1

/** Value types of columns and parameters. */
enum sy_db_type {
    SY_DB_NULL = 0,
    SY_DB_INT = 1,    /**< 64-bit integer in `i`. */
    SY_DB_DOUBLE = 2, /**< Floating point in `d`. */
    SY_DB_STR = 3,    /**< Text in `s` (UTF-8, not NUL-terminated). */
    SY_DB_BLOB = 4    /**< Bytes in `s`. */
};

/** A column value or a query parameter. Strings are owned by whoever passes the value. */
typedef struct sy_db_value {
    int32_t type;     /**< enum sy_db_type. */
    int32_t reserved; /**< Must be 0. */
    int64_t i;
    double d;
    sy_str s;
} sy_db_value;

/** Comparison operators for WHERE conditions (all conditions are ANDed). */
enum sy_db_op {
    SY_DB_OP_EQ = 0, /**< column = value (value NULL: column IS NULL) */
    SY_DB_OP_NE = 1, /**< column <> value (value NULL: column IS NOT NULL) */
    SY_DB_OP_LT = 2,
    SY_DB_OP_GT = 3,
    SY_DB_OP_LE = 4,
    SY_DB_OP_GE = 5
};

typedef struct sy_db_cond {
    sy_str column;
    int32_t op;       /**< enum sy_db_op. */
    int32_t reserved; /**< Must be 0. */
    sy_db_value value;
} sy_db_cond;

/** Error codes (negative returns). */
enum sy_db_error_code {
    SY_DB_OK = 0,
    SY_DB_E_CONNECT = -1,    /**< Cannot open the database (file, server, credentials). */
    SY_DB_E_NO_TABLE = -2,   /**< A table or column does not exist. */
    SY_DB_E_BUSY = -3,       /**< Locked/busy beyond the driver's wait. */
    SY_DB_E_CONSTRAINT = -4, /**< Unique/foreign key/not-null violation. */
    SY_DB_E_BAD_ARG = -5,    /**< Bad argument (empty table name, unknown type ...). */
    SY_DB_E_OTHER = -6       /**< Anything else; see the message. */
};

/** Error details, filled by the driver (caller-owned storage). */
typedef struct sy_db_error {
    int32_t code;       /**< enum sy_db_error_code. */
    int32_t reserved;
    char message[256];  /**< NUL-terminated, one line; never contains a password. */
} sy_db_error;

/** Opaque connection; owned by the driver until close(). */
typedef struct sy_db_conn sy_db_conn;

/** Opaque: the driver instance that published a table (1.1). Valid as long as the table is. */
typedef struct sy_db_module sy_db_module;

/** Receives one row: ncols values in the order of the requested columns (or of the SQL result).
 *  Return 0 to go on, non-zero to stop. Values are valid during the call only. */
typedef int (*sy_db_row_fn)(void *arg, const sy_db_value *row, uint32_t ncols);

typedef struct sy_db_api {
    sy_table_header header; /**< SY_DB_HEADER: this API's own version. */

    /** Opens (or creates, for embedded databases) the database of url. NULL on failure. */
    sy_db_conn *(*connect)(const char *url, sy_db_error *err);
    /** Closes a connection; no call may be in flight on it. */
    void (*close)(sy_db_conn *c);

    /** SELECT columns FROM table [WHERE conds] [ORDER BY order_by]; ncolumns == 0 selects every
     *  column (SELECT *, in the table's order). order_by is a column name (optionally followed by
     *  " ASC" or " DESC") or empty. Returns the number of rows delivered, or <0. */
    int64_t (*select)(sy_db_conn *c, sy_str table, const sy_str *columns, uint32_t ncolumns,
                      const sy_db_cond *where, uint32_t nwhere, sy_str order_by,
                      sy_db_row_fn row, void *arg, sy_db_error *err);

    /** INSERT INTO table (columns) VALUES (values); n >= 1. Returns rows affected (1), or <0. */
    int64_t (*insert)(sy_db_conn *c, sy_str table, const sy_str *columns, const sy_db_value *values,
                      uint32_t n, sy_db_error *err);

    /** UPDATE table SET columns = values [WHERE conds]; n >= 1. Returns rows affected, or <0. */
    int64_t (*update)(sy_db_conn *c, sy_str table, const sy_db_cond *where, uint32_t nwhere,
                      const sy_str *columns, const sy_db_value *values, uint32_t n, sy_db_error *err);

    /** DELETE FROM table [WHERE conds]. Returns rows affected, or <0. */
    int64_t (*remove)(sy_db_conn *c, sy_str table, const sy_db_cond *where, uint32_t nwhere, sy_db_error *err);

    /** Any SQL with `?` placeholders bound to params. Rows (if any) go to row (may be NULL).
     *  Returns rows delivered for a query, rows affected otherwise, or <0. One statement; with
     *  nparams == 0 a driver may also run a script of `;`-separated statements (a schema file),
     *  returning the sum. Open transactions with transaction(), not with BEGIN here. */
    int64_t (*raw_query)(sy_db_conn *c, sy_str sql, const sy_db_value *params, uint32_t nparams,
                         sy_db_row_fn row, void *arg, sy_db_error *err);

    /** Runs fn(arg, c) inside one transaction: committed if fn returns 0, rolled back otherwise
     *  (then the return is SY_DB_E_OTHER unless fn returned a negative code). Returns 0 when
     *  committed; a BEGIN or COMMIT that fails (e.g. SY_DB_E_BUSY) returns its code, rolled back.
     *  fn runs on the calling thread, synchronously. Every call fn makes on c from that thread is
     *  part of the transaction (a pooling driver pins one connection to the thread until the end);
     *  calls other threads make on c are not (their writes wait for the commit, within the busy
     *  bound). transaction() called from inside fn nests: a savepoint, undone alone if its fn fails. */
    int (*transaction)(sy_db_conn *c, int (*fn)(void *arg, sy_db_conn *c), void *arg, sy_db_error *err);

    /* --- 1.1 --- (a caller checks header.struct_size >= offsetof(sy_db_api, module_connect) + its size) */
    /** The driver instance this table belongs to: pass it to module_connect. Never NULL in a 1.1 table. */
    sy_db_module *module;
    /** connect on the driver instance `m`: the connection uses that instance's modparams and logs. */
    sy_db_conn *(*module_connect)(sy_db_module *m, const char *url, sy_db_error *err);
} sy_db_api;

/** Initialiser for the table's header. */
#define SY_DB_HEADER { SY_DB_MAJOR, SY_DB_MINOR, (uint32_t)sizeof(sy_db_api), 0 }

#ifdef __cplusplus
}
#endif

#endif /* SWITCHYARD_DB_H */
