// Settings: the modparams every connection of one driver instance reads: modparams write them before init, connect()
// reads them. The instance is the `module` of the driver's table (DB API 1.1), so module_connect finds it through
// the handle. The modparams every SQL driver has are SwitchyardSQL's (`shared`).
import SwitchyardPluginKit
import SwitchyardSQL
import Synchronization

final class MySQLSettings: Sendable {
    let timeoutSeconds = Atomic<Int32>(2)
    let maxRetries = Atomic<Int32>(3)
    let shared: SQLDriverShared

    init(host: PluginHost) { shared = SQLDriverShared(host: host) }

    /// Attempts of one call: max_db_queries, or 1 when max_db_retries is 0 (never reconnect).
    var attempts: Int {
        maxRetries.load(ordering: .relaxed) == 0 ? 1 : Int(shared.maxQueries.load(ordering: .relaxed))
    }

    /// max_db_retries: reconnect attempts after a call found its connection lost, before its next attempt.
    var driverSettings: SQLDriverSettings {
        var s = shared.driverSettings(maxAttempts: attempts)
        s.reconnects = max(1, Int(maxRetries.load(ordering: .relaxed)))
        s.onStatus = { [self] url, isUp in raiseConnectionEvent(url, isUp) }
        return s
    }

    /// E_MYSQL_CONNECTION(url, status): the URL with its password masked, "connected" or "disconnected".
    func raiseConnectionEvent(_ url: SQLURL, _ isUp: Bool) {
        shared.raiseEvent(MySQLModule.connectionEvent, [("url", .string(url.masked)),
                                                        ("status", .string(isUp ? "connected" : "disconnected"))])
    }
}
