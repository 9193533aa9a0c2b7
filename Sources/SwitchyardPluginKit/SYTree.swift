// SYTree: a structured value (ABI 1.9 SY_VAL_OBJECT / SY_VAL_ARRAY) on the Swift side: built by a plugin that raises an
// event carrying a tree (the freeswitch module's plain-format events), and read from the C form by one that takes it.
import SwitchyardABI

/// A tree of keys, strings and ints: what an event parameter may carry since ABI 1.9 instead of JSON text.
public indirect enum SYTree: Sendable, Equatable {
    case null
    case int(Int64)
    case string(String)
    /// Members in order (a repeated key is allowed; the last one wins for a reader).
    case object([Member])
    case array([SYTree])

    public struct Member: Sendable, Equatable {
        public let key: String
        public let value: SYTree
        public init(_ key: String, _ value: SYTree) {
            self.key = key
            self.value = value
        }
    }

    /// Copies a C value (any type); nil past SY_VALUE_MAX_DEPTH levels.
    public init?(copying raw: sy_value, depth: Int = 1) {
        switch raw.type {
        case Int32(SY_VAL_INT.rawValue): self = .int(raw.i)
        case Int32(SY_VAL_STR.rawValue): self = .string(raw.s.string)
        case Int32(SY_VAL_OBJECT.rawValue), Int32(SY_VAL_ARRAY.rawValue):
            guard depth <= Int(SY_VALUE_MAX_DEPTH) else { return nil }
            let n = raw.s.len
            if raw.type == Int32(SY_VAL_OBJECT.rawValue) {
                let members = UnsafeRawPointer(raw.s.s)?.assumingMemoryBound(to: sy_member.self)
                var out: [Member] = []
                out.reserveCapacity(n)
                for i in 0..<n {
                    guard let v = SYTree(copying: members![i].value, depth: depth + 1) else { return nil }
                    out.append(Member(members![i].key.string, v))
                }
                self = .object(out)
            } else {
                let items = UnsafeRawPointer(raw.s.s)?.assumingMemoryBound(to: sy_value.self)
                var out: [SYTree] = []
                out.reserveCapacity(n)
                for i in 0..<n {
                    guard let v = SYTree(copying: items![i], depth: depth + 1) else { return nil }
                    out.append(v)
                }
                self = .array(out)
            }
        default: self = .null
        }
    }

    /// Calls `body` with the C form of this tree, laid out in one allocation freed when `body` returns (the host
    /// functions that take a tree copy it).
    public func withCValue<R>(_ body: (UnsafePointer<sy_value>) throws -> R) rethrows -> R {
        var size = (structs: 0, strings: 0)
        measure(&size)
        let memory = UnsafeMutableRawPointer.allocate(byteCount: max(size.structs + size.strings, 1), alignment: 16)
        defer { memory.deallocate() }
        var structs = memory
        var strings = memory + size.structs
        var root = fill(&structs, &strings)
        return try body(&root)
    }

    private func measure(_ size: inout (structs: Int, strings: Int)) {
        switch self {
        case .null, .int: break
        case .string(let s): size.strings += s.utf8.count + 1
        case .object(let members):
            size.structs += members.count * MemoryLayout<sy_member>.stride
            for m in members {
                size.strings += m.key.utf8.count + 1
                m.value.measure(&size)
            }
        case .array(let items):
            size.structs += items.count * MemoryLayout<sy_value>.stride
            for v in items { v.measure(&size) }
        }
    }

    private static func copy(_ s: String, _ strings: inout UnsafeMutableRawPointer) -> sy_str {
        var s = s
        let to = strings
        let n = s.withUTF8 { u in
            if let base = u.baseAddress, u.count > 0 { to.copyMemory(from: base, byteCount: u.count) }
            return u.count
        }
        to.storeBytes(of: 0, toByteOffset: n, as: UInt8.self)
        strings += n + 1
        return sy_str(s: UnsafeRawPointer(to).assumingMemoryBound(to: CChar.self), len: n)
    }

    private func fill(_ structs: inout UnsafeMutableRawPointer, _ strings: inout UnsafeMutableRawPointer) -> sy_value {
        var out = sy_value()
        switch self {
        case .null:
            out.type = Int32(SY_VAL_NULL.rawValue)
        case .int(let i):
            out.type = Int32(SY_VAL_INT.rawValue)
            out.i = i
        case .string(let s):
            out.type = Int32(SY_VAL_STR.rawValue)
            out.s = Self.copy(s, &strings)
        case .object(let members):
            let to = structs.bindMemory(to: sy_member.self, capacity: members.count)
            structs += members.count * MemoryLayout<sy_member>.stride
            for (i, m) in members.enumerated() {
                let key = Self.copy(m.key, &strings)
                (to + i).initialize(to: sy_member(key: key, value: m.value.fill(&structs, &strings)))
            }
            out.type = Int32(SY_VAL_OBJECT.rawValue)
            out.s = sy_str(s: UnsafeRawPointer(to).assumingMemoryBound(to: CChar.self), len: members.count)
        case .array(let items):
            let to = structs.bindMemory(to: sy_value.self, capacity: items.count)
            structs += items.count * MemoryLayout<sy_value>.stride
            for (i, v) in items.enumerated() { (to + i).initialize(to: v.fill(&structs, &strings)) }
            out.type = Int32(SY_VAL_ARRAY.rawValue)
            out.s = sy_str(s: UnsafeRawPointer(to).assumingMemoryBound(to: CChar.self), len: items.count)
        }
        return out
    }
}
