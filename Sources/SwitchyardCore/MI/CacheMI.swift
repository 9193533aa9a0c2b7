import SwitchyardABI
import SwitchyardMI

/// The core MI cache commands (any backend), as OpenSIPS 3.x has them:
/// cache_store system attr value [expire], cache_fetch system attr, cache_remove system attr.
extension MICore {
    func installCacheCommands(directory: CacheDirectory) {
        // OpenSIPS's replies: an empty id/attr/value or a negative expire is -32602 "Invalid params" (data says which);
        // a backend that fails (or is not loaded) is 500 "Cache <op> command failed"; a missing or empty value is
        // 400 "Value not found".
        @Sendable func invalid(_ what: String) -> MIError { MIError(code: -32602, message: "Invalid params", data: .string(what)) }
        @Sendable func nonEmpty(_ p: MIRequestParams, _ name: String, _ what: String) throws -> String {
            let v = try p.string(name)
            guard !v.isEmpty else { throw invalid(what) }
            return v
        }
        // The id is checked first, the backend looked up last (after attr and value), as OpenSIPS does.
        @Sendable func system(_ p: MIRequestParams) throws -> String { try nonEmpty(p, "system", "Empty memory cache id") }
        @Sendable func backend(_ system: String, _ op: String) throws -> CacheBackend {
            switch directory.backend(system) {
            case .success(let b): return b
            case .failure(let e): throw MIError(code: 500, message: "Cache \(op) command failed", data: .string(e.message))
            }
        }
        let commands: [(String, [[String]], MICommand.Handler)] = [
            ("cache_store", [["system", "attr", "value"], ["system", "attr", "value", "expire"]], { p in
                let expire = p.has("expire") ? try p.int("expire") : 0
                guard expire >= 0 else { throw invalid("Negative expire value") }
                let id = try system(p)
                let attr = try nonEmpty(p, "attr", "Empty attribute name"), value = try nonEmpty(p, "value", "Empty value")
                let b = try backend(id, "store")
                return b.store(attr, value, expire: expire) == 0 ? .ok : .error(code: 500, message: "Cache store command failed")
            }),
            ("cache_fetch", [["system", "attr"]], { p in
                let id = try system(p)
                let attr = try nonEmpty(p, "attr", "Empty attribute name")
                let b = try backend(id, "fetch")
                let (rc, v) = b.fetch(attr)
                if rc == Int32(SY_CACHEDB_ERROR.rawValue) { return .error(code: 500, message: "Cache fetch command failed") }
                guard rc == 0, let v, !v.isEmpty else { return .error(code: 400, message: "Value not found") }
                return .result(.object(JSONObject([("key", .string(attr)), ("value", .string(v))])))
            }),
            ("cache_remove", [["system", "attr"]], { p in
                let id = try system(p)
                let attr = try nonEmpty(p, "attr", "Empty attribute name")
                let b = try backend(id, "remove")
                return b.remove(attr) == 0 ? .ok : .error(code: 500, message: "Cache remove command failed")
            }),
        ]
        for (name, recipes, handler) in commands {
            // 4.0 spells them cache:store, cache:fetch, cache:remove.
            let alias = "cache:" + name.dropFirst("cache_".count)
            try? registry.register(module: "core", name: name, help: "\(name.replacingOccurrences(of: "_", with: " ")) through a cache backend",
                                   recipes: recipes, aliases: ["core:\(name)", alias], handler: handler)
        }
    }
}

import Foundation
