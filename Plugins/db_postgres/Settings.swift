// Settings: the modparams every connection of one driver instance reads: modparams write them before init, connect()
// reads them. The instance is the `module` of the driver's table (DB API 1.1), so module_connect finds it through
// the handle. The modparams every SQL driver has are SwitchyardSQL's (`shared`).
import SwitchyardPluginKit
import SwitchyardSQL
import Synchronization

final class PostgresSettings: Sendable {
    let connectTimeout = Atomic<Int32>(5)
    let statementTimeoutMs = Atomic<Int32>(10_000)
    let shared: SQLDriverShared

    init(host: PluginHost) { shared = SQLDriverShared(host: host) }
}
