// Settings: the modparams every connection reads. connect() in the C table has no user pointer, so they live in one
// process-wide object (the plugin's own): modparams write it before init, connect() reads it.
import SwitchyardPluginKit
import SwitchyardSQL
import Synchronization

final class MySQLSettings: Sendable {
    let timeoutSeconds = Atomic<Int32>(2)
    let maxQueries = Atomic<Int32>(2)
    let maxRetries = Atomic<Int32>(3)
    let slowMicros = Atomic<Int64>(0)
    let host = Mutex<PluginHost?>(nil)

    /// Back to the defaults: the entry function runs again when another server in the process loads the plugin.
    func reset(host: PluginHost) {
        timeoutSeconds.store(2, ordering: .relaxed)
        maxQueries.store(2, ordering: .relaxed)
        maxRetries.store(3, ordering: .relaxed)
        slowMicros.store(0, ordering: .relaxed)
        self.host.withLock { $0 = host }
    }

    /// Attempts of one call: max_db_queries, or 1 when max_db_retries is 0 (never reconnect).
    var attempts: Int {
        maxRetries.load(ordering: .relaxed) == 0 ? 1 : Int(maxQueries.load(ordering: .relaxed))
    }

    /// max_db_retries: reconnect attempts after a call found its connection lost, before its next attempt.
    var driverSettings: SQLDriverSettings {
        var s = SQLDriverSettings(maxAttempts: attempts, slowQueryMicros: slowMicros.load(ordering: .relaxed),
                                  log: { level, text in settings.log(level, text) },
                                  onStatus: { url, isUp in settings.raiseConnectionEvent(url, isUp) })
        s.reconnects = max(1, Int(maxRetries.load(ordering: .relaxed)))
        return s
    }

    /// E_MYSQL_CONNECTION(url, status): the URL with its password masked, "connected" or "disconnected".
    func raiseConnectionEvent(_ url: SQLURL, _ isUp: Bool) {
        guard let h = host.withLock({ $0 }) else { return }
        h.raiseEvent(MySQLModule.connectionEvent, [("url", .string(url.masked)),
                                                   ("status", .string(isUp ? "connected" : "disconnected"))])
    }

    func log(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard let h = host.withLock({ $0 }) else { return }
        h.log(level, message())
    }
}

let settings = MySQLSettings()
