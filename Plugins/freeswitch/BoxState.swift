// What a box knows about itself, shared between its I/O thread and the callers: identity, connection phase,
// subscriptions on the wire, commands in flight, HEARTBEAT figures. Kept behind `Box.state`.

struct BoxKey: Hashable, Sendable {
    let host: String
    let port: UInt16
}

extension Box {
    enum Phase: Sendable { case connecting, connected, down }

    struct Stats: Sendable {
        var valid = false
        var idleCPU = 0.0
        var sessions: Int64 = 0
        var maxSessions: Int64 = 0
        var sessionsPerSec: Int64 = 0
        var heartbeatMs: Int64 = 0
        var updatedWallMs: Int64 = 0
        var lastHeartbeatMono: Int64 = 0
    }

    struct State: @unchecked Sendable { // Pending/Subscription are thread-safe classes
        var user: String?
        var password: String
        var phase = Phase.connecting
        var nextAttempt: Int64 = 0
        var subs: [Subscription] = []
        var wire: [String: Int] = ["HEARTBEAT": 1] // the module always listens for HEARTBEAT (liveness, stats)
        /// Bytes not yet written to the socket, in the order of `inflight`. Appended under the lock; written only by
        /// the holder of `flushMutex` (see flush()), outside the lock, so the wire order is the append order.
        var outbuf: [UInt8] = []
        /// The connected socket (-1 otherwise), read by flush() under the lock.
        var fd: Int32 = -1
        var inflight: [Pending] = []
        var unsent: [Pending] = []
        var stats = Stats()
        var stop = false
    }
}
