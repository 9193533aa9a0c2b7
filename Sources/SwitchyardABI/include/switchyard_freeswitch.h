/*
 * switchyard_freeswitch.h — the FreeSWITCH Event Socket (ESL) connection API of the `freeswitch` module.
 *
 * The `freeswitch` module owns every ESL connection of the server and publishes one table of this
 * type with host->api_publish under the name "freeswitch". Consumers (freeswitch_scripting; later
 * dispatcher / load_balancer for FreeSWITCH-fed weights) declare a hard dependency on the module and
 * bind it from init() with
 *     host->api_bind("freeswitch", SY_FS_MAJOR, <size they need>, err, errlen).
 * It is OpenSIPS's `struct fs_binds` (get_evs_by_url, put_evs, evs_sub, evs_unsub, fs_esl, stats)
 * in C-ABI form.
 *
 * The table follows the ABI rules of switchyard.h: it starts with a sy_table_header (major
 * SY_FS_MAJOR, minor SY_FS_MINOR, struct_size) and only grows at the end.
 *
 * Model:
 *   - A *box* is one FreeSWITCH, identified by (host string as written, port): one TCP connection per
 *     box, shared by every consumer and reference-counted (get_box / put_box). The module connects
 *     in the background, per box (one dead box never delays another), re-authenticates and
 *     re-subscribes every event after each reconnect, with backoff between failed attempts.
 *   - URLs: [fs://][[user]:password@]host[:port][/...][?EV1,EV2...]; port absent or 0 = 8021. The
 *     `?events` part is ignored by this API. A password is needed only to create a box; a URL that
 *     names a known box without credentials (or a bare host, e.g. an event's sender) reuses it.
 *     With a user the module authenticates with `userauth user:password` (FreeSWITCH wants
 *     user@domain: a URL cannot express it, a DB row can), else with `auth password`.
 *   - The password never appears in any log line; boxes are shown as host:port.
 *   - Every function may be called from any thread at once (script workers, MI, timers), except
 *     where noted. Strings passed in are copied; strings passed out are valid during the callback
 *     only (copy them).
 *
 * Version history:
 *   1.0  initial table.
 *   1.1  appended watch / unwatch (told when a box comes, goes and sends a HEARTBEAT, with its figures) and
 *        stats_interval_ms (the period at which consumers should refresh what they derive from the figures:
 *        the module's event_heartbeat_interval). Consumers built for 1.0 keep binding (they ask for less).
 *   1.2  the table carries its module: appended `module` (the freeswitch instance that published this
 *        table) and module_get_box, module_stats_interval_ms, the two entries that had no handle
 *        argument, taking it (every other entry takes a box, which knows its module). A consumer calls
 *        api->module_get_box(api->module, ...); the 1.0/1.1 forms keep working for older consumers
 *        (they reach the instance of the most recent start-up).
 *   1.3  events as values (ABI 1.9 trees): appended subscribe_value, whose callback (sy_fs_event_value_fn)
 *        gets the event as a const sy_value *: the JSON text FreeSWITCH sent (SY_VAL_STR) for a
 *        text/event-json event, the decoded headers (SY_VAL_OBJECT) for a text/event-plain one, so a
 *        plain event is never written as JSON for a consumer to parse again. subscribe's callback keeps
 *        getting JSON text (a plain event's is written once per event, only when such a subscriber
 *        wants it).
 *   1.4  appended box_backlog: a subscriber's callback asks whether more of the box's stream is already
 *        waiting, to run its work on the I/O thread only when nothing is (freeswitch_scripting with the
 *        core's rt_event_raise_here, ABI 1.10).
 *   1.5  appended box_burst: whether the box is in a burst (more of its stream waited behind the event
 *        delivered before this one, and waits behind this one), a state the box's reader keeps for its
 *        subscribers so none keeps a per-box table of its own.
 */
#ifndef SWITCHYARD_FREESWITCH_H
#define SWITCHYARD_FREESWITCH_H

#include "switchyard.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SY_FS_MAJOR 1
#define SY_FS_MINOR 5

/** Name the table is published under. */
#define SY_FS_API_NAME "freeswitch"

/** Opaque: one FreeSWITCH box (connection). Owned by the module; valid while the caller holds a
 *  reference taken with get_box (until its put_box). */
typedef struct sy_fs_box sy_fs_box;
/** Opaque: the freeswitch instance that published a table (1.2). Valid as long as the table is. */
typedef struct sy_fs_module sy_fs_module;
/** Opaque: one event subscription. Valid until unsubscribe. */
typedef struct sy_fs_sub sy_fs_sub;

/** Result codes of commands. */
enum sy_fs_status {
    SY_FS_OK = 1,           /**< Reply received; not an error. */
    SY_FS_ERR = -1,         /**< Reply received and it is `-ERR ...` (Reply-Text, or the api body). */
    SY_FS_UNREACHABLE = -2  /**< Not connected (and could not connect in time), connection lost
                                 before the reply, or no reply within the command timeout. */
};

/** Kinds of replies. */
enum sy_fs_reply_kind {
    SY_FS_REPLY_NONE = 0,    /**< No reply (status SY_FS_UNREACHABLE). */
    SY_FS_REPLY_COMMAND = 1, /**< command/reply (everything but `api`): text = Reply-Text. */
    SY_FS_REPLY_API = 2      /**< api/response (`api ...`): text = the response body. */
};

/** A command's outcome. Strings valid during the callback only. */
typedef struct sy_fs_reply {
    int32_t status;   /**< enum sy_fs_status. */
    int32_t kind;     /**< enum sy_fs_reply_kind. */
    sy_str text;      /**< Reply-Text for command/reply; the body for api/response; empty otherwise. */
    sy_str job_uuid;  /**< bgapi: the Job-UUID the reply carries; empty otherwise. */
} sy_fs_reply;

/** Receives a command's outcome (exactly once per command). */
typedef void (*sy_fs_reply_fn)(void *arg, const sy_fs_reply *reply);

/** Receives one event of a subscription: `host` is the box's host string as written in its URL
 *  (no port; e.g. "127.0.0.1"), `name` the Event-Name (CUSTOM events: "CUSTOM"), `subclass` the
 *  Event-Subclass (empty unless CUSTOM), `body` the JSON text exactly as FreeSWITCH sent it: bytes as
 *  sent (possibly not UTF-8), body.len of them, with a NUL at body.s[body.len] (none inside is guaranteed).
 *  Called on the box's I/O thread, one event at a time per box, in arrival order. It may block (e.g.
 *  host->event_raise_wait on a full queue): the box then stops reading (TCP pushes back on FreeSWITCH),
 *  nothing is dropped. A caller waiting for a command reply meanwhile reads the socket itself, keeping
 *  the events it reads past (at most about 1024 per box) for this thread, so a callback may run a command
 *  of the same box and wait for its reply; a reply further behind than that waits for the box to read on
 *  (bounded by the command's timeout). It must not wait for a later *event* of the same box (delivered on
 *  this same thread).
 *  It may call unsubscribe (no wait when called from inside a callback).
 *  A consumer subscribed several times (same cb and user) to names matching one event gets it once. */
typedef void (*sy_fs_event_fn)(void *user, sy_fs_box *box, sy_str host, sy_str name, sy_str subclass,
                               sy_str body);

/** Receives one event of a subscription made with subscribe_value (1.3). As sy_fs_event_fn, except that
 *  the event is a value, valid during the call only (copy what you keep; event_raise copies a tree):
 *    - SY_VAL_STR: the JSON text exactly as FreeSWITCH sent it (text/event-json): bytes as sent (possibly
 *      not UTF-8), with a NUL at s.s[s.len];
 *    - SY_VAL_OBJECT: an event FreeSWITCH sent as text/event-plain, decoded: one SY_VAL_STR member per
 *      header, in order, named and valued as sent (URL-decoded); a header whose value is FreeSWITCH's
 *      "ARRAY::a|:b" form is an SY_VAL_ARRAY of strings; an event with a body ends with the members
 *      "Content-Length" (its length in bytes, as a string) and "_body". Its JSON text (ABI 1.9 rules,
 *      compact) is what subscribe's callback gets for the same event. */
typedef void (*sy_fs_event_value_fn)(void *user, sy_fs_box *box, sy_str host, sy_str name, sy_str subclass,
                                     const sy_value *event);

/** HEARTBEAT statistics of a box. */
typedef struct sy_fs_stats {
    int32_t valid;          /**< 1 after a HEARTBEAT on the current connection; 0 before the first
                                 one and again as soon as the connection is lost. */
    int32_t connected;      /**< 1 while authenticated and usable. */
    double idle_cpu;        /**< Idle-CPU (percent idle). */
    int64_t sessions;       /**< Session-Count. */
    int64_t max_sessions;   /**< Max-Sessions. */
    int64_t sessions_per_sec; /**< Session-Per-Sec (remaining budget of the current second). */
    int64_t heartbeat_ms;   /**< HEARTBEAT period the box has shown (0 = not known yet). */
    int64_t updated_ms;     /**< Wall-clock time of the last HEARTBEAT, ms since the epoch (0 = none). */
} sy_fs_stats;

/** What a watch callback is told (1.1). */
enum sy_fs_watch_kind {
    SY_FS_WATCH_UP = 1,        /**< Connected and authenticated (stats->connected == 1, stats->valid == 0). */
    SY_FS_WATCH_HEARTBEAT = 2, /**< A HEARTBEAT updated the figures (stats->valid == 1). */
    SY_FS_WATCH_DOWN = 3       /**< Connection lost or refused (stats->connected == 0, stats->valid == 0). */
};

/** Opaque: one watch (1.1). Valid until unwatch. */
typedef struct sy_fs_watch sy_fs_watch;

/** Receives a box's comings, goings and heartbeats (1.1). stats is valid during the call only. */
typedef void (*sy_fs_watch_fn)(void *user, sy_fs_box *box, int32_t kind, const sy_fs_stats *stats);

typedef struct sy_freeswitch_api {
    sy_table_header header; /**< SY_FS_HEADER. */

    /** Finds or creates the box of `url` and takes a reference (ref++). A new box starts connecting
     *  at once, in the background. NULL (with a one-line reason in err, never containing the password)
     *  if the URL is malformed, or names no known box and has no password. */
    sy_fs_box *(*get_box)(const char *url, size_t url_len, char *err, size_t errlen);
    /** Drops a reference. A box nobody references, with no subscription, is closed (at once if no
     *  command was ever run on it, else after being idle for a while). */
    void (*put_box)(sy_fs_box *box);
    /** The box's identity: host as written and port. host->s valid while the reference is held. */
    void (*box_id)(sy_fs_box *box, sy_str *host, uint16_t *port);

    /** Subscribes to events (names such as "DTMF", "CHANNEL_ANSWER", "ALL", or "CUSTOM <subclass>";
     *  names match case-insensitively, subclasses exactly). The box sends `event json <NAME>` when a
     *  name gains its first subscriber, and again after every reconnect. CUSTOM events are matched by
     *  Event-Subclass; ALL receives everything. NULL on bad arguments. Does not take a box reference:
     *  hold one until unsubscribe. */
    sy_fs_sub *(*subscribe)(sy_fs_box *box, const sy_str *events, uint32_t nevents,
                            sy_fs_event_fn cb, void *user);
    /** Ends a subscription (`nixevent` once a name has no subscriber left). When it returns, cb is not
     *  running and will not be called again for it — so never call it from inside that cb. */
    void (*unsubscribe)(sy_fs_sub *sub);

    /** Runs one ESL command (e.g. "api status", "bgapi originate ..."; extra header lines allowed after
     *  the first line, as "bgapi x\nJob-UUID: y") and blocks until its reply or `timeout_ms`
     *  (0 = the module's esl_cmd_timeout). If the box is not connected yet (first use), it first waits
     *  up to esl_connect_timeout for the connection; a box known to be down fails at once. Commands
     *  from many threads are pipelined on the one connection, replies matched in order. done(arg, r) is
     *  called once, on the calling thread, before it returns. Returns the status. */
    int (*command)(sy_fs_box *box, const char *cmd, size_t cmd_len, uint32_t timeout_ms,
                   sy_fs_reply_fn done, void *arg);
    /** Same, without blocking: done(arg, r) is called later on the box's I/O thread (or at once, on
     *  the calling thread, for a box known to be down or a bad command). Returns 0 if queued, or the
     *  status already delivered. */
    int (*command_async)(sy_fs_box *box, const char *cmd, size_t cmd_len, uint32_t timeout_ms,
                         sy_fs_reply_fn done, void *arg);

    /** Copies the box's HEARTBEAT statistics (no subscription needed: the module always listens for
     *  HEARTBEAT itself, for liveness). Returns out->valid. */
    int (*stats)(sy_fs_box *box, sy_fs_stats *out);

    /* --- 1.1 --- (bind with min_size >= offsetof(sy_freeswitch_api, stats_interval_ms) + its size) */
    /** Starts watching a box: cb(user, box, kind, stats) is called with SY_FS_WATCH_UP when the box is connected and
     *  authenticated, SY_FS_WATCH_HEARTBEAT after each HEARTBEAT has updated its figures, SY_FS_WATCH_DOWN when the
     *  connection is lost (or could not be made); `stats` is a copy of the box's figures at that moment (valid during
     *  the call only). If the box is already connected, one SY_FS_WATCH_UP call is made from inside watch() before it
     *  returns. Called on the box's I/O thread: cb must be short and must not block, run a command, or call
     *  watch/unwatch/put_box. Does not take a box reference: hold one until unwatch. NULL on bad arguments. */
    sy_fs_watch *(*watch)(sy_fs_box *box, sy_fs_watch_fn cb, void *user);
    /** Ends a watch. When it returns, cb is not running for it and will not be called again (so never call it from
     *  inside that cb). NULL is ignored. */
    void (*unwatch)(sy_fs_watch *watch);
    /** The period (ms) at which a consumer should recompute what it derives from the figures (OpenSIPS's
     *  stats_update_interval: the module's event_heartbeat_interval, default 1000). */
    uint32_t (*stats_interval_ms)(void);

    /* --- 1.2 --- (bind with min_size >= offsetof(sy_freeswitch_api, module_stats_interval_ms) + its size) */
    /** The freeswitch instance this table belongs to: pass it to the module_* entries below. */
    sy_fs_module *module;
    /** get_box on the instance `m`. */
    sy_fs_box *(*module_get_box)(sy_fs_module *m, const char *url, size_t url_len, char *err, size_t errlen);
    /** stats_interval_ms of the instance `m`. */
    uint32_t (*module_stats_interval_ms)(sy_fs_module *m);

    /* --- 1.3 --- (bind with min_size >= offsetof(sy_freeswitch_api, subscribe_value) + its size) */
    /** subscribe, the events handed over as values (sy_fs_event_value_fn). A subscription made with either
     *  entry is ended with unsubscribe. A consumer subscribed with the same cb and user through both entries
     *  gets each event once per entry. */
    sy_fs_sub *(*subscribe_value)(sy_fs_box *box, const sy_str *events, uint32_t nevents,
                                  sy_fs_event_value_fn cb, void *user);

    /* --- 1.4 --- (bind with min_size >= offsetof(sy_freeswitch_api, box_backlog) + its size) */
    /** Nonzero when more of the box's stream waits behind the event being delivered: frames read and not yet
     *  handed over (events, command_async outcomes, heartbeats), bytes read and not yet parsed, or probably
     *  unread bytes in the socket (the last read filled the buffer); also when that cannot be known without
     *  waiting. 0 otherwise. Meant for a subscriber's callback (the box's I/O thread): work for this event may
     *  then run on that thread without holding up another. Does not wait. NULL box: 0. */
    uint32_t (*box_backlog)(sy_fs_box *box);

    /* --- 1.5 --- (bind with min_size >= offsetof(sy_freeswitch_api, box_burst) + its size) */
    /** Nonzero when more of the box's stream waits behind the event being delivered (box_backlog) and also
     *  waited behind the event the box delivered before it: a lasting backlog, not two events that merely
     *  arrived together. The box's I/O thread decides it once per event, before the subscribers' callbacks
     *  run; a new connection starts with no burst. Meant for a subscriber's callback; from another thread it
     *  answers for the event delivered last. Does not wait. NULL box: 0. */
    uint32_t (*box_burst)(sy_fs_box *box);
} sy_freeswitch_api;

/** Initialiser for the table's header. */
#define SY_FS_HEADER { SY_FS_MAJOR, SY_FS_MINOR, (uint32_t)sizeof(sy_freeswitch_api), 0 }

#ifdef __cplusplus
}
#endif

#endif /* SWITCHYARD_FREESWITCH_H */
