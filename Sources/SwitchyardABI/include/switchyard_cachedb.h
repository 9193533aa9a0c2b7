/*
 * switchyard_cachedb.h — the key-value cache API a cache backend module publishes.
 *
 * The core owns the script functions cache_store, cache_fetch, cache_remove, cache_add, cache_sub,
 * cache_counter_fetch (and Switchyard's cache_insert) and the MI commands cache_store, cache_fetch,
 * cache_remove, as OpenSIPS does. A backend module (cache_local; later redis, memcached ...)
 * publishes one table of this type with host->api_publish under the name "cachedb:<engine>"
 * (e.g. "cachedb:local"); the script's cache id "<engine>[:<group>]" selects the engine and a
 * group the backend maps to one of its collections (OpenSIPS's cachedb_url groups).
 *
 * The table follows the ABI rules of switchyard.h: it starts with a sy_table_header (major
 * SY_CACHEDB_MAJOR, minor SY_CACHEDB_MINOR, struct_size), grows only at the end, and consumers bind
 * it with host->api_bind("cachedb:<engine>", SY_CACHEDB_MAJOR, <size they need>, ...).
 *
 * Every function may be called from any script worker or MI thread at once: backends are
 * thread-safe. Keys and values are byte strings (binary-safe), owned by the caller and valid
 * during the call only. Return codes: 0 success, SY_CACHEDB_NOT_FOUND, SY_CACHEDB_NOT_INT, or
 * SY_CACHEDB_ERROR; the core maps them to the script's 1 / -2 / -3 / -1.
 *
 * Version history:
 *   1.0  initial table.
 *   1.1  raw_query appended (cache_raw_query: a backend-native command, e.g. for Redis).
 *   1.2  the table carries its module: appended `module` (the backend instance that published this
 *        table) and module_open, the one entry without a handle argument, taking it (every other entry
 *        takes a connection, which knows its collection or server). A consumer calls
 *        api->module_open(api->module, group, ...); open keeps working for consumers built against
 *        1.0/1.1 (it reaches the backend instance of the most recent start-up).
 *   1.3  raw_query_typed appended: raw_query whose sink is told each value's type, so an integer reply reaches
 *        the script as an integer (OpenSIPS stores an integer AVP); sy_cachedb_typed_sink and
 *        sy_cachedb_value_type added for it.
 */
#ifndef SWITCHYARD_CACHEDB_H
#define SWITCHYARD_CACHEDB_H

#include "switchyard.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SY_CACHEDB_MAJOR 1
#define SY_CACHEDB_MINOR 3

/** Result codes of the cachedb functions. */
enum sy_cachedb_result {
    SY_CACHEDB_OK = 0,
    SY_CACHEDB_ERROR = -1,     /**< Failure (bad argument, backend error); a log line says why. */
    SY_CACHEDB_NOT_FOUND = -2, /**< No such key, or it expired. */
    SY_CACHEDB_NOT_INT = -3,   /**< counter_fetch/add/sub on a value that is not an integer. */
    SY_CACHEDB_EXISTS = -4     /**< insert: the key is already present (and not expired). */
};

/** Opaque: a backend's handle for one group ("local" or "local:grp"). Owned by the backend;
 *  valid until the server stops. */
typedef struct sy_cachedb_conn sy_cachedb_conn;

/** Opaque: the backend instance that published a table (1.2). Valid as long as the table is. */
typedef struct sy_cachedb_module sy_cachedb_module;

/** Receives a fetched value: the bytes are valid during the call only (copy them). */
typedef void (*sy_cachedb_sink)(void *sink_arg, const char *value, size_t value_len);

/** The type of one value given to a sy_cachedb_typed_sink (1.3). */
enum sy_cachedb_value_type {
    SY_CACHEDB_VAL_STR = 0,  /**< value/value_len hold the bytes (valid during the call only). */
    SY_CACHEDB_VAL_INT = 1,  /**< integer holds the number; value/value_len its decimal text. */
    SY_CACHEDB_VAL_NULL = 2  /**< a nil value: value NULL, value_len 0. */
};

/** Receives one value of raw_query_typed (1.3), with its type (an sy_cachedb_value_type). */
typedef void (*sy_cachedb_typed_sink)(void *sink_arg, int type, const char *value, size_t value_len,
                                      int64_t integer);

typedef struct sy_cachedb_api {
    sy_table_header header; /**< SY_CACHEDB_HEADER: this API's own version, not the plugin ABI's. */

    /** The connection for a group: group is NULL for "<engine>" alone, else the part after the
     *  first ':' of "<engine>:<group>". Called at startup (fixups) or, for ids built at run time,
     *  on a worker. Returns NULL with a reason in err when the group is not configured. */
    sy_cachedb_conn *(*open)(const char *group, char *err, size_t errlen);

    /** Insert or replace; expire in seconds, 0 = never (an existing entry's expiry is replaced). */
    int (*store)(sy_cachedb_conn *c, sy_str key, sy_str value, int64_t expire);

    /** Store only if the key is absent or expired, atomically: of several callers racing on one
     *  key exactly one gets SY_CACHEDB_OK, the others SY_CACHEDB_EXISTS. */
    int (*insert)(sy_cachedb_conn *c, sy_str key, sy_str value, int64_t expire);

    /** Fetch: calls sink once with the value and returns SY_CACHEDB_OK, or returns NOT_FOUND. */
    int (*fetch)(sy_cachedb_conn *c, sy_str key, sy_cachedb_sink sink, void *sink_arg);

    /** Remove; SY_CACHEDB_OK whether or not the key existed. */
    int (*remove)(sy_cachedb_conn *c, sy_str key);

    /** Add delta (negative to subtract) to an integer value. A missing or expired key is created
     *  with delta as its value and `expire` as its TTL; an existing key keeps its expiry (OpenSIPS
     *  rate-limit semantics; cachedb_redis re-arms it on every call instead, as OpenSIPS's Redis
     *  backend does). *new_value receives the result. NOT_INT if the value is not an int. */
    int (*add)(sy_cachedb_conn *c, sy_str key, int64_t delta, int64_t expire, int64_t *new_value);

    /** Read an integer value: OK with *value set, NOT_FOUND, or NOT_INT. */
    int (*counter_fetch)(sy_cachedb_conn *c, sy_str key, int64_t *value);

    /* ---- 1.1 ---- (a caller checks header.struct_size covers it, and that it is not NULL) */

    /** A backend-native command, e.g. "HSET h f v" for Redis: the text is split into words at blanks, single or
     *  double quotes grouping a word (quotes not sent). The reply goes to sink, once per value: a string or integer
     *  reply once, an array reply once per string/integer/nil element (a nil element with value NULL, len 0;
     *  nested arrays skipped); a status reply ("OK") calls it zero times. Returns SY_CACHEDB_OK,
     *  SY_CACHEDB_NOT_FOUND for a nil reply, or SY_CACHEDB_ERROR (error reply, or the backend cannot reach its
     *  server; a log line says why). NULL in a backend without native commands (cache_local). */
    int (*raw_query)(sy_cachedb_conn *c, sy_str query, sy_cachedb_sink sink, void *sink_arg);

    /* ---- 1.2 ---- (a caller checks header.struct_size >= offsetof(sy_cachedb_api, module_open) + its size) */

    /** The backend instance this table belongs to: pass it to module_open. Never NULL in a 1.2 table. */
    sy_cachedb_module *module;
    /** open on the backend instance `m`: the group's connection among that instance's cachedb_url groups. */
    sy_cachedb_conn *(*module_open)(sy_cachedb_module *m, const char *group, char *err, size_t errlen);

    /* ---- 1.3 ---- (a caller checks header.struct_size >= offsetof(sy_cachedb_api, raw_query_typed) + its size,
     *               and that it is not NULL) */

    /** raw_query, each value given to sink with its type: an integer reply (or array element) as
     *  SY_CACHEDB_VAL_INT, a string as SY_CACHEDB_VAL_STR, a nil element as SY_CACHEDB_VAL_NULL. Same calls,
     *  order and return codes as raw_query. NULL in a backend without native commands. */
    int (*raw_query_typed)(sy_cachedb_conn *c, sy_str query, sy_cachedb_typed_sink sink, void *sink_arg);
} sy_cachedb_api;

/** Initialiser for the table's header. */
#define SY_CACHEDB_HEADER { SY_CACHEDB_MAJOR, SY_CACHEDB_MINOR, (uint32_t)sizeof(sy_cachedb_api), 0 }

#ifdef __cplusplus
}
#endif

#endif /* SWITCHYARD_CACHEDB_H */
