// DriverAPI: the sy_db_api table (switchyard_db.h) a driver instance publishes as "db:sqlite", and the settings of
// that instance its connect() reads.
import CSQLite
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

/// Settings and logging of one driver instance (one per entry-function call, i.e. per server that loads the plugin),
/// shared by the connections it opens: modparams write it before init, connect() reads it. It is the `module` of the
/// instance's table (DB API 1.1), so module_connect finds it through the handle.
final class DriverSettings: Sendable {
    static let defaultBusyTimeoutMs: Int32 = 5000
    static let defaultMaxConnections: Int32 = 16

    let busyTimeoutMs = Atomic<Int32>(DriverSettings.defaultBusyTimeoutMs)
    let maxConnections = Atomic<Int32>(DriverSettings.defaultMaxConnections)
    let host: PluginHost
    /// `init_sql` files (absolute paths, in modparam order), run on a database file that connect() creates.
    let initSQL = Mutex<[String]>([])
    /// Connections open now (connect() minus close()).
    let open = Atomic<Int>(0)

    init(host: PluginHost) { self.host = host }

    func log(_ level: LogLevel, _ message: @autoclosure () -> String) {
        host.log(level, message())
    }
}

/// The driver instance of the latest start-up, for the 1.0 connect (no handle: see HandlelessEntry).
let handlelessConnect = HandlelessEntry<DriverSettings>()

/// The table of one driver instance, published as "db:sqlite": allocated once, never freed (api_publish keeps it).
enum DriverAPITable {
    static func make(for driver: DriverSettings) -> UnsafePointer<sy_db_api> {
        var api = sy_db_api()
        api.header = sy_table_header(abi_major: UInt32(SY_DB_MAJOR), abi_minor: UInt32(SY_DB_MINOR),
                                     struct_size: UInt32(MemoryLayout<sy_db_api>.stride), reserved: 0)
        // Retained as long as the table: forever.
        api.module = OpaquePointer(Unmanaged.passRetained(driver).toOpaque())
        api.module_connect = { m, url, err in
            guard let m else { return nil }
            return dbConnect(Unmanaged<DriverSettings>.fromOpaque(UnsafeRawPointer(m)).takeUnretainedValue(), url, err)
        }
        api.connect = { url, err in
            guard let driver = handlelessConnect.instance else { return nil }
            return dbConnect(driver, url, err)
        }
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
}

// MARK: - The C functions

/// The connection behind a `sy_db_conn *` (a retained SQLiteConnection, released by close()).
private func connection(_ c: OpaquePointer?) throws(DBError) -> SQLiteConnection {
    guard let c else { throw DBError.badArg("NULL connection") }
    return Unmanaged<SQLiteConnection>.fromOpaque(UnsafeRawPointer(c)).takeUnretainedValue()
}

/// Runs `body` on the connection behind `c`, turning a thrown DBError into its negative code and *err (logged by the
/// connection's driver), success into a cleared *err.
private func guarded(_ err: UnsafeMutablePointer<sy_db_error>?, _ c: OpaquePointer?,
                     _ body: (SQLiteConnection) throws(DBError) -> Int64) -> Int64 {
    var conn: SQLiteConnection? = nil
    do throws(DBError) {
        let found = try connection(c)
        conn = found
        let n = try body(found)
        DBError.clear(err)
        return n
    } catch {
        conn?.driver.log(.dbg, "db error \(error.code): \(error.message)")
        error.write(to: err)
        return Int64(error.code)
    }
}

private func dbConnect(_ driver: DriverSettings, _ url: UnsafePointer<CChar>?,
                       _ err: UnsafeMutablePointer<sy_db_error>?) -> OpaquePointer? {
    do throws(DBError) {
        guard let url else { throw DBError.badArg("NULL database URL") }
        let parsed = try DatabaseURL.parse(String(cString: url))
        let conn = try SQLiteConnection(url: parsed,
                                        busyTimeoutMs: driver.busyTimeoutMs.load(ordering: .relaxed),
                                        maxHandles: Int(driver.maxConnections.load(ordering: .relaxed)),
                                        initSQL: driver.initSQL.withLock { $0 }, driver: driver)
        driver.open.add(1, ordering: .relaxed)
        driver.log(.dbg, "connected to \(parsed.display)")
        DBError.clear(err)
        return OpaquePointer(Unmanaged.passRetained(conn).toOpaque())
    } catch {
        driver.log(.dbg, "connect failed: \(error.message)")
        error.write(to: err)
        return nil
    }
}

private func dbClose(_ c: OpaquePointer?) {
    guard let c else { return }
    let unmanaged = Unmanaged<SQLiteConnection>.fromOpaque(UnsafeRawPointer(c))
    let conn = unmanaged.takeUnretainedValue()
    let inUse = conn.busyHandles
    let driver = conn.driver
    if inUse > 0 {
        driver.log(.err, "close(\(conn.url.display)) with \(inUse) call(s) in flight: the connection is leaked, not closed")
        return
    }
    driver.open.subtract(1, ordering: .relaxed)
    unmanaged.release() // closes every SQLite handle of the pool
}

private func dbSelect(_ c: OpaquePointer?, _ table: sy_str, _ columns: UnsafePointer<sy_str>?, _ ncolumns: UInt32,
                      _ conds: UnsafePointer<sy_db_cond>?, _ nconds: UInt32, _ orderBy: sy_str,
                      _ row: sy_db_row_fn?, _ arg: UnsafeMutableRawPointer?,
                      _ err: UnsafeMutablePointer<sy_db_error>?) -> Int64 {
    guarded(err, c) { (conn) throws(DBError) -> Int64 in
        let t = try SQLText.identifier(table, "table")
        var params: [UnsafePointer<sy_db_value>] = []
        let sql = SQLText.select(table: t, columns: try SQLText.columnList(columns, ncolumns),
                                 where: try SQLText.whereClause(conds, nconds, binding: &params),
                                 orderBy: try SQLText.orderBy(orderBy))
        return try conn.run(sql, params: params, row: row, arg: arg, context: "select from \(table.string)")
    }
}

private func dbInsert(_ c: OpaquePointer?, _ table: sy_str, _ columns: UnsafePointer<sy_str>?,
                      _ values: UnsafePointer<sy_db_value>?, _ n: UInt32,
                      _ err: UnsafeMutablePointer<sy_db_error>?) -> Int64 {
    guarded(err, c) { (conn) throws(DBError) -> Int64 in
        let t = try SQLText.identifier(table, "table")
        guard n > 0 else { throw DBError.badArg("insert into \(table.string): no columns") }
        guard let values else { throw DBError.badArg("insert into \(table.string): NULL values") }
        let cols = try SQLText.columnList(columns, n)
        let marks = Array(repeating: "?", count: Int(n)).joined(separator: ", ")
        let params = (0..<Int(n)).map { values + $0 }
        return try conn.run("INSERT INTO \(t) (\(cols)) VALUES (\(marks))", params: params, row: nil, arg: nil,
                            context: "insert into \(table.string)")
    }
}

private func dbUpdate(_ c: OpaquePointer?, _ table: sy_str, _ conds: UnsafePointer<sy_db_cond>?, _ nconds: UInt32,
                      _ columns: UnsafePointer<sy_str>?, _ values: UnsafePointer<sy_db_value>?, _ n: UInt32,
                      _ err: UnsafeMutablePointer<sy_db_error>?) -> Int64 {
    guarded(err, c) { (conn) throws(DBError) -> Int64 in
        let t = try SQLText.identifier(table, "table")
        guard n > 0 else { throw DBError.badArg("update \(table.string): no columns to set") }
        guard let columns, let values else { throw DBError.badArg("update \(table.string): NULL columns or values") }
        var sets: [String] = []
        var params: [UnsafePointer<sy_db_value>] = []
        for i in 0..<Int(n) {
            sets.append(try SQLText.identifier(columns[i], "column") + " = ?")
            params.append(values + i)
        }
        let clause = try SQLText.whereClause(conds, nconds, binding: &params)
        return try conn.run("UPDATE \(t) SET \(sets.joined(separator: ", "))\(clause)", params: params, row: nil,
                            arg: nil, context: "update \(table.string)")
    }
}

private func dbRemove(_ c: OpaquePointer?, _ table: sy_str, _ conds: UnsafePointer<sy_db_cond>?, _ nconds: UInt32,
                      _ err: UnsafeMutablePointer<sy_db_error>?) -> Int64 {
    guarded(err, c) { (conn) throws(DBError) -> Int64 in
        let t = try SQLText.identifier(table, "table")
        var params: [UnsafePointer<sy_db_value>] = []
        let clause = try SQLText.whereClause(conds, nconds, binding: &params)
        return try conn.run("DELETE FROM \(t)\(clause)", params: params, row: nil, arg: nil,
                            context: "delete from \(table.string)")
    }
}

private func dbRawQuery(_ c: OpaquePointer?, _ sql: sy_str, _ params: UnsafePointer<sy_db_value>?, _ nparams: UInt32,
                        _ row: sy_db_row_fn?, _ arg: UnsafeMutableRawPointer?,
                        _ err: UnsafeMutablePointer<sy_db_error>?) -> Int64 {
    guarded(err, c) { (conn) throws(DBError) -> Int64 in
        guard nparams == 0 || params != nil else { throw DBError.badArg("raw_query: NULL parameters with \(nparams) given") }
        return try conn.rawQuery(sql, params: UnsafeBufferPointer(start: params, count: Int(nparams)), row: row, arg: arg)
    }
}

private func dbTransaction(_ c: OpaquePointer?,
                           _ fn: (@convention(c) (UnsafeMutableRawPointer?, OpaquePointer?) -> Int32)?,
                           _ arg: UnsafeMutableRawPointer?, _ err: UnsafeMutablePointer<sy_db_error>?) -> Int32 {
    Int32(guarded(err, c) { (conn) throws(DBError) -> Int64 in
        guard let fn else { throw DBError.badArg("transaction: NULL function") }
        return Int64(try conn.transaction(fn, arg: arg, conn: c))
    })
}
