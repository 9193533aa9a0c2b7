import SwitchyardABI
import Synchronization

/// A structured event parameter (ABI 1.9: SY_VAL_OBJECT / SY_VAL_ARRAY, e.g. the headers of a FreeSWITCH event),
/// copied whole into one allocation that is also its C form. A SY_PV_OBJECT setter (the json module's `$json`) gets
/// `root` as is: the tree crosses without being written as JSON text and parsed again. The script reads it as its
/// JSON text everywhere else; that text is written on the first such read only, and kept.
// @unchecked: `memory` is written once in init and only read after; `text` is behind its Mutex; `bus` is set before the
// event is queued, and the queue's lock orders that before any read on a worker.
public final class ValueTree: @unchecked Sendable {
    private let memory: UnsafeMutableRawPointer
    /// The tree's C form; every pointer in it points into `memory`.
    public let root: sy_value
    private let cachedText = Mutex<String?>(nil)
    /// How many times the JSON text was written (at most once; tests check it stays 0 when nobody reads it).
    public let textWrites = Atomic<Int>(0)
    /// The bus the event went through, told when the text is written (set before the event is queued).
    weak var bus: EventBus?

    /// Copies a C tree (every array and string it points to). Nil if `value` is not an object or an array, if it
    /// nests deeper than SY_VALUE_MAX_DEPTH, if a member holds an unknown type, or if a string or key has a NULL
    /// pointer with a non-zero length.
    public init?(copying value: sy_value) {
        guard value.type == Int32(SY_VAL_OBJECT.rawValue) || value.type == Int32(SY_VAL_ARRAY.rawValue) else { return nil }
        var size = Size()
        guard size.measure(value, depth: 1) else { return nil }
        memory = .allocate(byteCount: max(size.structs + size.strings, 1), alignment: 16)
        var fill = Fill(structs: memory, strings: memory + size.structs)
        root = fill.copy(value)
    }

    deinit { memory.deallocate() }

    /// The JSON text: compact, strings escaped as SwitchyardESL writes an event's JSON (`"` `\` and control bytes).
    public var text: String {
        cachedText.withLock { cached in
            if let cached { return cached }
            textWrites.add(1, ordering: .relaxed)
            bus?.treesWritten.add(1, ordering: .relaxed)
            var out: [UInt8] = []
            out.reserveCapacity(1024)
            Self.write(root, &out)
            let s = String(decoding: out, as: UTF8.self)
            cached = s
            return s
        }
    }

    // MARK: Copy

    private struct Size {
        var structs = 0
        var strings = 0

        mutating func measure(_ v: sy_value, depth: Int) -> Bool {
            switch v.type {
            case Int32(SY_VAL_NULL.rawValue), Int32(SY_VAL_INT.rawValue):
                return true
            case Int32(SY_VAL_STR.rawValue):
                // sy_str: s may be NULL only when len == 0 (otherwise there is nothing to copy the len bytes from).
                guard v.s.len == 0 || v.s.s != nil else { return false }
                strings += v.s.len + 1
                return true
            case Int32(SY_VAL_OBJECT.rawValue):
                guard depth <= Int(SY_VALUE_MAX_DEPTH), v.s.len == 0 || v.s.s != nil else { return false }
                structs += v.s.len * MemoryLayout<sy_member>.stride
                let members = UnsafeRawPointer(v.s.s)?.assumingMemoryBound(to: sy_member.self)
                for i in 0..<v.s.len {
                    guard members![i].key.len == 0 || members![i].key.s != nil else { return false }
                    strings += members![i].key.len + 1
                    guard measure(members![i].value, depth: depth + 1) else { return false }
                }
                return true
            case Int32(SY_VAL_ARRAY.rawValue):
                guard depth <= Int(SY_VALUE_MAX_DEPTH), v.s.len == 0 || v.s.s != nil else { return false }
                structs += v.s.len * MemoryLayout<sy_value>.stride
                let items = UnsafeRawPointer(v.s.s)?.assumingMemoryBound(to: sy_value.self)
                for i in 0..<v.s.len {
                    guard measure(items![i], depth: depth + 1) else { return false }
                }
                return true
            default:
                return false
            }
        }
    }

    private struct Fill {
        var structs: UnsafeMutableRawPointer
        var strings: UnsafeMutableRawPointer

        /// A copy of the bytes, NUL-terminated.
        mutating func copy(_ s: sy_str) -> sy_str {
            let to = strings
            if let from = s.s, s.len > 0 { to.copyMemory(from: from, byteCount: s.len) }
            to.storeBytes(of: 0, toByteOffset: s.len, as: UInt8.self)
            strings += s.len + 1
            return sy_str(s: UnsafeRawPointer(to).assumingMemoryBound(to: CChar.self), len: s.len)
        }

        mutating func copy(_ v: sy_value) -> sy_value {
            var out = sy_value()
            out.type = v.type
            switch v.type {
            case Int32(SY_VAL_INT.rawValue):
                out.i = v.i
            case Int32(SY_VAL_STR.rawValue):
                out.s = copy(v.s)
            case Int32(SY_VAL_OBJECT.rawValue):
                let n = v.s.len
                let to = structs.bindMemory(to: sy_member.self, capacity: n)
                structs += n * MemoryLayout<sy_member>.stride
                let from = UnsafeRawPointer(v.s.s)?.assumingMemoryBound(to: sy_member.self)
                for i in 0..<n {
                    let key = copy(from![i].key)
                    (to + i).initialize(to: sy_member(key: key, value: copy(from![i].value)))
                }
                out.s = sy_str(s: UnsafeRawPointer(to).assumingMemoryBound(to: CChar.self), len: n)
            case Int32(SY_VAL_ARRAY.rawValue):
                let n = v.s.len
                let to = structs.bindMemory(to: sy_value.self, capacity: n)
                structs += n * MemoryLayout<sy_value>.stride
                let from = UnsafeRawPointer(v.s.s)?.assumingMemoryBound(to: sy_value.self)
                for i in 0..<n { (to + i).initialize(to: copy(from![i])) }
                out.s = sy_str(s: UnsafeRawPointer(to).assumingMemoryBound(to: CChar.self), len: n)
            default:
                out.type = Int32(SY_VAL_NULL.rawValue)
            }
            return out
        }
    }

    // MARK: JSON text

    private static func write(_ v: sy_value, _ out: inout [UInt8]) {
        switch v.type {
        case Int32(SY_VAL_INT.rawValue):
            out.append(contentsOf: String(v.i).utf8)
        case Int32(SY_VAL_STR.rawValue):
            write(v.s, &out)
        case Int32(SY_VAL_OBJECT.rawValue):
            out.append(UInt8(ascii: "{"))
            let members = UnsafeRawPointer(v.s.s)?.assumingMemoryBound(to: sy_member.self)
            for i in 0..<v.s.len {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(members![i].key, &out)
                out.append(UInt8(ascii: ":"))
                write(members![i].value, &out)
            }
            out.append(UInt8(ascii: "}"))
        case Int32(SY_VAL_ARRAY.rawValue):
            out.append(UInt8(ascii: "["))
            let items = UnsafeRawPointer(v.s.s)?.assumingMemoryBound(to: sy_value.self)
            for i in 0..<v.s.len {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(items![i], &out)
            }
            out.append(UInt8(ascii: "]"))
        default:
            out.append(contentsOf: "null".utf8)
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    private static func write(_ s: sy_str, _ out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        if let p = s.s, s.len > 0 {
            for b in UnsafeRawBufferPointer(start: p, count: s.len) {
                switch b {
                case 0x22: out.append(0x5C); out.append(0x22)
                case 0x5C: out.append(0x5C); out.append(0x5C)
                case 0x08: out.append(0x5C); out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(0x5C); out.append(UInt8(ascii: "f"))
                case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
                case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
                case 0..<0x20: out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 15)]])
                default: out.append(b)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
