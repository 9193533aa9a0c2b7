/* cachedb_1_2.c — module `cdb12` (loader fixture): a cache backend built against the frozen cachedb 1.2 header
 * (abi_1_9/switchyard_cachedb.h, with -I abi_1_9), published as "cachedb:legacy12". Its table says struct_size 96
 * (1.2: no raw_query_typed) but lies in 104 bytes whose last 8 are 0xFF, where 1.3 put raw_query_typed: a core
 * that read that field from a 1.2 table would call garbage. store/fetch keep a few keys in memory; raw_query
 * answers the query's text, "5", an empty string and a nil element, in that order. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "switchyard_cachedb.h"

static const sy_host_api *host; /* global: stored by the entry function, read-only after */

/* global: the published table must outlive init; followed by 8 bytes of 0xFF (set in init) */
static struct {
    sy_cachedb_api api;
    unsigned char past_the_end[8];
} table;

/* global: the backend's whole store, a few fixed slots behind one mutex (workers call it concurrently) */
static struct { char key[64]; char value[64]; int used; } slots[8];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static int module_marker; /* global: its address is the table's module handle */

static sy_cachedb_conn *conn_open(const char *group, char *err, size_t errlen) {
    if (group) {
        strncpy(err, "no groups", errlen - 1);
        err[errlen - 1] = 0;
        return NULL;
    }
    return (sy_cachedb_conn *)&slots;
}

static sy_cachedb_conn *conn_module_open(sy_cachedb_module *m, const char *group, char *err, size_t errlen) {
    if ((void *)m != (void *)&module_marker) return NULL;
    return conn_open(group, err, errlen);
}

static int store(sy_cachedb_conn *c, sy_str key, sy_str value, int64_t expire) {
    SY_UNUSED(c);
    SY_UNUSED(expire);
    if (key.len >= 64 || value.len >= 64) return SY_CACHEDB_ERROR;
    int rc = SY_CACHEDB_ERROR;
    pthread_mutex_lock(&slots_lock);
    for (int i = 0; i < 8; i++) {
        int same = slots[i].used && strlen(slots[i].key) == key.len && memcmp(slots[i].key, key.s, key.len) == 0;
        if (same || !slots[i].used) {
            memcpy(slots[i].key, key.s, key.len);
            slots[i].key[key.len] = 0;
            memcpy(slots[i].value, value.s, value.len);
            slots[i].value[value.len] = 0;
            slots[i].used = 1;
            rc = SY_CACHEDB_OK;
            break;
        }
    }
    pthread_mutex_unlock(&slots_lock);
    return rc;
}

static int fetch(sy_cachedb_conn *c, sy_str key, sy_cachedb_sink sink, void *sink_arg) {
    SY_UNUSED(c);
    int rc = SY_CACHEDB_NOT_FOUND;
    pthread_mutex_lock(&slots_lock);
    for (int i = 0; i < 8; i++) {
        if (slots[i].used && strlen(slots[i].key) == key.len && memcmp(slots[i].key, key.s, key.len) == 0) {
            sink(sink_arg, slots[i].value, strlen(slots[i].value));
            rc = SY_CACHEDB_OK;
            break;
        }
    }
    pthread_mutex_unlock(&slots_lock);
    return rc;
}

static int raw_query(sy_cachedb_conn *c, sy_str query, sy_cachedb_sink sink, void *sink_arg) {
    SY_UNUSED(c);
    sink(sink_arg, query.s, query.len);
    sink(sink_arg, "5", 1);
    sink(sink_arg, "", 0);
    sink(sink_arg, NULL, 0);
    return SY_CACHEDB_OK;
}

static int cdb12_init(void *user) {
    SY_UNUSED(user);
    memset(&table, 0xFF, sizeof table);
    table.api = (sy_cachedb_api){
        .header = SY_CACHEDB_HEADER,
        .open = conn_open,
        .store = store,
        .fetch = fetch,
        .raw_query = raw_query,
        .module = (sy_cachedb_module *)&module_marker,
        .module_open = conn_module_open,
    };
    char line[64];
    int n = snprintf(line, sizeof line, "table size=%u", (unsigned)table.api.header.struct_size);
    host->log(2, "cdb12", line, (size_t)n);
    return host->api_publish("cachedb:legacy12", &table.api) == 0 ? 0 : -1;
}

static const sy_module_exports exports = {
    .header = SY_HEADER(sy_module_exports),
    .name = "cdb12", .version = "1.0.0", .description = "a cachedb 1.2 backend",
    .init = cdb12_init,
};

SY_PLUGIN_ENTRY(h) {
    host = h;
    return &exports;
}
