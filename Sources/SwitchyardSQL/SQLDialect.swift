// SQLDialect: what differs between the SQL servers in the statements the DB API builds — how identifiers are quoted
// and how placeholders are written. Callers of the API never write SQL for these, so they work on every driver.
import SwitchyardABI

public enum SQLDialect: Sendable {
    /// MariaDB/MySQL: `name` in backquotes (the server's default sql_mode has no ANSI_QUOTES), `?` placeholders.
    case mysql
    /// PostgreSQL: "name" in double quotes, `$1, $2 ...` placeholders.
    case postgres

    public func quote(_ name: String) -> String {
        let q: Character = self == .mysql ? "`" : "\""
        var out = String(q)
        for ch in name { if ch == q { out.append(q) }; out.append(ch) }
        out.append(q)
        return out
    }

    /// The placeholder of the n-th parameter (1-based).
    public func placeholder(_ n: Int) -> String { self == .mysql ? "?" : "$\(n)" }

    /// A raw query's `?` placeholders in this dialect's form (MySQL keeps `?`, but the count still skips quoted ones). `?` inside '...' strings, "..." or `...` identifiers
    /// and -- or /* */ comments is left alone. Returns the text and the number of placeholders seen.
    public func placeholders(in sql: String) -> (String, Int) {
        var out = ""
        var n = 0
        var quote: Character?
        var chars = Array(sql)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if let q = quote {
                out.append(c)
                if c == q { quote = nil }
            } else if c == "'" || c == "\"" || c == "`" {
                quote = c
                out.append(c)
            } else if c == "-" && i + 1 < chars.count && chars[i + 1] == "-" {
                while i < chars.count && chars[i] != "\n" { out.append(chars[i]); i += 1 }
                continue
            } else if c == "/" && i + 1 < chars.count && chars[i + 1] == "*" {
                while i < chars.count && !(chars[i] == "*" && i + 1 < chars.count && chars[i + 1] == "/") {
                    out.append(chars[i]); i += 1
                }
                if i < chars.count { out += "*/"; i += 2 }
                continue
            } else if c == "?" {
                n += 1
                out += placeholder(n)
            } else {
                out.append(c)
            }
            i += 1
        }
        chars.removeAll()
        return (out, n)
    }

    public var beginSQL: String { self == .mysql ? "START TRANSACTION" : "BEGIN" }
}

/// The SQL of the API's select/insert/update/delete in one dialect, with the values to bind in placeholder order.
public struct SQLStatement {
    public var text: String
    public var params: [sy_db_value]
}

public enum SQLBuilder {
    public static func identifier(_ name: sy_str, _ what: String, _ d: SQLDialect) throws(SQLError) -> String {
        guard name.len > 0, let base = name.s else { throw SQLError(.badArg, "empty \(what) name") }
        let bytes = UnsafeRawBufferPointer(start: base, count: name.len)
        guard !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self) else {
            throw SQLError(.badArg, "invalid \(what) name (NUL byte or invalid UTF-8)")
        }
        return d.quote(text)
    }

    static func columnList(_ columns: UnsafePointer<sy_str>?, _ n: UInt32, _ d: SQLDialect) throws(SQLError) -> String {
        guard n > 0 else { return "*" }
        guard let columns else { throw SQLError(.badArg, "NULL column list with \(n) columns") }
        var parts: [String] = []
        for i in 0..<Int(n) { parts.append(try identifier(columns[i], "column", d)) }
        return parts.joined(separator: ", ")
    }

    static func whereClause(_ conds: UnsafePointer<sy_db_cond>?, _ n: UInt32, _ d: SQLDialect,
                            into st: inout SQLStatement) throws(SQLError) {
        guard n > 0 else { return }
        guard let conds else { throw SQLError(.badArg, "NULL condition list with \(n) conditions") }
        var parts: [String] = []
        for i in 0..<Int(n) {
            let cond = conds[i]
            let column = try identifier(cond.column, "column", d)
            let isNull = cond.value.type == Int32(SY_DB_NULL.rawValue)
            let op: String
            switch cond.op {
            case Int32(SY_DB_OP_EQ.rawValue): op = isNull ? "IS NULL" : "="
            case Int32(SY_DB_OP_NE.rawValue): op = isNull ? "IS NOT NULL" : "<>"
            case Int32(SY_DB_OP_LT.rawValue): op = "<"
            case Int32(SY_DB_OP_GT.rawValue): op = ">"
            case Int32(SY_DB_OP_LE.rawValue): op = "<="
            case Int32(SY_DB_OP_GE.rawValue): op = ">="
            default: throw SQLError(.badArg, "condition on \(column): unknown operator \(cond.op)")
            }
            if isNull {
                guard cond.op <= Int32(SY_DB_OP_NE.rawValue) else {
                    throw SQLError(.badArg, "condition on \(column): NULL can only be compared with EQ or NE")
                }
                parts.append("\(column) \(op)")
            } else {
                st.params.append(cond.value)
                parts.append("\(column) \(op) \(d.placeholder(st.params.count))")
            }
        }
        st.text += " WHERE " + parts.joined(separator: " AND ")
    }

    static func orderBy(_ text: sy_str, _ d: SQLDialect) throws(SQLError) -> String {
        guard text.len > 0, let base = text.s else { return "" }
        guard let raw = String(validating: UnsafeRawBufferPointer(start: base, count: text.len), as: UTF8.self) else {
            throw SQLError(.badArg, "invalid order_by (invalid UTF-8)")
        }
        var words = raw.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if words.isEmpty { return "" }
        var direction = ""
        if words.count > 1, ["ASC", "DESC"].contains(words.last!.uppercased()) {
            direction = " " + words.removeLast().uppercased()
        }
        let column = words.joined(separator: " ")
        guard !column.isEmpty, !column.utf8.contains(0) else { throw SQLError(.badArg, "invalid order_by '\(raw)'") }
        return " ORDER BY " + d.quote(column) + direction
    }

    public static func select(_ d: SQLDialect, table: sy_str, columns: UnsafePointer<sy_str>?, ncolumns: UInt32,
                              where conds: UnsafePointer<sy_db_cond>?, nwhere: UInt32,
                              orderBy order: sy_str) throws(SQLError) -> SQLStatement {
        let t = try identifier(table, "table", d)
        var st = SQLStatement(text: "SELECT \(try columnList(columns, ncolumns, d)) FROM \(t)", params: [])
        try whereClause(conds, nwhere, d, into: &st)
        st.text += try orderBy(order, d)
        return st
    }

    public static func insert(_ d: SQLDialect, table: sy_str, columns: UnsafePointer<sy_str>?,
                              values: UnsafePointer<sy_db_value>?, n: UInt32) throws(SQLError) -> SQLStatement {
        let t = try identifier(table, "table", d)
        guard n > 0 else { throw SQLError(.badArg, "insert into \(t): no columns") }
        guard let values else { throw SQLError(.badArg, "insert into \(t): NULL values") }
        let cols = try columnList(columns, n, d)
        let marks = (1...Int(n)).map { d.placeholder($0) }.joined(separator: ", ")
        return SQLStatement(text: "INSERT INTO \(t) (\(cols)) VALUES (\(marks))",
                            params: (0..<Int(n)).map { values[$0] })
    }

    public static func update(_ d: SQLDialect, table: sy_str, where conds: UnsafePointer<sy_db_cond>?, nwhere: UInt32,
                              columns: UnsafePointer<sy_str>?, values: UnsafePointer<sy_db_value>?,
                              n: UInt32) throws(SQLError) -> SQLStatement {
        let t = try identifier(table, "table", d)
        guard n > 0 else { throw SQLError(.badArg, "update \(t): no columns to set") }
        guard let columns, let values else { throw SQLError(.badArg, "update \(t): NULL columns or values") }
        var st = SQLStatement(text: "", params: [])
        var sets: [String] = []
        for i in 0..<Int(n) {
            st.params.append(values[i])
            sets.append(try identifier(columns[i], "column", d) + " = " + d.placeholder(st.params.count))
        }
        st.text = "UPDATE \(t) SET \(sets.joined(separator: ", "))"
        try whereClause(conds, nwhere, d, into: &st)
        return st
    }

    public static func delete(_ d: SQLDialect, table: sy_str, where conds: UnsafePointer<sy_db_cond>?,
                              nwhere: UInt32) throws(SQLError) -> SQLStatement {
        var st = SQLStatement(text: "DELETE FROM \(try identifier(table, "table", d))", params: [])
        try whereClause(conds, nwhere, d, into: &st)
        return st
    }
}
