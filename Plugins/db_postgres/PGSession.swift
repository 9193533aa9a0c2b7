// PGSession: one libpq connection, its prepared statements (named per session, cached by SQL text) and the
// conversion of values between sy_db_value and PostgreSQL's text format.
#if canImport(Glibc)
import Glibc
#endif
import CPostgres
import SwitchyardABI
import SwitchyardSQL

final class PGSession: SQLSession {
    struct Options {
        var connectTimeout: Int32
        var statementTimeoutMs: Int32
    }

    private var pg: OpaquePointer?
    /// Prepared statements by SQL text, at most maxStatements, the least recently used deallocated first.
    private var statements: [String: String] = [:]
    /// The cached texts, least recently used first.
    private var recent: [String] = []
    private static let maxStatements = 32
    private var nextName = 0
    private let masked: String

    /// Connects: keywords from the URL's `?params` first, then host/user/password/dbname/port from the URL itself
    /// (later ones win, empty ones are ignored by libpq, as OpenSIPS orders them).
    init(url: SQLURL, options: Options) throws(SQLError) {
        masked = url.masked
        var kv: [(String, String)] = [("sslmode", "disable"), ("client_encoding", "UTF8")]
        if options.connectTimeout > 0 { kv.append(("connect_timeout", String(options.connectTimeout))) }
        if options.statementTimeoutMs > 0 { kv.append(("options", "-c statement_timeout=\(options.statementTimeoutMs)")) }
        // A server host that vanishes without closing the connection (no RST) is noticed by TCP keepalives within
        // about 11 s, rather than never (libpq has no read timeout of its own).
        kv += [("keepalives", "1"), ("keepalives_idle", "5"), ("keepalives_interval", "2"), ("keepalives_count", "3")]
        kv += url.paramPairs
        // A unix(/dir) host names the socket directory (libpq wants the directory, not the socket file).
        if let socket = url.socket { kv.append(("host", socket)) } else if !url.host.isEmpty { kv.append(("host", url.host)) }
        if let u = url.user { kv.append(("user", u)) }
        if let p = url.password { kv.append(("password", p)) }
        kv.append(("dbname", url.database))
        if let port = url.port { kv.append(("port", String(port))) }
        let keys = kv.map { strdup($0.0) }, values = kv.map { strdup($0.1) }
        defer { keys.forEach { free($0) }; values.forEach { free($0) } }
        var kp: [UnsafePointer<CChar>?] = keys.map { UnsafePointer($0) } + [nil]
        var vp: [UnsafePointer<CChar>?] = values.map { UnsafePointer($0) } + [nil]
        guard let c = PQconnectdbParams(&kp, &vp, 0) else { throw SQLError(.connect, "cannot connect to \(url.masked): out of memory") }
        guard PQstatus(c) == CONNECTION_OK else {
            let msg = String(cString: PQerrorMessage(c)).split(separator: "\n").joined(separator: " ")
            PQfinish(c)
            throw SQLError(.connect, msg)
        }
        pg = c
    }

    func close() {
        if let pg { PQfinish(pg) }
        pg = nil
        statements = [:]
        recent = []
    }

    deinit { close() }

    /// The error of a failed result (or of the connection when res is nil).
    private func error(_ res: OpaquePointer?, _ sql: String) -> SQLError {
        let lost = pg.map { PQstatus($0) != CONNECTION_OK } ?? true
        let text = res.flatMap { PQresultErrorMessage($0) }.map { String(cString: $0) }
            ?? pg.map { String(cString: PQerrorMessage($0)) } ?? "connection closed"
        let state = res.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) } ?? ""
        let kind: SQLError.Kind
        if lost { kind = .connect } else if state.hasPrefix("23") { kind = .constraint }
        else if state == "42P01" || state == "42703" { kind = .noTable }
        else if state == "40P01" || state == "55P03" || state == "40001" { kind = .busy }
        else if state.hasPrefix("22") || state == "42804" || state == "42883" { kind = .badArg }
        else { kind = .other }
        let oneLine = text.split(separator: "\n").first.map(String.init) ?? text
        if lost { statements = [:]; recent = [] }
        return SQLError(kind, "\(oneLine) (\(sql.prefix(120)))", lost: lost)
    }

    private func prepared(_ sql: String, _ n: Int) throws(SQLError) -> String {
        if let name = statements[sql] {
            if let i = recent.firstIndex(of: sql) { recent.remove(at: i) }
            recent.append(sql)
            return name
        }
        guard let pg else { throw SQLError(.connect, "connection closed", lost: true) }
        // A result is complete in memory before its rows are delivered, so a statement may be deallocated even
        // while a row callback of its result runs.
        while statements.count >= Self.maxStatements, !recent.isEmpty {
            let old = recent.removeFirst()
            if let name = statements.removeValue(forKey: old) { PQclear(PQexec(pg, "DEALLOCATE \(name)")) }
        }
        nextName += 1
        let name = "sy\(nextName)"
        // Parameter types are left to the server (0 = inferred from the context), as a literal would be.
        let res = PQprepare(pg, name, sql, Int32(n), nil)
        defer { PQclear(res) }
        guard PQresultStatus(res) == PGRES_COMMAND_OK else { throw error(res, sql) }
        statements[sql] = name
        recent.append(sql)
        return name
    }

    func execute(_ sql: String, _ params: [sy_db_value], row: sy_db_row_fn?,
                 arg: UnsafeMutableRawPointer?) throws(SQLError) -> Int64 {
        // A statement without parameters (a raw query, run once) is not prepared: the unnamed statement, no cache.
        let name = params.isEmpty ? nil : try prepared(sql, params.count)
        guard let pg else { throw SQLError(.connect, "connection closed", lost: true) }
        // Values in text format (numbers printed, strings copied NUL-terminated); blobs in binary format.
        var owned: [UnsafeMutablePointer<CChar>?] = []
        var lengths: [Int32] = [], formats: [Int32] = []
        defer { owned.forEach { free($0) } }
        for v in params {
            switch v.type {
            case Int32(SY_DB_INT.rawValue): owned.append(strdup(String(v.i))); lengths.append(0); formats.append(0)
            case Int32(SY_DB_DOUBLE.rawValue): owned.append(strdup(String(v.d))); lengths.append(0); formats.append(0)
            case Int32(SY_DB_STR.rawValue), Int32(SY_DB_BLOB.rawValue):
                guard let raw = malloc(v.s.len + 1) else { throw SQLError(.other, "out of memory") }
                let p = raw.assumingMemoryBound(to: CChar.self)
                if v.s.len > 0, let s = v.s.s { p.update(from: s, count: v.s.len) }
                p[v.s.len] = 0
                if v.type == Int32(SY_DB_STR.rawValue) && UnsafeBufferPointer(start: p, count: v.s.len).contains(0) {
                    free(p)
                    throw SQLError(.badArg, "a text parameter contains a NUL byte (PostgreSQL text cannot hold one)")
                }
                owned.append(p)
                lengths.append(Int32(v.s.len))
                formats.append(v.type == Int32(SY_DB_BLOB.rawValue) ? 1 : 0)
            default: owned.append(nil); lengths.append(0); formats.append(0)
            }
        }
        let values = owned.map { UnsafePointer($0) }
        let res = name.map { PQexecPrepared(pg, $0, Int32(params.count), values, lengths, formats, 0) }
            ?? PQexecParams(pg, sql, 0, nil, nil, nil, nil, 0)
        defer { PQclear(res) }
        switch PQresultStatus(res) {
        case PGRES_TUPLES_OK: return deliver(res, row: row, arg: arg)
        case PGRES_COMMAND_OK: return Int64(String(cString: PQcmdTuples(res))) ?? 0
        default: throw error(res, sql)
        }
    }

    /// Streams a complete result's rows, typed by column OID: integers and booleans as INT (true = 1), floats as
    /// DOUBLE, bytea as BLOB, everything else as text.
    private func deliver(_ res: OpaquePointer?, row: sy_db_row_fn?, arg: UnsafeMutableRawPointer?) -> Int64 {
        let nrows = PQntuples(res), ncols = PQnfields(res)
        enum Kind { case int, bool, double, text, blob }
        let kinds: [Kind] = (0..<ncols).map { c in
            switch PQftype(res, c) {
            case 20, 21, 23, 26: return .int      // int8, int2, int4, oid
            case 16: return .bool
            case 700, 701: return .double         // float4, float8
            case 17: return .blob                 // bytea
            default: return .text
            }
        }
        var values = [sy_db_value](repeating: sy_db_value(), count: Int(ncols))
        var delivered: Int64 = 0
        for r in 0..<nrows {
            var unescaped: [UnsafeMutablePointer<UInt8>] = []
            defer { unescaped.forEach { PQfreemem($0) } }
            for c in 0..<ncols {
                var v = sy_db_value()
                if PQgetisnull(res, r, c) != 0 {
                    v.type = Int32(SY_DB_NULL.rawValue)
                } else {
                    guard let text = PQgetvalue(res, r, c) else { values[Int(c)] = v; continue }
                    let len = Int(PQgetlength(res, r, c))
                    switch kinds[Int(c)] {
                    case .int:
                        v.type = Int32(SY_DB_INT.rawValue)
                        v.i = strtoll(text, nil, 10)
                    case .bool:
                        v.type = Int32(SY_DB_INT.rawValue)
                        v.i = text.pointee == CChar(UInt8(ascii: "t")) ? 1 : 0
                    case .double:
                        v.type = Int32(SY_DB_DOUBLE.rawValue)
                        v.d = strtod(text, nil)
                    case .text:
                        v.type = Int32(SY_DB_STR.rawValue)
                        v.s = sy_str(s: text, len: len)
                    case .blob:
                        var n = 0
                        if let b = PQunescapeBytea(UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self), &n) {
                            unescaped.append(b)
                            v.type = Int32(SY_DB_BLOB.rawValue)
                            v.s = sy_str(s: UnsafeRawPointer(b).assumingMemoryBound(to: CChar.self), len: n)
                        } else {
                            v.type = Int32(SY_DB_NULL.rawValue)
                        }
                    }
                }
                values[Int(c)] = v
            }
            delivered += 1
            if let row, values.withUnsafeBufferPointer({ row(arg, $0.baseAddress, UInt32(ncols)) }) != 0 { break }
        }
        return delivered
    }

    func executeScript(_ sql: String) throws(SQLError) -> Int64 {
        guard let pg else { throw SQLError(.connect, "connection closed", lost: true) }
        let res = PQexec(pg, sql)
        defer { PQclear(res) }
        switch PQresultStatus(res) {
        case PGRES_TUPLES_OK: return Int64(PQntuples(res))
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY: return Int64(String(cString: PQcmdTuples(res))) ?? 0
        default: throw error(res, sql)
        }
    }
}
