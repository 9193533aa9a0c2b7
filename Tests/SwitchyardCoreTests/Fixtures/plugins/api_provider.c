/* api_provider.c — module `api_provider` (loader fixture): publishes the cross-module API
 * "greeter" v1, a table of one function, for api_consumer to bind. */
#include <stdio.h>
#include <string.h>
#include "switchyard.h"

/* The published API: header first, then the functions (append-only, like every table). */
typedef struct greeter_api {
    sy_table_header header;
    int (*greet)(const char *who, char *out, size_t outlen);
} greeter_api;

static const sy_host_api *host; /* global: stored by the entry function, read-only after */

static int greet(const char *who, char *out, size_t outlen) {
    return snprintf(out, outlen, "greetings, %s", who) > 0 ? 0 : -1;
}

/* global: the API table must outlive init (consumers keep the pointer) */
static const greeter_api api = { SY_HEADER(greeter_api), greet };

static int provider_init(void *user) {
    (void)user;
    return host->api_publish("greeter", &api) == 0 ? 0 : -1;
}

static const sy_module_exports exports = {
    .header = SY_HEADER(sy_module_exports),
    .name = "api_provider", .version = "1.0.0", .description = "publishes the greeter API",
    .init = provider_init,
};

SY_PLUGIN_ENTRY(h) {
    host = h;
    return &exports;
}
