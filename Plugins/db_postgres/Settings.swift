// Settings: the modparams every connection reads. connect() in the C table has no user pointer, so they live in one
// process-wide object (the plugin's own): modparams write it before init, connect() reads it.
import SwitchyardPluginKit
import SwitchyardSQL
import Synchronization

final class PostgresSettings: Sendable {
    let connectTimeout = Atomic<Int32>(5)
    let statementTimeoutMs = Atomic<Int32>(10_000)
    let maxQueries = Atomic<Int32>(2)
    let slowMicros = Atomic<Int64>(0)
    let host = Mutex<PluginHost?>(nil)

    /// Back to the defaults: the entry function runs again when another server in the process loads the plugin.
    func reset(host: PluginHost) {
        connectTimeout.store(5, ordering: .relaxed)
        statementTimeoutMs.store(10_000, ordering: .relaxed)
        maxQueries.store(2, ordering: .relaxed)
        slowMicros.store(0, ordering: .relaxed)
        self.host.withLock { $0 = host }
    }

    var driverSettings: SQLDriverSettings {
        SQLDriverSettings(maxAttempts: Int(maxQueries.load(ordering: .relaxed)),
                          slowQueryMicros: slowMicros.load(ordering: .relaxed)) { level, text in
            settings.log(level, text)
        }
    }

    func log(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard let h = host.withLock({ $0 }) else { return }
        h.log(level, message())
    }
}

let settings = PostgresSettings()
