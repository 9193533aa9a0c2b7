/* abi_1_9_tree.c — module `abi19tree`: the structured values of ABI 1.9, produced and read in C.
 *   init: raises E_TREE with two parameters: `ev`, an object built with SY_VALUE_OBJECT / SY_VALUE_ARRAY
 *         ({"Event-Name":"DTMF","DTMF-Digit":"5","n":42,"list":["a","b\"c"],"inner":{"k":"v"},"gone":null}),
 *         and `plain`, the string "x"; logs "raise rc=<rc>". Then raises E_DEEP with `ev` nested
 *         SY_VALUE_MAX_DEPTH + 1 levels deep and logs "deep rc=<rc>" (refused: -1).
 *   $tree(name), flags SY_PV_OBJECT: the setter describes what it got in the worker's one line of text (the
 *         fixture runs one worker): for an object "members=<n> digit=<DTMF-Digit> n=<n> list=<count>:<items,>
 *         inner.k=<k>", for a string "text=<s>"; the getter returns that line.
 * No global: the state is allocated by the entry function and reaches the callbacks through `user`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "switchyard.h"

typedef struct state {
    const sy_host_api *h;
    char line[512];
} state;

static void say(state *s, const char *line) { s->h->log(2, "abi19tree", line, strlen(line)); }

static sy_str str(const char *s) { sy_str r = { s, strlen(s) }; return r; }

static sy_value text(const char *s) {
    sy_value v = { SY_VAL_STR, 0, 0, { s, strlen(s) } };
    return v;
}

/* The member called key (the last of several), or NULL. */
static const sy_value *member(const sy_value *obj, const char *key) {
    const sy_value *found = NULL;
    size_t i;
    for (i = 0; i < obj->s.len; i++) {
        const sy_member *m = &SY_VALUE_MEMBERS(obj)[i];
        if (m->key.len == strlen(key) && memcmp(m->key.s, key, m->key.len) == 0) found = &m->value;
    }
    return found;
}

static int set_tree(sy_ctx *ctx, void *param, uint32_t op, const sy_value *v, void *user) {
    state *s = user;
    SY_UNUSED(ctx); SY_UNUSED(param); SY_UNUSED(op);
    if (v->type == SY_VAL_OBJECT) {
        const sy_value *digit = member(v, "DTMF-Digit"), *n = member(v, "n"), *list = member(v, "list");
        const sy_value *inner = member(v, "inner"), *k = inner && inner->type == SY_VAL_OBJECT ? member(inner, "k") : NULL;
        char items[128] = "";
        size_t i;
        if (list && list->type == SY_VAL_ARRAY) {
            for (i = 0; i < list->s.len; i++) {
                const sy_value *it = &SY_VALUE_ITEMS(list)[i];
                if (i > 0) strcat(items, ",");
                if (it->type == SY_VAL_STR) strncat(items, it->s.s, it->s.len < 32 ? it->s.len : 32);
            }
        }
        snprintf(s->line, sizeof s->line, "members=%zu digit=%.*s n=%lld list=%zu:%s inner.k=%.*s", v->s.len,
                 digit ? (int)digit->s.len : 0, digit ? digit->s.s : "", n ? (long long)n->i : -1LL,
                 list ? list->s.len : 0, items, k ? (int)k->s.len : 0, k ? k->s.s : "");
    } else if (v->type == SY_VAL_STR) {
        snprintf(s->line, sizeof s->line, "text=%.*s", (int)v->s.len, v->s.s);
    } else {
        snprintf(s->line, sizeof s->line, "type=%d", (int)v->type);
    }
    return 0;
}

static int parse_tree(sy_str inner, void **param, char *err, size_t errlen, void *user) {
    SY_UNUSED(inner); SY_UNUSED(err); SY_UNUSED(errlen); SY_UNUSED(user);
    *param = NULL;
    return 0;
}

static int get_tree(sy_ctx *ctx, void *param, sy_value *out, void *user) {
    state *s = user;
    SY_UNUSED(ctx); SY_UNUSED(param);
    *out = text(s->line);
    return 0;
}

static int mod_init(void *user) {
    state *s = user;
    char line[64];
    sy_value list_items[2];
    sy_member inner_members[1];
    sy_member members[6];
    sy_value list_value, inner_value;
    sy_event_param params[2];
    sy_member deep_members[SY_VALUE_MAX_DEPTH + 1];
    int i;

    list_items[0] = text("a");
    list_items[1] = text("b\"c");
    {
        sy_value l = SY_VALUE_ARRAY(list_items, 2);
        list_value = l;
    }
    inner_members[0].key = str("k");
    inner_members[0].value = text("v");
    {
        sy_value in = SY_VALUE_OBJECT(inner_members, 1);
        inner_value = in;
    }
    members[0].key = str("Event-Name"); members[0].value = text("DTMF");
    members[1].key = str("DTMF-Digit"); members[1].value = text("5");
    members[2].key = str("n"); members[2].value.type = SY_VAL_INT; members[2].value.reserved = 0;
    members[2].value.i = 42; members[2].value.s = str("");
    members[3].key = str("list"); members[3].value = list_value;
    members[4].key = str("inner"); members[4].value = inner_value;
    members[5].key = str("gone"); memset(&members[5].value, 0, sizeof members[5].value);
    params[0].name = str("ev");
    {
        sy_value ev = SY_VALUE_OBJECT(members, 6);
        params[0].value = ev;
    }
    params[1].name = str("plain");
    params[1].value = text("x");
    snprintf(line, sizeof line, "raise rc=%d", s->h->event_raise("E_TREE", params, 2));
    say(s, line);

    /* One object in another, SY_VALUE_MAX_DEPTH + 1 levels in all: refused. */
    for (i = 0; i <= SY_VALUE_MAX_DEPTH; i++) {
        deep_members[i].key = str("d");
        if (i == SY_VALUE_MAX_DEPTH) {
            deep_members[i].value = text("bottom");
        } else {
            sy_value next = SY_VALUE_OBJECT(&deep_members[i + 1], 1);
            deep_members[i].value = next;
        }
    }
    params[0].name = str("ev");
    {
        sy_value deep = SY_VALUE_OBJECT(&deep_members[0], 1);
        params[0].value = deep;
    }
    snprintf(line, sizeof line, "deep rc=%d", s->h->event_raise("E_DEEP", params, 1));
    say(s, line);
    return 0;
}

static sy_pv_export pvars[] = {
    { .name = "tree", .flags = SY_PV_NEEDS_NAME | SY_PV_WRITABLE | SY_PV_OBJECT, .parse = parse_tree, .get = get_tree, .set = set_tree },
};

static sy_module_exports exports = {
    .header = SY_HEADER(sy_module_exports), .name = "abi19tree", .version = "1.9.0",
    .pvars = SY_LIST(pvars), .init = mod_init,
};

SY_PLUGIN_ENTRY(host) {
    state *s = calloc(1, sizeof *s); /* one per load; never freed */
    if (!s) return NULL;
    s->h = host;
    strcpy(s->line, "unset");
    pvars[0].user = s;
    exports.user = s;
    return &exports;
}
