// Calling a DB driver's sy_db_api table from Swift, as a module does (copied from the db_sqlite tests, made public
// for the server-driver test targets).
import Foundation
import SwitchyardABI

// MARK: - Calling the C table from Swift

/// A value as the tests write and read it (`.raw(type)` sends an invalid type).
public enum DBValue: Equatable {
    case null, int(Int64), double(Double), text(String), blob([UInt8]), raw(Int32)

    public init(_ v: sy_db_value) {
        switch v.type {
        case Int32(SY_DB_NULL.rawValue): self = .null
        case Int32(SY_DB_INT.rawValue): self = .int(v.i)
        case Int32(SY_DB_DOUBLE.rawValue): self = .double(v.d)
        case Int32(SY_DB_STR.rawValue): self = .text(String(decoding: Self.bytes(v.s), as: UTF8.self))
        case Int32(SY_DB_BLOB.rawValue): self = .blob(Self.bytes(v.s))
        default: self = .raw(v.type)
        }
    }

    public static func bytes(_ s: sy_str) -> [UInt8] {
        guard let p = s.s, s.len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: s.len))
    }
}

public enum DBOp: Int32 {
    case eq = 0, ne, lt, gt, le, ge
}

/// The result of one call: return value, rows delivered to the callback, *err.
public struct DBResult {
    public var rc: Int64
    public var rows: [[DBValue]] = []
    public var code: Int64
    public var message: String
}

/// C memory for one call's arguments (sy_str and sy_db_value point into it); freed after the call.
public final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    public func str(_ bytes: [UInt8]) -> sy_str {
        guard !bytes.isEmpty else { return sy_str(s: nil, len: 0) } // an empty string with a NULL pointer
        let p = malloc(bytes.count)!
        p.copyMemory(from: bytes, byteCount: bytes.count)
        blocks.append(p)
        return sy_str(s: p.assumingMemoryBound(to: CChar.self), len: bytes.count)
    }

    public func str(_ s: String) -> sy_str { str(Array(s.utf8)) }

    public func value(_ v: DBValue) -> sy_db_value {
        var out = sy_db_value()
        switch v {
        case .null: out.type = Int32(SY_DB_NULL.rawValue)
        case .int(let i): out.type = Int32(SY_DB_INT.rawValue); out.i = i
        case .double(let d): out.type = Int32(SY_DB_DOUBLE.rawValue); out.d = d
        case .text(let s): out.type = Int32(SY_DB_STR.rawValue); out.s = str(s)
        case .blob(let b): out.type = Int32(SY_DB_BLOB.rawValue); out.s = str(b)
        case .raw(let t): out.type = t
        }
        return out
    }

    public func array<T>(_ items: [T]) -> UnsafePointer<T>? {
        guard !items.isEmpty else { return nil }
        let p = UnsafeMutablePointer<T>.allocate(capacity: items.count)
        p.initialize(from: items, count: items.count)
        blocks.append(UnsafeMutableRawPointer(p))
        return UnsafePointer(p)
    }

    deinit { for b in blocks { free(b) } }
}

/// Collects the rows a call delivers (and stops after `stopAfter` if set).
public final class RowSink {
    public var rows: [[DBValue]] = []
    public let stopAfter: Int?
    /// Called with each row as it arrives (e.g. to query again from inside the row callback).
    public var each: (([DBValue]) -> Void)?
    public init(stopAfter: Int?) { self.stopAfter = stopAfter }

    public static let callback: sy_db_row_fn = { arg, values, n in
        let sink = Unmanaged<RowSink>.fromOpaque(arg!).takeUnretainedValue()
        sink.rows.append((0..<Int(n)).map { DBValue(values![$0]) })
        sink.each?(sink.rows[sink.rows.count - 1])
        if let s = sink.stopAfter, sink.rows.count >= s { return 1 }
        return 0
    }
}

public final class TxBody {
    public let api: UnsafePointer<sy_db_api>
    public let body: (DBConn) -> Int32
    public init(api: UnsafePointer<sy_db_api>, body: @escaping (DBConn) -> Int32) {
        self.api = api
        self.body = body
    }

    public static let callback: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?) -> Int32 = { arg, c in
        let box = Unmanaged<TxBody>.fromOpaque(arg!).takeUnretainedValue()
        return box.body(DBConn(api: box.api, c: c!))
    }
}

public struct DBAPI: @unchecked Sendable {
    // Only a pointer to the driver's static table, never written after publication; the DB API declares its
    // functions callable from any thread.
    public init(api: UnsafePointer<sy_db_api>) { self.api = api }
    public let api: UnsafePointer<sy_db_api>

    public func connect(_ url: String) -> (DBConn?, DBResult) {
        var err = sy_db_error()
        err.code = 42
        let c = url.withCString { api.pointee.connect!($0, &err) }
        let r = DBResult(rc: c == nil ? -1 : 0, code: Int64(err.code), message: err.text)
        return (c.map { DBConn(api: api, c: $0) }, r)
    }

    /// module_connect with the table's own module handle (DB API 1.1), as the core's consumers connect.
    public func moduleConnect(_ url: String) -> (DBConn?, DBResult) {
        var err = sy_db_error()
        err.code = 42
        let c = url.withCString { api.pointee.module_connect!(api.pointee.module, $0, &err) }
        let r = DBResult(rc: c == nil ? -1 : 0, code: Int64(err.code), message: err.text)
        return (c.map { DBConn(api: api, c: $0) }, r)
    }
}

/// One sy_db_conn with Swift wrappers over the table's functions.
public struct DBConn: @unchecked Sendable {
    // Immutable pointers: the driver's static table and a connection handle, which the DB API makes usable from any
    // thread (each call takes that thread's own session).
    public let api: UnsafePointer<sy_db_api>
    public let c: OpaquePointer

    public func close() { api.pointee.close!(c) }

    func call(stopAfter: Int? = nil, each: (([DBValue]) -> Void)? = nil,
              _ body: (CArena, sy_db_row_fn, UnsafeMutableRawPointer, UnsafeMutablePointer<sy_db_error>) -> Int64) -> DBResult {
        let arena = CArena()
        let sink = RowSink(stopAfter: stopAfter)
        sink.each = each
        var err = sy_db_error()
        err.code = 42 // must be overwritten, also on success
        let rc = withExtendedLifetime(sink) {
            body(arena, RowSink.callback, Unmanaged.passUnretained(sink).toOpaque(), &err)
        }
        return DBResult(rc: rc, rows: sink.rows, code: Int64(err.code), message: err.text)
    }

    static func conds(_ a: CArena, _ w: [(String, DBOp, DBValue)]) -> UnsafePointer<sy_db_cond>? {
        a.array(w.map { sy_db_cond(column: a.str($0.0), op: $0.1.rawValue, reserved: 0, value: a.value($0.2)) })
    }

    public func raw(_ sql: String, _ params: [DBValue] = [], stopAfter: Int? = nil,
                    each: (([DBValue]) -> Void)? = nil) -> DBResult {
        call(stopAfter: stopAfter, each: each) { a, fn, arg, err in
            api.pointee.raw_query!(c, a.str(sql), a.array(params.map(a.value)), UInt32(params.count), fn, arg, err)
        }
    }

    public func select(_ table: String, _ columns: [String], where w: [(String, DBOp, DBValue)] = [], orderBy: String = "",
                stopAfter: Int? = nil) -> DBResult {
        call(stopAfter: stopAfter) { a, fn, arg, err in
            api.pointee.select!(c, a.str(table), a.array(columns.map(a.str)), UInt32(columns.count),
                                Self.conds(a, w), UInt32(w.count), a.str(orderBy), fn, arg, err)
        }
    }

    public func insert(_ table: String, _ values: [(String, DBValue)]) -> DBResult {
        call { a, _, _, err in
            api.pointee.insert!(c, a.str(table), a.array(values.map { a.str($0.0) }), a.array(values.map { a.value($0.1) }),
                                UInt32(values.count), err)
        }
    }

    public func update(_ table: String, where w: [(String, DBOp, DBValue)], set values: [(String, DBValue)]) -> DBResult {
        call { a, _, _, err in
            api.pointee.update!(c, a.str(table), Self.conds(a, w), UInt32(w.count), a.array(values.map { a.str($0.0) }),
                                a.array(values.map { a.value($0.1) }), UInt32(values.count), err)
        }
    }

    public func remove(_ table: String, where w: [(String, DBOp, DBValue)]) -> DBResult {
        call { a, _, _, err in api.pointee.remove!(c, a.str(table), Self.conds(a, w), UInt32(w.count), err) }
    }

    public func transaction(_ body: @escaping (DBConn) -> Int32) -> DBResult {
        let box = TxBody(api: api, body: body)
        return call { _, _, _, err in
            withExtendedLifetime(box) {
                Int64(api.pointee.transaction!(c, TxBody.callback, Unmanaged.passUnretained(box).toOpaque(), err))
            }
        }
    }
}

public extension sy_db_error {
    var text: String {
        var copy = message
        return withUnsafeBytes(of: &copy) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

/// A value shared between test threads.
public final class LockedBox<T>: @unchecked Sendable { // value guarded by lock
    private var value: T
    private let lock = NSLock()
    public init(_ value: T) { self.value = value }
    public func get() -> T { lock.lock(); defer { lock.unlock() }; return value }
    public func set(_ v: T) { lock.lock(); value = v; lock.unlock() }
    public func update(_ f: (inout T) -> Void) { lock.lock(); f(&value); lock.unlock() }
}
