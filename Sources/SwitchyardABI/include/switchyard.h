/*
 * switchyard.h — the Switchyard plugin ABI.
 *
 * This header is the whole contract between the Switchyard core and a plugin (a module
 * loaded with `loadmodule`). It depends on libc only and compiles as C99, C11 and C++.
 * C99 is the baseline: nothing a plugin needs requires C11 (thread-safe counters go through the
 * host: stat_update, or atomic_add from 1.6). Build with `cc -std=c99 -shared -fPIC`.
 *
 * How a plugin is loaded:
 *   1. The core dlopen()s the file and looks up ONE symbol, SY_ENTRY_SYMBOL.
 *   2. It calls that function with the host table (sy_host_api): everything the core offers.
 *   3. The plugin returns its exports table (sy_module_exports): everything it offers.
 *   4. The core checks abi_major/abi_minor/struct_size of the exports and of every list in it,
 *      then applies `modparam` values, orders modules by dependencies, calls init() and
 *      child_init() hooks, resolves script calls against the exported functions.
 *
 * ABI rules (see docs/writing-a-plugin.md):
 *   - Every table starts with abi_major, abi_minor, struct_size (sy_table_header).
 *   - Tables and list items only ever grow at the END, and only in a new minor version.
 *   - A plugin built for the same major and an older (or equal) minor loads; fields it does not
 *     know are treated as zero/NULL by the core. A plugin built for a newer minor, a different
 *     major, or one whose struct_size is smaller than its declared version requires, is refused.
 *   - Only C types cross: integers, {pointer,length} strings, opaque handles, callbacks with a
 *     `void *user` argument. No exceptions, no Swift types, no global state shared across.
 *
 * Version history:
 *   1.0  initial table layout.
 *   1.1  appended sy_module_exports.aliases; appended sy_host_api.ctx_route_type and
 *        sy_host_api.log_enabled.
 *   1.2  appended sy_pv_export.count and sy_pv_export.get_index (indexes and `for` loops over a
 *        module's pseudo-variable); appended sy_host_api.ctx_worker.
 *   1.3  appended sy_host_api.mi_dispatch (MI transport modules hand requests to the core),
 *        sy_host_api.route_find and sy_host_api.route_run (modules run script routes, e.g.
 *        drouting's per-rule route), sy_host_api.event_raise_wait (backpressure instead of drops).
 *   1.4  SIP: appended sy_module_exports.protos (sy_proto_export: transports such as proto_udp) and
 *        sy_host_api.sip_receive, sip_reply, sip_header_get, sip_header_set, sip_header_add,
 *        sip_request (stateless replies, header edits and probes for modules such as sl, maxfwd,
 *        rr and drouting). <sys/socket.h> is now included for struct sockaddr.
 *   1.5  appended sy_host_api.sip_request_from (a stateless request sent from a given listening
 *        socket: drouting probes a gateway from its `socket` column).
 *   1.6  plugin authoring: SY_UNUSED, SY_CSTR, the param flag SY_P_NULLABLE; appended
 *        sy_host_api.atomic_add and atomic_swap (a C99 atomic counter) and the MI reply builder
 *        mi_add_object, mi_add_array, mi_end, mi_add_str, mi_add_int, mi_add_bool, mi_add_null.
 *        Documented what was already so: the core checks the major itself (a one-line entry
 *        function), an int variable reaches a SY_P_STR parameter as its decimal string, a NULL
 *        variable skips the handler, strings may hold NUL bytes, omitted exports fields are
 *        absent, a statistic's group is the module's name. The core now accepts a quoted integer
 *        for a SY_MP_INT modparam.
 *   1.7  transactions: appended sy_host_api.sip_hooks_register, sip_info, sip_build_request,
 *        sip_build_reply, sip_build_relayed, sip_send, sip_snapshot, sip_snapshot_free, sip_ctx_open,
 *        sip_ctx_close, route_find_kind, ctx_dropped, ctx_slot_set, ctx_slot_get, sip_branch_get,
 *        sip_branches_clear (the transaction layer, tm, builds and sends what the stateless core
 *        forward() does, keeps requests for failure routes, and sees every message first).
 *   1.8  the runtime handle: the opaque type sy_runtime; appended (one block, at the end)
 *        sy_host_api.runtime (the core this table belongs to, never NULL in a server), and
 *        rt_log, rt_log_enabled, rt_event_raise, rt_event_raise_wait, rt_sip_request, rt_timer_add:
 *        the entries a plugin calls outside a ctx/worker/MI call (from its own threads, timers, API
 *        callbacks) taking that handle, so the core is reached through what the plugin was given,
 *        never through a process-wide lookup. A 1.7 (or 1.5) plugin loads unchanged.
 *   1.8  (local requests and branches, one group at the end of sy_host_api) appended
 *        sy_host_api.sip_local_target (the target, socket and Via sent-by of a request made without
 *        a received message: tm's t_uac and MI t_uac_dlg as real client transactions; it takes the
 *        runtime handle first, as it runs on the plugin's own threads and API calls),
 *        sip_msg_save, sip_msg_restore and sip_msg_state_free (tm gives each branch of a relay the
 *        request as the request route left it: branch_route edits are rolled back per branch).
 *   1.9  (the runtime handle, continued: one block at the end of sy_host_api) appended
 *        rt_mi_dispatch, rt_route_find_kind and rt_stat_register: the last handle-less entries a
 *        plugin calls after startup (MI transports for every request, tm's t_on_* and drouting's
 *        reload finding routes, the statistics module creating counters) take the runtime handle.
 *        Documented: a sy_timer carries the core that added it, so timer_remove reaches that core
 *        (the same entry, no new form); a second timer_remove of a handle, or one after stop,
 *        does nothing.
 *        Second group: mi_async_begin, mi_async_reply_json, mi_async_reply_error (an MI handler
 *        answers later from any thread: tm's t_uac_dlg holds no MI thread while it waits) and
 *        rt_mi_dispatch_async (transports get such answers by callback); sip_branch_attrs (the q
 *        value append_branch gave a branch, and its Path: tm's $tm.branch.q and .path).
 *        Third part, structured values: the value types SY_VAL_OBJECT and SY_VAL_ARRAY with the member type
 *        sy_member and the macros SY_VALUE_MEMBERS, SY_VALUE_ITEMS, SY_VALUE_OBJECT, SY_VALUE_ARRAY
 *        (a tree of keys, strings and ints, e.g. an event's headers, that crosses without being
 *        written as JSON text and parsed again); the pv flag SY_PV_OBJECT (a pseudo-variable whose
 *        setter takes such a tree). An event parameter may hold one (event_raise and its forms); the
 *        script reads it as its JSON text, except that `$pv := $param(x)` hands the tree itself to a
 *        SY_PV_OBJECT setter. This part grows no table: a 1.8 plugin never sees the
 *        new types.
 *   1.10 three groups. Pseudo-variable contexts: the callback type sy_pv_context_fn, the item
 *        sy_pv_context_export and sy_module_exports.pv_contexts (appended): a module names a context
 *        (tm: `request`, `reply`) and hands the core the message `$(<name>pv)` reads any
 *        pseudo-variable of; the core parses `<name>` and refuses an unknown one at startup. A 1.9
 *        plugin loads unchanged. Events run in place: appended sy_host_api.rt_event_raise_here and
 *        the flag SY_EVENT_MORE_BEHIND: an I/O thread raising an event runs its event_route itself
 *        when every script worker sleeps with nothing queued, instead of waking one (the freeswitch
 *        module's event path). Local requests through local_route: appended
 *        sy_host_api.rt_sip_ctx_open_request and sip_build_edited (tm runs the script's local_route
 *        on each request it generates and sends what the route left); route_find_kind and
 *        rt_route_find_kind also find the local_route (SY_ROUTE_LOCAL; the name is ignored).
 *   1.11 two groups. Function fixups (OpenSIPS's startup checks of literal arguments): the item
 *        sy_fixup_arg with its kinds SY_FIXUP_*, the callback type sy_func_fixup and
 *        sy_func_export.fixup (appended): the core calls it once per call site at startup with the
 *        literal arguments and refuses startup with the file:line:col of the argument it names,
 *        and again on every reload_routes. A 1.10 function item (shorter, without fixup) loads
 *        unchanged; a C plugin that fills sy_func_export positionally needs designated
 *        initialisers to rebuild warning-free under -Wextra (already-built plugins load
 *        unchanged). Header insertion: appended
 *        sy_host_api.sip_header_insert (a header line before or after the first header of a name:
 *        sipmsgops's append_hf(txt, hdr) and insert_hf(txt, hdr)) and sip_reply_header_add (a header
 *        line for the replies the core later builds for the request: append_to_reply). DNS
 *        failover: appended sy_host_api.sip_build_request_at (build toward a destination name's
 *        next address; tm's failover to the next address of a name) and rt_sip_learn_failed (a
 *        destination that failed, into the "dns" blacklist); sip_build_request and
 *        sip_build_request_at return -5 when the message's blacklists block every address.
 *   1.12 SIP name resolution for modules: the item sy_sip_resolved and the entry
 *        sy_host_api.rt_sip_resolve (appended): a destination's addresses as the core's resolver gives
 *        them to forward() and tm (NAPTR, SRV, A, with the dns_* globals): the dispatcher resolves
 *        its destinations at load with it. A 1.11 plugin loads unchanged.
 *   1.13 appended sy_host_api.rt_sip_resolve_ex: rt_sip_resolve that also says whether a DNS query
 *        failed (no answer in time, a server failure), so a module given no address tells "DNS did
 *        not answer" from "no such name" (drouting's dr_reload and the dispatcher's ds_reload keep
 *        their old data rather than drop a gateway while DNS is down). Documented (comment only):
 *        rt_sip_resolve at module init already uses the SIP core's cache. A 1.12 plugin loads
 *        unchanged.
 *   1.14 appended sy_host_api.sip_is_myself (OpenSIPS's check_self: a host and port naming any
 *        listening socket or alias=, for rr's loose_route) and ctx_value_set / ctx_value_get
 *        (a per-context value, raw bytes, a module keeps for the message being processed, invisible
 *        to the script and not kept in snapshots: OpenSIPS's context_register_int/str, for rr's
 *        "record-routed already" and add_rr_param state). A 1.13 plugin loads unchanged.
 *   1.15 appended sy_host_api.rt_sip_ctx_open_reply: a script context on reply bytes a plugin
 *        built itself (rt_sip_ctx_open_request's twin for replies), so tm runs the route named by
 *        its local_reply_route modparam on every reply it generates. A 1.14 plugin loads
 *        unchanged.
 *   1.16 message text rewriting (OpenSIPS's textops replace/subst and sipmsgops codec_* and
 *        change_reply_status): appended sy_host_api.sip_text_replace (bytes of the received header
 *        lines replaced in what is sent on), sip_body_get and sip_body_set (the body sent on, with
 *        its Content-Length), sip_status_set (a relayed reply's status line). A 1.15 plugin loads
 *        unchanged. sip_header_set, sip_header_add and sip_header_insert return -5 on a reply built
 *        here (they used to return 0 and change nothing: such a reply is sent as built).
 */
#ifndef SWITCHYARD_H
#define SWITCHYARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Versioning
 * ------------------------------------------------------------------------------------------- */

/** Major version: a change here means old plugins cannot work and are refused. */
#define SY_ABI_MAJOR 1
/** Minor version: bumped each time something is appended; older minors keep loading. */
#define SY_ABI_MINOR 16

/** Name of the single symbol a plugin exports (a function of type sy_entry_fn). */
#define SY_ENTRY_SYMBOL "switchyard_plugin_entry"

/** Every table begins with this header. struct_size = sizeof(the table) as the plugin built it. */
typedef struct sy_table_header {
    uint32_t abi_major;   /**< SY_ABI_MAJOR the table was built with. */
    uint32_t abi_minor;   /**< SY_ABI_MINOR the table was built with. */
    uint32_t struct_size; /**< sizeof() the table, in bytes, as built. */
    uint32_t reserved;    /**< Must be 0. */
} sy_table_header;

/** Initialiser for a table header: SY_HEADER(sy_module_exports). */
#define SY_HEADER(type) { SY_ABI_MAJOR, SY_ABI_MINOR, (uint32_t)sizeof(type), 0 }

/* ---------------------------------------------------------------------------------------------
 * Basic types
 * ------------------------------------------------------------------------------------------- */

/** A string slice: s points at len bytes. Owner: see each use.
 *  The bytes MAY contain NUL bytes (a script string can hold "\0" from an event parameter, a DB
 *  value, an MI string): len is the length, never strlen(s). The core reads exactly len bytes
 *  of a string a plugin passes (embedded NULs kept; bytes that are not UTF-8 become U+FFFD).
 *  Every string the core passes to a plugin (arguments, modparam values, var_get, pv set values,
 *  mi_param_str/json, sip_header_get, the inner of a pv parse) is also followed by a NUL byte at
 *  s[len], so text without embedded NULs may be used as a C string. A plugin that cannot take a
 *  NUL byte checks memchr(s, 0, len) and refuses the value. */
typedef struct sy_str {
    const char *s; /**< First byte (may be NULL when len == 0). */
    size_t len;    /**< Number of bytes. */
} sy_str;

/** Script value types (OpenSIPS's value model: null | int | string; 1.9 adds trees). */
enum sy_value_type {
    SY_VAL_NULL = 0,   /**< NULL: unset variable, deleted value. */
    SY_VAL_INT = 1,    /**< Integer in `i`. */
    SY_VAL_STR = 2,    /**< String in `s`. */
    /* --- 1.9: structured values (only where a function says it takes or gives them) --- */
    SY_VAL_OBJECT = 3, /**< An object: s.s points at s.len sy_member items (SY_VALUE_MEMBERS), in order;
                            i is 0. A JSON object whose member values are null, ints, strings, objects
                            or arrays; a repeated key is allowed, the last one wins (as in JSON). */
    SY_VAL_ARRAY = 4   /**< An array: s.s points at s.len sy_value items (SY_VALUE_ITEMS); i is 0. */
};

/** A script value. Only the field matching `type` is meaningful. */
typedef struct sy_value {
    int32_t type;     /**< enum sy_value_type. */
    int32_t reserved; /**< Must be 0. */
    int64_t i;        /**< Value when type == SY_VAL_INT. */
    sy_str s;         /**< Value when type == SY_VAL_STR; ownership is stated where a value crosses. */
} sy_value;

/** One member of an SY_VAL_OBJECT value (1.9): key and value. sizeof(sy_member) is 48 on LP64 (a
 *  sy_str then a sy_value), never changed: members are read as an array. A tree is at most
 *  SY_VALUE_MAX_DEPTH levels deep (the object holding a scalar member is one level); the core refuses
 *  a deeper one (event_raise returns -1), and one holding a string or key whose s is NULL with
 *  len > 0 (sy_str: s may be NULL only when len == 0). Whoever hands a tree over owns every byte of it (member and
 *  item arrays, strings) for the duration stated where it crosses; a receiver copies what it keeps. */
typedef struct sy_member {
    sy_str key;     /**< Member name (may contain any bytes; not NUL-terminated unless stated). */
    sy_value value; /**< SY_VAL_NULL, SY_VAL_INT, SY_VAL_STR, SY_VAL_OBJECT or SY_VAL_ARRAY. */
} sy_member;

/** Deepest tree the core accepts (1.9). */
#define SY_VALUE_MAX_DEPTH 32
/** The members of an SY_VAL_OBJECT value v (a const sy_value *): SY_VALUE_MEMBERS(v)[0 .. v->s.len). */
#define SY_VALUE_MEMBERS(v) ((const sy_member *)(const void *)(v)->s.s)
/** The items of an SY_VAL_ARRAY value v (a const sy_value *): SY_VALUE_ITEMS(v)[0 .. v->s.len). */
#define SY_VALUE_ITEMS(v) ((const sy_value *)(const void *)(v)->s.s)
/** Initialiser of an object value over n members: sy_value v = SY_VALUE_OBJECT(members, n); */
#define SY_VALUE_OBJECT(members, n) { SY_VAL_OBJECT, 0, 0, { (const char *)(const void *)(members), (size_t)(n) } }
/** Initialiser of an array value over n items: sy_value v = SY_VALUE_ARRAY(items, n); */
#define SY_VALUE_ARRAY(items, n) { SY_VAL_ARRAY, 0, 0, { (const char *)(const void *)(items), (size_t)(n) } }

/** Silences -Wunused-parameter for a callback argument the plugin does not need (C99):
 *    static int w_f(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user)
 *    { SY_UNUSED(nargs); SY_UNUSED(user); ... }   (1.6; a macro, nothing crosses the ABI) */
#define SY_UNUSED(x) ((void)(x))

/** Length argument meaning "s is NUL-terminated: up to the NUL". Accepted only by the host
 *  functions that say so (the 1.6 MI builder's mi_add_str). (1.6; a constant.) */
#define SY_CSTR ((size_t)-1)

/** A list of items in a table: items points at count elements, each item_size bytes apart.
 *  item_size lets an item struct grow in a later minor: the core reads only what the plugin built.
 *  Owner: the plugin; must stay valid until destroy() returns (use static storage). */
typedef struct sy_list {
    const void *items;  /**< First element (NULL when count == 0). */
    uint32_t count;     /**< Number of elements. */
    uint32_t item_size; /**< sizeof(one element) as the plugin built it. */
} sy_list;

/** Build a sy_list from a C array: SY_LIST(my_funcs). */
#define SY_LIST(array) { (array), (uint32_t)(sizeof(array) / sizeof((array)[0])), (uint32_t)sizeof((array)[0]) }
/** An empty list. */
#define SY_LIST_EMPTY { NULL, 0, 0 }

/** Opaque: the script context a route runs in (one message/event, one worker thread).
 *  Owned by the core; valid only during the call that received it; never share across threads. */
typedef struct sy_ctx sy_ctx;
/** Opaque: a variable reference resolved once at startup ("$var(x)", "$avp(y)", "$rU", ...).
 *  Owned by the core; valid until the server stops. */
typedef struct sy_var sy_var;
/** Opaque: one MI request being handled. Owned by the core; valid during the handler call only. */
typedef struct sy_mi_call sy_mi_call;
/** Opaque: an MI answer promised for later (1.9, mi_async_begin). Owned by the core until the plugin
 *  answers on it (mi_async_reply_json / mi_async_reply_error), which frees it. */
typedef struct sy_mi_async sy_mi_async;
/** Opaque: a statistics counter. Owned by the core; valid until the server stops. */
typedef struct sy_stat sy_stat;
/** Opaque: a registered timer. Owned by the core; pass it to timer_remove (a second remove of the
 *  same handle, or one after the core stopped, does nothing). It carries the core that added it
 *  (1.9), so timer_remove reaches that core, also from a plugin thread and with several cores in
 *  the process. */
typedef struct sy_timer sy_timer;
/** Opaque: a script route found by name (ABI 1.3). Owned by the core; valid until the server stops. */
typedef struct sy_route sy_route;
/** Opaque: a core SIP worker (ABI 1.4): a thread the core started to serve one listener, with its
 *  own script variables. Owned by the core; valid during the serve() call it was passed to. */
typedef struct sy_sip_worker sy_sip_worker;
/** Opaque: one running core (ABI 1.8): its script engine, event queue, statistics, SIP core, timers
 *  and API directory, built completely before the first plugin's entry function runs. Owned by the
 *  core; valid from the entry function until the plugin's destroy() returns. Found in
 *  sy_host_api.runtime; passed back to the rt_* host functions. */
typedef struct sy_runtime sy_runtime;

/* ---------------------------------------------------------------------------------------------
 * Constants
 * ------------------------------------------------------------------------------------------- */

/** Route kinds (OpenSIPS values). A function's route_mask says where it may be called. */
enum sy_route_kind {
    SY_ROUTE_REQUEST = 1,   /**< route{} and every named route[x]{}. */
    SY_ROUTE_FAILURE = 2,   /**< failure_route. */
    SY_ROUTE_ONREPLY = 4,   /**< onreply_route. */
    SY_ROUTE_BRANCH = 8,    /**< branch_route. */
    SY_ROUTE_ERROR = 16,    /**< error_route. */
    SY_ROUTE_LOCAL = 32,    /**< local_route. */
    SY_ROUTE_STARTUP = 64,  /**< startup_route. */
    SY_ROUTE_TIMER = 128,   /**< timer_route. */
    SY_ROUTE_EVENT = 256,   /**< event_route. */
    SY_ROUTE_ALL = 511      /**< Anywhere. */
};

/** Log levels (OpenSIPS values): lower is more severe. */
enum sy_log_level {
    SY_L_ALERT = -3,
    SY_L_CRIT = -2,
    SY_L_ERR = -1,
    SY_L_WARN = 1,
    SY_L_NOTICE = 2,
    SY_L_INFO = 3,
    SY_L_DBG = 4
};

/** Script-function parameter flags (bit values as OpenSIPS's CMD_PARAM_*). */
enum sy_param_flags {
    SY_P_INT = 1,        /**< Integer: a number literal, a quoted integer literal ("5"), or a
                              variable with an int value (a variable holding a string is refused
                              at run time: see sy_func_handler). */
    SY_P_STR = 2,        /**< String: a literal (with $var interpolation) or a variable. A variable
                              (or literal) holding an int arrives converted to its decimal string
                              ("-12"): value.type is SY_VAL_STR (SY_VAL_NULL only when omitted,
                              or NULL under SY_P_NULLABLE). With SY_P_INT | SY_P_STR,
                              a variable arrives as its string form, a number literal as an int. */
    SY_P_VAR = 4,        /**< A writable variable (output parameter); the handler gets a sy_var. */
    SY_P_OPT = 16,       /**< May be omitted: f(a, , c) or fewer arguments. */
    SY_P_NO_EXPAND = 64, /**< With SY_P_STR: a literal is taken as is, `$` not interpolated. */
    SY_P_STATIC = 128,   /**< Only a plain literal is accepted (no variable, no interpolation). */
    /* --- 1.6 --- */
    SY_P_NULLABLE = 256  /**< With SY_P_INT/SY_P_STR: a variable that is NULL (unset) does not skip
                              the handler (see sy_func_handler): the handler is called with
                              present = 1 and value.type == SY_VAL_NULL. Ignored by older cores,
                              which refuse a 1.6 plugin anyway. */
};

/** Module parameter types (modparam values). */
enum sy_modparam_type {
    SY_MP_INT = 1,       /**< modparam("m", "p", 10); a quoted integer, modparam("m", "p", "10"),
                              is accepted too (2.x configs quote integers) and arrives as
                              SY_VAL_INT; any other string is refused before the setter runs. */
    SY_MP_STR = 2,       /**< modparam("m", "p", "text"). */
    SY_MP_REPEATABLE = 4 /**< The setter is called once per modparam line (list-style params).
                              Without it, a second modparam line for the param is refused. */
};

/** Assignment operators passed to a pseudo-variable setter. */
enum sy_assign_op {
    SY_ASSIGN = 0,       /**< `=`  */
    SY_ASSIGN_COLON = 1  /**< `:=` (for $json: parse the value as JSON text; for $avp: replace all) */
};

/** Pseudo-variable class flags. */
enum sy_pv_flags {
    SY_PV_NEEDS_NAME = 1, /**< `$cls(...)` form required: "$cls" alone is a startup error. */
    SY_PV_WRITABLE = 2,   /**< Has a setter: may be assigned and used as an output parameter. */
    /* --- 1.9 --- */
    SY_PV_OBJECT = 4      /**< The setter takes trees: `$pv := $param(x)` where the event parameter x
                               holds an SY_VAL_OBJECT/SY_VAL_ARRAY passes it as is (op SY_ASSIGN_COLON;
                               valid during the setter call only). Without this flag, and in every
                               other assignment, the setter gets the tree's JSON text (SY_VAL_STR). */
};

/** Dependency kinds and flags. */
enum sy_dep_flags {
    SY_DEP_MODULE = 0,   /**< `name` is a module name. */
    SY_DEP_ANY_DB = 1,   /**< Any loaded DB driver module (name ignored). */
    SY_DEP_HARD = 0,     /**< Missing → startup error naming both modules. */
    SY_DEP_SOFT = 16     /**< Missing → fine; present → initialised first. */
};

/** MI command flags. */
enum sy_mi_flags {
    SY_MI_NAMED_PARAMS_ONLY = 2 /**< Positional (array) params are refused with -32602. */
};

/** Statistic flags. */
enum sy_stat_flags {
    SY_STAT_NO_RESET = 1 /**< reset_statistics leaves it alone ("non-incremental" in list_statistics). */
};

/** Maximum number of arguments a script function may declare. */
#define SY_MAX_FUNC_PARAMS 8
/** Maximum number of parameter names in one MI recipe. */
#define SY_MI_MAX_PARAMS 20

/* ---------------------------------------------------------------------------------------------
 * What a plugin exports
 * ------------------------------------------------------------------------------------------- */

/** One dependency. */
typedef struct sy_dep_export {
    const char *name; /**< Module name (SY_DEP_MODULE); NULL for SY_DEP_ANY_DB. Static storage. */
    uint32_t flags;   /**< SY_DEP_MODULE or SY_DEP_ANY_DB, ORed with SY_DEP_HARD or SY_DEP_SOFT. */
} sy_dep_export;

/** Setter for a modparam. value is owned by the core and valid during the call only (copy strings).
 *  Return 0 to accept; non-zero to refuse, after writing a one-line reason into err (errlen bytes,
 *  NUL-terminated) — the core reports "module M, parameter P: <reason>". */
typedef int (*sy_param_setter)(const sy_value *value, void *user, char *err, size_t errlen);

/** One module parameter. */
typedef struct sy_param_export {
    const char *name;      /**< Parameter name as in modparam("mod", "name", ...). Static storage. */
    uint32_t type;         /**< SY_MP_INT and/or SY_MP_STR, optionally | SY_MP_REPEATABLE. */
    uint32_t reserved;     /**< Must be 0. */
    sy_param_setter set;   /**< Called at startup, before init(), once per modparam line. */
    void *user;            /**< Passed to set. */
} sy_param_export;

/** One argument as the handler receives it. For SY_P_INT/SY_P_STR params, `value` holds the
 *  evaluated argument (value.s owned by the core, valid during the call only). For SY_P_VAR, `var`
 *  is the resolved variable (use host->var_get / host->var_set). `present` is 0 for an omitted
 *  optional argument (then value.type == SY_VAL_NULL and var == NULL). */
typedef struct sy_arg {
    int32_t present;
    int32_t reserved;
    sy_value value;
    sy_var *var;
} sy_arg;

/** A script function handler. args has nargs elements; nargs ALWAYS equals the declared nparams
 *  (omitted optional arguments are there with present == 0), so most handlers ignore it:
 *  SY_UNUSED(nargs). Return >0 for success/true, <0 for failure/false, 0 to stop the whole
 *  script (like exit). The return code becomes $rc / $retcode.
 *  Arguments that are variables are read just before the call. When one is NULL (unset), or an
 *  SY_P_INT argument's variable holds a string, the core does NOT call the handler: it logs one
 *  error line ("file:line:col: f(): $var(x) is NULL") and the call returns -1 ($rc = -1, false).
 *  A parameter declared SY_P_NULLABLE (1.6) receives a NULL variable instead (present = 1,
 *  value.type == SY_VAL_NULL). Arity, types and route kinds are checked at startup, never here.
 *  Called from any script worker thread, concurrently: it must be thread-safe. Shared counters
 *  in C99: host->atomic_add (1.6) or a statistic (host->stat_update); C11 atomics also work. */
typedef int (*sy_func_handler)(sy_ctx *ctx, const sy_arg *args, uint32_t nargs, void *user);

/** What a fixup (1.11) knows of one argument at a call site (enum sy_fixup_kind). */
enum sy_fixup_kind {
    SY_FIXUP_OMITTED = 0, /**< An optional argument left out. */
    SY_FIXUP_CONST = 1,   /**< A literal: value is its SY_VAL_INT or SY_VAL_STR as the handler will get it. */
    SY_FIXUP_DYNAMIC = 2  /**< A variable, or a string with variables: known at run time only (value NULL). */
};

/** One argument of a call site as a fixup (1.11) sees it. value.s is owned by the core, valid
 *  during the fixup call only, NUL-terminated at s[len]. An output (SY_P_VAR) argument is
 *  SY_FIXUP_DYNAMIC. */
typedef struct sy_fixup_arg {
    uint32_t kind;     /**< enum sy_fixup_kind. */
    uint32_t reserved; /**< 0. */
    sy_value value;    /**< The literal when kind == SY_FIXUP_CONST; else SY_VAL_NULL. */
} sy_fixup_arg;

/** A function's startup check (1.11, OpenSIPS's fixup): called once per call site of the function,
 *  on the startup thread, after every module's init() (so a module's own state and the script's
 *  route names are known; also with -c, where init() does not run), before the server serves;
 *  and again, once per call site of the new script, on every reload_routes, on the MI thread
 *  while the workers serve (route_find then sees the routes of the script being loaded). So a
 *  fixup keeps no state piling up across runs, and what it reads must be safe beside handlers.
 *  args has nargs (= nparams) items. Return 0 to accept; non-zero to refuse, after writing a
 *  one-line reason into err (errlen bytes, NUL-terminated) and, optionally, the 0-based index of
 *  the argument at fault into *arg_index (the core presets it to UINT32_MAX: the call itself). The
 *  core stops startup with "file:line:col: f(): <reason>" at that argument (or at the call), as
 *  for its own errors. A fixup only checks: the handler still receives the argument as before.
 *  user is the function's user pointer. */
typedef int (*sy_func_fixup)(const sy_fixup_arg *args, uint32_t nargs, uint32_t *arg_index, char *err,
                             size_t errlen, void *user);

/** One script function. */
typedef struct sy_func_export {
    const char *name;        /**< Function name as called from the script. Static storage. */
    sy_func_handler handler; /**< The implementation. */
    uint32_t nparams;        /**< Number of entries used in params (<= SY_MAX_FUNC_PARAMS). */
    uint32_t route_mask;     /**< enum sy_route_kind bits where the call is allowed; 0 (omitted)
                                  means anywhere, as SY_ROUTE_ALL. */
    uint32_t params[SY_MAX_FUNC_PARAMS]; /**< enum sy_param_flags per parameter, in order. */
    void *user;              /**< Passed to handler (and to fixup, 1.11). */
    /* --- 1.11 --- */
    sy_func_fixup fixup;     /**< NULL (omitted): no startup check. */
} sy_func_export;

/** Parse the "(...)" part of "$cls(...)" once at startup. inner is owned by the core (copy it).
 *  Store whatever you need in *param_out (owned by the plugin; freed by free_param if given).
 *  Return 0 on success, non-zero with a reason in err to fail startup with file:line:col. */
typedef int (*sy_pv_parse_fn)(sy_str inner, void **param_out, char *err, size_t errlen, void *user);
/** Read a value. Write it to *out; a string in out->s must stay valid until the plugin is next
 *  called on the same thread (the core copies it at once). Return 0, or <0 on error (read as NULL). */
typedef int (*sy_pv_get_fn)(sy_ctx *ctx, void *param, sy_value *out, void *user);
/** Write a value with operator op (enum sy_assign_op). value->type == SY_VAL_NULL means "assign NULL"
 *  (delete). value is owned by the core, valid during the call only. Return 0, or <0 on error. */
typedef int (*sy_pv_set_fn)(sy_ctx *ctx, void *param, uint32_t op, const sy_value *value, void *user);

/** One pseudo-variable class, e.g. "json" for $json(...). */
typedef struct sy_pv_export {
    const char *name;        /**< Class name without '$'. Static storage. */
    uint32_t flags;          /**< enum sy_pv_flags. */
    uint32_t reserved;       /**< Must be 0. */
    sy_pv_parse_fn parse;    /**< NULL: the class takes no "(...)" part. */
    sy_pv_get_fn get;        /**< Required. */
    sy_pv_set_fn set;        /**< NULL: read-only. */
    void (*free_param)(void *param, void *user); /**< NULL: nothing to free. */
    void *user;              /**< Passed to every callback. */
    /* --- 1.2 --- */
    /** How many values `$(cls(...)[*])` has (array items, object keys ...). NULL: the class takes
     *  no index. With it, `$(cls(...)[n])` reads get_index(n) and `for ($it in $(cls(...)[*]))`
     *  walks 0..count-1. (The calling context's thread.) */
    int64_t (*count)(sy_ctx *ctx, void *param, void *user);
    /** The n-th value (0-based; the core maps negative indexes from the end before calling).
     *  Same string lifetime rule as get. Return 0, or <0 when out of range (read as NULL). */
    int (*get_index)(sy_ctx *ctx, void *param, int64_t index, sy_value *out, void *user);
} sy_pv_export;

/** What a pseudo-variable context (1.10) answers for `$(<name>pv)` read on ctx: the message the
 *  inner pv is read against. Set *request to a kept request (from sip_snapshot: read as received,
 *  $ru its request-URI, $du unset), or else *message to a whole SIP message as received (request or
 *  reply; the core parses a copy). Whatever is handed over must stay valid until the route run on
 *  ctx ends (the core reads it after the callback returns). Return 1 with a message, 0 when there
 *  is none (the variable reads NULL, as for OpenSIPS's faked replies), <0 on error (NULL too).
 *  (The calling context's thread.) */
struct sy_sip_snapshot; /* typedef'd with the 1.7 transaction types below */
typedef int (*sy_pv_context_fn)(sy_ctx *ctx, void *user, const struct sy_sip_snapshot **request, sy_str *message);

/** One pseudo-variable context (1.10), e.g. tm's `reply` for `$(<reply>rs)`. */
typedef struct sy_pv_context_export {
    const char *name;    /**< Context name, without '<' '>'. Static storage. Unique in the core. */
    sy_pv_context_fn get; /**< Required. */
    void *user;          /**< Passed to get. */
} sy_pv_context_export;

/** An MI handler. Read params with host->mi_param_*; answer with host->mi_reply_json or
 *  host->mi_reply_error exactly once. Return 0 when answered; <0 without an answer gives
 *  JSON-RPC -32000 "Server error". Called from MI transport threads, concurrently. */
typedef int (*sy_mi_handler)(sy_mi_call *call, void *user);

/** One way of calling an MI command: the names of its parameters, NULL-terminated
 *  (an all-NULL recipe = "no parameters"). */
typedef struct sy_mi_recipe {
    const char *params[SY_MI_MAX_PARAMS + 1];
} sy_mi_recipe;

/** One MI command. */
typedef struct sy_mi_export {
    const char *name;          /**< Command name (3.x flat form); also reachable as "module:name". */
    const char *help;          /**< One-line help shown by `help`. */
    uint32_t flags;            /**< enum sy_mi_flags. */
    uint32_t nrecipes;         /**< Number of entries in recipes. */
    const sy_mi_recipe *recipes; /**< Static storage. */
    sy_mi_handler handler;
    void *user;                /**< Passed to handler. */
} sy_mi_export;

/** One event the module raises (e.g. "E_FREESWITCH"); listed so `-c` and MI can show it. */
typedef struct sy_event_export {
    const char *name; /**< Static storage. */
} sy_event_export;

/** A SIP transport (ABI 1.4): what a proto_* module (proto_udp, proto_tcp...) gives the core.
 *  The core owns the SIP work (parsing, routing, Via handling); the module owns the sockets.
 *  `socket = <name>:host:port` lines are matched to the transport by `name`. */
enum sy_proto_flags {
    SY_PROTO_STREAM = 1   /**< Stream transport (TCP-like): replies go back on the same connection. */
};

typedef struct sy_proto_export {
    const char *name;      /**< Transport name as in `socket=` ("udp", "tcp"). Static storage. */
    uint16_t default_port; /**< Port when the socket line gives none (5060). */
    uint32_t flags;        /**< sy_proto_flags. */
    /** Open a listener on addr (startup, before init()). Return an opaque listener, or NULL with a
     *  reason in err. The core calls it once per socket line. */
    void *(*listen)(const struct sockaddr *addr, socklen_t addr_len, char *err, size_t errlen, void *user);
    /** Serve a listener: the core calls it on each of the `workers` threads it starts for the socket
     *  (after every module's child init), each with its own worker. Read messages and hand each one
     *  to host->sip_receive(w, ...); return only after stop() was called. */
    void (*serve)(void *listener, sy_sip_worker *w, void *user);
    /** Send one whole message (any thread). conn: a connection id from sip_receive for stream
     *  transports (0 = find or open one to dst). Returns 0, or <0 if it could not be sent.
     *  buf is valid only during the call (the core lends its thread's reused output buffer): a
     *  transport that queues the message must copy it (proto_udp's send batch does). */
    int (*send)(void *listener, uint64_t conn, const struct sockaddr *dst, socklen_t dst_len,
                const char *buf, size_t len, void *user);
    /** Make every serve() call of this listener return soon (shutdown). */
    void (*stop)(void *listener, void *user);
    void *user;            /**< Passed to the four functions above. */
} sy_proto_export;

/** The exports table a plugin's entry function returns. Static storage, valid until unload.
 *  Fields a plugin leaves out of its initialiser are zero, and zero means ABSENT: an omitted
 *  list (deps, params, funcs, pvars, mi_cmds, events, protos) is empty, an omitted hook or
 *  aliases is NULL. Only .header and .name are required; writing `.deps = SY_LIST_EMPTY` is
 *  never needed. */
typedef struct sy_module_exports {
    sy_table_header header; /**< SY_HEADER(sy_module_exports). */
    const char *name;        /**< Module name used by modparam, deps and MI. Static storage. */
    const char *version;     /**< Module version text, e.g. "1.0.0". */
    const char *description; /**< One line. */
    sy_list deps;            /**< sy_dep_export items. */
    sy_list params;          /**< sy_param_export items. */
    sy_list funcs;           /**< sy_func_export items. */
    sy_list pvars;           /**< sy_pv_export items. */
    sy_list mi_cmds;         /**< sy_mi_export items. */
    sy_list events;          /**< sy_event_export items. */
    /** After every modparam is applied and dependencies are initialised. Return exactly 0. */
    int (*init)(void *user);
    /** Once per script worker (rank 1..N), on that worker's own thread, before it serves;
     *  <0 fails startup. Also (1.10) once per thread that runs event routes itself
     *  (rt_event_raise_here: ranks after the workers', one per thread, kept by it), on that
     *  thread, when it first runs one, after serving started; <0 then stops such runs (events go
     *  to the workers). May be NULL. */
    int (*child_init)(int rank, void *user);
    /** At shutdown, in reverse dependency order, only if init() succeeded. May be NULL. */
    void (*destroy)(void *user);
    void *user;              /**< Passed to the three hooks above. */
    /* --- 1.1 --- */
    /** NULL-terminated list of other names `loadmodule` accepts for this module
     *  (e.g. "cachedb_local" for cache_local). May be NULL. Static storage. */
    const char *const *aliases;
    /* --- 1.4 --- */
    /** sy_proto_export items: the SIP transports this module provides (most modules: empty). */
    sy_list protos;
    /* --- 1.10 --- */
    /** sy_pv_context_export items: the contexts `$(<name>pv)` this module serves (most: empty). */
    sy_list pv_contexts;
} sy_module_exports;

/* ---------------------------------------------------------------------------------------------
 * What the core offers: the host table. All pointers are owned by the core and valid until
 * the server stops. Functions marked "any thread" may be called from any thread at any time
 * after the entry function returns; "startup" ones only from the entry function or init().
 * ------------------------------------------------------------------------------------------- */

/** A named parameter of a raised event. name and value are copied by the core. */
typedef struct sy_event_param {
    sy_str name;    /**< Parameter name, read in the script as $param(name). */
    sy_value value; /**< SY_VAL_INT or SY_VAL_STR (or NULL); since 1.9 also SY_VAL_OBJECT or
                         SY_VAL_ARRAY, copied whole by the core (the tree need not outlive the call).
                         The script reads such a parameter as its JSON text, written compact
                         ({"k":"v","n":1,"a":["x"]}; in strings `"` `\` \b \f \n \r \t escaped, other
                         control bytes as \u00XX, the rest as is), written only when a script reads
                         it as a string (see SY_PV_OBJECT). */
} sy_event_param;

/** rt_event_raise_here flags (1.10). */
#define SY_EVENT_MORE_BEHIND 1u /**< The caller holds further events to raise after this one. */

/* --- 1.7: transactions --- */

/** Opaque: one of the core's listening sockets (ABI 1.7). Owned by the core; valid until the
 *  server stops. */
typedef struct sy_sip_socket sy_sip_socket;
/** Opaque: a request kept beyond its route (ABI 1.7): the parsed message, where it came from, its
 *  AVPs and flags. Owned by whoever got it from sip_snapshot, until sip_snapshot_free. */
typedef struct sy_sip_snapshot sy_sip_snapshot;
/** What a script may change on a request besides variables (ABI 1.8): request-URI, $du, forced
 *  socket, header edits, appended branches. Opaque; from sip_msg_save, freed by sip_msg_state_free. */
typedef struct sy_msg_state sy_msg_state;

/** Where a message goes and from which socket (ABI 1.7). Plain data: copy it freely. */
typedef struct sy_sip_target {
    const sy_sip_socket *socket;  /**< Listening socket to send from. */
    uint64_t conn;                /**< Stream connection id (as sip_receive got it); 0 = find or open one. */
    struct sockaddr_storage dst;  /**< Destination address. */
    socklen_t dst_len;            /**< Bytes of dst in use. */
    int32_t reliable;             /**< 1 when the socket's transport is a stream (no retransmissions). */
} sy_sip_target;

/** One address a SIP destination resolved to (ABI 1.12, rt_sip_resolve). Plain data. */
typedef struct sy_sip_resolved {
    char ip[46];     /**< Numeric IP, NUL-terminated (IPv6 without brackets). */
    uint16_t port;   /**< The URI's port, the SRV record's, or the transport's default. */
    char proto[8];   /**< Transport to use, NUL-terminated: the URI's, or the one a NAPTR record chose. */
} sy_sip_resolved;

/** The identifying fields of a SIP message, as the core parsed them (ABI 1.7). Every sy_str points
 *  into the message and is valid only during the call that handed it out; an absent field has
 *  len 0. */
typedef struct sy_sip_info {
    int32_t is_request;     /**< 1 request, 0 reply. */
    int32_t status;         /**< Reply status code; 0 for a request. */
    sy_str method;          /**< Request method (request line); empty for a reply. */
    sy_str ruri;            /**< Request-URI as received; empty for a reply. */
    sy_str call_id;         /**< Call-ID body. */
    int64_t cseq;           /**< CSeq number (-1 when missing or bad). */
    sy_str cseq_method;     /**< CSeq method. */
    sy_str from_tag;        /**< From tag parameter. */
    sy_str to_tag;          /**< To tag parameter. */
    sy_str from;            /**< Whole From body (pre-RFC 3261 matching). */
    sy_str to_uri;          /**< URI of the To header (pre-RFC 3261 matching). */
    sy_str via_branch;      /**< branch parameter of the top Via. */
    sy_str via_host;        /**< sent-by host of the top Via. */
    int32_t via_port;       /**< sent-by port of the top Via (0 when not written). */
    int32_t reserved;       /**< 0. */
    sy_str via_transport;   /**< Transport token of the top Via as written ("UDP"). */
    sy_str via_value;       /**< Whole top Via value (pre-RFC 3261 matching). */
    sy_str reason;          /**< Reply reason phrase; empty for a request. */
} sy_sip_info;

/** Hooks one module (the transaction layer) registers with sip_hooks_register (ABI 1.7). Both run
 *  on the SIP worker that received the message, on a context already holding it, before anything
 *  else is done with it. Static storage. */
typedef struct sy_sip_hooks {
    sy_table_header header; /**< SY_HEADER(sy_sip_hooks). */
    /** A request, before the main route. Return 1 if it was consumed (a retransmission answered,
     *  an ACK absorbed): the script does not run. 0: the script runs as usual. */
    int (*request_in)(sy_ctx *ctx, const sy_sip_info *info, void *user);
    /** A reply, after the global onreply_route (unless that dropped a 1xx) and before the stateless
     *  relay by Via. Return 1 if it was consumed (matched a transaction); 0: relayed statelessly. */
    int (*reply_in)(sy_ctx *ctx, const sy_sip_info *info, void *user);
    void *user;             /**< Passed to both hooks. */
} sy_sip_hooks;

typedef struct sy_host_api {
    sy_table_header header; /**< The core's version; check header.abi_major == SY_ABI_MAJOR. */

    /* Logging (any thread). module may be NULL; msg is msg_len bytes, no trailing newline. */
    void (*log)(int level, const char *module, const char *msg, size_t msg_len);

    /* Variables (startup / any thread). var_parse resolves a variable spec such as "$var(x)"
     * once; returns NULL with a reason in err if unknown or malformed. */
    sy_var *(*var_parse)(const char *spec, size_t spec_len, char *err, size_t errlen);
    /** Read a variable on a context. A string in out->s stays valid until the next host call
     *  on this ctx. Returns 0, or <0 on error. (The calling context's thread.) */
    int (*var_get)(sy_ctx *ctx, const sy_var *var, sy_value *out);
    /** Assign a variable (operator `=`; value->type == SY_VAL_NULL assigns NULL). The value is
     *  copied. Returns 0, or <0 if not writable / type refused. (The calling context's thread.) */
    int (*var_set)(sy_ctx *ctx, const sy_var *var, const sy_value *value);

    /* Events (any thread). Queues the event for event_route[name]; never blocks; returns 0 if
     * queued, 1 if nobody listens, <0 if the queue is full (the drop is counted). */
    int (*event_raise)(const char *name, const sy_event_param *params, uint32_t nparams);

    /* Timers (startup / any thread). cb runs on the core's timer thread every interval_ms;
     * keep it short. Returns NULL on bad arguments. After timer_remove returns, cb is not started
     * again, but a run already under way may still finish: free `user` only in destroy(). */
    sy_timer *(*timer_add)(const char *name, uint32_t interval_ms, void (*cb)(void *user), void *user);
    void (*timer_remove)(sy_timer *timer);

    /* Statistics (startup / any thread). Registered under group `module`, visible over MI
     * as "module:name". stat_register returns the existing counter for a repeated name.
     * `module` should be the registering module's own name (its exports .name), as OpenSIPS
     * groups statistics by module: get_statistics "e164:" then lists the module's counters.
     * stat_update is atomic: a statistic is also a C99 thread-safe counter. */
    sy_stat *(*stat_register)(const char *module, const char *name, uint32_t flags);
    void (*stat_update)(sy_stat *stat, int64_t delta);
    int64_t (*stat_get)(sy_stat *stat);

    /* MI (startup for register, handler thread for the rest). */
    int (*mi_register)(const char *module, const sy_mi_export *cmd, uint32_t item_size);
    /** String form of a param (numbers printed). out->s valid during the handler call.
     *  Returns 0, -1 if absent, -2 if of a type with no string form. */
    int (*mi_param_str)(sy_mi_call *call, const char *name, sy_str *out);
    /** Integer form (a JSON number or a string holding an integer). 0 / -1 absent / -2 bad type. */
    int (*mi_param_int)(sy_mi_call *call, const char *name, int64_t *out);
    /** The raw JSON text of a param (arrays, objects). 0 / -1 absent. */
    int (*mi_param_json)(sy_mi_call *call, const char *name, sy_str *out);
    /** Answer with a JSON text (copied; must be valid JSON: a parse failure answers -32000).
     *  Since 1.6, the builder below (mi_add_object ...) answers without writing JSON by hand. */
    void (*mi_reply_json)(sy_mi_call *call, const char *json, size_t json_len);
    /** Answer with an error; data may be NULL. Strings are copied. */
    void (*mi_reply_error)(sy_mi_call *call, int code, const char *message, const char *data);

    /* Cross-module APIs (startup). api_publish makes `table` (static storage, starting with a
     * sy_table_header that carries its version and size) bindable by name; returns 0, or -1 if the
     * name is taken. api_bind returns it when the name exists, its header's major equals `major`
     * and its struct_size is at least min_size; else NULL with a reason in err. Bind from init():
     * dependencies are initialised first. */
    int (*api_publish)(const char *name, const void *table);
    const void *(*api_bind)(const char *name, uint32_t major, uint32_t min_size, char *err, size_t errlen);

    /* Databases (startup). Finds the driver for the URL's scheme ("sqlite" in sqlite:///x.db),
     * i.e. the API table the driver published as "db:<scheme>", checked like api_bind. */
    const void *(*db_bind)(const char *url, uint32_t major, uint32_t min_size, char *err, size_t errlen);

    /* --- 1.1 --- */
    /** The route kind (enum sy_route_kind) a context is running. (The context's thread.) */
    uint32_t (*ctx_route_type)(sy_ctx *ctx);
    /** Non-zero if a message at `level` would be written (skip costly formatting otherwise). */
    int (*log_enabled)(int level);

    /* --- 1.2 --- */
    /** The worker a context runs on: 1..N for script workers (as child_init's rank), higher ranks
     *  (1.10) for threads running event routes themselves (rt_event_raise_here, one rank per
     *  thread), a negative number for the timer thread. Per-worker state (OpenSIPS's
     *  per-process data) keys on it.
     *  (The context's thread.) */
    int (*ctx_worker)(sy_ctx *ctx);

    /* --- 1.3 --- */
    /** For MI transport modules (mi_fifo, mi_http, mi_datagram): runs one JSON-RPC 2.0 request
     *  (request_len bytes, copied) through the core's MI and calls reply(arg, json, len) once with
     *  the single-line response before returning — or never, for a notification that needs no
     *  answer. json is valid during the reply call only. Returns 1 if reply was called, 0 if not.
     *  A command that answers later (1.9, mi_async_begin) is waited for on the calling thread;
     *  transports use rt_mi_dispatch_async (1.9) to avoid that. (Any thread; commands may run
     *  concurrently.) */
    int (*mi_dispatch)(const char *request, size_t request_len,
                       void (*reply)(void *arg, const char *json, size_t json_len), void *arg);
    /** A script route[name] by name, resolved once (startup, or a data reload — never per call).
     *  NULL if the script has no such route. The handle is owned by the core. (Any thread.) */
    const sy_route *(*route_find)(const char *name);
    /** Runs a route found with route_find on the caller's context, as route(name) would, and
     *  returns its code (0 if it ended the script with exit/drop). (The context's thread.) */
    int (*route_run)(sy_ctx *ctx, const sy_route *route);
    /** Like event_raise, but when the event queue is full it waits (up to timeout_ms; 0 = as long as
     *  it takes) for room instead of dropping: an I/O thread that calls it stops reading its socket
     *  while the workers catch up, so TCP backpressure reaches the sender and nothing is lost.
     *  Returns 0 queued, 1 nobody listens, <0 timed out or shutting down. Never call it from a
     *  script worker (it could wait for itself). (Any other thread.)
     *  Order: not kept. The events go to the one queue every worker takes from, so two workers may
     *  run two events of one caller at once, and the later one may finish first. Per-caller order
     *  is rt_event_raise_here's (1.10: a lane per thread, one event at a time), and this entry
     *  cannot be served that way without breaking what its callers were built against: a route
     *  run from here may wait for something only the raising thread does (e.g. read the reply to
     *  a command the route sent, as the freeswitch module's reader alone did before its API 1.4).
     *  With the shared queue, while one route waits the other workers drain the queue, so the
     *  raising thread gets room, goes on reading, and the wait ends. In a lane the waiting route
     *  holds the only worker that may run the thread's events: the thread stays blocked on its
     *  full lane, and every such wait lasts until the route's own timeout. The core cannot tell
     *  from the call whether a plugin's routes do that, so this entry keeps the shared queue; a
     *  plugin that needs its events in order uses rt_event_raise_here, whose contract requires
     *  that the route not wait for the raising thread. */
    int (*event_raise_wait)(const char *name, const sy_event_param *params, uint32_t nparams, uint32_t timeout_ms);

    /* --- 1.4: SIP --- */
    /** For transport modules, from serve(): one received message (buf copied, len bytes) from src,
     *  on connection conn (stream transports; 0 for datagrams). The core parses it and runs the
     *  script (request route, or reply relay) on the calling thread before returning.
     *  Returns 0 handled, <0 rejected (unparseable; already answered with 400 or logged). */
    int (*sip_receive)(sy_sip_worker *w, uint64_t conn, const struct sockaddr *src, socklen_t src_len,
                       const char *buf, size_t len);
    /** Stateless reply to the request a context routes (sl_send_reply): status line, the request's
     *  Via/From/To/Call-ID/CSeq, a To tag when it has none and code > 100, extra_hdrs (whole lines,
     *  each ending CRLF, may be empty). Sent where RFC 3261 18.2.2 / RFC 3581 say.
     *  Returns 1 sent, -1 no request on this context, -2 could not send. (The context's thread.) */
    int (*sip_reply)(sy_ctx *ctx, int code, sy_str reason, sy_str extra_hdrs);
    /** Body of the index-th header called name (case-insensitive, compact forms match) of the
     *  context's message, unfolded; out->s valid until the next host call on ctx.
     *  Returns 0, -1 no such header, -2 no SIP message. (The context's thread.) */
    int (*sip_header_get)(sy_ctx *ctx, sy_str name, uint32_t index, sy_str *out);
    /** Replaces the body of the first header called name in what is sent on (forward/relay);
     *  adds the header at the end if there is none; value.s == NULL removes the first such header
     *  instead. Line breaks in value become spaces. Returns 0, -1 nothing to remove, -2 no SIP
     *  message, -3 refused (not a header name, or Via, which the core owns), -5 a reply built here
     *  (as sip_text_replace; since 1.16). (The context's thread.) */
    int (*sip_header_set)(sy_ctx *ctx, sy_str name, sy_str value);
    /** Adds a whole header line ("Name: value", no CRLF) to what is sent on: first after the
     *  request line if at_top, else last. Returns 0, -2 no SIP message, -3 refused (no "Name:",
     *  or a Via), -5 a reply built here (as sip_text_replace; since 1.16). (The context's thread.) */
    int (*sip_header_add)(sy_ctx *ctx, sy_str line, int at_top);
    /** Sends a new stateless request from the core (e.g. an OPTIONS probe) to ruri, or to dst_uri
     *  if not empty, with extra_hdrs (whole lines ending CRLF; a From line there replaces the
     *  core's and gets a tag if it has none; a Max-Forwards line replaces the default 70). done(arg, code) is called exactly once, on a core
     *  thread: with the final reply's code, 408 when none came in timeout_ms, 477 if it could not
     *  be sent, or 0 if the server stopped first. Returns 0 queued (done will be called), -1 no
     *  SIP transport is loaded, -2 bad arguments. (Any thread.) */
    int (*sip_request)(sy_str method, sy_str ruri, sy_str dst_uri, sy_str extra_hdrs, uint32_t timeout_ms,
                       void (*done)(void *arg, int code), void *arg);

    /* --- 1.5 --- */
    /** As sip_request, sent from the listening socket `socket` ("[proto:]host[:port]" of one of the
     *  core's socket= lines, proto udp when omitted); an empty socket chooses as sip_request does.
     *  Returns -3 (done not called) when `socket` is not a listening socket of the request's
     *  transport; otherwise as sip_request. (Any thread.) */
    int (*sip_request_from)(sy_str method, sy_str ruri, sy_str dst_uri, sy_str extra_hdrs, sy_str socket,
                            uint32_t timeout_ms, void (*done)(void *arg, int code), void *arg);

    /* --- 1.6 --- */
    /** A thread-safe counter in C99: adds delta to *cell atomically (sequentially consistent) and
     *  returns the new value; delta 0 reads it. cell is plugin memory (a static int64_t), 8-byte
     *  aligned, touched only through atomic_add once workers run (plain writes before init()
     *  returns are fine). A counter that must also be visible over MI is better a statistic
     *  (stat_update is atomic too). (Any thread.) */
    int64_t (*atomic_add)(int64_t *cell, int64_t delta);
    /** Stores value into *cell atomically and returns what was there before (a counter reset:
     *  atomic_swap(&c, 0)). Same rules for cell as atomic_add. (Any thread.) */
    int64_t (*atomic_swap)(int64_t *cell, int64_t value);

    /* The MI reply builder (the MI handler's thread, during the handler). It answers the call
     * with a value built piece by piece: no JSON text, no escaping. Each function adds one value
     * where the builder stands: as the reply itself when nothing was added yet, as the next item
     * of an open array, or as member `key` of an open object. `key` is a C string, copied; it must
     * be NULL at the top level and inside an array, and non-NULL inside an object (a repeated key
     * replaces the earlier value). When the handler returns, containers still open are closed
     * and the built value is the answer (return 0). Every function returns 0, or -1 when misused
     * (a missing or unexpected key, a second top-level value, a call after mi_reply_json or
     * mi_reply_error): the misused call adds nothing. mi_reply_error at any point replaces what
     * was built; mi_reply_json after the first mi_add_* is ignored. Example:
     *   h->mi_add_object(call, NULL);                         {
     *   h->mi_add_str(call, "cc", "44", SY_CSTR);               "cc": "44",
     *   h->mi_add_int(call, "calls", 3);                        "calls": 3,
     *   h->mi_add_array(call, "tags");                          "tags": [
     *   h->mi_add_bool(call, NULL, 1);                            true
     *   h->mi_end(call);                                        ] }                         */
    /** Opens an object: the following values are its members, until mi_end. */
    int (*mi_add_object)(sy_mi_call *call, const char *key);
    /** Opens an array: the following values are its items, until mi_end. */
    int (*mi_add_array)(sy_mi_call *call, const char *key);
    /** Closes the innermost open object or array. -1 if none is open. */
    int (*mi_end)(sy_mi_call *call);
    /** A string of len bytes (copied; len SY_CSTR: s is NUL-terminated). Quotes, backslashes and
     *  control characters (NUL included) are escaped in the JSON answer; bytes that are not
     *  UTF-8 become U+FFFD. s NULL adds JSON null. */
    int (*mi_add_str)(sy_mi_call *call, const char *key, const char *s, size_t len);
    /** An integer (JSON number). */
    int (*mi_add_int)(sy_mi_call *call, const char *key, int64_t value);
    /** true (value != 0) or false. */
    int (*mi_add_bool)(sy_mi_call *call, const char *key, int value);
    /** JSON null. */
    int (*mi_add_null)(sy_mi_call *call, const char *key);
    /* --- 1.7: transactions --- */
    /** Registers the SIP hooks (startup; one module only). Returns 0, -1 if another module already
     *  did, -2 bad table (NULL or a different major). */
    int (*sip_hooks_register)(const sy_sip_hooks *hooks);
    /** The identifying fields of the context's SIP message into *out (pointers valid until the
     *  next host call on ctx). Returns 0, -2 no SIP message. (The context's thread.) */
    int (*sip_info)(sy_ctx *ctx, sy_sip_info *out);
    /** Builds the forwarded form of the context's request as forward() would send it, without
     *  sending: request line with ruri (empty: the context's current $ru), our Via on top with
     *  branch (empty: the core's stateless branch), the script's header edits (Record-Route ...).
     *  The next hop is dst_uri (empty: $du, else the request-URI), resolved; the socket is the
     *  forced one ($fs) when usable, else one of the hop's transport. *out_bytes is valid until the
     *  next host call on ctx (copy it); *out_target says where to send. Returns 0, -1 no request
     *  on ctx, -2 bad URI, -4 unresolvable destination, -5 every address is blacklisted (the
     *  message's blacklists, 1.11), -6 no socket for the transport. (The context's thread.) */
    int (*sip_build_request)(sy_ctx *ctx, sy_str ruri, sy_str dst_uri, sy_str branch,
                             sy_str *out_bytes, sy_sip_target *out_target);
    /** Builds a reply to the context's request without sending it: status line, the request's
     *  Via/From/To/Call-ID/CSeq (Record-Route for 18x/2xx), to_tag added to To when given and the
     *  request has none, extra_hdrs (whole lines ending CRLF), body (Content-Length set).
     *  *out_target is where RFC 3261 18.2.2 / RFC 3581 send it. Bytes as sip_build_request.
     *  code 0 builds nothing (out_bytes empty) and only fills *out_target.
     *  The request's append_to_reply lines follow extra_hdrs. A 3xx given no body at all (body.s
     *  NULL) also carries the destination set as one Contact line (OpenSIPS's t_reply); with a
     *  body, even an empty one (body.s set, len 0), it does not (t_reply_with_body).
     *  Returns 0, -1 no request on ctx or bad code. (The context's thread.) */
    int (*sip_build_reply)(sy_ctx *ctx, int code, sy_str reason, sy_str to_tag, sy_str extra_hdrs,
                           sy_str body, sy_str *out_bytes, sy_sip_target *out_target);
    /** Builds the context's reply as relayed upstream: without its top Via, with the script's
     *  header edits. Bytes as sip_build_request. Returns 0, -1 no reply on ctx.
     *  (The context's thread.) */
    int (*sip_build_relayed)(sy_ctx *ctx, sy_str *out_bytes);
    /** Sends len bytes as one message to a target (any thread). Returns 0, <0 not sent. */
    int (*sip_send)(const sy_sip_target *target, const char *buf, size_t len);
    /** Keeps the context's request beyond the route: the parsed message as received, where it came
     *  from, its AVPs and message flags. NULL if ctx holds no SIP request. The caller owns it.
     *  (The context's thread.) */
    sy_sip_snapshot *(*sip_snapshot)(sy_ctx *ctx);
    /** Frees a snapshot (any thread). NULL is ignored. */
    void (*sip_snapshot_free)(sy_sip_snapshot *snap);
    /** A new context of route kind route_kind (enum sy_route_kind) on a snapshot: the request as
     *  received ($ru its request-URI, $du unset, no header edits), the snapshot's AVPs and flags.
     *  Its per-worker variables are parent's when parent is given (same thread), else fresh ones.
     *  Close it with sip_ctx_close on the same thread. NULL on bad arguments. (Any thread.) */
    sy_ctx *(*sip_ctx_open)(const sy_sip_snapshot *snap, uint32_t route_kind, sy_ctx *parent);
    /** Closes a context from sip_ctx_open.
     *  With save_to, the context's AVPs and flags are first stored into that snapshot (the next
     *  failure route sees what this one left). (The context's thread.) */
    void (*sip_ctx_close)(sy_ctx *ctx, sy_sip_snapshot *save_to);
    /** A route by kind (SY_ROUTE_FAILURE, SY_ROUTE_ONREPLY, SY_ROUTE_BRANCH, SY_ROUTE_REQUEST) and
     *  name; NULL if the script has none. Run it with route_run. (Any thread, read-only data.)
     *  Since 1.10 also SY_ROUTE_LOCAL: the script's one local_route (name ignored, may be ""). */
    const sy_route *(*route_find_kind)(uint32_t route_kind, const char *name);
    /** 1 if `drop` ran on the context since its message was set or since the last call, else 0;
     *  clears it (a branch route's drop discards that branch only). (The context's thread.) */
    int (*ctx_dropped)(sy_ctx *ctx);
    /** Sets the context's one transaction slot: ptr, released with release(ptr) (may be NULL) when
     *  the context moves to its next message, is closed, or the slot is set again. Returns 0.
     *  (The context's thread.) */
    int (*ctx_slot_set)(sy_ctx *ctx, void *ptr, void (*release)(void *ptr));
    /** The context's transaction slot, NULL when unset. (The context's thread.) */
    void *(*ctx_slot_get)(sy_ctx *ctx);
    /** The index-th branch added with append_branch() on the context: its URI and destination
     *  URI (empty when unset); valid until the next host call on ctx. Returns 0, -1 no such branch.
     *  (The context's thread.) */
    int (*sip_branch_get)(sy_ctx *ctx, uint32_t index, sy_str *uri, sy_str *dst_uri);
    /** Forgets the context's appended branches (a relay consumed them). (The context's thread.) */
    void (*sip_branches_clear)(sy_ctx *ctx);

    /* --- 1.8: the runtime handle --- (one block; check header.abi_minor >= 8 before use)
     * Every host function that takes a sy_ctx, sy_sip_worker, sy_mi_call, sy_stat or sy_route reaches
     * the core through that handle. The older functions without one (log, event_raise, timer_add,
     * sip_request, ...) reach the one core of the process: they keep working, and are right for a
     * plugin's startup code. Code that runs later on the plugin's own threads (an I/O thread raising
     * events, a timer callback, a function of a cross-module API table) uses the rt_* forms below
     * with the handle it was given. Only these six (and sip_local_target below) take the handle: the
     * other handle-less entries are called only at startup (registration, var_parse, route_find,
     * api/db bind, hooks), where the core being started is the one the call reaches. (1.9 adds the
     * handle forms of mi_dispatch, route_find_kind and stat_register, which some plugins call later.) Why they exist
     * at all: a C callback carries no user pointer back to the core, so without a handle the core can
     * only be found process-wide. */
    /** The core this table belongs to. Keep it with the plugin's own state (e.g. in the `user` of
     *  its exports, or its API table's handle), not in a global. NULL only in a table used outside a
     *  running core (a syntax check). The handle stays valid for the life of the process; once its
     *  core has stopped, the entries taking it do nothing and return their failure value (rt_log
     *  drops the line, rt_log_enabled 0, rt_event_raise(_wait) and rt_sip_request -1, rt_timer_add
     *  NULL, sip_local_target -6), so a plugin thread that outlives the stop is safe. */
    sy_runtime *runtime;
    /** log on the core rt. (Any thread.) */
    void (*rt_log)(sy_runtime *rt, int level, const char *module, const char *msg, size_t msg_len);
    /** log_enabled on the core rt. (Any thread.) */
    int (*rt_log_enabled)(sy_runtime *rt, int level);
    /** event_raise on the core rt: never blocks. Events raised once the entry function has
     *  returned (from init(), or a thread init() started) are kept and run when the workers start.
     *  (Any thread.) */
    int (*rt_event_raise)(sy_runtime *rt, const char *name, const sy_event_param *params, uint32_t nparams);
    /** event_raise_wait on the core rt (never from a script worker); its order is not kept either,
     *  for the same reason (see event_raise_wait). (Any other thread.) */
    int (*rt_event_raise_wait)(sy_runtime *rt, const char *name, const sy_event_param *params, uint32_t nparams,
                               uint32_t timeout_ms);
    /** sip_request_from on the core rt (an empty socket chooses as sip_request does). (Any thread.) */
    int (*rt_sip_request)(sy_runtime *rt, sy_str method, sy_str ruri, sy_str dst_uri, sy_str extra_hdrs, sy_str socket,
                          uint32_t timeout_ms, void (*done)(void *arg, int code), void *arg);
    /** timer_add on the core rt. (Startup / any thread.) */
    sy_timer *(*rt_timer_add)(sy_runtime *rt, const char *name, uint32_t interval_ms, void (*cb)(void *user), void *user);
    /* --- end of 1.8: the runtime handle --- */
    /* --- 1.8: local requests and per-branch message state (tm) --- */
    /** Where a request made without a received message goes (tm's t_uac, MI t_uac_dlg): dst_uri
     *  (a SIP URI; transport from its transport parameter, else udp; port 5060 when absent) is
     *  resolved, and the sending socket is `socket` ("[proto:]host[:port]" of a socket= line) when
     *  not empty, else one of the transport and the address family. Fills *out_target and writes
     *  the start of our Via value for that socket, "SIP/2.0/<TRANSPORT> <host>:<port>" (advertised
     *  address), NUL-terminated into via (via_size bytes), its length into *via_len.
     *  rt is the core whose sockets are used (sy_host_api.runtime of the plugin's table).
     *  Returns 0, -2 bad URI, -3 socket is not ours (or of another transport or address family),
     *  -4 unresolvable destination, -6 no socket for the transport (or rt NULL or stopped),
     *  -7 via_size too small. (Any thread; may wait for DNS.) */
    int (*sip_local_target)(sy_runtime *rt, sy_str dst_uri, sy_str socket, sy_sip_target *out_target, char *via,
                            size_t via_size, size_t *via_len);
    /** A copy of what the script may change on the context's request (sy_msg_state), to be put
     *  back with sip_msg_restore. NULL if ctx holds no SIP request. The caller frees it with
     *  sip_msg_state_free. (The context's thread.) */
    sy_msg_state *(*sip_msg_save)(sy_ctx *ctx);
    /** Puts a saved state back on the context's request (the copy stays valid: restore it again
     *  for the next branch). The reply lines (append_to_reply) of a request kept with sip_snapshot
     *  are the snapshot's, those added since the save included. Returns 0, -1 state NULL, -2 no
     *  SIP request on ctx, or the state was saved from another message. (The context's thread.) */
    int (*sip_msg_restore)(sy_ctx *ctx, const sy_msg_state *state);
    /** Frees a saved state (any thread). NULL is ignored. */
    void (*sip_msg_state_free)(sy_msg_state *state);
    /* --- end of 1.8 local requests and per-branch message state --- */

    /* --- 1.9: the runtime handle, continued --- (one block; check header.abi_minor >= 9 before use)
     * The three handle-less entries a plugin still called after startup, taking the handle (the
     * plugin's own sy_host_api.runtime). Once that core has stopped they do nothing and return their
     * failure value (rt_mi_dispatch 0 without calling reply, the others NULL). */
    /** mi_dispatch on the core rt: for MI transport modules, one call per request. (Any thread.) */
    int (*rt_mi_dispatch)(sy_runtime *rt, const char *request, size_t request_len,
                          void (*reply)(void *arg, const char *json, size_t json_len), void *arg);
    /** route_find_kind on the core rt: tm's t_on_failure/t_on_reply/t_on_branch on a worker, a data
     *  reload on an MI thread. (Any thread, read-only data.) */
    const sy_route *(*rt_route_find_kind)(sy_runtime *rt, uint32_t route_kind, const char *name);
    /** stat_register on the core rt: a counter created at run time (the statistics module's
     *  update_stat on a new name). (Any thread.) */
    sy_stat *(*rt_stat_register)(sy_runtime *rt, const char *module, const char *name, uint32_t flags);
    /* --- end of 1.9: the runtime handle, continued --- */
    /* --- 1.9: MI answers given later, branch attributes --- (check header.abi_minor >= 9 before use) */
    /** During an MI handler, instead of answering on `call`: promises the answer for later
     *  (OpenSIPS's async MI commands). The handler then returns 0 at once (the MI thread is free);
     *  the plugin answers exactly once, from any thread, at any later time, with mi_async_reply_json
     *  or mi_async_reply_error on the returned token, which frees it. If the handler also answers on
     *  `call`, that answer is the one sent and the token's later answer is dropped (the token must
     *  still be answered, to free it). When the server stops before the answer, the core answers the
     *  request itself (-32000 "Server error", data "server stopping"); the token stays valid until the
     *  plugin answers on it. NULL if call is NULL or already answered, or asked twice.
     *  (The handler's thread, during the handler call.) */
    sy_mi_async *(*mi_async_begin)(sy_mi_call *call);
    /** Answers a promised call with a JSON text (copied; invalid JSON answers -32000) and frees the
     *  token. (Any thread.) */
    void (*mi_async_reply_json)(sy_mi_async *token, const char *json, size_t json_len);
    /** Answers a promised call with an error (strings copied; data may be NULL) and frees the token.
     *  (Any thread.) */
    void (*mi_async_reply_error)(sy_mi_async *token, int code, const char *message, const char *data);
    /** mi_dispatch for MI transports that must not hold a thread while a command answers later: runs
     *  one JSON-RPC 2.0 request (request_len bytes, copied) through the MI of core rt and calls
     *  reply(arg, json, len) exactly once with the single-line response — before returning when it is
     *  ready at once (returns 1), or later from another thread (returns 2) — or never, for a
     *  notification (returns 0). json is valid during the reply call only; keep the reply call short
     *  (it may run on a SIP worker or timer thread): hand the text to the transport's own thread.
     *  -1 when rt is NULL or its core has stopped. (Any thread.) */
    int (*rt_mi_dispatch_async)(sy_runtime *rt, const char *request, size_t request_len,
                                void (*reply)(void *arg, const char *json, size_t json_len), void *arg);
    /** The q value and Path of a branch of the context's request: index -1 the request-URI branch,
     *  0.. the branches of sip_branch_get. *q gets the q value in thousandths (0..1000), -1 when none
     *  was given; *path the Path header value of the branch (empty when none; valid until the next
     *  host call on ctx). Either pointer may be NULL. Returns 0, -1 no such branch.
     *  (The context's thread.) */
    int (*sip_branch_attrs)(sy_ctx *ctx, int64_t index, int32_t *q, sy_str *path);
    /* --- end of 1.9: MI answers given later, branch attributes --- */
    /* --- 1.10: events run on the raising thread --- (check header.abi_minor >= 10 before use) */
    /** Raises an event as rt_event_raise_wait does, with these differences. A queued event joins the
     *  calling thread's own lane, not the shared queue: timeout_ms waits for room in that lane only
     *  (event_queue_size events per thread), never behind another source; one worker at a time runs
     *  a lane's events, in the order they were raised. The lane is released when the thread ends,
     *  once its events ran. And when no script worker is busy and none is queued the
     *  event_route runs on the calling thread, with the thread's own script context (its own rank
     *  after the workers', child_init run for it once on this thread), before the call returns: a
     *  producer that would wake a sleeping worker runs the route itself (one thread wake-up less
     *  per event). Events keep the caller's order: one runs here only once every job queued before
     *  it has finished. flags: SY_EVENT_MORE_BEHIND when the caller already holds further events to
     *  raise (this one is then queued, so the workers share a burst). Slow routes (a database call)
     *  are queued: every run of an event_route is timed (here or on a worker), and one whose last
     *  run took 10 ms or more is queued until a run of it takes less; nothing runs here while a
     *  route started here has been running 10 ms or more, nor for 1 s after such a run ended. Only
     *  the first slow run of a route thus holds the caller's next events. Routes run here only on a
     *  thread whose stack is at least a worker's 8 MiB (else queued). The route may block (a
     *  command to a box): whatever it waits for must not need the calling thread, as for
     *  rt_event_raise_wait. Returns 0 queued, 1 nobody listens, 2 ran here,
     *  -1 timed out, stopped or rt NULL. (Any thread but a script worker's.) */
    int (*rt_event_raise_here)(sy_runtime *rt, const char *name, const sy_event_param *params, uint32_t nparams,
                               uint32_t timeout_ms, uint32_t flags);
    /* --- end of 1.10: events run on the raising thread --- */
    /* --- 1.10: local requests through local_route --- (check header.abi_minor >= 10 before use) */
    /** A new context of route kind route_kind (enum sy_route_kind; tm: SY_ROUTE_LOCAL) on a request
     *  the plugin built itself: buf, len bytes, copied and parsed. $ru is its request-URI, no $du,
     *  no source address ($si null), no AVPs or flags, no header edits. Its per-worker variables are
     *  parent's when parent is given (same thread), else fresh ones. Close it with sip_ctx_close on
     *  the same thread (save_to NULL). NULL if rt is NULL or stopped, route_kind is unknown, or the
     *  bytes are not a SIP request. (Any thread.) */
    sy_ctx *(*rt_sip_ctx_open_request)(sy_runtime *rt, const char *buf, size_t len, uint32_t route_kind,
                                       sy_ctx *parent);
    /** The context's request as the script left it, to be sent as is: its request line, its headers
     *  with the script's header edits (append_hf, remove_hf, ...), the body; no Via added or removed;
     *  Content-Length added when missing. $ru/$du changes are not applied. Bytes as
     *  sip_build_request. Returns 0, -1 no request on ctx. (The context's thread.) */
    int (*sip_build_edited)(sy_ctx *ctx, sy_str *out_bytes);
    /* --- end of 1.10: local requests through local_route --- */
    /* --- 1.11: header insertion --- (check header.abi_minor >= 11 before use) */
    /** Adds a whole header line ("Name: value", no CRLF) to what is sent on, next to the first
     *  header called anchor (case-insensitive, compact forms match) of the context's message:
     *  right after it (and after lines added after it before) if after != 0, right before it
     *  otherwise (OpenSIPS's append_hf(txt, hdr) and insert_hf(txt, hdr)). A header the script
     *  removed still anchors. Returns 0, -1 no header called anchor, -2 no SIP message, -3 refused
     *  (no "Name:", or a Via), -5 a reply built here (as sip_text_replace; since 1.16). (The
     *  context's thread.) */
    int (*sip_header_insert)(sy_ctx *ctx, sy_str line, sy_str anchor, int after);
    /** Keeps a whole header line ("Name: value", no CRLF) for every reply the core builds later for
     *  the context's request, in the order added, after the reply's own extra headers: sip_reply
     *  (sl_send_reply, send_reply) and sip_build_reply with the same ctx (tm's t_reply); not the
     *  replies a module builds on another context (tm's 408 on timeout). OpenSIPS's append_to_reply.
     *  Returns 0, -2 no SIP request, -3 refused (no "Name:", or a Via). (The context's thread.) */
    int (*sip_reply_header_add)(sy_ctx *ctx, sy_str line);
    /* --- end of 1.11: header insertion --- */
    /* --- 1.11: DNS failover --- (check header.abi_minor >= 11 and the table's size before use) */
    /** sip_build_request toward the next hop's addresses from number addr_index on: a host name's
     *  addresses (in failover order as rt_sip_resolve gives them: NAPTR, SRV targets, A records;
     *  A then AAAA up to 1.11) are tried in turn, skipping those the
     *  message's blacklists (use_blacklist, the learned "dns" list) block and those no socket can
     *  send to; an IP address is the only address, number 0. With disable_dns_failover = 1 only
     *  address 0 is tried. *out_index (if not NULL) gets the number of the address built for: pass
     *  it plus one to reach the next address after a send failed or the branch failed (a 503, a
     *  timeout with no reply). Returns as sip_build_request, plus -4 no address at or after
     *  addr_index, -5 every remaining address is blacklisted. *out_count (if not NULL) gets how
     *  many addresses the destination has (1 with disable_dns_failover = 1): a branch with no
     *  further address needs no state kept for a failover. An addr_index above 0 tells the core
     *  that address addr_index - 1 failed: with disable_dns_blacklist = 0 it goes into the core's
     *  "dns" blacklist for 240 s. A name is resolved once per message: the address list stays with
     *  the message state (and what sip_msg_save keeps of it), so numbers keep meaning the same
     *  addresses after sip_msg_restore, whatever the resolver answers later. (The context's thread.) */
    int (*sip_build_request_at)(sy_ctx *ctx, sy_str ruri, sy_str dst_uri, sy_str branch,
                                uint32_t addr_index, uint32_t *out_index, uint32_t *out_count,
                                sy_str *out_bytes, sy_sip_target *out_target);
    /** A send to target failed, or its destination answered 503 or never answered, and no failover
     *  followed: with disable_dns_blacklist = 0 the core puts target's address (with its socket's
     *  protocol) into its "dns" blacklist for 240 s. Returns 1 learned, 0 not (DNS blacklisting off),
     *  -1 bad arguments or a stopped core. Builds and resolves nothing, so any thread may call it
     *  (tm's timer thread, holding its own locks). */
    int (*rt_sip_learn_failed)(sy_runtime *rt, const sy_sip_target *target);
    /* --- end of 1.11: DNS failover --- */

    /* --- 1.12: SIP name resolution for modules --- */
    /** A SIP destination's addresses, in the order DNS failover tries them, as the core resolves a
     *  request's destination (RFC 3263 as OpenSIPS: an IP is itself; a name with a port gets its A
     *  records, AAAA only with dns_try_ipv6 when it has none; a name without a port is looked up
     *  NAPTR (no transport, dns_try_naptr), then SRV (_sip._udp, _sip._tcp, _sips._tcp), then A at
     *  the transport's default port). host: a name or an IP (IPv6 with or without brackets); port: 0
     *  when the URI gives none; proto: the URI's transport ("udp", "tcp", "tls", "sctp"), empty when
     *  it names none; is_sips: a sips URI. Fills up to max items of out and returns how many (0: the
     *  name does not resolve), -1 bad arguments. May query DNS and wait for it. Answers come from the
     *  SIP core's cache (kept for their TTL, at least 1 s and at most 30 s; a failed query 5 s), at
     *  module init too (the SIP core and its cache exist before the first module's init), so a
     *  per-message call waits only when a relay to that name would, and a module reloading its data
     *  sees a changed DNS record only once the cached answer expired. (Any thread.) */
    int (*rt_sip_resolve)(sy_runtime *rt, sy_str host, uint16_t port, sy_str proto, int is_sips,
                          struct sy_sip_resolved *out, uint32_t max);
    /* --- end of 1.12: SIP name resolution --- */

    /* --- 1.13: SIP name resolution, telling failures apart --- */
    /** rt_sip_resolve (same arguments, same answers, same cache), plus dns_failed: when not NULL,
     *  *dns_failed gets 1 when a DNS query made (or cached) for the destination failed (no answer in
     *  time, a server failure), 0 when every query was answered (an answer without records counts:
     *  NXDOMAIN, no such record). With 0 returned, 1 means "DNS did not answer" and 0 "the name does
     *  not exist". Addresses may come back with *dns_failed 1 (e.g. the NAPTR query failed, the SRV
     *  query answered). *dns_failed is 0 on -1 (bad arguments). (Any thread.) */
    int (*rt_sip_resolve_ex)(sy_runtime *rt, sy_str host, uint16_t port, sy_str proto, int is_sips,
                             struct sy_sip_resolved *out, uint32_t max, int *dns_failed);
    /* --- end of 1.13 --- */

    /* --- 1.14: "myself" and per-context module values --- (check header.abi_minor >= 14 before use) */
    /** 1 when host (a name or an IP, IPv6 with or without brackets) and port name one of the
     *  listening sockets (its address, advertised name or port) or an alias= entry, as the script's
     *  is_myself() and OpenSIPS's check_self; port 0 matches any port (a caller holding a URI port
     *  of 0 or out of 1..65535 has no port: it must not pass 0 for it). host and proto are borrowed
     *  for the call only (not NUL-terminated, not kept). proto is ignored (empty or NULL is fine;
     *  kept for check_self's signature). Returns 1 ours, 0 not ours, -1 bad arguments (NULL ctx,
     *  NULL or empty host). (The context's thread.) */
    int (*sip_is_myself)(sy_ctx *ctx, sy_str host, uint16_t port, sy_str proto);
    /** Keeps value under key for the context's current message. key and value are borrowed for the
     *  call and copied as raw bytes (any bytes, NUL and invalid UTF-8 included; get returns them
     *  unchanged). key must be non-empty; prefix it with the module name ("rr.done"). Setting a
     *  key again replaces its value; value.s NULL removes the key (0 also when there was none);
     *  value.s non-NULL with len 0 keeps an empty value. Lifetime: cleared when the context moves
     *  to its next message; never seen by the script (no AVP, no avp_print); not kept by
     *  sip_snapshot (a failure route's context starts without them, as a new processing context in
     *  OpenSIPS); not saved or restored by sip_msg_save / sip_msg_restore, so the branch routes of
     *  one request, run on one context, share them (rr's record_route() in a branch_route applies
     *  to the first branch only). Limits: none on size or count, but meant for a few small values
     *  per message (a list searched in order). Returns 0 stored (or removed), -1 bad arguments
     *  (NULL ctx, NULL or empty key). (The context's thread.) */
    int (*ctx_value_set)(sy_ctx *ctx, sy_str key, sy_str value);
    /** The value kept under key (borrowed for the call, non-empty, compared byte for byte) on the
     *  context into *out: the exact bytes given to ctx_value_set, followed by a NUL not counted in
     *  len; host memory, valid until the next host call on ctx (copy it to keep it). Returns 0
     *  found, -1 no such key (*out untouched), -2 bad arguments (NULL ctx or out, NULL or empty
     *  key). (The context's thread.) */
    int (*ctx_value_get)(sy_ctx *ctx, sy_str key, sy_str *out);
    /* --- end of 1.14 --- */

    /* --- 1.15: local replies through a script route --- (check header.abi_minor >= 15 before use) */
    /** A new context of route kind route_kind (enum sy_route_kind; tm: SY_ROUTE_REQUEST, for its
     *  local_reply_route) on a reply the plugin built itself: buf, len bytes, copied and parsed.
     *  $rs/$rr are its status and reason, $hdr(...) and the other message variables read its
     *  headers and body; no $ru or $du, no source address ($si null), no AVPs or flags. Header
     *  edits made on it stay in the context (nothing builds them back: what was built is what a
     *  plugin sends). Its per-worker variables are parent's when parent is given (same thread),
     *  else fresh ones. Close it with sip_ctx_close on the same thread (save_to NULL). NULL if rt
     *  is NULL or stopped, route_kind is unknown, or the bytes are not a SIP reply (a request
     *  included). (Any thread.) */
    sy_ctx *(*rt_sip_ctx_open_reply)(sy_runtime *rt, const char *buf, size_t len, uint32_t route_kind,
                                     sy_ctx *parent);
    /* --- end of 1.15 --- */

    /* --- 1.16: message text rewriting --- (check header.abi_minor >= 16 before use) */
    /** Replaces len bytes at offset of the context's received message (offsets into the message
     *  as received, the bytes $mb reads) with text (copied; may be empty, may hold line breaks) in
     *  what is sent on: forward(), tm's relay, a relayed reply. The range must lie within the
     *  header lines (after the first line, before the empty line ending them; a range over several
     *  header lines is fine), touch no Via line (the core owns Via) nor Content-Length line (the core
     *  writes the length of the body it sends, so a stream hop keeps its framing) and overlap no range replaced
     *  before on this message (edits never see each other: each names received bytes, as OpenSIPS's
     *  lumps). len 0 inserts text at offset. A header line the script removed (remove_hf) or whose
     *  value it set (sip_header_set) is sent as that says, its replaced bytes ignored. Kept with the
     *  header edits: sip_msg_save / sip_msg_restore save and roll them back alike. Returns 0,
     *  -1 range outside the header lines or overlapping an earlier one, -2 no SIP message, -3 the
     *  range touches a Via or Content-Length line, -5 the message is a reply built here (a context of
     *  rt_sip_ctx_open_reply, tm's local_reply_route: sent as built, so nothing is changed). (The
     *  context's thread.) */
    int (*sip_text_replace)(sy_ctx *ctx, uint32_t offset, uint32_t len, sy_str text);
    /** The body the context's message will be sent on with: the last sip_body_set's, else the
     *  received body (empty when none), into *out; host memory, valid until the next host call on
     *  ctx, not NUL-terminated. Returns 0, -2 no SIP message, -3 out NULL. (The context's thread.) */
    int (*sip_body_get)(sy_ctx *ctx, sy_str *out);
    /** Replaces the body sent on with body (copied as raw bytes; len 0 sends no body). The
     *  Content-Length sent is the new body's length: the received Content-Length line's value is
     *  replaced (the name kept as written), or, when the message had none, a Content-Length line
     *  is added last. Content-Type is not touched (set it with sip_header_set when the kind of
     *  body changes). Setting again replaces the earlier body. Saved and restored with the
     *  header edits. Returns 0, -2 no SIP message, -3 body.s NULL, -5 a reply built here (as
     *  sip_text_replace). (The context's thread.) */
    int (*sip_body_set)(sy_ctx *ctx, sy_str body);
    /** Replaces the status line of the reply the context routes (an onreply_route) in what is
     *  relayed: "SIP/2.0 <code> <reason>" (reason copied; line breaks become spaces). The core and
     *  tm keep deciding on the received code. Returns 0, -1 not a reply, -2 no SIP message, -3 code
     *  outside 100..699, -5 a reply built here (as sip_text_replace). (The context's thread.) */
    int (*sip_status_set)(sy_ctx *ctx, int code, sy_str reason);
    /* --- end of 1.16 --- */
} sy_host_api;

/** The plugin's entry function, exported as SY_ENTRY_SYMBOL. Called once, on the main thread,
 *  right after dlopen. Keep `host` (the SQLite-extension pattern: a plugin may store it in a
 *  static) and return the exports table; do nothing else here (call no host function), so
 *  the entry is one line:
 *    SY_PLUGIN_ENTRY(host) { g_host = host; return &exports; }
 *  The core checks the major itself: it reads the returned table's sy_table_header before
 *  anything else and refuses another major with "built for ABI 2.0, but this core speaks ABI
 *  1.6 (major version differs; rebuild the plugin)" (every future core keeps sy_table_header and
 *  this check). Checking host->header.abi_major in the entry is therefore not needed.
 *  The core (host->runtime, 1.8) is completely built before this function runs, and each core
 *  hands its own table: a plugin that keeps `host` with its state rather than in a static reaches
 *  the core it was loaded by, however many cores the process runs (tests do).
 *  Return NULL only to refuse for a reason of the plugin's own (the core then reports "the plugin
 *  refused to load"; log the reason with host->log first, after checking the major). */
typedef const sy_module_exports *(*sy_entry_fn)(const sy_host_api *host);

/** Declare the entry function in a plugin source file:
 *    SY_PLUGIN_ENTRY(host) { g_host = host; return &exports; } */
#if defined(__GNUC__) || defined(__clang__)
#define SY_EXPORT __attribute__((visibility("default")))
#else
#define SY_EXPORT
#endif
/** The entry function's prototype, with C linkage so C++ plugins export the unmangled name. */
SY_EXPORT const sy_module_exports *switchyard_plugin_entry(const sy_host_api *host);

#define SY_PLUGIN_ENTRY(host_param) \
    SY_EXPORT const sy_module_exports *switchyard_plugin_entry(const sy_host_api *host_param)

#ifdef __cplusplus
}
#endif

#endif /* SWITCHYARD_H */
