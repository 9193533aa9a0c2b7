// The sy_cachedb_api table that cachedb_redis publishes, bound from the shared InProcessServer, with Swift wrappers.
import SwitchyardTestSupport
import Foundation
import SwitchyardABI
@testable import SwitchyardCore
import XCTest

extension InProcessServer {
    func cache(_ group: String?) throws -> CacheConn {
        let raw = try server.apiBind(name: "cachedb:redis", major: UInt32(SY_CACHEDB_MAJOR),
                                     minSize: UInt32(MemoryLayout<sy_cachedb_api>.stride)).get()
        let api = raw.assumingMemoryBound(to: sy_cachedb_api.self)
        var err = [CChar](repeating: 0, count: 256)
        let c = group.map { g in g.withCString { api.pointee.open!($0, &err, err.count) } } ?? api.pointee.open!(nil, &err, err.count)
        guard let c else {
            throw NSError(domain: String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), code: 1)
        }
        return CacheConn(api: api, c: c)
    }
}

/// One cachedb connection (a group's pool) with Swift wrappers over the table's functions.
struct CacheConn: @unchecked Sendable { // pointers to the plugin's static table and its connection, thread-safe
    let api: UnsafePointer<sy_cachedb_api>
    let c: OpaquePointer

    private func with<R>(_ s: String, _ body: (sy_str) -> R) -> R {
        var s = s
        return s.withUTF8 { b in body(sy_str(s: UnsafeRawPointer(b.baseAddress)?.assumingMemoryBound(to: CChar.self), len: b.count)) }
    }

    func store(_ k: String, _ v: String, expire: Int64 = 0) -> Int32 { with(k) { k in with(v) { v in api.pointee.store!(c, k, v, expire) } } }
    func insert(_ k: String, _ v: String, expire: Int64 = 0) -> Int32 { with(k) { k in with(v) { v in api.pointee.insert!(c, k, v, expire) } } }
    func remove(_ k: String) -> Int32 { with(k) { api.pointee.remove!(c, $0) } }

    final class Box { var values: [String?] = [] }

    func fetch(_ k: String) -> (Int32, String?) {
        let box = Box()
        let rc = with(k) { k in
            api.pointee.fetch!(c, k, { arg, v, n in
                let b = Unmanaged<Box>.fromOpaque(arg!).takeUnretainedValue()
                b.values.append(v.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: n), as: UTF8.self) } ?? "")
            }, Unmanaged.passUnretained(box).toOpaque())
        }
        return (rc, box.values.first ?? nil)
    }

    func add(_ k: String, _ d: Int64, expire: Int64 = 0) -> (Int32, Int64) {
        var n: Int64 = 0
        let rc = with(k) { api.pointee.add!(c, $0, d, expire, &n) }
        return (rc, n)
    }

    func counter(_ k: String) -> (Int32, Int64) {
        var n: Int64 = 0
        let rc = with(k) { api.pointee.counter_fetch!(c, $0, &n) }
        return (rc, n)
    }

    func raw(_ q: String) -> (Int32, [String?]) {
        let box = Box()
        let rc = with(q) { q in
            api.pointee.raw_query!(c, q, { arg, v, n in
                let b = Unmanaged<Box>.fromOpaque(arg!).takeUnretainedValue()
                b.values.append(v.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: n), as: UTF8.self) })
            }, Unmanaged.passUnretained(box).toOpaque())
        }
        return (rc, box.values)
    }
}
