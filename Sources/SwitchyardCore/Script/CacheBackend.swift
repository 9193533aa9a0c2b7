import SwitchyardABI
import Synchronization

/// A bound cache id ("local", "local:grp"): the backend's published cachedb API and its
/// connection for the group. Calls cross the C boundary with byte strings.
public final class CacheBackend: @unchecked Sendable {
    // Pointers to the backend plugin's static table and its connection: valid while it is loaded.
    let api: UnsafePointer<sy_cachedb_api>
    let conn: OpaquePointer
    public let id: String

    init(id: String, api: UnsafePointer<sy_cachedb_api>, conn: OpaquePointer) {
        self.id = id
        self.api = api
        self.conn = conn
    }

    /// Calls body with two sy_str views valid during the call.
    @inline(__always)
    static func with<R>(_ a: String, _ b: String, _ body: (sy_str, sy_str) -> R) -> R {
        var a = a, b = b
        return a.withUTF8 { pa in
            b.withUTF8 { pb in
                body(sy_str(s: UnsafeRawPointer(pa.baseAddress)?.assumingMemoryBound(to: CChar.self), len: pa.count),
                     sy_str(s: UnsafeRawPointer(pb.baseAddress)?.assumingMemoryBound(to: CChar.self), len: pb.count))
            }
        }
    }

    public func store(_ key: String, _ value: String, expire: Int) -> Int32 {
        guard let f = api.pointee.store else { return -1 }
        return CacheBackend.with(key, value) { f(conn, $0, $1, Int64(expire)) }
    }

    public func insert(_ key: String, _ value: String, expire: Int) -> Int32 {
        guard let f = api.pointee.insert else { return -1 }
        return CacheBackend.with(key, value) { f(conn, $0, $1, Int64(expire)) }
    }

    public func remove(_ key: String) -> Int32 {
        guard let f = api.pointee.remove else { return -1 }
        return CacheBackend.with(key, "") { k, _ in f(conn, k) }
    }

    public func add(_ key: String, _ delta: Int, expire: Int) -> (Int32, Int) {
        guard let f = api.pointee.add else { return (-1, 0) }
        var out: Int64 = 0
        let rc = CacheBackend.with(key, "") { k, _ in f(conn, k, Int64(delta), Int64(expire), &out) }
        return (rc, Int(out))
    }

    public func counterFetch(_ key: String) -> (Int32, Int) {
        guard let f = api.pointee.counter_fetch else { return (-1, 0) }
        var out: Int64 = 0
        let rc = CacheBackend.with(key, "") { k, _ in f(conn, k, &out) }
        return (rc, Int(out))
    }

    /// The value as a string (fetched values are always strings, even numeric ones), or the code.
    public func fetch(_ key: String) -> (Int32, String?) {
        guard let f = api.pointee.fetch else { return (-1, nil) }
        let box = FetchBox()
        let rc = CacheBackend.with(key, "") { k, _ in
            f(conn, k, { arg, value, len in
                guard let arg else { return }
                let box = Unmanaged<FetchBox>.fromOpaque(arg).takeUnretainedValue()
                box.value = value.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: len), as: UTF8.self) } ?? ""
            }, Unmanaged.passUnretained(box).toOpaque())
        }
        return (rc, rc == 0 ? (box.value ?? "") : nil)
    }

    final class FetchBox { var value: String? }

    /// The backend table has raw_query (cachedb API 1.1) and sets it.
    var hasRawQuery: Bool {
        api.pointee.header.struct_size >= UInt32(MemoryLayout<sy_cachedb_api>.offset(of: \.raw_query)! + MemoryLayout<UnsafeRawPointer>.size)
            && api.pointee.raw_query != nil
    }

    /// One value of a raw query's reply.
    public enum RawValue: Equatable, Sendable {
        case str(String)
        case int(Int64)
        case null
    }

    /// A backend-native command: the code and the reply's values in order, typed through raw_query_typed (cachedb
    /// 1.3), else strings from raw_query (nil elements as .null).
    public func rawQuery(_ query: String) -> (Int32, [RawValue]) {
        final class Box { var values: [RawValue] = [] }
        let box = Box()
        func text(_ p: UnsafePointer<CChar>?, _ n: Int) -> String {
            p.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: n), as: UTF8.self) } ?? ""
        }
        let typedEnd = MemoryLayout<sy_cachedb_api>.offset(of: \.raw_query_typed)! + MemoryLayout<UnsafeRawPointer>.size
        if Int(api.pointee.header.struct_size) >= typedEnd, let f = api.pointee.raw_query_typed {
            let rc = CacheBackend.with(query, "") { q, _ in
                f(conn, q, { arg, type, value, len, n in
                    guard let arg else { return }
                    let box = Unmanaged<Box>.fromOpaque(arg).takeUnretainedValue()
                    switch type {
                    case Int32(SY_CACHEDB_VAL_INT.rawValue): box.values.append(.int(n))
                    case Int32(SY_CACHEDB_VAL_NULL.rawValue): box.values.append(.null)
                    default: box.values.append(.str(text(value, len)))
                    }
                }, Unmanaged.passUnretained(box).toOpaque())
            }
            return (rc, box.values)
        }
        guard hasRawQuery, let f = api.pointee.raw_query else { return (-1, []) }
        let rc = CacheBackend.with(query, "") { q, _ in
            f(conn, q, { arg, value, len in
                guard let arg else { return }
                let box = Unmanaged<Box>.fromOpaque(arg).takeUnretainedValue()
                box.values.append(value.map { .str(text($0, len)) } ?? .null)
            }, Unmanaged.passUnretained(box).toOpaque())
        }
        return (rc, box.values)
    }
}

/// Binds cache ids to backends through the API directory ("cachedb:<engine>"), once per id.
public final class CacheDirectory: Sendable {
    private let bound = Mutex<[String: CacheBackend]>([:])
    let bind: @Sendable (String, UInt32, UInt32) -> Result<UnsafeRawPointer, APIDirectory.BindError>

    init(bind: @escaping @Sendable (String, UInt32, UInt32) -> Result<UnsafeRawPointer, APIDirectory.BindError>) {
        self.bind = bind
    }

    public struct Failure: Error { public let message: String }

    /// The backend for "engine[:group]"; the reason when there is none.
    public func backend(_ id: String) -> Result<CacheBackend, Failure> {
        if let b = bound.withLock({ $0[id] }) { return .success(b) }
        let engineName: Substring
        let group: String?
        if let colon = id.firstIndex(of: ":") {
            engineName = id[..<colon]
            group = String(id[id.index(after: colon)...])
        } else {
            engineName = Substring(id)
            group = nil
        }
        guard !engineName.isEmpty else { return .failure(Failure(message: "bad cache id '\(id)': expected engine[:group]")) }
        let apiPtr: UnsafeRawPointer
        switch bind("cachedb:\(engineName)", UInt32(SY_CACHEDB_MAJOR), UInt32(MemoryLayout<sy_cachedb_api>.offset(of: \.raw_query)!) /* 1.0 tables are enough */) {
        case .success(let p): apiPtr = p
        case .failure:
            return .failure(Failure(message: "no cache backend '\(engineName)' is loaded (e.g. loadmodule \"cachedb_\(engineName).so\")"))
        }
        let api = apiPtr.assumingMemoryBound(to: sy_cachedb_api.self)
        var err = [CChar](repeating: 0, count: 256)
        guard let open = Self.opener(api) else { return .failure(Failure(message: "cache backend '\(engineName)' has no open()")) }
        let conn: OpaquePointer? = group.map { g in g.withCString { open($0, &err, err.count) } } ?? open(nil, &err, err.count)
        guard let conn else {
            let reason = ABIReader.text(err)
            return .failure(Failure(message: "cache id '\(id)': \(reason.isEmpty ? "group not configured" : reason)"))
        }
        let b = CacheBackend(id: id, api: api, conn: conn)
        bound.withLock { $0[id] = b }
        return .success(b)
    }

    /// How to open a group on a backend's table: module_open with the table's own module handle (cachedb 1.2: the
    /// backend instance this server loaded), else the 1.0 open.
    static func opener(_ api: UnsafePointer<sy_cachedb_api>) -> ((UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?, Int) -> OpaquePointer?)? {
        let end = MemoryLayout<sy_cachedb_api>.offset(of: \.module_open)! + MemoryLayout<UnsafeRawPointer>.size
        if Int(api.pointee.header.struct_size) >= end, let m = api.pointee.module, let f = api.pointee.module_open {
            return { group, err, errlen in f(m, group, err, errlen) }
        }
        guard let f = api.pointee.open else { return nil }
        return { group, err, errlen in f(group, err, errlen) }
    }
}
