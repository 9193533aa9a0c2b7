import SwitchyardABI
import SwitchyardMI

/// The core MI cache commands (any backend), as OpenSIPS 3.x has them:
/// cache_store system attr value [expire], cache_fetch system attr, cache_remove system attr.
extension MICore {
    func installCacheCommands(directory: CacheDirectory) {
        @Sendable func backend(_ p: MIRequestParams) throws -> CacheBackend {
            switch directory.backend(try p.string("system")) {
            case .success(let b): return b
            case .failure(let e): throw MIError(code: 400, message: e.message)
            }
        }
        let commands: [(String, [[String]], MICommand.Handler)] = [
            ("cache_store", [["system", "attr", "value"], ["system", "attr", "value", "expire"]], { p in
                let b = try backend(p)
                let attr = try p.string("attr"), value = try p.string("value")
                let expire = p.has("expire") ? try p.int("expire") : 0
                guard !attr.isEmpty, !value.isEmpty else { throw MIError(code: 400, message: "Empty attr or value") }
                guard expire >= 0 else { throw MIError(code: 400, message: "Bad expire value") }
                return b.store(attr, value, expire: expire) == 0 ? .ok : .error(code: 500, message: "Failed to store")
            }),
            ("cache_fetch", [["system", "attr"]], { p in
                let b = try backend(p)
                let attr = try p.string("attr")
                let (rc, v) = b.fetch(attr)
                guard rc == 0, let v else { return .error(code: 400, message: "Value not found") }
                return .result(.object(JSONObject([("key", .string(attr)), ("value", .string(v))])))
            }),
            ("cache_remove", [["system", "attr"]], { p in
                let b = try backend(p)
                return b.remove(try p.string("attr")) == 0 ? .ok : .error(code: 500, message: "Failed to remove")
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
