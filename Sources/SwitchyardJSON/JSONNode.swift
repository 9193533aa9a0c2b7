/// A mutable JSON document whose containers are shared objects (reference semantics), the model
/// json-c gives OpenSIPS's `$json` variables.
///
/// Scalars are plain values; arrays and objects are classes, so one container can sit in several
/// places at once (OpenSIPS's `json_link`): a change made through one place shows in all of them,
/// while replacing the container in one place (assigning the slot) leaves the others alone.
///
/// Differences from `JSONValue`, which stays the immutable, `Sendable` model used by MI:
/// - a non-integer number keeps the text it was parsed from (`1.50` prints as `1.50`, as json-c
///   does), next to its `Double` value;
/// - it is not `Sendable`: a tree belongs to one thread (a script worker) at a time.
///
/// Nothing here prevents a cycle (a container inside itself); callers that link containers must
/// check with `depth(reaching:)` first — serialising a cycle would never end.
public enum JSONNode {
    case null
    case bool(Bool)
    case int(Int64)
    /// A number that is not an `Int64` literal, with the text it was written as.
    case double(Double, text: String)
    case string(String)
    case array(JSONArrayNode)
    case object(JSONObjectNode)
}

/// A JSON array node: shared, mutable.
public final class JSONArrayNode {
    public var items: [JSONNode]

    public init(_ items: [JSONNode] = []) {
        self.items = items
    }

    public var count: Int { items.count }
}

/// A JSON object node: shared, mutable, members in insertion order. Setting an existing key replaces
/// its value in place (json-c's `json_object_object_add`); a parsed document with a repeated key keeps
/// the first position and the last value.
public final class JSONObjectNode {
    public struct Member {
        public let key: String
        public var value: JSONNode
    }

    /// Small objects are searched linearly; past this size a hash index is kept.
    private static let indexThreshold = 12

    /// The members once decoded; while `lazy` is set they are still text and this is empty.
    private var storage: [Member] = []
    private var index: KeyIndex? = nil
    /// A parsed object not decoded yet: lookups decode one member from the text; anything else decodes them all.
    private var lazy: JSONLazyMembers? = nil
    /// Lookups answered from the text; past `lazyLookups` the object is decoded (and indexed) once and for all.
    private var lookupsFromText = 0
    private static let lazyLookups = 8

    public init() {}

    init(lazy: JSONLazyMembers) {
        self.lazy = lazy
    }

    /// Members in order; a repeated key keeps its first position and its last value.
    init(keys: ArraySlice<String>, values: ArraySlice<JSONNode>) {
        fill(keys: keys, values: values)
    }

    /// An object whose members are all strings, given as raw bytes (not JSON text: no escapes), e.g. a tree the core
    /// hands over: copied into one buffer, each member made a `String` only when read (a script reads two or three of
    /// an event's ~60). Nil when the bytes exceed what the member table can address (2 GiB).
    public convenience init?(strings count: Int, _ member: (Int) -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)) {
        var total = 0
        for i in 0..<count {
            let m = member(i)
            total += m.key.count + m.value.count
        }
        guard total < Int(JSONScanner.escapedKey) else { return nil }
        let source = JSONSource(capacity: total)
        var table: [UInt32] = []
        table.reserveCapacity(4 * count)
        var at = 0
        func put(_ bytes: UnsafeRawBufferPointer) {
            if let base = bytes.baseAddress, bytes.count > 0 {
                UnsafeMutableRawPointer(source.bytes.baseAddress! + at).copyMemory(from: base, byteCount: bytes.count)
            }
            table.append(UInt32(at))
            at += bytes.count
            table.append(UInt32(at))
        }
        for i in 0..<count {
            let m = member(i)
            put(m.key)
            put(m.value)
        }
        self.init(lazy: JSONLazyMembers(rawSource: source, table: table))
    }

    /// Members in order, built by a caller that already has them decoded (a tree handed over by the core); a repeated
    /// key keeps its first position and its last value, as when parsed.
    public convenience init(keys: [String], values: [JSONNode]) {
        self.init(keys: keys[...], values: values[...])
    }

    private func fill(keys: ArraySlice<String>, values: ArraySlice<JSONNode>) {
        let n = keys.count
        storage.reserveCapacity(n)
        if n <= Self.indexThreshold {
            outer: for (key, value) in zip(keys, values) {
                for i in storage.indices where KeyIndex.same(storage[i].key, key) {
                    storage[i].value = value
                    continue outer
                }
                storage.append(Member(key: key, value: value))
            }
        } else {
            var built = KeyIndex(capacity: n)
            for (key, value) in zip(keys, values) {
                let h = KeyIndex.hash(key)
                if let at = built.find(key, hash: h, in: storage) {
                    storage[at].value = value // a repeated key (rare)
                } else {
                    built.insert(storage.count, hash: h)
                    storage.append(Member(key: key, value: value))
                }
            }
            index = built
        }
    }

    /// Decodes every member still held as text.
    @inline(__always)
    private func decode() {
        if lazy != nil { decodeNow() }
    }

    private func decodeNow() {
        guard let text = lazy else { return }
        lazy = nil
        let (keys, values) = text.decodeAll()
        fill(keys: keys[...], values: values[...])
    }

    /// Members in order (a repeated key keeps its first position and its last value).
    public var members: [Member] {
        decode()
        return storage
    }

    public var count: Int { decode(); return storage.count }
    public var isEmpty: Bool { decode(); return storage.isEmpty }
    public var keys: [String] { members.map(\.key) }

    private func position(of key: String) -> Int? {
        if let index { return index.find(key, hash: KeyIndex.hash(key), in: storage) }
        return storage.firstIndex { KeyIndex.same($0.key, key) }
    }

    public func contains(_ key: String) -> Bool {
        if let text = lazy, lookupsFromText < Self.lazyLookups {
            lookupsFromText += 1
            return text.find(key) != nil
        }
        decode()
        return position(of: key) != nil
    }

    /// Member lookup; assigning nil removes the member (the ones after it move up).
    public subscript(key: String) -> JSONNode? {
        get {
            if let text = lazy {
                if lookupsFromText < Self.lazyLookups {
                    lookupsFromText += 1
                    guard let i = text.find(key) else { return nil }
                    // A scalar is a value: decoding it again on each read is invisible. A container is shared by
                    // reference, so it must be the same object on every read: decode the members once.
                    if !text.isContainer(i) { return text.value(i) }
                }
                decodeNow()
            }
            return position(of: key).map { storage[$0].value }
        }
        set {
            decode()
            if let newValue {
                if let at = position(of: key) {
                    storage[at].value = newValue
                } else {
                    storage.append(Member(key: key, value: newValue))
                    if index != nil {
                        if index!.needsGrowth(for: storage.count) { rebuildIndex() } else {
                            index!.insert(storage.count - 1, hash: KeyIndex.hash(key))
                        }
                    } else if storage.count > Self.indexThreshold {
                        rebuildIndex()
                    }
                }
            } else if let at = position(of: key) {
                storage.remove(at: at)
                if index != nil { rebuildIndex() }
            }
        }
    }

    private func rebuildIndex() {
        var built = KeyIndex(capacity: storage.count)
        for (i, m) in storage.enumerated() { built.insert(i, hash: KeyIndex.hash(m.key)) }
        index = built
    }

    /// Open addressing over member positions with a seeded FNV-1a hash of the key's bytes. FreeSWITCH events are objects
    /// of ~90 keys parsed for a few lookups each: Swift's seeded SipHash made building the index a fifth of the
    /// parse; this costs a byte loop per key.
    struct KeyIndex {
        /// Position + 1 per slot, 0 = empty; the count is a power of two at least twice the members'.
        private var slots: [Int32]
        private var mask: Int

        init(capacity n: Int) {
            var size = 16
            while size < n * 2 { size <<= 1 }
            slots = [Int32](repeating: 0, count: size)
            mask = size - 1
        }

        /// Keys are equal when their bytes are (as json-c compares them; Swift's == would also merge Unicode
        /// canonical equivalents, which the hash cannot see).
        @inline(__always)
        static func same(_ a: String, _ b: String) -> Bool {
            a.utf8.count == b.utf8.count && a.utf8.elementsEqual(b.utf8)
        }

        /// Per-process seed: keys come from outside (SIP headers copied into FreeSWITCH variables), and a fixed
        /// hash would let someone choose keys that all collide.
        private static let seed = UInt64.random(in: 0...UInt64.max)

        static func hash(_ key: String) -> Int {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
            let done: Bool? = key.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
                for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
                return true
            }
            if done == nil {
                for b in key.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            }
            // murmur3's finaliser: every input bit reaches the low bits the table uses.
            h ^= h >> 33; h &*= 0xff51_afd7_ed55_8ccd; h ^= h >> 33; h &*= 0xc4ce_b9fe_1a85_ec53; h ^= h >> 33
            return Int(truncatingIfNeeded: h)
        }

        func needsGrowth(for count: Int) -> Bool { count * 2 > slots.count }

        func find(_ key: String, hash: Int, in members: [Member]) -> Int? {
            var i = hash & mask
            while true {
                let s = Int(slots[i])
                if s == 0 { return nil }
                if KeyIndex.same(members[s - 1].key, key) { return s - 1 }
                i = (i + 1) & mask
            }
        }

        mutating func insert(_ position: Int, hash: Int) {
            var i = hash & mask
            while slots[i] != 0 { i = (i + 1) & mask }
            slots[i] = Int32(position + 1)
        }
    }
}

struct NodeTreeBuilder: JSONTreeBuilder {
    func null() -> JSONNode { .null }
    func bool(_ value: Bool) -> JSONNode { .bool(value) }
    func int(_ value: Int64) -> JSONNode { .int(value) }
    func double(_ value: Double, text: String) -> JSONNode { .double(value, text: text) }
    func string(_ value: String) -> JSONNode { .string(value) }
    func emptyArray() -> JSONNode { .array(JSONArrayNode()) }
    func emptyObject() -> JSONNode { .object(JSONObjectNode()) }
    func array(_ items: ArraySlice<JSONNode>) -> JSONNode { .array(JSONArrayNode(Array(items))) }
    func object(keys: ArraySlice<String>, values: ArraySlice<JSONNode>) -> JSONNode {
        .object(JSONObjectNode(keys: keys, values: values))
    }
}

// MARK: - Parsing

extension JSONParser {
    /// Parses a complete JSON text into a `JSONNode` tree (same grammar, limits and errors as `parse`).
    ///
    /// A non-empty object is kept as its text after one validating pass: its members are decoded when first read
    /// (one by one for the first few lookups, all at once for anything else), so reading a few fields of a large
    /// document costs little more than that pass. What it holds, and every error, are the same as a full parse's.
    public func parseNode(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONNode {
        var scanner = JSONScanner(buffer: buffer, maxDepth: maxDepth)
        if scanner.scanDocument(), !scanner.table.isEmpty {
            let source = JSONSource(copying: buffer)
            return .object(JSONObjectNode(lazy: JSONLazyMembers(source: source, base: UnsafeBufferPointer(source.bytes),
                                                                scanner.table, maxDepth)))
        }
        return try parseNodeFully(buffer)
    }

    /// The whole tree decoded now (errors are reported from here, with their offsets).
    func parseNodeFully(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONNode {
        var reader = JSONReader(buffer: buffer, maxDepth: maxDepth, builder: NodeTreeBuilder())
        let node = try reader.readValue()
        reader.skipWhitespace()
        if reader.pos != buffer.count {
            throw JSONParseError(kind: .syntax, message: "unexpected data after the JSON value", offset: reader.pos)
        }
        return node
    }

    public func parseNode(_ buffer: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONNode {
        try parseNode(buffer.bindMemory(to: UInt8.self))
    }

    public func parseNode(_ text: String) throws(JSONParseError) -> JSONNode {
        var text = text
        return try text.withUTF8 { buf in
            Result { () throws(JSONParseError) in try parseNode(buf) }
        }.get()
    }
}

// MARK: - Accessors and structure

extension JSONNode {
    public var isNull: Bool { if case .null = self { return true } else { return false } }

    /// The array or object object, nil for a scalar.
    public var container: AnyObject? {
        switch self {
        case .array(let a): return a
        case .object(let o): return o
        default: return nil
        }
    }

    /// Object member lookup; nil when not an object or the key is absent.
    public subscript(key: String) -> JSONNode? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// Array element lookup; nil when not an array or out of range.
    public subscript(index: Int) -> JSONNode? {
        guard case .array(let a) = self, a.items.indices.contains(index) else { return nil }
        return a.items[index]
    }

    /// Walks every container reachable from this node once (iteratively, so any depth is safe) and
    /// returns the nesting depth — 0 for a scalar, 1 for a container holding only scalars — and
    /// whether `target` (a container object) is this node or inside it. Linking a container `c`
    /// into a container `p` makes a cycle exactly when `c.depth(reaching: p).reaches`.
    /// A cycle already present is reported as `reaches == true` (and not walked forever).
    public func depth(reaching target: AnyObject? = nil) -> (depth: Int, reaches: Bool) {
        guard let root = container else { return (0, false) }
        var reaches = target.map { $0 === root } ?? false

        struct Frame {
            let id: ObjectIdentifier
            let children: [JSONNode]
            var next = 0
            var deepest = 0
        }
        func children(_ node: JSONNode) -> [JSONNode] {
            switch node {
            case .array(let a): return a.items
            case .object(let o): return o.members.map(\.value)
            default: return []
            }
        }

        var done: [ObjectIdentifier: Int] = [:]  // container → its depth
        var open: Set<ObjectIdentifier> = [ObjectIdentifier(root)]
        var stack = [Frame(id: ObjectIdentifier(root), children: children(self))]
        var result = 1
        while !stack.isEmpty {
            let top = stack.count - 1
            if stack[top].next < stack[top].children.count {
                let child = stack[top].children[stack[top].next]
                stack[top].next += 1
                guard let c = child.container else { continue }
                if let target, c === target { reaches = true }
                let id = ObjectIdentifier(c)
                if let d = done[id] {
                    stack[top].deepest = max(stack[top].deepest, d)
                } else if open.contains(id) {
                    reaches = true  // a cycle: do not follow it
                } else {
                    open.insert(id)
                    stack.append(Frame(id: id, children: children(child)))
                }
            } else {
                let frame = stack.removeLast()
                let d = frame.deepest + 1
                done[frame.id] = d
                open.remove(frame.id)
                if stack.isEmpty {
                    result = d
                } else {
                    stack[stack.count - 1].deepest = max(stack[stack.count - 1].deepest, d)
                }
            }
        }
        return (result, reaches)
    }
}

// MARK: - Copies

extension JSONNode {
    /// Fresh trees with the content of `roots`, sharing nothing with them. A container reached several times (linked)
    /// is copied once, so the copies keep the same sharing among themselves. The trees must have no cycle.
    public static func copies(of roots: [JSONNode]) -> [JSONNode] {
        var made: [ObjectIdentifier: JSONNode] = [:]
        func copy(_ node: JSONNode) -> JSONNode {
            guard let c = node.container else { return node }
            if let done = made[ObjectIdentifier(c)] { return done }
            let result: JSONNode
            switch node {
            case .array(let a):
                result = .array(JSONArrayNode(a.items.map(copy)))
            case .object(let o):
                let fresh = JSONObjectNode()
                for m in o.members { fresh[m.key] = copy(m.value) }
                result = .object(fresh)
            default:
                result = node
            }
            made[ObjectIdentifier(c)] = result
            return result
        }
        return roots.map(copy)
    }
}

// MARK: - Conversions

extension JSONNode {
    /// A fresh tree with the content of `value` (nothing shared).
    public init(_ value: JSONValue) {
        switch value {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d, text: d.isFinite ? d.description : "null")
        case .string(let s): self = .string(s)
        case .array(let items): self = .array(JSONArrayNode(items.map(JSONNode.init)))
        case .object(let object):
            let node = JSONObjectNode()
            for m in object.members { node[m.key] = JSONNode(m.value) }
            self = .object(node)
        }
    }

    /// An immutable copy (a container reached twice is copied twice). The tree must have no cycle.
    public var value: JSONValue {
        switch self {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d, _): return .double(d)
        case .string(let s): return .string(s)
        case .array(let a): return .array(a.items.map(\.value))
        case .object(let o):
            var object = JSONObject()
            for m in o.members { object[m.key] = m.value.value }
            return .object(object)
        }
    }
}
