// tm's module parameters (OpenSIPS 3.x names and defaults) and the clock the timers use.
#if canImport(Glibc)
import Glibc
#endif

/// Values set by modparam before init; read-only once the server serves.
struct TMConfig: Sendable {
    var frTimeout = 30          // s
    var frInvTimeout = 120      // s
    var wtTimer = 5             // s
    var deleteTimer = 2         // s (accepted; cells are freed by reference counting)
    var t1 = 500                // ms
    var t2 = 4000               // ms
    var ruriMatching = true
    var via1Matching = true
    var restartFrOnEachReply = true
    var passProvisionalReplies = false
    var onreplyAvpMode = 0
    var disable6xxBlock = false
    var enableStats = true
    var auto100Trying = true
    /// local_request_route: a route[name] run (read-only) on every request tm generates, after local_route.
    var localRequestRoute = ""
    /// local_reply_route: a route[name] run (read-only) on every reply tm generates itself (LocalReplyRoute.swift).
    var localReplyRoute = ""
    /// tw_append, unix_tx_timeout and the variables t_write_* read (TWrite.swift).
    var twrite = TWriteSettings()

    /// Checks OpenSIPS makes in mod_init.
    func check() -> String? {
        if frTimeout < 2 { return "fr_timeout must be at least 2 seconds" }
        if frInvTimeout < 2 { return "fr_inv_timeout must be at least 2 seconds" }
        if wtTimer < 2 { return "wt_timer must be at least 2 seconds" }
        if deleteTimer < 2 { return "delete_timer must be at least 2 seconds" }
        if t1 <= 0 || t2 <= t1 { return "T2_timer must be greater than T1_timer" }
        return nil
    }
}

/// Milliseconds of a monotonic clock.
@inline(__always) func nowMS() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
