// When a box's I/O thread tries again after a failure, and which failures it logs.

/// The reconnect schedule of one box (its I/O thread only). Every failure backs off, a failure right after a
/// successful authentication included: a box that accepts the password and then sends a bad frame would otherwise be
/// reconnected (and resubscribed) in a tight loop. Only a connection that stayed up for `healthyMs` resets it.
struct ReconnectPolicy {
    static let backoffMs: [Int64] = [500, 1000, 2000, 5000, 10_000, 30_000]
    /// A connection that lasted this long was healthy: its loss is retried at once and the backoff starts over.
    static let healthyMs: Int64 = 10_000
    /// Longest failure text logged (a reason may quote what the peer sent).
    static let maxCauseLength = 200

    /// Failures since the last healthy connection.
    private(set) var failures = 0
    private var step = 0
    private var lastCause: String? = nil

    struct Decision: Equatable {
        /// Milliseconds before the next attempt.
        let delayMs: Int64
        /// Log this failure: its cause is new (differs from the previous failure's), or every 20th repeat.
        let log: Bool
        /// The failure's number since the last healthy connection (0 after a healthy one).
        let attempt: Int
    }

    /// A connection attempt failed (`connectedForMs` nil) or a connection ended after `connectedForMs`.
    mutating func failed(cause: String, connectedForMs: Int64?) -> Decision {
        if let lived = connectedForMs, lived >= Self.healthyMs {
            step = 0
            failures = 0
            lastCause = nil
            return Decision(delayMs: 0, log: true, attempt: 0)
        }
        let delay = Self.backoffMs[min(step, Self.backoffMs.count - 1)]
        step += 1
        failures += 1
        let isNew = cause != lastCause
        lastCause = cause
        return Decision(delayMs: delay, log: isNew || failures % 20 == 0, attempt: failures)
    }

    /// `text` made safe to log: control characters escaped, at most `maxCauseLength` characters.
    static func loggable(_ text: String) -> String {
        var out = ""
        for u in text.unicodeScalars {
            if out.unicodeScalars.count >= maxCauseLength { out += "..."; break }
            if u.value < 0x20 || u.value == 0x7F { out += "\\x" + String(u.value, radix: 16) } else { out.unicodeScalars.append(u) }
        }
        return out
    }
}
