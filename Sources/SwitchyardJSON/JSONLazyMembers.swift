#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The text of a parsed document, owned by the objects that still read their members from it.
final class JSONSource {
    let bytes: UnsafeMutableBufferPointer<UInt8>

    init(copying buffer: UnsafeBufferPointer<UInt8>) {
        bytes = .allocate(capacity: max(buffer.count, 1))
        if let from = buffer.baseAddress, let to = bytes.baseAddress { to.update(from: from, count: buffer.count) }
    }

    /// Room for `count` bytes, filled by the caller.
    init(capacity count: Int) {
        bytes = .allocate(capacity: max(count, 1))
    }

    deinit { bytes.deallocate() }

    func slice(_ from: Int, _ to: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: UnsafeBufferPointer(bytes)[from..<to])
    }
}

/// An object's members still as text: where each key and value lie in `source` (as `JSONScanner` recorded them,
/// already validated). A FreeSWITCH event is an object of ~90 members of which a script reads two or three: decoding
/// only those is most of what makes `$json(x) := $var(event)` cheap.
struct JSONLazyMembers {
    let source: JSONSource
    /// Four numbers per member, see `JSONScanner.table`.
    let table: [UInt32]
    let maxDepth: Int
    /// The members are raw strings, not JSON text: keys and values are their bytes as is, every value a string (a
    /// tree handed over by the core, `JSONObjectNode(strings:)`).
    var raw = false

    var memberCount: Int { table.count / 4 }

    private func keyBytes(_ i: Int) -> (from: Int, to: Int, escaped: Bool) {
        let end = table[4 * i + 1]
        return (Int(table[4 * i]), Int(end & ~JSONScanner.escapedKey), end & JSONScanner.escapedKey != 0)
    }

    private func valueBytes(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        source.slice(Int(table[4 * i + 2]), Int(table[4 * i + 3] & ~JSONScanner.escapedKey))
    }

    /// The member that holds `key` (the last of several, as a parsed object keeps the last value), compared byte for
    /// byte: lengths first, then memcmp (a FreeSWITCH event's ~90 keys are walked on every read).
    func find(_ key: String) -> Int? {
        var key = key
        return key.withUTF8 { k in
            let base = UnsafeRawPointer(source.bytes.baseAddress!)
            let count = k.count
            var i = memberCount - 1
            while i >= 0 {
                let from = Int(table[4 * i])
                let end = table[4 * i + 1]
                if end & JSONScanner.escapedKey != 0 {
                    if decodedKey(i).utf8.elementsEqual(k) { return i }
                } else if Int(end) - from == count, count == 0 || memcmp(base + from, k.baseAddress!, count) == 0 {
                    return i
                }
                i -= 1
            }
            return nil
        }
    }

    func isContainer(_ i: Int) -> Bool {
        if raw { return false }
        let first = source.bytes[Int(table[4 * i + 2])]
        return first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
    }

    /// A key as a string (escapes decoded).
    func decodedKey(_ i: Int) -> String {
        let (from, to, escaped) = keyBytes(i)
        guard escaped else { return String(decoding: source.slice(from, to), as: UTF8.self) }
        // The quotes around it are in the text: decode it as a JSON string.
        if case .string(let s) = decode(source.slice(from - 1, to + 1)) { return s }
        return ""
    }

    /// Member `i`'s value: a scalar decoded now (a string without escapes is its bytes, validated by the scanner); a
    /// non-empty object read lazily in turn; an array decoded whole.
    func value(_ i: Int) -> JSONNode {
        let bytes = valueBytes(i)
        if raw { return .string(String(decoding: bytes, as: UTF8.self)) }
        if bytes.first == UInt8(ascii: "\""), table[4 * i + 3] & JSONScanner.escapedKey == 0 {
            return .string(String(decoding: UnsafeBufferPointer(rebasing: bytes.dropFirst().dropLast()), as: UTF8.self))
        }
        if bytes.first == UInt8(ascii: "{") {
            var scanner = JSONScanner(buffer: bytes, maxDepth: maxDepth)
            if scanner.scanDocument(), !scanner.table.isEmpty {
                return .object(JSONObjectNode(lazy: JSONLazyMembers(source: source, base: bytes, scanner.table, maxDepth)))
            }
        }
        return decode(bytes)
    }

    /// Raw string members already laid out in `source` (see `raw`).
    init(rawSource source: JSONSource, table: [UInt32]) {
        self.source = source
        self.table = table
        self.maxDepth = 1
        self.raw = true
    }

    /// Child tables are recorded relative to the child's own text: rebase them on `source`.
    init(source: JSONSource, base: UnsafeBufferPointer<UInt8>, _ table: [UInt32], _ maxDepth: Int) {
        self.source = source
        self.maxDepth = maxDepth
        let offset = UInt32(base.baseAddress! - UnsafePointer(source.bytes.baseAddress!))
        if offset == 0 {
            self.table = table
        } else {
            self.table = table.map { ($0 & ~JSONScanner.escapedKey &+ offset) | ($0 & JSONScanner.escapedKey) }
        }
    }

    /// Text already validated by the scanner cannot fail to parse; were it to, the value reads as null.
    private func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> JSONNode {
        var reader = JSONReader(buffer: bytes, maxDepth: maxDepth, builder: NodeTreeBuilder())
        do {
            return try reader.readValue()
        } catch {
            return .null
        }
    }

    /// Every member, decoded (the object then stops being lazy).
    func decodeAll() -> (keys: [String], values: [JSONNode]) {
        var keys: [String] = []
        var values: [JSONNode] = []
        keys.reserveCapacity(memberCount)
        values.reserveCapacity(memberCount)
        for i in 0..<memberCount {
            keys.append(decodedKey(i))
            values.append(value(i))
        }
        return (keys, values)
    }
}
