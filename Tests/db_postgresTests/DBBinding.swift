// The sy_db_api table the driver publishes, bound from the shared InProcessServer as a module binds it.
import SwitchyardTestSupport
import SwitchyardABI
@testable import SwitchyardCore

extension InProcessServer {
    func db(_ scheme: String) throws -> DBAPI {
        let raw = try server.apiBind(name: "db:\(scheme)", major: UInt32(SY_DB_MAJOR),
                                     minSize: UInt32(MemoryLayout<sy_db_api>.stride)).get()
        return DBAPI(api: raw.assumingMemoryBound(to: sy_db_api.self))
    }
}
