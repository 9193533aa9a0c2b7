// SQLDriverTable: the sy_db_api table (switchyard_db.h) of a server driver. Every function but connect() works on the
// SQLConnection behind the handle, so db_mysql and db_postgres share them; each driver brings its own connect().
import SwitchyardABI
import SwitchyardPluginKit

public typealias SQLConnectFn = @convention(c) (UnsafePointer<CChar>?, UnsafeMutablePointer<sy_db_error>?) -> OpaquePointer?
public typealias SQLModuleConnectFn = @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, UnsafeMutablePointer<sy_db_error>?) -> OpaquePointer?

public enum SQLDriverTable {
    /// The table of one driver instance, allocated once and never freed (api_publish keeps the pointer): `module` is
    /// the instance (DB API 1.1), `moduleConnect` its connect; `connect` is the 1.0 entry without a handle.
    public static func make(module: AnyObject, connect: SQLConnectFn, moduleConnect: SQLModuleConnectFn) -> UnsafePointer<sy_db_api> {
        var api = sy_db_api()
        api.header = sy_table_header(abi_major: UInt32(SY_DB_MAJOR), abi_minor: UInt32(SY_DB_MINOR),
                                     struct_size: UInt32(MemoryLayout<sy_db_api>.stride), reserved: 0)
        // Retained as long as the table: forever.
        api.module = OpaquePointer(Unmanaged.passRetained(module).toOpaque())
        api.module_connect = moduleConnect
        api.connect = connect
        api.close = dbClose
        api.select = dbSelect
        api.insert = dbInsert
        api.update = dbUpdate
        api.remove = dbRemove
        api.raw_query = dbRawQuery
        api.transaction = dbTransaction
        // Not allocate/initialize: a shorter sy_db_api of an older plugin in the process would cut the copy (CTable).
        return CTable.keep(&api, size: MemoryLayout<sy_db_api>.stride, alignment: MemoryLayout<sy_db_api>.alignment)
            .assumingMemoryBound(to: sy_db_api.self)
    }

    /// The handle connect() returns for `conn` (retained until close()).
    public static func handle(_ conn: SQLConnection) -> OpaquePointer {
        OpaquePointer(Unmanaged.passRetained(conn).toOpaque())
    }
}

private func connection(_ c: OpaquePointer?) throws(SQLError) -> SQLConnection {
    guard let c else { throw SQLError(.badArg, "NULL connection") }
    return Unmanaged<SQLConnection>.fromOpaque(UnsafeRawPointer(c)).takeUnretainedValue()
}

private func guarded(_ err: UnsafeMutablePointer<sy_db_error>?, _ body: () throws(SQLError) -> Int64) -> Int64 {
    do {
        let n = try body()
        SQLError.clear(err)
        return n
    } catch {
        error.write(to: err)
        return Int64(error.code)
    }
}

private func dbClose(_ c: OpaquePointer?) {
    guard let c else { return }
    let u = Unmanaged<SQLConnection>.fromOpaque(UnsafeRawPointer(c))
    let conn = u.takeUnretainedValue()
    if conn.inFlight.load(ordering: .relaxed) > 0 {
        conn.settings.log(.err, "close(\(conn.url.masked)) with calls in flight: the connection is leaked, not closed")
        return
    }
    conn.closeAll()
    u.release()
}

private func execute(_ conn: SQLConnection, _ st: SQLStatement, _ row: sy_db_row_fn?,
                     _ arg: UnsafeMutableRawPointer?) throws(SQLError) -> Int64 {
    try conn.run(st.text) { (s) throws(SQLError) -> Int64 in try s.execute(st.text, st.params, row: row, arg: arg) }
}

private func dbSelect(_ c: OpaquePointer?, _ table: sy_str, _ columns: UnsafePointer<sy_str>?, _ ncolumns: UInt32,
                      _ conds: UnsafePointer<sy_db_cond>?, _ nconds: UInt32, _ orderBy: sy_str,
                      _ row: sy_db_row_fn?, _ arg: UnsafeMutableRawPointer?,
                      _ err: UnsafeMutablePointer<sy_db_error>?) -> Int64 {
    guarded(err) { () throws(SQLError) -> Int64 in
        let conn = try connection(c)
        let st = try SQLBuilder.select(conn.dialect, table: table, columns: columns, ncolumns: ncolumns,
                                       where: conds, nwhere: nconds, orderBy: orderBy)
        return try execute(conn, st, row, arg)
    }
}

private func dbInsert(_ c: OpaquePointer?, _ table: sy_str, _ columns: UnsafePointer<sy_str>?,
                      _ values: UnsafePointer<sy_db_value>?, _ n: UInt32,
                      _ err: UnsafeMutablePointer<sy_db_error>?) -> Int64 {
    guarded(err) { () throws(SQLError) -> Int64 in
        let conn = try connection(c)
        return try execute(conn, try SQLBuilder.insert(conn.dialect, table: table, columns: columns, values: values, n: n),
                           nil, nil)
    }
}

private func dbUpdate(_ c: OpaquePointer?, _ table: sy_str, _ conds: UnsafePointer<sy_db_cond>?, _ nconds: UInt32,
                      _ columns: UnsafePointer<sy_str>?, _ values: UnsafePointer<sy_db_value>?, _ n: UInt32,
                      _ err: UnsafeMutablePointer<sy_db_error>?) -> Int64 {
    guarded(err) { () throws(SQLError) -> Int64 in
        let conn = try connection(c)
        return try execute(conn, try SQLBuilder.update(conn.dialect, table: table, where: conds, nwhere: nconds,
                                                       columns: columns, values: values, n: n), nil, nil)
    }
}

private func dbRemove(_ c: OpaquePointer?, _ table: sy_str, _ conds: UnsafePointer<sy_db_cond>?, _ nconds: UInt32,
                      _ err: UnsafeMutablePointer<sy_db_error>?) -> Int64 {
    guarded(err) { () throws(SQLError) -> Int64 in
        let conn = try connection(c)
        return try execute(conn, try SQLBuilder.delete(conn.dialect, table: table, where: conds, nwhere: nconds), nil, nil)
    }
}

private func dbRawQuery(_ c: OpaquePointer?, _ sql: sy_str, _ params: UnsafePointer<sy_db_value>?, _ nparams: UInt32,
                        _ row: sy_db_row_fn?, _ arg: UnsafeMutableRawPointer?,
                        _ err: UnsafeMutablePointer<sy_db_error>?) -> Int64 {
    guarded(err) { () throws(SQLError) -> Int64 in
        let conn = try connection(c)
        guard nparams == 0 || params != nil else { throw SQLError(.badArg, "raw_query: NULL parameters with \(nparams) given") }
        guard sql.len > 0, let base = sql.s,
              let text = String(validating: UnsafeRawBufferPointer(start: base, count: sql.len), as: UTF8.self) else {
            throw SQLError(.badArg, "raw_query: empty or invalid SQL text")
        }
        let (converted, marks) = conn.dialect.placeholders(in: text)
        if nparams == 0 && isScript(text) {
            return try conn.run(text) { (s) throws(SQLError) -> Int64 in try s.executeScript(text) }
        }
        guard marks == Int(nparams) else {
            throw SQLError(.badArg, "raw_query: \(marks) placeholder(s) but \(nparams) parameter(s)")
        }
        let values = (0..<Int(nparams)).map { params![$0] }
        return try execute(conn, SQLStatement(text: converted, params: values), row, arg)
    }
}

/// More than one statement: a top-level `;` (not inside a quoted string, identifier or comment) followed by more
/// than blanks, comments and further `;`. A `;` inside 'text', "text", `name`, $tag$text$tag$, -- or # comments
/// or /* comments */ is part of the one statement (whose rows the caller wants).
func isScript(_ text: String) -> Bool {
    let b = Array(text.utf8)
    var i = 0
    var sawTopLevelSemicolon = false
    /// Index just past the quoted run starting at b[i] (quote q); a doubled quote or a backslash escapes one.
    func skipQuoted(_ i: Int, _ q: UInt8) -> Int {
        var j = i + 1
        while j < b.count {
            if b[j] == UInt8(ascii: "\\") && q != UInt8(ascii: "`") { j += 2; continue }
            if b[j] == q {
                if j + 1 < b.count && b[j + 1] == q { j += 2; continue }
                return j + 1
            }
            j += 1
        }
        return b.count
    }
    while i < b.count {
        let c = b[i]
        switch c {
        case UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "`"):
            if sawTopLevelSemicolon { return true }
            i = skipQuoted(i, c)
        case UInt8(ascii: "-") where i + 1 < b.count && b[i + 1] == UInt8(ascii: "-"), UInt8(ascii: "#"):
            while i < b.count && b[i] != UInt8(ascii: "\n") { i += 1 }
        case UInt8(ascii: "/") where i + 1 < b.count && b[i + 1] == UInt8(ascii: "*"):
            i += 2
            while i + 1 < b.count && !(b[i] == UInt8(ascii: "*") && b[i + 1] == UInt8(ascii: "/")) { i += 1 }
            i += 2
        case UInt8(ascii: "$"):
            if sawTopLevelSemicolon { return true }
            // A PostgreSQL dollar quote $tag$ ... $tag$ (tag of letters, digits, '_'); a lone $1 is a parameter.
            var j = i + 1
            while j < b.count && (b[j] == UInt8(ascii: "_") || (b[j] | 0x20 >= UInt8(ascii: "a") && b[j] | 0x20 <= UInt8(ascii: "z"))
                                  || (b[j] >= UInt8(ascii: "0") && b[j] <= UInt8(ascii: "9") && j > i + 1)) { j += 1 }
            if j < b.count && b[j] == UInt8(ascii: "$") {
                let tag = b[i...j]
                var k = j + 1
                while k + tag.count <= b.count && !b[k..<(k + tag.count)].elementsEqual(tag) { k += 1 }
                i = min(b.count, k + tag.count)
            } else {
                i += 1
            }
        case UInt8(ascii: ";"):
            sawTopLevelSemicolon = true
            i += 1
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"):
            i += 1
        default:
            if sawTopLevelSemicolon { return true }
            i += 1
        }
    }
    return false
}

private func dbTransaction(_ c: OpaquePointer?,
                           _ fn: (@convention(c) (UnsafeMutableRawPointer?, OpaquePointer?) -> Int32)?,
                           _ arg: UnsafeMutableRawPointer?, _ err: UnsafeMutablePointer<sy_db_error>?) -> Int32 {
    do throws(SQLError) {
        let conn = try connection(c)
        guard let fn else { throw SQLError(.badArg, "transaction: NULL function") }
        let rc = try conn.transaction { fn(arg, c) }
        if rc == 0 {
            SQLError.clear(err)
            return 0
        }
        // Rolled back: the function's own negative code, else SY_DB_E_OTHER.
        SQLError(.other, "transaction rolled back (the function returned \(rc))").write(to: err)
        if rc < 0 { err?.pointee.code = rc }
        return rc < 0 ? rc : SY_DB_E_OTHER.rawValue
    } catch {
        error.write(to: err)
        return error.code
    }
}
