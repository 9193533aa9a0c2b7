import SwitchyardABI

/// Reads plugin tables defensively: a table or list item may be shorter than this core's
/// struct (built for an older minor); missing trailing fields read as zero.
enum ABIReader {
    /// Size of sy_module_exports as ABI 1.0 defined it (before `aliases` was appended in 1.1).
    static let exportsSizeV1_0 = MemoryLayout<sy_module_exports>.offset(of: \sy_module_exports.aliases)!

    /// Bytes a plugin's exports table must have for the minor it declares.
    /// Size of sy_module_exports up to 1.3 (before `protos` was appended in 1.4).
    static let exportsSizeV1_1 = MemoryLayout<sy_module_exports>.offset(of: \sy_module_exports.protos)!

    /// Size of sy_module_exports from 1.4 to 1.9 (before `pv_contexts` was appended in 1.10).
    static let exportsSizeV1_4 = MemoryLayout<sy_module_exports>.offset(of: \sy_module_exports.pv_contexts)!

    static func requiredExportsSize(minor: UInt32) -> Int {
        // 1.1 appended `aliases`; 1.2 and 1.3 grew list items and the host table only; 1.4 appended `protos`;
        // 1.10 appended `pv_contexts`.
        if minor >= 10 { return MemoryLayout<sy_module_exports>.size }
        return minor >= 4 ? exportsSizeV1_4 : minor >= 1 ? exportsSizeV1_1 : exportsSizeV1_0
    }

    /// Copies `available` bytes of a C struct into a zeroed Swift value of type T.
    static func copy<T>(_ type: T.Type, from src: UnsafeRawPointer, available: Int) -> T {
        withUnsafeTemporaryAllocation(byteCount: MemoryLayout<T>.size, alignment: MemoryLayout<T>.alignment) { buf in
            buf.initializeMemory(as: UInt8.self, repeating: 0)
            buf.baseAddress!.copyMemory(from: src, byteCount: min(available, MemoryLayout<T>.size))
            return buf.baseAddress!.load(as: T.self)
        }
    }

    struct ListError: Error { let message: String }

    /// The items of a sy_list, each widened to this core's item struct.
    static func items<T>(_ list: sy_list, as type: T.Type, minimumItemSize: Int, what: String) throws(ListError) -> [T] {
        guard list.count > 0 else { return [] }
        guard let base = list.items else { throw ListError(message: "\(what): \(list.count) items but a NULL pointer") }
        guard Int(list.item_size) >= minimumItemSize else {
            throw ListError(message: "\(what): item size \(list.item_size) is smaller than the \(minimumItemSize) bytes ABI 1.0 defines (truncated table)")
        }
        guard list.count <= 10_000 else { throw ListError(message: "\(what): implausible item count \(list.count)") }
        return (0..<Int(list.count)).map { i in
            copy(T.self, from: base + i * Int(list.item_size), available: Int(list.item_size))
        }
    }

    /// A NUL-terminated message a plugin wrote into a buffer we gave it.
    static func text(_ buf: [CChar]) -> String {
        let bytes = buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func string(_ p: UnsafePointer<CChar>?) -> String? {
        p.map { String(cString: $0) }
    }

    static func str(_ s: sy_str) -> String {
        guard let p = s.s, s.len > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: s.len), as: UTF8.self)
    }

    static func value(_ v: sy_value) -> Value {
        switch Int(v.type) {
        case Int(SY_VAL_INT.rawValue): return .int(Int(v.i))
        case Int(SY_VAL_STR.rawValue): return .str(str(v.s))
        default: return .null
        }
    }

    /// Calls body with a sy_value view of a Value; the string is valid during the call only.
    static func withCValue<R>(_ v: Value, _ body: (UnsafePointer<sy_value>) -> R) -> R {
        var cv = sy_value()
        switch v {
        case .null:
            cv.type = Int32(SY_VAL_NULL.rawValue)
            return body(&cv)
        case .int(let i):
            cv.type = Int32(SY_VAL_INT.rawValue)
            cv.i = Int64(i)
            return body(&cv)
        case .str(let s):
            // A native string's UTF-8 is contiguous and NUL-terminated already: withCString lends it without a copy
            // (a 2 KB event body was copied for every `:=` before). utf8.count counts embedded NULs too.
            let n = s.utf8.count
            return s.withCString { p in
                cv.type = Int32(SY_VAL_STR.rawValue)
                cv.s = sy_str(s: p, len: n)
                return body(&cv)
            }
        }
    }
}
