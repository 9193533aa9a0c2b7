// Settings: the modparams every connection reads. connect() in the C table has no user pointer, so they live in one
// process-wide object (the plugin's own): modparams write it before init, connect() reads it. The modparams every
// SQL driver has are SwitchyardSQL's (`shared`).
import SwitchyardPluginKit
import SwitchyardSQL
import Synchronization

final class MySQLSettings: Sendable {
    let timeoutSeconds = Atomic<Int32>(2)
    let maxRetries = Atomic<Int32>(3)
    let shared = SQLDriverShared()

    /// Back to the defaults: the entry function runs again when another server in the process loads the plugin.
    func reset(host: PluginHost) {
        timeoutSeconds.store(2, ordering: .relaxed)
        maxRetries.store(3, ordering: .relaxed)
        shared.reset(host: host)
    }

    /// Attempts of one call: max_db_queries, or 1 when max_db_retries is 0 (never reconnect).
    var attempts: Int {
        maxRetries.load(ordering: .relaxed) == 0 ? 1 : Int(shared.maxQueries.load(ordering: .relaxed))
    }

    /// max_db_retries: reconnect attempts after a call found its connection lost, before its next attempt.
    var driverSettings: SQLDriverSettings {
        var s = shared.driverSettings(maxAttempts: attempts)
        s.reconnects = max(1, Int(maxRetries.load(ordering: .relaxed)))
        s.onStatus = { url, isUp in settings.raiseConnectionEvent(url, isUp) }
        return s
    }

    /// E_MYSQL_CONNECTION(url, status): the URL with its password masked, "connected" or "disconnected".
    func raiseConnectionEvent(_ url: SQLURL, _ isUp: Bool) {
        shared.raiseEvent(MySQLModule.connectionEvent, [("url", .string(url.masked)),
                                                        ("status", .string(isUp ? "connected" : "disconnected"))])
    }
}

let settings = MySQLSettings()
