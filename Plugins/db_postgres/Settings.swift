// Settings: the modparams every connection reads. connect() in the C table has no user pointer, so they live in one
// process-wide object (the plugin's own): modparams write it before init, connect() reads it. The modparams every
// SQL driver has are SwitchyardSQL's (`shared`).
import SwitchyardPluginKit
import SwitchyardSQL
import Synchronization

final class PostgresSettings: Sendable {
    let connectTimeout = Atomic<Int32>(5)
    let statementTimeoutMs = Atomic<Int32>(10_000)
    let shared = SQLDriverShared()

    /// Back to the defaults: the entry function runs again when another server in the process loads the plugin.
    func reset(host: PluginHost) {
        connectTimeout.store(5, ordering: .relaxed)
        statementTimeoutMs.store(10_000, ordering: .relaxed)
        shared.reset(host: host)
    }
}

let settings = PostgresSettings()
