// A small Swift wrapper over the SQL driver API (switchyard_db.h) for plugins: bind by URL, connect, SELECT rows.
// No global state: a connection belongs to the module that opened it.
import Foundation
import SwitchyardABI

/// One column value copied out of a driver row.
public enum DBValue: Sendable {
    case null
    case int(Int64)
    case double(Double)
    case text(String)

    public var string: String? {
        switch self {
        case .null: return nil
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .text(let s): return s
        }
    }

    public var int: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d): return Int64(d)
        case .text(let s): return Int64(s.trimmingCharacters(in: .whitespaces))
        case .null: return nil
        }
    }
}

public struct DBError: Error, CustomStringConvertible {
    public let code: Int32
    public let description: String

    public init(code: Int32, description: String) {
        self.code = code
        self.description = description
    }
}

/// A connection on a bound driver. The driver makes a connection usable from any thread.
public final class DBConnection: @unchecked Sendable {
    public let api: UnsafePointer<sy_db_api>
    public let conn: OpaquePointer

    /// Binds the driver for `url`'s scheme and connects: through the driver instance the table carries (DB API 1.1,
    /// module_connect), or with the 1.0 connect of an older driver.
    public init(host: PluginHost, url: String) throws {
        // A 1.0 table is enough: its entries are all this wrapper needs besides module_connect.
        let raw = try host.dbBind(url, major: UInt32(SY_DB_MAJOR), minSize: UInt32(MemoryLayout<sy_db_api>.offset(of: \.module)!))
        api = raw.assumingMemoryBound(to: sy_db_api.self)
        var err = sy_db_error()
        let c: OpaquePointer?
        if CTable.has(api, \.module_connect), let m = api.pointee.module, let connect = api.pointee.module_connect {
            c = url.withCString { connect(m, $0, &err) }
        } else if let connect = api.pointee.connect {
            c = url.withCString { connect($0, &err) }
        } else {
            throw DBError(code: -6, description: "driver has no connect")
        }
        guard let c else {
            throw DBError(code: err.code, description: "cannot connect to \(DBConnection.redact(url)): \(DBConnection.message(&err))")
        }
        conn = c
    }

    deinit { api.pointee.close?(conn) }

    public static func message(_ err: inout sy_db_error) -> String {
        withUnsafeBytes(of: &err.message) { b in
            String(decoding: b.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    public static func redact(_ url: String) -> String {
        // scheme://user:pass@host → scheme://user:***@host
        guard let at = url.lastIndex(of: "@"), let schemeEnd = url.range(of: "://") else { return url }
        let cred = url[schemeEnd.upperBound..<at]
        guard let colon = cred.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }

    /// SELECT columns FROM table [ORDER BY]: streams each row to `body` (values valid during the call only), with
    /// no intermediate copy of the result. An error thrown by `body` stops the select and is rethrown.
    public func selectEach(_ table: String, _ columns: [String], orderBy: String = "",
                    _ body: (UnsafeBufferPointer<sy_db_value>) throws -> Void) throws {
        guard let sel = api.pointee.select else { throw DBError(code: -6, description: "driver has no select") }
        typealias Body = (UnsafeBufferPointer<sy_db_value>) throws -> Void
        final class Sink { var error: Error? }
        let sink = Sink()
        var err = sy_db_error()
        let cstrs = ([table, orderBy] + columns).map { Array($0.utf8CString) }
        let rc: Int64 = withoutActuallyEscaping(body) { (body: @escaping Body) -> Int64 in
            struct Ctx { let body: Body; let sink: Sink }
            var ctx = Ctx(body: body, sink: sink)
            return withCStrs(cstrs) { ptrs in
                func str(_ i: Int) -> sy_str { sy_str(s: ptrs[i], len: cstrs[i].count - 1) }
                let cols = (0..<columns.count).map { str(2 + $0) }
                return withUnsafeMutablePointer(to: &ctx) { ctxp in
                    cols.withUnsafeBufferPointer { cb in
                        sel(conn, str(0), cb.baseAddress, UInt32(cb.count), nil, 0, str(1), { arg, row, n in
                            let c = arg!.assumingMemoryBound(to: Ctx.self)
                            do { try c.pointee.body(UnsafeBufferPointer(start: row, count: Int(n))) } catch {
                                c.pointee.sink.error = error
                                return 1
                            }
                            return 0
                        }, UnsafeMutableRawPointer(ctxp), &err)
                    }
                }
            }
        }
        if let e = sink.error { throw e }
        if rc < 0 { throw DBError(code: err.code, description: "\(table): \(DBConnection.message(&err))") }
    }

    /// SELECT columns FROM table [WHERE column = value ...]; rows as arrays in column order.
    public func select(_ table: String, _ columns: [String], where conds: [(String, DBValue)] = [],
                orderBy: String = "") throws -> [[DBValue]] {
        guard let sel = api.pointee.select else { throw DBError(code: -6, description: "driver has no select") }
        final class Sink { var rows: [[DBValue]] = [] }
        let sink = Sink()
        var err = sy_db_error()
        // Keep every string's bytes alive in one array of C strings.
        let texts = [table, orderBy] + columns + conds.map(\.0) + conds.map { $0.1.string ?? "" }
        let cstrs = texts.map { Array($0.utf8CString) }
        let rc: Int64 = withCStrs(cstrs) { ptrs in
            func str(_ i: Int) -> sy_str { sy_str(s: ptrs[i], len: cstrs[i].count - 1) }
            let cols = (0..<columns.count).map { str(2 + $0) }
            var where_: [sy_db_cond] = []
            for (i, c) in conds.enumerated() {
                var cond = sy_db_cond()
                cond.column = str(2 + columns.count + i)
                cond.op = Int32(SY_DB_OP_EQ.rawValue)
                switch c.1 {
                case .null: cond.value.type = Int32(SY_DB_NULL.rawValue)
                case .int(let n): cond.value.type = Int32(SY_DB_INT.rawValue); cond.value.i = n
                case .double(let d): cond.value.type = Int32(SY_DB_DOUBLE.rawValue); cond.value.d = d
                case .text: cond.value.type = Int32(SY_DB_STR.rawValue); cond.value.s = str(2 + columns.count + conds.count + i)
                }
                where_.append(cond)
            }
            let arg = Unmanaged.passUnretained(sink).toOpaque()
            return cols.withUnsafeBufferPointer { cb in
                where_.withUnsafeBufferPointer { wb in
                    sel(conn, str(0), cb.baseAddress, UInt32(cb.count), wb.baseAddress, UInt32(wb.count), str(1),
                        { arg, row, n in
                            let sink = Unmanaged<Sink>.fromOpaque(arg!).takeUnretainedValue()
                            var out: [DBValue] = []
                            out.reserveCapacity(Int(n))
                            for i in 0..<Int(n) {
                                let v = row![i]
                                switch v.type {
                                case Int32(SY_DB_INT.rawValue): out.append(.int(v.i))
                                case Int32(SY_DB_DOUBLE.rawValue): out.append(.double(v.d))
                                case Int32(SY_DB_STR.rawValue), Int32(SY_DB_BLOB.rawValue): out.append(.text(v.s.string))
                                default: out.append(.null)
                                }
                            }
                            sink.rows.append(out)
                            return 0
                        }, arg, &err)
                }
            }
        }
        if rc < 0 { throw DBError(code: err.code, description: "\(table): \(DBConnection.message(&err))") }
        return sink.rows
    }

    /// UPDATE table SET column = value, ... [WHERE column = value AND ...]; returns the rows affected. Every value is
    /// bound as a parameter by the driver.
    @discardableResult
    public func update(_ table: String, set values: [(String, DBValue)], where conds: [(String, DBValue)] = []) throws -> Int64 {
        guard let upd = api.pointee.update else { throw DBError(code: -6, description: "driver has no update") }
        guard !values.isEmpty else { return 0 }
        var err = sy_db_error()
        // Every text (names and values) as one C string kept alive for the call.
        let texts = [table] + values.map(\.0) + conds.map(\.0) + values.map { $0.1.string ?? "" } + conds.map { $0.1.string ?? "" }
        let cstrs = texts.map { Array($0.utf8CString) }
        let nv = values.count, nc = conds.count
        let rc: Int64 = withCStrs(cstrs) { ptrs in
            func str(_ i: Int) -> sy_str { sy_str(s: ptrs[i], len: cstrs[i].count - 1) }
            func value(_ v: DBValue, text: Int) -> sy_db_value {
                var out = sy_db_value()
                switch v {
                case .null: out.type = Int32(SY_DB_NULL.rawValue)
                case .int(let n): out.type = Int32(SY_DB_INT.rawValue); out.i = n
                case .double(let d): out.type = Int32(SY_DB_DOUBLE.rawValue); out.d = d
                case .text: out.type = Int32(SY_DB_STR.rawValue); out.s = str(text)
                }
                return out
            }
            let cols = (0..<nv).map { str(1 + $0) }
            let vals = values.enumerated().map { value($0.element.1, text: 1 + nv + nc + $0.offset) }
            let where_ = conds.enumerated().map { i, c -> sy_db_cond in
                var cond = sy_db_cond()
                cond.column = str(1 + nv + i)
                cond.op = Int32(SY_DB_OP_EQ.rawValue)
                cond.value = value(c.1, text: 1 + nv + nc + nv + i)
                return cond
            }
            return cols.withUnsafeBufferPointer { cb in
                vals.withUnsafeBufferPointer { vb in
                    where_.withUnsafeBufferPointer { wb in
                        upd(conn, str(0), wb.baseAddress, UInt32(wb.count), cb.baseAddress, vb.baseAddress, UInt32(nv), &err)
                    }
                }
            }
        }
        if rc < 0 { throw DBError(code: err.code, description: "\(table): \(DBConnection.message(&err))") }
        return rc
    }
}

private func withCStrs<R>(_ arrays: [[CChar]], _ body: ([UnsafePointer<CChar>]) -> R) -> R {
    var ptrs: [UnsafePointer<CChar>] = []
    func go(_ i: Int) -> R {
        if i == arrays.count { return body(ptrs) }
        return arrays[i].withUnsafeBufferPointer { b in
            ptrs.append(b.baseAddress!)
            return go(i + 1)
        }
    }
    return go(0)
}

/// Reading driver values in place.
extension sy_db_value {
    public var isNull: Bool { type != Int32(SY_DB_INT.rawValue) && type != Int32(SY_DB_DOUBLE.rawValue)
        && type != Int32(SY_DB_STR.rawValue) && type != Int32(SY_DB_BLOB.rawValue) }
    /// The bytes of a string value (empty for others).
    public var bytes: UnsafeRawBufferPointer {
        type == Int32(SY_DB_STR.rawValue) || type == Int32(SY_DB_BLOB.rawValue) ? s.bytes : UnsafeRawBufferPointer(start: nil, count: 0)
    }
    /// As DBValue.string: numbers printed, NULL → nil.
    public var string: String? {
        switch type {
        case Int32(SY_DB_INT.rawValue): return String(i)
        case Int32(SY_DB_DOUBLE.rawValue): return String(d)
        case Int32(SY_DB_STR.rawValue), Int32(SY_DB_BLOB.rawValue): return s.string
        default: return nil
        }
    }
    /// As DBValue.int.
    public var int: Int64? {
        switch type {
        case Int32(SY_DB_INT.rawValue): return i
        case Int32(SY_DB_DOUBLE.rawValue): return Int64(d)
        case Int32(SY_DB_STR.rawValue), Int32(SY_DB_BLOB.rawValue): return parseInt(trim(s.bytes))
        default: return nil
        }
    }
}

@inline(__always) public func isBlank(_ c: UInt8) -> Bool { c == 32 || c == 9 }

/// The bytes without leading/trailing spaces and tabs.
public func trim(_ b: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
    var lo = 0, hi = b.count
    while lo < hi && isBlank(b[lo]) { lo += 1 }
    while hi > lo && isBlank(b[hi - 1]) { hi -= 1 }
    return UnsafeRawBufferPointer(rebasing: b[lo..<hi])
}

/// A decimal integer with an optional sign (the whole text), as Int64(String).
public func parseInt(_ b: UnsafeRawBufferPointer) -> Int64? {
    guard !b.isEmpty else { return nil }
    var i = 0, neg = false
    if b[0] == UInt8(ascii: "-") || b[0] == UInt8(ascii: "+") { neg = b[0] == UInt8(ascii: "-"); i = 1 }
    guard i < b.count else { return nil }
    var v: Int64 = 0
    while i < b.count {
        let d = b[i] &- 48
        guard d < 10 else { return nil }
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (a, o2) = neg ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
        if o1 || o2 { return nil }
        v = a
        i += 1
    }
    return v
}
