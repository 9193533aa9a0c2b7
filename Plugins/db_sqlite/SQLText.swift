// SQLText: the SQL of select/insert/update/remove. Table and column names are quoted identifiers; every value is a `?`
// placeholder (the caller's sy_db_value is bound, never pasted into the text).
import SwitchyardABI

enum SQLText {
    /// `"name"` with `"` doubled. Refuses an empty name, a NUL byte or invalid UTF-8 (SQLite would cut or mangle it).
    static func identifier(_ name: sy_str, _ what: String) throws(DBError) -> String {
        guard name.len > 0, let base = name.s else { throw DBError.badArg("empty \(what) name") }
        let bytes = UnsafeRawBufferPointer(start: base, count: name.len)
        guard !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self) else {
            throw DBError.badArg("invalid \(what) name (NUL byte or invalid UTF-8)")
        }
        return quote(text)
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for ch in text.unicodeScalars {
            if ch == "\"" { out += "\"\"" } else { out.unicodeScalars.append(ch) }
        }
        return out + "\""
    }

    /// `"a", "b"` for select/insert; `*` when there are no columns (select only).
    static func columnList(_ columns: UnsafePointer<sy_str>?, _ n: UInt32) throws(DBError) -> String {
        guard n > 0 else { return "*" }
        guard let columns else { throw DBError.badArg("NULL column list with \(n) columns") }
        var parts: [String] = []
        parts.reserveCapacity(Int(n))
        for i in 0..<Int(n) { parts.append(try identifier(columns[i], "column")) }
        return parts.joined(separator: ", ")
    }

    /// ` WHERE "a" = ? AND "b" IS NULL ...` (empty without conditions), appending the values to bind in order.
    static func whereClause(_ conds: UnsafePointer<sy_db_cond>?, _ n: UInt32,
                            binding params: inout [UnsafePointer<sy_db_value>]) throws(DBError) -> String {
        guard n > 0 else { return "" }
        guard let conds else { throw DBError.badArg("NULL condition list with \(n) conditions") }
        var parts: [String] = []
        for i in 0..<Int(n) {
            let cond = conds + i
            let column = try identifier(cond.pointee.column, "column")
            let isNull = cond.pointee.value.type == Int32(SY_DB_NULL.rawValue)
            let op: String
            switch cond.pointee.op {
            case Int32(SY_DB_OP_EQ.rawValue): op = isNull ? "IS NULL" : "="
            case Int32(SY_DB_OP_NE.rawValue): op = isNull ? "IS NOT NULL" : "<>"
            case Int32(SY_DB_OP_LT.rawValue): op = "<"
            case Int32(SY_DB_OP_GT.rawValue): op = ">"
            case Int32(SY_DB_OP_LE.rawValue): op = "<="
            case Int32(SY_DB_OP_GE.rawValue): op = ">="
            default: throw DBError.badArg("condition on \(column): unknown operator \(cond.pointee.op)")
            }
            if isNull {
                guard cond.pointee.op <= Int32(SY_DB_OP_NE.rawValue) else {
                    throw DBError.badArg("condition on \(column): NULL can only be compared with EQ or NE")
                }
                parts.append("\(column) \(op)")
            } else {
                parts.append("\(column) \(op) ?")
                params.append(UnsafeRawPointer(cond).advanced(by: MemoryLayout<sy_db_cond>.offset(of: \.value)!)
                    .assumingMemoryBound(to: sy_db_value.self))
            }
        }
        return " WHERE " + parts.joined(separator: " AND ")
    }

    /// ` ORDER BY "col" [ASC|DESC]` from `col`, `col DESC` or `col ASC` (case-insensitive); empty for an empty text.
    static func orderBy(_ text: sy_str) throws(DBError) -> String {
        guard text.len > 0, let base = text.s else { return "" }
        guard let raw = String(validating: UnsafeRawBufferPointer(start: base, count: text.len), as: UTF8.self) else {
            throw DBError.badArg("invalid order_by (invalid UTF-8)")
        }
        var column = Substring(raw).trimmingSpaces
        if column.isEmpty { return "" }
        var direction = ""
        if let space = column.lastIndex(where: { $0 == " " || $0 == "\t" }) {
            let word = column[column.index(after: space)...].uppercased()
            if word == "DESC" || word == "ASC" {
                direction = " " + word
                column = column[..<space].trimmingSpaces
            }
        }
        guard !column.isEmpty, !column.utf8.contains(0) else { throw DBError.badArg("invalid order_by '\(raw)'") }
        return " ORDER BY " + quote(String(column)) + direction
    }

    static func select(table: String, columns: String, where clause: String, orderBy: String) -> String {
        "SELECT \(columns) FROM \(table)\(clause)\(orderBy)"
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}
